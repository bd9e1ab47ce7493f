//! What one successful AssumeRole refresh costs: credrefresh's STS source
//! through the refresher's actor and the publish, against the official AWS
//! SDK for Rust's `aws_config::sts::AssumeRoleProvider`, both against the
//! crate's emulator over loopback, in one run.
//!
//! - credrefresh: a `Refresher` with one role on an `AssumeRoleSource` and
//!   no invalidation cooldown. The main thread calls `handle.invalidate()`
//!   and waits for the role's `Refreshed` event (and the new credentials
//!   generation on the handle) before the next one: each refresh is one
//!   AssumeRole request, the parse, the snapshot publish and the event.
//!   Measured twice, the same code in its two placements: `start()` (the
//!   actor on a thread of its own, the caller waiting on a current-thread
//!   Tokio runtime: two thread hops a refresh) and `start_local()` (the
//!   actor on the caller's actix system, as in an actix-web app; no hop,
//!   like the SDK's provider, which runs on the caller's runtime).
//! - SDK: `AssumeRoleProvider::builder(..).build_from_provider(base)` with
//!   static base keys, its `provide_credentials()` awaited in a loop on a
//!   current-thread Tokio runtime. The provider does not cache (it sets
//!   `IdentityCache::no_cache()` on its STS client), so every call is one
//!   AssumeRole request. Plain HTTP (`aws_smithy_http_client`'s
//!   `build_http()`), as for every client in this package.
//!
//! - credrefresh timer-driven, as a server runs it: `start()` with 32
//!   roles on 2 s credentials that the policy's timer refreshes (window
//!   fraction 0.5, jitter 1, no minimum interval), the caller asleep and
//!   looking at the handles every second; and the SDK paced the same way:
//!   32 providers on one current-thread runtime, each refreshing after a
//!   random gap (mean: what credrefresh's roles made). Every refresh then
//!   starts from an idle thread, as it does in production, which costs
//!   both sides far more than a tight loop (cold caches, wake-ups). Both
//!   measured after the loop, each on an emulator of its own.
//!
//! The emulator runs in a child process (this binary, started again with
//! `CREDREFRESH_REFRESH_COST_EMULATOR=1`), so its CPU time and allocations
//! are not counted for either side. Both sides send the same request (role
//! ARN, session name, region) to the same emulator and keep their HTTP
//! connection alive; a warm-up of a few refreshes each comes first.
//! Each side makes `N` refreshes (2,000; 50 with `CREDREFRESH_BENCH_QUICK=1`
//! or `--quick`), in 4 alternating chunks (ours, SDK, ours, SDK, ...) so
//! a change in the machine's load affects both alike.
//!
//! Measured per refresh, whole process (every thread: the caller, the
//! refresher's actor thread, the SDK's runtime, Tokio's blocking pool):
//! - CPU µs: the sum over the process's threads of the run time in
//!   `/proc/self/task/<tid>/schedstat` (nanoseconds); the table's footnote
//!   checks the sum of both sides against `/proc/self/stat` utime+stime
//!   (10 ms ticks, too coarse for one chunk) over the whole measured loop;
//! - allocations and bytes: a counting global allocator (every thread;
//!   `realloc` counts as one allocation of the new size);
//! - wall µs: from the request to the credentials in hand.
//!
//! `cargo bench -p sdk-interop --bench refresh_cost` prints a markdown
//! table and the ratio ours/SDK.
//!
//! Then, measured after the loop (`CREDREFRESH_REFRESH_COST_FLOOR=0` skips
//! it), the floor of a refresh, the same way (whole process CPU, `N` runs):
//! - the loopback exchange alone: the same signed request's bytes written
//!   and the answer read to its `Content-Length` with blocking std I/O on a
//!   kept-alive connection, no HTTP library, no async runtime; then the
//!   same on a Tokio socket in a current-thread runtime (epoll), as both
//!   sides' HTTP clients wait. Both sides pay at least this; on loopback
//!   the write also runs the emulator's TCP receive (and its wake-up) on
//!   the sender's CPU time;
//! - the SigV4 signature alone (credrefresh's `sign_request`, aws-sigv4,
//!   which the SDK signs with too), the request built each time;
//! - two thread hops, which only credrefresh's design makes: the caller
//!   wakes a thread parked in a current-thread Tokio runtime (as
//!   `invalidate` wakes the actor) and parks in its own runtime until that
//!   thread answers on a broadcast channel (as the `Refreshed` event).

