//! Our SigV4 signing (`credrefresh::sources::sts::sign_request`, the signer of
//! the STS sources) gives byte-for-byte the headers botocore's `SigV4Auth`
//! gives for the same request, keys and instant. Peer test.

use std::process::Command;
use std::time::{Duration, SystemTime};

use credrefresh::Credentials;
use credrefresh::sources::sts::sign_request;
use serde_json::{Value, json};

/// botocore, with its clock frozen at the case's instant: botocore 1.44 reads
/// the time through `botocore.auth.get_current_datetime`, which is patched.
const BOTOCORE: &str = r#"
import datetime, json, sys
from unittest import mock
import botocore, botocore.auth
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

assert hasattr(botocore.auth, "get_current_datetime"), botocore.__version__
out = []
for case in json.loads(sys.stdin.read()):
    frozen = datetime.datetime.fromtimestamp(case["unix"], datetime.timezone.utc).replace(tzinfo=None)
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=frozen):
        request = AWSRequest(method=case["method"], url=case["url"], data=case["body"].encode(),
                             headers={"Content-Type": case["content_type"]})
        creds = Credentials(case["access_key"], case["secret"], case.get("token"))
        SigV4Auth(creds, case["service"], case["region"]).add_auth(request)
    out.append({k.lower(): v for k, v in request.headers.items()})
print(json.dumps(out))
"#;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const TOKEN: &str = "IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+token/with+plus==";

fn cases() -> Vec<Value> {
    let form = "application/x-www-form-urlencoded; charset=utf-8";
    vec![
        json!({
            "method": "POST", "url": "https://sts.eu-west-1.amazonaws.com/", "content_type": form,
            "body": "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fdemo&RoleSessionName=credrefresh-1795370400&DurationSeconds=3600",
            "access_key": "AKIDEXAMPLE", "secret": SECRET, "service": "sts", "region": "eu-west-1",
            "unix": 1_795_370_400u64,
        }),
        json!({
            "method": "POST", "url": "http://127.0.0.1:4566/", "content_type": form,
            "body": "Action=GetSessionToken&Version=2011-06-15&DurationSeconds=43200&SerialNumber=arn%3Aaws%3Aiam%3A%3A123456789012%3Amfa%2Falice&TokenCode=123456",
            "access_key": "ASIAEXAMPLE", "secret": SECRET, "token": TOKEN, "service": "sts", "region": "us-east-1",
            "unix": 1_700_000_007u64,
        }),
        json!({
            "method": "GET", "url": "https://sts.cn-north-1.amazonaws.com.cn/?Version=2011-06-15&Action=GetCallerIdentity", "content_type": form,
            "body": "",
            "access_key": "AKIDEXAMPLE", "secret": SECRET, "token": TOKEN, "service": "sts", "region": "cn-north-1",
            "unix": 1_262_304_000u64,
        }),
    ]
}

fn ours(case: &Value) -> http::Request<Vec<u8>> {
    let s = |k: &str| case[k].as_str().unwrap().to_string();
    let mut request = http::Request::builder()
        .method(s("method").as_str())
        .uri(s("url"))
        .header("content-type", s("content_type"))
        .body(s("body").into_bytes())
        .unwrap();
    let mut creds = Credentials::builder(s("access_key"), s("secret"), SystemTime::UNIX_EPOCH);
    if let Some(token) = case["token"].as_str() {
        creds = creds.session_token(token);
    }
    let creds = creds.build().unwrap();
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(case["unix"].as_u64().unwrap());
    sign_request(&mut request, &creds, &s("service"), &s("region"), at).unwrap();
    request
}

#[test]
#[ignore = "needs the real peers: scripts/test-all"]
fn signatures_match_botocore() {
    let cases = cases();
    let mut child = Command::new(crate::common::peers::python())
        .args(["-c", BOTOCORE])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run python");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(serde_json::to_string(&cases).unwrap().as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "botocore failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(theirs.len(), cases.len());
    for (case, theirs) in cases.iter().zip(&theirs) {
        let ours = ours(case);
        let header = |name: &str| ours.headers().get(name).map(|v| v.to_str().unwrap().to_string());
        let auth = header("authorization").expect("we sign");
        assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential="), "{auth}");
        assert_eq!(
            Some(auth.as_str()),
            theirs["authorization"].as_str(),
            "Authorization for {}",
            case["url"]
        );
        assert_eq!(
            header("x-amz-date").as_deref(),
            theirs["x-amz-date"].as_str(),
            "X-Amz-Date"
        );
        assert_eq!(
            header("x-amz-security-token").as_deref(),
            theirs["x-amz-security-token"].as_str(),
            "X-Amz-Security-Token"
        );
        assert_eq!(header("x-amz-security-token").as_deref(), case["token"].as_str());
    }
    // The cases differ, so equal headers are not a coincidence of constants.
    let auths: std::collections::HashSet<_> = theirs.iter().map(|t| t["authorization"].to_string()).collect();
    assert_eq!(auths.len(), cases.len());
}
