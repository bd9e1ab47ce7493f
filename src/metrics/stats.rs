//! A role's counters and fetch-duration histograms, as atomics: written by
//! its refresher, read by the Prometheus collector at scrape time.
//!
//! Depends on nothing in the crate but [`ErrorClass`], so the role's shared
//! state can hold a [`RoleStats`] without depending on the rest of `metrics`.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::ErrorClass;

/// Upper bounds (seconds) of the buckets of [`REFRESH_DURATION`](super::REFRESH_DURATION): from 1 ms
/// (an in-process or IMDS answer) to 30 s (the default fetch timeout).
/// Give the same buckets to a facade recorder that lets you choose.
pub const DURATION_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The index of `class` in [`ErrorClass::ALL`].
const fn class_index(class: ErrorClass) -> usize {
    match class {
        ErrorClass::Retryable => 0,
        ErrorClass::Throttled => 1,
        ErrorClass::Timeout => 2,
        ErrorClass::InvalidResponse => 3,
        ErrorClass::CredentialsRejected => 4,
        ErrorClass::NotLoaded => 5,
        ErrorClass::InvalidConfiguration => 6,
        ErrorClass::Denied => 7,
    }
}

const CLASSES: usize = ErrorClass::ALL.len();

/// A histogram over [`DURATION_BUCKETS`] made of atomics: one count per
/// bucket (not cumulative) plus one above the last bound, and the sum.
#[derive(Debug, Default)]
pub(crate) struct AtomicHistogram {
    buckets: [AtomicU64; DURATION_BUCKETS.len() + 1],
    sum_bits: AtomicU64,
}

/// A consistent read of an [`AtomicHistogram`].
#[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HistogramValues {
    /// Cumulative counts, one per bound of [`DURATION_BUCKETS`].
    pub(crate) cumulative: [u64; DURATION_BUCKETS.len()],
    /// Every observation, the `+Inf` bucket.
    pub(crate) count: u64,
    pub(crate) sum: f64,
}

#[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
impl HistogramValues {
    /// No observation.
    fn empty() -> Self {
        Self {
            cumulative: [0; DURATION_BUCKETS.len()],
            count: 0,
            sum: 0.0,
        }
    }
}

impl AtomicHistogram {
    pub(crate) fn observe(&self, seconds: f64) {
        let seconds = if seconds.is_finite() { seconds.max(0.0) } else { 0.0 };
        let index = DURATION_BUCKETS
            .iter()
            .position(|&bound| seconds <= bound)
            .unwrap_or(DURATION_BUCKETS.len());
        self.buckets[index].fetch_add(1, Ordering::Relaxed);
        // f64 has no atomic add: compare-and-swap its bits.
        let mut current = self.sum_bits.load(Ordering::Relaxed);
        loop {
            let next = (f64::from_bits(current) + seconds).to_bits();
            match self
                .sum_bits
                .compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(actual) => current = actual,
            }
        }
    }

    #[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
    /// The counts, cumulative, with `count` equal to the last bucket by
    /// construction (the exposition format requires it).
    pub(crate) fn read(&self) -> HistogramValues {
        let mut cumulative = [0; DURATION_BUCKETS.len()];
        let mut running = 0;
        for (i, slot) in cumulative.iter_mut().enumerate() {
            running += self.buckets[i].load(Ordering::Relaxed);
            *slot = running;
        }
        let count = running + self.buckets[DURATION_BUCKETS.len()].load(Ordering::Relaxed);
        HistogramValues {
            cumulative,
            count,
            sum: f64::from_bits(self.sum_bits.load(Ordering::Relaxed)),
        }
    }
}

/// A role's counters and histograms, kept in the role's shared state (next
/// to its snapshot) so that they outlive restarts of its refresher and can
/// be read at scrape time.
///
/// Every role has the histogram of its successful fetches (its count is the
/// number of successes); the counters of failures, extensions and restarts
/// and the histogram of failed fetches are made on the first of them, as
/// most roles never have any.
#[derive(Debug, Default)]
pub(crate) struct RoleStats {
    /// Durations of successful fetches.
    successes: AtomicHistogram,
    rare: OnceLock<Box<RareStats>>,
}

/// The part of [`RoleStats`] that a role that never fails, is never
/// extended and never restarted does not need.
#[derive(Debug, Default)]
struct RareStats {
    failures: [AtomicU64; CLASSES],
    /// Durations of failed fetches.
    failure_durations: AtomicHistogram,
    extensions: AtomicU64,
    restarts: AtomicU64,
}

impl RoleStats {
    /// Counts one fetch that took `seconds`: a success (`None`) or a
    /// failure of class `error`.
    pub(crate) fn record_attempt(&self, error: Option<ErrorClass>, seconds: f64) {
        match error {
            None => self.successes.observe(seconds),
            Some(class) => {
                let rare = self.rare_or_init();
                rare.failures[class_index(class)].fetch_add(1, Ordering::Relaxed);
                rare.failure_durations.observe(seconds);
            }
        }
    }

