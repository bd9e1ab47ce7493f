//! The refresher actor: one per role. Schedules, fetches, publishes, backs
//! off, extends.
//!
//! Order of work after a fetch returns:
//! 1. classify (an already-expired answer counts as a failure);
//! 2. build the next snapshot from the current one (the last good
//!    credentials are never dropped on failure);
//! 3. apply static stability if the credentials have expired;
//! 4. publish the snapshot, then the events, then the metrics;
//! 5. schedule the next fetch and the next expiry check.
//!
//! Timers sleep on Tokio's monotonic clock, while refresh times and
//! expiries are wall-clock times: no timer sleeps longer than
//! [`MAX_TIMER_SLICE`]; when a slice ends before its time, the wall clock
//! is read again and the wait planned anew, so a jump of the wall clock is
//! acted on within one slice. A refresh never waits longer than the delay
//! planned at first, so a clock stepped back does not hold up a retry.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use actix::prelude::*;

use super::spec::{ClockAndRandom, RoleSpec};
use crate::backoff::Backoff;
use crate::clock::format_rfc3339;
use crate::credentials::Credentials;
use crate::error::{ErrorClass, SourceError};
use crate::handle::{CredentialsState, LastError, RefreshEventKind, Shared, Snapshot};
use crate::metrics::RoleMetrics;
use crate::policy::{EXPIRED_STRICT_WARNING, EXTENSION_WARNING, MAX_TIMER_SLICE};
use crate::source::FetchContext;

/// Told to the supervisor when a refresher actor is dropped, for whatever
/// reason: a panic in a handler or in a source's fetch unwinds the actor's
/// task, and this notice is how the supervisor learns of it.
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct ChildExited {
    pub(super) role: Arc<str>,
    pub(super) id: u64,
}

/// Asks a refresher to stop (role removed, or shutdown).
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct Stop;

struct ExitNotice {
    role: Arc<str>,
    id: u64,
    supervisor: Option<Recipient<ChildExited>>,
}

impl Drop for ExitNotice {
    fn drop(&mut self) {
        if let Some(supervisor) = &self.supervisor {
            supervisor.do_send(ChildExited {
                role: self.role.clone(),
                id: self.id,
            });
        }
    }
}

pub(super) struct RefresherActor {
    spec: RoleSpec,
    injected: ClockAndRandom,
    metrics: RoleMetrics,
    /// Boxed: only a failing role has one (it is most of the actor's size).
    backoff: Option<Box<Backoff>>,
    refresh_timer: Option<SpawnHandle>,
    /// When the planned refresh is due (wall clock), until it starts.
    refresh_due: Option<SystemTime>,
    expiry_timer: Option<SpawnHandle>,
    in_flight: bool,
    invalidations_seen: u64,
    _exit: ExitNotice,
}

impl RefresherActor {
    pub(super) fn new(
        id: u64,
        spec: RoleSpec,
        injected: ClockAndRandom,
        supervisor: Option<Recipient<ChildExited>>,
    ) -> Self {
        let metrics = RoleMetrics::new(spec.shared.clone());
        let invalidations_seen = spec.shared.invalidations.load(Ordering::Relaxed);
        Self {
            _exit: ExitNotice {
                role: spec.name.clone(),
                id,
                supervisor,
            },
            spec,
            injected,
            metrics,
            backoff: None,
            refresh_timer: None,
            refresh_due: None,
            expiry_timer: None,
            in_flight: false,
            invalidations_seen,
        }
    }

    fn shared(&self) -> &Shared {
        &self.spec.shared
    }

    fn now(&self) -> SystemTime {
        self.injected.clock.now()
    }

    /// Fetches at wall-clock time `at`, or once the delay to it, as seen
    /// now, has passed on the monotonic clock, whichever comes first:
    /// sleeping in slices of at most [`MAX_TIMER_SLICE`] and reading the
    /// wall clock again after each. A forward jump of the wall clock thus
    /// brings the fetch forward within a slice, and a backward step never
    /// delays it (a backoff delay stays a delay).
    fn schedule_refresh(&mut self, at: SystemTime, ctx: &mut Context<Self>) {
        let delay = at.duration_since(self.now()).unwrap_or(Duration::ZERO);
        self.refresh_due = Some(at);
        self.plan_refresh(at, delay, ctx);
        // A refresh now due before the expiry makes the expiry check
        // unneeded until it starts, one due after it makes it needed.
        self.schedule_expiry_check(ctx);
    }

