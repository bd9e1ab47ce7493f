//! What getting credentials for one request costs: through credrefresh, and
//! through the AWS SDK for Rust's own lazy identity cache.
//!
//! - `handle.load()`: the handle's lock-free snapshot read, then the access
//!   key ID (what a request signer of our own does).
//! - `ProvideCredentials` on the handle: the SDK's credentials trait on our
//!   handle (what an SDK client with `IdentityCache::no_cache()` calls on
//!   every request, see `sdk_interop::sts_client`). It converts our
//!   credentials into the SDK's `Credentials`, which copies the key, secret
//!   and token into new allocations.
//! - SDK lazy cache hit: `IdentityCache::lazy().build()` (the SDK's default
//!   cache) answering `ResolveCachedIdentity::resolve_cached_identity` from
//!   its cache, with a `SharedCredentialsProvider` behind it; the same call
//!   the SDK's orchestrator makes for every request. The cache is filled
//!   once before measuring, so every measured call is a hit. All of it is
//!   public API: the `RuntimeComponents` the cache needs (a time source and
//!   a sleep implementation, the SDK's defaults `SystemTimeSource` and
//!   `TokioSleep`) come from the public `RuntimeComponentsBuilder`, with the
//!   public static endpoint resolver, no-auth scheme and option resolver,
//!   and never-retry strategy filling its required slots (the cache does not
//!   use them).
//! - SDK lazy cache hit over the handle: the same, with our handle as the
//!   provider behind the cache (an SDK client left with its default cache).
//!
//! The futures are polled with a no-op waker, not driven by a runtime's
//! `block_on`: every one of them is ready on its first poll on these paths
//! (the handle's future is built ready; the cache's read lock is free), so
//! this measures the calls themselves, not a runtime's scheduling. The
//! cache's calls need a Tokio context all the same (each call creates its
//! load-timeout `Sleep`, which needs a timer driver): each thread enters a
//! current-thread runtime first and never runs it.
//!
//! `cargo bench -p sdk-interop --bench sdk_read` runs the criterion group
//! (single thread), then prints a table: ns per call on one thread,
//! allocations per call (a counting global allocator), and calls per second
//! per thread with two threads calling at once while a writer has the
//! handle's refresher publish new credentials every 1 ms (the same load for
//! every row, as in the root crate's `benches/read.rs`).

// A benchmark measures wall time: the clock rule is for library decisions.
#![allow(clippy::disallowed_methods)]

#[path = "../../common/bench.rs"]
mod bench;
#[path = "../../common/fake.rs"]
#[allow(dead_code)]
mod fake;

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_smithy_async::rt::sleep::{SharedAsyncSleep, TokioSleep};
use aws_smithy_async::time::{SharedTimeSource, SystemTimeSource};
use aws_smithy_runtime::client::auth::no_auth::NoAuthScheme;
use aws_smithy_runtime::client::identity::IdentityCache;
use aws_smithy_runtime::client::orchestrator::endpoints::StaticUriEndpointResolver;
use aws_smithy_runtime::client::retries::strategy::NeverRetryStrategy;
use aws_smithy_runtime_api::client::auth::AuthSchemeId;
use aws_smithy_runtime_api::client::auth::static_resolver::StaticAuthSchemeOptionResolver;
use aws_smithy_runtime_api::client::identity::{ResolveCachedIdentity, SharedIdentityCache, SharedIdentityResolver};
use aws_smithy_runtime_api::client::runtime_components::{RuntimeComponents, RuntimeComponentsBuilder};
use aws_smithy_types::config_bag::ConfigBag;
use credrefresh::{Credentials, CredentialsHandle};
use criterion::{Criterion, criterion_group};

/// Polls `future` with a no-op waker until it is ready. On the measured
/// paths the first poll is ready; the loop only keeps a rare contended
/// `Pending` (the cache's lock under two threads) correct.
fn poll_now<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::hint::spin_loop();
    }
}

fn creds(n: u64) -> Credentials {
    let key = format!("ASIABENCH{n:011}");
    Credentials::builder(key.clone(), fake::secret_for(&key), SystemTime::UNIX_EPOCH)
        .session_token("bench-session-token-of-a-realistic-length-".repeat(8))
        .expiry(SystemTime::now() + Duration::from_secs(24 * 3600))
        .build()
        .unwrap()
}

#[derive(Clone, Copy, Debug)]
enum Variant {
    HandleLoad,
    HandleProvide,
    SdkLazyHit,
    SdkLazyHitOverHandle,
}

const VARIANTS: [Variant; 4] = [
    Variant::HandleLoad,
    Variant::HandleProvide,
    Variant::SdkLazyHit,
    Variant::SdkLazyHitOverHandle,
];

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::HandleLoad => "(a) handle.load() + access key",
            Variant::HandleProvide => "(b) ProvideCredentials on the handle",
            Variant::SdkLazyHit => "(c) SDK lazy identity cache hit",
            Variant::SdkLazyHitOverHandle => "(c') SDK lazy cache hit, handle behind it",
        }
    }
}

/// What the SDK's orchestrator holds when it resolves a request's identity.
struct SdkCache {
    cache: SharedIdentityCache,
    resolver: SharedIdentityResolver,
    components: RuntimeComponents,
    config: ConfigBag,
}

