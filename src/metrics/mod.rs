//! Every metric credrefresh emits, declared once.
//!
//! The [`ALL`] table is the single source of truth: name, type, help text
//! and label names of every series. Two outputs read it:
//!
//! - **The [`metrics`] facade.** Each refresh, extension, restart and
//!   invalidation is recorded as it happens, so any installed recorder
//!   (`metrics-exporter-prometheus`, StatsD, a test recorder) receives it.
//!   Each role's zero series (every [`ErrorClass`]) are created when its
//!   refresher starts, so `rate()` works from the first failure.
//! - **A `prometheus::Registry`** (feature `prometheus`, on by default):
//!   [`PrometheusCollector`] reads every role's snapshot and counters *at
//!   scrape time*, so a gauge that depends on time (seconds until expiry)
//!   is right when Prometheus reads it, not as of the latest refresh. Roles
//!   added or removed at run time appear and disappear with them. Counters
//!   live in the role's shared state and keep their values across restarts
//!   of its refresher.
//!
//! Labels are always `role` and `source`, plus `result` and `error_class`
//! where they apply. Their values come from the configuration (role names)
//! or from fixed sets (source names, [`ErrorClass::as_str`], [`RESULT_SUCCESS`]
//! / [`RESULT_FAILURE`]), never from credentials or network input: no secret,
//! key id, error message or other unbounded value is ever a label or a value.
//!
//! ```
//! # #[cfg(feature = "prometheus")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::SystemTime;
//! use credrefresh::{Credentials, Refresher, sources::StaticSource};
//!
//! let creds = Credentials::new("AKIDEXAMPLE", "example-secret", SystemTime::UNIX_EPOCH)?;
//! let refresher = Refresher::builder().role("app", StaticSource::new(creds)).start()?;
//! let registry = refresher.prometheus_registry()?;
//! // In the `/metrics` handler of your server:
//! let body = credrefresh::metrics::render(&registry)?;
//! assert!(body.contains("credrefresh_role_info{role=\"app\",source=\"static\"} 1"));
//! # Ok(()) }
//! # #[cfg(not(feature = "prometheus"))]
//! # fn main() {}
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::clock::unix_seconds;
use crate::error::ErrorClass;
use crate::handle::{CredentialsState, Shared, Snapshot};

#[cfg(feature = "prometheus")]
mod prom;
#[cfg(feature = "prometheus")]
#[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
pub use prom::{PrometheusCollector, TEXT_CONTENT_TYPE, render};

/// The type of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up.
    Counter,
    /// Goes up and down.
    Gauge,
    /// A distribution of observed values.
    Histogram,
}

/// One series: name, type, help text and label names.
#[derive(Debug, Clone, Copy)]
pub struct Series {
    /// Full name, with the `credrefresh_` prefix.
    pub name: &'static str,
    /// Counter, gauge or histogram.
    pub kind: Kind,
    /// Help text.
    pub help: &'static str,
    /// Label names.
    pub labels: &'static [&'static str],
    /// Computed when scraped, from the time of the scrape; only
    /// [`PrometheusCollector`] (feature `prometheus`) has it. The facade has
    /// no scrape hook: with a facade recorder, compute it in PromQL from the
    /// matching timestamp series (`… - time()`).
    pub scrape_time: bool,
}

const RS: &[&str] = &["role", "source"];

