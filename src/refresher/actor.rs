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
//!
//! # Memory
//! A server may run tens of thousands of roles, so an idle refresher is
//! kept small: its state is a few pointers (the actor is stored inline in
//! its Tokio task, whose allocation grows in steps of 128 bytes), and it
//! waits with one timer and one context future, whatever it waits for: the
//! next refresh, the expiry check and an invalidation from a reader (see
//! [`Wakeups`]). A fetch in flight is a future of its own while it runs.
//! The unit tests pin the sizes.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::Poll;
use std::time::{Duration, SystemTime};

use actix::prelude::*;
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

use super::spec::{ClockAndRandom, RoleSpec};
use crate::backoff::Backoff;
use crate::clock::{Clock, Random, format_rfc3339};
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

/// What every refresher of a supervisor shares: the injected clock and
/// random source and the supervisor to tell when a refresher is dropped.
/// One allocation for all of them, not one per role.
pub(super) struct ActorEnv {
    pub(super) clock: Arc<dyn Clock>,
    pub(super) random: Arc<dyn Random>,
    exits: Option<Recipient<ChildExited>>,
}

impl ActorEnv {
    pub(super) fn new(injected: ClockAndRandom, exits: Option<Recipient<ChildExited>>) -> Self {
        Self {
            clock: injected.clock,
            random: injected.random,
            exits,
        }
    }
}

pin_project! {
    /// The refresher's one timer and the refresh it plans, in one
    /// allocation: pinned, as a `Sleep` must be, and reset in place.
    struct Timer {
        #[pin]
        sleep: Sleep,
        // When the planned refresh is due (wall clock), until it starts.
        refresh_due: Option<SystemTime>,
        // When the planned refresh starts at the latest, whatever the wall
        // clock says (monotonic clock): the delay planned at first. None
        // when that is past what an `Instant` holds.
        refresh_by: Option<Instant>,
    }
}

/// The monotonic clock the timers sleep on. Only timers read it; every
/// decision about time reads the injected clock.
#[allow(clippy::disallowed_methods)]
fn monotonic_now() -> Instant {
    Instant::now()
}

pub(super) struct RefresherActor {
    spec: RoleSpec,
    injected: Arc<ActorEnv>,
    timer: Pin<Box<Timer>>,
    /// Boxed: only a failing role has one.
    backoff: Option<Box<Backoff>>,
    /// Which incarnation of the role's refresher this is, for the supervisor.
    id: u64,
    invalidations_seen: u64,
    /// The highest generation invalidated by a reader that this actor has
    /// looked at. Starts at 0: an invalidation not handled before a
    /// restart is handled by the new actor (`on_invalidated` does nothing
    /// for one already handled).
    invalidation_handled: u64,
    in_flight: bool,
}

/// Tells the supervisor when the actor is dropped, for whatever reason: a
/// panic in a handler or in a source's fetch unwinds the actor's task, and
/// this notice is how the supervisor learns of it.
impl Drop for RefresherActor {
    fn drop(&mut self) {
        if let Some(supervisor) = &self.injected.exits {
            supervisor.do_send(ChildExited {
                role: self.spec.name.clone(),
                id: self.id,
            });
        }
    }
}

/// The actor's one long-lived context future: it holds nothing (so it
/// costs no allocation) and, each time the actor's task wakes, takes a
/// pending invalidation and polls the actor's timer.
struct Wakeups;

impl ActorFuture<RefresherActor> for Wakeups {
    type Output = ();

    fn poll(
        self: Pin<&mut Self>,
        act: &mut RefresherActor,
        ctx: &mut Context<RefresherActor>,
        task: &mut std::task::Context<'_>,
    ) -> Poll<()> {
        act.poll_wakeups(ctx, task)
    }
}

impl RefresherActor {
    pub(super) fn new(id: u64, spec: RoleSpec, injected: Arc<ActorEnv>) -> Self {
        let invalidations_seen = spec.shared.invalidations.load(Ordering::Relaxed);
        Self {
            spec,
            injected,
            // Set for real when the actor starts (`schedule_refresh`).
            timer: Box::pin(Timer {
                sleep: tokio::time::sleep(MAX_TIMER_SLICE),
                refresh_due: None,
                refresh_by: None,
            }),
            backoff: None,
            id,
            invalidations_seen,
            invalidation_handled: 0,
            in_flight: false,
        }
    }

    fn shared(&self) -> &Shared {
        &self.spec.shared
    }

    /// Made when needed: a copy in every actor would cost each role its size.
    fn metrics(&self) -> RoleMetrics {
        RoleMetrics::new(self.spec.shared.clone())
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
        let timer = self.timer.as_mut().project();
        *timer.refresh_due = Some(at);
        *timer.refresh_by = monotonic_now().checked_add(delay);
        self.plan(ctx);
    }

