//! What the supervisor and the actors are given: one role's spec, the
//! injected clock and random source, and the table of every role's handle.
//!
//! The rest of `refresher` depends on this file; it depends on none of them.

use std::collections::{HashMap, HashSet};
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::clock::{Clock, Random};
use crate::error::BuildError;
use crate::handle::{CredentialsHandle, Shared};
use crate::policy::RefreshPolicy;
use crate::source::Source;

/// What the supervisor needs to run one role: a pointer, cheap to clone.
///
/// Copies live in the message that adds the role, in the supervisor's
/// table and in the role's actor. When the last one is dropped (role
/// removed, supervisor and actors gone with the actor system), no actor of
/// the role can publish any more, and the role's handles are told: see
/// [`Snapshot::is_stopped`](crate::Snapshot::is_stopped).
#[derive(Clone)]
pub(super) struct RoleSpec(Arc<RoleParts>);

/// The role's name, source, policy and shared state, behind a [`RoleSpec`].
pub(super) struct RoleParts {
    pub(super) name: Arc<str>,
    pub(super) source: Arc<dyn Source>,
    pub(super) policy: Arc<RefreshPolicy>,
    pub(super) shared: Arc<Shared>,
}

impl Deref for RoleSpec {
    type Target = RoleParts;

    fn deref(&self) -> &RoleParts {
        &self.0
    }
}

/// Marks the role's handles stopped when the last copy of its
/// [`RoleSpec`] is dropped.
impl Drop for RoleParts {
    fn drop(&mut self) {
        self.shared.mark_stopped();
    }
}

impl RoleSpec {
    /// Checks the name (not empty, not in `names`) and the policy, records
    /// the name in `names`, and makes the role's shared state.
    /// Its snapshots decide what has expired on `clock`. Roles under the
    /// same policy share one `Arc` of it.
    pub(super) fn checked(
        names: &mut HashSet<Arc<str>>,
        name: Arc<str>,
        source: Arc<dyn Source>,
        policy: Arc<RefreshPolicy>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, BuildError> {
        if name.trim().is_empty() {
            return Err(BuildError::EmptyRoleName);
        }
        if !names.insert(name.clone()) {
            return Err(BuildError::DuplicateRole(name.to_string()));
        }
        policy.validate()?;
        let shared = Shared::on_clock(name.clone(), source.name(), clock);
        Ok(Self(Arc::new(RoleParts {
            name,
            source,
            policy,
            shared,
        })))
    }
}

/// The injected time and random sources, shared by every actor: every
/// decision reads this clock and draws its jitter from this source.
#[derive(Clone)]
pub(super) struct ClockAndRandom {
    pub(super) clock: Arc<dyn Clock>,
    pub(super) random: Arc<dyn Random>,
}

/// Every role's handle, by name, shared with the metrics collector so it
/// sees roles added and removed at run time.
pub(super) type RoleTable = Arc<Mutex<HashMap<Arc<str>, CredentialsHandle>>>;

/// Locks `m`, ignoring poisoning: a panic in another holder must not take
/// the façade or the metrics collector down with it.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
