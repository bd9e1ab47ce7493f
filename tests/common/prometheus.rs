//! A real Prometheus for peer tests, and what they do with it: start it on a
//! loopback port with a temporary configuration and TSDB (killed and
//! cleaned up on drop), query its HTTP API, wait for its alerts, and read
//! the PromQL of `dashboards/` (the Grafana dashboard's expressions, as
//! Grafana sends them, and the alert rules' names).
//!
//! Everything here runs in real time against real processes: every wait is
//! a poll of a condition with a deadline.

// Real peers are waited for with real deadlines (Instant).
#![allow(clippy::disallowed_methods)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::peers;

/// The longest any one wait on Prometheus or a scrape target may take. Far
/// above what a wait needs on an idle machine (a few seconds), so that a
/// loaded machine (shared cores, parallel builds) does not fail a test.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// The scrape job of [`Prometheus::start`].
pub const JOB: &str = "credrefresh";

/// The alerts that hold when the target's metrics are missing, whatever the
/// state of the roles.
pub const ABSENCE_ALERTS: [&str; 2] = ["CredrefreshMetricsAbsent", "CredrefreshRoleMetricsAbsent"];

/// `dashboards/` of the crate.
pub fn dashboards() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards")
}

/// Polls `f` every 100 ms until it returns `Some`, up to `limit`.
pub fn poll<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < limit, "timed out after {limit:?} waiting for {what}");
        std::thread::park_timeout(Duration::from_millis(100));
    }
}

/// Runs a command to completion: (success, stdout + stderr).
pub fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().expect("run peer tool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// `promtool check metrics` on an exposition: it must pass with no lint
/// problem at all.
pub fn promtool_check_metrics(text: &str) {
    let mut child = Command::new(peers::system_bin("promtool"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{report}\n---\n{text}"
    );
    assert_eq!(report.trim(), "", "promtool lint problems:\n{report}");
}

/// A one-shot HTTP/1.0 request to 127.0.0.1:`port` (the answer ends with
/// the connection, never chunked): (status, body).
pub fn http(port: u16, method: &str, path: &str) -> (u16, String) {
    let mut stream =
        TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| panic!("connect to 127.0.0.1:{port}: {e}"));
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .unwrap_or_else(|e| panic!("{method} {path} on 127.0.0.1:{port}: {e}"));
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("{method} {path}: not an HTTP response: {response:?}"));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{method} {path}: no status in {head:?}"));
    (status, body.to_string())
}

// ---------------------------------------------------------------- dashboards

/// `- alert: Name` lines of alerts.yml.
pub fn alert_names() -> BTreeSet<String> {
    let text = std::fs::read_to_string(dashboards().join("alerts.yml")).unwrap();
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("- alert:"))
        .map(|n| n.trim().to_string())
        .collect()
}

/// The alerts on the host agent's series (`credrefresh serve`): a library
/// refresher alone never drives them.
pub const AGENT_ALERTS: [&str; 2] = ["CredrefreshAgentServingUnavailable", "CredrefreshAgentRefusingClients"];

/// Whether a dashboard expression reads the host agent's series.
pub fn is_agent_expr(expr: &str) -> bool {
    expr.contains("credrefresh_agent_")
}

/// Every `targets[].expr` of the dashboard, in panels and rows, with the
/// panel's title.
pub fn dashboard_exprs() -> Vec<(String, String)> {
    fn walk(v: &Value, title: &str, out: &mut Vec<(String, String)>) {
        match v {
            Value::Object(map) => {
                let title = map.get("title").and_then(Value::as_str).unwrap_or(title);
                if let Some(Value::Array(targets)) = map.get("targets") {
                    for t in targets {
                        let expr = t["expr"].as_str().expect("every target has an expr");
                        out.push((title.to_string(), expr.to_string()));
                    }
                }
                for (k, child) in map {
                    if k != "targets" {
                        walk(child, title, out);
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, title, out)),
            _ => {}
        }
    }
    let text = std::fs::read_to_string(dashboards().join("credrefresh.json")).unwrap();
    let json: Value = serde_json::from_str(&text).unwrap();
    let mut out = Vec::new();
    walk(&json["panels"], "", &mut out);
    out
}

/// What Grafana sends for `$role` = All (`allValue: ".*"`) and the interval
/// variables, with a 1 s scrape interval.
pub fn as_grafana_sends(expr: &str) -> String {
    let expr = expr
        .replace("$__rate_interval", "1m")
        .replace("$__interval", "1m")
        .replace("${role}", ".*")
        .replace("$role", ".*");
    assert!(!expr.contains('$'), "unsubstituted variable in {expr}");
    expr
}

/// The dashboard panel's expressions, as Grafana would send them.
pub fn panel_exprs(title: &str) -> Vec<String> {
    let exprs: Vec<_> = dashboard_exprs()
        .into_iter()
        .filter(|(t, _)| t == title)
        .map(|(_, e)| as_grafana_sends(&e))
        .collect();
    assert!(!exprs.is_empty(), "no panel {title}");
    exprs
}

/// A sample's value (`"NaN"` reads as NaN).
pub fn sample_value(sample: &Value) -> f64 {
    sample["value"][1].as_str().unwrap().parse().unwrap()
}

/// A label of a sample or series.
pub fn label<'a>(sample: &'a Value, name: &str) -> Option<&'a str> {
    sample["metric"][name].as_str()
}

