//! The read side: a cheap, clonable handle to a role's current credentials.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use arc_swap::{ArcSwap, ArcSwapOption};
use futures_util::task::AtomicWaker;
use tokio::sync::{Notify, broadcast};

use crate::clock::{Clock, SystemClock};
use crate::credentials::Credentials;
use crate::error::{ErrorClass, WaitError};
use crate::metrics::stats::RoleStats;

/// How many refresh events a slow subscriber may fall behind before it
/// misses some (it then sees `RecvError::Lagged`). The role's event
/// channel, and its buffer of this many events, is made on the first
/// [`CredentialsHandle::subscribe`]: a role nobody subscribes to costs none.
pub const EVENT_CAPACITY: usize = 64;

/// Whether the credentials in a snapshot can be used.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CredentialsState {
    /// No credentials yet: the first fetch has not succeeded.
    NotLoaded,
    /// Credentials from the latest successful refresh.
    Fresh,
    /// The source kept failing past the credentials' expiry; they were
    /// extended (static stability) and may be rejected by AWS.
    Extended,
    /// The credentials expired and were not extended (strict mode).
    Expired,
}

impl CredentialsState {
    /// Stable lower-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            CredentialsState::NotLoaded => "not_loaded",
            CredentialsState::Fresh => "fresh",
            CredentialsState::Extended => "extended",
            CredentialsState::Expired => "expired",
        }
    }

    /// Whether credentials in this state should be used.
    pub const fn is_usable(self) -> bool {
        matches!(self, CredentialsState::Fresh | CredentialsState::Extended)
    }
}

impl fmt::Display for CredentialsState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The latest failed refresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastError {
    /// What kind of failure.
    pub class: ErrorClass,
    /// What happened (never a secret).
    pub message: Arc<str>,
    /// When.
    pub at: SystemTime,
}

/// Everything a reader may want to know about a role, as of the latest change.
///
/// # After the refresher stops
/// When the role is removed, the refresher shut down or dropped, or its
/// actor system gone, a last snapshot is published with
/// [`is_stopped`](Self::is_stopped) set (and a
/// [`RefreshEventKind::Stopped`] event): nothing will be published for the
/// role any more, so its [`state`](Self::state) stays whatever it was.
/// [`usable_credentials`](Self::usable_credentials) reads the clock and
/// never returns credentials past their (possibly extended) expiry, whether
/// a refresher is still running or not.
#[derive(Clone)]
pub struct Snapshot {
    pub(crate) role: Arc<str>,
    /// A source's name is static: no allocation per role.
    pub(crate) source: &'static str,
    /// Cheap to clone: [`Credentials`] share their fields.
    pub(crate) credentials: Option<Credentials>,
    pub(crate) state: CredentialsState,
    pub(crate) last_success: Option<SystemTime>,
    pub(crate) next_refresh: Option<SystemTime>,
    pub(crate) consecutive_failures: u32,
    pub(crate) generation: u64,
    /// The generation at which the current credentials were first published.
    pub(crate) credentials_generation: u64,
    /// No refresher runs for this role any more.
    pub(crate) stopped: bool,
    /// The refresher's clock, read by [`Snapshot::usable_credentials`].
    pub(crate) clock: Arc<dyn Clock>,
    /// What most roles never have (an error, an extension, a restart, a
    /// chain's choice): boxed, made on first use, so that a healthy role's
    /// snapshot stays small. Read it through [`Snapshot::rare`].
    pub(crate) rare: Option<Box<RareFields>>,
}

/// Every field, in the order of the struct before its rare fields were
/// boxed: the output does not depend on whether they were made.
impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rare = self.rare();
        f.debug_struct("Snapshot")
            .field("role", &self.role)
            .field("source", &self.source)
            .field("resolved_source", &rare.resolved_source)
            .field("credentials", &self.credentials)
            .field("state", &self.state)
            .field("last_error", &rare.last_error)
            .field("last_success", &self.last_success)
            .field("next_refresh", &self.next_refresh)
            .field("consecutive_failures", &self.consecutive_failures)
            .field("extensions", &rare.extensions)
            .field("restarts", &rare.restarts)
            .field("generation", &self.generation)
            .field("credentials_generation", &self.credentials_generation)
            .field("stopped", &self.stopped)
            .field("clock", &self.clock)
            .finish()
    }
}

/// The fields of a [`Snapshot`] that most roles never set: all zero or
/// `None` until the first failure, extension, restart or chain choice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RareFields {
    /// For a source that picks among others (a chain): the one that
    /// produced the current credentials.
    pub(crate) resolved_source: Option<&'static str>,
    pub(crate) last_error: Option<LastError>,
    pub(crate) extensions: u64,
    pub(crate) restarts: u64,
}

