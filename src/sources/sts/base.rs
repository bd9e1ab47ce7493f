//! The credentials an AssumeRole or GetSessionToken call is signed with.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::credentials::Credentials;
use crate::error::{ErrorClass, SourceError, WaitError};
use crate::handle::CredentialsHandle;
use crate::source::{FetchContext, Source};

/// Default time a fetch waits for a base handle that has no usable
/// credentials yet (its first refresh may be running): 5 s.
pub const DEFAULT_BASE_WAIT: Duration = Duration::from_secs(5);

/// Where the credentials that sign an STS call come from.
///
/// - [`BaseCredentials::Handle`]: another role's handle (role chaining; one
///   base can serve many roles). Read lock-free at every refresh. If it has
///   no usable credentials yet, the fetch waits for them up to the source's
///   `base_wait`, then fails as [`Retryable`](ErrorClass::Retryable). When
///   STS rejects them (`ExpiredToken`, `InvalidClientTokenId`,
///   `SignatureDoesNotMatch`), the handle is
///   [invalidated](CredentialsHandle::invalidate) so its own refresher
///   fetches new ones.
/// - [`BaseCredentials::Source`]: any [`Source`] (static keys, environment),
///   fetched at every refresh; its errors are passed on with their class.
///
/// `From` conversions exist for a [`CredentialsHandle`] and for the sources
/// of [`crate::sources`], so builders take either directly.
#[non_exhaustive]
#[derive(Clone)]
pub enum BaseCredentials {
    /// Another role's credentials.
    Handle(CredentialsHandle),
    /// A source fetched at every refresh.
    Source(Arc<dyn Source>),
}

impl fmt::Debug for BaseCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BaseCredentials::Handle(h) => f.debug_tuple("Handle").field(&h.role()).finish(),
            BaseCredentials::Source(s) => f.debug_tuple("Source").field(&s.name()).finish(),
        }
    }
}

impl BaseCredentials {
    /// Credentials of another role, read from its handle.
    pub fn from_handle(handle: CredentialsHandle) -> Self {
        BaseCredentials::Handle(handle)
    }

    /// Credentials fetched from `source` at every refresh.
    pub fn from_source(source: impl Source) -> Self {
        BaseCredentials::Source(Arc::new(source))
    }

    /// The current base credentials.
    pub(crate) async fn get(&self, ctx: &FetchContext, wait: Duration) -> Result<Credentials, SourceError> {
        match self {
            BaseCredentials::Handle(handle) => {
                {
                    // The guard is dropped before any await.
                    let snapshot = handle.load();
                    if let Some(c) = snapshot.usable_credentials() {
                        return Ok(c.clone());
                    }
                }
                match handle.wait_ready(wait).await {
                    Ok(snapshot) => snapshot.usable_credentials().cloned().ok_or_else(|| {
                        SourceError::retryable(format!("base credentials of role `{}` are not usable", handle.role()))
                    }),
                    Err(WaitError::TimedOut { last_error }) => Err(SourceError::retryable(format!(
                        "base credentials of role `{}` not ready after {wait:?} (its last error: {})",
                        handle.role(),
                        last_error.map(ErrorClass::as_str).unwrap_or("none")
                    ))),
                    Err(e) => Err(SourceError::not_loaded(format!(
                        "base credentials of role `{}`: {e}",
                        handle.role()
                    ))),
                }
            }
            BaseCredentials::Source(source) => source.fetch(ctx.clone()).await.map_err(|e| {
                SourceError::new(
                    e.class(),
                    format!("base credentials from source `{}` failed", source.name()),
                )
                .with_cause(e)
            }),
        }
    }

    /// STS rejected the base credentials whose key id is `used`: ask the base
    /// handle for new ones, unless it has already moved on.
    pub(crate) fn rejected(&self, used: &str) {
        if let BaseCredentials::Handle(handle) = self {
            let current = handle.load().credentials().map(|c| c.access_key_id() == used);
            if current == Some(true) {
                tracing::warn!(
                    base_role = %handle.role(),
                    "STS rejected the base credentials; invalidating the base role's handle"
                );
                handle.invalidate();
            }
        }
    }

    /// Passes on the result of an STS call signed with `used`, first telling
    /// the base ([`rejected`](Self::rejected)) when STS rejected them.
    pub(crate) fn checked<T>(&self, used: &Credentials, result: Result<T, SourceError>) -> Result<T, SourceError> {
        if let Err(e) = &result {
            if e.class() == ErrorClass::CredentialsRejected {
                self.rejected(used.access_key_id());
            }
        }
        result
    }
}

impl From<CredentialsHandle> for BaseCredentials {
    fn from(handle: CredentialsHandle) -> Self {
        BaseCredentials::Handle(handle)
    }
}

impl From<Arc<dyn Source>> for BaseCredentials {
    fn from(source: Arc<dyn Source>) -> Self {
        BaseCredentials::Source(source)
    }
}

impl From<crate::sources::StaticSource> for BaseCredentials {
    fn from(source: crate::sources::StaticSource) -> Self {
        BaseCredentials::from_source(source)
    }
}

impl From<crate::sources::EnvSource> for BaseCredentials {
    fn from(source: crate::sources::EnvSource) -> Self {
        BaseCredentials::from_source(source)
    }
}
