//! Fleet simulation: STS load of N processes refreshing 1 h sessions.
//!
//! A deterministic discrete-event simulation (seeded, no wall clock) that
//! drives credrefresh's real policy functions — [`RefreshPolicy::refresh_at`],
//! [`RefreshPolicy::first_refresh_at`], [`RefreshPolicy::retry_at`],
//! [`RefreshPolicy::extend`], [`Backoff`] — through the public API with a
//! seeded [`Random`] per role, and, in the same run with the same arrivals and
//! seeds, models of the Rust SDK's lazy cache, botocore's refreshable
//! credentials and a host agent (one refresher per host of 50 processes).
//!
//! The model:
//! - N processes start uniformly within 10 s; each has M roles (1 h sessions)
//!   and sends one request per second (the SDK and botocore refresh inside a
//!   request). STS answers at once.
//! - STS has an account quota of 600 requests per second: calls past the
//!   600th of a second are throttled (failures, retryable). Every model pays
//!   it, at start too.
//! - The outage run adds a 30-minute outage (every call throttled) at 12:40
//!   (3:40 in quick mode).
//! - credrefresh: fetch at start, then at `refresh_at`; credentials that
//!   expire while refreshes fail are extended with `extend` (counted; STS
//!   credentials stay refused once expired, so that time counts as failing).
//!   "Before": every refresh at `refresh_at`, every retry after
//!   `Backoff::next_delay` (1 s ×2 → 120 s). "First refresh spread": the
//!   refresh after the first fetch and after a recovery at
//!   `first_refresh_at`. "Backoff 1 s ×10 → 600 s alone": that, with the
//!   backoff that is the default now. "After": what the actor does now,
//!   every retry at [`RefreshPolicy::retry_at`] — the default schedule
//!   (a quick retry, one retry ahead of expiry, then the backoff) and the
//!   fleet preset [`RefreshPolicy::fleet`] (paced retries). The "simulated
//!   only" rows try a phase-preserving refresh (regular refreshes at the
//!   mean interval, no jitter) that the crate does not use. The sweep also
//!   tries other backoff shapes, a lifetime-aware retry (see `retry_spread`
//!   in [`Model`]) and other paces.
//! - Rust SDK (aws-config 1.13 lazy cache) and botocore: see [`Model`]. Their
//!   STS clients' own retries (3 attempts in standard mode) are not
//!   modelled: their figures are lower bounds.
//!
//! Run: `cargo bench --bench fleet` (100,000 processes, 24 h) or
//! `CREDREFRESH_BENCH_QUICK=1 cargo bench --bench fleet` / `-- --quick`
//! (2,000 processes, 6 h; also under `cargo test --benches`). Extra
//! settings: `CREDREFRESH_FLEET_PROCESSES`, `CREDREFRESH_FLEET_ROLES`.
//! Prints a markdown table; the full run writes it to
//! `benches/results/fleet.md` with a chart in `benches/results/fleet.png`,
//! the quick run to the temporary directory.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use credrefresh::RefreshPolicy;
use credrefresh::backoff::{Backoff, BackoffConfig};
use credrefresh::clock::Random;

/// Simulated time, in milliseconds since the first process could start.
type Ms = u64;

const SEC: Ms = 1000;
const SESSION: Ms = 3600 * SEC;
const START_SPREAD: Ms = 10 * SEC;
const QUOTA: u32 = 600;
const PROCESSES_PER_HOST: usize = 50;
const REQUEST_INTERVAL: Ms = SEC;
/// The first minutes are the start: every role fetches once. Steady figures
/// are taken after them.
const START_PHASE: Ms = 600 * SEC;
const OUTAGE_LEN: Ms = 1800 * SEC;
/// How long after the outage the recovery figures are taken.
const RECOVERY_SPAN: Ms = 2 * 3600 * SEC;
/// Echoes of the recovery: refresh waves from this long after the outage.
const ECHO_FROM: Ms = 20 * 60 * SEC;
const SEED: u64 = 0x5eed_f1ee7;
/// An arbitrary fixed epoch for the policy functions' `SystemTime`s.
const EPOCH_S: u64 = 1_800_000_000;

// ---------------------------------------------------------------- randomness

/// SplitMix64: small, seedable, good enough for jitter.
#[derive(Debug)]
struct SimRandom(AtomicU64);