// A benchmark measures wall time: the clock rule is for library decisions.
#![allow(clippy::disallowed_methods)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use aws_config::sts::AssumeRoleProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::ProvideCredentials;
use aws_smithy_async::rt::sleep::{SharedAsyncSleep, TokioSleep};
use aws_smithy_async::time::SystemTimeSource;
use credrefresh::sources::StaticSource;
use credrefresh::sources::sts::AssumeRoleSource;
use credrefresh::{CredentialsHandle, RefreshEventKind, RefreshPolicy, Refresher};

// ---- allocation counting, every thread (bench-only; the libraries forbid unsafe) ----
struct Counting;
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);
// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}
#[global_allocator]
static GLOBAL: Counting = Counting;

const EMULATOR_ENV: &str = "CREDREFRESH_REFRESH_COST_EMULATOR";
/// The emulator child's credential lifetime in milliseconds, when set.
const LIFETIME_ENV: &str = "CREDREFRESH_REFRESH_COST_LIFETIME_MS";
/// The timer-driven measurement: roles, and their credentials' lifetime.
const TIMER_ROLES: usize = 32;
const TIMER_LIFETIME: Duration = Duration::from_secs(2);
const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/bench-role";
const SESSION: &str = "bench-session";
const REGION: &str = "us-east-1";
const BASE_KEY: &str = "AKIAEMULATORBASEKEY0";
const BASE_SECRET: &str = "emulator-base-secret-emulator-base-secr";
const WAIT: Duration = Duration::from_secs(10);
const WARM_UP: u64 = 10;
const CHUNKS: u64 = 4;

// ---- CPU time of the whole process ----

/// Run time in nanoseconds of each live thread of this process.
fn thread_run_times() -> HashMap<String, u64> {
    let mut out = HashMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for task in tasks.flatten() {
        let path = task.path().join("schedstat");
        if let Some(ns) = std::fs::read_to_string(path)
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse().ok())
        {
            out.insert(task.file_name().to_string_lossy().into_owned(), ns);
        }
    }
    out
}

/// This thread's ID, as named in `/proc/self/task`.
fn current_tid() -> String {
    std::fs::read_link("/proc/thread-self")
        .ok()
        .and_then(|p| Some(p.file_name()?.to_string_lossy().into_owned()))
        .unwrap_or_default()
}

/// utime + stime of the whole process (threads that ended included), in
/// clock ticks.
fn process_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name, which is in parentheses: state is
    // field 3, utime 14 and stime 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    field(11) + field(12)
}

#[derive(Clone, Copy)]
struct Mark {
    ticks: u64,
    allocations: u64,
    bytes: u64,
    at: Instant,
}

/// What a span of refreshes cost, summed over chunks.
#[derive(Default)]
struct Cost {
    refreshes: u64,
    cpu_ns: u64,
    /// The part of `cpu_ns` spent on the thread making the refreshes.
    caller_ns: u64,
    ticks: u64,
    allocations: u64,
    bytes: u64,
    wall: Duration,
}

struct Meter {
    start_times: HashMap<String, u64>,
    start: Mark,
}

impl Meter {
    fn start() -> Self {
        let start_times = thread_run_times();
        let start = Mark {
            ticks: process_ticks(),
            allocations: ALLOCATIONS.load(Ordering::Relaxed),
            bytes: BYTES.load(Ordering::Relaxed),
            at: Instant::now(),
        };
        Self { start_times, start }
    }

    /// Adds what happened since `start` to `cost`. A thread that ended in
    /// between loses its share of the schedstat sum (the ticks keep it).
    fn stop(self, refreshes: u64, cost: &mut Cost) {
        let at = Instant::now();
        let allocations = ALLOCATIONS.load(Ordering::Relaxed);
        let bytes = BYTES.load(Ordering::Relaxed);
        let end_times = thread_run_times();
        let ticks = process_ticks();
        let delta = |tid: &String, ns: u64| ns.saturating_sub(self.start_times.get(tid).copied().unwrap_or(0));
        let cpu_ns: u64 = end_times.iter().map(|(tid, ns)| delta(tid, *ns)).sum();
        let caller = current_tid();
        let caller_ns = end_times.get(&caller).map_or(0, |ns| delta(&caller, *ns));
        cost.refreshes += refreshes;
        cost.cpu_ns += cpu_ns;
        cost.caller_ns += caller_ns;
        cost.ticks += ticks - self.start.ticks;
        cost.allocations += allocations - self.start.allocations;
        cost.bytes += bytes - self.start.bytes;
        cost.wall += at - self.start.at;
    }
}

