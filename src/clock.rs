//! Time and randomness, injected.
//!
//! Every decision credrefresh makes about time (when to refresh, how long to
//! back off, how far to extend credentials) goes through a [`Clock`] and a
//! [`Random`] source, so the policy can be tested exactly, and actors can be
//! run under Tokio's paused time without a single real sleep.
//!
//! This is the only module allowed to read the system clock (`clippy.toml`
//! bans `SystemTime::now` and `Instant::now` everywhere else).

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// A source of wall-clock time.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current wall-clock time.
    fn now(&self) -> SystemTime;
}

/// The system's wall clock. The default.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A wall clock that follows Tokio's clock: a fixed wall-clock anchor plus the
/// Tokio [`Instant`](tokio::time::Instant) time elapsed since it was created.
///
/// Under a runtime built with `start_paused(true)` it advances exactly as
/// far as Tokio's paused time auto-advances, so actors that sleep through
/// Tokio timers and decide through this clock agree with each other. Must be
/// created and used inside a Tokio runtime.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    anchor: SystemTime,
    start: tokio::time::Instant,
}

impl TokioClock {
    /// A clock anchored at the current system time.
    pub fn new() -> Self {
        Self::starting_at(SystemClock.now())
    }

    /// A clock that reads `anchor` now and advances with Tokio's clock.
    #[allow(clippy::disallowed_methods)]
    pub fn starting_at(anchor: SystemTime) -> Self {
        Self {
            anchor,
            start: tokio::time::Instant::now(),
        }
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for TokioClock {
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> SystemTime {
        self.anchor + (tokio::time::Instant::now() - self.start)
    }
}

/// A clock that only moves when told to. For tests of pure policy code.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<SystemTime>>,
}

impl ManualClock {
    /// A clock reading `start`.
    pub fn new(start: SystemTime) -> Self {
        Self {
            now: Arc::new(Mutex::new(start)),
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }

    /// Sets the clock to `to`.
    pub fn set(&self, to: SystemTime) {
        *self.now.lock().unwrap_or_else(|e| e.into_inner()) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A source of uniformly distributed numbers in `[0, 1)`, used for jitter.
pub trait Random: Send + Sync + fmt::Debug + 'static {
    /// A number in `[0, 1)`.
    fn unit(&self) -> f64;
}

/// Thread-local fast random numbers (`fastrand`). The default.
#[derive(Debug, Default, Clone, Copy)]
pub struct ThreadRandom;

impl Random for ThreadRandom {
    fn unit(&self) -> f64 {
        fastrand::f64()
    }
}

/// Always the same number. For tests.
#[derive(Debug, Clone, Copy)]
pub struct FixedRandom(f64);

impl FixedRandom {
    /// Always returns `value`, clamped into `[0, 1)`.
    pub fn new(value: f64) -> Self {
        Self(clamp_unit(value))
    }
}

impl Random for FixedRandom {
    fn unit(&self) -> f64 {
        self.0
    }
}

/// Clamps into `[0, 1)`; NaN becomes 0.
pub(crate) fn clamp_unit(value: f64) -> f64 {
    if value.is_nan() || value < 0.0 {
        0.0
    } else if value >= 1.0 {
        1.0 - f64::EPSILON
    } else {
        value
    }
}

/// Seconds since the Unix epoch, negative before it.
pub(crate) fn unix_seconds(t: SystemTime) -> f64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// The earliest instant credrefresh accepts from outside: the Unix epoch.
/// Credentials issued or expiring before 1970 are not real.
const EARLIEST_UNIX: i64 = 0;
/// The latest instant RFC 3339 can write: `9999-12-31T23:59:59Z`. A valid
/// timestamp with a negative offset can name a later one (year 10000 in
/// UTC), which no formatter can write back.
const LATEST_UNIX: i64 = 253_402_300_799;

/// Parses an RFC 3339 timestamp (`2026-11-22T18:00:00Z`, fractional seconds
/// and offsets accepted). Times outside `1970-01-01T00:00:00Z` ..=
/// `9999-12-31T23:59:59Z` (in UTC) are refused, so that every time taken
/// from outside can be compared, added to and written back without
/// overflow.
pub(crate) fn parse_rfc3339(s: &str) -> Result<SystemTime, String> {
    let t = time::OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("not an RFC 3339 timestamp: {e}"))?;
    let secs = t.unix_timestamp();
    if !(EARLIEST_UNIX..=LATEST_UNIX).contains(&secs) {
        return Err("timestamp out of range: before 1970-01-01T00:00:00Z or after 9999-12-31T23:59:59Z".into());
    }
    Ok(SystemTime::UNIX_EPOCH + Duration::new(secs.unsigned_abs(), t.nanosecond()))
}

/// Formats as RFC 3339 in UTC with whole seconds (`2026-11-22T18:00:00Z`),
/// the form the AWS CLI and SDKs write. Never panics: a time outside what
/// RFC 3339 can write (before year 0 or after 9999) is clamped to the
/// nearest end.
pub(crate) fn format_rfc3339(t: SystemTime) -> String {
    // Whole seconds since the epoch, rounded down, saturating.
    let secs: i64 = match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => {
            let d = e.duration();
            let whole = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            if d.subsec_nanos() > 0 {
                whole.saturating_add(1).saturating_neg()
            } else {
                whole.saturating_neg()
            }
        }
    };
    const YEAR_0: i64 = -62_167_219_200;
    let secs = secs.clamp(YEAR_0, LATEST_UNIX);
    match time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
    {
        Some(text) => text,
        // Unreachable within the clamp above; a number is still a safe answer.
        None => secs.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trip_and_fractions() {
        let t = parse_rfc3339("2026-11-22T18:00:00Z").unwrap();
        assert_eq!(unix_seconds(t), 1_795_370_400.0);
        assert_eq!(format_rfc3339(t), "2026-11-22T18:00:00Z");
        let frac = parse_rfc3339("2026-11-22T18:00:00.123456Z").unwrap();
        assert_eq!(frac.duration_since(t).unwrap(), Duration::from_micros(123_456));
        let offset = parse_rfc3339("2026-11-22T19:00:00+01:00").unwrap();
        assert_eq!(offset, t);
        assert!(parse_rfc3339("tomorrow").is_err());
        assert!(parse_rfc3339("").is_err());
    }

    #[test]
    fn year_10000_in_utc_is_refused_when_parsed_and_formatting_never_panics() {
        // Valid RFC 3339, but year 10000 once moved to UTC.
        let beyond = "9999-12-31T23:59:59-01:00";
        let err = parse_rfc3339(beyond).unwrap_err();
        assert!(err.contains("out of range"), "{err}");
        // The latest accepted instant, and the earliest.
        let last = parse_rfc3339("9999-12-31T23:59:59Z").unwrap();
        assert_eq!(format_rfc3339(last), "9999-12-31T23:59:59Z");
        assert!(parse_rfc3339("1970-01-01T00:00:00Z").is_ok());
        assert!(
            parse_rfc3339("1969-12-31T23:59:59Z")
                .unwrap_err()
                .contains("out of range")
        );
        // Any SystemTime formats, clamped into what RFC 3339 can say.
        let far = SystemTime::UNIX_EPOCH + Duration::from_secs(i64::MAX as u64 / 2);
        assert_eq!(format_rfc3339(far), "9999-12-31T23:59:59Z");
        let before = SystemTime::UNIX_EPOCH - Duration::from_secs(400 * 366 * 86_400 * 30);
        assert_eq!(format_rfc3339(before), "0000-01-01T00:00:00Z");
        assert_eq!(
            format_rfc3339(last + Duration::from_nanos(999_999_999)),
            "9999-12-31T23:59:59Z"
        );
    }

    proptest::proptest! {
        #[test]
        fn any_offset_timestamp_parses_in_range_or_errs_and_formats(
            year in 0i32..=9999,
            month in 1u8..=12,
            day in 1u8..=28,
            hour in 0u8..=23,
            minute in 0u8..=59,
            second in 0u8..=60,
            nanos in 0u32..1_000_000_000,
            offset_minutes in -1439i32..=1439,
            z in proptest::bool::ANY,
        ) {
            let offset = if z && offset_minutes == 0 { "Z".to_string() } else {
                let sign = if offset_minutes < 0 { '-' } else { '+' };
                format!("{sign}{:02}:{:02}", offset_minutes.abs() / 60, offset_minutes.abs() % 60)
            };
            let text = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{nanos:09}{offset}");
            if let Ok(t) = parse_rfc3339(&text) {
                let secs = unix_seconds(t);
                proptest::prop_assert!(secs >= 0.0 && secs < 253_402_300_800.0, "{text} -> {secs}");
                let formatted = format_rfc3339(t);
                let back = parse_rfc3339(&formatted).unwrap();
                proptest::prop_assert!(t.duration_since(back).unwrap() < Duration::from_secs(1));
            }
        }

        #[test]
        fn any_system_time_formats(secs in proptest::num::i64::ANY, nanos in 0u32..1_000_000_000) {
            let t = if secs >= 0 {
                SystemTime::UNIX_EPOCH.checked_add(Duration::new(secs as u64, nanos))
            } else {
                SystemTime::UNIX_EPOCH.checked_sub(Duration::new(secs.unsigned_abs(), nanos))
            };
            if let Some(t) = t {
                let text = format_rfc3339(t);
                let rfc3339 = &time::format_description::well_known::Rfc3339;
                proptest::prop_assert!(time::OffsetDateTime::parse(&text, rfc3339).is_ok(), "{text}");
            }
        }

        #[test]
        fn arbitrary_text_never_panics(text in ".{0,64}") {
            let _ = parse_rfc3339(&text);
        }
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let clock = ManualClock::new(start);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::from_secs(5));
        assert_eq!(clock.now(), start + Duration::from_secs(5));
    }

    #[test]
    fn clamp_unit_keeps_range() {
        assert_eq!(clamp_unit(f64::NAN), 0.0);
        assert_eq!(clamp_unit(-1.0), 0.0);
        assert!(clamp_unit(1.0) < 1.0);
        assert_eq!(clamp_unit(0.25), 0.25);
    }

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_follows_paused_time() {
        let anchor = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let clock = TokioClock::starting_at(anchor);
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert_eq!(clock.now(), anchor + Duration::from_secs(3600));
    }
}
