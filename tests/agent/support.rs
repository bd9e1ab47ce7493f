//! Starting agents on loopback, a raw HTTP client, and a log sink that
//! every test checks for secrets.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use credrefresh::agent::{Agent, Config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::logs::Logs;

/// The static role's secret and session token: never in a refusal or a log.
pub const SECRET: &str = "agentTestSecretKey0123456789abcdefABCDEF";
pub const SESSION_TOKEN: &str = "agentTestSessionToken0123456789";
pub const KEY_ID: &str = "ASIAAGENTTESTKEY0001";
/// The token granting `app` only.
pub const APP_TOKEN: &str = "app-token-0123456789abcdef";
/// The token granting `other` only.
pub const OTHER_TOKEN: &str = "other-token-0123456789abcdef";

/// The global log sink (installed once, at TRACE): every log line of this
/// test binary, from every thread.
pub fn logs() -> Logs {
    static LOGS: OnceLock<Logs> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Logs::default();
        let _ = tracing::subscriber::set_global_default(logs.subscriber().finish());
        logs
    })
    .clone()
}

/// Asserts that no secret of the static role shows in `text`.
pub fn assert_clean(what: &str, text: &str) {
    for secret in [SECRET, SESSION_TOKEN, APP_TOKEN, OTHER_TOKEN] {
        assert!(!text.contains(secret), "{what} shows a secret: {text}");
    }
}

/// A static role `app` (and `other`), a container endpoint with two
/// tokens, an IMDS endpoint serving `app`, all on loopback port 0. `extra`
/// is appended to the config.
pub fn config_text(extra: &str) -> String {
    format!(
        r#"
[container]
listen = ["127.0.0.1:0"]

[imds]
listen = ["127.0.0.1:0"]
roles = ["app"]

[[tokens]]
name = "app"
env = "APP_TOKEN"
roles = ["app"]

[[tokens]]
name = "other"
env = "OTHER_TOKEN"
roles = ["other"]

[roles.app]
source = "static"
access_key_id = "{KEY_ID}"
secret_access_key = "{SECRET}"
session_token = "{SESSION_TOKEN}"
expiration = "2999-01-01T00:00:00Z"
account_id = "123456789012"

[roles.other]
source = "static"
access_key_id = "AKIAOTHERKEY00000001"
secret_access_key = "otherSecretKey0123456789"
{extra}
"#
    )
}

pub fn env(key: &str) -> Option<String> {
    match key {
        "APP_TOKEN" => Some(APP_TOKEN.into()),
        "OTHER_TOKEN" => Some(OTHER_TOKEN.into()),
        _ => None,
    }
}

/// Limits high enough that no test but the flood one meets them.
pub const GENEROUS: &str = "[limits]\nrate_per_second = 10000.0\nburst = 10000\n";

/// Starts an agent on `config_text(extra)` and waits for every role.
pub async fn agent(extra: &str) -> Agent {
    logs();
    let config = Config::from_toml_str(&config_text(extra)).expect("valid config");
    start(config).await
}

pub async fn start(config: Config) -> Agent {
    let agent = Agent::start_with_env(config, env).await.expect("agent starts");
    for handle in agent.refresher().handles() {
        handle.wait_ready(Duration::from_secs(10)).await.expect("role ready");
    }
    agent
}

/// An answer: status, headers (lower-case names) and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// Sends `raw` (a whole request) and reads the answer until the server
/// closes. Fails the test after 10 s.
pub async fn raw(addr: SocketAddr, raw: &[u8]) -> Answer {
    raw_from(None, addr, raw).await
}

/// As [`raw`], from a chosen loopback source address.
pub async fn raw_from(source: Option<&str>, addr: SocketAddr, raw: &[u8]) -> Answer {
    let mut stream = connect(source, addr).await;
    stream.write_all(raw).await.unwrap();
    read_answer(&mut stream).await
}

pub async fn connect(source: Option<&str>, addr: SocketAddr) -> TcpStream {
    match source {
        None => TcpStream::connect(addr).await.unwrap(),
        Some(ip) => {
            let socket = TcpSocket::new_v4().unwrap();
            socket.bind(format!("{ip}:0").parse().unwrap()).unwrap();
            socket.connect(addr).await.unwrap()
        }
    }
}

pub async fn read_answer(stream: &mut TcpStream) -> Answer {
    let mut bytes = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut bytes))
        .await
        .expect("the agent answers within 10 s")
        .ok();
    parse(&bytes)
}

pub fn parse(bytes: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(bytes).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    Answer {
        status,
        head: head.to_ascii_lowercase(),
        body: body.to_owned(),
    }
}

/// A request with `Connection: close` and the given extra header lines.
pub fn request(method: &str, path: &str, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut r = format!("{method} {path} HTTP/1.1\r\nhost: agent\r\nconnection: close\r\n");
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    if method == "PUT" || method == "POST" {
        r.push_str("content-length: 0\r\n");
    }
    r.push_str("\r\n");
    r.into_bytes()
}

pub async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Answer {
    raw(addr, &request("GET", path, headers)).await
}

/// A file holding `content` with `mode`, removed on drop.
pub struct TempFile(pub PathBuf);

impl TempFile {
    pub fn new(name: &str, content: &str, mode: u32) -> Self {
        use std::os::unix::fs::PermissionsExt;
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("credrefresh-agent-{}-{n}-{name}", std::process::id()));
        std::fs::write(&path, content).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        Self(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Polls `condition` every 20 ms until it holds; fails after `timeout`.
pub async fn wait_until(what: &str, timeout: Duration, mut condition: impl FnMut() -> bool) {
    let waited = tokio::time::timeout(timeout, async {
        while !condition() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "timed out waiting for {what}");
}
