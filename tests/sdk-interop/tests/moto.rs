//! The AWS SDK for Rust signing with credrefresh credentials, against moto
//! with authentication and IAM policy checks on: moto verifies every SigV4
//! signature with the key the request names, so an answer proves the SDK
//! signed with exactly the credentials the handle held. Peer tests.
#[path = "../../common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::next_event;
use common::peers;
use credrefresh::sources::StaticSource;
use credrefresh::sources::sts::AssumeRoleSource;
use credrefresh::{Credentials, RefreshEventKind, RefreshPolicy, Refresher};
use sdk_interop::sts_client;
use serde_json::Value;

const USER_ARN: &str = "arn:aws:iam::123456789012:user/sdk-user";
const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/sdk-role";
const SESSION: &str = "sdk-session";
const ASSUMED_ARN: &str = "arn:aws:sts::123456789012:assumed-role/sdk-role/sdk-session";
const WAIT: Duration = Duration::from_secs(30);

/// Sets up IAM in a moto started with `INITIAL_NO_AUTH_ACTION_COUNT=0`.
///
/// In that mode moto accepts only requests signed by the key of an IAM user
/// (or an assumed role) that exists, so nothing could create the first
/// user. moto's `/moto-api/reset-auth` sets how many next requests skip
/// authentication: exactly the 5 IAM calls below. The script then checks
/// that authentication is on again (bogus keys are refused) and prints the
/// user's key. The body of `reset-auth` must not be form-encoded, or moto
/// reads it as empty.
const SETUP: &str = r#"
import json, sys, urllib.request
import boto3, botocore
ep = sys.argv[1]
SETUP_CALLS = 5
req = urllib.request.Request(ep + "/moto-api/reset-auth", data=str(SETUP_CALLS).encode(), method="POST",
                             headers={"Content-Type": "text/plain"})
assert json.loads(urllib.request.urlopen(req).read())["status"] == "ok"
kw = dict(endpoint_url=ep, region_name="us-east-1", aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
iam = boto3.client("iam", **kw)
doc = lambda *statements: json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
iam.create_user(UserName="sdk-user")
key = iam.create_access_key(UserName="sdk-user")["AccessKey"]
iam.put_user_policy(UserName="sdk-user", PolicyName="sts", PolicyDocument=doc(
    {"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:GetCallerIdentity"], "Resource": "*"}))