/// What [`Snapshot::rare`] reads when the snapshot has none.
static NO_RARE_FIELDS: RareFields = RareFields {
    resolved_source: None,
    last_error: None,
    extensions: 0,
    restarts: 0,
};

impl Snapshot {
    /// No credentials yet, on the system clock.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn empty(role: Arc<str>, source: &'static str) -> Self {
        Self::empty_on(role, source, Arc::new(SystemClock))
    }

    /// No credentials yet, with `clock` deciding what has expired.
    pub(crate) fn empty_on(role: Arc<str>, source: &'static str, clock: Arc<dyn Clock>) -> Self {
        Self {
            role,
            source,
            credentials: None,
            state: CredentialsState::NotLoaded,
            last_success: None,
            next_refresh: None,
            consecutive_failures: 0,
            generation: 0,
            credentials_generation: 0,
            stopped: false,
            clock,
            rare: None,
        }
    }

    /// The fields most roles never set (all zero or `None` when unset).
    pub(crate) fn rare(&self) -> &RareFields {
        self.rare.as_deref().unwrap_or(&NO_RARE_FIELDS)
    }

    /// The same, to change: made on first use.
    pub(crate) fn rare_mut(&mut self) -> &mut RareFields {
        self.rare.get_or_insert_with(Box::default)
    }

    /// The role's name.
    pub fn role(&self) -> &str {
        &self.role
    }

    /// The configured source's name (`env`, `sts`, `imds`, `chain`, …): it
    /// never changes, and it is the `source` label of every metric.
    pub fn source(&self) -> &str {
        self.source
    }

    /// The source that produced the current credentials: for a source that
    /// picks among others (the [`DefaultChain`](crate::sources::DefaultChain)),
    /// the one it chose (`env`, `ecs`, `imds`, …), as of the latest
    /// success; otherwise, and before a chain has chosen, the same as
    /// [`source`](Self::source). Also the `chosen` label of
    /// [`CHAIN_SOURCE`](crate::metrics::CHAIN_SOURCE).
    pub fn resolved_source(&self) -> &str {
        self.rare().resolved_source.unwrap_or(self.source)
    }

    /// The current credentials, if any have been loaded. Check
    /// [`state`](Self::state) before trusting them.
    pub fn credentials(&self) -> Option<&Credentials> {
        self.credentials.as_ref()
    }

    /// The credentials if they can be used now: their state is usable
    /// ([`CredentialsState::is_usable`]) and they have not reached their
    /// (possibly extended) expiry.
    ///
    /// Reads the refresher's clock (see [`RefresherBuilder::clock`](crate::RefresherBuilder::clock))
    /// for credentials that expire, so that credentials past their expiry
    /// are never returned, even when no refresher runs any more
    /// ([`is_stopped`](Self::is_stopped)) or before it noticed a jump of the
    /// wall clock. Costs one clock read more than
    /// [`credentials`](Self::credentials) (the README gives the figure).
    #[inline]
    pub fn usable_credentials(&self) -> Option<&Credentials> {
        let credentials = self.credentials.as_ref()?;
        if !self.state.is_usable() {
            return None;
        }
        match credentials.expiry() {
            Some(expiry) if expiry <= self.clock.now() => None,
            _ => Some(credentials),
        }
    }

    /// Whether the credentials are fresh, extended, expired or not loaded,
    /// as the refresher last decided. It is not updated after the refresher
    /// stopped ([`is_stopped`](Self::is_stopped)), and may trail a jump of
    /// the wall clock by up to [`MAX_TIMER_SLICE`](crate::policy::MAX_TIMER_SLICE):
    /// use [`usable_credentials`](Self::usable_credentials), which checks
    /// the expiry against the clock, to sign requests.
    pub fn state(&self) -> CredentialsState {
        self.state
    }

    /// Whether the role's refresher has stopped for good (role removed,
    /// refresher shut down or dropped): nothing will be published for this
    /// role any more. The credentials stay for inspection, but
    /// [`usable_credentials`](Self::usable_credentials) returns none once
    /// they expire, and [`CredentialsHandle::wait_for`] returns
    /// [`WaitError::Stopped`] at once.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// The latest failed refresh, kept after a later success for inspection.
    pub fn last_error(&self) -> Option<&LastError> {
        self.rare().last_error.as_ref()
    }

    /// The class of the latest failed refresh.
    pub fn last_error_class(&self) -> Option<ErrorClass> {
        self.rare().last_error.as_ref().map(|e| e.class)
    }

    /// When the latest successful refresh finished.
    pub fn last_success(&self) -> Option<SystemTime> {
        self.last_success
    }

    /// When the next refresh (or retry) is scheduled.
    pub fn next_refresh(&self) -> Option<SystemTime> {
        self.next_refresh
    }

    /// Failed refreshes since the latest success.
    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }

    /// How many times credentials were extended past their expiry.
    pub fn extensions(&self) -> u64 {
        self.rare().extensions
    }

    /// How many times the supervisor restarted this role's refresher.
    pub fn restarts(&self) -> u64 {
        self.rare().restarts
    }

    /// Counts published changes; a new value means a new snapshot.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The [`generation`](Self::generation) at which the current credentials
    /// were fetched: it changes only when new credentials arrive, not on
    /// failures or extensions. 0 before the first.
    pub fn credentials_generation(&self) -> u64 {
        self.credentials_generation
    }
}