impl SimRandom {
    fn new(seed: u64) -> Self {
        Self(AtomicU64::new(seed))
    }
    fn next_u64(&self) -> u64 {
        let s = self.0.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
        let mut z = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl Random for SimRandom {
    fn unit(&self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn mix(a: u64, b: u64) -> u64 {
    SimRandom::new(a ^ b.wrapping_mul(0xD6E8_FEB8_6659_FD93)).next_u64()
}

fn to_time(t: Ms) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(EPOCH_S) + Duration::from_millis(t)
}

fn from_time(t: SystemTime) -> Ms {
    let d = t
        .duration_since(SystemTime::UNIX_EPOCH + Duration::from_secs(EPOCH_S))
        .unwrap_or(Duration::ZERO);
    d.as_millis() as Ms
}

// ---------------------------------------------------------------- models

#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // a handful of variants, built once per run
enum Model {
    /// credrefresh's actor: fetch at start, then at `refresh_at`; on failure
    /// retry after `Backoff::next_delay`; extend expired credentials.
    Credrefresh {
        policy: RefreshPolicy,
        /// The backoff the policy was given (the sequence of retry delays).
        backoff: BackoffConfig,
        /// Proposed: draw the refresh after the first fetch (and after a
        /// recovery) from the fleet's steady-state distribution.
        spread_first: bool,
        /// Lifetime-aware retry: after a failure while the last good
        /// credentials are still valid with `remaining` left, retry no
        /// sooner than the backoff delay nor than `u × remaining × k`
        /// (`Some(k)`, u uniform in [0, 1)); expired (extended) credentials
        /// retry on the backoff alone.
        retry_spread: Option<f64>,
        /// Retry on the policy's retry schedule ([`RefreshPolicy::retry_at`],
        /// what the actor does now) instead of `backoff` alone.
        scheduled: bool,
        /// A phase-preserving refresh, simulated only (not what the crate
        /// does): regular refreshes at the mean interval (2475 s for 1 h
        /// sessions) with no jitter, so each role keeps the phase its
        /// first refresh (uniform within that interval) gave it.
        phase: bool,
    },
    /// aws-config 1.13 lazy identity cache: refresh inside the first request
    /// at or after `expiry − (10 s + 0–5 s)`; a failed load fails the request
    /// and the next request loads again.
    RustSdk,
    /// botocore `RefreshableCredentials`: refresh in the first request with
    /// ≤ 15 min left; failures with > 10 min left are ignored (the request
    /// goes on with the cached credentials), later ones fail the request;
    /// either way the next request tries again.
    Botocore,
}

#[derive(Debug, Clone)]
struct Variant {
    name: String,
    model: Model,
    /// 1: one refresher per process; 50: one per host (the host agent).
    per_host: usize,
}

/// The STS endpoint: an account quota per second and an optional outage.
struct Sts {
    calls: Vec<u32>,
    failed: Vec<u32>,
    outage: Option<(Ms, Ms)>,
}

impl Sts {
    /// One call at `t`: true when it succeeds.
    fn call(&mut self, t: Ms) -> bool {
        let s = (t / SEC) as usize;
        if s >= self.calls.len() {
            return false;
        }
        self.calls[s] += 1;
        let down = self.outage.is_some_and(|(a, b)| t >= a && t < b);
        if down || self.calls[s] > QUOTA {
            self.failed[s] += 1;
            false
        } else {
            true
        }
    }
}

/// One role of one refresher (a process, or a host agent).
struct Role {
    rng: SimRandom,
    /// Start of the refresher and phase of its one-per-second requests.
    arrival: Ms,
    /// Expiry STS gave the credentials held (0: none yet).
    real_expiry: Ms,
    /// Expiry as extended by credrefresh during an outage.
    served_expiry: Ms,
    /// Rust SDK: this load's buffer before expiry.
    buffer: Ms,
    backoff: Option<Backoff>,
    /// Consecutive failures (the retry schedule's count).
    failures: u32,
    /// Lifetime of the credentials valid at the first failure of the run.
    run_lifetime: Option<Duration>,
    /// Since when refreshes have been failing.
    streak_since: Option<Ms>,
    /// Since when requests fail for want of usable credentials.
    broken_since: Option<Ms>,
}

#[derive(Debug, Default, Clone)]
struct Outcome {
    calls: Vec<u32>,
    failed: Vec<u32>,
    extensions: u64,
    /// Role-milliseconds during which requests failed (no usable
    /// credentials), from the outage's start (after the start phase in the
    /// steady run).
    broken_ms: u64,
    /// When every role had its first credentials.
    all_ready: Ms,
    /// After the outage's end, when the last role failing then recovered.
    recovered_after: Option<Ms>,
    /// Roles still failing at the end of the simulation.
    failing_at_end: usize,
}

impl Outcome {
    /// Counts `[from, to)` as failing, from `count_from` on.
    fn broken(&mut self, from: Ms, to: Ms, count_from: Ms) {
        self.broken_ms += to.saturating_sub(from.max(count_from));
    }
}

struct Fleet<'a> {
    cfg: &'a Config,
    arrivals: &'a [Ms],
}

#[derive(Debug, Clone)]
struct Config {
    processes: usize,
    roles: usize,
    horizon: Ms,
    outage_start: Ms,
    quick: bool,
}

/// The next request of a refresher started at `arrival`, at or after `t`.
fn next_tick(arrival: Ms, t: Ms) -> Ms {
    if t <= arrival {
        arrival
    } else {
        arrival + (t - arrival).div_ceil(REQUEST_INTERVAL) * REQUEST_INTERVAL
    }
}

impl Fleet<'_> {
    fn run(&self, v: &Variant, outage: bool) -> Outcome {
        let cfg = self.cfg;
        let secs = (cfg.horizon / SEC) as usize;
        let outage = outage.then_some((cfg.outage_start, cfg.outage_start + OUTAGE_LEN));
        let mut sts = Sts {
            calls: vec![0; secs],
            failed: vec![0; secs],
            outage,
        };
        let units = cfg.processes.div_ceil(v.per_host);
        let mut roles = Vec::with_capacity(units * cfg.roles);
        let mut heap = BinaryHeap::with_capacity(units * cfg.roles);
        for u in 0..units {
            let first = u * v.per_host;
            let last = ((u + 1) * v.per_host).min(cfg.processes);
            let arrival = self.arrivals[first..last].iter().copied().min().unwrap_or(0);
            for r in 0..cfg.roles {
                let id = roles.len();
                roles.push(Role {
                    rng: SimRandom::new(mix(SEED, (first * cfg.roles + r) as u64)),
                    arrival,
                    real_expiry: 0,
                    served_expiry: 0,
                    buffer: 0,
                    backoff: None,
                    failures: 0,
                    run_lifetime: None,
                    streak_since: None,
                    broken_since: Some(arrival),
                });
                heap.push(Reverse(key(arrival, id)));
            }
        }
        let mut out = Outcome::default();
        // Failing time is counted from the outage (or after the start).
        let count_from = outage.map_or(START_PHASE, |(a, _)| a);
        let mut ready = 0usize;
        let total = roles.len();
        while let Some(Reverse(k)) = heap.pop() {
            let (t, id) = unkey(k);
            if t >= cfg.horizon {
                break;
            }
            let role = &mut roles[id];
            if let Model::Credrefresh { policy, .. } = &v.model {
                extend_until(policy, role, t, &mut out);
            }
            let ok = sts.call(t);
            let next = if ok {
                if role.real_expiry == 0 {
                    ready += 1;
                    if ready == total {
                        out.all_ready = t;
                    }
                }
                if let Some(since) = role.broken_since.take() {
                    out.broken(since, t, count_from);
                } else if matches!(v.model, Model::Credrefresh { .. }) && role.real_expiry != 0 && t > role.real_expiry
                {
                    out.broken(role.real_expiry, t, count_from);
                }
                let recovering = role.streak_since.take();
                if let (Some(since), Some((_, end))) = (recovering, outage) {
                    if since < end && t >= end {
                        let after = t - end;
                        out.recovered_after = Some(out.recovered_after.map_or(after, |a| a.max(after)));
                    }
                }
                let first = role.real_expiry == 0;
                role.real_expiry = t + SESSION;
                role.served_expiry = role.real_expiry;
                role.backoff = None;
                role.failures = 0;
                role.run_lifetime = None;
                match &v.model {
                    Model::Credrefresh {
                        spread_first: true,
                        phase: true,
                        ..
                    } => {
                        let interval = 2475 * SEC;
                        if first || recovering.is_some() {
                            t + ((1.0 - role.rng.unit()) * interval as f64) as Ms
                        } else {
                            t + interval
                        }
                    }
                    Model::Credrefresh {
                        policy, spread_first, ..
                    } => {
                        if *spread_first && (first || recovering.is_some()) {
                            from_time(policy.first_refresh_at(to_time(t), Some(to_time(role.real_expiry)), &role.rng))
                        } else {
                            from_time(policy.refresh_at(to_time(t), Some(to_time(role.real_expiry)), &role.rng))
                        }
                    }
                    Model::RustSdk => {
                        role.buffer = 10 * SEC + (5000.0 * role.rng.unit()) as Ms;
                        next_tick(role.arrival, role.real_expiry - role.buffer)
                    }
                    Model::Botocore => next_tick(role.arrival, role.real_expiry - 15 * 60 * SEC),
                }
            } else {
                role.streak_since.get_or_insert(t);
                match &v.model {
                    Model::Credrefresh {
                        policy,
                        scheduled: true,
                        ..
                    } => {
                        // What the actor does: the retry schedule, given
                        // the expiry of the credentials in hand while they
                        // are valid, and the lifetime of those valid when
                        // the run of failures began.
                        role.failures += 1;
                        let valid_until = (role.real_expiry > t).then(|| to_time(role.real_expiry));
                        if role.failures == 1 {
                            role.run_lifetime = valid_until.map(|_| Duration::from_millis(SESSION));
                        }
                        let at = policy.retry_at(to_time(t), role.failures, valid_until, role.run_lifetime, &role.rng);
                        from_time(at).max(t + 1)
                    }
                    Model::Credrefresh {
                        backoff, retry_spread, ..
                    } => {
                        // Throttling: retrying can help, so the backoff sequence.
                        let delay = role
                            .backoff
                            .get_or_insert_with(|| Backoff::new(*backoff))
                            .next_delay(&role.rng);
                        let delay = delay.as_millis() as Ms;
                        let spread = match retry_spread {
                            Some(k) if role.real_expiry > t => {
                                (role.rng.unit() * (role.real_expiry - t) as f64 * k) as Ms
                            }
                            _ => 0,
                        };
                        t + delay.max(spread).max(1)
                    }
                    Model::RustSdk => {
                        role.broken_since.get_or_insert(t);
                        t + REQUEST_INTERVAL
                    }
                    Model::Botocore => {
                        if role.real_expiry == 0 || role.real_expiry.saturating_sub(t) <= 10 * 60 * SEC {
                            role.broken_since.get_or_insert(t);
                        }
                        t + REQUEST_INTERVAL
                    }
                }
            };
            heap.push(Reverse(key(next, id)));
        }
        for role in &mut roles {
            if let Model::Credrefresh { policy, .. } = &v.model {
                extend_until(policy, role, cfg.horizon, &mut out);
                if role.real_expiry != 0 && role.real_expiry < cfg.horizon && role.streak_since.is_some() {
                    out.broken(role.real_expiry, cfg.horizon, count_from);
                }
            }
            if let Some(since) = role.broken_since {
                out.broken(since, cfg.horizon, count_from);
            }
            if role.streak_since.is_some() {
                out.failing_at_end += 1;
            }
        }
        if ready < roles.len() {
            out.all_ready = cfg.horizon;
        }
        out.calls = sts.calls;
        out.failed = sts.failed;
        out
    }
}

/// credrefresh's static stability: credentials that expire while refreshes
/// fail are extended (the actor's expiry timer), counted here up to `t`.
fn extend_until(policy: &RefreshPolicy, role: &mut Role, t: Ms, out: &mut Outcome) {
    if role.streak_since.is_none() || role.served_expiry == 0 {
        return;
    }
    while role.served_expiry <= t {
        let at = role.served_expiry;
        match policy.extend(to_time(at), Some(to_time(at)), &role.rng) {
            Some(until) => {
                role.served_expiry = from_time(until).max(at + 1);
                out.extensions += 1;
            }
            None => break,
        }
    }
}

/// Roles are numbered in the low 24 bits of an event's key.
const MAX_ROLES: usize = 1 << 24;

fn key(t: Ms, id: usize) -> u64 {
    (t << 24) | id as u64
}

fn unkey(k: u64) -> (Ms, usize) {
    (k >> 24, (k & 0xFF_FFFF) as usize)
}

// ---------------------------------------------------------------- statistics

/// The figures of an outage run that both outage tables print.
struct OutageFigures {
    /// Peak 10 s rate during the outage, per second.
    during: f64,
    /// Peak 10 s rate in the recovery span, per second.
    after: f64,
    /// "yes" when no second of the recovery went past the quota.
    under_quota: &'static str,
    /// Calls throttled in the recovery span.
    throttled: u64,
}

impl OutageFigures {
    /// Of the outage run `o`, the outage lasting from `os` to `oe`.
    fn of(o: &Outcome, os: Ms, oe: Ms) -> Self {
        let (a, b) = (
            (oe / SEC) as usize,
            (((oe + RECOVERY_SPAN) / SEC) as usize).min(o.failed.len()),
        );
        Self {
            during: peak(&o.calls, os, oe, 10),
            after: peak(&o.calls, oe, oe + RECOVERY_SPAN, 10),
            under_quota: if peak(&o.calls, oe, oe + RECOVERY_SPAN, 1) <= QUOTA as f64 {
                "yes"
            } else {
                "no"
            },
            throttled: sum(&o.failed[a..b]),
        }
    }
}

/// Peak of the per-second rate over buckets of `width` seconds in `[a, b)`.
fn peak(calls: &[u32], a: Ms, b: Ms, width: usize) -> f64 {
    let (a, b) = ((a / SEC) as usize, ((b / SEC) as usize).min(calls.len()));
    calls[a..b]
        .chunks(width)
        .filter(|c| c.len() == width)
        .map(|c| c.iter().map(|&x| x as f64).sum::<f64>() / width as f64)
        .fold(0.0, f64::max)
}

fn mean(calls: &[u32], a: Ms, b: Ms) -> f64 {
    let (a, b) = ((a / SEC) as usize, ((b / SEC) as usize).min(calls.len()));
    calls[a..b].iter().map(|&x| x as f64).sum::<f64>() / (b - a) as f64
}

fn sum(calls: &[u32]) -> u64 {
    calls.iter().map(|&x| x as u64).sum()
}

struct Row {
    name: String,
    units: usize,
    steady: Outcome,
    outage: Outcome,
}

impl Row {
    fn steady_mean(&self, cfg: &Config) -> f64 {
        mean(&self.steady.calls, self.steady_from(), cfg.horizon)
    }

