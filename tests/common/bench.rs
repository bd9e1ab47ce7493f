//! What the read-path benchmarks share (`benches/read.rs` and
//! `tests/sdk-interop/benches/sdk_read.rs`, each including this file by
//! `#[path]`, next to `fake.rs` as `crate::fake`): a counting global
//! allocator, the handles they read, the one- and two-thread measurements,
//! and the table they print. Not part of the test helpers' `mod.rs`: the
//! allocator below becomes the global allocator of the binary including it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use credrefresh::{Credentials, CredentialsHandle, RefreshPolicy, Refresher};
use criterion::Criterion;

// ---- allocation counting (bench-only; the libraries forbid unsafe) ----
// The `#[global_allocator]` is declared here, once for both benches: each
// bench binary that includes this module gets its own.
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

/// Allocations made so far on this thread.
pub fn allocations() -> u64 {
    ALLOCATIONS.with(|c| c.get())
}

/// A Tokio runtime for `block_on` or for entering its context.
pub fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn ready(refresher: Refresher, role: &str) -> (Refresher, CredentialsHandle) {
    let handle = refresher.handle(role).unwrap();
    current_thread_runtime()
        .block_on(handle.wait_ready(Duration::from_secs(10)))
        .unwrap();
    (refresher, handle)
}

/// A role the writer thread invalidates every 1 ms (no cooldown): the actor
/// fetches from a healthy fake issuing credentials of `lifetime`, and
/// publishes a new snapshot each time.
pub fn live_handle(lifetime: Option<Duration>) -> (Refresher, CredentialsHandle) {
    let refresher = Refresher::builder()
        .policy(RefreshPolicy::default().invalidation_cooldown(Duration::ZERO))
        .role("bench", crate::fake::FakeSource::healthy(lifetime))
        .start()
        .unwrap();
    ready(refresher, "bench")
}

/// A role serving `credentials`, which does not refresh during the
/// measurement.
pub fn quiet_handle(credentials: Credentials) -> (Refresher, CredentialsHandle) {
    let refresher = Refresher::builder()
        .role("quiet", credrefresh::sources::StaticSource::new(credentials))
        .start()
        .unwrap();
    ready(refresher, "quiet")
}

/// One thread, inside a Tokio context: ns per call and allocations per call
/// over `n` calls of `call`.
pub fn single(n: u64, mut call: impl FnMut() -> usize) -> (f64, f64) {
    let rt = current_thread_runtime();
    let _context = rt.enter();
    let a0 = allocations();
    let start = Instant::now();
    let mut sink = 0usize;
    for _ in 0..n {
        sink = sink.wrapping_add(call());
    }
    let ns = start.elapsed().as_nanos() as f64 / n as f64;
    let allocs = (allocations() - a0) as f64 / n as f64;
    black_box(sink);
    (ns, allocs)
}

/// What [`contended`] measured.
pub struct Contended {
    /// Calls per second, averaged over the calling threads.
    pub per_thread: f64,
    /// Allocations per call, the highest of the calling threads.
    #[allow(dead_code, reason = "sdk_read reports allocations from the single-thread run only")]
    pub allocations: f64,
    /// Snapshots `handle` published per second while they ran.
    pub publishes: f64,
}

/// Two calling threads (each inside a Tokio context) call `call(&t)` in
/// batches of `batch` for `secs`, while a writer thread calls
/// `publish(&t, n)` every 1 ms with n = 1, 2, ...
pub fn contended<T, C>(
    t: &Arc<T>,
    handle: &CredentialsHandle,
    secs: f64,
    batch: u64,
    publish: fn(&T, u64),
    call: C,
) -> Contended
where
    T: Send + Sync + 'static,
    C: Fn(&T) -> usize + Copy + Send + 'static,
{
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (t, stop) = (t.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                publish(&t, n);
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    let gen_before = handle.load().generation();
    let started = Instant::now();
    let callers: Vec<_> = (0..2)
        .map(|_| {
            let (t, stop) = (t.clone(), stop.clone());
            std::thread::spawn(move || {
                let rt = current_thread_runtime();
                let _context = rt.enter();
                let a0 = allocations();
                let start = Instant::now();
                let mut calls = 0u64;
                let mut sink = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..batch {
                        sink = sink.wrapping_add(call(&t));
                    }
                    calls += batch;
                }
                black_box(sink);
                (
                    calls as f64 / start.elapsed().as_secs_f64(),
                    (allocations() - a0) as f64 / calls as f64,
                )
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    let results: Vec<(f64, f64)> = callers.into_iter().map(|r| r.join().unwrap()).collect();
    writer.join().unwrap();
    let publishes = (handle.load().generation() - gen_before) as f64 / started.elapsed().as_secs_f64();
    Contended {
        per_thread: results.iter().map(|r| r.0).sum::<f64>() / results.len() as f64,
        allocations: results.iter().map(|r| r.1).fold(0.0, f64::max),
        publishes,
    }
}

/// Prints a Markdown table header of `columns`.
pub fn table_header(columns: &[&str]) {
    println!();
    println!("| {} |", columns.join(" | "));
    println!("|{}", "---|".repeat(columns.len()));
}

/// Runs the criterion group `benches`, then, under `cargo bench` (which
/// passes `--bench`; `cargo test --benches` does not, and runs only the
/// criterion smoke run), the `harness` that prints the table.
pub fn main(benches: fn(), harness: fn()) {
    benches();
    Criterion::default().configure_from_args().final_summary();
    if std::env::args().any(|a| a == "--bench") {
        harness();
    }
}