/// What happened in a refresh, as told to [`CredentialsHandle::subscribe`]rs.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshEventKind {
    /// New credentials were published.
    Refreshed {
        /// Their expiry.
        expiry: Option<SystemTime>,
    },
    /// A refresh succeeded after failures.
    Recovered {
        /// How many refreshes had failed in a row.
        after_failures: u32,
    },
    /// A refresh failed; the last good credentials are still served.
    Failed {
        /// What kind of failure.
        class: ErrorClass,
        /// Failures in a row, this one included.
        consecutive_failures: u32,
    },
    /// Expired credentials were extended (static stability).
    Extended {
        /// The new expiry.
        until: SystemTime,
    },
    /// Credentials expired and were not extended (strict mode).
    Expired,
    /// The role's refresher stopped for good (role removed, refresher shut
    /// down or dropped): the last event of the role.
    Stopped,
}

/// One refresh event of one role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshEvent {
    /// The role's name.
    pub role: Arc<str>,
    /// What happened.
    pub kind: RefreshEventKind,
    /// The snapshot generation published with it.
    pub generation: u64,
}

/// State shared between a role's handles and its refresher actor.
pub(crate) struct Shared {
    pub(crate) snapshot: ArcSwap<Snapshot>,
    /// Made on the first subscription (the buffer of [`EVENT_CAPACITY`]
    /// events is most of a role's memory otherwise).
    pub(crate) events: ArcSwapOption<broadcast::Sender<RefreshEvent>>,
    /// Wakes [`CredentialsHandle::wait_for`] callers after each publish (a
    /// `Notify` is a tenth of the size of a `watch` channel).
    pub(crate) published: Notify,
    /// Wakes the role's refresher (it registers here whenever it waits)
    /// when [`invalidated_generation`](Self::invalidated_generation) rises.
    /// A waker slot, not a `Notify`: the refresher compares the generation
    /// with the last one it handled in the timer future it already has,
    /// instead of keeping a future of its own waiting for a notification.
    pub(crate) refresher: AtomicWaker,
    /// The highest generation a reader declared bad.
    pub(crate) invalidated_generation: AtomicU64,
    /// Invalidation calls, for metrics.
    pub(crate) invalidations: AtomicU64,
    /// Counters and histograms for metrics; they outlive actor restarts.
    pub(crate) stats: RoleStats,
}