    /// The steady state starts when every role has credentials, and not
    /// before the end of the start phase.
    fn steady_from(&self) -> Ms {
        START_PHASE.max(self.steady.all_ready.div_ceil(10 * SEC) * 10 * SEC)
    }
}

fn fmt_dur(ms: Ms) -> String {
    let s = ms / SEC;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

fn report(cfg: &Config, rows: &[Row]) -> String {
    let mut md = String::new();
    let (os, oe) = (cfg.outage_start, cfg.outage_start + OUTAGE_LEN);
    let _ = writeln!(
        md,
        "Fleet: {} processes × {} role(s) of 1 h sessions, started within 10 s, {} simulated hours, \
         one request per process per second, STS quota {} requests/s (calls past it are throttled). \
         Outage run: every STS call fails (throttled) from {} to {}. Seed {:#x}.\n",
        cfg.processes,
        cfg.roles,
        cfg.horizon / 3_600_000,
        QUOTA,
        fmt_dur(os),
        fmt_dur(oe),
        SEED
    );
    let _ = writeln!(
        md,
        "Steady run (no outage), after the start: the first {}, or until every role has its first \
         credentials (\"all ready after\") when that is later. Rates are STS calls per second; peaks over \
         1 s and 10 s buckets. A Poisson stream at the same mean would show a peak/mean of about 1.2 \
         (10 s) and 1.8 (1 s) at 100,000 processes: the floor of randomness.\n",
        fmt_dur(START_PHASE)
    );
    let _ = writeln!(
        md,
        "| model | refreshers | all ready after | STS calls/day | per refresher | mean /s | peak 1 s | peak 10 s | peak/mean (10 s) | peak/mean (1 s) | throttled |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let m = r.steady_mean(cfg);
        let from = r.steady_from();
        let total_day = sum(&r.steady.calls) as f64 * 86_400_000.0 / cfg.horizon as f64;
        let per_day = sum(&r.steady.calls) as f64 / (r.units * cfg.roles) as f64 * 86_400_000.0 / cfg.horizon as f64;
        let _ = writeln!(
            md,
            "| {} | {} | {} | {:.0} | {:.1} | {:.1} | {:.0} | {:.1} | {:.2} | {:.2} | {} |",
            r.name,
            r.units * cfg.roles,
            fmt_dur(r.steady.all_ready),
            total_day,
            per_day,
            m,
            peak(&r.steady.calls, from, cfg.horizon, 1),
            peak(&r.steady.calls, from, cfg.horizon, 10),
            peak(&r.steady.calls, from, cfg.horizon, 10) / m,
            peak(&r.steady.calls, from, cfg.horizon, 1) / m,
            sum(&r.steady.failed[(from / SEC) as usize..]),
        );
    }
    let _ = writeln!(
        md,
        "\nOutage run: peaks per 10 s bucket (per second), against the steady mean above and the quota ({QUOTA}/s). \
         Recovery: the {} after the outage. \"Recovered\": when the last role failing at the outage's end got \
         credentials. \"Echo\": the highest 10 s rate from 20 min to 2 h after the outage (the refresh waves \
         the recovery leaves). \"Failing role-hours\": from the outage's start on, the time roles had no \
         usable (unexpired) credentials, so their requests failed (extended credentials count as failing: \
         STS credentials are refused once expired).\n",
        fmt_dur(RECOVERY_SPAN)
    );
    let _ = writeln!(
        md,
        "| model | outage peak /s | × mean | recovery peak /s | × mean | < quota | throttled in recovery | recovered after | echo peak × mean | extensions | failing role-hours |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|:-:|---:|---:|---:|---:|---:|");
    for r in rows {
        let m = r.steady_mean(cfg);
        let o = &r.outage;
        let f = OutageFigures::of(o, os, oe);
        let _ = writeln!(
            md,
            "| {} | {:.0} | {:.1} | {:.0} | {:.1} | {} | {} | {} | {:.1} | {} | {:.0} |",
            r.name,
            f.during,
            f.during / m,
            f.after,
            f.after / m,
            f.under_quota,
            f.throttled,
            o.recovered_after.map_or("–".into(), fmt_dur),
            peak(&o.calls, oe + ECHO_FROM, oe + RECOVERY_SPAN, 10) / m,
            if r.name.starts_with("credrefresh") || r.name.starts_with("host agent") || r.name.starts_with("simulated")
            {
                o.extensions.to_string()
            } else {
                "–".into()
            },
            o.broken_ms as f64 / 3_600_000.0,
        );
    }
    md
}

// ---------------------------------------------------------------- plot

fn plot(cfg: &Config, rows: &[&Row], path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;

    let font = ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"]
        .iter()
        .find_map(|p| std::fs::read(p).ok());
    let text = match font {
        Some(bytes) => {
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok()
        }
        None => false,
    };
    const W: u32 = 1400;
    const H: u32 = 1000;
    let mut pixels = vec![0u8; (W * H * 3) as usize];
    let root = BitMapBackend::with_buffer(&mut pixels, (W, H)).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, bottom) = root.split_vertically(480);
    let colours = [
        RGBColor(200, 30, 30),
        RGBColor(20, 120, 20),
        RGBColor(30, 60, 200),
        RGBColor(230, 140, 0),
        RGBColor(130, 40, 170),
        RGBColor(0, 160, 170),
        RGBColor(90, 90, 90),
    ];
    let hours = cfg.horizon as f64 / 3_600_000.0;
    let max = rows
        .iter()
        .map(|r| peak(&r.outage.calls, 0, cfg.horizon, 60))
        .fold(QUOTA as f64 * 2.0, f64::max);
    let (os, oe) = (
        cfg.outage_start as f64 / 3_600_000.0,
        (cfg.outage_start + OUTAGE_LEN) as f64 / 3_600_000.0,
    );
    let panels = [
        (
            top,
            0.0,
            hours,
            60usize,
            "STS calls/s (1-minute mean, log scale) vs hours, outage run",
        ),
        (
            bottom,
            os - 0.25,
            (oe + 1.75).min(hours),
            10usize,
            "zoom on the outage and recovery (10-second mean, log scale)",
        ),
    ];
    for (area, x0, x1, width, title) in panels {
        let mut builder = ChartBuilder::on(&area);
        builder.margin(12);
        if text {
            builder
                .caption(title, ("sans-serif", 20))
                .x_label_area_size(35)
                .y_label_area_size(60);
        }
        let mut chart = builder.build_cartesian_2d(x0..x1, (0.5f64..max).log_scale())?;
        let mut mesh = chart.configure_mesh();
        mesh.light_line_style(WHITE.mix(0.0));
        if text {
            mesh.x_desc("hours")
                .y_desc("calls/s")
                .y_label_formatter(&|v| format!("{v:.0}"))
                .label_style(("sans-serif", 14));
        } else {
            mesh.disable_x_mesh().disable_y_mesh();
        }
        mesh.draw()?;
        let quota = chart.draw_series(LineSeries::new(
            [(x0, QUOTA as f64), (x1, QUOTA as f64)],
            BLACK.stroke_width(2),
        ))?;
        if text {
            quota
                .label(format!("STS quota ({QUOTA}/s); shaded: outage"))
                .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK.stroke_width(3)));
        }
        chart.draw_series(std::iter::once(Rectangle::new(
            [(os, 0.5), (oe, max)],
            RGBColor(255, 0, 0).mix(0.08).filled(),
        )))?;
        for (i, r) in rows.iter().enumerate() {
            let c = colours[i % colours.len()];
            let a = (x0 * 3600.0) as usize;
            let b = ((x1 * 3600.0) as usize).min(r.outage.calls.len());
            let points = r.outage.calls[a..b].chunks(width).enumerate().map(|(j, ch)| {
                let y = ch.iter().map(|&x| x as f64).sum::<f64>() / ch.len() as f64;
                ((a + j * width) as f64 / 3600.0, y.max(0.5))
            });
            let series = chart.draw_series(LineSeries::new(points, c.stroke_width(2)))?;
            if text {
                series
                    .label(r.name.clone())
                    .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], c.stroke_width(3)));
            }
        }
        if text {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font(("sans-serif", 14))
                .position(SeriesLabelPosition::UpperRight)
                .draw()?;
        }
    }
    root.present()?;
    drop(root);
    std::fs::write(path, png(W, H, &pixels))?;
    Ok(())
}

