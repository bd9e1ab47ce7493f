//! Real, independent peers (moto, botocore/boto3, the AWS CLI, Prometheus).
//!
//! Every test that needs one is `#[ignore = "needs the real peers:
//! scripts/test-all"]`: plain `cargo test` lists it as ignored, and
//! `scripts/test-all`, which installs the peers, runs it. A peer test that
//! runs and does not find its peer fails: the helpers below panic, saying
//! which peer is missing.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where `scripts/test-all` installs the peers' Python, under the
/// workspace's `target/`.
const VENV_PYTHON: &str = "target/peers-venv/bin/python";

/// The Python of the peers' virtualenv (`CREDREFRESH_PYTHON`, else
/// `target/peers-venv/bin/python` of the workspace, from this package or
/// `tests/sdk-interop`). Panics if it is missing.
pub fn python() -> PathBuf {
    let path = std::env::var_os("CREDREFRESH_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
            manifest
                .ancestors()
                .map(|dir| dir.join(VENV_PYTHON))
                .find(|python| python.exists())
                .unwrap_or_else(|| manifest.join(VENV_PYTHON))
        });
    assert!(
        path.exists(),
        "peer Python not found at {} (run scripts/test-all)",
        path.display()
    );
    path
}

/// A binary in the peers' virtualenv (`aws`, `moto_server`).
pub fn venv_bin(name: &str) -> PathBuf {
    let bin = python().parent().expect("venv bin dir").join(name);
    assert!(bin.exists(), "peer {name} not found at {}", bin.display());
    bin
}

/// A system binary (`prometheus`, `promtool`); panics when missing.
pub fn system_bin(name: &str) -> PathBuf {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .expect("sh");
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(!path.is_empty(), "peer {name} is not installed (run scripts/test-all)");
    PathBuf::from(path)
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Waits until 127.0.0.1:`port` accepts connections (real time), up to `limit`.
#[allow(clippy::disallowed_methods)] // an external process starts in real time
pub fn wait_for_port(port: u16, limit: Duration) {
    let start = Instant::now();
    while start.elapsed() < limit {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::park_timeout(Duration::from_millis(50));
    }
    panic!("nothing listening on 127.0.0.1:{port} after {limit:?}");
}

/// A child process killed when dropped.
pub struct Process {
    pub child: Child,
    pub port: u16,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts moto's server on a free loopback port, with authentication and
/// IAM policy checks on from the first request (`INITIAL_NO_AUTH_ACTION_COUNT=0`).
pub fn start_moto() -> Process {
    start_moto_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", "0")])
}

/// Starts moto's server with extra environment.
pub fn start_moto_with(env: &[(&str, &str)]) -> Process {
    let port = free_port();
    let mut cmd = Command::new(venv_bin("moto_server"));
    cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .env("AWS_ACCESS_KEY_ID", "testing-moto-process")
        .env("AWS_SECRET_ACCESS_KEY", "testing-moto-process")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("start moto_server");
    let process = Process { child, port };
    wait_for_port(port, Duration::from_secs(60));
    process
}
