//! credrefresh's metrics, dashboard and alert rules against the real
//! Prometheus tools (peer tests, ignored unless run by `scripts/test-all`).
//!
//! - `promtool check rules` and `promtool test rules` on `dashboards/`, and
//!   a check that every alert has a firing and a quiet unit test;
//! - `promtool check metrics` on our exposition;
//! - a real Prometheus scraping a loopback server (our [`render`] of a real
//!   `Refresher`) every second, evaluating `dashboards/alerts.yml` every
//!   second. Every PromQL expression of the dashboard must succeed and
//!   return data. Then faults are driven through an in-process source
//!   (throttling, an outage with extension, a role that cannot load, a
//!   refresher that keeps panicking, a removed role, the target going
//!   down), and the failure panels and **every** alert must react: each
//!   alert must be seen pending or firing in `/api/v1/alerts`, and at that
//!   moment its rule expression must return data. This is how alert
//!   expressions that are empty unless firing are proven non-empty: by
//!   driving their condition, not by editing the expression. Production
//!   `for:` durations are kept; Prometheus reports an alert `pending` as
//!   soon as its expression holds, which is what the test waits for.
//!
//! Loopback only, real time (credential lifetimes of 3 s), every wait a
//! poll of a condition with a deadline.

// These tests poll real peers with real deadlines (Instant).
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use credrefresh::backoff::BackoffConfig;
use credrefresh::metrics::{TEXT_CONTENT_TYPE, render};
use credrefresh::{CredentialsState, ErrorClass, RefreshPolicy, Refresher};
use serde_json::Value;

use crate::common::exposition::parse;
use crate::common::fake::{FakeSource, Step};
use crate::common::peers;
use crate::common::prometheus::{
    AGENT_ALERTS, DEADLINE, JOB, Prometheus, alert_names, dashboard_exprs, dashboards, panel_exprs, poll,
    promtool_check_metrics, run, sample_value,
};

const LIFETIME: Duration = Duration::from_secs(3);

/// Fast retries, short extensions, no floor on the spacing of refreshes:
/// refreshes every second or two.
fn fast_policy() -> RefreshPolicy {
    RefreshPolicy::default()
        .min_refresh_interval(Duration::ZERO)
        .backoff(
            BackoffConfig::default()
                .initial(Duration::from_millis(250))
                .multiplier(1.5)
                .max(Duration::from_secs(1))
                .jitter(0.5),
        )
        .extension(Duration::from_secs(20), Duration::from_secs(10))
        .fetch_timeout(Duration::from_secs(5))
}

// ---------------------------------------------------------------- promtool

#[test]
#[ignore = "needs the real peers: scripts/test-all"]
fn alert_rules_pass_promtool_and_every_alert_has_a_firing_and_a_quiet_unit_test() {
    let promtool = peers::system_bin("promtool");
    let dir = dashboards();
    let (ok, out) = run(Command::new(&promtool)
        .args(["check", "rules"])
        .arg(dir.join("alerts.yml")));
    assert!(ok, "promtool check rules failed:\n{out}");
    let names = alert_names();
    assert!(out.contains(&format!("SUCCESS: {} rules found", names.len())), "{out}");
    let (ok, out) = run(Command::new(&promtool)
        .args(["test", "rules"])
        .arg(dir.join("alerts_test.yml")));
    assert!(ok, "promtool test rules failed:\n{out}");
    assert!(out.contains("SUCCESS"), "{out}");

    // Which alerts are tested firing, and which quiet.
    let tests = std::fs::read_to_string(dir.join("alerts_test.yml")).unwrap();
    let (mut firing, mut quiet) = (BTreeSet::new(), BTreeSet::new());
    let mut current = None;
    for line in tests.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix("alertname:") {
            current = Some(name.trim().to_string());
        } else if let Some(rest) = line.strip_prefix("exp_alerts:") {
            let name = current.take().expect("exp_alerts after an alertname");
            if rest.trim() == "[]" {
                quiet.insert(name);
            } else {
                firing.insert(name);
            }
        }
    }
    assert_eq!(firing, names, "alerts without a firing unit test");
    assert_eq!(quiet, names, "alerts without a quiet unit test");
    // Every rule has `for:`, a severity and role-aware annotations.
    let rules = std::fs::read_to_string(dir.join("alerts.yml")).unwrap();
    for block in rules.split("- alert:").skip(1) {
        let name = block.lines().next().unwrap().trim();
        for needle in [
            "for: ",
            "severity: ",
            "summary: ",
            "description: ",
            "{{ $labels.role }}",
        ] {
            assert!(block.contains(needle), "{name} has no `{needle}`");
        }
    }
}