// ---- the emulator, in a child process ----

/// Runs the emulator until stdin closes (the parent ended or dropped it).
fn emulator_child() {
    let mut builder = credrefresh::testing::Emulator::builder();
    if let Some(ms) = std::env::var(LIFETIME_ENV).ok().and_then(|ms| ms.parse().ok()) {
        builder = builder.credential_lifetime(Duration::from_millis(ms));
    }
    let emulator = builder.start().expect("the emulator starts");
    println!("{}", emulator.sts_endpoint());
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(emulator);
}

struct EmulatorProcess {
    child: Child,
    endpoint: String,
}

impl EmulatorProcess {
    /// An emulator issuing credentials that live `lifetime` (default: 1 h).
    fn start(lifetime: Option<Duration>) -> Self {
        let exe = std::env::current_exe().expect("this bench's path");
        let mut command = Command::new(exe);
        if let Some(lifetime) = lifetime {
            command.env(LIFETIME_ENV, lifetime.as_millis().to_string());
        }
        let mut child = command
            .env(EMULATOR_ENV, "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the emulator process starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("its stdout"))
            .read_line(&mut line)
            .expect("the emulator's endpoint");
        let endpoint = line.trim().to_string();
        assert!(endpoint.starts_with("http://"), "the emulator printed `{endpoint}`");
        Self { child, endpoint }
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        // Closing its stdin ends it.
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

// ---- credrefresh ----

/// The AssumeRole source every credrefresh measurement refreshes, with
/// static base keys.
fn assume_role_source(endpoint: &str) -> AssumeRoleSource {
    let base = StaticSource::new(
        credrefresh::Credentials::new(BASE_KEY, BASE_SECRET, SystemTime::UNIX_EPOCH).expect("base keys"),
    );
    AssumeRoleSource::builder(ROLE_ARN, base)
        .endpoint(endpoint)
        .region(REGION)
        .session_name(SESSION)
        .build()
        .expect("the source")
}

/// Where the refresher's actor runs.
#[derive(Clone, Copy, PartialEq)]
enum Placement {
    /// `Refresher::start()`: the actor on a thread of its own; the caller
    /// waits on a current-thread Tokio runtime (two thread hops a refresh).
    OwnThread,
    /// `Refresher::start_local()`: the actor on the caller's actix system,
    /// as an actix-web app runs it (no thread hop).
    CallersSystem,
}

/// The runtime the calling thread waits on.
enum Caller {
    Tokio(tokio::runtime::Runtime),
    Actix(actix_rt::SystemRunner),
}

impl Caller {
    fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        match self {
            Caller::Tokio(runtime) => runtime.block_on(future),
            Caller::Actix(system) => system.block_on(future),
        }
    }
}

struct Ours {
    refresher: Refresher,
    handle: CredentialsHandle,
    caller: Caller,
}

impl Ours {
    fn new(endpoint: &str, placement: Placement) -> Self {
        let builder = Refresher::builder()
            .policy(RefreshPolicy::default().invalidation_cooldown(Duration::ZERO))
            .role("bench", assume_role_source(endpoint));
        let (refresher, caller) = match placement {
            Placement::OwnThread => (
                builder.start().expect("the refresher"),
                Caller::Tokio(current_thread_runtime()),
            ),
            Placement::CallersSystem => {
                let system = actix_rt::System::new();
                let refresher = system.block_on(async { builder.start_local() }).expect("the refresher");
                (refresher, Caller::Actix(system))
            }
        };
        let handle = refresher.handle("bench").expect("the role");
        caller
            .block_on(handle.wait_ready(WAIT))
            .expect("the first AssumeRole succeeds");
        Self {
            refresher,
            handle,
            caller,
        }
    }

    /// `n` refreshes, one after the other.
    fn refresh(&self, n: u64) {
        let handle = &self.handle;
        let mut events = handle.subscribe();
        self.caller.block_on(async {
            for _ in 0..n {
                let before = handle.load().credentials_generation();
                handle.invalidate();
                loop {
                    let event = tokio::time::timeout(WAIT, events.recv())
                        .await
                        .expect("a refresh event within 10 s")
                        .expect("the event channel");
                    match event.kind {
                        RefreshEventKind::Refreshed { .. } if handle.load().credentials_generation() > before => break,
                        RefreshEventKind::Failed { class, .. } => panic!("a refresh failed: {class:?}"),
                        _ => {}
                    }
                }
            }
        });
    }

    fn shutdown(self) {
        let Ours { refresher, caller, .. } = self;
        // A local refresher stops on its own system.
        caller.block_on(async move { refresher.shutdown() });
    }
}

/// credrefresh as a server runs it: `start()`, its roles refreshed by
/// the policy's timer on the actor's thread, nobody waiting on them (the
/// caller sleeps). The credentials live [`TIMER_LIFETIME`] and the policy
/// refreshes them at once to half their life (window fraction 0.5, jitter
/// 1, no minimum interval), so that [`TIMER_ROLES`] roles make about 65
/// refreshes a second, each what one role on 1 h credentials does once
/// every 45 minutes: a timer wakes the actor's idle thread, AssumeRole,
/// publish.
struct TimerDriven {
    refresher: Refresher,
    handles: Vec<CredentialsHandle>,
}

impl TimerDriven {
    fn new(endpoint: &str) -> Self {
        let policy = RefreshPolicy::default()
            .window_fraction(0.5)
            .refresh_jitter(1.0)
            .min_refresh_interval(Duration::ZERO);
        let mut builder = Refresher::builder().policy(policy);
        for i in 0..TIMER_ROLES {
            builder = builder.role(format!("timer-{i}"), assume_role_source(endpoint));
        }
        let refresher = builder.start().expect("the refresher");
        let handles: Vec<_> = (0..TIMER_ROLES)
            .map(|i| refresher.handle(&format!("timer-{i}")).expect("the role"))
            .collect();
        let runtime = current_thread_runtime();
        for handle in &handles {
            runtime
                .block_on(handle.wait_ready(WAIT))
                .expect("the first AssumeRole succeeds");
        }
        Self { refresher, handles }
    }

    /// The sums over the roles of the snapshot generation (every publish)
    /// and of the credentials generation (every new credentials).
    fn generations(&self) -> (u64, u64) {
        self.handles.iter().fold((0, 0), |(all, new), handle| {
            let snapshot = handle.load();
            (all + snapshot.generation(), new + snapshot.credentials_generation())
        })
    }

    /// Sleeps until the roles made at least `n` refreshes, looking every
    /// second (on the measured CPU time too), and adds their cost. Says how
    /// many publishes in between were not new credentials (none, on an
    /// idle machine).
    fn measure(&self, n: u64, cost: &mut Cost) {
        let (all_before, new_before) = self.generations();
        let meter = Meter::start();
        let deadline = Instant::now() + WAIT + Duration::from_secs(n / 10);
        let (all, new) = loop {
            std::thread::sleep(Duration::from_secs(1));
            let (all, new) = self.generations();
            if new - new_before >= n {
                break (all, new);
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} timer-driven refreshes",
                new - new_before
            );
        };
        meter.stop(new - new_before, cost);
        // A publish without new credentials is a failed refresh or an
        // extension: possible on a loaded machine, where the actor's thread
        // may wake later than the half second the credentials have left.
        // Its cost is in the figures, so say so rather than fail the run.
        let other = (all - all_before).saturating_sub(new - new_before);
        if other > 0 {
            println!(
                "Timer-driven: {other} publishes were not new credentials (failures or extensions); counted in the cost."
            );
        }
    }

    fn shutdown(self) {
        self.refresher.shutdown();
    }
}

// ---- the SDK ----

struct Sdk {
    provider: AssumeRoleProvider,
    runtime: tokio::runtime::Runtime,
}

impl Sdk {
    fn new(endpoint: &str) -> Self {
        let runtime = current_thread_runtime();
        let provider = runtime.block_on(sdk_provider(endpoint));
        Self { provider, runtime }
    }

