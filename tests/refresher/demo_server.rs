//! The demo (`cargo run --example server`) as a user runs it: every role
//! comes up fresh from the emulator, every actix-web worker answers with the
//! current credentials, refreshes happen every few seconds, an injected
//! throttling outage is ridden out with the last good credentials, and the
//! log carries no secret. No peers needed: it runs under plain `cargo test`
//! (which builds the examples first).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::Value;

use crate::common::demo::Demo;
use crate::common::prometheus::{http, poll};

const ROLES: [&str; 6] = ["app", "container", "instance", "mfa-session", "reports", "web"];
const LIMIT: Duration = Duration::from_secs(30);

fn role(demo: &Demo, name: &str) -> Value {
    demo.status()[name].clone()
}

#[test]
fn the_demo_serves_every_role_from_every_worker_and_rides_out_an_outage() {
    let demo = Demo::start(&[("CREDREFRESH_DEMO_LIFETIME", "4")]);

    // Every role fresh, from the source the README promises.
    let status = poll("all six roles fresh", LIMIT, || {
        let s = demo.status();
        ROLES.iter().all(|r| s[r]["state"] == "fresh").then_some(s)
    });
    let sources: BTreeMap<&str, &str> = ROLES
        .iter()
        .map(|r| (*r, status[r]["source"].as_str().unwrap()))
        .collect();
    assert_eq!(
        sources,
        BTreeMap::from([
            ("app", "sts"),
            ("container", "ecs"),
            ("instance", "imds"),
            ("mfa-session", "sts"),
            ("reports", "sts"),
            ("web", "sts")
        ])
    );

    // Every worker answers /whoami with a key the role really had.
    let mut workers = BTreeMap::new();
    poll("all four workers answered", LIMIT, || {
        let (code, body) = http(demo.port(), "GET", "/whoami?role=reports");
        assert_eq!(code, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["state"], "fresh");
        let key = v["access_key_id"].as_str().unwrap().to_string();
        assert!(key.starts_with("ASIA"), "{key}");
        workers.insert(v["worker"].as_str().unwrap().to_string(), key);
        (workers.len() == 4).then_some(())
    });

    // 4 s credentials: a new key within a few seconds.
    let first = role(&demo, "app")["access_key_id"].clone();
    poll("app refreshed", LIMIT, || {
        (role(&demo, "app")["access_key_id"] != first).then_some(())
    });

    // Throttling on AssumeRole: the STS roles keep their keys, show the class.
    demo.outage("AssumeRole", Some("throttle"));
    let during = poll("app throttled", LIMIT, || {
        let app = role(&demo, "app");
        (app["last_error_class"] == "throttled" && app["consecutive_failures"].as_u64() >= Some(1)).then_some(app)
    });
    assert!(during["access_key_id"].as_str().is_some_and(|k| k.starts_with("ASIA")));
    assert!(
        ["fresh", "extended"].contains(&during["state"].as_str().unwrap()),
        "{during}"
    );
    // The other sources are untouched.
    assert_eq!(role(&demo, "instance")["consecutive_failures"], 0);
    let metrics = demo.metrics();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("credrefresh_refresh_attempts_total")
                && l.contains("role=\"app\"")
                && l.contains("error_class=\"throttled\"")
                && !l.ends_with(" 0")),
        "no throttled attempts counted for app"
    );

    // Clear it: recovery, with a fresh key.
    demo.outage("AssumeRole", None);
    let after = poll("app recovered", Duration::from_secs(200), || {
        let app = role(&demo, "app");
        (app["consecutive_failures"] == 0 && app["state"] == "fresh").then_some(app)
    });
    assert_ne!(after["access_key_id"], during["access_key_id"]);

    // Invalidation from outside is accepted for a known role only.
    assert_eq!(http(demo.port(), "POST", "/invalidate?role=web").0, 202);
    assert_eq!(http(demo.port(), "POST", "/invalidate?role=nope").0, 404);

    // The demo's own secrets never reach its log.
    let log = demo.log();
    assert!(log.contains("credentials refreshed"), "{log}");
    for secret in ["emulator-demo-long-term-secret", "demo.web.identity.token"] {
        assert!(!log.contains(secret), "{secret} in the demo log");
    }
    let keys_in_log: BTreeSet<&str> = log
        .split('"')
        .filter(|w| w.starts_with("ASIA") && w.len() == 20)
        .collect();
    assert!(!keys_in_log.is_empty(), "key ids (not secrets) are logged for tracing");
}