/// A refresher with a healthy role, a failing one and a throttled,
/// extended one, run until each is in that state.
fn exposition_with_every_state() -> (String, Refresher) {
    let healthy = FakeSource::healthy(Some(Duration::from_secs(3600)));
    let failing = FakeSource::new([], Step::Fail(ErrorClass::Denied));
    let extended = FakeSource::new(
        [Step::Ok(Some(Duration::from_millis(1500)))],
        Step::Fail(ErrorClass::Throttled),
    );
    let refresher = Refresher::builder()
        .policy(fast_policy())
        .role("healthy", healthy)
        .role("failing", failing)
        .role("extended \"quoted\\role\"", extended)
        .start()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let h = refresher.handles();
        for handle in &h {
            handle
                .wait_for(Duration::from_secs(20), |s| match s.role() {
                    "healthy" => s.state() == CredentialsState::Fresh,
                    "failing" => s.consecutive_failures() > 0,
                    _ => s.state() == CredentialsState::Extended,
                })
                .await
                .unwrap();
        }
    });
    (render(&refresher.prometheus_registry().unwrap()).unwrap(), refresher)
}

#[test]
#[ignore = "needs the real peers: scripts/test-all"]
fn promtool_accepts_our_exposition() {
    let (text, _refresher) = exposition_with_every_state();
    let samples = parse(&text);
    // The odd role name is escaped, not mangled.
    assert!(
        samples
            .iter()
            .any(|s| s.labels.get("role").map(String::as_str) == Some("extended \"quoted\\role\""))
    );
    promtool_check_metrics(&text);
}

// ------------------------------------------------- loopback scrape target

/// Serves `render(registry)` on `/metrics` at 127.0.0.1:`port`. Dropping
/// it stops the server and closes every open connection.
struct MetricsServer {
    port: u16,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MetricsServer {
    fn start(registry: prometheus::Registry) -> Self {
        use http_body_util::Full;
        use hyper::body::Bytes;

        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let stream = tokio::select! {
                        _ = &mut stopped => break,
                        accepted = listener.accept() => match accepted {
                            Ok((stream, _)) => stream,
                            Err(_) => continue,
                        },
                    };
                    let registry = registry.clone();
                    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let (status, body) = if req.uri().path() != "/metrics" {
                            (404, "not found\n".to_string())
                        } else {
                            match render(&registry) {
                                Ok(body) => (200, body),
                                Err(e) => (500, format!("{e}\n")),
                            }
                        };
                        let response = hyper::Response::builder()
                            .status(status)
                            .header("content-type", TEXT_CONTENT_TYPE)
                            .body(Full::new(Bytes::from(body)));
                        std::future::ready(response)
                    });
                    tokio::spawn(async move {
                        let io = hyper_util::rt::TokioIo::new(stream);
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(io, service)
                            .await;
                    });
                }
            });
            // Dropping the runtime drops every connection task.
        });
        Self {
            port,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

// --------------------------------------------------------------- dashboard

#[test]
fn dashboard_is_importable_and_templated() {
    let text = std::fs::read_to_string(dashboards().join("credrefresh.json")).unwrap();
    let json: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["__inputs"][0]["name"], "DS_PROMETHEUS");
    assert_eq!(json["__inputs"][0]["pluginId"], "prometheus");
    let vars = json["templating"]["list"].as_array().unwrap();
    let var = |name: &str| {
        vars.iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("no ${name}"))
    };
    assert_eq!(var("datasource")["type"], "datasource");
    assert_eq!(var("datasource")["query"], "prometheus");
    let role = var("role");
    assert_eq!(
        role["definition"],
        "label_values(credrefresh_refresh_attempts_total, role)"
    );
    assert_eq!(role["multi"], true);
    assert_eq!(role["includeAll"], true);
    assert_eq!(role["allValue"], ".*");
    // Every panel queries the templated data source and filters by role.
    let exprs = dashboard_exprs();
    assert!(exprs.len() >= 12, "{exprs:?}");
    for (title, expr) in &exprs {
        assert!(expr.contains("role=~\"$role\""), "{title}: {expr}");
        assert!(expr.contains("credrefresh_"), "{title}: {expr}");
    }
    let mut ids = BTreeSet::new();
    for panel in json["panels"].as_array().unwrap() {
        assert!(ids.insert(panel["id"].as_u64().unwrap()), "duplicate panel id");
        if panel["type"] != "row" {
            assert_eq!(panel["datasource"]["uid"], "${datasource}", "{}", panel["title"]);
            assert!(
                !panel["description"].as_str().unwrap_or("").is_empty(),
                "{}",
                panel["title"]
            );
        }
    }
    // The panels the runbook promises.
    let titles: BTreeSet<&str> = exprs.iter().map(|(t, _)| t.as_str()).collect();
    for t in [
        "Time to expiry",
        "Refresh rate by result",
        "Errors by class",
        "Refresh latency percentiles",
        "Roles serving extended credentials",
        "Consecutive failures",
        "Supervisor restarts",
        "Time until next refresh",
    ] {
        assert!(titles.contains(t), "no panel {t}");
    }
    // Every series the dashboard and alerts use is one we declare.
    let mut declared: BTreeSet<&str> = credrefresh::metrics::ALL.iter().map(|s| s.name).collect();
    declared.extend([
        credrefresh::metrics::AGENT_REQUESTS_TOTAL,
        credrefresh::metrics::AGENT_CONNECTIONS_REFUSED_TOTAL,
    ]);
    let rules = std::fs::read_to_string(dashboards().join("alerts.yml")).unwrap();
    let all_text = format!("{text}\n{rules}");
    for word in all_text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        if let Some(base) = word.strip_prefix("credrefresh_") {
            let base = format!("credrefresh_{base}");
            let known = declared.contains(base.as_str())
                || ["_bucket", "_sum", "_count"]
                    .iter()
                    .any(|s| base.strip_suffix(s).is_some_and(|b| declared.contains(b)));
            assert!(known || base == "credrefresh_", "undeclared series {base}");
        }
    }
}

