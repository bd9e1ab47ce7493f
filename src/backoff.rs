//! Exponential backoff with jitter for failed refreshes.
//!
//! The delay sequence (initial delay, multiplier, cap) comes from
//! [`backon`], the maintained successor of the unmaintained `backoff` crate
//! (RUSTSEC-2025-0012). backon draws its own jitter from an internal random
//! generator, which tests cannot control, so the sequence is taken from
//! backon *without* jitter and the jitter is applied here from the injected
//! [`Random`] source: `delay = base × (1 − jitter × u)`, `u ∈ [0, 1)`. Every
//! delay is therefore within `[initial × (1 − jitter), max]`.

use std::time::Duration;

use backon::BackoffBuilder;

use crate::clock::{Random, clamp_unit};
use crate::error::BuildError;

/// Default first retry delay: 1 s.
pub const DEFAULT_BACKOFF_INITIAL: Duration = Duration::from_secs(1);
/// Default growth factor between retries: 10 (1 s, 10 s, 100 s, then the cap).
///
/// Every step of the sequence shorter than an outage adds about the fleet's
/// steady refresh rate to its STS calls at the outage's end (the roles that
/// failed last retry soonest), so few, long steps: with 2 → 120 s a fleet
/// of 100,000 processes recovered from a 30-minute outage at 24 times its
/// steady rate, over a 600/s quota (`benches/results/fleet.md`).
pub const DEFAULT_BACKOFF_MULTIPLIER: f64 = 10.0;
/// Default cap on the retry delay: 600 s (the SDKs' common "next try
/// 300 – 600 s after a failed refresh", with the default jitter). Errors
/// retrying cannot fix are retried at this cap.
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(600);
/// Default jitter: each delay is shortened by up to this fraction (0.5).
pub const DEFAULT_BACKOFF_JITTER: f64 = 0.5;
/// The longest first delay accepted: 1 hour.
pub const MAX_BACKOFF_INITIAL: Duration = Duration::from_secs(3600);
/// The longest delay cap accepted: 24 hours.
pub const MAX_BACKOFF_MAX: Duration = Duration::from_secs(24 * 3600);

/// Backoff settings: consuming setters, checked by
/// [`validate`](Self::validate) when the refresher starts. Defaults to
/// [`DEFAULT_BACKOFF_INITIAL`], [`DEFAULT_BACKOFF_MULTIPLIER`],
/// [`DEFAULT_BACKOFF_MAX`] and [`DEFAULT_BACKOFF_JITTER`].
///
/// ```
/// # use std::time::Duration;
/// use credrefresh::backoff::BackoffConfig;
/// let backoff = BackoffConfig::default().initial(Duration::from_millis(200)).max(Duration::from_secs(30));
/// assert!(backoff.validate().is_ok());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackoffConfig {
    pub(crate) initial: Duration,
    pub(crate) multiplier: f64,
    pub(crate) max: Duration,
    pub(crate) jitter: f64,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        Self {
            initial: DEFAULT_BACKOFF_INITIAL,
            multiplier: DEFAULT_BACKOFF_MULTIPLIER,
            max: DEFAULT_BACKOFF_MAX,
            jitter: DEFAULT_BACKOFF_JITTER,
        }
    }
}

impl BackoffConfig {
    /// The first delay, in `(0, `[`MAX_BACKOFF_INITIAL`]`]`. Defaults to
    /// [`DEFAULT_BACKOFF_INITIAL`].
    pub fn initial(mut self, initial: Duration) -> Self {
        self.initial = initial;
        self
    }

    /// The growth factor between delays, in `[1, 1000]`. Defaults to
    /// [`DEFAULT_BACKOFF_MULTIPLIER`].
    pub fn multiplier(mut self, multiplier: f64) -> Self {
        self.multiplier = multiplier;
        self
    }

    /// The largest delay, in `[initial, `[`MAX_BACKOFF_MAX`]`]`; errors
    /// retrying cannot fix are retried at this cap. Defaults to
    /// [`DEFAULT_BACKOFF_MAX`].
    pub fn max(mut self, max: Duration) -> Self {
        self.max = max;
        self
    }

