//! A role whose source picks among others (a chain) keeps its `source`
//! label (`chain`) when the chain chooses or changes its choice: counter
//! series never reset, the facade and the registry agree.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use credrefresh::clock::{FixedRandom, TokioClock};
use credrefresh::metrics::{self as m, render};
use credrefresh::{FetchContext, FetchFuture, Refresher, Source};

use crate::common::exposition::{self, Recorded, TestRecorder, key, parse, value};
use crate::common::fake::FakeSource;
use crate::common::run_paused;

const HOUR: Duration = Duration::from_secs(3600);
const LONG: Duration = Duration::from_secs(10 * 24 * 3600);

fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_370_400)
}

/// Answers from a fake, and says it chose whichever link the test set.
#[derive(Clone)]
struct Picker {
    inner: FakeSource,
    chosen: Arc<Mutex<&'static str>>,
}

impl Source for Picker {
    fn name(&self) -> &'static str {
        "chain"
    }

    fn fetch(&self, ctx: FetchContext) -> FetchFuture<'_> {
        self.inner.fetch(ctx)
    }

    fn resolved_name(&self) -> Option<&'static str> {
        Some(*self.chosen.lock().unwrap())
    }
}

fn labels(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut l = vec![("role", "app"), ("source", "chain")];
    l.extend_from_slice(extra);
    l
}

#[test]
fn the_source_label_stays_chain_when_the_chain_chooses_and_changes_its_choice() {
    let recorder = TestRecorder::default();
    let exposition = metrics::with_local_recorder(&recorder, || {
        run_paused(|| async {
            let picker = Picker {
                inner: FakeSource::healthy(Some(HOUR)),
                chosen: Arc::new(Mutex::new("env")),
            };
            let refresher = Refresher::builder()
                .clock(Arc::new(TokioClock::starting_at(t0())))
                .random(Arc::new(FixedRandom::new(0.0)))
                .role("app", picker.clone())
                .start_local()
                .unwrap();
            let handle = refresher.handle("app").unwrap();
            let first = handle.wait_ready(Duration::from_secs(5)).await.unwrap();
            assert_eq!(first.source(), "chain");
            assert_eq!(first.resolved_source(), "env");
            // The environment goes away; the chain picks the instance metadata.
            *picker.chosen.lock().unwrap() = "imds";
            handle.invalidate();
            let second = handle
                .wait_for(LONG, |s| s.credentials_generation() > first.credentials_generation())
                .await
                .unwrap();
            assert_eq!(second.source(), "chain");
            assert_eq!(second.resolved_source(), "imds");
            render(&refresher.prometheus_registry().unwrap()).unwrap()
        })
    });
    let samples = parse(&exposition);
    // One series per outcome, under `chain`, counting across the choice.
    let success = labels(&[("result", "success"), ("error_class", "none")]);
    assert_eq!(value(&samples, m::REFRESH_ATTEMPTS.name, &success), Some(2.0));
    for s in &samples {
        assert_eq!(s.labels.get("source").map(String::as_str), Some("chain"), "{s:?}");
    }
    let values = recorder.values();
    assert_eq!(
        values.get(&key(m::REFRESH_ATTEMPTS.name, &success)),
        Some(&Recorded::Counter(2)),
        "{values:#?}"
    );
    for id in values.keys() {
        assert!(id.contains("source=\"chain\""), "{id}");
    }
    assert!(exposition::matching(&samples, m::ROLE_INFO.name, &[]).len() == 1);
    // The choice is its own series: the current one in the registry, the
    // old one set to 0 through the facade.
    let chosen = |c| labels(&[("chosen", c)]);
    assert_eq!(value(&samples, m::CHAIN_SOURCE.name, &chosen("imds")), Some(1.0));
    assert_eq!(exposition::matching(&samples, m::CHAIN_SOURCE.name, &[]).len(), 1);
    assert_eq!(
        values.get(&key(m::CHAIN_SOURCE.name, &chosen("imds"))),
        Some(&Recorded::Gauge(1.0))
    );
    assert_eq!(
        values.get(&key(m::CHAIN_SOURCE.name, &chosen("env"))),
        Some(&Recorded::Gauge(0.0))
    );
}

#[test]
fn plain_sources_have_no_chain_series_and_resolve_to_themselves() {
    run_paused(|| async {
        let refresher = Refresher::builder()
            .clock(Arc::new(TokioClock::starting_at(t0())))
            .role("app", FakeSource::healthy(Some(HOUR)))
            .start_local()
            .unwrap();
        let handle = refresher.handle("app").unwrap();
        assert_eq!(handle.load().resolved_source(), "fake");
        let snapshot = handle.wait_ready(Duration::from_secs(5)).await.unwrap();
        assert_eq!(snapshot.resolved_source(), "fake");
        let samples = parse(&render(&refresher.prometheus_registry().unwrap()).unwrap());
        assert!(exposition::matching(&samples, m::CHAIN_SOURCE.name, &[]).is_empty());
    });
}
