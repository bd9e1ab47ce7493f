//! moto as a peer: started with or without authentication, its IAM
//! bootstrapped so a first user exists, and its request recorder read back.
//! Used by the STS peer tests of this package and of `tests/sdk-interop`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::SystemTime;

use credrefresh::Credentials;
use serde_json::Value;

use super::peers;

/// Runs before a fixture's IAM calls: lets the next `SETUP_CALLS` requests
/// skip authentication and builds `iam` and `doc`.
///
/// In a moto started with `INITIAL_NO_AUTH_ACTION_COUNT=0`, a request is
/// accepted only when signed by the key of an IAM user (or an assumed role)
/// that already exists, and there are no root keys, so nothing could create
/// the first user. moto's `/moto-api/reset-auth` sets the number of initial
/// actions that skip authentication (and resets the count). Its body must
/// not be form-encoded, or moto reads it as empty.
const SETUP_PRELUDE: &str = r#"
import json, sys, urllib.request
import boto3, botocore
ep = sys.argv[1]
SETUP_CALLS = int(sys.argv[2])
req = urllib.request.Request(ep + "/moto-api/reset-auth", data=str(SETUP_CALLS).encode(), method="POST",
                             headers={"Content-Type": "text/plain"})
assert json.loads(urllib.request.urlopen(req).read())["status"] == "ok"
kw = dict(endpoint_url=ep, region_name="us-east-1", aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
iam = boto3.client("iam", **kw)
doc = lambda *statements: json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
"#;

/// Runs after a fixture's IAM calls: checks that authentication is on again
/// (bogus keys are refused) and prints the user's `key`.
const SETUP_EPILOGUE: &str = r#"
try:
    iam.list_users()
    raise SystemExit("moto did not turn authentication back on after the setup calls")
except botocore.exceptions.ClientError as e:
    assert e.response["Error"]["Code"] == "InvalidClientTokenId", e.response
print(json.dumps({"key_id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}))
"#;

/// The requests moto recorded: form parameters, whether the request was
/// signed, and the access key ID named in the `Authorization` header's
/// credential scope (null when unsigned).
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
    out.append({"params": dict(urllib.parse.parse_qsl(body)), "signed": "authorization" in headers,
                "key": m.group(1) if m else None})
print(json.dumps(out))
"#;

/// A running moto whose requests are recorded to a temporary file (removed
/// on drop).
pub struct Moto {
    _process: peers::Process,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    recording: PathBuf,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.recording);
    }
}

/// One request moto recorded.
pub struct Recorded {
    /// Its form parameters (`Action`, `RoleArn`...).
    pub params: HashMap<String, String>,
    /// Whether it carried an `Authorization` header.
    pub signed: bool,
    /// The access key ID of its credential scope, if signed.
    pub key: Option<String>,
}

/// Runs `script` with the peers' Python and parses what it prints as JSON.
pub fn python_json(script: &str, args: &[&str]) -> Value {
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

/// Starts moto recording its requests; with `auth`, every request's SigV4
/// signature is checked against moto's IAM (`INITIAL_NO_AUTH_ACTION_COUNT=0`).
pub fn start(auth: bool) -> Moto {
    let recording = std::env::temp_dir().join(format!(
        "credrefresh-moto-{}-{}",
        std::process::id(),
        peers::free_port()
    ));
    let recording_env = recording.to_str().unwrap().to_string();
    let mut env = vec![("MOTO_RECORDER_FILEPATH", recording_env.as_str())];
    if auth {
        env.push(("INITIAL_NO_AUTH_ACTION_COUNT", "0"));
    }
    let process = peers::start_moto_with(&env);
    let endpoint = format!("http://127.0.0.1:{}", process.port);
    Moto {
        _process: process,
        endpoint,
        recording,
    }
}

/// moto with authentication on, set up by `iam_calls` (Python using `iam`
/// and `doc`, leaving the first user's new access key in `key`), which make
/// exactly `setup_calls` IAM requests. Returns moto and that user's keys,
/// expiring at `expiry`.
pub fn with_iam_fixture(setup_calls: usize, iam_calls: &str, expiry: SystemTime) -> (Moto, Credentials) {
    let moto = start(true);
    let script = format!("{SETUP_PRELUDE}{iam_calls}{SETUP_EPILOGUE}");
    let keys = python_json(&script, &[&moto.endpoint, &setup_calls.to_string()]);
    let user = Credentials::new(
        keys["key_id"].as_str().unwrap(),
        keys["secret"].as_str().unwrap(),
        expiry,
    )
    .unwrap();
    (moto, user)
}

impl Moto {
    /// Clears the recording and records from now on.
    pub fn start_recording(&self) {
        let out = Command::new(peers::python())
            .arg("-c")
            .arg(
                "import sys, urllib.request\n\
                 for step in ('reset-recording', 'start-recording'):\n    \
                 urllib.request.urlopen(urllib.request.Request(\
                 sys.argv[1] + '/moto-api/recorder/' + step, data=b'', method='POST'))",
            )
            .arg(&self.endpoint)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }

    /// The recorded requests whose `Action` is `action`, in order.
    pub fn recorded(&self, action: &str) -> Vec<Recorded> {
        python_json(RECORDING, &[&self.endpoint])
            .as_array()
            .unwrap()
            .iter()
            .map(|e| Recorded {
                params: serde_json::from_value(e["params"].clone()).unwrap(),
                signed: e["signed"].as_bool().unwrap(),
                key: e["key"].as_str().map(str::to_string),
            })
            .filter(|r| r.params.get("Action").map(String::as_str) == Some(action))
            .collect()
    }
}
