//! The public façade: build, start, add and remove roles, shut down.
//!
//! Inside, one file per part, each depending only on the ones after it:
//! this façade → [`supervisor`] (one actor per role, restarted when it
//! dies) → [`actor`] (one role's refresh loop) → [`spec`] (what they are
//! given: the role's spec, the clock and random source, the role table).

mod actor;
mod spec;
mod supervisor;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use actix::prelude::*;

use self::spec::{ClockAndRandom, RoleSpec, RoleTable, lock};
use self::supervisor::{AddRole, AddRoles, RemoveRole, Shutdown, Supervisor};
use crate::clock::{Clock, Random, SystemClock, ThreadRandom};
use crate::error::BuildError;
use crate::handle::CredentialsHandle;
#[cfg(feature = "prometheus")]
use crate::metrics::PrometheusCollector;
use crate::policy::RefreshPolicy;
use crate::source::Source;

/// How long [`RefresherBuilder::start`] waits for the actor thread to come
/// up, unless [`RefresherBuilder::start_timeout`] says otherwise.
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(10);

/// A role as configured on the builder: name, source, own policy if any.
type RoleConfig = (Arc<str>, Arc<dyn Source>, Option<RefreshPolicy>);

/// Configures and starts a [`Refresher`].
///
/// ```
/// use credrefresh::{Refresher, RefreshPolicy, sources::EnvSource};
/// # fn main() -> Result<(), credrefresh::BuildError> {
/// let refresher = Refresher::builder()
///     .policy(RefreshPolicy::default())
///     .role("app", EnvSource::new())
///     .start()?;
/// let handle = refresher.handle("app").expect("configured above");
/// println!("state now: {}", handle.load().state());
/// refresher.shutdown();
/// # Ok(()) }
/// ```
pub struct RefresherBuilder {
    roles: Vec<RoleConfig>,
    policy: RefreshPolicy,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    start_timeout: Duration,
}

impl fmt::Debug for RefresherBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefresherBuilder")
            .field("roles", &self.roles.iter().map(|r| &*r.0).collect::<Vec<_>>())
            .field("policy", &self.policy)
            .field("start_timeout", &self.start_timeout)
            .finish_non_exhaustive()
    }
}

impl RefresherBuilder {
    /// Adds a role named `name` whose credentials come from `source`, under
    /// the builder's policy.
    pub fn role(mut self, name: impl Into<Arc<str>>, source: impl Source) -> Self {
        self.roles.push((name.into(), Arc::new(source), None));
        self
    }

    /// Adds a role with a policy of its own.
    pub fn role_with_policy(mut self, name: impl Into<Arc<str>>, source: impl Source, policy: RefreshPolicy) -> Self {
        self.roles.push((name.into(), Arc::new(source), Some(policy)));
        self
    }

