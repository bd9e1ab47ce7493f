//! botocore (boto3's credential chain) and our `ImdsSource` read the
//! emulator's IMDS the same way: botocore, pointed at it with
//! `AWS_EC2_METADATA_SERVICE_ENDPOINT`, gets exactly the credentials the
//! emulator issued to its request, and our source exactly those issued to
//! ours, both over IMDSv2 (the emulator refuses v1). The emulator issues
//! new credentials for every request, so "the same" is checked against its
//! record of what it issued, field by field.
mod common;

use std::process::Command;
use std::time::{Duration, SystemTime};

use credrefresh::sources::ImdsSource;
use credrefresh::testing::{Call, Emulator};
use credrefresh::{FetchContext, Source};

const SCRIPT: &str = r#"
import json, botocore.session
session = botocore.session.get_session()
creds = session.get_credentials()
frozen = creds.get_frozen_credentials()
print(json.dumps({"method": creds.method, "key": frozen.access_key,
                  "secret": frozen.secret_key, "token": frozen.token}))
"#;

/// Runs `SCRIPT` with only `env` (no credentials files, no other variables).
fn botocore(env: &[(&str, String)]) -> serde_json::Value {
    let home = std::env::temp_dir().join(format!("credrefresh-boto-home-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let mut cmd = Command::new(common::peers::python());
    cmd.env_clear()
        .env("HOME", &home)
        .env("AWS_CONFIG_FILE", home.join("no-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("no-credentials"))
        .env("AWS_METADATA_SERVICE_TIMEOUT", "2")
        .env("AWS_METADATA_SERVICE_NUM_ATTEMPTS", "1")
        .args(["-c", SCRIPT]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run the peer Python");
    assert!(
        out.status.success(),
        "botocore failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("botocore printed JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn botocore_and_our_imds_source_get_what_the_emulator_issued() {
    let Some(()) = common::peers::gate("botocore_and_our_imds_source_get_what_the_emulator_issued") else {
        return;
    };
    let emulator = Emulator::builder()
        .imds_v1_allowed(false)
        // An hour: botocore refreshes (a second request) within 15 min of expiry.
        .credential_lifetime(Duration::from_secs(3600))
        .start()
        .unwrap();
    let env = [("AWS_EC2_METADATA_SERVICE_ENDPOINT", emulator.imds_endpoint())];
    let theirs = botocore(&env);
    let ours = ImdsSource::builder()
        .env_lookup(move |k| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone()))
        .build()
        .unwrap()
        .fetch(FetchContext::system("peer"))
        .await
        .unwrap();

    assert_eq!(theirs["method"], "iam-role");
    let issued = emulator.issued();
    assert_eq!(issued.len(), 2);
    assert!(issued.iter().all(|i| i.call == Call::ImdsCredentials));
    assert_eq!(theirs["key"], issued[0].access_key_id.as_str());
    assert_eq!(ours.access_key_id(), issued[1].access_key_id);
    let secrets = emulator.issued_secrets();
    for value in [&theirs["secret"], &theirs["token"]] {
        assert!(
            secrets.iter().any(|s| value == s.as_str()),
            "botocore got a secret the emulator did not issue"
        );
    }
    assert!(secrets.iter().any(|s| s == ours.secret_access_key()));
    assert!(secrets.iter().any(|s| Some(s.as_str()) == ours.session_token()));
    let secs = |t: SystemTime| t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    assert_eq!(ours.expiry().map(secs), Some(secs(issued[1].expiration)));
    // Both asked the same paths, both with a session token.
    let requests = emulator.requests(Call::ImdsCredentials);
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].path, requests[1].path);
    assert!(requests.iter().all(|r| r.header("x-aws-ec2-metadata-token").is_some()));
    assert_eq!(emulator.count(Call::ImdsToken), 2);
}
