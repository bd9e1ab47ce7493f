//! The read path: `CredentialsHandle::load()` against a raw `ArcSwap` guard,
//! `load()` then `usable_credentials()` (which reads the clock),
//! `load_full()`, `RwLock<Arc<_>>` and `Mutex<Arc<_>>`, a per-worker
//! `CachedReader` (`handle.cached_reader()`), and the floor: dereferencing
//! a static that holds the credentials.
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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use credrefresh::clock::{Clock, SystemClock};
use credrefresh::{CachedReader, Credentials, CredentialsHandle};
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

/// The floor: credentials behind a static, read with no synchronisation
/// but the static's own initialisation check.
static FLOOR: LazyLock<Credentials> = LazyLock::new(|| creds(2));

#[derive(Clone, Copy, Debug)]
enum Variant {
    StaticFloor,
    HandleLoad,
    HandleUsable,
    SystemClockRead,
    HandleLoadFull,
    RawArcSwapGuard,
    RwLockArc,
    MutexArc,
}

const VARIANTS: [Variant; 8] = [
    Variant::StaticFloor,
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
            Variant::StaticFloor => "&*static (floor)",
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
            Variant::StaticFloor => FLOOR.access_key_id().len(),
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
    let mut reader = t.handle.cached_reader();
    group.bench_function(CACHED, |b| b.iter(|| black_box(read_cached(black_box(&mut reader)))));
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

const CACHED: &str = "reader.load() (CachedReader)";

#[inline]
fn read_cached(reader: &mut CachedReader) -> usize {
    reader.load().credentials().map_or(0, |c| c.access_key_id().len())
}

/// As [`contended`] for a [`CachedReader`]: each of the two reader
/// threads owns one (`&mut` access), so `bench::contended`'s shared `Fn`
/// does not fit. Same writer, same batches; returns reads/s/thread and the
/// highest allocations per read of the two.
fn contended_cached(t: &Arc<Targets>, secs: f64) -> (f64, f64, f64) {
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (t, stop) = (t.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                t.publish(n);
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    let gen_before = t.handle.load().generation();
    let started = std::time::Instant::now();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (mut reader, stop) = (t.handle.cached_reader(), stop.clone());
            std::thread::spawn(move || {
                let rt = bench::current_thread_runtime();
                let _context = rt.enter();
                let a0 = bench::allocations();
                let start = std::time::Instant::now();
                let (mut reads, mut sink) = (0u64, 0usize);
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..1024 {
                        sink = sink.wrapping_add(read_cached(&mut reader));
                    }
                    reads += 1024;
                }
                black_box(sink);
                let per_second = reads as f64 / start.elapsed().as_secs_f64();
                (per_second, (bench::allocations() - a0) as f64 / reads as f64)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    let results: Vec<(f64, f64)> = readers.into_iter().map(|r| r.join().unwrap()).collect();
    writer.join().unwrap();
    let publishes = (t.handle.load().generation() - gen_before) as f64 / started.elapsed().as_secs_f64();
    (
        results.iter().map(|r| r.0).sum::<f64>() / results.len() as f64,
        results.iter().map(|r| r.1).fold(0.0, f64::max),
        publishes,
    )
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
    let mut reader = t.handle.cached_reader();
    let (ns, single_allocations) = bench::single(20_000_000, || read_cached(&mut reader));
    let (per_thread, allocations, publishes) = contended_cached(&t, 1.5);
    println!(
        "| {CACHED} | {ns:.2} | {:.1} | {:.3} (1 thread: {single_allocations:.3}) | {publishes:.0} |",
        per_thread / 1e6,
        allocations
    );
    refresher.shutdown();
}

fn main() {
    bench::main(benches, harness);
}