    fn refresh(&self, n: u64) {
        self.runtime.block_on(async {
            for _ in 0..n {
                assert_sdk_credentials(&self.provider).await;
            }
        });
    }
}

/// One AssumeRole through the SDK's provider, checked.
async fn assert_sdk_credentials(provider: &AssumeRoleProvider) {
    let credentials = provider
        .provide_credentials()
        .await
        .expect("the SDK's AssumeRole succeeds");
    assert!(credentials.access_key_id().starts_with("ASIA"));
}

/// The SDK's `AssumeRoleProvider` on the emulator at `endpoint`, static base
/// keys, plain HTTP.
async fn sdk_provider(endpoint: &str) -> AssumeRoleProvider {
    let config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .sleep_impl(SharedAsyncSleep::new(TokioSleep::new()))
        .time_source(SystemTimeSource::new())
        .build();
    let base = aws_credential_types::Credentials::new(BASE_KEY, BASE_SECRET, None, None, "bench base keys");
    AssumeRoleProvider::builder(ROLE_ARN)
        .session_name(SESSION)
        .region(Region::new(REGION))
        .configure(&config)
        .build_from_provider(base)
        .await
}

/// The SDK at the timer-driven measurement's pace, for the same pattern of
/// refreshes among idle time: [`TIMER_ROLES`] providers on one
/// current-thread runtime, each refreshing after a gap drawn uniformly from
/// 0 to twice `mean_gap` (the mean time between two refreshes of one of
/// credrefresh's roles there), until `n` refreshes in all. Each provider
/// has its own client and connection, as each of credrefresh's roles.
fn sdk_paced(endpoint: &str, n: u64, mean_gap: Duration, cost: &mut Cost) {
    use std::cell::Cell;
    use std::rc::Rc;
    let runtime = current_thread_runtime();
    let providers: Vec<Rc<AssumeRoleProvider>> = (0..TIMER_ROLES)
        .map(|_| Rc::new(runtime.block_on(sdk_provider(endpoint))))
        .collect();
    // Warm-up: each provider's connection is open before the measure.
    runtime.block_on(async {
        for provider in &providers {
            assert_sdk_credentials(provider).await;
        }
    });
    let done = Rc::new(Cell::new(0u64));
    let meter = Meter::start();
    let tasks = tokio::task::LocalSet::new();
    for (i, provider) in providers.into_iter().enumerate() {
        let done = done.clone();
        tasks.spawn_local(async move {
            // xorshift64, seeded per provider: the gaps are the same each run.
            let mut state = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            while done.get() < n {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let unit = (state >> 11) as f64 / (1u64 << 53) as f64;
                tokio::time::sleep(mean_gap.mul_f64(2.0 * unit)).await;
                if done.get() >= n {
                    break;
                }
                assert_sdk_credentials(&provider).await;
                done.set(done.get() + 1);
            }
        });
    }
    runtime.block_on(tasks);
    meter.stop(done.get(), cost);
}

// ---- the floor: what every AssumeRole refresh costs whoever makes it ----

/// The AssumeRole request body both sides send (duration 3600 s, fixed
/// session name), form-encoded.
fn assume_role_body() -> String {
    format!(
        "Action=AssumeRole&Version=2011-06-15&RoleArn={}&RoleSessionName={SESSION}&DurationSeconds=3600",
        ROLE_ARN.replace(':', "%3A").replace('/', "%2F")
    )
}

/// The request, signed now with the base keys by credrefresh's public
/// signer (aws-sigv4, as both sides sign).
fn signed_request(endpoint: &str) -> http::Request<Vec<u8>> {
    let mut request = http::Request::builder()
        .method("POST")
        .uri(format!("{endpoint}/"))
        .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
        .header("user-agent", "credrefresh-bench-floor")
        .body(assume_role_body().into_bytes())
        .expect("a request");
    let base = credrefresh::Credentials::new(BASE_KEY, BASE_SECRET, SystemTime::UNIX_EPOCH).expect("base keys");
    credrefresh::sources::sts::sign_request(&mut request, &base, "sts", REGION, SystemTime::now()).expect("signed");
    request
}

/// CPU of `n` runs of `work` (whole process, as the table measures).
fn floor_cost(n: u64, mut work: impl FnMut()) -> Cost {
    let mut cost = Cost::default();
    let meter = Meter::start();
    for _ in 0..n {
        work();
    }
    meter.stop(n, &mut cost);
    cost
}

/// One request/response over a kept-alive loopback connection with
/// blocking std I/O and no HTTP library: the request's bytes written, the
/// answer read to its `Content-Length`. What the network alone costs a
/// client (the loopback write also runs the emulator's TCP receive, on the
/// sender's CPU time).
fn raw_exchange(stream: &mut std::net::TcpStream, request: &[u8], buffer: &mut Vec<u8>) {
    use std::io::Write;
    stream.write_all(request).expect("the request is written");
    buffer.clear();
    let mut chunk = [0u8; 8192];
    loop {
        let n = stream.read(&mut chunk).expect("the answer is read");
        assert!(n > 0, "the emulator closed the connection");
        buffer.extend_from_slice(&chunk[..n]);
        if answer_complete(buffer) {
            return;
        }
    }
}

/// Whether `buffer` holds a whole HTTP answer (head and `Content-Length`
/// bytes of body); a complete answer must be a 200.
fn answer_complete(buffer: &[u8]) -> bool {
    let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("a Content-Length");
    let complete = buffer.len() >= end + 4 + length;
    if complete {
        assert!(head.starts_with("http/1.1 200"), "the emulator answered {head}");
    }
    complete
}

/// [`raw_exchange`] on a Tokio socket.
async fn async_raw_exchange(stream: &mut tokio::net::TcpStream, request: &[u8], buffer: &mut Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.write_all(request).await.expect("the request is written");
    buffer.clear();
    let mut chunk = [0u8; 8192];
    loop {
        let n = stream.read(&mut chunk).await.expect("the answer is read");
        assert!(n > 0, "the emulator closed the connection");
        buffer.extend_from_slice(&chunk[..n]);
        if answer_complete(buffer) {
            return;
        }
    }
}

/// The floor of a refresh, measured here: the loopback exchange, the
/// signature, and (credrefresh only) the two thread hops of the actor
/// design: printed after the table.
fn floor(endpoint: &str, n: u64) {
    // The exchange.
    let request = signed_request(endpoint);
    let mut wire = b"POST / HTTP/1.1\r\n".to_vec();
    for (name, value) in request.headers() {
        wire.extend_from_slice(name.as_str().as_bytes());
        wire.extend_from_slice(b": ");
        wire.extend_from_slice(value.as_bytes());
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(format!("content-length: {}\r\n\r\n", request.body().len()).as_bytes());
    wire.extend_from_slice(request.body());
    let address = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(address).expect("a connection to the emulator");
    stream.set_nodelay(true).expect("TCP_NODELAY");
    let mut buffer = Vec::with_capacity(8192);
    for _ in 0..WARM_UP {
        raw_exchange(&mut stream, &wire, &mut buffer);
    }
    let exchange = floor_cost(n, || raw_exchange(&mut stream, &wire, &mut buffer));
    // The same with Tokio's non-blocking socket on a current-thread runtime
    // (epoll), as both sides' HTTP clients wait.
    let runtime = current_thread_runtime();
    let mut async_stream = runtime.block_on(async {
        let std_stream = std::net::TcpStream::connect(address).expect("a connection to the emulator");
        std_stream.set_nodelay(true).expect("TCP_NODELAY");
        std_stream.set_nonblocking(true).expect("non-blocking");
        tokio::net::TcpStream::from_std(std_stream).expect("a Tokio stream")
    });
    let mut async_exchange = || {
        runtime.block_on(async_raw_exchange(&mut async_stream, &wire, &mut buffer));
    };
    for _ in 0..WARM_UP {
        async_exchange();
    }
    let exchange_async = floor_cost(n, &mut async_exchange);
    drop(runtime);
    // The signature alone (the request built again each time, as a client does).
    let sign = floor_cost(n, || {
        std::hint::black_box(signed_request(endpoint));
    });
    // Two thread hops: the caller wakes a thread parked in a current-thread
    // Tokio runtime (as the refresher's actor thread is) and waits, parked
    // in its own runtime, for an answer sent back on a broadcast channel
    // (as a refresh event is).
    let wake = std::sync::Arc::new(tokio::sync::Notify::new());
    let (tx, mut rx) = tokio::sync::broadcast::channel::<u64>(16);
    let other = {
        let wake = wake.clone();
        std::thread::spawn(move || {
            current_thread_runtime().block_on(async move {
                let mut i = 0;
                loop {
                    wake.notified().await;
                    i += 1;
                    if tx.send(i).is_err() {
                        return;
                    }
                }
            })
        })
    };
    let runtime = current_thread_runtime();
    let mut round_trip = || {
        runtime.block_on(async {
            wake.notify_one();
            tokio::time::timeout(WAIT, rx.recv())
                .await
                .expect("an answer within 10 s")
                .expect("the channel");
        })
    };
    for _ in 0..WARM_UP {
        round_trip();
    }
    let hops = floor_cost(n, &mut round_trip);
    drop(rx);
    wake.notify_one();
    let _ = other.join();
    let per = |c: &Cost| c.cpu_ns as f64 / 1e3 / c.refreshes as f64;
    println!();
    println!("| Floor, measured in the same run | CPU µs | allocations |");
    println!("|---|---:|---:|");
    let row = |name: &str, c: &Cost| {
        println!(
            "| {name} | {:.1} | {:.0} |",
            per(c),
            c.allocations as f64 / c.refreshes as f64
        )
    };
    row(
        "loopback exchange, blocking std I/O, no HTTP library (both sides)",
        &exchange,
    );
    row(
        "the same on a Tokio socket, current-thread runtime (epoll), no HTTP library",
        &exchange_async,
    );
    row("SigV4 signature with aws-sigv4, request built (both sides)", &sign);
    row(
        "two thread hops: wake a parked Tokio thread, wait for its broadcast (credrefresh's actor design)",
        &hops,
    );
    println!(
        "| sum: the least a refresh can cost through an actor thread (Tokio exchange + signature + hops) | {:.1} | |",
        per(&exchange_async) + per(&sign) + per(&hops)
    );
}

fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime")
}

fn quick() -> bool {
    std::env::var("CREDREFRESH_BENCH_QUICK").is_ok_and(|v| v != "0") || std::env::args().any(|a| a == "--quick")
}

fn row(name: &str, c: &Cost) {
    let n = c.refreshes as f64;
    println!(
        "| {name} | {} | {:.0} | {:.0} | {:.0} | {:.1} | {:.0} |",
        c.refreshes,
        c.cpu_ns as f64 / 1e3 / n,
        c.caller_ns as f64 / 1e3 / n,
        c.allocations as f64 / n,
        c.bytes as f64 / 1024.0 / n,
        c.wall.as_secs_f64() * 1e6 / n,
    );
}

fn main() {
    if std::env::var_os(EMULATOR_ENV).is_some() {
        emulator_child();
        return;
    }
    // `cargo bench` runs every bench binary with `--bench`; `cargo test
    // --benches` runs it without: then only check that it builds.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let n = if quick() { 50 } else { 2_000 };
    // `CREDREFRESH_REFRESH_COST_CHUNKS`: how many alternating chunks.
    let chunks = std::env::var("CREDREFRESH_REFRESH_COST_CHUNKS")
        .ok()
        .and_then(|c| c.parse::<u64>().ok())
        .unwrap_or(CHUNKS)
        .clamp(1, n);
    let chunk = n / chunks;
    let emulator = EmulatorProcess::start(None);
    let ours = Ours::new(&emulator.endpoint, Placement::OwnThread);
    let local = Ours::new(&emulator.endpoint, Placement::CallersSystem);
    let sdk = Sdk::new(&emulator.endpoint);
    ours.refresh(WARM_UP);
    local.refresh(WARM_UP);
    sdk.refresh(WARM_UP);

    // For a profiler: `CREDREFRESH_REFRESH_COST_ONLY=ours` (or `sdk`) makes
    // the measured refreshes of one side only; `timer` (or `paced`) only
    // the timer-driven refreshes (or the paced SDK's).
    let only = std::env::var("CREDREFRESH_REFRESH_COST_ONLY").unwrap_or_default();
    let runs = |parts: &[&str]| only.is_empty() || parts.contains(&only.as_str());
    let (mut ours_cost, mut local_cost, mut sdk_cost) = (Cost::default(), Cost::default(), Cost::default());
    let (mut whole, whole_meter) = (Cost::default(), Meter::start());
    for i in 0..chunks {
        let k = if i + 1 == chunks {
            n - chunk * (chunks - 1)
        } else {
            chunk
        };
        if runs(&["ours"]) {
            let meter = Meter::start();
            ours.refresh(k);
            meter.stop(k, &mut ours_cost);
            let meter = Meter::start();
            local.refresh(k);
            meter.stop(k, &mut local_cost);
        }
        if runs(&["sdk"]) {
            let meter = Meter::start();
            sdk.refresh(k);
            meter.stop(k, &mut sdk_cost);
        }
    }

    whole_meter.stop(0, &mut whole);
    // Timer-driven, after the loop and on an emulator of its own (2 s
    // credentials): its roles refresh all the time, which the other sides'
    // measurements must not count.
    let mut timer_cost = Cost::default();
    if runs(&["ours", "timer"]) {
        let timer_emulator = EmulatorProcess::start(Some(TIMER_LIFETIME));
        let timer = TimerDriven::new(&timer_emulator.endpoint);
        timer.measure(n, &mut timer_cost);
        timer.shutdown();
    }
    let mut paced_cost = Cost::default();
    if runs(&["sdk", "paced"]) {
        let timer_emulator = EmulatorProcess::start(Some(TIMER_LIFETIME));
        // What the timer-driven roles made, or else what they make on this
        // machine (about 65 refreshes a second in all).
        let mean_gap = if timer_cost.refreshes > 0 {
            timer_cost
                .wall
                .mul_f64(TIMER_ROLES as f64 / timer_cost.refreshes as f64)
        } else {
            Duration::from_millis(490)
        };
        sdk_paced(&timer_emulator.endpoint, n, mean_gap, &mut paced_cost);
    }
    // The floor is measured after the loop, so that it does not change it.
    let floor_n = n;
    println!(
        "| AssumeRole refresh, emulator on loopback (separate process) | refreshes | CPU µs/refresh | of which the calling thread | allocations/refresh | KiB allocated/refresh | wall µs/refresh |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    row(
        "credrefresh, `start()`: AssumeRoleSource, actor on its own thread, publish, event",
        &ours_cost,
    );
    row(
        "credrefresh, `start_local()`: the same, actor on the caller's actix system",
        &local_cost,
    );
    row(
        &format!(
            "credrefresh, `start()`, timer-driven: {TIMER_ROLES} roles on {} s credentials refreshed by the policy's timer, the caller asleep (measured after the loop)",
            TIMER_LIFETIME.as_secs()
        ),
        &timer_cost,
    );
    row("AWS SDK: aws_config::sts::AssumeRoleProvider, no cache", &sdk_cost);
    row(
        &format!("AWS SDK, paced as the timer-driven roles: {TIMER_ROLES} providers, random gaps (after the loop)"),
        &paced_cost,
    );
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
    for (name, cost, sdk) in [
        ("`start()` / SDK", &ours_cost, &sdk_cost),
        ("`start_local()` / SDK", &local_cost, &sdk_cost),
        ("`start()` timer-driven / SDK paced", &timer_cost, &paced_cost),
    ] {
        println!(
            "| ratio credrefresh {name} | | {:.2} | | {:.2} | {:.2} | |",
            ratio(cost.cpu_ns as f64, sdk.cpu_ns as f64),
            ratio(cost.allocations as f64, sdk.allocations as f64),
            ratio(cost.bytes as f64, sdk.bytes as f64),
        );
    }
    println!();
    println!(
        "Cross-check over the whole measured loop (all three sides): per-thread schedstat {:.0} ms, process utime+stime {} ms (10 ms ticks).",
        (ours_cost.cpu_ns + local_cost.cpu_ns + sdk_cost.cpu_ns) as f64 / 1e6,
        whole.ticks * 10,
    );
    if std::env::var("CREDREFRESH_REFRESH_COST_FLOOR").map_or(true, |v| v != "0") {
        floor(&emulator.endpoint, floor_n);
    }
    ours.shutdown();
    local.shutdown();
    drop(emulator);
}
