//! The Prometheus collector and the facade, on a real `Refresher` running
//! in-process sources under paused Tokio time: zero series from the start,
//! values read at scrape time, counters that survive a restart, roles that
//! come and go, the facade and the registry agreeing, and no secret in any
//! of it.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use credrefresh::backoff::BackoffConfig;
use credrefresh::clock::{Clock, TokioClock};
use credrefresh::metrics::{self as m, PrometheusCollector, render};
use credrefresh::{CredentialsState, ErrorClass, RefreshPolicy, Refresher, RefresherBuilder};

use crate::common::exposition::{self, Recorded, TestRecorder, key, parse, value};
use crate::common::fake::{FakeSource, Step, secret_for};
use crate::common::run_paused;
use crate::pinned::pinned;

const HOUR: Duration = Duration::from_secs(3600);
const LONG: Duration = Duration::from_secs(10 * 24 * 3600);

fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_370_400)
}

fn unix(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs_f64()
}

fn builder() -> (RefresherBuilder, Arc<TokioClock>) {
    let clock = Arc::new(TokioClock::starting_at(t0()));
    (pinned(clock.clone(), 0.0), clock)
}

fn scrape(refresher: &Refresher) -> Vec<exposition::Sample> {
    parse(&render(&refresher.prometheus_registry().unwrap()).unwrap())
}

fn app(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut labels = vec![("role", "app"), ("source", "fake")];
    labels.extend_from_slice(extra);
    labels
}

#[test]
fn every_error_class_has_a_zero_series_before_the_first_failure() {
    run_paused(|| async {
        let (b, _) = builder();
        let refresher = b.role("app", FakeSource::healthy(Some(HOUR))).start_local().unwrap();
        refresher
            .handle("app")
            .unwrap()
            .wait_ready(Duration::from_secs(5))
            .await
            .unwrap();
        let samples = scrape(&refresher);
        let attempts = m::REFRESH_ATTEMPTS.name;
        assert_eq!(
            value(
                &samples,
                attempts,
                &app(&[("result", "success"), ("error_class", "none")])
            ),
            Some(1.0)
        );
        for class in ErrorClass::ALL {
            let labels = app(&[("result", "failure"), ("error_class", class.as_str())]);
            assert_eq!(value(&samples, attempts, &labels), Some(0.0), "{class}");
        }
        // 1 success + one zero series per class, nothing else.
        assert_eq!(
            exposition::matching(&samples, attempts, &[]).len(),
            1 + ErrorClass::ALL.len()
        );
        for name in [m::EXTENSIONS.name, m::SUPERVISOR_RESTARTS.name, m::INVALIDATIONS.name] {
            assert_eq!(value(&samples, name, &app(&[])), Some(0.0), "{name}");
        }
        assert_eq!(value(&samples, m::ROLE_INFO.name, &app(&[])), Some(1.0));
        // The failure histogram exists too, empty.
        let failed = app(&[("result", "failure")]);
        assert_eq!(
            value(&samples, "credrefresh_refresh_duration_seconds_count", &failed),
            Some(0.0)
        );
    });
}

#[test]
fn time_dependent_gauges_are_computed_at_scrape_time() {
    run_paused(|| async {
        let (b, clock) = builder();
        let refresher = b.role("app", FakeSource::healthy(Some(HOUR))).start_local().unwrap();
        let handle = refresher.handle("app").unwrap();
        let first = handle.wait_ready(Duration::from_secs(5)).await.unwrap();
        let expiry = first.credentials().unwrap().expiry().unwrap();
        let samples = scrape(&refresher);
        let expires_in = m::CREDENTIALS_EXPIRES_IN.name;
        assert_eq!(value(&samples, expires_in, &app(&[])), Some(3600.0));
        assert_eq!(
            value(&samples, m::CREDENTIALS_EXPIRY.name, &app(&[])),
            Some(unix(expiry))
        );
        assert_eq!(value(&samples, m::LAST_SUCCESS.name, &app(&[])), Some(unix(t0())));
        // Refresh at 2700 s (a quarter of the lifetime ahead, no jitter).
        assert_eq!(
            value(&samples, m::NEXT_REFRESH.name, &app(&[])),
            Some(unix(t0()) + 2700.0)
        );

        // 1000 s later, nothing was published, but the scrape sees the time.
        tokio::time::sleep(Duration::from_secs(1000)).await;
        assert_eq!(clock.now(), t0() + Duration::from_secs(1000));
        assert_eq!(handle.load().generation(), first.generation());
        let samples = scrape(&refresher);
        assert_eq!(value(&samples, expires_in, &app(&[])), Some(2600.0));
        assert_eq!(
            value(&samples, m::CREDENTIALS_EXPIRY.name, &app(&[])),
            Some(unix(expiry))
        );
    });
}