    /// As [`schedule_refresh`](Self::schedule_refresh), with `budget` of
    /// monotonic time left at most.
    fn plan_refresh(&mut self, at: SystemTime, budget: Duration, ctx: &mut Context<Self>) {
        if let Some(timer) = self.refresh_timer.take() {
            ctx.cancel_future(timer);
        }
        let wait = at.duration_since(self.now()).unwrap_or(Duration::ZERO).min(budget);
        if wait.is_zero() {
            // Due now (an invalidation without cooldown, the first fetch): a
            // zero-delay timer would still wait for the timer wheel's next
            // 1 ms tick and cost the thread an extra sleep and wake-up.
            self.start_fetch(ctx);
            return;
        }
        self.refresh_timer = Some(if wait > MAX_TIMER_SLICE {
            ctx.run_later(MAX_TIMER_SLICE, move |act, ctx| {
                act.refresh_timer = None;
                act.plan_refresh(at, budget.saturating_sub(MAX_TIMER_SLICE), ctx);
            })
        } else {
            ctx.run_later(wait, |act, ctx| {
                act.refresh_timer = None;
                act.start_fetch(ctx);
            })
        });
    }

    fn schedule_expiry_check(&mut self, ctx: &mut Context<Self>) {
        if let Some(timer) = self.expiry_timer.take() {
            ctx.cancel_future(timer);
        }
        let snapshot = self.shared().snapshot.load();
        if snapshot.state == CredentialsState::Expired {
            return;
        }
        let Some(expiry) = snapshot.credentials().and_then(|c| c.expiry()) else {
            return;
        };
        // A refresh is planned before the expiry and none is in flight: it
        // starts first, and `start_fetch` plans the check then. One timer
        // per healthy role, not two (memory, and wake-ups of idle roles).
        // A jump of the wall clock past the expiry ends the refresh's slice
        // early, so the check still comes within one slice.
        if !self.in_flight && self.refresh_due.is_some_and(|at| at < expiry) {
            return;
        }
        // At most one slice: `on_expiry` checks the wall clock and, if the
        // credentials have not expired yet, plans the next check.
        let delay = expiry
            .duration_since(self.now())
            .unwrap_or(Duration::ZERO)
            .min(MAX_TIMER_SLICE);
        self.expiry_timer = Some(ctx.run_later(delay, |act, ctx| {
            act.expiry_timer = None;
            act.on_expiry(ctx);
        }));
    }

    fn start_fetch(&mut self, ctx: &mut Context<Self>) {
        if self.in_flight {
            return;
        }
        self.in_flight = true;
        self.refresh_due = None;
        // The fetch may outlast the credentials: check their expiry.
        self.schedule_expiry_check(ctx);
        let source = self.spec.source.clone();
        let fetch_ctx = FetchContext::new(self.spec.name.clone(), self.injected.clock.clone());
        let timeout = self.spec.policy.fetch_timeout;
        let started = self.now();
        let fetch = async move {
            match tokio::time::timeout(timeout, source.fetch(fetch_ctx)).await {
                Ok(result) => result,
                Err(_) => Err(SourceError::new(
                    ErrorClass::Timeout,
                    format!("the source did not answer within {} ms", timeout.as_millis()),
                )),
            }
        };
        ctx.spawn(fetch.into_actor(self).map(move |result, act, ctx| {
            act.in_flight = false;
            let took = act.now().duration_since(started).unwrap_or(Duration::ZERO);
            match result {
                Ok(credentials) if !credentials.is_expired_at(act.now()) => act.on_success(credentials, took, ctx),
                Ok(_) => act.on_failure(
                    SourceError::invalid_response("the source returned credentials that are already expired"),
                    took,
                    ctx,
                ),
                Err(error) => act.on_failure(error, took, ctx),
            }
        }));
    }

