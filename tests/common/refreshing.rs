//! A refresher running one source over the emulator, and the checks its
//! tests make: a refresh that fails with a given class, and the last good
//! credentials still served. Real time over loopback.

use std::sync::Arc;
use std::time::Duration;

use credrefresh::backoff::BackoffConfig;
use credrefresh::policy::RetrySchedule;
use credrefresh::{CredentialsHandle, CredentialsState, ErrorClass, RefreshPolicy, Refresher, Snapshot, Source};

/// Quick retries without jitter (100 ms doubling up to 500 ms, every
/// retry on the backoff alone: no wait for the expiry), and invalidations
/// acted on at once.
pub fn quick_policy() -> RefreshPolicy {
    RefreshPolicy::default()
        .retry_schedule(RetrySchedule::Backoff)
        .backoff(
            BackoffConfig::default()
                .initial(Duration::from_millis(100))
                .multiplier(2.0)
                .max(Duration::from_millis(500))
                .jitter(0.0),
        )
        .invalidation_cooldown(Duration::ZERO)
}

/// A running refresher of role `role` over `source` with `policy`, once it
/// has its first credentials (within `wait`), and that first snapshot.
pub async fn started(
    policy: RefreshPolicy,
    role: &str,
    source: impl Source,
    wait: Duration,
) -> (Refresher, CredentialsHandle, Arc<Snapshot>) {
    let refresher = Refresher::builder().policy(policy).role(role, source).start().unwrap();
    let handle = refresher.handle(role).unwrap();
    let snapshot = handle.wait_ready(wait).await.expect("first credentials");
    (refresher, handle, snapshot)
}

/// A running refresher of role `app` over `source` with [`quick_policy`],
/// once it has credentials, and their access key ID.
pub async fn running(source: impl Source, wait: Duration) -> (Refresher, CredentialsHandle, String) {
    let (refresher, handle, snapshot) = started(quick_policy(), "app", source, wait).await;
    let key = snapshot.credentials().unwrap().access_key_id().to_string();
    (refresher, handle, key)
}

/// Asks for a refresh and waits (up to `wait`) until it failed with `class`.
pub async fn refresh_fails_with(handle: &CredentialsHandle, class: ErrorClass, wait: Duration) -> Arc<Snapshot> {
    handle.invalidate();
    handle
        .wait_for(wait, |s| {
            s.consecutive_failures() > 0 && s.last_error_class() == Some(class)
        })
        .await
        .unwrap_or_else(|e| panic!("no {class} failure: {e}; snapshot {:?}", handle.load()))
}

/// The last good credentials (access key ID `key`, from source `source`)
/// are still served, fresh.
pub fn assert_kept(snapshot: &Snapshot, key: &str, source: &str) {
    assert_eq!(snapshot.credentials().unwrap().access_key_id(), key);
    assert_eq!(snapshot.state(), CredentialsState::Fresh);
    assert_eq!(snapshot.source(), source);
}
