//! When to refresh, and what to do when refreshing fails: pure functions of
//! an injected time and random source.
//!
//! # Why the refresh window scales with the lifetime
//! A fixed margin fails at both ends: 15 minutes ahead of expiry is a refresh
//! loop for a 900 s session (aws-sdk-net#4313), and 10 seconds ahead of
//! expiry leaves no room to ride out STS throttling (aws-sdk-java-v2#5247).
//! credrefresh refreshes when `expiry − window − jitter` is reached, where the
//! window is a quarter of the lifetime, capped at 60 minutes (the SDKs'
//! common refresh behaviour of 2026 uses 60 minutes for lifetimes over
//! 90 minutes), and the jitter adds up to half a window more. A credential
//! is therefore never refreshed before 62.5 % of its life has passed.
//!
//! # Outage headroom
//! The window is also how long the source may be down before the
//! credentials in hand expire (after that they are extended, see below):
//!
//! | lifetime | refreshed before expiry (= outage headroom) |
//! |---|---|
//! | 15 min (shortest STS session) | 3.75 – 5.6 min |
//! | 1 h (AssumeRole default, chained roles) | 15 – 22.5 min |
//! | 4 h and more | 60 – 90 min |
//! | 6 h (IMDS role credentials) | 60 – 90 min |
//! | 12 h (longest session) | 60 – 90 min |
//!
//! # Static stability
//! When credentials reach their expiry while the source keeps failing, they
//! are extended by 5 to 15 minutes (random), the snapshot says so, and a
//! warning with the text [`EXTENSION_WARNING`] is logged. Credentials that are
//! not expired are never extended (smithy-rs#2687). With
//! [`RefreshPolicy::strict`] they are not extended at all and readers see
//! [`CredentialsState::Expired`](crate::CredentialsState::Expired).

use std::time::{Duration, SystemTime};

use crate::backoff::BackoffConfig;
use crate::clock::{Random, clamp_unit};
use crate::error::BuildError;

/// Default fraction of the credential lifetime refreshed ahead of expiry: 0.25.
pub const DEFAULT_REFRESH_WINDOW_FRACTION: f64 = 0.25;
/// Default cap on the refresh window: 60 minutes, as the SDKs' common
/// refresh behaviour (2026) uses for lifetimes over 90 minutes.
pub const DEFAULT_MAX_REFRESH_WINDOW: Duration = Duration::from_secs(60 * 60);
/// Default refresh jitter, as a fraction of the window: up to half a window earlier.
pub const DEFAULT_REFRESH_JITTER: f64 = 0.5;
/// Default refresh interval for credentials without an expiry (environment,
/// static): 5 minutes, as rusoto re-read the environment.
pub const DEFAULT_NO_EXPIRY_REFRESH_INTERVAL: Duration = Duration::from_secs(5 * 60);
/// Default shortest extension of expired credentials: 5 minutes.
pub const DEFAULT_EXTENSION_MIN: Duration = Duration::from_secs(5 * 60);
/// Default random part of an extension: up to 10 more minutes (5–15 in all).
pub const DEFAULT_EXTENSION_JITTER: Duration = Duration::from_secs(10 * 60);
/// Default limit on one fetch, after which it counts as a timeout: 30 s.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(30);
/// Default floor on the spacing of successful refreshes: 60 s.
///
/// Real credentials never come near it: the shortest STS session (900 s)
/// is refreshed after at least 62.5 % of its life (562 s), and IMDS and
/// container credentials live for hours. It binds only when the local
/// clock is wrong by nearly the session length, so that every session
/// looks seconds long: then it turns what would be an AssumeRole call in
/// a loop into one call a minute (60 an hour, far below any STS throttle),
/// while the credentials in hand keep being served (extended past their
/// apparent expiry, see [Static stability](crate::policy#static-stability)).
pub const DEFAULT_MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(60);
/// The longest a refresher sleeps on one timer: 60 s.
///
/// Timers run on the monotonic clock, which does not see a laptop sleep,
/// a paused VM or a stepped wall clock; expiries are wall-clock times. So
/// no timer sleeps longer than this: when it fires early, the refresher
/// reads the wall clock again and plans the refresh and the expiry check
/// anew. A jump of the wall clock is therefore acted on within this time
/// (and [`Snapshot::usable_credentials`](crate::Snapshot::usable_credentials),
/// which reads the clock, never returns credentials past their expiry in
/// the meantime). A refresh or retry never waits longer than the delay
/// planned when it was scheduled: a wall clock stepped back does not hold
/// it up.
pub const MAX_TIMER_SLICE: Duration = Duration::from_secs(60);
/// Default time credentials are kept before an invalidation may replace
/// them: 5 s. It stops a service that rejects every key from driving one
/// STS call per request (rusoto#1179).
pub const DEFAULT_INVALIDATION_COOLDOWN: Duration = Duration::from_secs(5);

