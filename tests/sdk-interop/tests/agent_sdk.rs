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

#[path = "../../common/agent_moto.rs"]
pub mod agent_moto;

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use agent_moto::{AgentFixture, ROLE_ARN_PREFIX, signing_keys};
use aws_sdk_sts::config::{BehaviorVersion, Region};
use aws_smithy_async::time::{SharedTimeSource, TimeSource};
use credrefresh::clock::{Clock, SystemClock};

const CHILD: &str = "CREDREFRESH_SDK_CHILD_ENDPOINT";

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

#[test]
#[ignore = "needs the real peers: scripts/test-all"]
fn the_rust_sdk_providers_get_the_role_from_the_agent_and_follow_its_rotation() {
    let f = AgentFixture::start("sdk");
    let moto = &f.moto;

    moto.start_recording();
    let me = std::env::current_exe().unwrap();
    let mut children: Vec<_> = [f.container.clone(), f.imds.clone()]
        .into_iter()
        .map(|env| {
            let mut cmd = f.command(&me, &env);
            cmd.env(CHILD, &moto.endpoint)
                .args(["sdk_child", "--exact", "--nocapture", "--test-threads", "1"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit());
            let mut child = cmd.spawn().expect("run the SDK child");
            let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
            let answer = next_answer(&mut lines);
            assert!(answer["arn"].as_str().unwrap().starts_with(ROLE_ARN_PREFIX), "{answer}");
            (child, lines)
        })
        .collect();
    assert_eq!(signing_keys(moto), vec![f.first_key.clone(); 2]);

    // The agent rotates the role's credentials (as a refresh would).
    let rotated = f.rotate();

    for (child, lines) in &mut children {
        child.stdin.as_mut().unwrap().write_all(b"again\n").unwrap();
        let answer = next_answer(lines);
        assert!(answer["arn"].as_str().unwrap().starts_with(ROLE_ARN_PREFIX), "{answer}");
        assert!(child.wait().unwrap().success());
    }
    assert_eq!(signing_keys(moto)[2..], vec![rotated; 2]);
    f.stop();
}
