//! Load on the host agent: many concurrent clients reading a role over the
//! container endpoint, each on its own keep-alive connection.
//!
//! `cargo bench --features agent --bench agent_load` starts the emulator
//! (STS), runs `credrefresh serve` (the release binary) as a separate
//! process with two roles assumed from the emulator, then drives it with
//! 10 clients for 3 s and with 1,000 clients for 10 s (`AGENT_LOAD_CLIENTS`
//! and `AGENT_LOAD_SECONDS` change the second run). It prints, per run:
//! requests per second, p50/p99/max latency, errors (any answer but 200, or
//! a failed connection: must be 0), the agent's CPU time and resident
//! memory, and the STS calls the agent made, which depend on the roles and
//! their refreshes, not on the clients.

// A benchmark measures wall time: the clock rule is for library decisions.
#![allow(clippy::disallowed_methods)]

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use credrefresh::testing::{Call, Emulator};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TOKEN: &str = "load-token-0123456789abcdef";

fn config(port: u16, sts: &str) -> String {
    format!(
        r#"
[container]
listen = ["127.0.0.1:{port}"]
[[tokens]]
name = "load"
env = "CREDREFRESH_LOAD_TOKEN"
roles = ["app", "reports"]
[limits]
rate_per_second = 1000000.0
burst = 1000000
[roles.base]
source = "static"
access_key_id = "AKIDLOADBASE00000001"
secret_access_key = "loadBaseSecret0123456789"
[roles.app]
source = "assume_role"
role_arn = "arn:aws:iam::123456789012:role/app"
base_role = "base"
region = "us-east-1"
endpoint = "{sts}"
[roles.reports]
source = "assume_role"
role_arn = "arn:aws:iam::123456789012:role/reports"
base_role = "base"
region = "us-east-1"
endpoint = "{sts}"
"#
    )
}

/// The agent process's CPU time (user + system) and resident set (now, peak).
fn usage(pid: u32) -> (Duration, u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|i| fields.get(*i)?.parse::<u64>().ok())
        .sum();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    // CLK_TCK is 100 on Linux.
    (Duration::from_millis(ticks * 10), kib("VmRSS:"), kib("VmHWM:"))
}

/// One client: a keep-alive connection, requests until `stop`.
async fn client(addr: SocketAddr, stop: Arc<AtomicBool>, errors: Arc<AtomicU64>) -> Vec<u32> {
    let mut latencies = Vec::new();
    let request = format!("GET /v1/credentials/app HTTP/1.1\r\nhost: agent\r\nauthorization: {TOKEN}\r\n\r\n");
    let mut stream = match TcpStream::connect(addr).await {
        Ok(s) => s,
        Err(_) => {
            errors.fetch_add(1, Ordering::Relaxed);
            return latencies;
        }
    };
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0u8; 8192];
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        if stream.write_all(request.as_bytes()).await.is_err() {
            errors.fetch_add(1, Ordering::Relaxed);
            return latencies;
        }
        // Read one answer: the head, then Content-Length bytes of body.
        let mut filled = 0;
        let ok = loop {
            match stream.read(&mut buf[filled..]).await {
                Ok(0) | Err(_) => break false,
                Ok(n) => filled += n,
            }
            let text = &buf[..filled];
            if let Some(end) = text.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&text[..end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                if filled >= end + 4 + length {
                    break head.starts_with("http/1.1 200");
                }
            }
            if filled == buf.len() {
                break false;
            }
        };
        if !ok {
            errors.fetch_add(1, Ordering::Relaxed);
            return latencies;
        }
        latencies.push(started.elapsed().as_micros() as u32);
    }
    latencies
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

fn run(
    rt: &tokio::runtime::Runtime,
    agent: &Child,
    emulator: &Emulator,
    addr: SocketAddr,
    clients: usize,
    seconds: u64,
) {
    let sts_before = emulator.count(Call::AssumeRole);
    let (cpu_before, _, _) = usage(agent.id());
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let latencies = rt.block_on(async {
        let tasks: Vec<_> = (0..clients)
            .map(|_| tokio::spawn(client(addr, stop.clone(), errors.clone())))
            .collect();
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        stop.store(true, Ordering::Relaxed);
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap_or_default());
        }
        all
    });
    let elapsed = started.elapsed();
    let (cpu_after, rss, peak) = usage(agent.id());
    let mut sorted = latencies;
    sorted.sort_unstable();
    let cpu = cpu_after.saturating_sub(cpu_before);
    println!(
        "{clients:>5} clients {:>4.1} s: {:>8.0} requests/s, latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, \
         errors {}, agent CPU {:.1} s ({:.0}% of one core), RSS {} KiB (peak {} KiB), STS calls during the run {}",
        elapsed.as_secs_f64(),
        sorted.len() as f64 / elapsed.as_secs_f64(),
        percentile(&sorted, 0.5),
        percentile(&sorted, 0.99),
        percentile(&sorted, 1.0),
        errors.load(Ordering::Relaxed),
        cpu.as_secs_f64(),
        100.0 * cpu.as_secs_f64() / elapsed.as_secs_f64(),
        rss,
        peak,
        emulator.count(Call::AssumeRole) - sts_before,
    );
}

fn main() {
    // `cargo bench` passes --bench; this harness takes no arguments.
    let clients: usize = std::env::var("AGENT_LOAD_CLIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let seconds: u64 = std::env::var("AGENT_LOAD_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let emulator = Emulator::builder()
        .credential_lifetime(Duration::from_secs(3600))
        .start()
        .expect("the emulator starts");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = std::env::temp_dir().join(format!("credrefresh-agent-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("agent.toml");
    std::fs::write(&config, config_text(port, &emulator)).unwrap();
    let mut agent = Command::new(env!("CARGO_BIN_EXE_credrefresh"))
        .args(["serve", "--log-level", "warn", "--config"])
        .arg(&config)
        .env("CREDREFRESH_LOAD_TOKEN", TOKEN)
        .stdout(Stdio::null())
        .spawn()
        .expect("start the agent");
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();

    // Ready: both roles served.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ready = rt.block_on(async {
            let errors = Arc::new(AtomicU64::new(0));
            let stop = Arc::new(AtomicBool::new(true));
            // A client with `stop` set makes no request: probe /status instead.
            drop(client(addr, stop, errors.clone()).await);
            let Ok(mut s) = TcpStream::connect(addr).await else {
                return false;
            };
            let _ = s
                .write_all(b"GET /status HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n")
                .await;
            let mut body = String::new();
            let _ = s.read_to_string(&mut body).await;
            body.matches("\"usable\":true").count() == 3
        });
        if ready {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the agent did not serve its roles within 20 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    println!(
        "agent_load: credrefresh serve (release) with 2 assumed roles; STS calls before the runs: {}",
        emulator.count(Call::AssumeRole)
    );
    run(&rt, &agent, &emulator, addr, 10, 3);
    run(&rt, &agent, &emulator, addr, clients, seconds);
    let _ = agent.kill();
    let _ = agent.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

fn config_text(port: u16, emulator: &Emulator) -> String {
    config(port, &emulator.sts_endpoint())
}