impl Shared {
    /// A role's shared state on the system clock.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn new(role: Arc<str>, source: &'static str) -> Arc<Self> {
        Self::on_clock(role, source, Arc::new(SystemClock))
    }

    /// A role's shared state, its snapshots reading `clock`.
    pub(crate) fn on_clock(role: Arc<str>, source: &'static str, clock: Arc<dyn Clock>) -> Arc<Self> {
        Arc::new(Self {
            snapshot: ArcSwap::from_pointee(Snapshot::empty_on(role, source, clock)),
            events: ArcSwapOption::empty(),
            published: Notify::new(),
            refresher: AtomicWaker::new(),
            invalidated_generation: AtomicU64::new(0),
            invalidations: AtomicU64::new(0),
            stats: RoleStats::default(),
        })
    }

    /// Publishes a snapshot (generation bumped here) and its events.
    /// `new_credentials` marks credentials fetched now (not extended ones).
    /// Only the role's actor (or the supervisor while no actor runs) calls
    /// this, so the read-modify-write of the generation does not race.
    /// Order matters: store first, so an event receiver that loads sees the
    /// new snapshot; then wake `wait_ready` callers; then tell subscribers.
    pub(crate) fn publish(&self, mut next: Snapshot, new_credentials: bool, events: &[RefreshEventKind]) -> u64 {
        let generation = self.snapshot.load().generation + 1;
        next.generation = generation;
        if new_credentials {
            next.credentials_generation = generation;
        }
        let role = next.role.clone();
        self.snapshot.store(Arc::new(next));
        self.published.notify_waiters();
        // Never subscribed to: no channel, nothing to send.
        if let Some(sender) = &*self.events.load() {
            for kind in events {
                // No subscribers any more is fine.
                let _ = sender.send(RefreshEvent {
                    role: role.clone(),
                    kind: kind.clone(),
                    generation,
                });
            }
        }
        generation
    }

    /// Publishes that no refresher runs for the role any more (once): the
    /// snapshot says so, waiters wake up and return
    /// [`WaitError::Stopped`], subscribers get [`RefreshEventKind::Stopped`].
    /// Called when the last copy of the role's spec is dropped, on the
    /// actor thread, once no actor of the role can publish.
    pub(crate) fn mark_stopped(&self) {
        let current = self.snapshot.load_full();
        if current.stopped {
            return;
        }
        let mut next = (*current).clone();
        next.stopped = true;
        next.next_refresh = None;
        self.publish(next, false, &[RefreshEventKind::Stopped]);
    }
}

/// A guard over the current snapshot, returned by [`CredentialsHandle::load`].
///
/// It derefs to [`Snapshot`]. Holding it is cheap but pins that snapshot in
/// memory and uses one of the thread's few fast arc-swap slots: drop it
/// soon, and never hold it across an `.await` (use
/// [`CredentialsHandle::load_full`] for that).
pub struct SnapshotGuard {
    guard: arc_swap::Guard<Arc<Snapshot>>,
}

impl Deref for SnapshotGuard {
    type Target = Snapshot;

    #[inline]
    fn deref(&self) -> &Snapshot {
        &self.guard
    }
}

impl fmt::Debug for SnapshotGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self.guard, f)
    }
}

/// A cheap, clonable, `Send + Sync` reader of one role's credentials.
///
/// Clone one into every worker. Reads never lock, await, allocate or touch
/// the network: the refresher actor publishes new snapshots through
/// [`arc_swap`], and [`load`](Self::load) reads the latest one.
///
/// ```
/// # use credrefresh::{Refresher, sources::StaticSource, Credentials};
/// # use std::time::SystemTime;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let creds = Credentials::new("AKIDEXAMPLE", "secret", SystemTime::UNIX_EPOCH)?;
/// let refresher = Refresher::builder().role("app", StaticSource::new(creds)).start()?;
/// let handle = refresher.handle("app").expect("configured above");
/// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
/// # rt.block_on(handle.wait_ready(std::time::Duration::from_secs(5)))?;
/// let snapshot = handle.load();
/// if let Some(c) = snapshot.usable_credentials() {
///     assert_eq!(c.access_key_id(), "AKIDEXAMPLE");
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct CredentialsHandle {
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for CredentialsHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.shared.snapshot.load();
        f.debug_struct("CredentialsHandle")
            .field("role", &s.role)
            .field("source", &s.source)
            .field("state", &s.state)
            .field("generation", &s.generation)
            .finish()
    }
}

impl CredentialsHandle {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// The current snapshot: no lock, no await, no allocation.
    ///
    /// The guard must not be held across `.await`; see [`SnapshotGuard`].
    #[inline]
    pub fn load(&self) -> SnapshotGuard {
        SnapshotGuard {
            guard: self.shared.snapshot.load(),
        }
    }

    /// The current snapshot as an owned `Arc`, to keep across `.await` or for
    /// long. Costs a reference-count increment, which contends when many
    /// threads do it at once: prefer [`load`](Self::load) on hot paths.
    pub fn load_full(&self) -> Arc<Snapshot> {
        self.shared.snapshot.load_full()
    }

    /// A reader for one worker that keeps the snapshot it last read and
    /// checks, on each read, only whether a newer one was published: for
    /// hot loops that read on every request. See [`CachedReader`] for when
    /// to prefer it and what it keeps alive.
    pub fn cached_reader(&self) -> CachedReader {
        CachedReader {
            cache: arc_swap::cache::Cache::new(SnapshotCell(self.shared.clone())),
            shared: self.shared.clone(),
        }
    }

    /// The role's name.
    pub fn role(&self) -> Arc<str> {
        self.shared.snapshot.load().role.clone()
    }

