//! A role's credentials passed on to the roles assumed with them, for
//! roles configured on a [`RefresherBuilder`](crate::RefresherBuilder),
//! where no role has a handle yet.
//!
//! The base role's source is wrapped in a [`Published`] that sends every
//! credentials it fetches to a watch channel; each role assumed with them
//! signs with a [`Follower`] of that channel. So the base is fetched once,
//! by its own role, on its own schedule, however many roles use it: the
//! same as [`BaseCredentials::Handle`](crate::sources::sts::BaseCredentials::Handle),
//! except that a base that STS rejects is not asked to refresh early (it
//! refreshes on its own schedule).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::credentials::Credentials;
use crate::error::SourceError;
use crate::source::{FetchContext, FetchFuture, Source};

/// How long a follower waits for its base role's first credentials:
/// [`DEFAULT_BASE_WAIT`](crate::sources::sts::DEFAULT_BASE_WAIT).
const FOLLOW_WAIT: Duration = crate::sources::sts::DEFAULT_BASE_WAIT;

/// A base role's source, publishing what it fetches to its followers.
pub(super) struct Published {
    source: Arc<dyn Source>,
    sender: watch::Sender<Option<Credentials>>,
}

impl Published {
    /// Wraps `source` (the source of role `role`), with a follower for
    /// each role assumed with it.
    pub(super) fn new(role: &str, source: Arc<dyn Source>) -> (Published, Follower) {
        let (sender, receiver) = watch::channel(None);
        let follower = Follower {
            role: Arc::from(role),
            receiver,
        };
        (Published { source, sender }, follower)
    }
}

impl Source for Published {
    fn name(&self) -> &'static str {
        self.source.name()
    }

    fn resolved_name(&self) -> Option<&'static str> {
        self.source.resolved_name()
    }

    fn fetch(&self, ctx: FetchContext) -> FetchFuture<'_> {
        Box::pin(async move {
            let credentials = self.source.fetch(ctx).await?;
            self.sender.send_replace(Some(credentials.clone()));
            Ok(credentials)
        })
    }
}

/// The credentials of a base role, as its [`Published`] source last
/// fetched them.
#[derive(Clone)]
pub(super) struct Follower {
    role: Arc<str>,
    receiver: watch::Receiver<Option<Credentials>>,
}

impl fmt::Debug for Follower {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Follower").field("role", &self.role).finish()
    }
}

impl Follower {
    async fn current(&self, ctx: &FetchContext) -> Result<Credentials, SourceError> {
        let mut receiver = self.receiver.clone();
        let wait = async {
            loop {
                {
                    let latest = receiver.borrow_and_update();
                    if let Some(c) = latest.as_ref().filter(|c| !c.is_expired_at(ctx.now())) {
                        return Ok(c.clone());
                    }
                }
                if receiver.changed().await.is_err() {
                    return Err(SourceError::not_loaded(format!(
                        "base role `{}` is no longer refreshed",
                        self.role
                    )));
                }
            }
        };
        match tokio::time::timeout(FOLLOW_WAIT, wait).await {
            Ok(result) => result,
            Err(_) => Err(SourceError::retryable(format!(
                "base role `{}` has no usable credentials after {FOLLOW_WAIT:?}",
                self.role
            ))),
        }
    }
}

impl Source for Follower {
    fn name(&self) -> &'static str {
        "role"
    }

    fn fetch(&self, ctx: FetchContext) -> FetchFuture<'_> {
        Box::pin(async move { self.current(&ctx).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorClass;
    use crate::sources::StaticSource;
    use std::time::SystemTime;

    #[tokio::test(start_paused = true)]
    async fn followers_see_what_the_base_fetched_and_wait_for_it() {
        let creds = Credentials::new("AKIDBASE", "secret", SystemTime::UNIX_EPOCH).unwrap();
        let (published, follower) = Published::new("base", Arc::new(StaticSource::new(creds)));
        assert_eq!(published.name(), "static");
        let ctx = FetchContext::system("app");
        // Nothing fetched yet: a retryable error after the wait.
        let e = follower.fetch(ctx.clone()).await.unwrap_err();
        assert_eq!(e.class(), ErrorClass::Retryable);
        assert!(e.message().contains("`base`"), "{e}");
        // A follower waiting while the base fetches gets the credentials.
        let other = follower.clone();
        let waiting = tokio::spawn(async move { other.current(&FetchContext::system("app")).await });
        published.fetch(ctx.clone()).await.unwrap();
        assert_eq!(waiting.await.unwrap().unwrap().access_key_id(), "AKIDBASE");
        assert_eq!(follower.fetch(ctx).await.unwrap().access_key_id(), "AKIDBASE");
        drop(published);
        let expired = Credentials::new("AKIDOLD", "secret", SystemTime::UNIX_EPOCH)
            .unwrap()
            .with_expiry(SystemTime::UNIX_EPOCH);
        let (published, follower) = Published::new("base", Arc::new(StaticSource::new(expired)));
        published.fetch(FetchContext::system("app")).await.unwrap();
        drop(published);
        let e = follower.fetch(FetchContext::system("app")).await.unwrap_err();
        assert_eq!(e.class(), ErrorClass::NotLoaded, "{e}");
    }
}
