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
//! # Retries
//! A failed refresh is retried on the [`RetrySchedule`] of the policy
//! ([`RefreshPolicy::retry_schedule`], computed by
//! [`RefreshPolicy::retry_at`]); errors retrying cannot fix (a denial, a
//! bad configuration) wait the [backoff](crate::backoff)'s cap instead.
//!
//! - [`RetrySchedule::AheadOfExpiry`] (the default): one quick retry after
//!   the backoff's first delay (a dropped connection); then, while the
//!   credentials in hand are valid, one retry late in their remaining
//!   validity (75 – 95 % of it: 11 – 21 minutes after a failed refresh of
//!   1 h credentials, 45 – 85 minutes for 6 h and 12 h ones): an outage
//!   shorter than that costs no expiry, and the fleet does not retry in
//!   between; after that, or when there are no valid credentials, the
//!   backoff (1 s ×10 → 600 s). A blip at a refresh thus shows as failing
//!   (`consecutive_failures > 0`) until that retry, while the credentials
//!   stay valid (so the `CredrefreshRefreshFailing` alert of
//!   `dashboards/alerts.yml` counts from the third failure in a row).
//! - [`RetrySchedule::Paced`] (the fleet preset, [`RefreshPolicy::fleet`]):
//!   the quick retry, then one retry per
//!   [pace](RefreshPolicy::retry_pace) (0.7 – 1.05 of the role's mean
//!   refresh interval), valid credentials or not: the STS calls of a fleet
//!   in an outage of any length stay below its steady refresh rate, and its
//!   recovery peak below twice that rate. The price: a role whose refresh
//!   fails past the quick retry waits a pace (29 – 43 minutes for 1 h
//!   sessions), so a blip of a few minutes lets its credentials expire (and
//!   be extended) for up to half an hour. A role that had no valid
//!   credentials when its failures began (a start, a resume) retries on
//!   the backoff.
//! - [`RetrySchedule::Backoff`]: every retry on the backoff alone, the
//!   schedule the crate used before the retry schedules.
//!
//! Fleet figures (`benches/results/fleet.md`: 100,000 processes, a
//! 30-minute STS outage, recovery peak against the steady refresh rate):
//! the backoff alone 6.3×, the default 4.5× (under a 600/s quota), the
//! fleet preset 1.8×; the default also has the fewest failing role-hours.
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

/// Default [pace](RefreshPolicy::retry_pace) of [`RetrySchedule::Paced`]:
/// 0.7 of the mean refresh interval (the spacing is 0.7 – 1.05 of it).
pub const DEFAULT_RETRY_PACE: f64 = 0.7;
/// The pace range [`RefreshPolicy::validate`] accepts: `[0.5, 4]`.
pub const RETRY_PACE_RANGE: std::ops::RangeInclusive<f64> = 0.5..=4.0;
/// Where [`RetrySchedule::AheadOfExpiry`] puts its retry within the
/// remaining validity: 75 – 95 % of it (so at least 5 % before expiry).
pub const AHEAD_OF_EXPIRY_RETRY: (f64, f64) = (0.75, 0.95);