#[test]
fn failures_extensions_and_durations_are_counted_by_class() {
    run_paused(|| async {
        let (b, clock) = builder();
        // 20 s credentials: no floor on the spacing of refreshes.
        let policy = RefreshPolicy::default().min_refresh_interval(Duration::ZERO).backoff(
            BackoffConfig::default()
                .initial(Duration::from_secs(1))
                .multiplier(2.0)
                .max(Duration::from_secs(8))
                .jitter(0.0),
        );
        let source = FakeSource::new(
            [Step::Ok(Some(Duration::from_secs(20)))],
            Step::Fail(ErrorClass::Throttled),
        );
        let refresher = b.policy(policy).role("app", source.clone()).start_local().unwrap();
        let handle = refresher.handle("app").unwrap();
        handle.wait_ready(Duration::from_secs(5)).await.unwrap();
        // Throttled from the refresh at 15 s on; expires at 20 s, extended.
        let extended = handle
            .wait_for(LONG, |s| s.state() == CredentialsState::Extended)
            .await
            .unwrap();
        source.set_then(Step::Fail(ErrorClass::Timeout));
        let after = handle
            .wait_for(LONG, |s| s.last_error_class() == Some(ErrorClass::Timeout))
            .await
            .unwrap();

        let samples = scrape(&refresher);
        let attempts = m::REFRESH_ATTEMPTS.name;
        let count = |class: &'static str| {
            value(
                &samples,
                attempts,
                &app(&[("result", "failure"), ("error_class", class)]),
            )
        };
        let throttled = after.consecutive_failures() - 1;
        assert!(throttled >= 2, "{throttled}");
        assert_eq!(count("throttled"), Some(f64::from(throttled)));
        assert_eq!(count("timeout"), Some(1.0));
        assert_eq!(count("retryable"), Some(0.0));
        assert_eq!(
            value(&samples, m::CONSECUTIVE_FAILURES.name, &app(&[])),
            Some(f64::from(after.consecutive_failures()))
        );
        assert_eq!(value(&samples, m::CREDENTIALS_EXTENDED.name, &app(&[])), Some(1.0));
        assert_eq!(value(&samples, m::CREDENTIALS_UNUSABLE.name, &app(&[])), Some(0.0));
        assert_eq!(value(&samples, m::EXTENSIONS.name, &app(&[])), Some(1.0));
        // The expiry series follow the extended credentials.
        let until = extended.credentials().unwrap().expiry().unwrap();
        assert_eq!(
            value(&samples, m::CREDENTIALS_EXPIRY.name, &app(&[])),
            Some(unix(until))
        );
        let left = until.duration_since(clock.now()).unwrap().as_secs_f64();
        assert_eq!(value(&samples, m::CREDENTIALS_EXPIRES_IN.name, &app(&[])), Some(left));
        // In-process fetches take no (paused) time: all in the first bucket.
        let failed = app(&[("result", "failure")]);
        let fails = f64::from(after.consecutive_failures());
        assert_eq!(
            value(&samples, "credrefresh_refresh_duration_seconds_count", &failed),
            Some(fails)
        );
        let first_bucket = app(&[("result", "failure"), ("le", "0.001")]);
        assert_eq!(
            value(&samples, "credrefresh_refresh_duration_seconds_bucket", &first_bucket),
            Some(fails)
        );
        let inf = app(&[("result", "failure"), ("le", "+Inf")]);
        assert_eq!(
            value(&samples, "credrefresh_refresh_duration_seconds_bucket", &inf),
            Some(fails)
        );
    });
}

