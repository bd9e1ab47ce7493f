//! Real peers accept what the emulator serves: botocore parses its STS XML
//! and errors, and boto3's IMDS and container credential providers load
//! credentials from it. Peer tests, run by `scripts/test-all`.

use std::process::Command;

use credrefresh::testing::{Call, Emulator, Fault};

/// Runs `script` with the peers' Python in a clean environment (no AWS
/// variables, no config files) plus `env`; returns its stdout lines.
fn python(script: &str, env: &[(&str, String)]) -> Vec<String> {
    let mut command = Command::new(crate::common::peers::python());
    command
        .env_clear()
        .env("AWS_CONFIG_FILE", "/nonexistent/credrefresh/config")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credrefresh/credentials")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .arg("-c")
        .arg(script);
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().expect("run the peers' Python");
    assert!(
        output.status.success(),
        "python failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

const STS_SCRIPT: &str = r#"
import os, boto3, botocore.exceptions
url = os.environ["EMULATOR"]
sts = boto3.client("sts", endpoint_url=url, region_name="eu-west-1",
                   aws_access_key_id="AKIDPEERTEST", aws_secret_access_key="peer-test-secret")
try:
    sts.assume_role(RoleArn="arn:aws:iam::123456789012:role/peer", RoleSessionName="denied")
    print("no error")
except botocore.exceptions.ClientError as e:
    print(e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Message"])
r = sts.assume_role(RoleArn="arn:aws:iam::123456789012:role/peer", RoleSessionName="boto3-peer",
                    DurationSeconds=900, SourceIdentity="peer-source")
c = r["Credentials"]
print(c["AccessKeyId"])
print(int(c["Expiration"].timestamp()))
print(r["AssumedRoleUser"]["Arn"])
print(r["SourceIdentity"])
print(len(c["SecretAccessKey"]), len(c["SessionToken"]) > 100)
s = sts.get_session_token()
print(s["Credentials"]["AccessKeyId"])
chained = boto3.client("sts", endpoint_url=url, region_name="eu-west-1",
                       aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                       aws_session_token=c["SessionToken"])
print(chained.get_caller_identity()["Arn"])
"#;

#[test]
#[ignore = "needs the real peers: scripts/test-all"]
fn botocore_parses_the_sts_documents_and_errors() {
    let emulator = Emulator::start().unwrap();
    // botocore retries throttling, not AccessDenied: the first call fails once.
    emulator.script(
        Call::AssumeRole,
        [Fault::AwsError {
            status: 403,
            code: "AccessDenied".into(),
            message: "not authorized to perform sts:AssumeRole".into(),
        }],
    );
    let out = python(STS_SCRIPT, &[("EMULATOR", emulator.sts_endpoint())]);
    assert_eq!(out[0], "AccessDenied 403 not authorized to perform sts:AssumeRole");

    let issued = emulator.issued();
    assert_eq!(issued.len(), 2);
    assert_eq!(
        out[1], issued[0].access_key_id,
        "botocore read the AccessKeyId the emulator issued"
    );
    let expires = issued[0]
        .expiration
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert_eq!(out[2], expires.to_string(), "Expiration parsed to the issued second");
    assert_eq!(out[3], "arn:aws:sts::123456789012:assumed-role/peer/boto3-peer");
    assert_eq!(out[4], "peer-source");
    assert_eq!(out[5], "40 True");
    assert_eq!(issued[1].call, Call::GetSessionToken);
    assert_eq!(out[6], issued[1].access_key_id, "GetSessionToken too");
    assert_eq!(out[7], out[3], "GetCallerIdentity on the assumed credentials");

    // botocore's real SigV4 passes the emulator's shape check.
    let signed = &emulator.requests(Call::AssumeRole)[1];
    let authorization = signed.header("authorization").unwrap();
    assert!(
        authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKIDPEERTEST/"),
        "{authorization}"
    );
    assert!(authorization.contains("/eu-west-1/sts/aws4_request"), "{authorization}");
    assert_eq!(signed.param("DurationSeconds"), Some("900"));
}

/// Prints the provider boto3's default chain used and the key it loaded
/// (never the secret).
const CHAIN_SCRIPT: &str = r#"
import boto3
c = boto3.Session(region_name="us-east-1").get_credentials()
print(c.method)
f = c.get_frozen_credentials()
print(f.access_key)
print(len(f.secret_key), f.token is not None)
"#;

#[test]
#[ignore = "needs the real peers: scripts/test-all"]
fn boto3_loads_instance_credentials_from_the_emulators_imds() {
    let emulator = Emulator::start().unwrap();
    let out = python(
        CHAIN_SCRIPT,
        &[
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", emulator.imds_endpoint()),
            ("AWS_EC2_METADATA_DISABLED", "false".to_string()),
        ],
    );
    assert_eq!(out[0], "iam-role");
    let issued = emulator.issued();
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].call, Call::ImdsCredentials);
    assert_eq!(out[1], issued[0].access_key_id);
    assert_eq!(out[2], "40 True");
    // boto3 went the IMDSv2 way: a token first, then the role, then its credentials.
    assert!(emulator.count(Call::ImdsToken) >= 1);
    let role_request = &emulator.requests(Call::ImdsCredentials)[0];
    assert_eq!(
        role_request.path,
        format!(
            "/latest/meta-data/iam/security-credentials/{}",
            emulator.imds_role_name()
        )
    );
    assert!(role_request.header("x-aws-ec2-metadata-token").is_some());
}

#[test]
#[ignore = "needs the real peers: scripts/test-all"]
fn boto3_loads_container_credentials_in_the_ecs_and_eks_forms() {
    let emulator = Emulator::builder()
        .ecs_auth_token("peer-container-token")
        .start()
        .unwrap();
    for (n, uri) in [emulator.ecs_full_uri(), emulator.eks_full_uri()]
        .into_iter()
        .enumerate()
    {
        let out = python(
            CHAIN_SCRIPT,
            &[
                ("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri.clone()),
                ("AWS_CONTAINER_AUTHORIZATION_TOKEN", emulator.ecs_auth_token()),
                ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
            ],
        );
        assert_eq!(out[0], "container-role", "{uri}");
        let issued = emulator.issued();
        assert_eq!(issued.len(), n + 1);
        assert_eq!(issued[n].call, Call::Ecs);
        assert_eq!(out[1], issued[n].access_key_id, "{uri}");
        assert_eq!(out[2], "40 True");
    }
    let requests = emulator.requests(Call::Ecs);
    assert_eq!(requests.len(), 2, "no retries were needed");
    assert_eq!(requests[1].path, "/v1/credentials");
    assert!(
        requests
            .iter()
            .all(|r| r.header("authorization") == Some("peer-container-token"))
    );
}
