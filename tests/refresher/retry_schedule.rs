//! The retry schedules (`RefreshPolicy::retry_at`) as the actor runs them,
//! under paused Tokio time with jitter pinned to 0 (every draw gives the
//! earliest time): the default retries quickly, then ahead of expiry, then
//! on the backoff; the fleet preset paces its retries at the refresh
//! interval; a start without credentials retries on the backoff either way.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use credrefresh::clock::{Clock, FixedRandom, TokioClock};
use credrefresh::{CredentialsState, ErrorClass, RefreshEventKind, RefreshPolicy, Refresher};

use crate::common::fake::{FakeSource, Step};
use crate::common::{next_event, run_paused};

const HOUR: Duration = Duration::from_secs(3600);
const LONG: Duration = Duration::from_secs(10 * 24 * 3600);

fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_370_400)
}

/// Runs `policy` over `source` and returns, in milliseconds since the
/// start, when each of the first `failures` failures happened, when the
/// role recovered, and whether its credentials were extended meanwhile.
fn failures_then_recovery(
    policy: RefreshPolicy,
    source: FakeSource,
    failures: u32,
    ready: bool,
) -> (Vec<u128>, u128, bool) {
    let mut out = (Vec::new(), 0, false);
    run_paused(|| async {
        let clock = Arc::new(TokioClock::starting_at(t0()));
        let refresher = Refresher::builder()
            .clock(clock.clone())
            .random(Arc::new(FixedRandom::new(0.0)))
            .policy(policy)
            .role("app", source.clone())
            .start_local()
            .unwrap();
        let handle = refresher.handle("app").unwrap();
        let mut events = handle.subscribe();
        if ready {
            handle.wait_ready(Duration::from_secs(5)).await.unwrap();
        }
        let ms = || clock.now().duration_since(t0()).unwrap().as_millis();
        let mut failed_at = Vec::new();
        let mut extended = false;
        for n in 1..=failures {
            let ev = next_event(&mut events, LONG, |k| {
                matches!(k, RefreshEventKind::Failed { .. } | RefreshEventKind::Extended { .. })
            })
            .await;
            if matches!(ev.kind, RefreshEventKind::Extended { .. }) {
                extended = true;
                let ev = next_event(&mut events, LONG, |k| matches!(k, RefreshEventKind::Failed { .. })).await;
                assert_eq!(
                    ev.kind,
                    RefreshEventKind::Failed {
                        class: ErrorClass::Throttled,
                        consecutive_failures: n
                    }
                );
            }
            failed_at.push(ms());
        }
        let ev = next_event(&mut events, LONG, |k| {
            matches!(
                k,
                RefreshEventKind::Recovered { .. } | RefreshEventKind::Extended { .. }
            )
        })
        .await;
        if matches!(ev.kind, RefreshEventKind::Extended { .. }) {
            extended = true;
            next_event(&mut events, LONG, |k| matches!(k, RefreshEventKind::Recovered { .. })).await;
        }
        let snap = handle.load();
        assert_eq!(snap.state(), CredentialsState::Fresh);
        assert_eq!(snap.consecutive_failures(), 0);
        assert_eq!(source.fetches() as u32, failures + 1 + u32::from(ready));
        out = (failed_at, ms(), extended);
    });
    out
}

fn throttled(ok_first: bool, failures: usize) -> FakeSource {
    let mut steps = Vec::new();
    if ok_first {
        steps.push(Step::Ok(Some(HOUR)));
    }
    steps.extend(std::iter::repeat_n(Step::Fail(ErrorClass::Throttled), failures));
    FakeSource::new(steps, Step::Ok(Some(HOUR)))
}

#[test]
fn a_blip_is_fixed_ahead_of_expiry_without_extending() {
    // 1 h credentials, refreshed at 2700 s (900 s left). The refresh and
    // the quick retry 1 s later fail; the next try is at 75 % of the 899 s
    // left (674.25 s later), before the expiry at 3600 s, and succeeds.
    let (failed, recovered, extended) = failures_then_recovery(RefreshPolicy::default(), throttled(true, 2), 2, true);
    assert_eq!(failed, [2_700_000, 2_701_000]);
    assert_eq!(recovered, 3_375_250);
    assert!(!extended, "the credentials never expired");
}

#[test]
fn the_default_then_falls_back_on_the_backoff() {
    // As above, but STS stays down: after the retry ahead of expiry, the
    // backoff's third and fourth delays (100 s, 600 s); the credentials
    // expire at 3600 s meanwhile and are extended.
    let (failed, recovered, extended) = failures_then_recovery(RefreshPolicy::default(), throttled(true, 4), 4, true);
    assert_eq!(failed, [2_700_000, 2_701_000, 3_375_250, 3_475_250]);
    assert_eq!(recovered, 4_075_250);
    assert!(extended);
}

#[test]
fn the_fleet_preset_paces_its_retries_at_the_refresh_interval() {
    // After the quick retry, every 0.7 × 2475 s = 1732.5 s (the mean
    // refresh interval of 1 h credentials), valid credentials or not.
    let (failed, recovered, extended) = failures_then_recovery(RefreshPolicy::fleet(), throttled(true, 3), 3, true);
    assert_eq!(failed, [2_700_000, 2_701_000, 4_433_500]);
    assert_eq!(recovered, 6_166_000);
    assert!(extended);
}

#[test]
fn a_start_without_credentials_retries_on_the_backoff_under_any_schedule() {
    for policy in [RefreshPolicy::default(), RefreshPolicy::fleet()] {
        let (failed, recovered, _) = failures_then_recovery(policy, throttled(false, 3), 3, false);
        // 1 s, 10 s, 100 s.
        assert_eq!(failed, [0, 1_000, 11_000]);
        assert_eq!(recovered, 111_000);
    }
}