#[test]
fn a_role_without_credentials_is_unusable_and_has_no_timestamps() {
    run_paused(|| async {
        let (b, _) = builder();
        let source = FakeSource::new([], Step::Fail(ErrorClass::Denied));
        let refresher = b.role("app", source).start_local().unwrap();
        let handle = refresher.handle("app").unwrap();
        handle.wait_for(LONG, |s| s.consecutive_failures() >= 1).await.unwrap();
        let samples = scrape(&refresher);
        assert_eq!(value(&samples, m::CREDENTIALS_UNUSABLE.name, &app(&[])), Some(1.0));
        assert_eq!(value(&samples, m::CREDENTIALS_EXTENDED.name, &app(&[])), Some(0.0));
        assert_eq!(value(&samples, m::CREDENTIALS_EXPIRY.name, &app(&[])), None);
        assert_eq!(value(&samples, m::CREDENTIALS_EXPIRES_IN.name, &app(&[])), None);
        assert_eq!(value(&samples, m::LAST_SUCCESS.name, &app(&[])), None);
        assert!(value(&samples, m::NEXT_REFRESH.name, &app(&[])).is_some());
        let denied = app(&[("result", "failure"), ("error_class", "denied")]);
        assert_eq!(value(&samples, m::REFRESH_ATTEMPTS.name, &denied), Some(1.0));
    });
}

#[test]
fn counters_survive_a_restart_of_the_refresher() {
    run_paused(|| async {
        let (b, _) = builder();
        let source = FakeSource::new(
            [
                Step::Fail(ErrorClass::Throttled),
                Step::Fail(ErrorClass::Timeout),
                Step::Panic,
            ],
            Step::Ok(Some(HOUR)),
        );
        let refresher = b.role("app", source).start_local().unwrap();
        let handle = refresher.handle("app").unwrap();
        let snap = handle
            .wait_for(LONG, |s| s.restarts() == 1 && s.state() == CredentialsState::Fresh)
            .await
            .unwrap();
        assert_eq!(snap.consecutive_failures(), 0);
        let samples = scrape(&refresher);
        let attempts = m::REFRESH_ATTEMPTS.name;
        let count = |result: &'static str, class: &'static str| {
            value(&samples, attempts, &app(&[("result", result), ("error_class", class)]))
        };
        // The counts of the refresher that died are still there.
        assert_eq!(count("failure", "throttled"), Some(1.0));
        assert_eq!(count("failure", "timeout"), Some(1.0));
        assert_eq!(count("success", "none"), Some(1.0));
        assert_eq!(value(&samples, m::SUPERVISOR_RESTARTS.name, &app(&[])), Some(1.0));
        let failed = app(&[("result", "failure")]);
        assert_eq!(
            value(&samples, "credrefresh_refresh_duration_seconds_count", &failed),
            Some(2.0)
        );
    });
}

#[test]
fn roles_added_and_removed_at_run_time_come_and_go() {
    run_paused(|| async {
        let (b, _) = builder();
        let refresher = b.role("app", FakeSource::healthy(Some(HOUR))).start_local().unwrap();
        // One registry, made before the new role exists.
        let registry = prometheus::Registry::new();
        registry
            .register(Box::new(PrometheusCollector::new(&refresher)))
            .unwrap();
        let roles = |registry: &prometheus::Registry| {
            let samples = parse(&render(registry).unwrap());
            let mut roles: Vec<String> = exposition::matching(&samples, m::ROLE_INFO.name, &[])
                .iter()
                .map(|s| s.labels["role"].clone())
                .collect();
            roles.sort();
            roles
        };
        assert_eq!(roles(&registry), ["app"]);

        let late = refresher.add_role("late", FakeSource::healthy(Some(HOUR))).unwrap();
        late.wait_ready(Duration::from_secs(5)).await.unwrap();
        assert_eq!(roles(&registry), ["app", "late"]);
        let samples = parse(&render(&registry).unwrap());
        let late_ok = [("role", "late"), ("result", "success"), ("error_class", "none")];
        assert_eq!(value(&samples, m::REFRESH_ATTEMPTS.name, &late_ok), Some(1.0));

        assert!(refresher.remove_role("late"));
        assert_eq!(roles(&registry), ["app"]);
        let samples = parse(&render(&registry).unwrap());
        assert!(
            samples
                .iter()
                .all(|s| s.labels.get("role").map(String::as_str) != Some("late"))
        );
    });
}

