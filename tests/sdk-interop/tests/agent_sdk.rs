//! The AWS SDK for Rust's own credential providers (the default chain of
//! `aws-config`: its container provider, then its IMDS provider) pointed at
//! the credrefresh host agent, whose role comes from moto with
//! authentication on. Each SDK client calls `GetCallerIdentity` and is the
//! assumed role; after the agent rotates the role's credentials, each picks
//! up the new key on its own refresh (moto records the signing keys). Peer
//! test, run by `scripts/test-all`.
//!
//! The SDK reads its settings from the process environment only (its
//! in-memory environment is for its own tests), so each SDK client runs in a
//! child process: this test binary again, running [`sdk_child`] with the
//! environment set.

#[path = "../../common/mod.rs"]
pub mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use aws_sdk_sts::config::{BehaviorVersion, Region};
use aws_smithy_async::time::{SharedTimeSource, TimeSource};
use common::moto::{self, Moto};
use credrefresh::agent::{Agent, Config};
use credrefresh::clock::{Clock, SystemClock};

const CHILD: &str = "CREDREFRESH_SDK_CHILD_ENDPOINT";
const ROLE_ARN_PREFIX: &str = "arn:aws:sts::123456789012:assumed-role/app/agent";
const TOKEN: &str = "sdk-client-token-0123456789";
const WAIT: Duration = Duration::from_secs(30);

/// 5 IAM calls: the base user and its key, a role `app` trusting it.
const IAM_CALLS: &str = r#"
iam.create_user(UserName="base-user")
key = iam.create_access_key(UserName="base-user")["AccessKey"]
iam.put_user_policy(UserName="base-user", PolicyName="sts", PolicyDocument=doc(
    {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}))