/// Refresh attempts by outcome: `result` is [`RESULT_SUCCESS`] or
/// [`RESULT_FAILURE`], `error_class` an [`ErrorClass`] name or [`NO_ERROR`].
pub const REFRESH_ATTEMPTS: Series = Series {
    name: "credrefresh_refresh_attempts_total",
    kind: Kind::Counter,
    help: "Credential refresh attempts, by result and error class.",
    labels: &["role", "source", "result", "error_class"],
    scrape_time: false,
};
/// Time a fetch took, by `result`, in the buckets of [`DURATION_BUCKETS`].
pub const REFRESH_DURATION: Series = Series {
    name: "credrefresh_refresh_duration_seconds",
    kind: Kind::Histogram,
    help: "Duration of credential fetches from the source, by result.",
    labels: &["role", "source", "result"],
    scrape_time: false,
};
/// Expiry of the credentials served now (Unix seconds), extended or not;
/// absent for credentials without expiry.
pub const CREDENTIALS_EXPIRY: Series = Series {
    name: "credrefresh_credentials_expiry_timestamp_seconds",
    kind: Kind::Gauge,
    help: "Expiry of the credentials currently served (extended or not), as a Unix timestamp.",
    labels: RS,
    scrape_time: false,
};
/// Seconds from the scrape until the served credentials expire (negative
/// once expired); absent for credentials without expiry.
pub const CREDENTIALS_EXPIRES_IN: Series = Series {
    name: "credrefresh_credentials_expires_in_seconds",
    kind: Kind::Gauge,
    help: "Seconds from this scrape until the credentials currently served expire (negative once expired).",
    labels: RS,
    scrape_time: true,
};
/// 1 while extended (stale) credentials are served, else 0.
pub const CREDENTIALS_EXTENDED: Series = Series {
    name: "credrefresh_credentials_extended",
    kind: Kind::Gauge,
    help: "1 while credentials extended past their expiry are served (the source is failing).",
    labels: RS,
    scrape_time: false,
};
/// 1 when no usable credentials are served (not loaded, or expired in strict mode).
pub const CREDENTIALS_UNUSABLE: Series = Series {
    name: "credrefresh_credentials_unusable",
    kind: Kind::Gauge,
    help: "1 while the role has no usable credentials (not loaded yet, or expired in strict mode).",
    labels: RS,
    scrape_time: false,
};
/// Extensions of expired credentials.
pub const EXTENSIONS: Series = Series {
    name: "credrefresh_extensions_total",
    kind: Kind::Counter,
    help: "Times expired credentials were extended because the source was failing.",
    labels: RS,
    scrape_time: false,
};
/// Failed refreshes since the latest success.
pub const CONSECUTIVE_FAILURES: Series = Series {
    name: "credrefresh_consecutive_failures",
    kind: Kind::Gauge,
    help: "Failed refreshes in a row since the latest success.",
    labels: RS,
    scrape_time: false,
};
/// Latest successful refresh (Unix seconds); absent before the first one.
pub const LAST_SUCCESS: Series = Series {
    name: "credrefresh_last_success_timestamp_seconds",
    kind: Kind::Gauge,
    help: "Time of the latest successful refresh, as a Unix timestamp.",
    labels: RS,
    scrape_time: false,
};
/// Next scheduled refresh or retry (Unix seconds).
pub const NEXT_REFRESH: Series = Series {
    name: "credrefresh_next_refresh_timestamp_seconds",
    kind: Kind::Gauge,
    help: "Time of the next scheduled refresh or retry, as a Unix timestamp.",
    labels: RS,
    scrape_time: false,
};
/// Restarts of a role's refresher by the supervisor.
pub const SUPERVISOR_RESTARTS: Series = Series {
    name: "credrefresh_supervisor_restarts_total",
    kind: Kind::Counter,
    help: "Times the supervisor restarted a role's refresher after it died.",
    labels: RS,
    scrape_time: false,
};
/// Invalidations requested by readers.
pub const INVALIDATIONS: Series = Series {
    name: "credrefresh_invalidations_total",
    kind: Kind::Counter,
    help: "Invalidations requested through handles after a service rejected the credentials.",
    labels: RS,
    scrape_time: false,
};
/// Always 1 for every configured role: the series whose absence says that
/// the metrics are missing (alert `CredrefreshMetricsAbsent`).
pub const ROLE_INFO: Series = Series {
    name: "credrefresh_role_info",
    kind: Kind::Gauge,
    help: "1 for every role credrefresh refreshes; its absence means the metrics are missing.",
    labels: RS,
    scrape_time: false,
};

/// Every series, in a stable order.
pub const ALL: &[Series] = &[
    REFRESH_ATTEMPTS,
    REFRESH_DURATION,
    CREDENTIALS_EXPIRY,
    CREDENTIALS_EXPIRES_IN,
    CREDENTIALS_EXTENDED,
    CREDENTIALS_UNUSABLE,
    EXTENSIONS,
    CONSECUTIVE_FAILURES,
    LAST_SUCCESS,
    NEXT_REFRESH,
    SUPERVISOR_RESTARTS,
    INVALIDATIONS,
    ROLE_INFO,
];