// ------------------------------------------------------------- Prometheus

/// A Prometheus on a loopback port with a temporary data directory, scraping
/// one target every second (job [`JOB`]) and evaluating
/// `dashboards/alerts.yml` every second; killed and cleaned up on drop.
pub struct Prometheus {
    process: peers::Process,
    dir: PathBuf,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.process.child.kill();
        let _ = self.process.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Prometheus {
    /// Starts Prometheus scraping `/metrics` of 127.0.0.1:`target_port`,
    /// and waits until its API answers.
    pub fn start(target_port: u16) -> Self {
        let port = peers::free_port();
        let dir = std::env::temp_dir().join(format!("credrefresh-prometheus-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("data")).unwrap();
        let rules = dashboards().join("alerts.yml");
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - {rules:?}\n\
             scrape_configs:\n  - job_name: {JOB}\n    static_configs:\n      - targets: ['127.0.0.1:{target_port}']\n",
            rules = rules.display().to_string()
        );
        std::fs::write(dir.join("prometheus.yml"), config).unwrap();
        let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
        let child = Command::new(peers::system_bin("prometheus"))
            .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        let prometheus = Self {
            process: peers::Process { child, port },
            dir,
        };
        peers::wait_for_port(port, DEADLINE);
        poll("the Prometheus API", DEADLINE, || {
            (http(port, "GET", "/-/ready").0 == 200).then_some(())
        });
        prometheus
    }

    /// Its log (warnings and errors).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }

    /// GET `path` on the API; returns the parsed JSON body, whose status
    /// must be `success`.
    pub fn get(&self, path: &str) -> Value {
        let (status, body) = http(self.process.port, "GET", path);
        let json: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: HTTP {status}\n{body}"));
        assert_eq!(json["status"], "success", "GET {path}: {json}\nlog:\n{}", self.log());
        json
    }

    /// Runs an instant query; returns its result vector.
    pub fn query(&self, expr: &str) -> Vec<Value> {
        let q: String = url::form_urlencoded::byte_serialize(expr.as_bytes()).collect();
        let json = self.get(&format!("/api/v1/query?query={q}"));
        match &json["data"]["result"] {
            Value::Array(v) => v.clone(),
            other => panic!("{expr}: not a vector: {other}"),
        }
    }

    /// Every series matching `selector` stored so far (all of the TSDB's
    /// time range), each as its label set.
    pub fn series(&self, selector: &str) -> Vec<BTreeMap<String, String>> {
        let m: String = url::form_urlencoded::byte_serialize(selector.as_bytes()).collect();
        let json = self.get(&format!("/api/v1/series?match[]={m}"));
        json["data"]
            .as_array()
            .unwrap_or_else(|| panic!("{selector}: no series list: {json}"))
            .iter()
            .map(|series| {
                series
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                    .collect()
            })
            .collect()
    }

    /// Values of `label` among series matching `selector`.
    pub fn label_values(&self, label: &str, selector: &str) -> BTreeSet<String> {
        let m: String = url::form_urlencoded::byte_serialize(selector.as_bytes()).collect();
        let json = self.get(&format!("/api/v1/label/{label}/values?match[]={m}"));
        json["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    }

    /// The value of `expr`'s sample with label role=`role` and the `extra`
    /// labels, if any.
    pub fn role_value(&self, expr: &str, role: &str, extra: &[(&str, &str)]) -> Option<f64> {
        self.query(expr)
            .iter()
            .find(|s| label(s, "role") == Some(role) && extra.iter().all(|(k, v)| label(s, k) == Some(*v)))
            .map(sample_value)
    }

    /// Active alerts (pending or firing).
    pub fn alerts(&self) -> Vec<Value> {
        self.get("/api/v1/alerts")["data"]["alerts"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Every alerting rule: name → (query, health).
    pub fn rules(&self) -> BTreeMap<String, (String, String)> {
        let json = self.get("/api/v1/rules?type=alert");
        let mut rules = BTreeMap::new();
        for group in json["data"]["groups"].as_array().unwrap() {
            for rule in group["rules"].as_array().unwrap() {
                rules.insert(
                    rule["name"].as_str().unwrap().to_string(),
                    (
                        rule["query"].as_str().unwrap().to_string(),
                        rule["health"].as_str().unwrap().to_string(),
                    ),
                );
            }
        }
        rules
    }

    /// Waits until every alert rule of `dashboards/alerts.yml` is loaded and
    /// has been evaluated without error; returns them (name → (query, health)).
    pub fn wait_rules_healthy(&self) -> BTreeMap<String, (String, String)> {
        let names = alert_names();
        let rules = poll("every alert rule evaluated and healthy", DEADLINE, || {
            let rules = self.rules();
            (rules.len() == names.len() && rules.values().all(|(_, health)| health == "ok")).then_some(rules)
        });
        assert_eq!(rules.keys().cloned().collect::<BTreeSet<_>>(), names);
        rules
    }

    /// Whether any scrape of the target has failed since Prometheus started.
    /// A failed scrape marks every series of the target stale at once, so
    /// for that second the absence alerts (`CredrefreshMetricsAbsent`,
    /// `CredrefreshRoleMetricsAbsent`) rightly hold: on a loaded machine a
    /// scrape can miss its 1 s timeout.
    pub fn missed_a_scrape(&self) -> bool {
        !self
            .query(&format!("min_over_time(up{{job=\"{JOB}\"}}[1h]) < 1"))
            .is_empty()
    }

    /// Healthy: every alert expression evaluates to nothing, and no alert
    /// is pending or firing. The absence alerts ([`ABSENCE_ALERTS`]) are
    /// excused only when Prometheus recorded a failed scrape of the target
    /// ([`Prometheus::missed_a_scrape`]): then they hold, as they should.
    pub fn assert_quiet(&self, rules: &BTreeMap<String, (String, String)>) {
        for (name, (query, _)) in rules {
            let result = self.query(query);
            assert!(
                result.is_empty() || self.excused(name),
                "{name} holds while healthy: {result:?}"
            );
        }
        for alert in self.alerts() {
            let name = alert["labels"]["alertname"].as_str().unwrap_or_default();
            assert!(self.excused(name), "alerting while healthy: {alert}");
        }
    }

    /// Whether alert `name` may be active although the roles are healthy:
    /// an absence alert, after a missed scrape.
    pub fn excused(&self, name: &str) -> bool {
        ABSENCE_ALERTS.contains(&name) && self.missed_a_scrape()
    }

    /// Waits until alert `name` is pending or firing with label
    /// role=`role`; then its rule expression (from `rules`) must return data
    /// for that role. Records the name in `seen`; returns the alert's state.
    pub fn wait_alert(
        &self,
        rules: &BTreeMap<String, (String, String)>,
        seen: &mut BTreeSet<String>,
        name: &str,
        role: &str,
    ) -> String {
        let state = poll(&format!("alert {name} for role {role}"), DEADLINE, || {
            self.alerts()
                .into_iter()
                .find(|a| a["labels"]["alertname"] == name && a["labels"]["role"] == role)
                .map(|a| a["state"].as_str().unwrap().to_string())
        });
        assert!(state == "pending" || state == "firing", "{name}: {state}");
        let (query, _) = &rules[name];
        let result = self.query(query);
        assert!(
            result.iter().any(|s| label(s, "role") == Some(role)),
            "{name} is {state} but its expression returns {result:?}"
        );
        seen.insert(name.to_string());
        state
    }

    /// Waits until every expression of the dashboard returns data: the
    /// host agent's panels when `agent`, else every other panel.
    pub fn wait_dashboard_data(&self, agent: bool) {
        poll("data for every dashboard expression", DEADLINE, || {
            let empty: Vec<_> = dashboard_exprs()
                .into_iter()
                .filter(|(_, expr)| is_agent_expr(expr) == agent)
                .map(|(title, expr)| (title, as_grafana_sends(&expr)))
                .filter(|(_, expr)| self.query(expr).is_empty())
                .collect();
            empty.is_empty().then_some(()).or_else(|| {
                eprintln!("still empty: {empty:?}");
                None
            })
        });
    }
}