/// Runs a refresher through success, throttling, extension, an outage,
/// an invalidation and a panic with a facade recorder installed, then
/// checks that the facade and the registry agree, and that no secret,
/// key id or session token the source issued appears in either.
#[test]
fn facade_and_registry_agree_and_carry_no_secret() {
    let recorder = TestRecorder::default();
    let (exposition, source) = metrics::with_local_recorder(&recorder, || {
        run_paused(|| async {
            m::describe();
            let (b, _) = builder();
            let policy = RefreshPolicy::default().invalidation_cooldown(Duration::from_secs(1));
            let source = FakeSource::new(
                [
                    Step::Ok(Some(Duration::from_secs(60))),
                    Step::Ok(Some(Duration::from_secs(60))),
                    Step::Fail(ErrorClass::Throttled),
                    Step::Fail(ErrorClass::Throttled),
                ],
                Step::Fail(ErrorClass::Retryable),
            );
            let refresher = b.policy(policy).role("app", source.clone()).start_local().unwrap();
            let handle = refresher.handle("app").unwrap();
            handle.wait_ready(Duration::from_secs(5)).await.unwrap();
            tokio::time::sleep(Duration::from_secs(2)).await;
            handle.invalidate();
            handle
                .wait_for(LONG, |s| s.state() == CredentialsState::Extended)
                .await
                .unwrap();
            source.push([Step::Panic]);
            source.set_then(Step::Ok(Some(HOUR)));
            handle
                .wait_for(LONG, |s| s.restarts() == 1 && s.state() == CredentialsState::Fresh)
                .await
                .unwrap();
            (render(&refresher.prometheus_registry().unwrap()).unwrap(), source)
        })
    });

    // No secret anywhere, nor key ids or session tokens (unbounded values).
    let facade = recorder.dump();
    assert!(source.fetches() >= 6, "{}", source.fetches());
    for n in 1..=source.fetches() + 1 {
        let key_id = format!("ASIAFAKE{n:08}");
        for needle in [secret_for(&key_id), format!("fake-token-{n}"), key_id] {
            assert!(!exposition.contains(&needle), "{needle} in the exposition");
            assert!(!facade.contains(&needle), "{needle} in the facade's records");
        }
    }
    assert!(!exposition.contains("fake-secret") && !facade.contains("fake-secret"));
    assert!(
        !exposition.contains("scripted"),
        "an error message leaked into the exposition"
    );
    assert!(!facade.contains("scripted"), "an error message leaked into the facade");

    // Every label value is from the configuration or a fixed set.
    let samples = parse(&exposition);
    let classes: Vec<&str> = ErrorClass::ALL.iter().map(|c| c.as_str()).collect();
    for s in &samples {
        for (k, v) in &s.labels {
            let ok = match k.as_str() {
                "role" => v == "app",
                "source" => v == "fake",
                "result" => v == m::RESULT_SUCCESS || v == m::RESULT_FAILURE,
                "error_class" => v == m::NO_ERROR || classes.contains(&v.as_str()),
                "le" => true,
                other => panic!("unexpected label {other}"),
            };
            assert!(ok, "{k}={v} in {}", s.name);
        }
    }

    // The facade saw the same series with the same values.
    let values = recorder.values();
    let mut compared = 0;
    for (id, recorded) in &values {
        let name = id.split('{').next().unwrap();
        let series = m::ALL
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("unknown series {id}"));
        assert!(!series.scrape_time, "{id} is scrape-time only");
        let matching: Vec<_> = samples
            .iter()
            .filter(|s| {
                let mut labels: Vec<(&str, &str)> = s.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                labels.retain(|(k, _)| *k != "le");
                let base = s.name.trim_end_matches("_count");
                base == name && !s.labels.contains_key("le") && key(base, &labels) == *id
            })
            .collect();
        assert_eq!(matching.len(), 1, "{id} not in the exposition");
        let exposed = matching[0].value;
        match recorded {
            Recorded::Counter(c) => assert_eq!(*c as f64, exposed, "{id}"),
            Recorded::Gauge(g) => assert_eq!(*g, exposed, "{id}"),
            Recorded::Histogram(h) => assert_eq!(h.len() as f64, exposed, "{id} count"),
        }
        compared += 1;
    }
    // 9 attempt series, 2 histograms, 3 counters, 7 gauges (expiry, extended,
    // unusable, failures, last success, next refresh, info).
    assert_eq!(compared, 9 + 2 + 3 + 7, "{values:#?}");
    assert_eq!(
        values.get(&key(m::INVALIDATIONS.name, &app(&[]))),
        Some(&Recorded::Counter(1))
    );
    assert_eq!(
        values.get(&key(m::SUPERVISOR_RESTARTS.name, &app(&[]))),
        Some(&Recorded::Counter(1))
    );
    let throttled = key(
        m::REFRESH_ATTEMPTS.name,
        &app(&[("result", "failure"), ("error_class", "throttled")]),
    );
    assert_eq!(values.get(&throttled), Some(&Recorded::Counter(2)));
}