    /// The fraction in `[0, 1]` by which each delay may be shortened at
    /// random. Defaults to [`DEFAULT_BACKOFF_JITTER`].
    pub fn jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter;
        self
    }
}

impl BackoffConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`BuildError::InvalidPolicy`] when `initial` is zero or above
    /// [`MAX_BACKOFF_INITIAL`], `max` is below `initial` or above
    /// [`MAX_BACKOFF_MAX`],
    /// `multiplier` is outside `[1, 1000]` or not finite, or `jitter` is
    /// outside `[0, 1]`.
    pub fn validate(&self) -> Result<(), BuildError> {
        let bad = |m: &str| Err(BuildError::InvalidPolicy(m.to_string()));
        if self.initial.is_zero() || self.initial > MAX_BACKOFF_INITIAL {
            return bad("backoff initial delay must be within (0, 1 h]");
        }
        if self.max < self.initial {
            return bad("backoff max must be at least the initial delay");
        }
        if self.max > MAX_BACKOFF_MAX {
            return bad("backoff max must be at most 24 h");
        }
        if !self.multiplier.is_finite() || self.multiplier < 1.0 || self.multiplier > 1000.0 {
            return bad("backoff multiplier must be within [1, 1000]");
        }
        if !(0.0..=1.0).contains(&self.jitter) {
            return bad("backoff jitter must be within [0, 1]");
        }
        Ok(())
    }

    /// Smallest delay this configuration can produce.
    pub fn min_delay(&self) -> Duration {
        self.initial.mul_f64(1.0 - self.jitter)
    }

    /// The delay after the `attempt`-th consecutive failure (1 for the
    /// first): `initial × multiplier^(attempt − 1)`, capped at `max`, then
    /// jittered. The same sequence as [`Backoff::next_delay`], from the
    /// count alone.
    pub fn delay(&self, attempt: u32, random: &dyn Random) -> Duration {
        let steps = attempt.saturating_sub(1).min(1_000) as i32;
        let factor = self.multiplier.powi(steps);
        let base = if factor.is_finite() && self.initial.as_secs_f64() * factor < self.max.as_secs_f64() {
            self.initial.mul_f64(factor)
        } else {
            self.max
        };
        jitter(base.min(self.max), self.jitter, random)
    }

    /// The delay for errors retrying cannot fix: the cap, jittered.
    pub fn capped_delay(&self, random: &dyn Random) -> Duration {
        jitter(self.max, self.jitter, random)
    }
}

fn jitter(base: Duration, fraction: f64, random: &dyn Random) -> Duration {
    base.mul_f64(1.0 - fraction * clamp_unit(random.unit()))
}

/// The delays of one run of failures; reset by creating a new one.
#[derive(Debug)]
pub struct Backoff {
    config: BackoffConfig,
    delays: backon::ExponentialBackoff,
    /// For a refresher's run of failures: the lifetime of the credentials
    /// that were valid when it began (see [`RefreshPolicy::retry_at`](crate::RefreshPolicy::retry_at)).
    run_lifetime: Option<Duration>,
}

impl Backoff {
    /// A fresh sequence starting at `config.initial`.
    pub fn new(config: BackoffConfig) -> Self {
        let delays = backon::ExponentialBuilder::new()
            .with_min_delay(config.initial)
            .with_max_delay(config.max)
            .with_factor(config.multiplier as f32)
            .without_max_times()
            .build();
        Self {
            config,
            delays,
            run_lifetime: None,
        }
    }

    /// A run of failures that began with valid credentials of `lifetime`.
    pub(crate) fn for_run(config: BackoffConfig, lifetime: Option<Duration>) -> Self {
        Self {
            run_lifetime: lifetime,
            ..Self::new(config)
        }
    }

    /// The lifetime given to [`for_run`](Self::for_run).
    pub(crate) fn run_lifetime(&self) -> Option<Duration> {
        self.run_lifetime
    }

