//! The dashboard and the alert rules on a real Prometheus scraping the real
//! demo (`examples/server.rs`, a child process on its local emulator), with
//! faults driven through the demo's emulator (a peer test, ignored unless
//! run by `scripts/test-all`).
//!
//! The demo runs its six roles on credentials that live 4 s (a refresh
//! every 3 s or so); Prometheus scrapes its `/metrics` every second and
//! evaluates `dashboards/alerts.yml` every second. Then:
//!
//! - every PromQL expression of the dashboard must succeed and return data
//!   for the demo's roles, and every alert expression must succeed and, the
//!   roles being healthy, return nothing;
//! - `promtool check metrics` accepts the demo's `/metrics`;
//! - AssumeRole is throttled by the emulator: the "Errors by class" series
//!   of `app` for `throttled` and its consecutive failures rise, the
//!   refresh-failing alert goes pending, and `/status` shows `app` still
//!   serving its access key with `last_error_class: "throttled"`;
//! - the throttling becomes an outage (connections dropped): the
//!   `retryable` series moves, the credentials expire and are extended, and
//!   the extended-credentials alert goes pending;
//! - the outage ends: `app` refreshes, its consecutive failures are 0 again;
//! - nothing stored in Prometheus has a label value outside the closed sets
//!   credrefresh uses (roles, sources, results, error classes, buckets), so
//!   no secret, session token or key id;
//! - the demo stops: the two absence alerts go pending.
//!
//! Loopback only, real time, every wait a poll of a condition with a
//! deadline. The demo binary must be built (`cargo test` builds examples
//! before tests; with `--test` only, `cargo build --all-features --examples`
//! first): a missing binary fails the test.

// Real processes are polled with real deadlines (Instant).
#![allow(clippy::disallowed_methods)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use credrefresh::ErrorClass;
use credrefresh::metrics::{ALL, CHAIN_SOURCE, DURATION_BUCKETS, NO_ERROR, RESULT_FAILURE, RESULT_SUCCESS};
use serde_json::Value;

use crate::common::demo::Demo;
use crate::common::prometheus::{
    ABSENCE_ALERTS, AGENT_ALERTS, DEADLINE, JOB, Prometheus, alert_names, dashboard_exprs, is_agent_expr, label,
    panel_exprs, poll, promtool_check_metrics, sample_value,
};

/// The demo's roles on its emulator.
const ROLES: [&str; 6] = ["app", "container", "instance", "mfa-session", "reports", "web"];
/// Sources of those roles.
const SOURCES: [&str; 3] = ["sts", "imds", "ecs"];
/// Credential lifetime of the demo's emulator, seconds.
const LIFETIME: &str = "4";

/// Alerts the demo cannot drive: its roles all load at start and run
/// with static stability (never unusable), and no refresher panics. Their
/// expressions are checked to evaluate (to nothing) here; they are driven
/// to fire by `tests/peers/dashboards.rs`, whose sources can fail to load
/// and panic.
const NOT_DRIVEN_BY_THE_DEMO: [&str; 3] = [
    "CredrefreshNoUsableCredentials",
    "CredrefreshRefresherRestarting",
    // Holds between the first failed refresh and the credentials' expiry
    // (then they are extended by 5 to 15 minutes): about a second with
    // 4 s credentials, too short to be seen reliably.
    "CredrefreshCredentialsExpiringSoon",
];

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// `/status` of role `role`.
fn role_status(demo: &Demo, role: &str) -> Value {
    let status = demo.status();
    assert!(status[role].is_object(), "no role {role} in {status}");
    status[role].clone()
}

fn access_key(status: &Value) -> String {
    status["access_key_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no access key served: {status}"))
        .to_string()
}

