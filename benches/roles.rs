//! Memory, start-up time and idle CPU per role: N roles on in-process
//! sources (a [`StaticSource`] each, credentials of 1 h) in one
//! [`Refresher`], through the public API.
//!
//! `cargo bench --bench roles` prints one row per size (1,000, 10,000 and
//! 50,000 roles; `CREDREFRESH_BENCH_QUICK=1`, or `cargo test --benches`,
//! 1,000 only):
//!
//! - **ready**: from `start()` until every handle's `wait_ready` returned;
//! - **RSS**: resident set (`/proc/self/statm`) once ready, minus the one
//!   before the roles were built (sources included);
//! - **KiB/role**: that RSS over the number of roles;
//! - **heap KiB/role**: live heap bytes (a counting global allocator) once
//!   ready, minus those before, per role; **of which sources**: the part
//!   that is the roles' names and sources, made before `start()`;
//! - **idle CPU**: user + system time (`/proc/self/stat`) of the whole
//!   process over `CREDREFRESH_BENCH_IDLE_SECS` seconds (5 by default)
//!   after ready, as a share of one core. No refresh is due in that time:
//!   what is left is timers and bookkeeping.
//!
//! Then the network sources' own share, which the in-process roles above
//! leave out: N `AssumeRoleSource`s built (not started, nothing fetched),
//! their build time, RSS and live heap per source, for 1,000 and 10,000
//! (quick: 1,000). Each holds an HTTP client; the TLS settings with the
//! system's root certificates are built once and shared.
//!
//! Each size runs in a process of its own (this binary runs itself again),
//! so that memory freed by one size does not hide the next one's growth.
//! Linux only (it reads `/proc`).

// A benchmark measures wall time: the clock rule is for library decisions.
#![allow(clippy::disallowed_methods)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use credrefresh::sources::StaticSource;
use credrefresh::sources::sts::AssumeRoleSource;
use credrefresh::{Credentials, Refresher};

const SIZES: [usize; 3] = [1_000, 10_000, 50_000];
const ROLE_ENV: &str = "CREDREFRESH_BENCH_ROLES";
const SOURCE_SIZES: [usize; 2] = [1_000, 10_000];
const SOURCE_ENV: &str = "CREDREFRESH_BENCH_SOURCES";
/// Page size of `/proc/self/statm` on the machines this runs on.
const PAGE: u64 = 4096;
/// Clock ticks per second of `/proc/self/stat` (`USER_HZ`).
const TICKS: f64 = 100.0;

// ---- live heap bytes (bench-only; the library forbids unsafe) ----
struct Counting;
static LIVE: AtomicI64 = AtomicI64::new(0);
// SAFETY: forwards to the system allocator; only counts the bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as i64, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}
#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> i64 {
    LIVE.load(Ordering::Relaxed)
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("Linux /proc");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|f| f.parse().ok())
        .expect("statm");
    pages * PAGE
}

/// User plus system CPU time of the process, in clock ticks.
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("Linux /proc");
    // The command name may hold spaces: fields are counted after its ')'.
    let rest = &stat[stat.rfind(')').expect("stat") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15, 12th and 13th after the state.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

fn idle_secs() -> f64 {
    std::env::var("CREDREFRESH_BENCH_IDLE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5.0)
}

/// One size, in this process: prints its table row.
fn measure(roles: usize) {
    let rss_before = rss_bytes();
    let heap_before = live();
    let now = SystemTime::now();
    let mut builder = Refresher::builder();
    for i in 0..roles {
        let key = format!("ASIAROLES{i:011}");
        let credentials = Credentials::builder(key, "roles-bench-secret", now)
            .session_token("roles-bench-token")
            .expiry(now + Duration::from_secs(3600))
            .build()
            .unwrap();
        builder = builder.role(format!("role-{i}"), StaticSource::new(credentials));
    }
    let sources = live() - heap_before;
    let started = Instant::now();
    let refresher = builder.start().unwrap();
    let handles = refresher.handles();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        for handle in &handles {
            handle.wait_ready(Duration::from_secs(120)).await.unwrap();
        }
    });
    let ready = started.elapsed();
    let rss = rss_bytes().saturating_sub(rss_before);
    let heap = live() - heap_before;
    let idle = idle_secs();
    let ticks_before = cpu_ticks();
    let idle_started = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(idle));
    let cpu = (cpu_ticks() - ticks_before) as f64 / TICKS / idle_started.elapsed().as_secs_f64();
    println!(
        "| {roles} | {:.3} | {:.1} | {:.2} | {:.2} | {:.2} | {:.2} % |",
        ready.as_secs_f64(),
        rss as f64 / (1024.0 * 1024.0),
        rss as f64 / 1024.0 / roles as f64,
        heap as f64 / 1024.0 / roles as f64,
        sources as f64 / 1024.0 / roles as f64,
        cpu * 100.0
    );
    drop(handles);
    refresher.shutdown();
}

/// `sources` AssumeRole sources built, in this process: prints their row.
fn measure_sources(sources: usize) {
    let rss_before = rss_bytes();
    let heap_before = live();
    let started = Instant::now();
    let built: Vec<AssumeRoleSource> = (0..sources)
        .map(|i| {
            let base = StaticSource::new(
                Credentials::new(format!("AKIASOURCES{i:09}"), "roles-bench-secret", SystemTime::now()).unwrap(),
            );
            AssumeRoleSource::builder(format!("arn:aws:iam::123456789012:role/role-{i}"), base)
                .region("us-east-1")
                .build()
                .unwrap()
        })
        .collect();
    let took = started.elapsed();
    let rss = rss_bytes().saturating_sub(rss_before);
    let heap = live() - heap_before;
    println!(
        "| {sources} | {:.3} | {:.1} | {:.2} | {:.2} |",
        took.as_secs_f64(),
        rss as f64 / (1024.0 * 1024.0),
        rss as f64 / 1024.0 / sources as f64,
        heap as f64 / 1024.0 / sources as f64,
    );
    drop(built);
}

/// Runs this binary again with `var=size` for each size.
fn each_in_own_process(var: &str, sizes: &[usize]) {
    let exe = std::env::current_exe().expect("own path");
    for &size in sizes {
        let status = std::process::Command::new(&exe)
            .env(var, size.to_string())
            .status()
            .expect("run itself");
        assert!(status.success(), "{var}={size}: {status}");
    }
}

fn main() {
    if let Some(roles) = std::env::var(ROLE_ENV).ok().and_then(|s| s.parse().ok()) {
        measure(roles);
        return;
    }
    if let Some(sources) = std::env::var(SOURCE_ENV).ok().and_then(|s| s.parse().ok()) {
        measure_sources(sources);
        return;
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` does not and
    // gets the quick run, so the bench cannot rot.
    let quick =
        std::env::var("CREDREFRESH_BENCH_QUICK").is_ok_and(|v| v != "0") || !std::env::args().any(|a| a == "--bench");
    let sizes: &[usize] = if quick { &SIZES[..1] } else { &SIZES };
    println!();
    println!(
        "| roles | ready (s) | RSS (MiB) | KiB/role | heap KiB/role | of which sources | idle CPU over {} s (one core) |",
        idle_secs()
    );
    println!("|---|---|---|---|---|---|---|");
    each_in_own_process(ROLE_ENV, sizes);
    println!();
    println!("| AssumeRole sources built | build (s) | RSS (MiB) | KiB/source | heap KiB/source |");
    println!("|---|---|---|---|---|");
    each_in_own_process(SOURCE_ENV, if quick { &SOURCE_SIZES[..1] } else { &SOURCE_SIZES });
}
