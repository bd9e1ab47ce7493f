//! The supervisor: one refresher actor per role, restarted when it dies.
//!
//! # What a restart keeps and loses
//! Kept: the role's handle and every clone of it, the last published
//! snapshot (credentials, state, error, counters), its schedule when the
//! role was healthy, and an invalidation from a reader that the refresher
//! that died had not acted on. Lost: the backoff progress of a failure run (a
//! restarted refresher fetches at once) and an in-flight fetch.
//!
//! # Restart backoff
//! Restarts are spaced by the role's [backoff](crate::backoff::BackoffConfig)
//! (1, 2, 4 … s up to its cap, jittered). The sequence starts over only
//! after *healthy uptime*: the refresher that died had run for at least
//! the backoff cap since its start and had published a successful refresh.
//! A refresher that keeps dying, however long each run lasts, keeps being
//! restarted at the cap.
//!
//! actix's own `Supervisor` restarts an actor that stops itself, but not one
//! that panics (the actor is simply gone). Each refresher therefore carries
//! a notice that tells this supervisor when it is dropped; a drop the
//! supervisor did not ask for is a crash, and the role's refresher is
//! started again after a backoff delay, on the same handle.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use actix::WeakAddr;
use actix::prelude::*;

use super::actor::{ActorEnv, ChildExited, RefresherActor, Stop};
use super::spec::{ClockAndRandom, RoleSpec};
use crate::backoff::Backoff;
use crate::metrics::RoleMetrics;

#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct AddRole(pub(super) RoleSpec);

/// The roles a refresher starts with, in one message: one allocation
/// instead of a message per role in the mailbox, and the table sized once.
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct AddRoles(pub(super) Vec<RoleSpec>);

#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct RemoveRole(pub(super) Arc<str>);

#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct Shutdown;

/// A role's spec as the key of the supervisor's table: hashed and compared
/// by the role's name, so that the name is not stored a second time.
struct ByName(RoleSpec);

impl Hash for ByName {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.name.hash(state);
    }
}

impl PartialEq for ByName {
    fn eq(&self, other: &Self) -> bool {
        self.0.name == other.0.name
    }
}

impl Eq for ByName {}

impl Borrow<str> for ByName {
    fn borrow(&self) -> &str {
        &self.0.name
    }
}

/// One role in the supervisor's table, next to its spec (tens of thousands
/// of them on a big server: kept small, see the unit tests).
struct Child {
    id: u64,
    /// The running refresher, if any. Weak: the actor lives on its own
    /// (its timer future keeps it running), and a strong address would
    /// cost every role the allocations of a sender.
    addr: Option<WeakAddr<RefresherActor>>,
    /// Boxed: only a crashing role has one.
    restart_backoff: Option<Box<Backoff>>,
    /// When the current incarnation started.
    started_at: SystemTime,
    /// The credentials generation when it started: a higher one later
    /// means it published a successful refresh.
    generation_at_start: u64,
}

pub(super) struct Supervisor {
    injected: ClockAndRandom,
    /// What every refresher shares, made with the supervisor's address
    /// when the first one starts.
    env: Option<Arc<ActorEnv>>,
    children: HashMap<ByName, Child>,
    next_id: u64,
}

impl Supervisor {
    pub(super) fn new(injected: ClockAndRandom) -> Self {
        Self {
            injected,
            env: None,
            children: HashMap::new(),
            next_id: 0,
        }
    }

    fn spawn_child(&mut self, role: &Arc<str>, ctx: &mut Context<Self>) {
        let env = self
            .env
            .get_or_insert_with(|| Arc::new(ActorEnv::new(self.injected.clone(), Some(ctx.address().recipient()))))
            .clone();
        self.next_id += 1;
        let id = self.next_id;
        let now = self.injected.clock.now();
        if let Some((spec, child)) = self.child(role) {
            child.id = id;
            child.started_at = now;
            child.generation_at_start = spec.shared.snapshot.load().credentials_generation;
            let actor = RefresherActor::new(id, spec, env);
            child.addr = Some(actor.start().downgrade());
        }
    }

    /// The role's spec and entry.
    fn child(&mut self, role: &str) -> Option<(RoleSpec, &mut Child)> {
        let spec = self.children.get_key_value(role)?.0.0.clone();
        Some((spec, self.children.get_mut(role)?))
    }

