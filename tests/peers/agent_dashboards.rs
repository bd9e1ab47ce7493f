//! The host agent on the real Prometheus: it scrapes the agent's own
//! `/metrics`, every agent panel of the dashboard returns data, and both
//! agent alerts go pending on the faults they describe (a role answered
//! with 503s, a role's clients refused).

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use credrefresh::agent::{Agent, Config};

use crate::common::prometheus::{AGENT_ALERTS, DEADLINE, JOB, Prometheus, poll, sample_value};

const TOKEN: &str = "dashboard-token-0123456789";
const SECRET: &str = "dashboardSecret0123456789abcdef";

fn config() -> String {
    format!(
        r#"
[container]
listen = ["127.0.0.1:0"]
[[tokens]]
name = "all"
env = "TOKEN"
roles = ["app", "down"]
[limits]
rate_per_second = 10000.0
burst = 10000
[roles.app]
source = "static"
access_key_id = "AKIADASHBOARD0000001"
secret_access_key = "{SECRET}"
# No credentials in this role's environment: it never loads, so the agent
# answers its clients 503.
[roles.down]
source = "env"
"#
    )
}

fn get(addr: SocketAddr, path: &str, token: &str) -> u16 {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return 0;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = format!("GET {path} HTTP/1.1\r\nhost: a\r\nauthorization: {token}\r\nconnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return 0;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

#[test]
#[ignore = "needs the real peers: scripts/test-all"]
fn prometheus_scrapes_the_agent_every_agent_panel_has_data_and_agent_alerts_fire() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let config = Config::from_toml_str(&config()).unwrap();
    let agent = rt
        .block_on(Agent::start_with_env(config, |k| {
            (k == "TOKEN").then(|| TOKEN.to_owned())
        }))
        .unwrap();
    rt.block_on(
        agent
            .refresher()
            .handle("app")
            .unwrap()
            .wait_ready(Duration::from_secs(10)),
    )
    .unwrap();
    let addr = agent.container_addrs()[0];

    // Clients: good ones of `app`, one with a wrong token, and `down`'s.
    let stop = Arc::new(AtomicBool::new(false));
    let traffic = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut answers = BTreeSet::new();
            while !stop.load(Ordering::Relaxed) {
                answers.insert(get(addr, "/v1/credentials/app", TOKEN));
                answers.insert(get(addr, "/v1/credentials/app", "wrong-token-0123456789"));
                answers.insert(get(addr, "/v1/credentials/down", TOKEN));
                std::thread::sleep(Duration::from_millis(100));
            }
            answers
        })
    };

    let prom = Prometheus::start(addr.port());
    poll("a successful scrape of the agent", DEADLINE, || {
        let up = prom.query(&format!("up{{job=\"{JOB}\"}} == 1"));
        let requests = prom.query("credrefresh_agent_requests_total");
        (up.len() == 1 && !requests.is_empty()).then_some(())
    });
    let rules = prom.wait_rules_healthy();
    prom.wait_dashboard_data(true);
    let ratio = prom.query(
        "sum by (role) (rate(credrefresh_agent_requests_total{role=\"app\",outcome!=\"ok\"}[1m])) \
         / sum by (role) (rate(credrefresh_agent_requests_total{role=\"app\"}[1m]))",
    );
    let ratio = ratio.first().map(sample_value).unwrap_or_default();
    assert!((0.3..0.7).contains(&ratio), "app's error ratio {ratio}");

    let mut seen = BTreeSet::new();
    prom.wait_alert(&rules, &mut seen, "CredrefreshAgentServingUnavailable", "down");
    prom.wait_alert(&rules, &mut seen, "CredrefreshAgentRefusingClients", "app");
    assert_eq!(seen, AGENT_ALERTS.iter().map(|a| a.to_string()).collect());

    stop.store(true, Ordering::Relaxed);
    let answers = traffic.join().unwrap();
    assert_eq!(answers, BTreeSet::from([200, 401, 503]));
    let stored = prom
        .get("/api/v1/series?match[]=%7B__name__%3D~%22credrefresh_.%2B%22%7D")
        .to_string();
    assert!(stored.contains("credrefresh_agent_requests_total"), "{stored}");
    for needle in [SECRET, TOKEN, "wrong-token"] {
        assert!(!stored.contains(needle), "{needle} stored in Prometheus");
    }
    assert!(!prom.log().contains("level=error"), "{}", prom.log());
    rt.block_on(agent.shutdown());
}
