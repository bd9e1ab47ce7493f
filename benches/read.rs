//! The read path: `CredentialsHandle::load()` against a raw `ArcSwap` guard,
//! `load_full()`, `RwLock<Arc<_>>` and `Mutex<Arc<_>>`.
//!
//! `cargo bench --bench read` runs the criterion group (single thread), then
//! a harness that prints a table: reads per second per thread with two
//! reader threads while a writer publishes every 1 ms, and allocations per
//! read counted by a counting global allocator.

// A benchmark measures wall time: the clock rule is for library decisions.
#![allow(clippy::disallowed_methods)]

#[path = "../tests/common/fake.rs"]
#[allow(dead_code)]
mod fake;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use credrefresh::{Credentials, CredentialsHandle, RefreshPolicy, Refresher};
use criterion::{Criterion, criterion_group};

// ---- allocation counting (bench-only; the library itself forbids unsafe) ----
struct Counting;
thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}
// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}
#[global_allocator]
static GLOBAL: Counting = Counting;
fn allocations() -> u64 {
    ALLOCATIONS.with(|c| c.get())
}

fn creds(n: u64) -> Credentials {
    let key = format!("ASIABENCH{n:011}");
    Credentials::new(key.clone(), fake::secret_for(&key), SystemTime::UNIX_EPOCH)
        .unwrap()
        .with_session_token("bench-token")
        .unwrap()
}

/// A refresher whose handle the writer thread invalidates every 1 ms (no
/// cooldown): the real actor fetches and publishes a new snapshot each time.
fn live_handle() -> (Refresher, CredentialsHandle) {
    let refresher = Refresher::builder()
        .policy(RefreshPolicy::default().invalidation_cooldown(Duration::ZERO))
        .role("bench", fake::FakeSource::healthy(None))
        .start()
        .unwrap();
    let handle = refresher.handle("bench").unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(handle.wait_ready(Duration::from_secs(10))).unwrap();
    (refresher, handle)
}

#[derive(Clone, Copy, Debug)]
enum Variant {
    HandleLoad,
    HandleLoadFull,
    RawArcSwapGuard,
    RwLockArc,
    MutexArc,
}

const VARIANTS: [Variant; 5] = [
    Variant::HandleLoad,
    Variant::HandleLoadFull,
    Variant::RawArcSwapGuard,
    Variant::RwLockArc,
    Variant::MutexArc,
];

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::HandleLoad => "handle.load()",
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
    let refresher = Refresher::builder()
        .role("quiet", credrefresh::sources::StaticSource::new(creds(1)))
        .start()
        .unwrap();
    let handle = refresher.handle("quiet").unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(handle.wait_ready(Duration::from_secs(10))).unwrap();
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
fn contended(v: Variant, t: &Arc<Targets>, secs: f64) -> (f64, f64, f64) {
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
            n
        })
    };
    let gen_before = t.handle.load().generation();
    let started = Instant::now();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (t, stop) = (t.clone(), stop.clone());
            std::thread::spawn(move || {
                let a0 = allocations();
                let start = Instant::now();
                let mut reads = 0u64;
                let mut sink = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..1024 {
                        sink = sink.wrapping_add(t.read(v));
                    }
                    reads += 1024;
                }
                black_box(sink);
                (
                    reads as f64 / start.elapsed().as_secs_f64(),
                    (allocations() - a0) as f64 / reads as f64,
                )
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    let results: Vec<(f64, f64)> = readers.into_iter().map(|r| r.join().unwrap()).collect();
    let _ = writer.join();
    let publishes = (t.handle.load().generation() - gen_before) as f64 / started.elapsed().as_secs_f64();
    let per_thread = results.iter().map(|r| r.0).sum::<f64>() / results.len() as f64;
    let allocs = results.iter().map(|r| r.1).fold(0.0, f64::max);
    (per_thread, allocs, publishes)
}

fn single(v: Variant, t: &Targets) -> f64 {
    let n = 20_000_000u64;
    let start = Instant::now();
    let mut sink = 0usize;
    for _ in 0..n {
        sink = sink.wrapping_add(t.read(black_box(v)));
    }
    black_box(sink);
    start.elapsed().as_nanos() as f64 / n as f64
}

fn harness() {
    let (refresher, handle) = live_handle();
    let t = targets(handle);
    println!();
    println!(
        "| read | 1 thread, ns/read | 2 threads + writer every 1 ms, M reads/s/thread | allocations/read | handle publishes/s |"
    );
    println!("|---|---|---|---|---|");
    for v in VARIANTS {
        let ns = single(v, &t);
        let (rate, allocs, publishes) = contended(v, &t, 1.5);
        println!(
            "| {} | {ns:.2} | {:.1} | {allocs:.3} | {publishes:.0} |",
            v.name(),
            rate / 1e6
        );
    }
    refresher.shutdown();
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    // `cargo bench` passes --bench; `cargo test --benches` does not: only
    // the criterion smoke run happens there.
    if std::env::args().any(|a| a == "--bench") {
        harness();
    }
}
