//! The table of every series: name, type, help text and label names, and
//! the fixed label values. Both outputs of [`metrics`](super) read it.

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
    /// [`PrometheusCollector`](super::PrometheusCollector) (feature `prometheus`) has it. The facade has
    /// no scrape hook: with a facade recorder, compute it in PromQL from the
    /// matching timestamp series (`… - time()`).
    pub scrape_time: bool,
}

const RS: &[&str] = &["role", "source"];

/// Refresh attempts by outcome: `result` is [`RESULT_SUCCESS`] or
/// [`RESULT_FAILURE`], `error_class` an [`ErrorClass`](crate::ErrorClass) name or [`NO_ERROR`].
pub const REFRESH_ATTEMPTS: Series = Series {
    name: "credrefresh_refresh_attempts_total",
    kind: Kind::Counter,
    help: "Credential refresh attempts, by result and error class.",
    labels: &["role", "source", "result", "error_class"],
    scrape_time: false,
};
/// Time a fetch took, by `result`, in the buckets of [`DURATION_BUCKETS`](super::DURATION_BUCKETS).
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

/// 1 for the source a credentials chain (a source that picks among
/// others, such as [`DefaultChain`](crate::sources::DefaultChain)) chose
/// for the role, labelled `chosen` (`env`, `sts`, `ecs`, `imds`, …); absent
/// for other sources and until the chain has chosen. The `source` label
/// stays `chain`, as on every other series: a change of choice never
/// starts new counter series. With the facade the previous choice is set
/// to 0; the registry shows only the current one.
pub const CHAIN_SOURCE: Series = Series {
    name: "credrefresh_chain_source",
    kind: Kind::Gauge,
    help: "1 for the source a credentials chain chose for the role (label chosen).",
    labels: &["role", "source", "chosen"],
    scrape_time: false,
};

/// The host agent's request counter (feature `agent`, recorded by the
/// agent itself, not by a refresher): named here so that dashboards and
/// alerts can be checked against it in every build.
pub const AGENT_REQUESTS_TOTAL: &str = "credrefresh_agent_requests_total";
/// The host agent's counter of connections closed without a request served
/// (feature `agent`).
pub const AGENT_CONNECTIONS_REFUSED_TOTAL: &str = "credrefresh_agent_connections_refused_total";

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
    CHAIN_SOURCE,
];

/// The `result` label of a successful attempt.
pub const RESULT_SUCCESS: &str = "success";
/// The `result` label of a failed attempt.
pub const RESULT_FAILURE: &str = "failure";
/// The `error_class` label of a successful attempt.
pub const NO_ERROR: &str = "none";

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
}