    fn on_success(&mut self, credentials: Credentials, took: Duration, ctx: &mut Context<Self>) {
        let now = self.now();
        let previous = self.shared().snapshot.load_full();
        // The first credentials of this refresher, or the first after
        // failures: spread over the steady state of the refresh cycle, so
        // that refreshers started (or recovered) together do not refresh
        // together (see `RefreshPolicy::first_refresh_at`).
        let first = previous.credentials.is_none() || previous.consecutive_failures > 0;
        let policy = &self.spec.policy;
        let random = &*self.injected.random;
        let next_refresh = if first {
            policy.first_refresh_after_success(now, credentials.expiry(), random)
        } else {
            policy.refresh_after_success(now, credentials.expiry(), random)
        };
        // At most two events: no vector to allocate.
        let refreshed = RefreshEventKind::Refreshed {
            expiry: credentials.expiry(),
        };
        let recovered = RefreshEventKind::Recovered {
            after_failures: previous.consecutive_failures,
        };
        let both = [refreshed, recovered];
        let events = if previous.consecutive_failures > 0 {
            &both[..]
        } else {
            &both[..1]
        };
        if previous.consecutive_failures > 0 {
            tracing::info!(
                role = %self.spec.name,
                source = self.spec.source.name(),
                after_failures = previous.consecutive_failures,
                "credentials refresh recovered"
            );
        }
        tracing::info!(
            role = %self.spec.name,
            source = self.spec.source.name(),
            access_key_id = credentials.access_key_id(),
            expiry = %credentials.expiry().map(format_rfc3339).unwrap_or_else(|| "none".into()),
            next_refresh = %format_rfc3339(next_refresh),
            "credentials refreshed"
        );
        // A chain's choice is a field (and series) of its own: the source
        // name, and so every metric label, stays the configured one.
        let resolved_source = self.spec.source.resolved_name();
        if let Some(chosen) = resolved_source.filter(|&c| previous.resolved_source != Some(c)) {
            tracing::info!(
                role = %self.spec.name,
                source = self.spec.source.name(),
                chosen,
                "credentials chain chose a source"
            );
            self.metrics.chain_choice(previous.resolved_source, chosen);
        }
        let snapshot = Snapshot {
            resolved_source: resolved_source.or(previous.resolved_source),
            credentials: Some(credentials),
            state: CredentialsState::Fresh,
            last_success: Some(now),
            next_refresh: Some(next_refresh),
            consecutive_failures: 0,
            ..(*previous).clone()
        };
        self.backoff = None;
        self.metrics.attempt(None, took);
        self.commit(snapshot, true, events, ctx);
        self.schedule_refresh(next_refresh, ctx);
    }

    fn on_failure(&mut self, error: SourceError, took: Duration, ctx: &mut Context<Self>) {
        let now = self.now();
        let class = error.class();
        let policy = &self.spec.policy;
        let random = &*self.injected.random;
        let delay = if class.retry_can_help() {
            self.backoff
                .get_or_insert_with(|| Box::new(Backoff::new(policy.backoff)))
                .next_delay(random)
        } else {
            policy.backoff.capped_delay(random)
        };
        let previous = self.shared().snapshot.load_full();
        let mut snapshot = (*previous).clone();
        snapshot.consecutive_failures += 1;
        snapshot.last_error = Some(LastError {
            class,
            message: error.to_string().into(),
            at: now,
        });
        snapshot.next_refresh = Some(now + delay);
        let mut events = vec![RefreshEventKind::Failed {
            class,
            consecutive_failures: snapshot.consecutive_failures,
        }];
        tracing::warn!(
            role = %self.spec.name,
            source = self.spec.source.name(),
            error_class = class.as_str(),
            consecutive_failures = snapshot.consecutive_failures,
            retry_in_ms = delay.as_millis() as u64,
            error = %error,
            "credentials refresh failed; serving the last good credentials"
        );
        events.extend(self.apply_expiry(&mut snapshot, now));
        self.metrics.attempt(Some(class), took);
        self.commit(snapshot, false, &events, ctx);
        self.schedule_refresh(now + delay, ctx);
    }