    /// The next delay, jittered with `random`.
    pub fn next_delay(&mut self, random: &dyn Random) -> Duration {
        let base = self.delays.next().unwrap_or(self.config.max).min(self.config.max);
        jitter(base, self.config.jitter, random)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FixedRandom;
    use proptest::prelude::*;

    /// The 0.1 default, kept as an explicit setting.
    fn doubling() -> BackoffConfig {
        BackoffConfig::default().multiplier(2.0).max(Duration::from_secs(120))
    }

    #[test]
    fn the_default_sequence_is_few_long_steps() {
        let mut b = Backoff::new(BackoffConfig::default());
        let no_jitter = FixedRandom::new(0.0);
        let secs: Vec<u64> = (0..6).map(|_| b.next_delay(&no_jitter).as_secs()).collect();
        assert_eq!(secs, [1, 10, 100, 600, 600, 600]);
    }

    #[test]
    fn sequence_doubles_up_to_the_cap() {
        let mut b = Backoff::new(doubling());
        let no_jitter = FixedRandom::new(0.0);
        let secs: Vec<u64> = (0..10).map(|_| b.next_delay(&no_jitter).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 64, 120, 120, 120]);
        let from_count: Vec<u64> = (1..=10).map(|n| doubling().delay(n, &no_jitter).as_secs()).collect();
        assert_eq!(from_count, secs);
    }

    #[test]
    fn jitter_shortens_by_the_fraction() {
        let mut b = Backoff::new(doubling());
        let half = FixedRandom::new(0.5);
        // 1 s × (1 − 0.5 × 0.5)
        assert_eq!(b.next_delay(&half), Duration::from_millis(750));
        assert_eq!(b.next_delay(&half), Duration::from_millis(1500));
        assert_eq!(doubling().delay(2, &half), Duration::from_millis(1500));
        let cfg = BackoffConfig::default();
        assert_eq!(cfg.capped_delay(&FixedRandom::new(0.0)), Duration::from_secs(600));
        assert_eq!(cfg.delay(u32::MAX, &FixedRandom::new(0.0)), Duration::from_secs(600));
    }

    #[test]
    fn validation_rejects_nonsense() {
        let ok = BackoffConfig::default();
        assert!(ok.validate().is_ok());
        assert!(ok.initial(Duration::ZERO).validate().is_err());
        assert!(ok.max(Duration::from_millis(10)).validate().is_err());
        assert!(ok.multiplier(0.5).validate().is_err());
        assert!(ok.multiplier(f64::NAN).validate().is_err());
        assert!(ok.jitter(1.5).validate().is_err());
    }

    proptest! {
        #[test]
        fn every_delay_is_within_bounds(
            initial_ms in 1u64..10_000,
            extra_ms in 0u64..1_000_000,
            multiplier in 1.0f64..10.0,
            jit in 0.0f64..=1.0,
            draws in proptest::collection::vec(0.0f64..1.0, 1..40),
        ) {
            let cfg = BackoffConfig::default()
                .initial(Duration::from_millis(initial_ms))
                .max(Duration::from_millis(initial_ms + extra_ms))
                .multiplier(multiplier)
                .jitter(jit);
            prop_assert!(cfg.validate().is_ok());
            let mut b = Backoff::new(cfg);
            for (n, u) in draws.into_iter().enumerate() {
                let d = b.next_delay(&FixedRandom::new(u));
                let counted = cfg.delay(n as u32 + 1, &FixedRandom::new(u));
                prop_assert!(counted + Duration::from_micros(1) >= cfg.min_delay());
                prop_assert!(counted <= cfg.max);
                // One microsecond of slack for f32/f64 rounding inside the sequence.
                prop_assert!(d + Duration::from_micros(1) >= cfg.min_delay(), "{d:?} below {:?}", cfg.min_delay());
                prop_assert!(d <= cfg.max, "{d:?} above {:?}", cfg.max);
            }
        }
    }
}