    /// Waits until usable credentials are published
    /// ([`Snapshot::usable_credentials`] returns some), up to `timeout`.
    ///
    /// # Errors
    /// [`WaitError::TimedOut`] (with the last error class) when none arrive
    /// in time; [`WaitError::Stopped`], at once, when the refresher has
    /// stopped ([`Snapshot::is_stopped`]) and the credentials it left are
    /// not usable.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<Arc<Snapshot>, WaitError> {
        self.wait_for(timeout, |s| s.usable_credentials().is_some()).await
    }

    /// Waits until a published snapshot satisfies `condition` (checked on
    /// the current one first), up to `timeout`.
    ///
    /// # Errors
    /// [`WaitError::TimedOut`] when no snapshot satisfies it in time;
    /// [`WaitError::Stopped`], at once, when the current one does not and
    /// the refresher has stopped (no snapshot will come any more).
    pub async fn wait_for(
        &self,
        timeout: Duration,
        mut condition: impl FnMut(&Snapshot) -> bool,
    ) -> Result<Arc<Snapshot>, WaitError> {
        let wait = async {
            loop {
                // Registered before the snapshot is read: a publish after
                // the read wakes it (`notify_waiters` completes every
                // `Notified` made before it), so none is missed.
                let published = self.shared.published.notified();
                let snapshot = self.load_full();
                if condition(&snapshot) {
                    return Ok(snapshot);
                }
                if snapshot.stopped {
                    return Err(WaitError::Stopped);
                }
                published.await;
            }
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(result) => result,
            Err(_) => Err(WaitError::TimedOut {
                last_error: self.load().last_error_class(),
            }),
        }
    }

    /// Refresh events of this role: refreshed, recovered, failed, extended,
    /// expired. Events sent before the call are not seen.
    ///
    /// The first call on a role makes its event channel (a buffer of
    /// [`EVENT_CAPACITY`] events, a few KiB); roles never subscribed to
    /// have none.
    pub fn subscribe(&self) -> broadcast::Receiver<RefreshEvent> {
        let events = &self.shared.events;
        loop {
            if let Some(sender) = &*events.load() {
                return sender.subscribe();
            }
            // The first subscription: make the channel, unless another
            // thread made it meanwhile (then the loop takes that one).
            let sender = Arc::new(broadcast::channel(EVENT_CAPACITY).0);
            let receiver = sender.subscribe();
            let before = events.compare_and_swap(&None::<Arc<_>>, Some(sender));
            if before.is_none() {
                return receiver;
            }
        }
    }

    /// Declares the current credentials bad (a service rejected them) and
    /// asks for a refresh as soon as the invalidation cooldown allows.
    ///
    /// Cheap and safe to call from every worker at once: calls made about
    /// the same credentials cause one fetch, and calls about credentials
    /// already replaced cause none. A rejection that arrives after the
    /// credentials were rotated (a request signed before the rotation,
    /// answered after it) would invalidate the new ones: when you know
    /// which credentials were rejected, use
    /// [`invalidate_credentials`](Self::invalidate_credentials) or
    /// [`invalidate_key`](Self::invalidate_key) instead.
    pub fn invalidate(&self) {
        let generation = self.shared.snapshot.load().credentials_generation;
        self.shared.invalidations.fetch_add(1, Ordering::Relaxed);
        self.invalidate_generation(generation);
    }

    /// Declares the credentials whose access key ID is `access_key_id` bad:
    /// if they are the ones served now, as [`invalidate`](Self::invalidate);
    /// if they were already replaced (a late rejection of a rotated key),
    /// nothing happens and no fetch is made. Counted in
    /// [`INVALIDATIONS`](crate::metrics::INVALIDATIONS) either way.
    pub fn invalidate_key(&self, access_key_id: &str) {
        let generation = {
            let snapshot = self.shared.snapshot.load();
            snapshot
                .credentials()
                .filter(|c| c.access_key_id() == access_key_id)
                .map(|_| snapshot.credentials_generation)
        };
        self.shared.invalidations.fetch_add(1, Ordering::Relaxed);
        if let Some(generation) = generation {
            self.invalidate_generation(generation);
        }
    }

    /// Declares `credentials` bad (those a rejected request was signed
    /// with): as [`invalidate_key`](Self::invalidate_key) with their access
    /// key ID.
    pub fn invalidate_credentials(&self, credentials: &Credentials) {
        self.invalidate_key(credentials.access_key_id());
    }

    /// Marks the credentials published at `generation` bad and wakes the
    /// refresher once per generation.
    fn invalidate_generation(&self, generation: u64) {
        if generation == 0 {
            // Nothing loaded yet: the refresher is already trying.
            return;
        }
        let before = self
            .shared
            .invalidated_generation
            .fetch_max(generation, Ordering::AcqRel);
        if before < generation {
            self.shared.refresher.wake();
        }
    }
}

