//! The [`Source`] trait: one async fetch of fresh credentials.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use crate::clock::{Clock, SystemClock};
use crate::credentials::Credentials;
use crate::error::SourceError;

/// The future a [`Source::fetch`] returns.
pub type FetchFuture<'a> = Pin<Box<dyn Future<Output = Result<Credentials, SourceError>> + Send + 'a>>;

/// What a fetch may need from its refresher: the role's name and the clock
/// (for the issue time of the credentials).
#[derive(Clone)]
pub struct FetchContext {
    role: Arc<str>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for FetchContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FetchContext").field("role", &self.role).finish()
    }
}

impl FetchContext {
    /// A context for `role` reading time from `clock`.
    pub fn new(role: impl Into<Arc<str>>, clock: Arc<dyn Clock>) -> Self {
        Self {
            role: role.into(),
            clock,
        }
    }

    /// A context on the system clock, for calling a source by hand.
    pub fn system(role: impl Into<Arc<str>>) -> Self {
        Self::new(role, Arc::new(SystemClock))
    }

    /// The role being refreshed.
    pub fn role(&self) -> &str {
        &self.role
    }

    /// The current time.
    pub fn now(&self) -> SystemTime {
        self.clock.now()
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }
}

/// Where credentials come from.
///
/// A source fetches once per call. It does not schedule, cache or retry:
/// the refresher actor does. Its error's [`class`](SourceError::class) tells
/// the actor whether retrying can help.
pub trait Source: Send + Sync + 'static {
    /// A short, fixed name for metrics and logs: `env`, `static`, `sts`, …
    fn name(&self) -> &'static str;

    /// Fetches credentials once.
    fn fetch(&self, ctx: FetchContext) -> FetchFuture<'_>;

    /// For a source that picks among others (the
    /// [`DefaultChain`](crate::sources::DefaultChain)): the name of the one
    /// that answered, which the refresher shows as the snapshot's
    /// [`resolved_source`](crate::Snapshot::resolved_source) after each
    /// success (and in [`CHAIN_SOURCE`](crate::metrics::CHAIN_SOURCE));
    /// [`name`](Self::name) stays the snapshot's
    /// [`source`](crate::Snapshot::source) and the metrics' label. `None`
    /// (the default) for a source that does not pick.
    fn resolved_name(&self) -> Option<&'static str> {
        None
    }
}

impl<S: Source + ?Sized> Source for Arc<S> {
    fn name(&self) -> &'static str {
        (**self).name()
    }

    fn fetch(&self, ctx: FetchContext) -> FetchFuture<'_> {
        (**self).fetch(ctx)
    }

    fn resolved_name(&self) -> Option<&'static str> {
        (**self).resolved_name()
    }
}
