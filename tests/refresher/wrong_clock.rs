//! A wall clock that jumps or is wrong: the refresher notices a jump
//! within one timer slice, and a clock off by nearly the session length
//! does not make it fetch in a loop.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use credrefresh::clock::{Clock, TokioClock};
use credrefresh::policy::{DEFAULT_MIN_REFRESH_INTERVAL, MAX_TIMER_SLICE};
use credrefresh::{ErrorClass, RefreshEventKind};

use crate::clocks::SteppedClock;
use crate::common::fake::{FakeSource, Step};
use crate::common::{next_event, run_paused};
use crate::pinned::{pinned, ready_app};

const HOUR: Duration = Duration::from_secs(3600);

fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_370_400)
}

#[test]
fn a_two_hour_jump_of_the_wall_clock_is_noticed_within_one_timer_slice() {
    run_paused(|| async {
        let clock = Arc::new(SteppedClock::new(t0()));
        let source = FakeSource::healthy(Some(HOUR));
        let (_refresher, handle) = ready_app(pinned(clock.clone(), 0.0), source.clone()).await;
        let mut events = handle.subscribe();
        // Ten minutes in (the refresh is planned at 45 min), the laptop
        // sleeps for two hours: the monotonic clock does not see it.
        tokio::time::sleep(Duration::from_secs(600)).await;
        clock.jump(2 * HOUR);
        // Tokio's (monotonic) clock, which the jump does not move.
        let monotonic = TokioClock::starting_at(t0());
        // Before the refresher notices, readers already get no expired
        // credentials (the snapshot still says fresh).
        assert!(handle.load().usable_credentials().is_none());
        assert!(handle.load().credentials().is_some());
        next_event(&mut events, MAX_TIMER_SLICE, |k| {
            matches!(k, RefreshEventKind::Refreshed { .. })
        })
        .await;
        let noticed_after = monotonic.now().duration_since(t0()).unwrap();
        assert!(noticed_after <= MAX_TIMER_SLICE, "{noticed_after:?}");
        let snapshot = handle.load();
        assert_eq!(source.fetches(), 2);
        assert_eq!(snapshot.credentials().unwrap().access_key_id(), "ASIAFAKE00000002");
        assert_eq!(snapshot.credentials().unwrap().expiry(), Some(clock.now() + HOUR));
        assert!(snapshot.usable_credentials().is_some());
    });
}

#[test]
fn a_clock_stepped_back_does_not_delay_a_retry() {
    run_paused(|| async {
        let clock = Arc::new(SteppedClock::new(t0()));
        let source = FakeSource::new(
            [Step::Ok(Some(HOUR)), Step::Fail(ErrorClass::Denied)],
            Step::Ok(Some(HOUR)),
        );
        let (_refresher, handle) = ready_app(pinned(clock.clone(), 0.0), source.clone()).await;
        let mut events = handle.subscribe();
        next_event(&mut events, 2 * HOUR, |k| matches!(k, RefreshEventKind::Failed { .. })).await;
        // The retry is due in 600 s (the backoff cap, for an error retrying
        // cannot fix); the wall clock is stepped back 2 hours meanwhile. A
        // delay is monotonic time: the retry does not wait 2 hours more.
        clock.step_back(2 * HOUR);
        let monotonic = TokioClock::starting_at(t0());
        next_event(&mut events, HOUR, |k| matches!(k, RefreshEventKind::Recovered { .. })).await;
        assert_eq!(monotonic.now().duration_since(t0()).unwrap(), Duration::from_secs(600));
        assert_eq!(source.fetches(), 3);
    });
}

#[test]
fn credentials_that_always_expire_a_second_from_now_are_not_fetched_in_a_loop() {
    run_paused(|| async {
        // A local clock nearly a session ahead of the issuer's: every
        // session looks one second long.
        let clock = Arc::new(TokioClock::starting_at(t0()));
        let source = FakeSource::healthy(Some(Duration::from_secs(1)));
        let (_refresher, _handle) = ready_app(pinned(clock.clone(), 0.0), source.clone()).await;
        // Ten minutes of it (moving Tokio's paused clock, nothing to settle).
        tokio::time::sleep(Duration::from_secs(600)).await;
        let fetches = source.fetches();
        // One at start, then one a minute at most.
        assert_eq!(DEFAULT_MIN_REFRESH_INTERVAL, Duration::from_secs(60));
        assert!(fetches <= 11, "{fetches} fetches in 10 minutes");
        assert!(fetches >= 10, "{fetches}: it must keep refreshing");
    });
}
