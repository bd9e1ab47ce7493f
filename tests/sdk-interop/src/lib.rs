//! Interoperation of credrefresh with the official AWS SDK for Rust.
//!
//! This package is a separate workspace member so that the SDK, a heavy
//! compile, is built only when asked for:
//!
//! - `cargo test -p sdk-interop` runs the tests against the emulator, and
//!   lists those against moto (peer tests) as ignored: `scripts/test-all`
//!   installs moto and runs them with `--ignored`;
//! - `cargo bench -p sdk-interop --bench sdk_read` compares the cost of
//!   getting credentials for a request through credrefresh and through the
//!   SDK's own identity cache.
//!
//! The library holds what both share: an STS client of the SDK set up on a
//! credrefresh handle.
#![forbid(unsafe_code)]

use aws_sdk_sts::config::{BehaviorVersion, IdentityCache, Region};
use credrefresh::CredentialsHandle;

/// The region every client here signs for.
pub const REGION: &str = "us-east-1";

/// An `aws_sdk_sts::Client` that takes its credentials from `handle` and
/// talks plain HTTP to `endpoint` (moto or the emulator on loopback).
///
/// The SDK's identity cache is turned off: credrefresh already refreshes in
/// the background and its handle answers from memory at once, so the SDK's
/// lazy cache would only add latency to every request (a lock and a boxed
/// future per hit), keep a second copy of the secrets, and serve credentials
/// the refresher has already replaced until the cache's own expiry logic
/// notices. With `no_cache` every request asks the handle, so a refresh (or
/// an invalidation) is seen by the very next request.
pub fn sts_client(handle: &CredentialsHandle, endpoint: &str) -> aws_sdk_sts::Client {
    let config = aws_sdk_sts::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(handle.clone())
        .identity_cache(IdentityCache::no_cache())
        // Plain HTTP: no TLS stack is compiled in.
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_sts::Client::from_conf(config)
}