/// Upper bounds (seconds) of the buckets of [`REFRESH_DURATION`]: from 1 ms
/// (an in-process or IMDS answer) to 30 s (the default fetch timeout).
/// Give the same buckets to a facade recorder that lets you choose.
pub const DURATION_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The `result` label of a successful attempt.
pub const RESULT_SUCCESS: &str = "success";
/// The `result` label of a failed attempt.
pub const RESULT_FAILURE: &str = "failure";
/// The `error_class` label of a successful attempt.
pub const NO_ERROR: &str = "none";

/// Describes every series recorded through the facade to the installed
/// `metrics` recorder (series computed at scrape time are left out).
pub fn describe() {
    for s in ALL.iter().filter(|s| !s.scrape_time) {
        match s.kind {
            Kind::Counter => metrics::describe_counter!(s.name, s.help),
            Kind::Gauge => metrics::describe_gauge!(s.name, s.help),
            Kind::Histogram => metrics::describe_histogram!(s.name, metrics::Unit::Seconds, s.help),
        }
    }
}

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

/// A role's counters and histograms, kept in its [`Shared`] state so that
/// they outlive restarts of its refresher and can be read at scrape time.
#[derive(Debug, Default)]
pub(crate) struct RoleStats {
    successes: AtomicU64,
    failures: [AtomicU64; CLASSES],
    /// Fetch durations: `[success, failure]`.
    durations: [AtomicHistogram; 2],
    extensions: AtomicU64,
    restarts: AtomicU64,
}

#[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
impl RoleStats {
    pub(crate) fn successes(&self) -> u64 {
        self.successes.load(Ordering::Relaxed)
    }

    pub(crate) fn failures(&self, class: ErrorClass) -> u64 {
        self.failures[class_index(class)].load(Ordering::Relaxed)
    }

    /// Durations of successful (`true`) or failed fetches.
    pub(crate) fn durations(&self, success: bool) -> HistogramValues {
        self.durations[usize::from(!success)].read()
    }

    pub(crate) fn extensions(&self) -> u64 {
        self.extensions.load(Ordering::Relaxed)
    }

    pub(crate) fn restarts(&self) -> u64 {
        self.restarts.load(Ordering::Relaxed)
    }
}

/// Records one role's events: into its [`RoleStats`] (read by the
/// Prometheus collector) and through the facade.
#[derive(Clone)]
pub(crate) struct RoleMetrics {
    shared: Arc<Shared>,
    role: String,
    source: String,
}