/// An 8-bit RGB PNG of `pixels` (rows top to bottom, "Up" filter, zlib).
fn png(width: u32, height: u32, pixels: &[u8]) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= b as u32;
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let crc = crc32(&out[start..]);
        out.extend_from_slice(&crc.to_be_bytes());
    }
    let row = width as usize * 3;
    let mut raw = Vec::with_capacity((row + 1) * height as usize);
    for (y, line) in pixels.chunks(row).enumerate() {
        if y == 0 {
            raw.push(0);
            raw.extend_from_slice(line);
        } else {
            raw.push(2);
            let above = &pixels[(y - 1) * row..y * row];
            raw.extend(line.iter().zip(above).map(|(&a, &b)| a.wrapping_sub(b)));
        }
    }
    let mut header = Vec::with_capacity(13);
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &header);
    chunk(&mut out, b"IDAT", &miniz_oxide::deflate::compress_to_vec_zlib(&raw, 9));
    chunk(&mut out, b"IEND", &[]);
    out
}

// ---------------------------------------------------------------- main

fn env_usize(name: &str) -> Option<usize> {
    std::env::var(name).ok()?.parse().ok()
}

fn main() {
    // `cargo test --benches` runs this without `--bench`: quick too, so
    // that it neither takes minutes nor rewrites the committed results.
    let quick = std::env::var("CREDREFRESH_BENCH_QUICK").is_ok_and(|v| v != "0")
        || std::env::args().any(|a| a == "--quick")
        || !std::env::args().any(|a| a == "--bench");
    let hours: u64 = if quick { 6 } else { 24 };
    let roles = env_usize("CREDREFRESH_FLEET_ROLES").unwrap_or(1).clamp(1, 64);
    let cfg = Config {
        processes: env_usize("CREDREFRESH_FLEET_PROCESSES")
            .unwrap_or(if quick { 2_000 } else { 100_000 })
            .clamp(1, MAX_ROLES / roles),
        roles,
        horizon: hours * 3600 * SEC,
        // 40 minutes past the half, so that the outage catches the Rust SDK's
        // and botocore's fleet-wide refresh waves (just before each full hour,
        // every 45 min): a 30-minute outage catches them half of the time, and
        // missing them would flatter those models by luck.
        outage_start: (hours / 2 * 3600 + 40 * 60) * SEC,
        quick,
    };
    let rng = SimRandom::new(SEED);
    let arrivals: Vec<Ms> = (0..cfg.processes)
        .map(|_| (rng.unit() * START_SPREAD as f64) as Ms)
        .collect();
    let fleet = Fleet {
        cfg: &cfg,
        arrivals: &arrivals,
    };
    // The backoff before the retry schedules: 1 s ×2 → 120 s.
    let doubling = doubling_backoff();
    let proposed = BackoffConfig::default();
    let cr = |name: &str, backoff: BackoffConfig, spread_first: bool, per_host: usize| Variant {
        name: name.into(),
        model: Model::Credrefresh {
            policy: RefreshPolicy::default().backoff(backoff),
            backoff,
            spread_first,
            retry_spread: None,
            scheduled: false,
            phase: false,
        },
        per_host,
    };
    // On `RefreshPolicy::retry_at` (its own backoff: the model's is unused),
    // with the refresh either jittered each time or phase-preserving.
    let on_retry_at = |name: &str, policy: RefreshPolicy, per_host: usize, phase: bool| Variant {
        name: name.into(),
        model: Model::Credrefresh {
            backoff: BackoffConfig::default(),
            policy,
            spread_first: true,
            retry_spread: None,
            scheduled: true,
            phase,
        },
        per_host,
    };
    let scheduled = |name: &str, policy: RefreshPolicy, per_host: usize| on_retry_at(name, policy, per_host, false);
    let phased = |name: &str, policy: RefreshPolicy| on_retry_at(name, policy, 1, true);
    let variants = [
        cr("credrefresh (before: first refresh not spread)", doubling, false, 1),
        cr(
            "credrefresh (first refresh spread, backoff 1 s ×2 → 120 s)",
            doubling,
            true,
            1,
        ),
        cr("credrefresh (backoff 1 s ×10 → 600 s alone)", proposed, true, 1),
        scheduled(
            "credrefresh (after: default, retry ahead of expiry)",
            RefreshPolicy::default(),
            1,
        ),
        scheduled(
            "credrefresh (after: fleet preset, paced retries)",
            RefreshPolicy::fleet(),
            1,
        ),
        phased(
            "simulated only: default, phase-preserving refresh",
            RefreshPolicy::default(),
        ),
        phased(
            "simulated only: fleet preset, phase-preserving refresh",
            RefreshPolicy::fleet(),
        ),
        Variant {
            name: "Rust SDK (lazy)".into(),
            model: Model::RustSdk,
            per_host: 1,
        },
        Variant {
            name: "botocore".into(),
            model: Model::Botocore,
            per_host: 1,
        },
        cr("host agent (before)", doubling, false, PROCESSES_PER_HOST),
        cr(
            "host agent (backoff 1 s ×2 → 120 s)",
            doubling,
            true,
            PROCESSES_PER_HOST,
        ),
        scheduled(
            "host agent (after: default)",
            RefreshPolicy::default(),
            PROCESSES_PER_HOST,
        ),
        scheduled(
            "host agent (after: fleet preset)",
            RefreshPolicy::fleet(),
            PROCESSES_PER_HOST,
        ),
    ];
    // The simulator's own running time, reported with the table; simulated
    // time never comes from a clock.
    #[allow(clippy::disallowed_methods)]
    let started = std::time::Instant::now();
    let rows: Vec<Row> = variants
        .iter()
        .map(|v| {
            let steady = fleet.run(v, false);
            let outage = fleet.run(v, true);
            eprintln!("{}: simulated in {:.1?} so far", v.name, started.elapsed());
            Row {
                name: v.name.clone(),
                units: cfg.processes.div_ceil(v.per_host),
                steady,
                outage,
            }
        })
        .collect();
    let mut md = report(&cfg, &rows);
    md.push_str(&sweep(&cfg, &fleet, rows[1].steady_mean(&cfg)));
    md.push_str(FINDINGS);
    let _ = writeln!(
        md,
        "\nSimulated in {:.1} s ({} mode).",
        started.elapsed().as_secs_f64(),
        if cfg.quick { "quick" } else { "full" }
    );
    println!("{md}");
    // The full run's results are committed; a quick run (CI) leaves them
    // alone and writes to the temporary directory.
    let (dir, stem) = if cfg.quick {
        (std::env::temp_dir(), "credrefresh-fleet-quick")
    } else {
        (
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/results"),
            "fleet",
        )
    };
    if let Err(e) = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(dir.join(format!("{stem}.md")), &md)) {
        eprintln!("could not write the table: {e}");
    }
    // The chart: the rows that tell the story (seven colours).
    let shown: Vec<&Row> = rows
        .iter()
        .filter(|r| {
            let side = r.name.starts_with("simulated only") || r.name.contains("backoff 1 s ×10 → 600 s alone");
            let agent = r.name.starts_with("host agent");
            !side && (!agent || r.name.contains("after: default"))
        })
        .collect();
    if let Err(e) = plot(&cfg, &shown, &dir.join(format!("{stem}.png"))) {
        eprintln!("could not draw the plot: {e}");
    }
}

