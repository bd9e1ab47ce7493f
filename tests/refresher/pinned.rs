//! A refresher on an injected clock with its jitter pinned, so that the
//! tests of this binary can assert exact schedules.

use std::sync::Arc;
use std::time::Duration;

use credrefresh::clock::{Clock, FixedRandom};
use credrefresh::{CredentialsHandle, Refresher, RefresherBuilder, Source};

/// A builder on `clock`, every jitter drawn as `u` (0: none).
pub fn pinned(clock: Arc<dyn Clock>, u: f64) -> RefresherBuilder {
    Refresher::builder().clock(clock).random(Arc::new(FixedRandom::new(u)))
}

/// Role `app` over `source`, started on the current actix system, once it
/// has its first credentials (within 5 s of its clock).
pub async fn ready_app(builder: RefresherBuilder, source: impl Source) -> (Refresher, CredentialsHandle) {
    let refresher = builder.role("app", source).start_local().unwrap();
    let handle = refresher.handle("app").unwrap();
    handle.wait_ready(Duration::from_secs(5)).await.unwrap();
    (refresher, handle)
}