/// How a failing refresh is retried (see [Retries](crate::policy#retries)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RetrySchedule {
    /// The quick retry, one retry at 75 – 95 % of the remaining validity
    /// of the credentials in hand, then the backoff. The default.
    #[default]
    AheadOfExpiry,
    /// The quick retry, then one retry per [pace](RefreshPolicy::retry_pace)
    /// of the role's refresh interval: the fleet-safe schedule.
    Paced,
    /// Every retry after the backoff's next delay.
    Backoff,
}

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
    pub(crate) retry_schedule: RetrySchedule,
    pub(crate) retry_pace: f64,
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
            retry_schedule: RetrySchedule::AheadOfExpiry,
            retry_pace: DEFAULT_RETRY_PACE,
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

    /// How failed refreshes are retried. Defaults to
    /// [`RetrySchedule::AheadOfExpiry`]; see [Retries](crate::policy#retries).
    pub fn retry_schedule(mut self, schedule: RetrySchedule) -> Self {
        self.retry_schedule = schedule;
        self
    }

    /// The spacing of [`RetrySchedule::Paced`] retries, as a fraction of the
    /// role's mean refresh interval, in [`RETRY_PACE_RANGE`]; each spacing
    /// is 1 to 1.5 times `pace` × that interval (random). At 0.5 or more, a
    /// fleet whose every role is failing retries at most 1.6 times as often
    /// as it refreshes when healthy. Defaults to [`DEFAULT_RETRY_PACE`].
    pub fn retry_pace(mut self, pace: f64) -> Self {
        self.retry_pace = pace;
        self
    }

    /// The fleet preset: the default policy with [`RetrySchedule::Paced`]
    /// retries, for fleets large enough that their retries in an STS outage
    /// could exceed the account's quota. Its recovery after a 30-minute
    /// outage peaks at 1.8 times the steady STS rate (the default: 4.5
    /// times), at the cost of letting credentials expire after a blip of a
    /// few minutes (see [Retries](crate::policy#retries)).
    pub fn fleet() -> Self {
        Self::default().retry_schedule(RetrySchedule::Paced)
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
    /// - the [retry pace](Self::retry_pace) is outside [`RETRY_PACE_RANGE`];
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
        if !RETRY_PACE_RANGE.contains(&self.retry_pace) {
            return bad("retry pace must be within [0.5, 4]");
        }
        self.backoff.validate()
    }

    /// When to retry after a failed refresh at `now`, on the
    /// [retry schedule](Self::retry_schedule) (see
    /// [Retries](crate::policy#retries)), for an error retrying can help.
    ///
    /// - `failures`: the consecutive failures so far, this one included
    ///   (1 for the first failure of a run);
    /// - `valid_until`: the expiry of the credentials in hand, when they are
    ///   the source's own (not extended) and not expired at `now`;
    /// - `lifetime`: the lifetime (issue to expiry) of the credentials that
    ///   were valid when this run of failures began; `None` when there were
    ///   none (a start, expired credentials, credentials without expiry).
    ///
    /// Never sooner than the backoff's shortest delay after `now`; never
    /// later than the backoff's cap after it, except for
    /// [`RetrySchedule::Paced`] retries of a run that began with valid
    /// credentials (at most 1.5 × pace × the mean refresh interval) and the
    /// retry ahead of expiry (before `valid_until`).
    pub fn retry_at(
        &self,
        now: SystemTime,
        failures: u32,
        valid_until: Option<SystemTime>,
        lifetime: Option<Duration>,
        random: &dyn Random,
    ) -> SystemTime {
        let floor = self.backoff.min_delay();
        let on_backoff = || later(now, self.backoff.delay(failures, random));
        if failures <= 1 || self.retry_schedule == RetrySchedule::Backoff {
            return on_backoff();
        }
        match (self.retry_schedule, lifetime) {
            (RetrySchedule::Paced, Some(lifetime)) => {
                // No credential lives a day: the bound keeps the sum finite.
                let lifetime = lifetime.min(MAX_POLICY_INTERVAL);
                let pace = self.mean_refresh_interval(lifetime).mul_f64(self.retry_pace);
                later(now, (pace + pace.mul_f64(0.5 * clamp_unit(random.unit()))).max(floor))
            }
            (RetrySchedule::AheadOfExpiry, _) if failures == 2 => {
                let Some(remaining) = valid_until.and_then(|e| e.duration_since(now).ok()) else {
                    return on_backoff();
                };
                // An early refresh (an invalidation) retries no later than a
                // regular one would: within the longest regular lead.
                let remaining = match lifetime {
                    Some(l) => remaining.min(self.longest_lead(l)),
                    None => remaining,
                };
                let (lo, hi) = AHEAD_OF_EXPIRY_RETRY;
                let delay = remaining.mul_f64(lo + (hi - lo) * clamp_unit(random.unit()));
                later(now, delay.max(floor))
            }
            _ => on_backoff(),
        }
    }

    /// The mean time from a fetch of credentials living `lifetime` to their
    /// regular refresh: `lifetime − window × (1 + jitter / 2)`.
    fn mean_refresh_interval(&self, lifetime: Duration) -> Duration {
        let window = lifetime.mul_f64(self.window_fraction).min(self.max_window);
        lifetime.saturating_sub(window + window.mul_f64(self.refresh_jitter / 2.0))
    }

    /// The longest lead of a regular refresh of credentials living
    /// `lifetime`: `window × (1 + jitter)`.
    fn longest_lead(&self, lifetime: Duration) -> Duration {
        let window = lifetime.mul_f64(self.window_fraction).min(self.max_window);
        window + window.mul_f64(self.refresh_jitter)
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

    fn secs_after(at: SystemTime, now: SystemTime) -> f64 {
        at.duration_since(now).map_or(-1.0, |d| d.as_secs_f64())
    }

    #[test]
    fn the_default_retries_quickly_then_ahead_of_expiry_then_on_the_backoff() {
        let p = RefreshPolicy::default();
        let (now, zero, one) = (t(NOW), FixedRandom::new(0.0), FixedRandom::new(0.999_999));
        let hour = Some(Duration::from_secs(3600));
        let valid = Some(t(NOW + 1000));
        // A dropped connection: 1 s.
        assert_eq!(p.retry_at(now, 1, valid, hour, &zero), t(NOW + 1));
        // Then 75 – 95 % of the remaining validity.
        assert_eq!(p.retry_at(now, 2, valid, hour, &zero), t(NOW + 750));
        assert!((secs_after(p.retry_at(now, 2, valid, hour, &one), now) - 950.0).abs() < 0.01);
        // Then the backoff: 100 s, 600 s, 600 s.
        assert_eq!(p.retry_at(now, 3, valid, hour, &zero), t(NOW + 100));
        assert_eq!(p.retry_at(now, 4, None, hour, &zero), t(NOW + 600));
        assert_eq!(p.retry_at(now, 40, None, hour, &zero), t(NOW + 600));
        // Nothing valid in hand (a start, expired credentials): the backoff.
        assert_eq!(p.retry_at(now, 2, None, None, &zero), t(NOW + 10));
        // An early refresh (an invalidation, 3000 s left): no later than a
        // regular refresh's retry would be (1350 s lead at most).
        assert_eq!(
            p.retry_at(now, 2, Some(t(NOW + 3000)), hour, &zero),
            t(NOW) + Duration::from_millis(1_012_500)
        );
        // A sliver of validity left: never sooner than the backoff's shortest delay.
        let floor = p.backoff.min_delay();
        assert_eq!(
            p.retry_at(now, 2, Some(now + Duration::from_millis(10)), hour, &zero),
            now + floor
        );
    }

    #[test]
    fn the_fleet_preset_paces_retries_at_the_refresh_interval() {
        let p = RefreshPolicy::fleet();
        assert!(p.validate().is_ok());
        assert_eq!(p.retry_schedule, RetrySchedule::Paced);
        let (now, zero, one) = (t(NOW), FixedRandom::new(0.0), FixedRandom::new(0.999_999));
        let hour = Some(Duration::from_secs(3600));
        assert_eq!(p.retry_at(now, 1, Some(t(NOW + 1000)), hour, &zero), t(NOW + 1));
        // 1 h: mean refresh interval 3600 − 900 × 1.25 = 2475 s; 0.7 of it
        // is 1732.5 s, up to 1.5 times that with the jitter. Valid or not.
        for (failures, valid) in [(2, Some(t(NOW + 1000))), (3, None), (50, None)] {
            let at = p.retry_at(now, failures, valid, hour, &zero);
            assert_eq!(at, t(NOW) + Duration::from_millis(1_732_500));
            let late = secs_after(p.retry_at(now, failures, valid, hour, &one), now);
            assert!((late - 2598.75).abs() < 0.01, "{late}");
        }
        // A run that began without valid credentials: the backoff.
        assert_eq!(p.retry_at(now, 2, None, None, &zero), t(NOW + 10));
        let slower = RefreshPolicy::fleet().retry_pace(1.0);
        assert_eq!(slower.retry_at(now, 2, None, hour, &zero), t(NOW + 2475));
    }

    #[test]
    fn the_backoff_schedule_is_the_backoff_alone() {
        let p = RefreshPolicy::default().retry_schedule(RetrySchedule::Backoff);
        let zero = FixedRandom::new(0.0);
        let valid = Some(t(NOW + 1000));
        let hour = Some(Duration::from_secs(3600));
        let secs: Vec<f64> = (1..=5)
            .map(|n| secs_after(p.retry_at(t(NOW), n, valid, hour, &zero), t(NOW)))
            .collect();
        assert_eq!(secs, [1.0, 10.0, 100.0, 600.0, 600.0]);
    }

    #[test]
    fn the_retry_pace_is_bounded() {
        for pace in [0.5, 0.7, 4.0] {
            assert!(RefreshPolicy::fleet().retry_pace(pace).validate().is_ok(), "{pace}");
        }
        for pace in [0.0, 0.49, 4.01, f64::NAN, f64::INFINITY, -1.0] {
            let err = RefreshPolicy::fleet().retry_pace(pace).validate().expect_err("refused");
            assert!(
                matches!(err, BuildError::InvalidPolicy(ref m) if m.contains("retry pace")),
                "{err:?}"
            );
        }
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
        fn retry_at_never_panics_for_a_policy_that_validates(
            fraction in any_fraction(),
            max_window in any_duration(),
            jitter in any_fraction(),
            b_initial in any_duration(),
            b_max in any_duration(),
            b_mult in prop_oneof![proptest::num::f64::ANY, 1.0f64..10.0],
            pace in prop_oneof![proptest::num::f64::ANY, 0.5f64..=4.0],
            now in any_time(),
            valid_until in proptest::option::of(any_time()),
            lifetime in proptest::option::of(any_duration()),
            failures in any::<u32>(),
            u in proptest::num::f64::ANY,
        ) {
            let p = RefreshPolicy::default()
                .window_fraction(fraction)
                .max_window(max_window)
                .refresh_jitter(jitter)
                .backoff(BackoffConfig::default().initial(b_initial).max(b_max).multiplier(b_mult))
                .retry_pace(pace);
            if p.validate().is_ok() {
                for schedule in [RetrySchedule::AheadOfExpiry, RetrySchedule::Paced, RetrySchedule::Backoff] {
                    let at = p.clone().retry_schedule(schedule).retry_at(now, failures, valid_until, lifetime, &FixedRandom::new(u));
                    prop_assert!(at >= now);
                }
            }
        }

        /// Over any run of failures: every retry at least the backoff's
        /// shortest delay after the failure; without valid credentials in
        /// hand at most its cap after it (unless paced); the retry ahead of
        /// expiry before the expiry; and the fleet preset's calls within
        /// its budget (two, then one per pace of the refresh interval).
        #[test]
        fn retries_keep_their_bounds_over_any_run_of_failures(
            lifetime_s in 60u64..=43_200,
            left in 0.0f64..=1.0,
            fraction in 0.01f64..=0.5,
            jitter in 0.0f64..=1.0,
            pace in 0.5f64..=4.0,
            b_initial_ms in 1u64..=60_000,
            b_extra_ms in 0u64..=3_600_000,
            b_mult in 1.0f64..=20.0,
            b_jitter in 0.0f64..=1.0,
            draws in proptest::collection::vec(0.0f64..1.0, 1..30),
        ) {
            let backoff = BackoffConfig::default()
                .initial(Duration::from_millis(b_initial_ms))
                .max(Duration::from_millis(b_initial_ms + b_extra_ms))
                .multiplier(b_mult)
                .jitter(b_jitter);
            let base = RefreshPolicy::default().window_fraction(fraction).refresh_jitter(jitter).backoff(backoff).retry_pace(pace);
            prop_assert!(base.validate().is_ok());
            let lifetime = Duration::from_secs(lifetime_s);
            let slack = Duration::from_micros(1);
            for schedule in [RetrySchedule::AheadOfExpiry, RetrySchedule::Paced, RetrySchedule::Backoff] {
                let p = base.clone().retry_schedule(schedule);
                let start = t(NOW);
                let expiry = start + lifetime.mul_f64(left);
                let mut now = start;
                let mut calls = vec![start];
                for (i, u) in draws.iter().enumerate() {
                    let failures = i as u32 + 1;
                    let valid_until = Some(expiry).filter(|&e| e > now);
                    let at = p.retry_at(now, failures, valid_until, Some(lifetime), &FixedRandom::new(*u));
                    let gap = at.duration_since(now).unwrap_or(Duration::ZERO);
                    prop_assert!(gap + slack >= backoff.min_delay(), "{schedule:?} {failures}: {gap:?}");
                    let paced = schedule == RetrySchedule::Paced && failures > 1;
                    let ahead = schedule == RetrySchedule::AheadOfExpiry && failures == 2 && valid_until.is_some();
                    if ahead {
                        let room = expiry.duration_since(now).unwrap_or(Duration::ZERO);
                        if room.mul_f64(AHEAD_OF_EXPIRY_RETRY.0) >= backoff.min_delay() {
                            prop_assert!(at < expiry);
                        }
                    } else if !paced {
                        prop_assert!(gap <= backoff.max + slack, "{schedule:?} {failures}: {gap:?}");
                    }
                    // Without valid credentials (and none when the run
                    // began), every schedule is the backoff.
                    let cold = p.retry_at(now, failures, None, None, &FixedRandom::new(*u));
                    prop_assert_eq!(cold, later(now, backoff.delay(failures, &FixedRandom::new(*u))));
                    now = at;
                    calls.push(at);
                }
                if schedule == RetrySchedule::Paced {
                    let spacing = p.mean_refresh_interval(lifetime).mul_f64(pace);
                    for (k, &c) in calls.iter().enumerate() {
                        let elapsed = c.duration_since(start).unwrap_or(Duration::ZERO);
                        let budget = 2.0 + elapsed.as_secs_f64() / spacing.as_secs_f64().max(1e-9);
                        prop_assert!((k + 1) as f64 <= budget + 1e-6, "call {} at {elapsed:?}, budget {budget}", k + 1);
                    }
                }
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