/// How to read the tables (the reasoning behind the retry schedules).
const FINDINGS: &str = "
Reading the tables:

- A floor. At the outage's end about 30 min × 40.4/s ≈ 72,000 roles have come due and not refreshed, and each \
needs one successful call after it. If they all get it within T, the recovery runs at least the steady rate plus \
72,000 / T: at most twice the steady rate needs T ≥ 30 min, so under that goal some roles wait half an hour \
whatever the policy. A policy chooses who waits and how smooth the stream is.
- Why backoffs miss it. Each step of a retry sequence shorter than the outage is taken, at its end, by the roles \
that failed that long before it: every such step adds about the steady rate to the recovery peak (1 s ×2 → \
120 s retries about 25 times in 30 min: 24×; 1 s ×10 → 600 s about 6 times: 6.3×). Meeting 2× takes about one retry per role per outage length, for \
any outage: the paced schedule retries once per pace × the mean refresh interval, so even a fleet that is \
entirely failing retries below its steady rate.
- Why the default is not the paced schedule. A retry before the credentials expire is what lets a blip of minutes \
pass without an expiry, and that retry is one more step: with it, the roles due at the outage's end and those \
retrying ahead of their expiry already make twice the steady rate (a prototype of the paced schedule with that \
retry, tried while choosing, measured 2.3–2.4× in 10 s buckets with paces 0.55–1.0, against 1.8× without it). \
The default keeps that retry and the backoff (4.5×, under the quota; 4,787 failing role-hours, about those of the \
backoff alone at 6.3×; and no blip shorter than 75 % of the remaining validity lets credentials expire; the \
later that retry, the fewer the roles that retry again before the outage ends: at 25–50 % of the remaining \
validity it measured 5.8×, at 50–75 % 5.1×, while choosing); `RefreshPolicy::fleet()` gives up the retry ahead of expiry for 1.8× (after a blip, a \
role whose quick retry also failed waits 29–43 min, and its 1 h credentials expire meanwhile).
- The steady peak/mean (1.19 now) is the Poisson floor of 8,640 ten-second buckets. A phase-preserving refresh \
(the \"simulated only\" rows) lowers it to 1.16, as its pattern repeats every refresh interval, but it raises the \
fleet preset's recovery peak to 2.0× (the recovered roles keep the bunched phases they recovered with); the crate \
keeps the jittered refresh.
";

/// The backoff before the retry schedules: 1 s ×2 → 120 s, jitter 0.5.
fn doubling_backoff() -> BackoffConfig {
    BackoffConfig::default()
        .initial(Duration::from_secs(1))
        .multiplier(2.0)
        .max(Duration::from_secs(120))
        .jitter(0.5)
}

/// The outage run of credrefresh (first refresh spread) under several
/// backoff shapes: the recovery peak against how long recovery takes.
fn sweep(cfg: &Config, fleet: &Fleet<'_>, steady_mean: f64) -> String {
    let shapes = [
        (1, 2.0, 120, None, "1 s ×2 → 120 s (before)"),
        (1, 2.0, 120, Some(1.0), "1 s ×2 → 120 s, lifetime-aware retry k = 1"),
        (1, 2.0, 600, None, "1 s ×2 → 600 s"),
        (1, 10.0, 300, None, "1 s ×10 → 300 s"),
        (1, 10.0, 600, None, "1 s ×10 → 600 s (the default backoff now)"),
        (1, 10.0, 600, Some(0.5), "1 s ×10 → 600 s, lifetime-aware retry k = 0.5"),
        (1, 10.0, 600, Some(1.0), "1 s ×10 → 600 s, lifetime-aware retry k = 1"),
        (1, 10.0, 1800, None, "1 s ×10 → 1800 s"),
        (1, 10.0, 1800, Some(1.0), "1 s ×10 → 1800 s, lifetime-aware retry k = 1"),
        (1, 30.0, 3600, None, "1 s ×30 → 3600 s"),
    ];
    let backoff_only = shapes.iter().map(|&(initial, multiplier, max, retry_spread, name)| {
        let backoff = BackoffConfig::default()
            .initial(Duration::from_secs(initial))
            .multiplier(multiplier)
            .max(Duration::from_secs(max))
            .jitter(0.5);
        let model = Model::Credrefresh {
            policy: RefreshPolicy::default().backoff(backoff),
            backoff,
            spread_first: true,
            retry_spread,
            scheduled: false,
            phase: false,
        };
        (name.to_string(), model)
    });
    // The retry schedules (`RefreshPolicy::retry_at`), as the actor runs them.
    let schedules = [
        (
            "retry ahead of expiry, then 1 s ×2 → 120 s",
            RefreshPolicy::default().backoff(doubling_backoff()),
        ),
        (
            "retry ahead of expiry, then 1 s ×10 → 600 s (the default now)",
            RefreshPolicy::default(),
        ),
        ("paced retries, pace 0.5", RefreshPolicy::fleet().retry_pace(0.5)),
        ("paced retries, pace 0.6", RefreshPolicy::fleet().retry_pace(0.6)),
        ("paced retries, pace 0.7 (the fleet preset)", RefreshPolicy::fleet()),
        ("paced retries, pace 1.0", RefreshPolicy::fleet().retry_pace(1.0)),
    ]
    .into_iter()
    .map(|(name, policy)| {
        let model = Model::Credrefresh {
            policy,
            backoff: BackoffConfig::default(),
            spread_first: true,
            retry_spread: None,
            scheduled: true,
            phase: false,
        };
        (name.to_string(), model)
    });
    let (os, oe) = (cfg.outage_start, cfg.outage_start + OUTAGE_LEN);
    let mut md = String::new();
    let _ = writeln!(
        md,
        "\nBackoff shapes and retry schedules (credrefresh with the spread first refresh, outage run; \
         jitter 0.5: each delay is 50–100 % of the base). The first rows retry on the backoff alone \
         (the actor before the retry schedules), the last ones on `RefreshPolicy::retry_at`: a quick \
         retry after 0.5–1 s, then either one retry at 75–95 % of the remaining validity and the \
         backoff (\"ahead of expiry\", the default), or one retry per pace × the mean refresh interval \
         (2475 s for 1 h sessions) × 1–1.5 (\"paced\", `RefreshPolicy::fleet()`). Rates ×{steady_mean:.1}/s, \
         the steady mean of credrefresh.\n"
    );
    let _ = writeln!(
        md,
        "| retries | outage peak /s | × mean | recovery peak /s | × mean | < quota | throttled in recovery | recovered after | failing role-hours |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|:-:|---:|---:|---:|");
    for (name, model) in backoff_only.chain(schedules) {
        let v = Variant {
            name: name.clone(),
            model,
            per_host: 1,
        };
        let o = fleet.run(&v, true);
        let f = OutageFigures::of(&o, os, oe);
        let _ = writeln!(
            md,
            "| {} | {:.0} | {:.1} | {:.0} | {:.1} | {} | {} | {} | {:.0} |",
            name,
            f.during,
            f.during / steady_mean,
            f.after,
            f.after / steady_mean,
            f.under_quota,
            f.throttled,
            o.recovered_after.map_or("–".into(), fmt_dur),
            o.broken_ms as f64 / 3_600_000.0,
        );
    }
    md
}
