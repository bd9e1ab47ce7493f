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
//! where they apply, and `chosen` on [`CHAIN_SOURCE`]. `source` is the
//! configured source's name and never changes (a chain's is `chain`,
//! whichever source it chose). Their values come from the configuration (role names)
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

mod series;
pub(crate) mod stats;

#[cfg(feature = "prometheus")]
mod prom;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use metrics::SharedString;

use crate::clock::unix_seconds;
use crate::error::ErrorClass;
use crate::handle::{CredentialsState, Shared, Snapshot};

#[cfg(feature = "prometheus")]
#[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
pub use self::prom::{PrometheusCollector, TEXT_CONTENT_TYPE, render};
pub use self::series::{
    AGENT_CONNECTIONS_REFUSED_TOTAL, AGENT_REQUESTS_TOTAL, ALL, CHAIN_SOURCE, CONSECUTIVE_FAILURES,
    CREDENTIALS_EXPIRES_IN, CREDENTIALS_EXPIRY, CREDENTIALS_EXTENDED, CREDENTIALS_UNUSABLE, EXTENSIONS, INVALIDATIONS,
    Kind, LAST_SUCCESS, NEXT_REFRESH, NO_ERROR, REFRESH_ATTEMPTS, REFRESH_DURATION, RESULT_FAILURE, RESULT_SUCCESS,
    ROLE_INFO, SUPERVISOR_RESTARTS, Series,
};
pub use self::stats::DURATION_BUCKETS;

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