impl SdkCache {
    fn new(provider: SharedCredentialsProvider) -> Self {
        let cache = IdentityCache::lazy().build();
        let resolver = SharedIdentityResolver::new(provider);
        let components = RuntimeComponentsBuilder::new("sdk_read bench")
            .with_time_source(Some(SharedTimeSource::new(SystemTimeSource::new())))
            .with_sleep_impl(Some(SharedAsyncSleep::new(TokioSleep::new())))
            .with_identity_cache(Some(cache.clone()))
            .with_endpoint_resolver(Some(StaticUriEndpointResolver::http_localhost(1)))
            .with_auth_scheme(NoAuthScheme::new())
            // Where an SDK client registers its credentials provider.
            .with_identity_resolver(AuthSchemeId::new("sigv4"), resolver.clone())
            .with_auth_scheme_option_resolver(Some(StaticAuthSchemeOptionResolver::new(Vec::new())))
            .with_retry_strategy(Some(NeverRetryStrategy::new()))
            .build()
            .expect("runtime components");
        let config = ConfigBag::base();
        cache
            .validate_final_config(&components, &config)
            .expect("the lazy cache accepts the components");
        Self {
            cache,
            resolver,
            components,
            config,
        }
    }

    #[inline]
    fn resolve(&self) -> usize {
        let identity = poll_now(self.cache.resolve_cached_identity(
            self.resolver.clone(),
            &self.components,
            &self.config,
        ))
        .expect("identity");
        identity
            .data::<aws_credential_types::Credentials>()
            .map_or(0, |c| c.access_key_id().len())
    }
}

/// Everything a call may go through, shared by the calling threads.
struct Targets {
    handle: CredentialsHandle,
    sdk: SdkCache,
    sdk_over_handle: SdkCache,
}

impl Targets {
    fn new(handle: CredentialsHandle) -> Arc<Self> {
        let sdk_creds = aws_credential_types::Credentials::from(&creds(2));
        let t = Arc::new(Self {
            sdk: SdkCache::new(SharedCredentialsProvider::new(sdk_creds)),
            sdk_over_handle: SdkCache::new(SharedCredentialsProvider::new(handle.clone())),
            handle,
        });
        // Fill both caches: every measured call is a hit.
        let rt = bench::current_thread_runtime();
        let _context = rt.enter();
        assert!(t.sdk.resolve() > 0 && t.sdk_over_handle.resolve() > 0);
        t
    }

    #[inline]
    fn call(&self, v: Variant) -> usize {
        match v {
            Variant::HandleLoad => self.handle.load().credentials().map_or(0, |c| c.access_key_id().len()),
            Variant::HandleProvide => {
                poll_now(ProvideCredentials::provide_credentials(&self.handle)).map_or(0, |c| c.access_key_id().len())
            }
            Variant::SdkLazyHit => self.sdk.resolve(),
            Variant::SdkLazyHitOverHandle => self.sdk_over_handle.resolve(),
        }
    }
}

fn criterion_calls(c: &mut Criterion) {
    let (refresher, handle) = bench::quiet_handle(creds(1));
    let t = Targets::new(handle);
    let rt = bench::current_thread_runtime();
    let _context = rt.enter();
    let mut group = c.benchmark_group("sdk_read");
    for v in VARIANTS {
        group.bench_function(v.name(), |b| b.iter(|| black_box(t.call(black_box(v)))));
    }
    group.finish();
    refresher.shutdown();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = criterion_calls
}

/// One thread: ns per call and allocations per call over `n` calls.
fn single(v: Variant, t: &Targets, n: u64) -> (f64, f64) {
    bench::single(n, || t.call(black_box(v)))
}

/// Two calling threads for `secs` while a writer thread has the handle's
/// refresher publish every 1 ms: calls per second per thread, and the
/// publishes per second that actually happened.
fn contended(v: Variant, t: &Arc<Targets>, secs: f64) -> (f64, f64) {
    let c = bench::contended(
        t,
        &t.handle,
        secs,
        256,
        |t, _| t.handle.invalidate(),
        move |t: &Targets| t.call(v),
    );
    (c.per_thread, c.publishes)
}

fn harness() {
    let (quiet_refresher, quiet) = bench::quiet_handle(creds(1));
    let quiet_targets = Targets::new(quiet);
    let (live_refresher, live) = bench::live_handle(Some(Duration::from_secs(3600)));
    let live_targets = Targets::new(live);
    bench::table_header(&[
        "call",
        "1 thread, ns/call",
        "allocations/call",
        "2 threads + writer every 1 ms, M calls/s/thread",
        "handle publishes/s",
    ]);
    for v in VARIANTS {
        let (ns, allocs) = single(v, &quiet_targets, 2_000_000);
        let (rate, publishes) = contended(v, &live_targets, 1.5);
        println!(
            "| {} | {ns:.1} | {allocs:.2} | {:.2} | {publishes:.0} |",
            v.name(),
            rate / 1e6
        );
    }
    live_refresher.shutdown();
    quiet_refresher.shutdown();
}

fn main() {
    bench::main(benches, harness);
}
