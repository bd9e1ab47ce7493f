//! The demo server (`examples/server.rs`) as a child process on a free
//! loopback port, on its local emulator; killed and cleaned up on drop.
//!
//! `cargo test` builds the examples before it runs the tests, into
//! `<target>/<profile>/examples/`; a test binary runs from
//! `<target>/<profile>/deps/`, so the demo is found next to it.

// The demo is a real process, waited for with real deadlines (Instant).
#![allow(clippy::disallowed_methods)]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::peers;
use super::prometheus::{DEADLINE, http, poll};

/// The demo exits by itself after this long (`--exit-after`), should the
/// test process die without dropping it.
const MAX_RUN: Duration = Duration::from_secs(300);

/// The built demo binary. Panics, saying how to build it, when missing.
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test binary runs from <target>/<profile>/deps");
    let demo = profile_dir
        .join("examples")
        .join(format!("server{}", std::env::consts::EXE_SUFFIX));
    assert!(
        demo.is_file(),
        "the demo binary is not built at {}: run `cargo test` (which builds the examples first), \
         or `cargo build --all-features --examples` before `cargo test --test NAME`",
        demo.display()
    );
    demo
}

/// A running demo.
pub struct Demo {
    process: peers::Process,
    /// Its temporary directory (`TMPDIR` of the demo, which writes its web
    /// identity token file there) and its log.
    dir: PathBuf,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.process.child.kill();
        let _ = self.process.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Demo {
    /// Starts the demo on the emulator with `env` added to its environment,
    /// and waits until `/status` answers.
    pub fn start(env: &[(&str, &str)]) -> Self {
        let binary = binary();
        let port = peers::free_port();
        let dir = std::env::temp_dir().join(format!("credrefresh-demo-test-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let log = std::fs::File::create(dir.join("demo.log")).unwrap();
        let mut cmd = Command::new(&binary);
        cmd.args(["--port", &port.to_string()])
            .args(["--exit-after", &MAX_RUN.as_secs().to_string()])
            .env_remove("CREDREFRESH_DEMO")
            .env_remove("CREDREFRESH_DEMO_LIFETIME")
            .env("TMPDIR", &dir)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("start the demo {}: {e}", binary.display()));
        let mut demo = Self {
            process: peers::Process { child, port },
            dir,
        };
        poll("the demo's /status", DEADLINE, || {
            if let Some(exit) = demo.process.child.try_wait().unwrap() {
                panic!("the demo exited ({exit}) before answering:\n{}", demo.log());
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                return None;
            }
            let (status, body) = http(port, "GET", "/status");
            (status == 200 && serde_json::from_str::<Value>(&body).is_ok_and(|v| v.is_object())).then_some(())
        });
        demo
    }

    /// Its loopback port.
    pub fn port(&self) -> u16 {
        self.process.port
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("demo.log")).unwrap_or_default()
    }

    /// `method path`, which must answer 200 with JSON.
    fn json(&self, method: &str, path: &str) -> Value {
        let (status, body) = http(self.port(), method, path);
        assert_eq!(status, 200, "{method} {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{method} {path}: {e}: {body}"))
    }

    /// `/status`: role → its state.
    pub fn status(&self) -> Value {
        self.json("GET", "/status")
    }

    /// `/metrics`: the Prometheus text exposition.
    pub fn metrics(&self) -> String {
        let (status, body) = http(self.port(), "GET", "/metrics");
        assert_eq!(status, 200, "/metrics: {body}");
        body
    }

    /// Starts (`Some(fault)`) or ends (`None`) an emulator outage of `call`.
    pub fn outage(&self, call: &str, fault: Option<&str>) {
        let path = match fault {
            Some(fault) => format!("/emulator/outage?call={call}&fault={fault}"),
            None => format!("/emulator/outage?call={call}"),
        };
        let answer = self.json("POST", &path);
        assert_eq!(answer["call"], call, "{answer}");
        assert_eq!(answer["fault"].as_str(), fault, "{answer}");
    }
}