iam.create_role(RoleName="sdk-role", AssumeRolePolicyDocument=doc(
    {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:user/sdk-user"}, "Action": "sts:AssumeRole"}))
iam.put_role_policy(RoleName="sdk-role", PolicyName="whoami", PolicyDocument=doc(
    {"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}))
try:
    iam.list_users()
    raise SystemExit("moto did not turn authentication back on after the setup calls")
except botocore.exceptions.ClientError as e:
    assert e.response["Error"]["Code"] == "InvalidClientTokenId", e.response
print(json.dumps({"key_id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}))
"#;

/// The STS requests moto recorded: action and the access key ID named in
/// the `Authorization` header's credential scope (null when unsigned).
const RECORDING: &str = r#"
import base64, json, re, sys, urllib.parse, urllib.request
raw = urllib.request.urlopen(sys.argv[1] + "/moto-api/recorder/download-recording").read().decode()
out = []
for line in raw.splitlines():
    if not line.strip():
        continue
    entry = json.loads(line)
    body = entry.get("body") or ""
    if entry.get("body_encoded"):
        body = base64.b64decode(body).decode()
    headers = {k.lower(): v for k, v in entry["headers"].items()}
    m = re.search(r"Credential=([^/]+)/", headers.get("authorization", ""))
    out.append({"action": dict(urllib.parse.parse_qsl(body)).get("Action"), "key": m.group(1) if m else None})
print(json.dumps(out))
"#;

struct Moto {
    _process: peers::Process,
    endpoint: String,
    recording: PathBuf,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.recording);
    }
}

fn python(script: &str, args: &[&str]) -> Value {
    let out = Command::new(peers::python())
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("python printed JSON")
}

/// moto with authentication on, the IAM fixture, and the user's keys.
fn moto_with_fixture() -> (Moto, Credentials) {
    let recording = std::env::temp_dir().join(format!(
        "credrefresh-sdk-moto-{}-{}",
        std::process::id(),
        peers::free_port()
    ));
    let recording_env = recording.to_str().unwrap().to_string();
    let process = peers::start_moto_with(&[
        ("INITIAL_NO_AUTH_ACTION_COUNT", "0"),
        ("MOTO_RECORDER_FILEPATH", recording_env.as_str()),
    ]);
    let endpoint = format!("http://127.0.0.1:{}", process.port);
    let moto = Moto {
        _process: process,
        endpoint,
        recording,
    };
    let keys = python(SETUP, &[&moto.endpoint]);
    let user = Credentials::new(
        keys["key_id"].as_str().unwrap(),
        keys["secret"].as_str().unwrap(),
        std::time::SystemTime::UNIX_EPOCH,
    )
    .unwrap();
    (moto, user)
}

fn start_recording(moto: &Moto) {
    let out = Command::new(peers::python())
        .arg("-c")
        .arg(
            "import sys, urllib.request; urllib.request.urlopen(urllib.request.Request(\
             sys.argv[1] + '/moto-api/recorder/start-recording', data=b'', method='POST'))",
        )
        .arg(&moto.endpoint)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Access key IDs that signed each recorded call of `action`, in order.
fn signing_keys(moto: &Moto, action: &str) -> Vec<Option<String>> {
    python(RECORDING, &[&moto.endpoint])
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str() == Some(action))
        .map(|e| e["key"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_signs_with_the_static_keys_of_the_handle() {
    let Some(()) = peers::gate("sdk_signs_with_the_static_keys_of_the_handle") else {
        return;
    };
    let (moto, user) = moto_with_fixture();
    let refresher = Refresher::builder()
        .role("user", StaticSource::new(user.clone()))
        .start()
        .unwrap();
    let handle = refresher.handle("user").unwrap();
    handle.wait_ready(WAIT).await.unwrap();
    start_recording(&moto);

    let sts = sts_client(&handle, &moto.endpoint);
    let me = sts.get_caller_identity().send().await.expect("GetCallerIdentity");
    assert_eq!(me.arn(), Some(USER_ARN));
    assert_eq!(me.account(), Some("123456789012"));
    assert_eq!(
        signing_keys(&moto, "GetCallerIdentity"),
        [Some(user.access_key_id().to_string())]
    );

    // A key moto does not know is refused: the answer above is no accident.
    let bogus = Refresher::builder()
        .role(
            "bogus",
            StaticSource::new(
                Credentials::new(
                    "AKIABOGUSBOGUSBOGUS0",
                    "bogus-secret-bogus-secret",
                    std::time::SystemTime::UNIX_EPOCH,
                )
                .unwrap(),
            ),
        )
        .start()
        .unwrap();
    let bogus_handle = bogus.handle("bogus").unwrap();
    bogus_handle.wait_ready(WAIT).await.unwrap();
    let err = sts_client(&bogus_handle, &moto.endpoint)
        .get_caller_identity()
        .send()
        .await
        .unwrap_err();
    // moto wraps its error in `<Errors>`, a form the SDK's Query parser does
    // not read (no code), so the raw answer is checked.
    let raw = err.raw_response().expect("an HTTP answer");
    assert_eq!(raw.status().as_u16(), 403);
    let body = String::from_utf8_lossy(raw.body().bytes().unwrap_or_default()).to_string();
    assert!(body.contains("<Code>InvalidClientTokenId</Code>"), "{body}");
    bogus.shutdown();
    refresher.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_calls_as_the_assumed_role_and_signs_with_each_refreshed_key() {
    let Some(()) = peers::gate("sdk_calls_as_the_assumed_role_and_signs_with_each_refreshed_key") else {
        return;
    };
    let (moto, user) = moto_with_fixture();
    let source = AssumeRoleSource::builder(ROLE_ARN, StaticSource::new(user.clone()))
        .endpoint(&moto.endpoint)
        .region(sdk_interop::REGION)
        .session_name(SESSION)
        .build()
        .unwrap();
    // moto's sessions last at least 900 s: a refresh is asked for by
    // invalidation instead, with no cooldown.
    let refresher = Refresher::builder()
        .policy(RefreshPolicy::default().invalidation_cooldown(Duration::ZERO))
        .role("app", source)
        .start()
        .unwrap();
    let handle = refresher.handle("app").unwrap();
    handle.wait_ready(WAIT).await.expect("AssumeRole on moto");
    start_recording(&moto);

    let sts = sts_client(&handle, &moto.endpoint);
    let me = sts.get_caller_identity().send().await.expect("GetCallerIdentity");
    assert_eq!(me.arn(), Some(ASSUMED_ARN));
    assert!(me.user_id().is_some_and(|id| id.ends_with(":sdk-session")), "{me:?}");
    let first_key = handle.load().credentials().unwrap().access_key_id().to_string();
    assert_ne!(first_key, user.access_key_id());

    let mut events = handle.subscribe();
    handle.invalidate();
    next_event(&mut events, WAIT, |k| matches!(k, RefreshEventKind::Refreshed { .. })).await;
    let second_key = handle.load().credentials().unwrap().access_key_id().to_string();
    assert_ne!(second_key, first_key, "moto issues a new key per AssumeRole");

    // The same client, no rebuild: its next request signs with the new key.
    let me = sts
        .get_caller_identity()
        .send()
        .await
        .expect("GetCallerIdentity after the refresh");
    assert_eq!(me.arn(), Some(ASSUMED_ARN));
    assert_eq!(
        signing_keys(&moto, "GetCallerIdentity"),
        [Some(first_key), Some(second_key)]
    );
    // The refresh itself was signed by the user's static key.
    assert_eq!(
        signing_keys(&moto, "AssumeRole"),
        [Some(user.access_key_id().to_string())]
    );
    refresher.shutdown();
}
