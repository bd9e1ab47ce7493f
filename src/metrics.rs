//! Every metric credrefresh emits, declared once.
//!
//! Events are recorded through the [`metrics`] facade, so any installed
//! recorder receives them. Labels are always `role` and `source`, plus
//! `result` and `error_class` where they apply; their values come from the
//! configuration (role names) or from fixed sets (source names,
//! [`ErrorClass::as_str`]), never from credentials or network input.

use std::time::{Duration, SystemTime};

use crate::clock::unix_seconds;
use crate::error::ErrorClass;
use crate::handle::{CredentialsState, Snapshot};

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
}

const RS: &[&str] = &["role", "source"];

/// Refresh attempts by outcome: `result` is `success` or `failure`,
/// `error_class` is an [`ErrorClass`] name or `none`.
pub const REFRESH_ATTEMPTS: Series = Series {
    name: "credrefresh_refresh_attempts_total",
    kind: Kind::Counter,
    help: "Credential refresh attempts, by result and error class.",
    labels: &["role", "source", "result", "error_class"],
};
/// Time a fetch took, by `result`.
pub const REFRESH_DURATION: Series = Series {
    name: "credrefresh_refresh_duration_seconds",
    kind: Kind::Histogram,
    help: "Duration of credential fetches from the source.",
    labels: &["role", "source", "result"],
};
/// Expiry of the credentials served now (Unix seconds); absent without expiry.
pub const CREDENTIALS_EXPIRY: Series = Series {
    name: "credrefresh_credentials_expiry_timestamp_seconds",
    kind: Kind::Gauge,
    help: "Expiry of the credentials currently served, as a Unix timestamp.",
    labels: RS,
};
/// 1 while extended (stale) credentials are served, else 0.
pub const CREDENTIALS_EXTENDED: Series = Series {
    name: "credrefresh_credentials_extended",
    kind: Kind::Gauge,
    help: "1 while credentials extended past their expiry are served (the source is failing).",
    labels: RS,
};
/// 1 when no usable credentials are served (not loaded, or expired in strict mode).
pub const CREDENTIALS_UNUSABLE: Series = Series {
    name: "credrefresh_credentials_unusable",
    kind: Kind::Gauge,
    help: "1 while the role has no usable credentials (not loaded yet, or expired in strict mode).",
    labels: RS,
};
/// Extensions of expired credentials.
pub const EXTENSIONS: Series = Series {
    name: "credrefresh_extensions_total",
    kind: Kind::Counter,
    help: "Times expired credentials were extended because the source was failing.",
    labels: RS,
};
/// Failed refreshes since the latest success.
pub const CONSECUTIVE_FAILURES: Series = Series {
    name: "credrefresh_consecutive_failures",
    kind: Kind::Gauge,
    help: "Failed refreshes in a row since the latest success.",
    labels: RS,
};
/// Latest successful refresh (Unix seconds).
pub const LAST_SUCCESS: Series = Series {
    name: "credrefresh_last_success_timestamp_seconds",
    kind: Kind::Gauge,
    help: "Time of the latest successful refresh, as a Unix timestamp.",
    labels: RS,
};
/// Next scheduled refresh or retry (Unix seconds).
pub const NEXT_REFRESH: Series = Series {
    name: "credrefresh_next_refresh_timestamp_seconds",
    kind: Kind::Gauge,
    help: "Time of the next scheduled refresh or retry, as a Unix timestamp.",
    labels: RS,
};
/// Restarts of a role's refresher by the supervisor.
pub const SUPERVISOR_RESTARTS: Series = Series {
    name: "credrefresh_supervisor_restarts_total",
    kind: Kind::Counter,
    help: "Times the supervisor restarted a role's refresher after it died.",
    labels: RS,
};
/// Invalidations requested by readers.
pub const INVALIDATIONS: Series = Series {
    name: "credrefresh_invalidations_total",
    kind: Kind::Counter,
    help: "Invalidations requested through handles after a service rejected the credentials.",
    labels: RS,
};

/// Every series, in a stable order.
pub const ALL: &[Series] = &[
    REFRESH_ATTEMPTS,
    REFRESH_DURATION,
    CREDENTIALS_EXPIRY,
    CREDENTIALS_EXTENDED,
    CREDENTIALS_UNUSABLE,
    EXTENSIONS,
    CONSECUTIVE_FAILURES,
    LAST_SUCCESS,
    NEXT_REFRESH,
    SUPERVISOR_RESTARTS,
    INVALIDATIONS,
];

/// The `result` label of a successful attempt.
pub const RESULT_SUCCESS: &str = "success";
/// The `result` label of a failed attempt.
pub const RESULT_FAILURE: &str = "failure";
/// The `error_class` label of a successful attempt.
pub const NO_ERROR: &str = "none";

/// Describes every series to the installed `metrics` recorder.
pub fn describe() {
    for s in ALL {
        match s.kind {
            Kind::Counter => metrics::describe_counter!(s.name, s.help),
            Kind::Gauge => metrics::describe_gauge!(s.name, s.help),
            Kind::Histogram => metrics::describe_histogram!(s.name, metrics::Unit::Seconds, s.help),
        }
    }
}

/// Records one role's events through the facade.
#[derive(Debug, Clone)]
pub(crate) struct RoleMetrics {
    role: String,
    source: &'static str,
}

impl RoleMetrics {
    pub(crate) fn new(role: &str, source: &'static str) -> Self {
        Self {
            role: role.to_string(),
            source,
        }
    }

    fn labels(&self) -> [(&'static str, String); 2] {
        [("role", self.role.clone()), ("source", self.source.to_string())]
    }

    pub(crate) fn attempt(&self, error: Option<ErrorClass>, took: Duration) {
        let (result, class) = match error {
            None => (RESULT_SUCCESS, NO_ERROR),
            Some(c) => (RESULT_FAILURE, c.as_str()),
        };
        let [role, source] = self.labels();
        let outcome = [
            role,
            source,
            ("result", result.to_string()),
            ("error_class", class.to_string()),
        ];
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
            metrics::gauge!(NEXT_REFRESH.name, &labels).set(timestamp(t));
        }
    }

    pub(crate) fn extension(&self) {
        metrics::counter!(EXTENSIONS.name, &self.labels()).increment(1);
    }

    pub(crate) fn restart(&self) {
        metrics::counter!(SUPERVISOR_RESTARTS.name, &self.labels()).increment(1);
    }

    pub(crate) fn invalidations(&self, n: u64) {
        metrics::counter!(INVALIDATIONS.name, &self.labels()).increment(n);
    }
}

fn timestamp(t: SystemTime) -> f64 {
    unix_seconds(t)
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
            }
        }
    }
}