    /// Counts one extension of expired credentials.
    pub(crate) fn record_extension(&self) {
        self.rare_or_init().extensions.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one restart of the role's refresher.
    pub(crate) fn record_restart(&self) {
        self.rare_or_init().restarts.fetch_add(1, Ordering::Relaxed);
    }

    /// The rare counters, made on first use.
    fn rare_or_init(&self) -> &RareStats {
        self.rare.get_or_init(Box::default)
    }
}

#[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
impl RoleStats {
    pub(crate) fn successes(&self) -> u64 {
        self.successes.read().count
    }

    pub(crate) fn failures(&self, class: ErrorClass) -> u64 {
        self.rare
            .get()
            .map_or(0, |r| r.failures[class_index(class)].load(Ordering::Relaxed))
    }

    /// Durations of successful (`true`) or failed fetches.
    pub(crate) fn durations(&self, success: bool) -> HistogramValues {
        if success {
            self.successes.read()
        } else {
            self.rare
                .get()
                .map_or_else(HistogramValues::empty, |r| r.failure_durations.read())
        }
    }

    pub(crate) fn extensions(&self) -> u64 {
        self.rare.get().map_or(0, |r| r.extensions.load(Ordering::Relaxed))
    }

    pub(crate) fn restarts(&self) -> u64 {
        self.rare.get().map_or(0, |r| r.restarts.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn class_index_matches_all() {
        for (i, class) in ErrorClass::ALL.into_iter().enumerate() {
            assert_eq!(class_index(class), i, "{class}");
        }
    }

    #[test]
    fn buckets_rise_from_a_millisecond_to_thirty_seconds() {
        assert_eq!(DURATION_BUCKETS[0], 0.001);
        assert_eq!(DURATION_BUCKETS[DURATION_BUCKETS.len() - 1], 30.0);
        assert!(DURATION_BUCKETS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn histogram_counts_by_bucket_with_le_semantics() {
        let h = AtomicHistogram::default();
        h.observe(0.001); // exactly on the first bound: in it
        h.observe(0.0011);
        h.observe(0.3);
        h.observe(31.0); // above every bound: only in +Inf
        h.observe(f64::NAN); // counted as 0
        let v = h.read();
        assert_eq!(v.count, 5);
        assert_eq!(v.cumulative[0], 2); // 0.001 and NaN→0
        assert_eq!(v.cumulative[1], 3); // ≤ 0.0025
        let le_half = DURATION_BUCKETS.iter().position(|&b| b == 0.5).unwrap();
        assert_eq!(v.cumulative[le_half], 4);
        assert_eq!(v.cumulative[DURATION_BUCKETS.len() - 1], 4);
        assert!((v.sum - (0.001 + 0.0011 + 0.3 + 31.0)).abs() < 1e-9, "{}", v.sum);
    }

    #[test]
    fn histogram_sums_from_many_threads() {
        let h = Arc::new(AtomicHistogram::default());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let h = h.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        h.observe(0.5);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let v = h.read();
        assert_eq!(v.count, 4000);
        assert_eq!(v.sum, 2000.0);
    }

    #[test]
    fn role_stats_count_by_outcome_and_class() {
        let stats = RoleStats::default();
        stats.record_attempt(None, 0.003);
        stats.record_attempt(Some(ErrorClass::Throttled), 2.0);
        stats.record_attempt(Some(ErrorClass::Throttled), 2.0);
        stats.record_extension();
        stats.record_restart();
        assert_eq!(stats.successes(), 1);
        assert_eq!(stats.failures(ErrorClass::Throttled), 2);
        assert_eq!(stats.failures(ErrorClass::Timeout), 0);
        assert_eq!(stats.durations(true).count, 1);
        assert_eq!(stats.durations(false).count, 2);
        assert_eq!(stats.durations(false).sum, 4.0);
        assert_eq!(stats.extensions(), 1);
        assert_eq!(stats.restarts(), 1);
    }

    #[test]
    fn a_role_that_never_failed_reads_zero_failures_without_making_them() {
        let stats = RoleStats::default();
        stats.record_attempt(None, 0.003);
        stats.record_attempt(None, 0.004);
        assert_eq!(stats.successes(), 2);
        assert_eq!(stats.durations(true).count, 2);
        for class in ErrorClass::ALL {
            assert_eq!(stats.failures(class), 0);
        }
        assert_eq!(stats.durations(false), HistogramValues::empty());
        assert_eq!((stats.extensions(), stats.restarts()), (0, 0));
        assert!(stats.rare.get().is_none(), "reads made the rare counters");
    }

    /// Most roles never fail: what every role carries stays small.
    #[test]
    fn role_stats_stay_small() {
        assert!(
            std::mem::size_of::<RoleStats>() <= 144,
            "{}",
            std::mem::size_of::<RoleStats>()
        );
    }
}