/// The role's snapshot cell, as [`arc_swap::cache::Cache`] wants it: a
/// clonable pointer that dereferences to the `ArcSwap`.
#[derive(Clone)]
struct SnapshotCell(Arc<Shared>);

impl Deref for SnapshotCell {
    type Target = ArcSwap<Snapshot>;

    #[inline]
    fn deref(&self) -> &ArcSwap<Snapshot> {
        &self.0.snapshot
    }
}

/// A per-worker reader of one role's snapshot that keeps the latest one it
/// read: when nothing was published since, a read is one atomic load and a
/// compare, close to dereferencing a static (see the README's figures).
/// Made by [`CredentialsHandle::cached_reader`].
///
/// # When to prefer it to [`CredentialsHandle::load`]
/// In a hot loop that reads the credentials on every request and that
/// owns its reader: a worker thread, a task, a connection. [`load`] is
/// already cheap (no lock, no allocation) and needs only `&self`; this
/// saves most of its cost (arc-swap's debt slot and guard) at the price of
/// `&mut self` access: keep one reader per worker (it is `Clone` and
/// `Send`), not one shared behind a lock, which would cost more than it
/// saves.
///
/// # What it returns
/// Never a snapshot older than the latest one published before the read
/// began as far as this thread can tell: each read compares its copy with
/// the role's current snapshot, and takes the current one if they differ.
/// A publish that happened before the read (that this thread learnt of by
/// a [`load`], an event, a wait, or any other synchronisation) is seen.
///
/// # Memory
/// It holds a reference to the last snapshot it read, so that snapshot (and
/// its credentials) stays in memory until the reader's next read after a
/// publish, or until it is dropped: a reader that stops reading keeps old
/// credentials alive. Drop readers you no longer use.
///
/// ```
/// # use credrefresh::{Refresher, sources::StaticSource, Credentials};
/// # use std::time::SystemTime;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let creds = Credentials::new("AKIDEXAMPLE", "secret", SystemTime::UNIX_EPOCH)?;
/// # let refresher = Refresher::builder().role("app", StaticSource::new(creds)).start()?;
/// # let handle = refresher.handle("app").expect("configured above");
/// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
/// # rt.block_on(handle.wait_ready(std::time::Duration::from_secs(5)))?;
/// let mut reader = handle.cached_reader();
/// for _request in 0..3 {
///     if let Some(c) = reader.load().usable_credentials() {
///         assert_eq!(c.access_key_id(), "AKIDEXAMPLE");
///     }
/// }
/// # Ok(()) }
/// ```
///
/// [`load`]: CredentialsHandle::load
#[derive(Clone)]
pub struct CachedReader {
    cache: arc_swap::cache::Cache<SnapshotCell, Arc<Snapshot>>,
    /// For [`handle`](Self::handle): the cache does not give its cell back.
    shared: Arc<Shared>,
}

impl CachedReader {
    /// The role's current snapshot: the one it holds if nothing was
    /// published since its last read (one atomic load and a compare), the
    /// new one otherwise (as [`CredentialsHandle::load_full`]).
    #[inline]
    pub fn load(&mut self) -> &Snapshot {
        self.cache.load()
    }

    /// A handle of the same role.
    pub fn handle(&self) -> CredentialsHandle {
        CredentialsHandle::new(self.shared.clone())
    }
}