/// The longest refresh window, no-expiry interval, extension (minimum or
/// jitter) or backoff cap a policy accepts: 24 hours. Longer settings are
/// refused by [`RefreshPolicy::validate`]: no credential lives longer than
/// 12 h, and a bound keeps every computed time representable.
pub const MAX_POLICY_INTERVAL: Duration = Duration::from_secs(24 * 3600);
/// The longest fetch timeout, invalidation cooldown or first backoff delay
/// a policy accepts: 1 hour.
pub const MAX_POLICY_TIMEOUT: Duration = Duration::from_secs(3600);

/// The warning logged (at `warn` level, with the role name as a field) each
/// time expired credentials are extended because the source is failing.
pub const EXTENSION_WARNING: &str =
    "credentials expired while the source is failing; extending them to keep serving (static stability)";

/// The warning logged when credentials expire in strict mode.
pub const EXPIRED_STRICT_WARNING: &str =
    "credentials expired while the source is failing; strict mode: not extending them";

/// How and when credentials are refreshed. Every field defaults to the
/// `DEFAULT_*` constant of this module named in its setter.
#[derive(Debug, Clone, PartialEq)]
pub struct RefreshPolicy {
    pub(crate) window_fraction: f64,
    pub(crate) max_window: Duration,
    pub(crate) refresh_jitter: f64,
    pub(crate) no_expiry_interval: Duration,
    pub(crate) backoff: BackoffConfig,
    pub(crate) extension_min: Duration,
    pub(crate) extension_jitter: Duration,
    pub(crate) strict: bool,
    pub(crate) fetch_timeout: Duration,
    pub(crate) invalidation_cooldown: Duration,
    pub(crate) min_refresh_interval: Duration,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        Self {
            window_fraction: DEFAULT_REFRESH_WINDOW_FRACTION,
            max_window: DEFAULT_MAX_REFRESH_WINDOW,
            refresh_jitter: DEFAULT_REFRESH_JITTER,
            no_expiry_interval: DEFAULT_NO_EXPIRY_REFRESH_INTERVAL,
            backoff: BackoffConfig::default(),
            extension_min: DEFAULT_EXTENSION_MIN,
            extension_jitter: DEFAULT_EXTENSION_JITTER,
            strict: false,
            fetch_timeout: DEFAULT_FETCH_TIMEOUT,
            invalidation_cooldown: DEFAULT_INVALIDATION_COOLDOWN,
            min_refresh_interval: DEFAULT_MIN_REFRESH_INTERVAL,
        }
    }
}

impl RefreshPolicy {
    /// Fraction of the lifetime to refresh ahead of expiry, in `(0, 0.5]`.
    /// Defaults to [`DEFAULT_REFRESH_WINDOW_FRACTION`].
    pub fn window_fraction(mut self, fraction: f64) -> Self {
        self.window_fraction = fraction;
        self
    }

    /// Cap on the refresh window. Defaults to [`DEFAULT_MAX_REFRESH_WINDOW`].
    pub fn max_window(mut self, max: Duration) -> Self {
        self.max_window = max;
        self
    }

    /// Extra random lead, as a fraction of the window, in `[0, 1]`.
    /// Defaults to [`DEFAULT_REFRESH_JITTER`].
    pub fn refresh_jitter(mut self, fraction: f64) -> Self {
        self.refresh_jitter = fraction;
        self
    }

    /// Refresh interval for credentials without an expiry.
    /// Defaults to [`DEFAULT_NO_EXPIRY_REFRESH_INTERVAL`].
    pub fn no_expiry_interval(mut self, interval: Duration) -> Self {
        self.no_expiry_interval = interval;
        self
    }

    /// Retry backoff. Defaults to [`BackoffConfig::default`].
    pub fn backoff(mut self, backoff: BackoffConfig) -> Self {
        self.backoff = backoff;
        self
    }

    /// Extension of expired credentials: at least `min`, plus up to `jitter`.
    /// Defaults to [`DEFAULT_EXTENSION_MIN`] and [`DEFAULT_EXTENSION_JITTER`].
    pub fn extension(mut self, min: Duration, jitter: Duration) -> Self {
        self.extension_min = min;
        self.extension_jitter = jitter;
        self
    }