    /// The policy of roles without one of their own. Defaults to
    /// [`RefreshPolicy::default`].
    pub fn policy(mut self, policy: RefreshPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The clock every decision reads. Defaults to [`SystemClock`]; tests
    /// under paused Tokio time use [`TokioClock`](crate::clock::TokioClock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The random source for jitter. Defaults to [`ThreadRandom`].
    pub fn random(mut self, random: Arc<dyn Random>) -> Self {
        self.random = random;
        self
    }

    /// How long [`start`](Self::start) waits for its actor thread to come
    /// up before it gives up with [`BuildError::Start`]. Defaults to
    /// [`DEFAULT_START_TIMEOUT`].
    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    fn prepare(self) -> Result<(ClockAndRandom, Arc<RefreshPolicy>, Vec<RoleSpec>), BuildError> {
        self.policy.validate()?;
        // One copy of the default policy for every role under it.
        let default = Arc::new(self.policy);
        let mut names = HashSet::new();
        let mut specs = Vec::with_capacity(self.roles.len());
        for (name, source, policy) in self.roles {
            let policy = policy.map_or_else(|| default.clone(), Arc::new);
            specs.push(RoleSpec::checked(&mut names, name, source, policy, self.clock.clone())?);
        }
        let injected = ClockAndRandom {
            clock: self.clock,
            random: self.random,
        };
        Ok((injected, default, specs))
    }

    /// Starts the actor system on a dedicated thread and returns once the
    /// supervisor is running. Works from any context: a plain `main`, a
    /// Tokio runtime, an actix-web server.
    ///
    /// # Errors
    /// [`BuildError`] for an invalid policy, an empty or duplicate role
    /// name, or a thread that could not be spawned or did not come up within
    /// the [start timeout](Self::start_timeout) ([`BuildError::Start`]).
    pub fn start(self) -> Result<Refresher, BuildError> {
        let start_timeout = self.start_timeout;
        let (injected, policy, specs) = self.prepare()?;
        let (tx, rx) = std::sync::mpsc::channel();
        let for_thread = injected.clone();
        let thread = std::thread::Builder::new()
            .name("credrefresh".into())
            .spawn(move || {
                let system = actix_rt::System::new();
                let addr = system.block_on(async move { Supervisor::new(for_thread).start() });
                if tx.send((actix_rt::System::current(), addr)).is_err() {
                    return;
                }
                if let Err(e) = system.run() {
                    tracing::error!(error = %e, "credrefresh actor system stopped with an error");
                }
            })
            .map_err(BuildError::Start)?;
        let (system, supervisor) = wait_started(&rx, start_timeout)?;
        Ok(Refresher::new(
            supervisor,
            Mode::Thread {
                system,
                thread: Some(thread),
            },
            injected,
            policy,
            specs,
        ))
    }

    /// Starts the supervisor on the current actix arbiter instead of a
    /// thread of its own: for an actix-web app that wants its refreshes on
    /// its own system. Must be called from inside a running actix system.
    ///
    /// # Errors
    /// [`BuildError::NoActixSystem`] outside an actix system, and as [`start`](Self::start).
    pub fn start_local(self) -> Result<Refresher, BuildError> {
        let (injected, policy, specs) = self.prepare()?;
        if actix_rt::System::try_current().is_none() || actix_rt::Arbiter::try_current().is_none() {
            return Err(BuildError::NoActixSystem);
        }
        let supervisor = Supervisor::new(injected.clone()).start();
        Ok(Refresher::new(supervisor, Mode::Local, injected, policy, specs))
    }
}

/// Waits up to `timeout` for the actor thread to send what it started.
fn wait_started<T>(rx: &Receiver<T>, timeout: Duration) -> Result<T, BuildError> {
    rx.recv_timeout(timeout).map_err(|e| {
        BuildError::Start(match e {
            RecvTimeoutError::Timeout => io::Error::new(
                io::ErrorKind::TimedOut,
                format!("the actor system did not come up within {} ms", timeout.as_millis()),
            ),
            RecvTimeoutError::Disconnected => {
                io::Error::other("the actor thread stopped before its actor system came up")
            }
        })
    })
}

enum Mode {
    Thread {
        system: actix_rt::System,
        thread: Option<JoinHandle<()>>,
    },
    Local,
}

/// Runs one refresher per role in the background and hands out
/// [`CredentialsHandle`]s.
///
/// Dropping it shuts it down (see [`shutdown`](Self::shutdown)). Handles
/// outlive it and keep the last credentials it published, marked
/// [stopped](crate::Snapshot::is_stopped): usable until they expire, never
/// after.
pub struct Refresher {
    supervisor: Addr<Supervisor>,
    mode: Mutex<Option<Mode>>,
    injected: ClockAndRandom,
    policy: Arc<RefreshPolicy>,
    roles: RoleTable,
}

impl fmt::Debug for Refresher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Refresher")
            .field("roles", &self.role_names())
            .finish_non_exhaustive()
    }
}

impl Refresher {
    /// A builder with no roles, the default policy, the system clock.
    pub fn builder() -> RefresherBuilder {
        RefresherBuilder {
            roles: Vec::new(),
            policy: RefreshPolicy::default(),
            clock: Arc::new(SystemClock),
            random: Arc::new(ThreadRandom),
            start_timeout: DEFAULT_START_TIMEOUT,
        }
    }