impl fmt::Debug for CachedReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedReader")
            .field("handle", &self.handle())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared() -> Arc<Shared> {
        Shared::new("app".into(), "static")
    }

    /// Every role has one of each: most roles never fail, so what they
    /// never set is boxed and made on first use (see the README's memory
    /// figures).
    #[test]
    fn what_every_role_carries_stays_small() {
        use std::mem::size_of;
        assert!(size_of::<Snapshot>() <= 120, "{}", size_of::<Snapshot>());
        // 232 bytes and the `Arc`'s counts: malloc's 256-byte size class.
        assert!(size_of::<Shared>() <= 232, "{}", size_of::<Shared>());
    }

    #[test]
    fn debug_shows_every_field_whether_the_rare_ones_were_made_or_not() {
        let mut snap = Snapshot::empty("app".into(), "static");
        let text = format!("{snap:?}");
        assert!(
            text.starts_with(
                "Snapshot { role: \"app\", source: \"static\", resolved_source: None, credentials: None, \
                 state: NotLoaded, last_error: None, last_success: None, next_refresh: None, \
                 consecutive_failures: 0, extensions: 0, restarts: 0, generation: 0, \
                 credentials_generation: 0, stopped: false, clock: "
            ),
            "{text}"
        );
        snap.rare_mut().restarts = 2;
        assert!(format!("{snap:?}").contains("extensions: 0, restarts: 2, generation: 0"));
        assert!(!format!("{snap:?}").contains("rare"));
    }

    #[test]
    fn rare_fields_are_made_on_first_use_and_read_as_zero_before() {
        let mut snap = Snapshot::empty("app".into(), "static");
        assert!(snap.rare.is_none());
        assert_eq!((snap.extensions(), snap.restarts()), (0, 0));
        assert!(snap.last_error().is_none() && snap.last_error_class().is_none());
        assert_eq!(snap.resolved_source(), "static");
        assert!(snap.rare.is_none(), "reads made the rare fields");
        snap.rare_mut().resolved_source = Some("imds");
        snap.rare_mut().restarts += 1;
        let copy = snap.clone();
        assert_eq!(
            (copy.resolved_source(), copy.restarts(), copy.source()),
            ("imds", 1, "static")
        );
    }

    #[test]
    fn handle_is_send_sync_clone() {
        fn check<T: Send + Sync + Clone + 'static>() {}
        check::<CredentialsHandle>();
    }

    #[test]
    fn cached_reader_is_send_clone() {
        fn check<T: Send + Clone + 'static>() {}
        check::<CachedReader>();
    }

    #[test]
    fn a_cached_reader_sees_each_publish_and_keeps_its_snapshot_otherwise() {
        let s = shared();
        let h = CredentialsHandle::new(s.clone());
        let mut reader = h.cached_reader();
        assert_eq!(reader.load().generation(), 0);
        let first: *const Snapshot = reader.load();
        assert_eq!(first, reader.load() as *const Snapshot, "no publish: the same snapshot");
        for expected in 1..=5 {
            s.publish(Snapshot::empty("app".into(), "static"), expected % 2 == 0, &[]);
            assert_eq!(reader.load().generation(), expected);
            assert_eq!(reader.load().generation(), h.load().generation());
        }
        assert_eq!(&*reader.handle().role(), "app");
        assert!(format!("{reader:?}").contains("app"));
        // A clone starts from what the original holds and follows on its own.
        let mut clone = reader.clone();
        s.publish(Snapshot::empty("app".into(), "static"), false, &[]);
        assert_eq!(clone.load().generation(), 6);
        assert_eq!(reader.load().generation(), 6);
    }

    /// A writer publishes generation after generation and, after each,
    /// announces it (release); readers on other threads read the
    /// announcement (acquire), then their cached reader: it must never
    /// return a generation older than the one announced, nor go backwards.
    #[test]
    fn a_cached_reader_never_reads_older_than_a_publish_it_observed_across_threads() {
        use std::sync::atomic::AtomicBool;
        const PUBLISHES: u64 = 20_000;
        let s = shared();
        let announced = Arc::new(AtomicU64::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let mut reader = CredentialsHandle::new(s.clone()).cached_reader();
                let (announced, done) = (announced.clone(), done.clone());
                std::thread::spawn(move || {
                    let (mut last, mut reads) = (0, 0u64);
                    loop {
                        let finished = done.load(Ordering::Acquire);
                        let seen = announced.load(Ordering::Acquire);
                        let generation = reader.load().generation();
                        assert!(generation >= seen, "read {generation} after {seen} was published");
                        assert!(generation >= last, "went back from {last} to {generation}");
                        last = generation;
                        reads += 1;
                        if finished {
                            assert_eq!(generation, PUBLISHES);
                            return reads;
                        }
                    }
                })
            })
            .collect();
        for generation in 1..=PUBLISHES {
            assert_eq!(
                s.publish(Snapshot::empty("app".into(), "static"), true, &[]),
                generation
            );
            announced.store(generation, Ordering::Release);
        }
        done.store(true, Ordering::Release);
        for reader in readers {
            assert!(reader.join().unwrap() > 0);
        }
    }

    #[test]
    fn publish_bumps_generation_and_sends_events() {
        let s = shared();
        let h = CredentialsHandle::new(s.clone());
        let mut rx = h.subscribe();
        assert_eq!(h.load().generation(), 0);
        assert_eq!(h.load().state(), CredentialsState::NotLoaded);
        let snap = Snapshot::empty("app".into(), "static");
        let g = s.publish(snap, false, &[RefreshEventKind::Expired]);
        assert_eq!(g, 1);
        assert_eq!(h.load().generation(), 1);
        let ev = rx.try_recv().unwrap();
        assert_eq!(ev.generation, 1);
        assert_eq!(&*ev.role, "app");
    }

    #[test]
    fn invalidate_notifies_once_per_generation() {
        let s = shared();
        let h = CredentialsHandle::new(s.clone());
        s.publish(Snapshot::empty("app".into(), "static"), true, &[]);
        for _ in 0..100 {
            h.invalidate();
        }
        assert_eq!(s.invalidated_generation.load(Ordering::Relaxed), 1);
        assert_eq!(s.invalidations.load(Ordering::Relaxed), 100);
    }

    fn expiring_at(expiry: SystemTime) -> Credentials {
        Credentials::builder("ASIAUNIT", "unit-secret", SystemTime::UNIX_EPOCH)
            .expiry(expiry)
            .build()
            .unwrap()
    }

    #[test]
    fn usable_credentials_are_checked_against_the_clock() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let clock = crate::clock::ManualClock::new(start);
        let s = Shared::on_clock("app".into(), "static", Arc::new(clock.clone()));
        let mut snap = (*s.snapshot.load_full()).clone();
        snap.credentials = Some(expiring_at(start + Duration::from_secs(60)));
        snap.state = CredentialsState::Fresh;
        s.publish(snap, true, &[]);
        let h = CredentialsHandle::new(s);
        assert!(h.load().usable_credentials().is_some());
        clock.advance(Duration::from_secs(59));
        assert!(h.load().usable_credentials().is_some());
        // At the expiry itself, no longer: the state still says fresh.
        clock.advance(Duration::from_secs(1));
        assert!(h.load().usable_credentials().is_none());
        assert_eq!(h.load().state(), CredentialsState::Fresh);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stopped_role_ends_every_wait_at_once_and_only_once() {
        let s = shared();
        let h = CredentialsHandle::new(s.clone());
        let mut events = h.subscribe();
        let waiter = {
            let h = h.clone();
            tokio::spawn(async move { h.wait_ready(Duration::from_secs(3600)).await })
        };
        tokio::task::yield_now().await;
        s.mark_stopped();
        s.mark_stopped();
        assert_eq!(waiter.await.unwrap().unwrap_err(), WaitError::Stopped);
        assert!(h.load().is_stopped());
        assert_eq!(h.load().generation(), 1);
        assert_eq!(events.try_recv().unwrap().kind, RefreshEventKind::Stopped);
        assert!(events.try_recv().is_err());
        // A condition the last snapshot satisfies still succeeds.
        assert!(h.wait_for(Duration::ZERO, |s| s.is_stopped()).await.is_ok());
    }

    #[test]
    fn invalidate_key_marks_only_the_credentials_it_names() {
        let s = shared();
        let h = CredentialsHandle::new(s.clone());
        let mut snap = Snapshot::empty("app".into(), "static");
        snap.credentials = Some(expiring_at(SystemTime::UNIX_EPOCH + Duration::from_secs(4_000_000_000)));
        s.publish(snap.clone(), true, &[]);
        h.invalidate_key("ASIAOTHER");
        assert_eq!(s.invalidated_generation.load(Ordering::Relaxed), 0);
        h.invalidate_key("ASIAUNIT");
        assert_eq!(s.invalidated_generation.load(Ordering::Relaxed), 1);
        let old = snap.credentials.clone().unwrap();
        snap.credentials = Some(
            Credentials::builder("ASIANEW", "new-secret", SystemTime::UNIX_EPOCH)
                .build()
                .unwrap(),
        );
        s.publish(snap, true, &[]);
        h.invalidate_credentials(&old);
        assert_eq!(s.invalidated_generation.load(Ordering::Relaxed), 1);
        assert_eq!(s.invalidations.load(Ordering::Relaxed), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn wait_ready_times_out_with_last_error() {
        let s = shared();
        let h = CredentialsHandle::new(s.clone());
        let mut snap = Snapshot::empty("app".into(), "static");
        snap.rare_mut().last_error = Some(LastError {
            class: ErrorClass::Throttled,
            message: "slow down".into(),
            at: SystemTime::UNIX_EPOCH,
        });
        s.publish(snap, false, &[]);
        let err = h.wait_ready(Duration::from_secs(10)).await.unwrap_err();
        assert_eq!(
            err,
            WaitError::TimedOut {
                last_error: Some(ErrorClass::Throttled)
            }
        );
    }
}