    /// Never extend expired credentials; readers see
    /// [`CredentialsState::Expired`](crate::CredentialsState::Expired) instead. Defaults to `false`.
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// Limit on one fetch. Defaults to [`DEFAULT_FETCH_TIMEOUT`].
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }

    /// How long fresh credentials are kept despite invalidations.
    /// Defaults to [`DEFAULT_INVALIDATION_COOLDOWN`].
    pub fn invalidation_cooldown(mut self, cooldown: Duration) -> Self {
        self.invalidation_cooldown = cooldown;
        self
    }

    /// The shortest time from a successful refresh to the next one, in
    /// `[0, `[`MAX_POLICY_TIMEOUT`]`]`; zero turns the floor off. A guard
    /// against a wrong local clock (see [`DEFAULT_MIN_REFRESH_INTERVAL`]).
    /// It delays the refresh of credentials living less than 1.6 × the
    /// floor (refreshed after 62.5 % of their life at the earliest), and
    /// credentials living less than the floor itself expire before it and
    /// are extended until the refresh: lower it for such short-lived
    /// credentials (a demo against an emulator).
    /// Defaults to [`DEFAULT_MIN_REFRESH_INTERVAL`].
    pub fn min_refresh_interval(mut self, interval: Duration) -> Self {
        self.min_refresh_interval = interval;
        self
    }

    /// Checks every setting. [`Refresher`](crate::Refresher) calls it when it
    /// starts or adds a role, so a policy that passes never makes a policy
    /// function, the actor or the supervisor panic, whatever the time.
    ///
    /// # Errors
    /// [`BuildError::InvalidPolicy`] when:
    /// - the window fraction is outside `(0, 0.5]` or the refresh jitter
    ///   outside `[0, 1]` (NaN included);
    /// - the window cap, the no-expiry interval or the extension minimum is
    ///   zero or above [`MAX_POLICY_INTERVAL`], or the extension jitter is
    ///   above it;
    /// - the fetch timeout is zero or above [`MAX_POLICY_TIMEOUT`], or the
    ///   invalidation cooldown or the
    ///   [minimum refresh interval](Self::min_refresh_interval) is above it;
    /// - the backoff is invalid (see [`BackoffConfig::validate`]).
    pub fn validate(&self) -> Result<(), BuildError> {
        let bad = |m: &str| Err(BuildError::InvalidPolicy(m.to_string()));
        let within = |d: Duration, max: Duration| !d.is_zero() && d <= max;
        if !(self.window_fraction > 0.0 && self.window_fraction <= 0.5) {
            return bad("refresh window fraction must be within (0, 0.5]");
        }
        if !(0.0..=1.0).contains(&self.refresh_jitter) {
            return bad("refresh jitter must be within [0, 1]");
        }
        if !within(self.max_window, MAX_POLICY_INTERVAL) {
            return bad("refresh window cap must be within (0, 24 h]");
        }
        if !within(self.no_expiry_interval, MAX_POLICY_INTERVAL) {
            return bad("no-expiry refresh interval must be within (0, 24 h]");
        }
        if !within(self.fetch_timeout, MAX_POLICY_TIMEOUT) {
            return bad("fetch timeout must be within (0, 1 h]");
        }
        if self.invalidation_cooldown > MAX_POLICY_TIMEOUT {
            return bad("invalidation cooldown must be within [0, 1 h]");
        }
        if self.min_refresh_interval > MAX_POLICY_TIMEOUT {
            return bad("minimum refresh interval must be within [0, 1 h]");
        }
        if !within(self.extension_min, MAX_POLICY_INTERVAL) {
            return bad("extension must be within (0, 24 h]");
        }
        if self.extension_jitter > MAX_POLICY_INTERVAL {
            return bad("extension jitter must be within [0, 24 h]");
        }
        self.backoff.validate()
    }

    /// When to refresh credentials fetched at `now` that expire at `expiry`.
    ///
    /// Always after `now`, and strictly before `expiry` when `expiry > now`.
    pub fn refresh_at(&self, now: SystemTime, expiry: Option<SystemTime>, random: &dyn Random) -> SystemTime {
        let Some(expiry) = expiry else {
            return later(now, self.no_expiry_interval);
        };
        let Ok(lifetime) = expiry.duration_since(now) else {
            return now;
        };
        let window = lifetime.mul_f64(self.window_fraction).min(self.max_window);
        let lead = window + window.mul_f64(self.refresh_jitter * clamp_unit(random.unit()));
        // lead <= 2 × fraction × lifetime <= lifetime: never before now.
        expiry.checked_sub(lead).unwrap_or(now).max(now)
    }

    /// When to refresh the *first* credentials of a refresher (or the first
    /// after a run of failures), fetched at `now` and expiring at `expiry`:
    /// spread so that refreshers that fetched together refresh at their
    /// steady rate at once.
    ///
    /// [`refresh_at`](Self::refresh_at) puts every refresh `a` to `b` after
    /// the fetch (`b = lifetime − window`, `a = b − jitter × window`). A
    /// fleet started within seconds then refreshes within that one range,
    /// then within a slightly wider one, and so on: a wave that takes a day
    /// to fade (5.5 times the steady rate at the first refresh of 1 h
    /// sessions, see `benches/fleet.rs`). Here the delay is drawn from the
    /// steady state of that renewal process instead: density
    /// `P(interval > x) / mean interval` on `[0, b]`, so the fleet's refresh
    /// rate is flat from the start. Never later than `refresh_at` can be, so
    /// the outage headroom is at least as large; it may be earlier, which
    /// costs about half a refresh per start. Without an expiry the delay is
    /// uniform within the no-expiry interval; past the expiry it is `now`.
    /// As with `refresh_at`, a draw of 0 gives the latest time (so a fixed
    /// random source of 0 refreshes at the same time through both).
    pub fn first_refresh_at(&self, now: SystemTime, expiry: Option<SystemTime>, random: &dyn Random) -> SystemTime {
        // 1 − u: as with `refresh_at`, a draw of 0 gives the latest time.
        let u = 1.0 - clamp_unit(random.unit());
        let Some(expiry) = expiry else {
            return later(now, self.no_expiry_interval.mul_f64(u));
        };
        let Ok(lifetime) = expiry.duration_since(now) else {
            return now;
        };
        let window = lifetime.mul_f64(self.window_fraction).min(self.max_window);
        let latest = lifetime.saturating_sub(window).as_secs_f64();
        let earliest = lifetime
            .saturating_sub(window + window.mul_f64(self.refresh_jitter))
            .as_secs_f64();
        let spread = latest - earliest;
        let y = u * (earliest + latest) / 2.0;
        // Inverse of the equilibrium distribution function: linear up to
        // `earliest`, then a parabola up to `latest`.
        let delay = if y <= earliest {
            y
        } else {
            latest - (spread * spread - 2.0 * spread * (y - earliest)).max(0.0).sqrt()
        };
        let ratio = delay / lifetime.as_secs_f64();
        let ratio = if ratio.is_finite() { ratio.clamp(0.0, 1.0) } else { 0.0 };
        later(now, lifetime.mul_f64(ratio)).min(later(now, lifetime.saturating_sub(window)))
    }

    /// When to refresh after a successful fetch at `now` of credentials
    /// expiring at `expiry`: [`refresh_at`](Self::refresh_at), but never
    /// sooner than the [minimum refresh interval](Self::min_refresh_interval)
    /// after `now`.
    pub fn refresh_after_success(
        &self,
        now: SystemTime,
        expiry: Option<SystemTime>,
        random: &dyn Random,
    ) -> SystemTime {
        self.refresh_at(now, expiry, random)
            .max(later(now, self.min_refresh_interval))
    }

    /// When to refresh after the *first* successful fetch of a refresher,
    /// or the first after a run of failures, at `now` of credentials
    /// expiring at `expiry`: [`first_refresh_at`](Self::first_refresh_at),
    /// but never sooner than the
    /// [minimum refresh interval](Self::min_refresh_interval) after `now`
    /// (the same floor as [`refresh_after_success`](Self::refresh_after_success)).
    pub fn first_refresh_after_success(
        &self,
        now: SystemTime,
        expiry: Option<SystemTime>,
        random: &dyn Random,
    ) -> SystemTime {
        self.first_refresh_at(now, expiry, random)
            .max(later(now, self.min_refresh_interval))
    }

    /// The new expiry for credentials that expired at `expiry` while the
    /// source is failing, or `None` when they must not be extended (strict
    /// mode, no expiry, or not yet expired at `now`).
    pub fn extend(&self, now: SystemTime, expiry: Option<SystemTime>, random: &dyn Random) -> Option<SystemTime> {
        let expiry = expiry?;
        if self.strict || expiry > now {
            return None;
        }
        let extension = self.extension_min + self.extension_jitter.mul_f64(clamp_unit(random.unit()));
        Some(later(now, extension))
    }

    /// When an invalidation of credentials issued at `issued_at` may be
    /// served: now, or when the cooldown since issue has passed.
    pub fn invalidation_refresh_at(&self, now: SystemTime, issued_at: SystemTime) -> SystemTime {
        later(issued_at, self.invalidation_cooldown).max(now)
    }
}