    fn new(
        supervisor: Addr<Supervisor>,
        mode: Mode,
        injected: ClockAndRandom,
        policy: Arc<RefreshPolicy>,
        specs: Vec<RoleSpec>,
    ) -> Self {
        let mut roles = HashMap::with_capacity(specs.len());
        for spec in &specs {
            roles.insert(spec.name.clone(), CredentialsHandle::new(spec.shared.clone()));
        }
        if !specs.is_empty() {
            supervisor.do_send(AddRoles(specs));
        }
        Self {
            supervisor,
            mode: Mutex::new(Some(mode)),
            injected,
            policy,
            roles: Arc::new(Mutex::new(roles)),
        }
    }

    /// The handle of role `name`, if configured.
    pub fn handle(&self, name: &str) -> Option<CredentialsHandle> {
        lock(&self.roles).get(name).cloned()
    }

    /// Every role's handle, sorted by name.
    pub fn handles(&self) -> Vec<CredentialsHandle> {
        let roles = lock(&self.roles);
        let mut names: Vec<_> = roles.keys().cloned().collect();
        names.sort();
        names.iter().map(|n| roles[n].clone()).collect()
    }

    /// The configured role names, sorted.
    pub fn role_names(&self) -> Vec<String> {
        let mut names: Vec<String> = lock(&self.roles).keys().map(|k| k.to_string()).collect();
        names.sort();
        names
    }

    /// Adds a role at run time under the refresher's default policy and
    /// returns its handle at once; the first fetch starts in the background.
    ///
    /// # Errors
    /// [`BuildError::EmptyRoleName`], [`BuildError::DuplicateRole`], or
    /// [`BuildError::ShutDown`] after [`shutdown`](Self::shutdown).
    pub fn add_role(&self, name: impl Into<Arc<str>>, source: impl Source) -> Result<CredentialsHandle, BuildError> {
        self.add(name.into(), Arc::new(source), self.policy.clone())
    }

    /// Adds a role with a policy of its own at run time.
    ///
    /// # Errors
    /// As [`add_role`](Self::add_role), and [`BuildError::InvalidPolicy`].
    pub fn add_role_with_policy(
        &self,
        name: impl Into<Arc<str>>,
        source: impl Source,
        policy: RefreshPolicy,
    ) -> Result<CredentialsHandle, BuildError> {
        self.add(name.into(), Arc::new(source), Arc::new(policy))
    }

    fn add(
        &self,
        name: Arc<str>,
        source: Arc<dyn Source>,
        policy: Arc<RefreshPolicy>,
    ) -> Result<CredentialsHandle, BuildError> {
        if lock(&self.mode).is_none() {
            return Err(BuildError::ShutDown);
        }
        let mut roles = lock(&self.roles);
        let mut names = roles.keys().cloned().collect();
        let spec = RoleSpec::checked(&mut names, name, source, policy, self.injected.clock.clone())?;
        let handle = CredentialsHandle::new(spec.shared.clone());
        roles.insert(spec.name.clone(), handle.clone());
        self.supervisor.do_send(AddRole(spec));
        Ok(handle)
    }

    /// Stops refreshing role `name`. Its handles keep the last credentials
    /// published, and shortly after (once the supervisor has stopped the
    /// role's actor) say [stopped](crate::Snapshot::is_stopped): waiters
    /// get [`WaitError::Stopped`](crate::WaitError::Stopped) and the
    /// credentials stop being usable when they expire. Returns whether the
    /// role existed.
    pub fn remove_role(&self, name: &str) -> bool {
        let removed = lock(&self.roles).remove(name);
        match removed {
            Some(handle) => {
                self.supervisor.do_send(RemoveRole(handle.role()));
                true
            }
            None => false,
        }
    }

    /// Stops every refresher. With [`RefresherBuilder::start`], stops the
    /// actor system and joins its thread (a short blocking wait); with
    /// [`RefresherBuilder::start_local`], stops the supervisor (and, as
    /// soon as the actor system runs again, every actor). Handles keep
    /// the last credentials, marked [stopped](crate::Snapshot::is_stopped)
    /// (at once with `start`, when the thread has been joined).
    /// Idempotent; also done on drop.
    pub fn shutdown(&self) {
        let Some(mode) = lock(&self.mode).take() else {
            return;
        };
        match mode {
            Mode::Thread { system, mut thread } => {
                system.stop();
                if let Some(thread) = thread.take() {
                    if thread.thread().id() == std::thread::current().id() {
                        return;
                    }
                    if thread.join().is_err() {
                        tracing::error!("credrefresh actor thread panicked");
                    }
                }
            }
            Mode::Local => self.supervisor.do_send(Shutdown),
        }
    }