/// Every label of every stored credrefresh series comes from a closed set:
/// series names credrefresh declares, the scrape's job and instance, the
/// demo's roles and sources, results, error classes and bucket bounds. A
/// secret, a session token or an access key id cannot be among them.
fn assert_closed_label_sets(stored: &[BTreeMap<String, String>], instance: &str) {
    let mut names: BTreeSet<String> = BTreeSet::new();
    for s in ALL {
        names.insert(s.name.to_string());
        for suffix in ["_bucket", "_sum", "_count"] {
            names.insert(format!("{}{suffix}", s.name));
        }
    }
    let classes: BTreeSet<String> = ErrorClass::ALL
        .iter()
        .map(|c| c.as_str().to_string())
        .chain([NO_ERROR.to_string()])
        .collect();
    let allowed: BTreeMap<&str, BTreeSet<String>> = BTreeMap::from([
        ("__name__", names),
        ("job", set(&[JOB])),
        ("instance", set(&[instance])),
        ("role", set(&ROLES)),
        ("source", set(&SOURCES)),
        ("result", set(&[RESULT_SUCCESS, RESULT_FAILURE])),
        ("error_class", classes),
    ]);
    for series in stored {
        for (name, value) in series {
            if name == "le" {
                // Bucket bounds, however Prometheus spells the number.
                let bound: f64 = value
                    .parse()
                    .unwrap_or_else(|e| panic!("le={value:?}: {e}: {series:?}"));
                assert!(
                    bound == f64::INFINITY || DURATION_BUCKETS.contains(&bound),
                    "le={value:?} is not a bucket bound: {series:?}"
                );
                continue;
            }
            let values = allowed
                .get(name.as_str())
                .unwrap_or_else(|| panic!("unexpected label {name}={value:?} in {series:?}"));
            assert!(
                values.contains(value),
                "label {name}={value:?} outside {values:?}: {series:?}"
            );
        }
    }
}