/// `t + d`, or `t` itself when that is past what `SystemTime` holds (no
/// time from outside comes near: they are range-checked when parsed).
fn later(t: SystemTime, d: Duration) -> SystemTime {
    t.checked_add(d).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FixedRandom;
    use proptest::prelude::*;

    fn t(s: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(s)
    }

    const NOW: u64 = 1_800_000_000;

    #[test]
    fn hour_long_credentials_refresh_15_to_22_5_minutes_early() {
        let p = RefreshPolicy::default();
        let exp = Some(t(NOW + 3600));
        assert_eq!(p.refresh_at(t(NOW), exp, &FixedRandom::new(0.0)), t(NOW + 3600 - 900));
        assert_eq!(
            p.refresh_at(t(NOW), exp, &FixedRandom::new(0.5)),
            t(NOW + 3600 - 900 - 225)
        );
    }

    #[test]
    fn fifteen_minute_sessions_do_not_loop() {
        let p = RefreshPolicy::default();
        // 900 s: window 225 s, at most 112.5 s of jitter on top.
        let early = p.refresh_at(t(NOW), Some(t(NOW + 900)), &FixedRandom::new(0.999_999));
        assert!(early >= t(NOW + 562), "{:?}", early.duration_since(t(NOW)));
        assert_eq!(
            p.refresh_at(t(NOW), Some(t(NOW + 900)), &FixedRandom::new(0.0)),
            t(NOW + 675)
        );
    }

    #[test]
    fn long_sessions_use_the_capped_sixty_minute_window() {
        let p = RefreshPolicy::default();
        assert_eq!(
            p.refresh_at(t(NOW), Some(t(NOW + 43_200)), &FixedRandom::new(0.0)),
            t(NOW + 43_200 - 3600)
        );
        // Six-hour IMDS credentials: 60 to 90 minutes of outage headroom.
        assert_eq!(
            p.refresh_at(t(NOW), Some(t(NOW + 6 * 3600)), &FixedRandom::new(0.0)),
            t(NOW + 6 * 3600 - 3600)
        );
        // Below four hours the window stays a quarter of the lifetime.
        assert_eq!(
            p.refresh_at(t(NOW), Some(t(NOW + 2 * 3600)), &FixedRandom::new(0.0)),
            t(NOW + 2 * 3600 - 1800)
        );
    }

    #[test]
    fn first_refresh_follows_the_steady_state_distribution() {
        let p = RefreshPolicy::default();
        let exp = Some(t(NOW + 3600));
        // 1 h: regular refreshes 2250 to 2700 s after the fetch, 2475 s on
        // average. A draw of 0 gives the latest, as with `refresh_at`.
        assert_eq!(p.first_refresh_at(t(NOW), exp, &FixedRandom::new(0.0)), t(NOW + 2700));
        assert_eq!(
            p.first_refresh_at(t(NOW), exp, &FixedRandom::new(0.5)),
            t(NOW) + Duration::from_millis(1_237_500)
        );
        // Linear up to 2250 s (density 1/2475), then a parabola up to 2700 s:
        // y = 2375 s of "mass" is reached at 2250 + 450 − √(450² − 900 × 125) = 2400 s.
        let at = p.first_refresh_at(t(NOW), exp, &FixedRandom::new(100.0 / 2475.0));
        let off = at.duration_since(t(NOW + 2400)).unwrap_or_else(|e| e.duration());
        assert!(off < Duration::from_millis(1), "{at:?}");
        let soonest = p.first_refresh_at(t(NOW), exp, &FixedRandom::new(0.999_999_9));
        assert!(soonest <= t(NOW + 1), "{soonest:?}");
        assert_eq!(p.first_refresh_at(t(NOW), None, &FixedRandom::new(0.5)), t(NOW + 150));
        assert_eq!(p.first_refresh_at(t(NOW), None, &FixedRandom::new(0.0)), t(NOW + 300));
        assert_eq!(
            p.first_refresh_at(t(NOW), Some(t(NOW - 5)), &FixedRandom::new(0.3)),
            t(NOW)
        );
        // Without jitter the interval is fixed: the residual is uniform.
        let fixed = RefreshPolicy::default().refresh_jitter(0.0);
        assert_eq!(
            fixed.first_refresh_at(t(NOW), exp, &FixedRandom::new(0.5)),
            t(NOW + 1350)
        );
        assert_eq!(
            fixed.first_refresh_at(t(NOW), exp, &FixedRandom::new(0.0)),
            t(NOW + 2700)
        );
    }

    /// A fleet that fetched at once: the regular policy refreshes it in
    /// waves; the first refresh drawn from the steady state keeps the rate flat.
    #[test]
    fn a_fleet_started_together_refreshes_at_a_flat_rate() {
        #[derive(Debug)]
        struct Stream(std::sync::atomic::AtomicU64);
        impl Random for Stream {
            fn unit(&self) -> f64 {
                let s = self
                    .0
                    .fetch_add(0x9E37_79B9_7F4A_7C15, std::sync::atomic::Ordering::Relaxed);
                let mut z = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
            }
        }
        let p = RefreshPolicy::default();
        let buckets = |spread: bool| {
            let mut counts = [0u32; 12]; // 15-minute buckets over 3 hours
            for i in 0..20_000u64 {
                let r = Stream(std::sync::atomic::AtomicU64::new(i));
                let mut fetched = t(NOW);
                let mut at = if spread {
                    p.first_refresh_at(fetched, Some(fetched + Duration::from_secs(3600)), &r)
                } else {
                    p.refresh_at(fetched, Some(fetched + Duration::from_secs(3600)), &r)
                };
                loop {
                    let d = at.duration_since(t(NOW)).unwrap_or(Duration::MAX);
                    if d >= Duration::from_secs(3 * 3600) {
                        break;
                    }
                    counts[(d.as_secs() / 900) as usize] += 1;
                    fetched = at;
                    at = p.refresh_at(fetched, Some(fetched + Duration::from_secs(3600)), &r);
                }
            }
            let max = *counts.iter().max().unwrap_or(&0) as f64;
            let min = *counts.iter().min().unwrap_or(&0) as f64;
            (max, min)
        };
        // Steady rate: 20,000 × 900 / 2475 ≈ 7,273 per bucket.
        let (max, min) = buckets(true);
        assert!(max < 7_273.0 * 1.06 && min > 7_273.0 * 0.94, "spread: {min}..{max}");
        let (max, min) = buckets(false);
        assert!(max > 7_273.0 * 2.0 && min == 0.0, "regular: {min}..{max}");
    }

    #[test]
    fn no_expiry_and_past_expiry() {
        let p = RefreshPolicy::default();
        assert_eq!(p.refresh_at(t(NOW), None, &FixedRandom::new(0.3)), t(NOW + 300));
        assert_eq!(p.refresh_at(t(NOW), Some(t(NOW - 5)), &FixedRandom::new(0.3)), t(NOW));
    }

    #[test]
    fn extension_only_after_expiry_and_never_in_strict_mode() {
        let p = RefreshPolicy::default();
        let r = FixedRandom::new(0.5);
        assert_eq!(p.extend(t(NOW), Some(t(NOW + 1)), &r), None);
        assert_eq!(p.extend(t(NOW), None, &r), None);
        assert_eq!(p.extend(t(NOW), Some(t(NOW)), &r), Some(t(NOW + 300 + 300)));
        assert_eq!(
            p.extend(t(NOW), Some(t(NOW - 60)), &FixedRandom::new(0.0)),
            Some(t(NOW + 300))
        );
        assert_eq!(p.clone().strict(true).extend(t(NOW), Some(t(NOW - 60)), &r), None);
    }

    #[test]
    fn successful_refreshes_are_at_least_the_floor_apart() {
        let p = RefreshPolicy::default();
        let r = FixedRandom::new(0.0);
        // Credentials that seem to expire a second from now: a minute.
        assert_eq!(p.refresh_after_success(t(NOW), Some(t(NOW + 1)), &r), t(NOW + 60));
        assert_eq!(p.refresh_after_success(t(NOW), Some(t(NOW - 5)), &r), t(NOW + 60));
        // Real lifetimes are never delayed by it.
        for lifetime in [900, 3600, 6 * 3600, 12 * 3600] {
            let exp = Some(t(NOW + lifetime));
            assert_eq!(p.refresh_after_success(t(NOW), exp, &r), p.refresh_at(t(NOW), exp, &r));
        }
        let off = p.clone().min_refresh_interval(Duration::ZERO);
        assert!(off.validate().is_ok());
        assert_eq!(off.refresh_after_success(t(NOW), Some(t(NOW + 4)), &r), t(NOW + 3));
        assert!(p.min_refresh_interval(MAX_POLICY_TIMEOUT).validate().is_ok());
    }

    #[test]
    fn first_refreshes_after_success_are_spread_but_at_least_the_floor_apart() {
        let p = RefreshPolicy::default();
        // Credentials that seem to expire a second from now: a minute.
        for u in [0.0, 0.5, 0.999] {
            let r = FixedRandom::new(u);
            assert_eq!(p.first_refresh_after_success(t(NOW), Some(t(NOW + 1)), &r), t(NOW + 60));
            assert_eq!(p.first_refresh_after_success(t(NOW), Some(t(NOW - 5)), &r), t(NOW + 60));
        }
        // A draw of 0 gives what `refresh_after_success` gives; others are
        // spread down to the floor, never later.
        let exp = Some(t(NOW + 3600));
        let zero = FixedRandom::new(0.0);
        assert_eq!(
            p.first_refresh_after_success(t(NOW), exp, &zero),
            p.refresh_after_success(t(NOW), exp, &zero)
        );
        let early = p.first_refresh_after_success(t(NOW), exp, &FixedRandom::new(0.999));
        assert_eq!(early, t(NOW + 60));
        let middle = p.first_refresh_after_success(t(NOW), exp, &FixedRandom::new(0.5));
        assert!(middle > t(NOW + 60) && middle < p.refresh_after_success(t(NOW), exp, &zero));
        let off = p.min_refresh_interval(Duration::ZERO);
        assert!(off.first_refresh_after_success(t(NOW), exp, &FixedRandom::new(0.999)) < t(NOW + 60));
    }

    #[test]
    fn invalidation_cooldown() {
        let p = RefreshPolicy::default();
        assert_eq!(p.invalidation_refresh_at(t(NOW), t(NOW - 1)), t(NOW + 4));
        assert_eq!(p.invalidation_refresh_at(t(NOW), t(NOW - 60)), t(NOW));
    }

    #[test]
    fn validation() {
        assert!(RefreshPolicy::default().validate().is_ok());
        assert!(RefreshPolicy::default().window_fraction(0.0).validate().is_err());
        assert!(RefreshPolicy::default().window_fraction(0.6).validate().is_err());
        assert!(RefreshPolicy::default().window_fraction(f64::NAN).validate().is_err());
        assert!(RefreshPolicy::default().refresh_jitter(-0.1).validate().is_err());
        assert!(
            RefreshPolicy::default()
                .fetch_timeout(Duration::ZERO)
                .validate()
                .is_err()
        );
        assert!(
            RefreshPolicy::default()
                .no_expiry_interval(Duration::ZERO)
                .validate()
                .is_err()
        );
        assert!(
            RefreshPolicy::default()
                .extension(Duration::ZERO, Duration::ZERO)
                .validate()
                .is_err()
        );
    }

    #[test]
    fn extreme_settings_are_refused_at_validation() {
        let max = Duration::MAX;
        let refused = [
            RefreshPolicy::default().no_expiry_interval(max),
            RefreshPolicy::default().extension(max, Duration::ZERO),
            RefreshPolicy::default().extension(Duration::from_secs(60), max),
            RefreshPolicy::default().invalidation_cooldown(max),
            RefreshPolicy::default().min_refresh_interval(max),
            RefreshPolicy::default().min_refresh_interval(MAX_POLICY_TIMEOUT + Duration::from_nanos(1)),
            RefreshPolicy::default().fetch_timeout(max),
            RefreshPolicy::default().max_window(Duration::ZERO),
            RefreshPolicy::default().max_window(max),
            RefreshPolicy::default().backoff(BackoffConfig::default().max(max)),
            RefreshPolicy::default().backoff(BackoffConfig::default().initial(max).max(max)),
        ];
        for p in refused {
            let err = p.validate().expect_err("must be refused");
            assert!(matches!(err, BuildError::InvalidPolicy(_)), "{err:?}");
        }
    }

    fn any_duration() -> impl Strategy<Value = Duration> {
        prop_oneof![
            Just(Duration::ZERO),
            Just(Duration::MAX),
            (0u64..=u64::MAX, 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
            (0u64..200_000).prop_map(Duration::from_secs),
        ]
    }

    fn any_time() -> impl Strategy<Value = SystemTime> {
        prop_oneof![
            (0u64..=(i64::MAX as u64)).prop_map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s)),
            (0u64..=4_000_000_000u64).prop_map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s)),
            (0u64..=(i64::MAX as u64 / 4)).prop_map(|s| SystemTime::UNIX_EPOCH - Duration::from_secs(s)),
        ]
    }

    fn any_fraction() -> impl Strategy<Value = f64> {
        prop_oneof![proptest::num::f64::ANY, 0.0f64..=1.0, Just(0.5)]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]
        #[test]
        fn a_policy_that_validates_never_panics(
            fraction in any_fraction(),
            max_window in any_duration(),
            jitter in any_fraction(),
            no_expiry in any_duration(),
            ext_min in any_duration(),
            ext_jitter in any_duration(),
            cooldown in any_duration(),
            floor in any_duration(),
            fetch in any_duration(),
            b_initial in any_duration(),
            b_max in any_duration(),
            b_mult in prop_oneof![proptest::num::f64::ANY, 1.0f64..10.0],
            b_jitter in any_fraction(),
            now in any_time(),
            expiry in proptest::option::of(any_time()),
            issued in any_time(),
            u in proptest::num::f64::ANY,
        ) {
            let p = RefreshPolicy::default()
                .window_fraction(fraction)
                .max_window(max_window)
                .refresh_jitter(jitter)
                .no_expiry_interval(no_expiry)
                .extension(ext_min, ext_jitter)
                .invalidation_cooldown(cooldown)
                .min_refresh_interval(floor)
                .fetch_timeout(fetch)
                .backoff(BackoffConfig::default().initial(b_initial).max(b_max).multiplier(b_mult).jitter(b_jitter));
            if p.validate().is_ok() {
                let r = FixedRandom::new(u);
                let at = p.refresh_at(now, expiry, &r);
                prop_assert!(at >= now || expiry.is_some_and(|e| e <= now));
                let after = p.refresh_after_success(now, expiry, &r);
                prop_assert!(after >= at);
                let _ = p.extend(now, expiry, &r);
                let _ = p.invalidation_refresh_at(now, issued);
                let mut b = crate::backoff::Backoff::new(p.backoff);
                for _ in 0..80 {
                    let _ = b.next_delay(&r);
                }
                let _ = p.backoff.capped_delay(&r);
            }
        }

        #[test]
        fn first_refresh_is_never_later_than_a_regular_one(
            now_s in 0u64..300_000_000_000,
            lifetime_s in proptest::option::of(0u64..300_000_000_000),
            fraction in 0.01f64..=0.5,
            jitter in 0.0f64..=1.0,
            max_window_s in 1u64..=86_400,
            u in proptest::num::f64::ANY,
        ) {
            let p = RefreshPolicy::default()
                .window_fraction(fraction)
                .refresh_jitter(jitter)
                .max_window(Duration::from_secs(max_window_s));
            prop_assert!(p.validate().is_ok());
            let now = t(now_s);
            let expiry = lifetime_s.map(|l| now + Duration::from_secs(l));
            let at = p.first_refresh_at(now, expiry, &FixedRandom::new(u));
            prop_assert!(at >= now);
            prop_assert!(at <= p.refresh_at(now, expiry, &FixedRandom::new(0.0)));
        }

        #[test]
        fn refresh_is_after_now_and_before_expiry(
            lifetime_ms in 1u64..(48 * 3600 * 1000),
            fraction in 0.01f64..=0.5,
            jitter in 0.0f64..=1.0,
            u in 0.0f64..1.0,
        ) {
            let p = RefreshPolicy::default().window_fraction(fraction).refresh_jitter(jitter);
            let now = t(NOW);
            let expiry = now + Duration::from_millis(lifetime_ms);
            let at = p.refresh_at(now, Some(expiry), &FixedRandom::new(u));
            prop_assert!(at >= now);
            prop_assert!(at < expiry);
            // Never before (1 - 2 × fraction) of the lifetime: no refresh loop.
            let min_wait = Duration::from_millis(lifetime_ms).mul_f64(1.0 - 2.0 * fraction);
            prop_assert!(at + Duration::from_millis(1) >= now + min_wait);
        }

        #[test]
        fn extension_only_for_expired(
            offset_s in -10_000i64..10_000,
            u in 0.0f64..1.0,
        ) {
            let p = RefreshPolicy::default();
            let now = t(NOW);
            let expiry = if offset_s >= 0 { now + Duration::from_secs(offset_s as u64) } else { now - Duration::from_secs((-offset_s) as u64) };
            match p.extend(now, Some(expiry), &FixedRandom::new(u)) {
                Some(new) => {
                    prop_assert!(expiry <= now);
                    prop_assert!(new >= now + DEFAULT_EXTENSION_MIN);
                    prop_assert!(new <= now + DEFAULT_EXTENSION_MIN + DEFAULT_EXTENSION_JITTER);
                }
                None => prop_assert!(expiry > now),
            }
        }
    }
}