    /// Starts the planned refresh if it is due; otherwise sets the timer
    /// for the earliest of: the planned refresh, the end of its monotonic
    /// delay, the expiry check, the end of a [`MAX_TIMER_SLICE`]. One timer
    /// for all of them (memory, and wake-ups of idle roles).
    fn plan(&mut self, ctx: &mut Context<Self>) {
        let now = self.now();
        let mono = monotonic_now();
        let mut wait = MAX_TIMER_SLICE;
        // A fetch in flight plans the next refresh when it ends.
        if let Some(at) = self.timer.refresh_due.filter(|_| !self.in_flight) {
            let mut refresh_in = at.duration_since(now).unwrap_or(Duration::ZERO);
            if let Some(by) = self.timer.refresh_by {
                refresh_in = refresh_in.min(by.saturating_duration_since(mono));
            }
            if refresh_in.is_zero() {
                // Due now (an invalidation without cooldown, the first
                // fetch): a zero-delay timer would still wait for the timer
                // wheel's next 1 ms tick and cost the thread an extra sleep
                // and wake-up. `start_fetch` plans again.
                self.start_fetch(ctx);
                return;
            }
            wait = wait.min(refresh_in);
        }
        if let Some(expiry) = self.expiry_to_check() {
            // At most one slice: `on_timer` checks the wall clock and, if
            // the credentials have not expired yet, plans the next check.
            wait = wait.min(expiry.duration_since(now).unwrap_or(Duration::ZERO));
        }
        self.timer.as_mut().project().sleep.reset(mono + wait);
    }

    /// The expiry of the credentials, when the timer must check it: they
    /// have an expiry, are not marked expired yet, and no refresh is
    /// planned before it. A refresh planned before the expiry, none in
    /// flight, starts first, and `start_fetch` plans the check then. A
    /// jump of the wall clock past the expiry ends the refresh's slice
    /// early, so the check still comes within one slice.
    fn expiry_to_check(&self) -> Option<SystemTime> {
        let snapshot = self.shared().snapshot.load();
        if snapshot.state == CredentialsState::Expired {
            return None;
        }
        let expiry = snapshot.credentials().and_then(|c| c.expiry())?;
        if !self.in_flight && self.timer.refresh_due.is_some_and(|at| at < expiry) {
            return None;
        }
        Some(expiry)
    }

    /// What the actor's task does when it wakes (see [`Wakeups`]): takes
    /// a pending invalidation, then acts on the timer until it is set for
    /// later.
    fn poll_wakeups(&mut self, ctx: &mut Context<Self>, task: &mut std::task::Context<'_>) -> Poll<()> {
        loop {
            // Registered before the generation is read: an invalidation
            // after the read wakes the task again.
            self.shared().refresher.register(task.waker());
            let invalidated = self.shared().invalidated_generation.load(Ordering::Acquire);
            if invalidated > self.invalidation_handled {
                self.invalidation_handled = invalidated;
                self.on_invalidated(ctx);
            }
            if self.timer.as_mut().project().sleep.poll(task).is_pending() {
                return Poll::Pending;
            }
            // `on_timer` always sets the timer again.
            self.on_timer(ctx);
        }
    }

    /// The timer fired: checks the expiry, starts the refresh if it is due,
    /// and sets the timer again.
    fn on_timer(&mut self, ctx: &mut Context<Self>) {
        if self.expiry_to_check().is_some() {
            let now = self.now();
            let mut snapshot = (*self.shared().snapshot.load_full()).clone();
            if let Some(event) = self.apply_expiry(&mut snapshot, now) {
                self.commit(snapshot, false, &[event]);
            }
        }
        // Not expired yet (a slice ended, or the timer fired a hair early):
        // `plan` sets the next check, or starts the refresh if it is due.
        self.plan(ctx);
    }

    fn start_fetch(&mut self, ctx: &mut Context<Self>) {
        if self.in_flight {
            return;
        }
        self.in_flight = true;
        let timer = self.timer.as_mut().project();
        *timer.refresh_due = None;
        *timer.refresh_by = None;
        // The fetch may outlast the credentials: check their expiry.
        self.plan(ctx);
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
        let previous_source = previous.rare().resolved_source;
        if let Some(chosen) = resolved_source.filter(|&c| previous_source != Some(c)) {
            tracing::info!(
                role = %self.spec.name,
                source = self.spec.source.name(),
                chosen,
                "credentials chain chose a source"
            );
            self.metrics().chain_choice(previous_source, chosen);
        }
        let mut snapshot = Snapshot {
            credentials: Some(credentials),
            state: CredentialsState::Fresh,
            last_success: Some(now),
            next_refresh: Some(next_refresh),
            consecutive_failures: 0,
            ..(*previous).clone()
        };
        if let Some(chosen) = resolved_source {
            snapshot.rare_mut().resolved_source = Some(chosen);
        }
        self.backoff = None;
        self.metrics().attempt(None, took);
        self.commit(snapshot, true, events);
        self.schedule_refresh(next_refresh, ctx);
    }