#[test]
#[ignore = "needs the real peers: scripts/test-all"]
fn prometheus_scrapes_the_demo_runs_every_query_and_sees_emulator_faults() {
    let started = Instant::now();
    let demo = Demo::start(&[("CREDREFRESH_DEMO_LIFETIME", LIFETIME)]);
    let prom = Prometheus::start(demo.port());
    let instance = format!("127.0.0.1:{}", demo.port());
    let roles = set(&ROLES);

    // Scraped, the six roles there, rules loaded and healthy.
    poll("a successful scrape of the six roles", DEADLINE, || {
        let up = prom.query(&format!("up{{job=\"{JOB}\"}} == 1"));
        let info: BTreeSet<String> = prom
            .query("credrefresh_role_info == 1")
            .iter()
            .filter_map(|s| label(s, "role").map(str::to_string))
            .collect();
        (up.len() == 1 && info == roles).then_some(())
    });
    let rules = prom.wait_rules_healthy();
    // The role variable's query lists the six roles.
    assert_eq!(prom.label_values("role", "credrefresh_refresh_attempts_total"), roles);

    // Every dashboard expression returns data (rate() needs two samples),
    // and data for every one of the demo's roles where it is per role.
    prom.wait_dashboard_data(false);
    let exprs = dashboard_exprs();
    // The host agent's panels read the agent's series: not the demo's.
    for (title, expr) in exprs.iter().filter(|(_, e)| !is_agent_expr(e)) {
        let expr = crate::common::prometheus::as_grafana_sends(expr);
        let result = prom.query(&expr);
        assert!(!result.is_empty(), "{title}: {expr} is empty");
        let per_role: BTreeSet<String> = result
            .iter()
            .filter_map(|s| label(s, "role").map(str::to_string))
            .collect();
        assert!(
            per_role.is_empty() || per_role == roles,
            "{title}: {expr}: roles {per_role:?}"
        );
    }
    // Refreshes every 3 s or so: a positive success rate for every role.
    let rate = &panel_exprs("Refresh rate by result")[0];
    for role in ROLES {
        poll(&format!("a positive success rate of {role}"), DEADLINE, || {
            (prom.role_value(rate, role, &[("result", RESULT_SUCCESS)])? > 0.0).then_some(())
        });
    }

    // Healthy. Every alert expression evaluates, and every one is expected
    // empty while the roles are healthy: no role is failing
    // (RefreshFailing, ExpiringSoon), extended (ServingExtendedCredentials),
    // unusable (NoUsableCredentials) or restarting (RefresherRestarting),
    // and the metrics are all there (RoleMetricsAbsent, MetricsAbsent;
    // excused only after a missed scrape).
    let failures = panel_exprs("Consecutive failures").remove(0);
    poll("no role failing", DEADLINE, || {
        let values: Vec<f64> = prom.query(&failures).iter().map(sample_value).collect();
        (values.len() == ROLES.len() && values.iter().all(|v| *v == 0.0)).then_some(())
    });
    assert_eq!(rules.keys().cloned().collect::<BTreeSet<_>>(), alert_names());
    prom.assert_quiet(&rules);

    // The demo's exposition passes promtool's checks and lints.
    promtool_check_metrics(&demo.metrics());

    let mut seen = BTreeSet::new();
    let mut keys = BTreeSet::new();
    let errors = panel_exprs("Errors by class").remove(0);
    let extended = panel_exprs("Extended credentials").remove(0);

    // Throttling of AssumeRole (roles app and reports): the throttled error
    // rate and app's failure count rise; the refresh-failing alert goes
    // pending; app keeps serving its credentials.
    keys.insert(access_key(&role_status(&demo, "app")));
    demo.outage("AssumeRole", Some("throttle"));
    poll("a throttled error rate of app", DEADLINE, || {
        (prom.role_value(&errors, "app", &[("error_class", "throttled")])? > 0.0).then_some(())
    });
    let first = poll("consecutive failures of app", DEADLINE, || {
        prom.role_value(&failures, "app", &[]).filter(|v| *v >= 1.0)
    });
    poll("consecutive failures of app rising", DEADLINE, || {
        prom.role_value(&failures, "app", &[]).filter(|v| *v > first)
    });
    prom.wait_alert(&rules, &mut seen, "CredrefreshRefreshFailing", "app");
    let throttled = role_status(&demo, "app");
    assert_eq!(throttled["last_error_class"], "throttled", "{throttled}");
    assert!(throttled["consecutive_failures"].as_u64() >= Some(2), "{throttled}");
    let served = access_key(&throttled);
    assert!(served.starts_with("ASIA"), "{throttled}");
    keys.insert(served.clone());

    // An outage (every connection dropped): the retryable error rate moves;
    // the credentials have expired and are extended; the same key is served.
    demo.outage("AssumeRole", Some("drop"));
    poll("a retryable error rate of app", DEADLINE, || {
        (prom.role_value(&errors, "app", &[("error_class", "retryable")])? > 0.0).then_some(())
    });
    poll("the extended panel at 1 for app", DEADLINE, || {
        (prom.role_value(&extended, "app", &[])? == 1.0).then_some(())
    });
    prom.wait_alert(&rules, &mut seen, "CredrefreshServingExtendedCredentials", "app");
    let outage = role_status(&demo, "app");
    assert_eq!(outage["last_error_class"], "retryable", "{outage}");
    assert_eq!(outage["state"], "extended", "{outage}");
    assert_eq!(access_key(&outage), served, "the key served changed during the outage");
    assert_eq!(outage["last_success_unix"], throttled["last_success_unix"], "{outage}");

    // The outage ends: app refreshes at its next retry (its backoff grew
    // through the outage: typically 8 to 32 s away, the wait allows for
    // it), its failures are back to 0, it is no longer extended.
    demo.outage("AssumeRole", None);
    let retry_in = role_status(&demo, "app")["next_refresh_unix"]
        .as_u64()
        .map(|at| UNIX_EPOCH + Duration::from_secs(at))
        .and_then(|at| at.duration_since(SystemTime::now()).ok())
        .unwrap_or_default();
    poll("consecutive failures of app back to 0", retry_in + DEADLINE, || {
        (prom.role_value(&failures, "app", &[])? == 0.0).then_some(())
    });
    poll("the extended panel at 0 for app", DEADLINE, || {
        (prom.role_value(&extended, "app", &[])? == 0.0).then_some(())
    });
    let recovered = role_status(&demo, "app");
    assert_eq!(recovered["state"], "fresh", "{recovered}");
    assert_eq!(recovered["consecutive_failures"], 0, "{recovered}");
    let fresh_key = access_key(&recovered);
    assert_ne!(fresh_key, served, "no new credentials after the outage");
    keys.insert(fresh_key);
    for status in demo.status().as_object().unwrap().values() {
        if let Some(key) = status["access_key_id"].as_str() {
            keys.insert(key.to_string());
        }
    }

    // Nothing the emulator issued reached Prometheus: every label value of
    // every stored series is from a closed set, and no key id served (nor
    // the demo's own long-term secret and tokens) appears anywhere.
    let stored = prom.series("{__name__=~\"credrefresh_.*\"}");
    let names: BTreeSet<&str> = stored
        .iter()
        .filter_map(|s| s.get("__name__").map(String::as_str))
        .collect();
    // The demo has no chain role: no credrefresh_chain_source.
    for s in ALL
        .iter()
        .filter(|s| !matches!(s.kind, credrefresh::metrics::Kind::Histogram))
        .filter(|s| s.name != CHAIN_SOURCE.name)
    {
        assert!(names.contains(s.name), "{} never stored: {names:?}", s.name);
    }
    assert_closed_label_sets(&stored, &instance);
    let instant = prom.query("{__name__=~\"credrefresh_.*\"}");
    assert!(instant.len() >= ROLES.len() * ALL.len(), "{}", instant.len());
    let text = format!("{stored:?}{}", Value::Array(instant));
    for needle in keys.iter().map(String::as_str).chain([
        "emulator-demo-long-term-secret",
        "AKIAEMULATORDEMO0001",
        "demo.web.identity.token",
        credrefresh::testing::DEFAULT_ECS_AUTH_TOKEN,
    ]) {
        assert!(!text.contains(needle), "{needle} stored in Prometheus");
    }

    // The demo stops: its metrics are gone, the absence alerts go pending.
    drop(demo);
    poll("the demo down", DEADLINE, || {
        (prom.query(&format!("up{{job=\"{JOB}\"}}")).first().map(sample_value) == Some(0.0)).then_some(())
    });
    prom.wait_alert(&rules, &mut seen, "CredrefreshMetricsAbsent", "(all)");
    for role in ROLES {
        prom.wait_alert(&rules, &mut seen, "CredrefreshRoleMetricsAbsent", role);
    }

    // Every alert was driven here, but those the demo cannot drive.
    let mut not_driven = set(&NOT_DRIVEN_BY_THE_DEMO);
    not_driven.extend(AGENT_ALERTS.iter().map(|a| a.to_string()));
    assert_eq!(
        seen,
        alert_names().difference(&not_driven).cloned().collect(),
        "alerts driven"
    );
    assert!(ABSENCE_ALERTS.iter().all(|a| seen.contains(*a)));
    assert!(!prom.log().contains("level=error"), "{}", prom.log());
    eprintln!("dashboards_demo: {:?} of wall time", started.elapsed());
}

