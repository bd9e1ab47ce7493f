//! Refresher actor behaviour under paused Tokio time: schedule, backoff,
//! static stability, recovery, restart after a panic, invalidation storms,
//! roles added and removed at run time. No test waits on the wall clock.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use credrefresh::backoff::BackoffConfig;
use credrefresh::clock::{Clock, FixedRandom, TokioClock};
use credrefresh::policy::{DEFAULT_EXTENSION_JITTER, DEFAULT_EXTENSION_MIN, EXTENSION_WARNING, RetrySchedule};
use credrefresh::{CredentialsState, ErrorClass, RefreshEventKind, RefreshPolicy, Refresher, RefresherBuilder};

use crate::common::fake::{FakeSource, Step};
use crate::common::{next_event, run_paused};
use crate::pinned::pinned;

const HOUR: Duration = Duration::from_secs(3600);
const LONG: Duration = Duration::from_secs(10 * 24 * 3600);

fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_370_400)
}

/// A builder on Tokio's paused clock with jitter pinned to `u`.
fn builder(u: f64) -> (RefresherBuilder, Arc<TokioClock>) {
    let clock = Arc::new(TokioClock::starting_at(t0()));
    (pinned(clock.clone(), u), clock)
}

fn since_t0(clock: &TokioClock) -> Duration {
    clock.now().duration_since(t0()).unwrap()
}

#[test]
fn refreshes_on_schedule_ahead_of_expiry() {
    run_paused(|| async {
        let source = FakeSource::healthy(Some(HOUR));
        let (b, clock) = builder(0.0);
        let refresher = b.role("app", source.clone()).start_local().unwrap();
        let handle = refresher.handle("app").unwrap();
        let first = handle.wait_ready(Duration::from_secs(5)).await.unwrap();
        let mut events = handle.subscribe();
        assert_eq!(first.state(), CredentialsState::Fresh);
        assert_eq!(first.credentials().unwrap().access_key_id(), "ASIAFAKE00000001");
        // 3600 s lifetime: window 900 s, no jitter → refresh at 2700 s.
        assert_eq!(first.next_refresh(), Some(t0() + Duration::from_secs(2700)));

        for n in 2..=4u64 {
            next_event(&mut events, LONG, |k| matches!(k, RefreshEventKind::Refreshed { .. })).await;
            assert_eq!(since_t0(&clock), Duration::from_secs(2700 * (n - 1)));
            assert_eq!(
                handle.load().credentials().unwrap().access_key_id(),
                format!("ASIAFAKE{n:08}")
            );
        }
        assert_eq!(source.fetches(), 4);
    });
}

#[test]
fn jitter_moves_the_refresh_earlier_within_the_window() {
    run_paused(|| async {
        let (b, clock) = builder(0.5);
        let refresher = b.role("app", FakeSource::healthy(Some(HOUR))).start_local().unwrap();
        let handle = refresher.handle("app").unwrap();
        let snap = handle.wait_ready(Duration::from_secs(5)).await.unwrap();
        let mut events = handle.subscribe();
        // The first refresh is spread over the steady state of the cycle
        // (`first_refresh_after_success`), earlier than `refresh_at`.
        let policy = RefreshPolicy::default();
        let half = FixedRandom::new(0.5);
        let first = policy.first_refresh_after_success(t0(), Some(t0() + HOUR), &half);
        assert_eq!(snap.next_refresh(), Some(first));
        assert!(first < policy.refresh_at(t0(), Some(t0() + HOUR), &half));
        // Later ones: 900 s window + 0.5 × 0.5 × 900 s of jitter before expiry.
        next_event(&mut events, LONG, |k| matches!(k, RefreshEventKind::Refreshed { .. })).await;
        let refreshed = clock.now();
        assert_eq!(refreshed, first);
        assert_eq!(
            handle.load().next_refresh(),
            Some(refreshed + Duration::from_secs(3600 - 900 - 225))
        );
    });
}

