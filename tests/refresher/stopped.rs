//! A stopped refresher (role removed, `shutdown()`, refresher dropped):
//! its handles say so, waiters return `Stopped` at once, and credentials
//! are never usable past their expiry, with no actor left to mark them.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use credrefresh::clock::{Clock, FixedRandom, ManualClock, TokioClock};
use credrefresh::{RefreshEventKind, Refresher, WaitError};

use crate::clocks::SteppedClock;
use crate::common::fake::FakeSource;
use crate::common::run_paused;

const HOUR: Duration = Duration::from_secs(3600);
const LONG: Duration = Duration::from_secs(10 * 24 * 3600);

fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_370_400)
}

#[test]
fn removed_roles_say_stopped_and_never_serve_expired_credentials() {
    run_paused(|| async {
        let clock = Arc::new(SteppedClock::new(t0()));
        let refresher = Refresher::builder()
            .clock(clock.clone())
            .random(Arc::new(FixedRandom::new(0.0)))
            .start_local()
            .unwrap();
        let mut handles = Vec::new();
        for n in 0..1000 {
            let name = format!("role-{n}");
            handles.push(refresher.add_role(name, FakeSource::healthy(Some(HOUR))).unwrap());
        }
        for h in &handles {
            let snapshot = h.wait_ready(Duration::from_secs(5)).await.unwrap();
            assert!(!snapshot.is_stopped());
        }
        let mut events = handles[0].subscribe();
        for h in &handles {
            assert!(refresher.remove_role(&h.role()));
        }
        // Tokio's paused clock: it moves only if some wait sleeps.
        let monotonic = TokioClock::starting_at(t0());
        for h in &handles {
            // Nothing will ever be published again: waiters learn it at once
            // (as soon as the supervisor has stopped the actor).
            let err = h.wait_for(LONG, |s| s.generation() > 1_000_000).await.unwrap_err();
            assert_eq!(err, WaitError::Stopped);
            let snapshot = h.load();
            assert!(snapshot.is_stopped());
            assert_eq!(snapshot.next_refresh(), None);
            // Still usable until they expire.
            assert!(snapshot.usable_credentials().is_some());
        }
        assert_eq!(monotonic.now(), t0(), "the waits were not immediate");
        assert_eq!(events.recv().await.unwrap().kind, RefreshEventKind::Stopped);
        // Two hours later, with no actor left to mark them, the credentials
        // are past their expiry: not usable, and wait_ready says why.
        clock.jump(2 * HOUR);
        for h in &handles {
            let snapshot = h.load();
            assert!(snapshot.credentials().is_some(), "kept for inspection");
            assert!(snapshot.usable_credentials().is_none(), "{snapshot:?}");
            drop(snapshot);
            assert_eq!(h.wait_ready(LONG).await.unwrap_err(), WaitError::Stopped);
        }
        assert_eq!(monotonic.now(), t0());
    });
}

#[test]
fn shutdown_and_drop_stop_the_handles_at_once() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for drop_it in [false, true] {
        let clock = Arc::new(ManualClock::new(t0()));
        let refresher = Refresher::builder()
            .clock(clock.clone())
            .role("app", FakeSource::healthy(Some(HOUR)))
            .start()
            .unwrap();
        let handle = refresher.handle("app").unwrap();
        rt.block_on(handle.wait_ready(Duration::from_secs(10))).unwrap();
        if drop_it {
            drop(refresher);
        } else {
            refresher.shutdown();
        }
        // shutdown() joined the actor thread: no waiting for anything.
        assert!(handle.load().is_stopped());
        let err = rt
            .block_on(handle.wait_for(Duration::from_secs(60), |s| s.generation() > 1_000))
            .unwrap_err();
        assert_eq!(err, WaitError::Stopped);
        clock.advance(HOUR);
        assert!(handle.load().usable_credentials().is_none());
        assert_eq!(
            rt.block_on(handle.wait_ready(Duration::from_secs(60))).unwrap_err(),
            WaitError::Stopped
        );
    }
}

#[test]
fn shutting_down_a_local_refresher_stops_its_handles() {
    run_paused(|| async {
        let clock = Arc::new(SteppedClock::new(t0()));
        let refresher = Refresher::builder()
            .clock(clock.clone())
            .role("app", FakeSource::healthy(Some(HOUR)))
            .start_local()
            .unwrap();
        let handle = refresher.handle("app").unwrap();
        handle.wait_ready(Duration::from_secs(5)).await.unwrap();
        let mut events = handle.subscribe();
        refresher.shutdown();
        // The supervisor stops its actors on its next turn: the waiter is
        // woken by the last snapshot, with no time passing.
        let monotonic = TokioClock::starting_at(t0());
        let err = handle.wait_for(LONG, |s| s.generation() > 1_000).await.unwrap_err();
        assert_eq!(err, WaitError::Stopped);
        assert_eq!(monotonic.now(), t0());
        assert_eq!(events.recv().await.unwrap().kind, RefreshEventKind::Stopped);
        assert!(handle.load().is_stopped());
        clock.jump(HOUR);
        assert!(handle.load().usable_credentials().is_none());
        assert!(handle.load().credentials().is_some());
    });
}