    /// The clock the refresher decides with.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.injected.clock
    }
}

impl Drop for Refresher {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(feature = "prometheus")]
impl Refresher {
    /// A new `prometheus::Registry` holding a [`PrometheusCollector`] of
    /// this refresher: every credrefresh series of every role, read at
    /// scrape time. To add them to a registry of your own, register a
    /// [`PrometheusCollector`] there instead.
    ///
    /// # Errors
    /// The registry's error if it refuses the collector (it does not for a
    /// new registry).
    #[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
    pub fn prometheus_registry(&self) -> Result<prometheus::Registry, prometheus::Error> {
        let registry = prometheus::Registry::new();
        registry.register(Box::new(PrometheusCollector::new(self)))?;
        Ok(registry)
    }
}

// Made here, not in `metrics`: the collector only needs a way to list the
// roles and a clock, and `metrics` never depends on the façade.
#[cfg(feature = "prometheus")]
impl PrometheusCollector {
    /// A collector of `refresher`'s roles, present and future.
    pub fn new(refresher: &Refresher) -> Self {
        let roles = refresher.roles.clone();
        Self::listing(
            Arc::new(move || lock(&roles).values().cloned().collect()),
            refresher.clock().clone(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn start_waits_as_long_as_the_builder_says() {
        assert_eq!(Refresher::builder().start_timeout, DEFAULT_START_TIMEOUT);
        let builder = Refresher::builder().start_timeout(Duration::from_secs(60));
        assert_eq!(builder.start_timeout, Duration::from_secs(60));
        assert!(format!("{builder:?}").contains("start_timeout: 60s"));
        let refresher = builder.start().unwrap();
        refresher.shutdown();
    }

    #[test]
    fn a_thread_that_does_not_come_up_in_time_is_a_start_error_with_its_cause() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let err = wait_started(&rx, Duration::from_millis(1)).unwrap_err();
        let BuildError::Start(cause) = &err else {
            panic!("{err:?}");
        };
        assert_eq!(cause.kind(), io::ErrorKind::TimedOut);
        assert_eq!(err.to_string(), "the refresher thread could not start");
        let source = err.source().expect("the io::Error is the source");
        assert_eq!(source.to_string(), "the actor system did not come up within 1 ms");
        drop(tx);
    }

    #[test]
    fn a_thread_that_stops_before_coming_up_is_a_start_error_with_its_cause() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        drop(tx);
        let err = wait_started(&rx, DEFAULT_START_TIMEOUT).unwrap_err();
        assert!(matches!(&err, BuildError::Start(cause) if cause.kind() == io::ErrorKind::Other));
        assert!(err.source().is_some());
    }

    #[cfg(feature = "prometheus")]
    #[test]
    fn the_registry_holds_a_collector_of_the_refreshers_roles() {
        let refresher = Refresher::builder().start().unwrap();
        let registry = refresher.prometheus_registry().unwrap();
        // No roles, no series: the registry prunes the empty families.
        assert_eq!(crate::metrics::render(&registry).unwrap(), "");
        // The same series again are refused.
        assert!(
            registry
                .register(Box::new(PrometheusCollector::new(&refresher)))
                .is_err()
        );
        refresher
            .add_role("app", crate::sources::StaticSource::new(example()))
            .unwrap();
        let text = crate::metrics::render(&registry).unwrap();
        assert!(
            text.contains("credrefresh_role_info{role=\"app\",source=\"static\"} 1"),
            "{text}"
        );
    }

    #[cfg(feature = "prometheus")]
    fn example() -> crate::credentials::Credentials {
        crate::credentials::Credentials::new("AKIDEXAMPLE", "example-secret", std::time::SystemTime::UNIX_EPOCH)
            .unwrap()
    }
}