#[test]
fn the_first_refresh_after_a_recovery_is_spread_too() {
    run_paused(|| async {
        let source = FakeSource::new(
            [Step::Ok(Some(HOUR)), Step::Fail(ErrorClass::Throttled)],
            Step::Ok(Some(HOUR)),
        );
        let (b, clock) = builder(0.5);
        let refresher = b.role("app", source).start_local().unwrap();
        let handle = refresher.handle("app").unwrap();
        let mut events = handle.subscribe();
        handle.wait_ready(Duration::from_secs(5)).await.unwrap();
        next_event(&mut events, LONG, |k| matches!(k, RefreshEventKind::Recovered { .. })).await;
        let policy = RefreshPolicy::default();
        let half = FixedRandom::new(0.5);
        let now = clock.now();
        assert_eq!(
            handle.load().next_refresh(),
            Some(policy.first_refresh_after_success(now, Some(now + HOUR), &half))
        );
    });
}

#[test]
fn failures_back_off_exponentially_then_recover() {
    // The backoff alone (`RetrySchedule::Backoff`), doubling from 1 s: the
    // default before 0.2, kept as a setting.
    run_paused(|| async {
        let fail = Step::Fail(ErrorClass::Throttled);
        let source = FakeSource::new(
            [
                Step::Ok(Some(HOUR)),
                fail.clone(),
                fail.clone(),
                fail.clone(),
                fail.clone(),
                fail,
            ],
            Step::Ok(Some(HOUR)),
        );
        let (b, clock) = builder(0.0);
        let policy = RefreshPolicy::default()
            .retry_schedule(RetrySchedule::Backoff)
            .backoff(BackoffConfig::default().multiplier(2.0).max(Duration::from_secs(120)));
        let refresher = b.policy(policy).role("app", source.clone()).start_local().unwrap();
        let handle = refresher.handle("app").unwrap();
        handle.wait_ready(Duration::from_secs(5)).await.unwrap();
        let mut events = handle.subscribe();

        let mut failed_at = Vec::new();
        for n in 1..=5u32 {
            let ev = next_event(&mut events, LONG, |k| matches!(k, RefreshEventKind::Failed { .. })).await;
            assert_eq!(
                ev.kind,
                RefreshEventKind::Failed {
                    class: ErrorClass::Throttled,
                    consecutive_failures: n
                }
            );
            failed_at.push(since_t0(&clock).as_secs());
            let snap = handle.load();
            // The last good credentials stay, fresh (not expired yet).
            assert_eq!(snap.state(), CredentialsState::Fresh);
            assert_eq!(snap.credentials().unwrap().access_key_id(), "ASIAFAKE00000001");
            assert_eq!(snap.last_error_class(), Some(ErrorClass::Throttled));
            assert_eq!(snap.consecutive_failures(), n);
        }
        // First failure at the scheduled refresh (2700 s), then 1, 2, 4, 8 s apart.
        assert_eq!(failed_at, [2700, 2701, 2703, 2707, 2715]);
        let ev = next_event(&mut events, LONG, |k| matches!(k, RefreshEventKind::Recovered { .. })).await;
        assert_eq!(ev.kind, RefreshEventKind::Recovered { after_failures: 5 });
        assert_eq!(since_t0(&clock).as_secs(), 2715 + 16);
        let snap = handle.load();
        assert_eq!(snap.state(), CredentialsState::Fresh);
        assert_eq!(snap.consecutive_failures(), 0);
        assert_eq!(snap.credentials().unwrap().access_key_id(), "ASIAFAKE00000007");
        // The error stays visible for inspection after recovery.
        assert_eq!(snap.last_error_class(), Some(ErrorClass::Throttled));
    });
}

#[test]
fn errors_retrying_cannot_fix_wait_at_the_cap_and_stay_visible() {
    run_paused(|| async {
        let source = FakeSource::new([], Step::Fail(ErrorClass::Denied));
        let (b, clock) = builder(0.0);
        let refresher = b.role("app", source.clone()).start_local().unwrap();
        let handle = refresher.handle("app").unwrap();
        let mut events = handle.subscribe();
        for n in 1..=3u64 {
            next_event(&mut events, LONG, |k| matches!(k, RefreshEventKind::Failed { .. })).await;
            assert_eq!(since_t0(&clock).as_secs(), 600 * (n - 1));
        }
        let snap = handle.load();
        assert_eq!(snap.state(), CredentialsState::NotLoaded);
        assert_eq!(snap.last_error_class(), Some(ErrorClass::Denied));
        assert!(snap.last_error().unwrap().message.contains("scripted denied failure"));
        let err = handle.wait_ready(Duration::from_secs(1)).await.unwrap_err();
        assert_eq!(
            err,
            credrefresh::WaitError::TimedOut {
                last_error: Some(ErrorClass::Denied)
            }
        );
    });
}

