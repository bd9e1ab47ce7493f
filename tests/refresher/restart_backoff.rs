//! The supervisor's restart backoff: it grows to its cap and stays there
//! while the refresher keeps dying, and starts over only after the
//! refresher ran healthy (a success, and at least the cap without dying).
//! Jitter 0, paused Tokio time.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use credrefresh::clock::{Clock, TokioClock};
use credrefresh::{Credentials, FetchContext, FetchFuture, RefreshEventKind, Source};

use crate::common::fake::{FakeSource, Step};
use crate::common::{next_event, run_paused};
use crate::pinned::{pinned, ready_app};

const HOUR: Duration = Duration::from_secs(3600);
const LONG: Duration = Duration::from_secs(10 * 24 * 3600);

fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_370_400)
}

/// Succeeds once, then every fetch runs ten seconds and panics.
#[derive(Clone, Default)]
struct SlowPanic {
    fetches: Arc<AtomicUsize>,
}

impl Source for SlowPanic {
    fn name(&self) -> &'static str {
        "slow-panic"
    }

    fn fetch(&self, ctx: FetchContext) -> FetchFuture<'_> {
        let n = self.fetches.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            if n == 0 {
                let now = ctx.now();
                return Ok(Credentials::builder("ASIASLOWPANIC001", "slow-panic-secret", now)
                    .expiry(now + HOUR)
                    .build()
                    .unwrap());
            }
            tokio::time::sleep(Duration::from_secs(10)).await;
            panic!("scripted panic after ten seconds");
        })
    }
}

#[test]
fn the_restart_backoff_stays_at_its_cap_while_the_refresher_keeps_dying() {
    run_paused(|| async {
        let clock = Arc::new(TokioClock::starting_at(t0()));
        let (_refresher, handle) = ready_app(pinned(clock.clone(), 0.0), SlowPanic::default()).await;
        let mut died_at = Vec::new();
        for n in 1..=6u64 {
            handle.wait_for(LONG, |s| s.restarts() >= n).await.unwrap();
            died_at.push(clock.now().duration_since(t0()).unwrap().as_secs());
        }
        let gaps: Vec<u64> = died_at.windows(2).map(|w| w[1] - w[0]).collect();
        // Each gap: the restart delay, then ten seconds of fetch. Delays
        // 1, 10, 100 s, then the 600 s cap (the default backoff),
        // kept: ten seconds of running without a success is not healthy
        // uptime.
        assert_eq!(gaps, [11, 20, 110, 610, 610]);
    });
}

#[test]
fn healthy_uptime_starts_the_restart_backoff_over() {
    run_paused(|| async {
        let clock = Arc::new(TokioClock::starting_at(t0()));
        let source = FakeSource::new([Step::Ok(Some(HOUR))], Step::Panic);
        let (_refresher, handle) = ready_app(pinned(clock.clone(), 0.0), source.clone()).await;
        // Panics right after restart: 1, 10, 100, 600 s, 600 s …
        handle.wait_for(LONG, |s| s.restarts() >= 9).await.unwrap();
        // The next start succeeds and runs its 45 minutes, then dies once.
        source.push([Step::Ok(Some(HOUR)), Step::Panic]);
        source.set_then(Step::Ok(Some(HOUR)));
        let mut events = handle.subscribe();
        next_event(&mut events, LONG, |k| matches!(k, RefreshEventKind::Refreshed { .. })).await;
        handle.wait_for(LONG, |s| s.restarts() >= 10).await.unwrap();
        let died = clock.now();
        next_event(&mut events, LONG, |k| matches!(k, RefreshEventKind::Refreshed { .. })).await;
        // Healthy for 45 minutes with a success: restarted after 1 s again.
        assert_eq!(clock.now().duration_since(died).unwrap(), Duration::from_secs(1));
    });
}
