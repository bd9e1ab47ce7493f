//! # credrefresh
//!
//! Keeps AWS credentials fresh inside long-running async servers.
//!
//! A server builds one [`Refresher`], names the roles it needs and where
//! each comes from, and clones a [`CredentialsHandle`] into every worker.
//! Inside, an actix supervisor runs one refresher actor per role: each
//! refreshes ahead of expiry with jitter, retries with exponential backoff,
//! keeps serving (and extends, and says so) the last good credentials when
//! the source is down, and emits metrics. Credentials are published through
//! [`arc_swap`], so [`CredentialsHandle::load`] never locks, awaits,
//! allocates or waits on the network.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use credrefresh::{Credentials, CredentialsState, Refresher, sources::StaticSource};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let base = Credentials::new("AKIDEXAMPLE", "example-secret", SystemTime::UNIX_EPOCH)?;
//! let refresher = Refresher::builder().role("app", StaticSource::new(base)).start()?;
//! let handle = refresher.handle("app").expect("configured above");
//!
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! rt.block_on(handle.wait_ready(Duration::from_secs(5)))?;
//!
//! // On the hot path, in any thread:
//! let snapshot = handle.load();
//! assert_eq!(snapshot.state(), CredentialsState::Fresh);
//! assert_eq!(snapshot.credentials().unwrap().access_key_id(), "AKIDEXAMPLE");
//! # Ok(()) }
//! ```
//!
//! See [`policy`] for when refreshes happen and what happens on failure,
//! and [`metrics`] for what is measured.
//!
//! # Configuration style
//! Every configuration type — [`RefresherBuilder`], [`RefreshPolicy`],
//! [`backoff::BackoffConfig`], each source's builder, [`CredentialsBuilder`]
//! — is set the same way: required values are arguments of the constructor
//! (`builder(…)`, `new(…)`), and every optional one has a consuming setter
//! named after the setting, without `with_`/`set_` (`.window_fraction(0.25)`,
//! `.fetch_timeout(d)`), whose doc says what it defaults to (a `DEFAULT_*`
//! constant, linked). Values are checked once, where the configuration is
//! used — `build()`, `start()` or `add_role()` — and the `# Errors` section
//! there lists every rejected value. Built values are read through getters
//! with the plain name (`credentials.expiry()`).
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "agent")]
#[cfg_attr(docsrs, doc(cfg(feature = "agent")))]
pub mod agent;
pub mod backoff;
pub mod clock;
mod credentials;
mod document;
mod error;
/// Fuzzing entry points: only under `cfg(fuzzing)` (set by `cargo fuzz`) and tests.
#[cfg(any(fuzzing, test))]
#[doc(hidden)]
pub mod fuzzing;
mod handle;
pub mod metrics;
pub mod policy;
mod refresher;
#[cfg(feature = "aws-sdk")]
#[cfg_attr(docsrs, doc(cfg(feature = "aws-sdk")))]
pub mod sdk;
mod source;
pub mod sources;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

pub use credentials::{Credentials, CredentialsBuilder, CredentialsError, REDACTED, env_vars};
pub use error::{BuildError, ErrorClass, SourceError, WaitError};
pub use handle::{
    CachedReader, CredentialsHandle, CredentialsState, EVENT_CAPACITY, LastError, RefreshEvent, RefreshEventKind,
    Snapshot, SnapshotGuard,
};
pub use policy::RefreshPolicy;
pub use refresher::{DEFAULT_START_TIMEOUT, Refresher, RefresherBuilder};
pub use source::{FetchContext, FetchFuture, Source};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