    /// Adds a role and starts its refresher.
    fn add(&mut self, spec: RoleSpec, ctx: &mut Context<Self>) {
        let role = spec.name.clone();
        if self.children.contains_key(&*role) {
            // The façade checks names; a duplicate here is a logic error.
            tracing::error!(role = %role, "role added twice; ignoring the second");
            return;
        }
        tracing::debug!(role = %role, source = spec.source.name(), "starting refresher");
        self.children.insert(
            ByName(spec),
            Child {
                id: 0,
                addr: None,
                restart_backoff: None,
                started_at: SystemTime::UNIX_EPOCH,
                generation_at_start: 0,
            },
        );
        self.spawn_child(&role, ctx);
    }

    /// Asks a refresher to stop, if it still runs.
    fn stop_child(addr: Option<&WeakAddr<RefresherActor>>) {
        if let Some(addr) = addr.and_then(WeakAddr::upgrade) {
            addr.do_send(Stop);
        }
    }

    fn restart_delay(&mut self, role: &Arc<str>) -> Duration {
        let now = self.injected.clock.now();
        let random = self.injected.random.clone();
        let Some((spec, child)) = self.child(role) else {
            return Duration::ZERO;
        };
        let policy = spec.policy.backoff;
        // Healthy uptime (see the module docs) starts a new backoff run.
        // Measured from the start of the incarnation that died, not from
        // the last restart decision, which would count the restart delay
        // itself as uptime.
        let uptime = now.duration_since(child.started_at).unwrap_or(Duration::ZERO);
        let succeeded = spec.shared.snapshot.load().credentials_generation > child.generation_at_start;
        if succeeded && uptime >= policy.max {
            child.restart_backoff = None;
        }
        child
            .restart_backoff
            .get_or_insert_with(|| Box::new(Backoff::new(policy)))
            .next_delay(&*random)
    }
}

impl Actor for Supervisor {
    type Context = Context<Self>;

    fn stopping(&mut self, _: &mut Context<Self>) -> Running {
        for child in self.children.values() {
            Self::stop_child(child.addr.as_ref());
        }
        self.children.clear();
        Running::Stop
    }
}

impl Handler<AddRole> for Supervisor {
    type Result = ();

    fn handle(&mut self, AddRole(spec): AddRole, ctx: &mut Context<Self>) {
        self.add(spec, ctx);
    }
}

impl Handler<AddRoles> for Supervisor {
    type Result = ();

    fn handle(&mut self, AddRoles(specs): AddRoles, ctx: &mut Context<Self>) {
        self.children.reserve(specs.len());
        for spec in specs {
            self.add(spec, ctx);
        }
    }
}

impl Handler<RemoveRole> for Supervisor {
    type Result = ();

    fn handle(&mut self, RemoveRole(role): RemoveRole, _: &mut Context<Self>) {
        if let Some(child) = self.children.remove(&*role) {
            tracing::debug!(role = %role, "stopping refresher");
            Self::stop_child(child.addr.as_ref());
        }
    }
}

impl Handler<ChildExited> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: ChildExited, ctx: &mut Context<Self>) {
        let Some((spec, child)) = self.child(&msg.role) else {
            return; // removed on purpose
        };
        if child.id != msg.id {
            return; // an older incarnation
        }
        child.addr = None;
        let shared = spec.shared.clone();
        let metrics = RoleMetrics::new(shared.clone());
        let mut snapshot = (*shared.snapshot.load_full()).clone();
        snapshot.rare_mut().restarts += 1;
        shared.publish(snapshot, false, &[]);
        metrics.restart();
        let delay = self.restart_delay(&msg.role);
        tracing::error!(
            role = %msg.role,
            restart_in_ms = delay.as_millis() as u64,
            "refresher died unexpectedly (panic); restarting it on the same handle"
        );
        let role = msg.role.clone();
        ctx.run_later(delay, move |act, ctx| {
            if act.children.get(&*role).is_some_and(|c| c.addr.is_none()) {
                act.spawn_child(&role, ctx);
            }
        });
    }
}

impl Handler<Shutdown> for Supervisor {
    type Result = ();

    fn handle(&mut self, _: Shutdown, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One entry per role: the spec (hashed by its name) and the child.
    #[test]
    fn a_child_entry_stays_small() {
        let entry = std::mem::size_of::<(ByName, Child)>();
        assert!(entry <= 56, "{entry}");
    }
}