    /// Static stability: extends (or, in strict mode, marks expired)
    /// credentials that have actually expired. Returns the event to send.
    fn apply_expiry(&self, snapshot: &mut Snapshot, now: SystemTime) -> Option<RefreshEventKind> {
        let credentials = snapshot.credentials.clone()?;
        if !credentials.is_expired_at(now) || snapshot.state == CredentialsState::Expired {
            return None;
        }
        match self
            .spec
            .policy
            .extend(now, credentials.expiry(), &*self.injected.random)
        {
            Some(until) => {
                snapshot.credentials = Some(credentials.with_expiry(until));
                snapshot.state = CredentialsState::Extended;
                snapshot.extensions += 1;
                tracing::warn!(
                    role = %self.spec.name,
                    source = self.spec.source.name(),
                    extended_until = %format_rfc3339(until),
                    "{}", EXTENSION_WARNING
                );
                self.metrics.extension();
                Some(RefreshEventKind::Extended { until })
            }
            None => {
                snapshot.state = CredentialsState::Expired;
                tracing::warn!(role = %self.spec.name, source = self.spec.source.name(), "{}", EXPIRED_STRICT_WARNING);
                Some(RefreshEventKind::Expired)
            }
        }
    }

    fn on_expiry(&mut self, ctx: &mut Context<Self>) {
        let now = self.now();
        let mut snapshot = (*self.shared().snapshot.load_full()).clone();
        match self.apply_expiry(&mut snapshot, now) {
            Some(event) => self.commit(snapshot, false, &[event], ctx),
            // Not expired yet (a slice ended, or the timer fired a hair
            // early): check again.
            None => self.schedule_expiry_check(ctx),
        }
    }

    fn commit(
        &mut self,
        snapshot: Snapshot,
        new_credentials: bool,
        events: &[RefreshEventKind],
        ctx: &mut Context<Self>,
    ) {
        self.shared().publish(snapshot, new_credentials, events);
        self.metrics.snapshot(&self.shared().snapshot.load());
        self.schedule_expiry_check(ctx);
    }

    fn arm_invalidation(&mut self, ctx: &mut Context<Self>) {
        let shared = self.spec.shared.clone();
        ctx.spawn(
            async move { shared.invalidate.notified().await }
                .into_actor(self)
                .map(|(), act, ctx| {
                    act.on_invalidated(ctx);
                    act.arm_invalidation(ctx);
                }),
        );
    }

    fn on_invalidated(&mut self, ctx: &mut Context<Self>) {
        let calls = self.shared().invalidations.load(Ordering::Relaxed);
        self.metrics.invalidations(calls - self.invalidations_seen);
        self.invalidations_seen = calls;
        let snapshot = self.shared().snapshot.load_full();
        let bad = self.shared().invalidated_generation.load(Ordering::Acquire);
        // Already being replaced (a fetch in flight, or failures being
        // retried on their backoff), or the invalidation is about
        // credentials that were replaced since: nothing to do.
        if self.in_flight
            || snapshot.consecutive_failures > 0
            || snapshot.credentials.is_none()
            || bad < snapshot.credentials_generation
        {
            return;
        }
        let now = self.now();
        let at = self
            .spec
            .policy
            .invalidation_refresh_at(now, snapshot.last_success.unwrap_or(now));
        if snapshot.next_refresh.is_some_and(|next| next <= at) {
            return;
        }
        tracing::info!(role = %self.spec.name, source = self.spec.source.name(), "credentials invalidated by a reader; refreshing");
        let mut next = (*snapshot).clone();
        next.next_refresh = Some(at);
        self.shared().publish(next, false, &[]);
        // Only the planned refresh changed.
        self.metrics.next_refresh(at);
        self.schedule_refresh(at, ctx);
    }
}

impl Actor for RefresherActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.metrics.register();
        self.arm_invalidation(ctx);
        let snapshot = self.shared().snapshot.load_full();
        // A restarted actor keeps the schedule of the one it replaces when
        // that one was healthy; otherwise it fetches at once.
        let at = match snapshot.next_refresh {
            Some(at) if snapshot.credentials.is_some() && snapshot.consecutive_failures == 0 => at,
            _ => self.now(),
        };
        self.schedule_refresh(at, ctx);
        self.schedule_expiry_check(ctx);
    }
}

impl Handler<Stop> for RefresherActor {
    type Result = ();

    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}
