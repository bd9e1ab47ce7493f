//! Helpers shared by the test binaries: `tests/refresher`, `tests/sources`
//! and `tests/peers` (one binary per area), and `tests/sdk-interop`. Each
//! includes this tree as a public module:
//!
//! ```ignore
//! #[path = "../common/mod.rs"]
//! pub mod common;
//! ```
//!
//! Public, because every binary uses a different part of it: a public item
//! of a test crate is not dead code when that crate leaves it unused, as in
//! a library, while a private helper nobody uses still warns.
//!
//! Helpers only one binary uses live in that binary's folder instead
//! (`tests/emulator/client.rs`, `tests/sources/canned.rs`). `bench.rs` is
//! not part of this tree: the benches include it by path, with `fake.rs`;
//! nor is `agent_moto.rs` (it needs the `agent` feature): the agent's client
//! tests include it by path.

pub mod botocore;
pub mod demo;
pub mod exposition;
pub mod fake;
pub mod moto;
pub mod peers;
pub mod prometheus;
pub mod refreshing;

use std::future::Future;
use std::time::Duration;

/// A fixed set of variables as a source's `env_lookup`.
pub fn lookup(
    pairs: impl IntoIterator<Item = (&'static str, String)>,
) -> impl Fn(&str) -> Option<String> + Send + Sync + 'static {
    let map: std::collections::HashMap<&'static str, String> = pairs.into_iter().collect();
    move |k| map.get(k).cloned()
}

/// Runs `f` inside an actix system whose Tokio runtime starts with time
/// paused: timers fire as soon as every task is idle, so hours of refresh
/// schedule run in milliseconds, and no test waits on the wall clock.
pub fn run_paused<F, Fut>(f: F) -> Fut::Output
where
    F: FnOnce() -> Fut,
    Fut: Future,
{
    let system = actix_rt::System::with_tokio_rt(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .expect("paused runtime")
    });
    system.block_on(f())
}

/// Waits for the next event matching `pred`, up to `limit` (Tokio time).
pub async fn next_event<P>(
    rx: &mut tokio::sync::broadcast::Receiver<credrefresh::RefreshEvent>,
    limit: Duration,
    mut pred: P,
) -> credrefresh::RefreshEvent
where
    P: FnMut(&credrefresh::RefreshEventKind) -> bool,
{
    tokio::time::timeout(limit, async {
        loop {
            match rx.recv().await {
                Ok(ev) if pred(&ev.kind) => return ev,
                Ok(_) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(e) => panic!("event stream closed: {e}"),
            }
        }
    })
    .await
    .expect("no matching event within the limit")
}