iam.create_role(RoleName="app", AssumeRolePolicyDocument=doc(
    {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:user/base-user"}, "Action": "sts:AssumeRole"}))
iam.put_role_policy(RoleName="app", PolicyName="who", PolicyDocument=doc(
    {"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}))
"#;

/// The SDK's clock: the system's, moved on by `offset` seconds.
#[derive(Debug)]
struct Shifted(Arc<AtomicU64>);

impl TimeSource for Shifted {
    fn now(&self) -> SystemTime {
        SystemClock.now() + Duration::from_secs(self.0.load(Ordering::Relaxed))
    }
}

/// The child half: does nothing unless the parent started it with
/// `CREDREFRESH_SDK_CHILD_ENDPOINT` (moto's endpoint) set. Then it builds an
/// STS client on the SDK's default chain, calls `GetCallerIdentity`, prints
/// the ARN, waits for a line on stdin, moves its clock 59 minutes 55 seconds
/// on (the role's credentials live an hour; the SDK's cache refreshes
/// credentials 10 seconds before expiry) and calls again.
#[test]
fn sdk_child() {
    let Ok(endpoint) = std::env::var(CHILD) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let offset = Arc::new(AtomicU64::new(0));
        let config = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&endpoint)
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .time_source(SharedTimeSource::new(Shifted(offset.clone())))
            .load()
            .await;
        let client = aws_sdk_sts::Client::new(&config);
        let who = client.get_caller_identity().send().await.expect("GetCallerIdentity");
        println!("{{\"arn\":\"{}\"}}", who.arn().unwrap_or_default());
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).unwrap();
        offset.store(3_595, Ordering::Relaxed);
        let who = client
            .get_caller_identity()
            .send()
            .await
            .expect("GetCallerIdentity again");
        println!("{{\"arn\":\"{}\"}}", who.arn().unwrap_or_default());
    });
}

fn config(moto: &Moto, key: &str, secret: &str) -> String {
    format!(
        r#"
[container]
listen = ["127.0.0.1:0"]
[imds]
listen = ["127.0.0.1:0"]
roles = ["app"]
[[tokens]]
name = "clients"
env = "TOKEN"
roles = ["app"]
[roles.base]
source = "static"
access_key_id = "{key}"
secret_access_key = "{secret}"
[roles.app]
source = "assume_role"
role_arn = "arn:aws:iam::123456789012:role/app"
base_role = "base"
region = "us-east-1"
endpoint = "{endpoint}"
session_name = "agent"
duration_seconds = 3600
"#,
        endpoint = moto.endpoint
    )
}

/// Reads the child's next answer. libtest's own output shares the lines
/// (its `test sdk_child ... ` precedes the first answer on the same line).
fn next_answer(lines: &mut std::io::Lines<BufReader<std::process::ChildStdout>>) -> serde_json::Value {
    loop {
        let line = lines.next().expect("the SDK child answered").unwrap();
        if let Some(at) = line.find("{\"arn\"") {
            return serde_json::from_str(&line[at..]).unwrap();
        }
    }
}

fn signing_keys(moto: &Moto) -> Vec<String> {
    moto.recorded("GetCallerIdentity")
        .into_iter()
        .map(|r| r.key.expect("signed"))
        .collect()
}

#[test]
#[ignore = "needs the real peers: scripts/test-all"]
fn the_rust_sdk_providers_get_the_role_from_the_agent_and_follow_its_rotation() {
    let (moto, user) = moto::with_iam_fixture(5, IAM_CALLS, SystemClock.now());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let config = Config::from_toml_str(&config(&moto, user.access_key_id(), user.secret_access_key())).unwrap();
    let agent = rt
        .block_on(Agent::start_with_env(config, |k| {
            (k == "TOKEN").then(|| TOKEN.to_owned())
        }))
        .unwrap();
    let handle = agent.refresher().handle("app").unwrap();
    let first = rt.block_on(handle.wait_ready(WAIT)).unwrap();
    let first_key = first.credentials().unwrap().access_key_id().to_owned();

    let home = std::env::temp_dir().join(format!("credrefresh-sdk-agent-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let token_file = home.join("token");
    std::fs::write(&token_file, TOKEN).unwrap();
    let container = vec![
        (
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            agent.container_url("app").unwrap(),
        ),
        (
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            token_file.display().to_string(),
        ),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
    ];
    let imds = vec![("AWS_EC2_METADATA_SERVICE_ENDPOINT", agent.imds_url().unwrap())];

    moto.start_recording();
    let me = std::env::current_exe().unwrap();
    let mut children: Vec<_> = [container, imds]
        .into_iter()
        .map(|env| {
            let mut cmd = Command::new(&me);
            cmd.env_clear()
                .env("HOME", &home)
                .env("AWS_CONFIG_FILE", home.join("no-config"))
                .env("AWS_SHARED_CREDENTIALS_FILE", home.join("no-credentials"))
                .env(CHILD, &moto.endpoint)
                .args(["sdk_child", "--exact", "--nocapture", "--test-threads", "1"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit());
            for (k, v) in &env {
                cmd.env(k, v);
            }
            let mut child = cmd.spawn().expect("run the SDK child");
            let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
            let answer = next_answer(&mut lines);
            assert!(answer["arn"].as_str().unwrap().starts_with(ROLE_ARN_PREFIX), "{answer}");
            (child, lines)
        })
        .collect();
    assert_eq!(signing_keys(&moto), vec![first_key.clone(); 2]);

    // The agent rotates the role's credentials (as a refresh would).
    handle.invalidate();
    let rotated = rt.block_on(async {
        tokio::time::timeout(WAIT, async {
            loop {
                let snap = handle.load_full();
                if let Some(c) = snap.usable_credentials().filter(|c| c.access_key_id() != first_key) {
                    return c.access_key_id().to_owned();
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
        .expect("the agent rotated the role's credentials")
    });

    for (child, lines) in &mut children {
        child.stdin.as_mut().unwrap().write_all(b"again\n").unwrap();
        let answer = next_answer(lines);
        assert!(answer["arn"].as_str().unwrap().starts_with(ROLE_ARN_PREFIX), "{answer}");
        assert!(child.wait().unwrap().success());
    }
    assert_eq!(signing_keys(&moto)[2..], vec![rotated; 2]);

    rt.block_on(agent.shutdown());
    let _ = std::fs::remove_dir_all(&home);
}
