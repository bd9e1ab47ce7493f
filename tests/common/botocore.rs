//! botocore (boto3's credential chain) as a peer: what its default session
//! resolves from the environment alone.

use std::process::Command;

use super::peers;

/// Prints how botocore's default chain found credentials and what it got.
const SCRIPT: &str = r#"
import json, botocore.session
session = botocore.session.get_session()
creds = session.get_credentials()
frozen = creds.get_frozen_credentials()
print(json.dumps({"method": creds.method, "key": frozen.access_key,
                  "secret": frozen.secret_key, "token": frozen.token}))
"#;

/// Runs botocore's default credential chain with only `settings` and `env`
/// in its environment (no credentials files, no other variables), and
/// returns `{"method", "key", "secret", "token"}`.
pub fn credentials(settings: &[(&str, &str)], env: &[(&str, String)]) -> serde_json::Value {
    let home = std::env::temp_dir().join(format!("credrefresh-boto-home-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let mut cmd = Command::new(peers::python());
    cmd.env_clear()
        .env("HOME", &home)
        .env("AWS_CONFIG_FILE", home.join("no-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("no-credentials"))
        .args(["-c", SCRIPT]);
    for (k, v) in settings {
        cmd.env(k, v);
    }
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

/// Asserts that botocore (`theirs`, from [`credentials`]) and then our
/// source (`ours`) each got exactly one of the two sets of credentials
/// `emulator` issued, in that order, secret and session token included.
/// Returns what the emulator issued.
pub fn assert_each_got_what_was_issued(
    emulator: &credrefresh::testing::Emulator,
    theirs: &serde_json::Value,
    ours: &credrefresh::Credentials,
) -> Vec<credrefresh::testing::Issued> {
    let issued = emulator.issued();
    assert_eq!(issued.len(), 2);
    assert_eq!(theirs["key"], issued[0].access_key_id.as_str());
    assert_eq!(ours.access_key_id(), issued[1].access_key_id);
    let secrets = assert_secrets_issued(emulator, theirs);
    assert!(secrets.iter().any(|s| s == ours.secret_access_key()));
    assert!(secrets.iter().any(|s| Some(s.as_str()) == ours.session_token()));
    issued
}

/// Asserts that the secret and session token botocore got (`theirs`, from
/// [`credentials`]) are ones `emulator` issued; returns the issued secrets.
pub fn assert_secrets_issued(emulator: &credrefresh::testing::Emulator, theirs: &serde_json::Value) -> Vec<String> {
    let secrets = emulator.issued_secrets();
    for value in [&theirs["secret"], &theirs["token"]] {
        assert!(
            secrets.iter().any(|s| value == s.as_str()),
            "botocore got a secret the emulator did not issue"
        );
    }
    secrets
}
