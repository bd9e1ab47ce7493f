//! The read path: `CredentialsHandle::load()` against a raw `ArcSwap` guard,
//! `load()` then `usable_credentials()` (which reads the clock),
//! `load_full()`, `RwLock<Arc<_>>` and `Mutex<Arc<_>>`.
//!
//! `cargo bench --bench read` runs the criterion group (single thread), then
//! a harness that prints a table: reads per second per thread with two
//! reader threads while a writer publishes every 1 ms, and allocations per
//! read counted by a counting global allocator.

// A benchmark measures wall time: the clock rule is for library decisions.
#![allow(clippy::disallowed_methods)]

#[path = "../tests/common/bench.rs"]
mod bench;
#[path = "../tests/common/fake.rs"]
#[allow(dead_code)]
mod fake;

use std::hint::black_box;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use credrefresh::clock::{Clock, SystemClock};
use credrefresh::{Credentials, CredentialsHandle};
use criterion::{Criterion, criterion_group};

/// Credentials expiring in 30 days, so that `usable_credentials()` reads
/// the clock, as it does for every real credential.
fn creds(n: u64) -> Credentials {
    let key = format!("ASIABENCH{n:011}");
    let now = SystemTime::now();
    Credentials::builder(key.clone(), fake::secret_for(&key), now)
        .session_token("bench-token")
        .expiry(now + Duration::from_secs(30 * 24 * 3600))
        .build()
        .unwrap()
}

#[derive(Clone, Copy, Debug)]
enum Variant {
    HandleLoad,
    HandleUsable,
    SystemClockRead,
    HandleLoadFull,
    RawArcSwapGuard,
    RwLockArc,
    MutexArc,
}

const VARIANTS: [Variant; 7] = [
    Variant::HandleLoad,
    Variant::HandleUsable,
    Variant::SystemClockRead,
    Variant::HandleLoadFull,
    Variant::RawArcSwapGuard,
    Variant::RwLockArc,
    Variant::MutexArc,
];

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::HandleLoad => "handle.load()",
            Variant::HandleUsable => "handle.load().usable_credentials()",
            Variant::SystemClockRead => "SystemClock.now() alone",
            Variant::HandleLoadFull => "handle.load_full()",
            Variant::RawArcSwapGuard => "raw ArcSwap::load guard",
            Variant::RwLockArc => "RwLock<Arc<_>> read",
            Variant::MutexArc => "Mutex<Arc<_>> lock",
        }
    }
}

/// Everything a read may go through, shared by readers and the writer.
struct Targets {
    handle: CredentialsHandle,
    swap: ArcSwap<Credentials>,
    rwlock: RwLock<Arc<Credentials>>,
    mutex: Mutex<Arc<Credentials>>,
}

impl Targets {
    #[inline]
    fn read(&self, v: Variant) -> usize {
        match v {
            Variant::HandleLoad => self.handle.load().credentials().map_or(0, |c| c.access_key_id().len()),
            Variant::HandleUsable => self
                .handle
                .load()
                .usable_credentials()
                .map_or(0, |c| c.access_key_id().len()),
            // What `usable_credentials()` adds to `load()`: one clock read.
            Variant::SystemClockRead => SystemClock
                .now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos() as usize),
            Variant::HandleLoadFull => self
                .handle
                .load_full()
                .credentials()
                .map_or(0, |c| c.access_key_id().len()),
            Variant::RawArcSwapGuard => self.swap.load().access_key_id().len(),
            Variant::RwLockArc => self.rwlock.read().unwrap().access_key_id().len(),
            Variant::MutexArc => self.mutex.lock().unwrap().access_key_id().len(),
        }
    }

    fn publish(&self, n: u64) {
        self.handle.invalidate();
        let c = Arc::new(creds(n));
        self.swap.store(c.clone());
        *self.rwlock.write().unwrap() = c.clone();
        *self.mutex.lock().unwrap() = c;
    }
}

fn targets(handle: CredentialsHandle) -> Arc<Targets> {
    let c = Arc::new(creds(0));
    Arc::new(Targets {
        handle,
        swap: ArcSwap::new(c.clone()),
        rwlock: RwLock::new(c.clone()),
        mutex: Mutex::new(c),
    })
}

fn criterion_reads(c: &mut Criterion) {
    // A quiet handle (no refresh during the measurement) for single-thread cost.
    let (_refresher, handle) = bench::quiet_handle(creds(1));
    let t = targets(handle);
    let mut group = c.benchmark_group("read");
    for v in VARIANTS {
        group.bench_function(v.name(), |b| b.iter(|| black_box(t.read(black_box(v)))));
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = criterion_reads
}

/// Two reader threads for `secs` while a writer thread, every 1 ms, stores
/// into the plain structures and has the actor publish a new snapshot.
fn contended(v: Variant, t: &Arc<Targets>, secs: f64) -> bench::Contended {
    bench::contended(t, &t.handle, secs, 1024, Targets::publish, move |t: &Targets| t.read(v))
}

fn single(v: Variant, t: &Targets) -> f64 {
    bench::single(20_000_000, || t.read(black_box(v))).0
}

fn harness() {
    // Hour-long credentials: `usable_credentials()` reads the clock.
    let (refresher, handle) = bench::live_handle(Some(Duration::from_secs(3600)));
    let t = targets(handle);
    bench::table_header(&[
        "read",
        "1 thread, ns/read",
        "2 threads + writer every 1 ms, M reads/s/thread",
        "allocations/read",
        "handle publishes/s",
    ]);
    for v in VARIANTS {
        let ns = single(v, &t);
        let c = contended(v, &t, 1.5);
        println!(
            "| {} | {ns:.2} | {:.1} | {:.3} | {:.0} |",
            v.name(),
            c.per_thread / 1e6,
            c.allocations,
            c.publishes
        );
    }
    refresher.shutdown();
}

fn main() {
    bench::main(benches, harness);
}