/// Captures what the crate logs, for asserting warning texts.
fn capture_logs() -> (tracing::subscriber::DefaultGuard, Arc<std::sync::Mutex<Vec<u8>>>) {
    #[derive(Clone)]
    struct Buf(Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Arc::new(std::sync::Mutex::new(Vec::new()));
    let writer = Buf(buf.clone());
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .finish();
    (tracing::subscriber::set_default(subscriber), buf)
}

#[test]
fn expired_credentials_are_extended_while_the_source_is_down() {
    let (_guard, logs) = capture_logs();
    run_paused(|| async {
        let source = FakeSource::new([Step::Ok(Some(HOUR))], Step::Fail(ErrorClass::Retryable));
        let (b, clock) = builder(0.5);
        let refresher = b.role("app", source.clone()).start_local().unwrap();
        let handle = refresher.handle("app").unwrap();
        handle.wait_ready(Duration::from_secs(5)).await.unwrap();
        let mut events = handle.subscribe();
        let expiry = t0() + HOUR;

        let ev = next_event(&mut events, LONG, |k| matches!(k, RefreshEventKind::Extended { .. })).await;
        // Extended exactly at expiry, never before.
        assert_eq!(clock.now(), expiry);
        let RefreshEventKind::Extended { until } = ev.kind else {
            unreachable!()
        };
        // 5 min + 0.5 × 10 min.
        assert_eq!(until, expiry + Duration::from_secs(600));
        let snap = handle.load();
        assert_eq!(snap.state(), CredentialsState::Extended);
        assert_eq!(snap.extensions(), 1);
        assert_eq!(snap.credentials().unwrap().access_key_id(), "ASIAFAKE00000001");
        assert_eq!(snap.credentials().unwrap().expiry(), Some(until));
        assert!(snap.usable_credentials().is_some());
        drop(snap);

        // Still failing when the extension runs out: extended again.
        let ev = next_event(&mut events, LONG, |k| matches!(k, RefreshEventKind::Extended { .. })).await;
        assert_eq!(clock.now(), until);
        let RefreshEventKind::Extended { until: again } = ev.kind else {
            unreachable!()
        };
        let span = again.duration_since(until).unwrap();
        assert!(span >= DEFAULT_EXTENSION_MIN && span <= DEFAULT_EXTENSION_MIN + DEFAULT_EXTENSION_JITTER);
        assert_eq!(handle.load().extensions(), 2);

        // The source comes back: fresh credentials, recovered.
        source.set_then(Step::Ok(Some(HOUR)));
        next_event(&mut events, LONG, |k| matches!(k, RefreshEventKind::Recovered { .. })).await;
        let snap = handle.load();
        assert_eq!(snap.state(), CredentialsState::Fresh);
        assert_ne!(snap.credentials().unwrap().access_key_id(), "ASIAFAKE00000001");
    });
    let logs = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    assert_eq!(logs.matches(EXTENSION_WARNING).count(), 2, "{logs}");
    assert!(!logs.contains("fake-secret-for"), "a secret reached the log");
    assert!(!logs.contains("fake-token-"), "a session token reached the log");
}

#[test]
fn strict_mode_marks_expired_instead_of_extending() {
    run_paused(|| async {
        let source = FakeSource::new([Step::Ok(Some(HOUR))], Step::Fail(ErrorClass::Retryable));
        let (b, clock) = builder(0.0);
        let refresher = b
            .policy(RefreshPolicy::default().strict(true))
            .role("app", source)
            .start_local()
            .unwrap();
        let handle = refresher.handle("app").unwrap();
        handle.wait_ready(Duration::from_secs(5)).await.unwrap();
        let mut events = handle.subscribe();
        next_event(&mut events, LONG, |k| matches!(k, RefreshEventKind::Expired)).await;
        assert_eq!(clock.now(), t0() + HOUR);
        let snap = handle.load();
        assert_eq!(snap.state(), CredentialsState::Expired);
        assert_eq!(snap.extensions(), 0);
        assert!(snap.usable_credentials().is_none());
        // Still published for inspection, with the original expiry.
        assert_eq!(snap.credentials().unwrap().expiry(), Some(t0() + HOUR));
    });
}

#[test]
fn fresh_credentials_are_never_extended() {
    run_paused(|| async {
        // Failing from well before expiry: no extension until expiry itself.
        let source = FakeSource::new([Step::Ok(Some(HOUR))], Step::Fail(ErrorClass::Timeout));
        let (b, clock) = builder(0.0);
        let refresher = b.role("app", source).start_local().unwrap();
        let handle = refresher.handle("app").unwrap();
        handle.wait_ready(Duration::from_secs(5)).await.unwrap();
        let mut events = handle.subscribe();
        loop {
            let ev = next_event(&mut events, LONG, |_| true).await;
            match ev.kind {
                RefreshEventKind::Failed { .. } => {
                    assert!(clock.now() < t0() + HOUR || handle.load().state() != CredentialsState::Fresh);
                    assert_eq!(handle.load().extensions(), 0);
                }
                RefreshEventKind::Extended { .. } => {
                    assert!(clock.now() >= t0() + HOUR);
                    break;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    });
}

#[test]
fn already_expired_answers_are_failures_and_keep_the_last_good_credentials() {
    run_paused(|| async {
        let source = FakeSource::new(
            [Step::Ok(Some(HOUR)), Step::Expired(Duration::from_secs(5))],
            Step::Ok(Some(HOUR)),
        );
        let (b, _clock) = builder(0.0);
        let refresher = b.role("app", source).start_local().unwrap();
        let handle = refresher.handle("app").unwrap();
        handle.wait_ready(Duration::from_secs(5)).await.unwrap();
        let mut events = handle.subscribe();
        let ev = next_event(&mut events, LONG, |k| matches!(k, RefreshEventKind::Failed { .. })).await;
        assert!(matches!(
            ev.kind,
            RefreshEventKind::Failed {
                class: ErrorClass::InvalidResponse,
                ..
            }
        ));
        let snap = handle.load();
        assert_eq!(snap.credentials().unwrap().access_key_id(), "ASIAFAKE00000001");
        assert!(snap.last_error().unwrap().message.contains("already expired"));
    });
}

#[test]
fn a_hung_source_times_out_and_readers_never_wait() {
    run_paused(|| async {
        let source = FakeSource::new([Step::Ok(Some(HOUR)), Step::Hang], Step::Ok(Some(HOUR)));
        let (b, clock) = builder(0.0);
        let refresher = b
            .policy(RefreshPolicy::default().fetch_timeout(Duration::from_secs(7)))
            .role("app", source)
            .start_local()
            .unwrap();
        let handle = refresher.handle("app").unwrap();
        handle.wait_ready(Duration::from_secs(5)).await.unwrap();
        let mut events = handle.subscribe();
        let ev = next_event(&mut events, LONG, |k| matches!(k, RefreshEventKind::Failed { .. })).await;
        assert_eq!(since_t0(&clock), Duration::from_secs(2700 + 7));
        assert!(matches!(
            ev.kind,
            RefreshEventKind::Failed {
                class: ErrorClass::Timeout,
                ..
            }
        ));
        // While the fetch hung, and now, reads return the good credentials.
        assert_eq!(handle.load().credentials().unwrap().access_key_id(), "ASIAFAKE00000001");
        next_event(&mut events, LONG, |k| matches!(k, RefreshEventKind::Recovered { .. })).await;
    });
}

/// A healthy role keeps one timer (its refresh, due before the expiry);
/// the expiry check is planned when the fetch starts, so credentials
/// expiring during a hung fetch are still extended at their expiry.
#[test]
fn credentials_expiring_during_a_hung_fetch_are_extended_at_their_expiry() {
    run_paused(|| async {
        let lifetime = Duration::from_secs(100);
        let source = FakeSource::new([Step::Ok(Some(lifetime)), Step::Hang], Step::Ok(Some(HOUR)));
        let (b, clock) = builder(0.0);
        let refresher = b
            .policy(RefreshPolicy::default().fetch_timeout(Duration::from_secs(60)))
            .role("app", source)
            .start_local()
            .unwrap();
        let handle = refresher.handle("app").unwrap();
        let first = handle.wait_ready(Duration::from_secs(5)).await.unwrap();
        // 100 s lifetime: window 25 s, no jitter → refresh at 75 s, which
        // hangs until the 60 s timeout, past the expiry at 100 s.
        assert_eq!(first.next_refresh(), Some(t0() + Duration::from_secs(75)));
        let mut events = handle.subscribe();
        let ev = next_event(&mut events, LONG, |k| {
            matches!(k, RefreshEventKind::Extended { .. } | RefreshEventKind::Failed { .. })
        })
        .await;
        assert!(matches!(ev.kind, RefreshEventKind::Extended { .. }), "{ev:?}");
        assert_eq!(since_t0(&clock), lifetime);
        assert_eq!(handle.load().state(), CredentialsState::Extended);
        next_event(&mut events, LONG, |k| matches!(k, RefreshEventKind::Recovered { .. })).await;
    });
}

#[test]
fn a_panicking_refresher_is_restarted_on_the_same_handle() {
    run_paused(|| async {
        let source = FakeSource::new([Step::Ok(Some(HOUR)), Step::Panic], Step::Ok(Some(HOUR)));
        let (b, clock) = builder(0.0);
        let refresher = b.role("app", source.clone()).start_local().unwrap();
        let handle = refresher.handle("app").unwrap();
        handle.wait_ready(Duration::from_secs(5)).await.unwrap();
        let mut events = handle.subscribe();

        // The second fetch panics; the supervisor restarts the refresher,
        // which fetches again on the same handle.
        let ev = next_event(&mut events, LONG, |k| matches!(k, RefreshEventKind::Refreshed { .. })).await;
        let snap = handle.load();
        assert_eq!(snap.restarts(), 1);
        assert_eq!(snap.credentials().unwrap().access_key_id(), "ASIAFAKE00000003");
        assert_eq!(snap.generation(), ev.generation);
        // Restart after the first backoff delay (1 s), counted from the panic at 2700 s.
        assert_eq!(since_t0(&clock).as_secs(), 2701);
        assert_eq!(source.fetches(), 3);
        drop(snap);
        // And it keeps refreshing on schedule afterwards.
        next_event(&mut events, LONG, |k| matches!(k, RefreshEventKind::Refreshed { .. })).await;
        assert_eq!(since_t0(&clock).as_secs(), 2701 + 2700);
    });
}

#[test]
fn an_invalidation_while_the_refresher_is_down_is_served_by_the_restart_once() {
    run_paused(|| async {
        let source = FakeSource::new([Step::Ok(Some(HOUR)), Step::Panic], Step::Ok(Some(HOUR)));
        let (b, clock) = builder(0.0);
        let refresher = b
            .policy(RefreshPolicy::default().invalidation_cooldown(Duration::ZERO))
            .role("app", source.clone())
            .start_local()
            .unwrap();
        let handle = refresher.handle("app").unwrap();
        handle.wait_ready(Duration::from_secs(5)).await.unwrap();
        let mut events = handle.subscribe();

        // The refresh at 2700 s panics; the restart comes 1 s later. A reader
        // rejects the credentials in between, while no actor runs.
        tokio::time::sleep(Duration::from_millis(2_700_500) - since_t0(&clock)).await;
        assert_eq!(source.fetches(), 2, "the panicking fetch happened");
        handle.invalidate();

        // The restarted refresher fetches once, at its restart, which also
        // answers the invalidation: no second fetch for it.
        let ev = next_event(&mut events, LONG, |k| matches!(k, RefreshEventKind::Refreshed { .. })).await;
        assert_eq!(since_t0(&clock).as_secs(), 2701);
        assert_eq!(handle.load().restarts(), 1);
        assert_eq!(handle.load().generation(), ev.generation);
        next_event(&mut events, LONG, |k| matches!(k, RefreshEventKind::Refreshed { .. })).await;
        assert_eq!(
            since_t0(&clock).as_secs(),
            2701 + 2700,
            "the next fetch is the scheduled one"
        );
        assert_eq!(source.fetches(), 4);
    });
}

#[test]
fn repeated_panics_are_restarted_with_growing_delays_and_credentials_survive() {
    run_paused(|| async {
        let source = FakeSource::new([Step::Ok(Some(HOUR))], Step::Panic);
        let (b, clock) = builder(0.0);
        let refresher = b.role("app", source.clone()).start_local().unwrap();
        let handle = refresher.handle("app").unwrap();
        handle.wait_ready(Duration::from_secs(5)).await.unwrap();
        // Restarts publish a snapshot each (no event): wait on the counter.
        let mut seen = Vec::new();
        for n in 1..=4u64 {
            handle.wait_for(LONG, |s| s.restarts() >= n).await.unwrap();
            seen.push(since_t0(&clock).as_secs());
        }
        // 2700 s: first panic; each restart fetches at once and panics again
        // after 1, 10, 100 s of restart backoff (the default backoff).
        assert_eq!(seen[0], 2700);
        assert_eq!(seen[1..], [2701, 2711, 2811]);
        let snap = handle.load();
        assert_eq!(snap.credentials().unwrap().access_key_id(), "ASIAFAKE00000001");
        assert_eq!(snap.state(), CredentialsState::Fresh);
    });
}

#[test]
fn an_invalidation_storm_causes_one_fetch() {
    run_paused(|| async {
        let source = FakeSource::healthy(Some(HOUR));
        let (b, clock) = builder(0.0);
        let refresher = b.role("app", source.clone()).start_local().unwrap();
        let handle = refresher.handle("app").unwrap();
        handle.wait_ready(Duration::from_secs(5)).await.unwrap();
        let mut events = handle.subscribe();
        assert_eq!(source.fetches(), 1);

        // 200 workers each reject the credentials 10 times.
        let mut tasks = Vec::new();
        for _ in 0..200 {
            let h = handle.clone();
            tasks.push(tokio::task::spawn_local(async move {
                for _ in 0..10 {
                    h.invalidate();
                    tokio::task::yield_now().await;
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        next_event(&mut events, LONG, |k| matches!(k, RefreshEventKind::Refreshed { .. })).await;
        // Served after the invalidation cooldown (5 s after issue).
        assert_eq!(since_t0(&clock).as_secs(), 5);
        assert_eq!(source.fetches(), 2);
        assert_eq!(handle.load().credentials().unwrap().access_key_id(), "ASIAFAKE00000002");

        // Nothing more until the normal schedule: 5 s + 2700 s.
        next_event(&mut events, LONG, |k| matches!(k, RefreshEventKind::Refreshed { .. })).await;
        assert_eq!(since_t0(&clock).as_secs(), 2705);
        assert_eq!(source.fetches(), 3);
    });
}

#[test]
fn a_late_rejection_of_the_rotated_key_causes_no_fetch() {
    run_paused(|| async {
        let source = FakeSource::healthy(Some(HOUR));
        let (b, clock) = builder(0.0);
        let refresher = b.role("app", source.clone()).start_local().unwrap();
        let handle = refresher.handle("app").unwrap();
        let first = handle.wait_ready(Duration::from_secs(5)).await.unwrap();
        let old = first.credentials().unwrap().clone();
        let mut events = handle.subscribe();
        // The scheduled rotation, at 2700 s.
        next_event(&mut events, LONG, |k| matches!(k, RefreshEventKind::Refreshed { .. })).await;
        assert_ne!(
            handle.load().credentials().unwrap().access_key_id(),
            old.access_key_id()
        );
        // Requests signed with the old key come back rejected after it.
        handle.invalidate_key(old.access_key_id());
        handle.invalidate_credentials(&old);
        // No fetch for them: the next one is the normal schedule.
        next_event(&mut events, LONG, |k| matches!(k, RefreshEventKind::Refreshed { .. })).await;
        assert_eq!(since_t0(&clock).as_secs(), 2 * 2700);
        assert_eq!(source.fetches(), 3);
        // Nor anything published for them.
        assert_eq!(handle.load().generation(), 3);
    });
}

#[test]
fn a_rejection_naming_the_current_key_refreshes_after_the_cooldown() {
    run_paused(|| async {
        let source = FakeSource::healthy(Some(HOUR));
        let (b, clock) = builder(0.0);
        let refresher = b.role("app", source.clone()).start_local().unwrap();
        let handle = refresher.handle("app").unwrap();
        let first = handle.wait_ready(Duration::from_secs(5)).await.unwrap();
        let mut events = handle.subscribe();
        handle.invalidate_key("ASIAUNKNOWNKEY00");
        handle.invalidate_credentials(first.credentials().unwrap());
        next_event(&mut events, LONG, |k| matches!(k, RefreshEventKind::Refreshed { .. })).await;
        // Served after the invalidation cooldown (5 s after issue).
        assert_eq!(since_t0(&clock).as_secs(), 5);
        assert_eq!(source.fetches(), 2);
    });
}

#[test]
fn invalidation_during_a_failure_run_does_not_defeat_backoff() {
    run_paused(|| async {
        let source = FakeSource::new(
            [Step::Ok(Some(HOUR)), Step::Fail(ErrorClass::Throttled)],
            Step::Ok(Some(HOUR)),
        );
        let (b, clock) = builder(0.0);
        let refresher = b.role("app", source.clone()).start_local().unwrap();
        let handle = refresher.handle("app").unwrap();
        handle.wait_ready(Duration::from_secs(5)).await.unwrap();
        let mut events = handle.subscribe();
        next_event(&mut events, LONG, |k| matches!(k, RefreshEventKind::Failed { .. })).await;
        for _ in 0..50 {
            handle.invalidate();
        }
        next_event(&mut events, LONG, |k| matches!(k, RefreshEventKind::Recovered { .. })).await;
        // The retry came on its backoff (1 s), not earlier and not twice.
        assert_eq!(since_t0(&clock).as_secs(), 2701);
        assert_eq!(source.fetches(), 3);
    });
}

#[test]
fn roles_are_added_and_removed_at_run_time() {
    run_paused(|| async {
        let first = FakeSource::healthy(Some(HOUR));
        let (b, _clock) = builder(0.0);
        let refresher = b.role("first", first.clone()).start_local().unwrap();
        refresher
            .handle("first")
            .unwrap()
            .wait_ready(Duration::from_secs(5))
            .await
            .unwrap();

        let second_source = FakeSource::healthy(Some(HOUR));
        let second = refresher.add_role("second", second_source.clone()).unwrap();
        let snap = second.wait_ready(Duration::from_secs(5)).await.unwrap();
        assert_eq!(snap.role(), "second");
        assert_eq!(snap.source(), "fake");
        assert_eq!(refresher.role_names(), ["first", "second"]);
        assert!(matches!(
            refresher.add_role("second", FakeSource::healthy(None)),
            Err(credrefresh::BuildError::DuplicateRole(_))
        ));
        assert!(matches!(
            refresher.add_role(" ", FakeSource::healthy(None)),
            Err(credrefresh::BuildError::EmptyRoleName)
        ));

        assert!(refresher.remove_role("second"));
        assert!(!refresher.remove_role("second"));
        assert!(refresher.handle("second").is_none());
        // The removed role's handle keeps its credentials, and no refresh
        // happens for it any more, while the other role goes on.
        let mut first_events = refresher.handle("first").unwrap().subscribe();
        let mut second_events = second.subscribe();
        for _ in 0..3 {
            next_event(&mut first_events, LONG, |k| {
                matches!(k, RefreshEventKind::Refreshed { .. })
            })
            .await;
        }
        // Its last event says it stopped; nothing after.
        assert_eq!(second_events.try_recv().unwrap().kind, RefreshEventKind::Stopped);
        assert!(second_events.try_recv().is_err());
        assert!(second.load().is_stopped());
        assert_eq!(second_source.fetches(), 1);
        assert_eq!(first.fetches(), 4);
        assert_eq!(second.load().credentials().unwrap().access_key_id(), "ASIAFAKE00000001");
    });
}

#[test]
fn credentials_without_expiry_are_reread_every_five_minutes() {
    run_paused(|| async {
        let source = FakeSource::healthy(None);
        let (b, clock) = builder(0.0);
        let refresher = b.role("env", source.clone()).start_local().unwrap();
        let handle = refresher.handle("env").unwrap();
        handle.wait_ready(Duration::from_secs(5)).await.unwrap();
        let mut events = handle.subscribe();
        next_event(&mut events, LONG, |k| matches!(k, RefreshEventKind::Refreshed { .. })).await;
        assert_eq!(since_t0(&clock).as_secs(), 300);
        assert_eq!(handle.load().state(), CredentialsState::Fresh);
    });
}

#[test]
fn invalid_policies_and_names_are_rejected_at_build_time() {
    let err = Refresher::builder()
        .policy(RefreshPolicy::default().window_fraction(0.9))
        .role("a", FakeSource::healthy(None))
        .start()
        .unwrap_err();
    assert!(matches!(err, credrefresh::BuildError::InvalidPolicy(_)), "{err}");
    let err = Refresher::builder()
        .role("a", FakeSource::healthy(None))
        .role("a", FakeSource::healthy(None))
        .start()
        .unwrap_err();
    assert!(matches!(err, credrefresh::BuildError::DuplicateRole(ref r) if r == "a"));
    let err = Refresher::builder()
        .role("a", FakeSource::healthy(None))
        .start_local()
        .unwrap_err();
    assert!(matches!(err, credrefresh::BuildError::NoActixSystem));
}