impl std::fmt::Debug for RoleMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoleMetrics")
            .field("role", &self.role)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl RoleMetrics {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        let snapshot = shared.snapshot.load();
        let role = snapshot.role().to_string();
        let source = snapshot.source().to_string();
        drop(snapshot);
        Self { shared, role, source }
    }

    fn labels(&self) -> [(&'static str, String); 2] {
        [("role", self.role.clone()), ("source", self.source.clone())]
    }

    fn outcome(&self, result: &'static str, class: &'static str) -> [(&'static str, String); 4] {
        let [role, source] = self.labels();
        [
            role,
            source,
            ("result", result.to_string()),
            ("error_class", class.to_string()),
        ]
    }

    /// Creates the role's series in the facade recorder with their current
    /// values (zero for a new role): every error class, so `rate()` and
    /// `increase()` see the first failure of each.
    pub(crate) fn register(&self) {
        let labels = self.labels();
        metrics::gauge!(ROLE_INFO.name, &labels).set(1.0);
        metrics::counter!(REFRESH_ATTEMPTS.name, &self.outcome(RESULT_SUCCESS, NO_ERROR)).increment(0);
        for class in ErrorClass::ALL {
            metrics::counter!(REFRESH_ATTEMPTS.name, &self.outcome(RESULT_FAILURE, class.as_str())).increment(0);
        }
        metrics::counter!(EXTENSIONS.name, &labels).increment(0);
        metrics::counter!(SUPERVISOR_RESTARTS.name, &labels).increment(0);
        metrics::counter!(INVALIDATIONS.name, &labels).increment(0);
        self.snapshot(&self.shared.snapshot.load());
    }

    pub(crate) fn attempt(&self, error: Option<ErrorClass>, took: Duration) {
        let stats = &self.shared.stats;
        let (result, class) = match error {
            None => {
                stats.successes.fetch_add(1, Ordering::Relaxed);
                (RESULT_SUCCESS, NO_ERROR)
            }
            Some(c) => {
                stats.failures[class_index(c)].fetch_add(1, Ordering::Relaxed);
                (RESULT_FAILURE, c.as_str())
            }
        };
        stats.durations[usize::from(error.is_some())].observe(took.as_secs_f64());
        let outcome = self.outcome(result, class);
        metrics::counter!(REFRESH_ATTEMPTS.name, &outcome).increment(1);
        metrics::histogram!(REFRESH_DURATION.name, &outcome[..3]).record(took.as_secs_f64());
    }

    /// Gauges that follow the published snapshot.
    pub(crate) fn snapshot(&self, s: &Snapshot) {
        let labels = self.labels();
        if let Some(exp) = s.credentials().and_then(|c| c.expiry()) {
            metrics::gauge!(CREDENTIALS_EXPIRY.name, &labels).set(unix_seconds(exp));
        }
        let extended = f64::from(u8::from(s.state() == CredentialsState::Extended));
        metrics::gauge!(CREDENTIALS_EXTENDED.name, &labels).set(extended);
        metrics::gauge!(CREDENTIALS_UNUSABLE.name, &labels).set(f64::from(u8::from(!s.state().is_usable())));
        metrics::gauge!(CONSECUTIVE_FAILURES.name, &labels).set(f64::from(s.consecutive_failures()));
        if let Some(t) = s.last_success() {
            metrics::gauge!(LAST_SUCCESS.name, &labels).set(unix_seconds(t));
        }
        if let Some(t) = s.next_refresh() {
            metrics::gauge!(NEXT_REFRESH.name, &labels).set(unix_seconds(t));
        }
    }

    pub(crate) fn extension(&self) {
        self.shared.stats.extensions.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(EXTENSIONS.name, &self.labels()).increment(1);
    }

    pub(crate) fn restart(&self) {
        self.shared.stats.restarts.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(SUPERVISOR_RESTARTS.name, &self.labels()).increment(1);
    }

    /// Invalidation calls seen by the refresher since the last report. The
    /// collector reads the call count of the handles directly.
    pub(crate) fn invalidations(&self, n: u64) {
        metrics::counter!(INVALIDATIONS.name, &self.labels()).increment(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_prefixed_unique_and_labelled() {
        let mut names = std::collections::HashSet::new();
        for s in ALL {
            assert!(s.name.starts_with("credrefresh_"), "{}", s.name);
            assert!(names.insert(s.name), "duplicate {}", s.name);
            assert_eq!(&s.labels[..2], &["role", "source"]);
            if s.kind == Kind::Counter {
                assert!(s.name.ends_with("_total"), "{}", s.name);
            } else {
                assert!(!s.name.ends_with("_total"), "{}", s.name);
            }
            if s.kind == Kind::Histogram || s.name.ends_with("_seconds") {
                assert!(s.name.ends_with("_seconds"), "{}", s.name);
            }
            assert!(s.help.ends_with('.'), "{}", s.name);
        }
    }

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
    fn role_metrics_count_into_the_shared_stats() {
        let shared = Shared::new("app".into(), "static".into());
        let m = RoleMetrics::new(shared.clone());
        m.attempt(None, Duration::from_millis(3));
        m.attempt(Some(ErrorClass::Throttled), Duration::from_secs(2));
        m.attempt(Some(ErrorClass::Throttled), Duration::from_secs(2));
        m.extension();
        m.restart();
        let stats = &shared.stats;
        assert_eq!(stats.successes(), 1);
        assert_eq!(stats.failures(ErrorClass::Throttled), 2);
        assert_eq!(stats.failures(ErrorClass::Timeout), 0);
        assert_eq!(stats.durations(true).count, 1);
        assert_eq!(stats.durations(false).count, 2);
        assert_eq!(stats.durations(false).sum, 4.0);
        assert_eq!(stats.extensions(), 1);
        assert_eq!(stats.restarts(), 1);
    }
}