// The scan above must be able to fail: it is tried here on label sets made
// up for the purpose (no peer needed).

fn series(labels: &[(&str, &str)]) -> BTreeMap<String, String> {
    labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn a_stored_series(extra: &[(&str, &str)]) -> Vec<BTreeMap<String, String>> {
    let mut labels = vec![
        ("__name__", "credrefresh_refresh_duration_seconds_bucket"),
        ("job", JOB),
        ("instance", "127.0.0.1:9"),
        ("role", "mfa-session"),
        ("source", "sts"),
        ("result", "failure"),
        ("le", "0.25"),
    ];
    labels.extend_from_slice(extra);
    vec![series(&labels)]
}

#[test]
fn the_label_scan_accepts_credrefresh_series() {
    assert_closed_label_sets(&a_stored_series(&[]), "127.0.0.1:9");
    assert_closed_label_sets(&a_stored_series(&[("le", "+Inf")]), "127.0.0.1:9");
    assert_closed_label_sets(
        &[series(&[
            ("__name__", "credrefresh_refresh_attempts_total"),
            ("role", "app"),
            ("error_class", "throttled"),
        ])],
        "127.0.0.1:9",
    );
}

#[test]
#[should_panic(expected = "label role=\"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\" outside")]
fn the_label_scan_rejects_a_secret_as_a_role() {
    assert_closed_label_sets(
        &a_stored_series(&[("role", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")]),
        "127.0.0.1:9",
    );
}

#[test]
#[should_panic(expected = "unexpected label access_key_id")]
fn the_label_scan_rejects_an_unknown_label() {
    assert_closed_label_sets(&a_stored_series(&[("access_key_id", "ASIAEXAMPLE")]), "127.0.0.1:9");
}

#[test]
#[should_panic(expected = "is not a bucket bound")]
fn the_label_scan_rejects_an_unknown_bucket() {
    assert_closed_label_sets(&a_stored_series(&[("le", "0.3")]), "127.0.0.1:9");
}