// ------------------------------------------------------ the end-to-end run

#[test]
#[ignore = "needs the real peers: scripts/test-all"]
fn prometheus_scrapes_us_runs_every_dashboard_query_and_every_alert_fires_on_faults() {
    let app = FakeSource::healthy(Some(LIFETIME));
    let steady = FakeSource::healthy(Some(LIFETIME));
    let refresher = Refresher::builder()
        .policy(fast_policy())
        .role("app", app.clone())
        .role("steady", steady.clone())
        .start()
        .unwrap();
    let server = MetricsServer::start(refresher.prometheus_registry().unwrap());
    let prom = Prometheus::start(server.port);

    // Scraped, both roles there, rules loaded and healthy.
    poll("a successful scrape of both roles", DEADLINE, || {
        let up = prom.query(&format!("up{{job=\"{JOB}\"}} == 1"));
        let roles = prom.query("credrefresh_role_info");
        (up.len() == 1 && roles.len() == 2).then_some(())
    });
    let rules = prom.wait_rules_healthy();

    // The role variable's query.
    let roles = prom.label_values("role", "credrefresh_refresh_attempts_total");
    assert_eq!(roles, BTreeSet::from(["app".to_string(), "steady".to_string()]));

    // Every dashboard expression returns data once two refreshes of each
    // role are in (rate() needs two samples).
    prom.wait_dashboard_data(false);
    // Refreshes happen every second or two: the success rate is positive.
    let rate = &panel_exprs("Refresh rate by result")[0];
    poll("a positive success rate", DEADLINE, || {
        (prom.role_value(rate, "steady", &[("result", "success")])? > 0.0).then_some(())
    });
    // Healthy: every alert expression evaluates to nothing, and nothing is
    // alerting (absence alerts excused only after a missed scrape).
    prom.assert_quiet(&rules);

    let mut seen = BTreeSet::new();
    let errors = panel_exprs("Errors by class").remove(0);
    let failures = panel_exprs("Consecutive failures").remove(0);

    // Throttling: the throttled error rate and the failure count rise; the
    // refresh-failing and expiring-soon alerts go pending.
    app.set_then(Step::Fail(ErrorClass::Throttled));
    poll("a throttled error rate", DEADLINE, || {
        (prom.role_value(&errors, "app", &[("error_class", "throttled")])? > 0.0).then_some(())
    });
    let first = poll("consecutive failures", DEADLINE, || {
        prom.role_value(&failures, "app", &[]).filter(|v| *v >= 1.0)
    });
    poll("consecutive failures rising", DEADLINE, || {
        prom.role_value(&failures, "app", &[]).filter(|v| *v > first)
    });
    prom.wait_alert(&rules, &mut seen, "CredrefreshRefreshFailing", "app");
    prom.wait_alert(&rules, &mut seen, "CredrefreshCredentialsExpiringSoon", "app");

    // Outage (timeouts, then connection errors): credentials expire and are
    // extended; a role that cannot load at all is added.
    app.push([Step::Fail(ErrorClass::Timeout), Step::Fail(ErrorClass::Timeout)]);
    app.set_then(Step::Fail(ErrorClass::Retryable));
    poll("timeout and retryable error rates", DEADLINE, || {
        let timeout = prom.role_value(&errors, "app", &[("error_class", "timeout")])?;
        let retryable = prom.role_value(&errors, "app", &[("error_class", "retryable")])?;
        (timeout > 0.0 && retryable > 0.0).then_some(())
    });
    let extended = panel_exprs("Extended credentials").remove(0);
    poll("the extended panel at 1", DEADLINE, || {
        (prom.role_value(&extended, "app", &[])? == 1.0).then_some(())
    });
    let extended_count = panel_exprs("Roles serving extended credentials").remove(0);
    assert_eq!(prom.query(&extended_count).first().map(sample_value), Some(1.0));
    prom.wait_alert(&rules, &mut seen, "CredrefreshServingExtendedCredentials", "app");
    refresher
        .add_role("broken", FakeSource::new([], Step::Fail(ErrorClass::Denied)))
        .unwrap();
    prom.wait_alert(&rules, &mut seen, "CredrefreshNoUsableCredentials", "broken");

    // A refresher that keeps dying: the supervisor restarts it, the
    // restarts panel moves, and the restarting alert goes pending.
    app.set_then(Step::Panic);
    let restarts = panel_exprs("Supervisor restarts").remove(0);
    poll("three restarts seen by Prometheus", DEADLINE, || {
        (prom.role_value(&restarts, "app", &[])? > 2.0).then_some(())
    });
    prom.wait_alert(&rules, &mut seen, "CredrefreshRefresherRestarting", "app");
    app.set_then(Step::Ok(Some(LIFETIME)));
    poll("app recovered", DEADLINE, || {
        (prom.role_value(&failures, "app", &[])? == 0.0).then_some(())
    });

    // Through all of it, the healthy role never alerted (but for missing
    // metrics after a missed scrape, which says nothing about the role).
    for alert in prom.alerts() {
        let name = alert["labels"]["alertname"].as_str().unwrap_or_default();
        assert!(alert["labels"]["role"] != "steady" || prom.excused(name), "{alert}");
    }
    let steady_failures = poll("steady's consecutive failures", DEADLINE, || {
        prom.role_value(&failures, "steady", &[])
    });
    assert_eq!(steady_failures, 0.0);

    // Nothing the sources issued reached Prometheus: no secret, session
    // token or key id in any series' labels.
    let stored = prom
        .get("/api/v1/series?match[]=%7B__name__%3D~%22credrefresh_.%2B%22%7D")
        .to_string();
    assert!(stored.contains("credrefresh_refresh_attempts_total"), "{stored}");
    for source in [&app, &steady] {
        assert!(source.fetches() > 0);
    }
    let issued = app.fetches() + steady.fetches();
    for n in 1..=issued + 1 {
        let key_id = format!("ASIAFAKE{n:08}");
        for needle in [
            crate::common::fake::secret_for(&key_id),
            format!("fake-token-{n}"),
            key_id,
        ] {
            assert!(!stored.contains(&needle), "{needle} stored in Prometheus");
        }
    }
    assert!(!stored.contains("fake-secret") && !stored.contains("scripted"));

    // A removed role's metrics disappear.
    assert!(refresher.remove_role("broken"));
    prom.wait_alert(&rules, &mut seen, "CredrefreshRoleMetricsAbsent", "broken");

    // The target goes down: nothing credrefresh is left.
    drop(server);
    poll("the target down", DEADLINE, || {
        (prom.query(&format!("up{{job=\"{JOB}\"}}")).first().map(sample_value) == Some(0.0)).then_some(())
    });
    prom.wait_alert(&rules, &mut seen, "CredrefreshMetricsAbsent", "(all)");
    prom.wait_alert(&rules, &mut seen, "CredrefreshRoleMetricsAbsent", "steady");

    // The agent's alerts are driven by tests/peers/agent_dashboards.rs.
    let library_alerts: BTreeSet<String> = alert_names()
        .into_iter()
        .filter(|a| !AGENT_ALERTS.contains(&a.as_str()))
        .collect();
    assert_eq!(seen, library_alerts, "alerts never driven");
    assert!(!prom.log().contains("level=error"), "{}", prom.log());
}