/// Records one role's events: into its [`RoleStats`](stats::RoleStats) (read by the
/// Prometheus collector) and through the facade.
#[derive(Clone)]
pub(crate) struct RoleMetrics {
    shared: Arc<Shared>,
    /// The role's name, shared with its snapshots (labels clone the `Arc`).
    role: Arc<str>,
    source: &'static str,
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
        let role = snapshot.role.clone();
        let source = snapshot.source;
        drop(snapshot);
        Self { shared, role, source }
    }

    fn labels(&self) -> [(&'static str, SharedString); 2] {
        [
            ("role", SharedString::from(self.role.clone())),
            ("source", SharedString::const_str(self.source)),
        ]
    }

    fn outcome(&self, result: &'static str, class: &'static str) -> [(&'static str, SharedString); 4] {
        let [role, source] = self.labels();
        [
            role,
            source,
            ("result", SharedString::const_str(result)),
            ("error_class", SharedString::const_str(class)),
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
        let snapshot = self.shared.snapshot.load();
        if let Some(chosen) = snapshot.rare().resolved_source {
            metrics::gauge!(CHAIN_SOURCE.name, &self.chosen(chosen)).set(1.0);
        }
        self.snapshot(&snapshot);
    }

    fn chosen(&self, chosen: &'static str) -> [(&'static str, SharedString); 3] {
        let [role, source] = self.labels();
        [role, source, ("chosen", SharedString::const_str(chosen))]
    }

    /// A chain chose `chosen`, after `previous` (if any).
    pub(crate) fn chain_choice(&self, previous: Option<&'static str>, chosen: &'static str) {
        if let Some(previous) = previous {
            metrics::gauge!(CHAIN_SOURCE.name, &self.chosen(previous)).set(0.0);
        }
        metrics::gauge!(CHAIN_SOURCE.name, &self.chosen(chosen)).set(1.0);
    }

    pub(crate) fn attempt(&self, error: Option<ErrorClass>, took: Duration) {
        self.shared.stats.record_attempt(error, took.as_secs_f64());
        let (result, class) = match error {
            None => (RESULT_SUCCESS, NO_ERROR),
            Some(c) => (RESULT_FAILURE, c.as_str()),
        };
        let outcome = self.outcome(result, class);
        metrics::counter!(REFRESH_ATTEMPTS.name, &outcome).increment(1);
        metrics::histogram!(REFRESH_DURATION.name, &outcome[..3]).record(took.as_secs_f64());
    }

    /// Gauges that follow the published snapshot.
    pub(crate) fn snapshot(&self, s: &Snapshot) {
        self.set_gauges(None, s);
    }

    /// The gauges of [`snapshot`](Self::snapshot) whose values differ
    /// between `before` and `s`, the snapshot that replaced it: the others
    /// already hold their value (every gauge is set when the refresher
    /// starts, in [`register`](Self::register), and on every change since).
    /// A success in the steady state changes three of the six, and each
    /// update builds a key (an allocation and a hash) even with no recorder.
    pub(crate) fn snapshot_since(&self, before: &Snapshot, s: &Snapshot) {
        self.set_gauges(Some(before), s);
    }

    /// Sets each gauge of `s` whose value differs from `before`'s (all of
    /// them without `before`).
    fn set_gauges(&self, before: Option<&Snapshot>, s: &Snapshot) {
        fn differs<T: PartialEq>(before: Option<&Snapshot>, s: &Snapshot, value: impl Fn(&Snapshot) -> T) -> bool {
            before.is_none_or(|b| value(b) != value(s))
        }
        let labels = self.labels();
        let expiry = |s: &Snapshot| s.credentials().and_then(|c| c.expiry());
        if let Some(exp) = expiry(s).filter(|_| differs(before, s, expiry)) {
            metrics::gauge!(CREDENTIALS_EXPIRY.name, &labels).set(unix_seconds(exp));
        }
        let extended = |s: &Snapshot| s.state() == CredentialsState::Extended;
        if differs(before, s, extended) {
            metrics::gauge!(CREDENTIALS_EXTENDED.name, &labels).set(f64::from(u8::from(extended(s))));
        }
        let unusable = |s: &Snapshot| !s.state().is_usable();
        if differs(before, s, unusable) {
            metrics::gauge!(CREDENTIALS_UNUSABLE.name, &labels).set(f64::from(u8::from(unusable(s))));
        }
        if differs(before, s, Snapshot::consecutive_failures) {
            metrics::gauge!(CONSECUTIVE_FAILURES.name, &labels).set(f64::from(s.consecutive_failures()));
        }
        if let Some(t) = s.last_success().filter(|_| differs(before, s, Snapshot::last_success)) {
            metrics::gauge!(LAST_SUCCESS.name, &labels).set(unix_seconds(t));
        }
        if let Some(t) = s.next_refresh().filter(|_| differs(before, s, Snapshot::next_refresh)) {
            metrics::gauge!(NEXT_REFRESH.name, &labels).set(unix_seconds(t));
        }
    }

    /// The one gauge that changes when a refresh is only planned anew
    /// (an invalidation): [`snapshot`](Self::snapshot) would set five
    /// others to the values they already have, building a key (an
    /// allocation) for each.
    pub(crate) fn next_refresh(&self, at: SystemTime) {
        metrics::gauge!(NEXT_REFRESH.name, &self.labels()).set(unix_seconds(at));
    }

    pub(crate) fn extension(&self) {
        self.shared.stats.record_extension();
        metrics::counter!(EXTENSIONS.name, &self.labels()).increment(1);
    }

    pub(crate) fn restart(&self) {
        self.shared.stats.record_restart();
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
    use std::sync::Mutex;

    /// A facade recorder that keeps every gauge update, in order.
    #[derive(Default)]
    struct Gauges(Arc<Mutex<Vec<(String, f64)>>>);

    struct Update(String, Arc<Mutex<Vec<(String, f64)>>>);

    impl metrics::GaugeFn for Update {
        fn increment(&self, _: f64) {}
        fn decrement(&self, _: f64) {}
        fn set(&self, value: f64) {
            self.1.lock().unwrap().push((self.0.clone(), value));
        }
    }

    impl metrics::Recorder for Gauges {
        fn describe_counter(&self, _: metrics::KeyName, _: Option<metrics::Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: metrics::KeyName, _: Option<metrics::Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: metrics::KeyName, _: Option<metrics::Unit>, _: SharedString) {}
        fn register_counter(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
            metrics::Counter::noop()
        }
        fn register_gauge(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
            metrics::Gauge::from_arc(Arc::new(Update(key.name().to_string(), self.0.clone())))
        }
        fn register_histogram(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Histogram {
            metrics::Histogram::noop()
        }
    }

    /// `snapshot_since` sets exactly the gauges whose values changed, to
    /// the values `snapshot` gives them: what a recorder holds after it is
    /// what it would hold after `snapshot`.
    #[test]
    fn only_the_gauges_that_changed_are_set() {
        let shared = Shared::new("app".into(), "static");
        let m = RoleMetrics::new(shared.clone());
        let t = |secs| SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
        let creds = |expiry| {
            crate::Credentials::new("AKID", "secret", t(0))
                .unwrap()
                .with_expiry(expiry)
        };
        let mut before = Snapshot::empty("app".into(), "static");
        before.credentials = Some(creds(t(3_600)));
        before.state = CredentialsState::Fresh;
        before.last_success = Some(t(10));
        before.next_refresh = Some(t(3_000));
        let set = |before: &Snapshot, after: &Snapshot| {
            let recorder = Gauges::default();
            metrics::with_local_recorder(&recorder, || m.snapshot_since(before, after));
            let mut names: Vec<(String, f64)> = recorder.0.lock().unwrap().clone();
            names.sort_by(|a, b| a.0.cmp(&b.0));
            names
        };
        let all = |after: &Snapshot| {
            let recorder = Gauges::default();
            metrics::with_local_recorder(&recorder, || m.snapshot(after));
            recorder.0.lock().unwrap().clone()
        };
        // A success: new expiry, last success and next refresh.
        let mut success = before.clone();
        success.credentials = Some(creds(t(7_200)));
        success.last_success = Some(t(3_000));
        success.next_refresh = Some(t(6_600));
        let changed = set(&before, &success);
        assert_eq!(
            changed,
            vec![
                (CREDENTIALS_EXPIRY.name.to_string(), 7_200.0),
                (LAST_SUCCESS.name.to_string(), 3_000.0),
                (NEXT_REFRESH.name.to_string(), 6_600.0),
            ]
        );
        for update in &changed {
            assert!(all(&success).contains(update), "{update:?}");
        }
        // A failure, then an extension: the state gauges follow.
        let mut failed = success.clone();
        failed.consecutive_failures = 1;
        failed.next_refresh = Some(t(3_010));
        assert_eq!(
            set(&success, &failed),
            vec![
                (CONSECUTIVE_FAILURES.name.to_string(), 1.0),
                (NEXT_REFRESH.name.to_string(), 3_010.0),
            ]
        );
        let mut extended = failed.clone();
        extended.state = CredentialsState::Extended;
        extended.credentials = Some(creds(t(7_500)));
        assert_eq!(
            set(&failed, &extended),
            vec![
                (CREDENTIALS_EXPIRY.name.to_string(), 7_500.0),
                (CREDENTIALS_EXTENDED.name.to_string(), 1.0),
            ]
        );
        let mut expired = extended.clone();
        expired.state = CredentialsState::Expired;
        assert_eq!(
            set(&extended, &expired),
            vec![
                (CREDENTIALS_EXTENDED.name.to_string(), 0.0),
                (CREDENTIALS_UNUSABLE.name.to_string(), 1.0),
            ]
        );
        // Nothing changed: nothing set.
        assert_eq!(set(&expired, &expired.clone()), vec![]);
    }

    #[test]
    fn role_metrics_count_into_the_shared_stats() {
        let shared = Shared::new("app".into(), "static");
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