    fn on_failure(&mut self, error: SourceError, took: Duration, ctx: &mut Context<Self>) {
        let now = self.now();
        let class = error.class();
        let policy = &self.spec.policy;
        let random = &*self.injected.random;
        let previous = self.shared().snapshot.load_full();
        let delay = if class.retry_can_help() {
            // The retry schedule (`RefreshPolicy::retry_at`) needs the
            // expiry of the source's own credentials still valid, and the
            // lifetime of those in hand when the run of failures began.
            let valid_until = (previous.state == CredentialsState::Fresh)
                .then(|| previous.credentials.as_ref().and_then(|c| c.expiry()))
                .flatten()
                .filter(|&e| e > now);
            let lifetime = valid_until
                .and(previous.credentials.as_ref())
                .and_then(|c| c.duration());
            let run = self
                .backoff
                .get_or_insert_with(|| Box::new(Backoff::for_run(policy.backoff, lifetime)));
            let failures = previous.consecutive_failures.saturating_add(1);
            policy
                .retry_at(now, failures, valid_until, run.run_lifetime(), random)
                .duration_since(now)
                .unwrap_or(Duration::ZERO)
        } else {
            policy.backoff.capped_delay(random)
        };
        let mut snapshot = (*previous).clone();
        snapshot.consecutive_failures += 1;
        snapshot.rare_mut().last_error = Some(LastError {
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
        self.metrics().attempt(Some(class), took);
        self.commit(snapshot, false, &events);
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
                snapshot.rare_mut().extensions += 1;
                tracing::warn!(
                    role = %self.spec.name,
                    source = self.spec.source.name(),
                    extended_until = %format_rfc3339(until),
                    "{}", EXTENSION_WARNING
                );
                self.metrics().extension();
                Some(RefreshEventKind::Extended { until })
            }
            None => {
                snapshot.state = CredentialsState::Expired;
                tracing::warn!(role = %self.spec.name, source = self.spec.source.name(), "{}", EXPIRED_STRICT_WARNING);
                Some(RefreshEventKind::Expired)
            }
        }
    }

    /// Publishes `snapshot` with `events` and records its gauges. Every
    /// caller plans the timer right after (`plan`, `schedule_refresh`),
    /// once: not here too.
    fn commit(&mut self, snapshot: Snapshot, new_credentials: bool, events: &[RefreshEventKind]) {
        // The gauges that the new snapshot changes, against the one it
        // replaces: a success changes three of six.
        let before = self.shared().snapshot.load_full();
        self.shared().publish(snapshot, new_credentials, events);
        self.metrics().snapshot_since(&before, &self.shared().snapshot.load());
    }

    fn on_invalidated(&mut self, ctx: &mut Context<Self>) {
        let calls = self.shared().invalidations.load(Ordering::Relaxed);
        self.metrics().invalidations(calls - self.invalidations_seen);
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
        self.metrics().next_refresh(at);
        self.schedule_refresh(at, ctx);
    }
}

impl Actor for RefresherActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.metrics().register();
        ctx.spawn(Wakeups);
        let snapshot = self.shared().snapshot.load_full();
        // A restarted actor keeps the schedule of the one it replaces when
        // that one was healthy; otherwise it fetches at once.
        let at = match snapshot.next_refresh {
            Some(at) if snapshot.credentials.is_some() && snapshot.consecutive_failures == 0 => at,
            _ => self.now(),
        };
        self.schedule_refresh(at, ctx);
    }
}

impl Handler<Stop> for RefresherActor {
    type Result = ();

    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix::dev::ContextFut;
    use std::mem::size_of;

    /// Tokio stores the actor inline in its task, whose allocation is a
    /// multiple of 128 bytes: 104 bytes of task around the actor's context
    /// future. At most 408 bytes of future keep it at 512 (it was 768);
    /// the actor must not grow back past that.
    #[test]
    fn an_idle_refresher_stays_small() {
        assert!(size_of::<RefresherActor>() <= 64, "{}", size_of::<RefresherActor>());
        let task_future = size_of::<ContextFut<RefresherActor, Context<RefresherActor>>>();
        assert!(task_future <= 408, "{task_future}");
        assert!(size_of::<Timer>() <= 144, "{}", size_of::<Timer>());
        // The one long-lived context future costs no allocation.
        assert_eq!(size_of::<Wakeups>(), 0);
    }
}
