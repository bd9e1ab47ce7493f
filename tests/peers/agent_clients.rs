//! Real clients against the host agent, the agent's role coming from moto
//! with authentication on (every signature verified, IAM policies checked):
//! the AWS CLI (container endpoint, IMDS endpoint, and `credential_process`
//! running `credrefresh credential-process`) and boto3 (container and IMDS).
//! Each calls `GetCallerIdentity` and is the assumed role; after the agent
//! rotates the role's credentials, each picks up the new key on its own
//! refresh, as moto's record of the signing keys shows.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::agent_moto::{AgentFixture, ROLE_ARN_PREFIX, TOKEN, signing_keys};
use crate::common::peers;

/// boto3 in one long-lived process: a call, then (after a line on stdin)
/// another; prints the caller's ARN and the key it signed with, each time.
/// botocore refreshes credentials when they have under 15 minutes left:
/// before the second call its credentials' clock is moved 48 minutes on
/// (the role's credentials live an hour), so that its own refresh logic
/// decides to refresh now (an advisory refresh, not a forced one).
const BOTO3: &str = r#"
import datetime, json, sys, boto3
from botocore.credentials import _local_now
session = boto3.session.Session()
sts = session.client("sts", endpoint_url=sys.argv[1], region_name="us-east-1")
def call():
    who = sts.get_caller_identity()
    creds = session.get_credentials()
    print(json.dumps({"arn": who["Arn"], "key": creds.get_frozen_credentials().access_key,
                      "method": creds.method}), flush=True)
call()
sys.stdin.readline()
session.get_credentials()._time_fetcher = lambda: _local_now() + datetime.timedelta(minutes=48)
call()
"#;

/// A client of the agent: the fixture's environment (nothing but `env`, no
/// config or credentials files), with `PATH` and the botocore metadata
/// settings (one attempt, 2 s).
fn client(f: &AgentFixture, program: &Path, env: &[(&str, String)]) -> Command {
    let mut cmd = f.command(program, env);
    cmd.env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_METADATA_SERVICE_TIMEOUT", "2")
        .env("AWS_METADATA_SERVICE_NUM_ATTEMPTS", "1");
    cmd
}

/// A config file whose default profile gets the role through
/// `credrefresh credential-process` from the agent's container endpoint.
fn process_config(f: &AgentFixture) -> PathBuf {
    let agent_url = format!("http://{}", f.agent.container_addrs()[0]);
    let path = f.home.join("process-config");
    std::fs::write(
        &path,
        format!(
            "[default]\ncredential_process = {} credential-process --role app --agent-url {agent_url} --token-file {}\n",
            env!("CARGO_BIN_EXE_credrefresh"),
            f.token_file.display()
        ),
    )
    .unwrap();
    path
}

/// The AWS CLI's `sts get-caller-identity` in each mode: the ARNs.
fn cli_calls(f: &AgentFixture, process_config: &Path) -> Vec<String> {
    let aws = peers::venv_bin("aws");
    let modes = [
        f.container.clone(),
        f.imds.clone(),
        vec![("AWS_EC2_METADATA_DISABLED", "true".to_owned())],
    ];
    modes
        .into_iter()
        .enumerate()
        .map(|(i, env)| {
            let mut cmd = client(f, &aws, &env);
            if i == 2 {
                cmd.env("AWS_CONFIG_FILE", process_config);
            }
            let out = cmd
                .args([
                    "sts",
                    "get-caller-identity",
                    "--output",
                    "json",
                    "--region",
                    "us-east-1",
                    "--endpoint-url",
                ])
                .arg(&f.moto.endpoint)
                .output()
                .expect("run the AWS CLI");
            assert!(
                out.status.success(),
                "aws (mode {i}) failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let who: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            who["Arn"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// A long-lived client process: its first answer read, stdin kept to
/// tell it to call again.
fn spawn_client(
    mut cmd: Command,
) -> (
    std::process::Child,
    std::io::Lines<BufReader<std::process::ChildStdout>>,
    serde_json::Value,
) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run the client");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines.next().expect("the client answered").unwrap();
    let answer: serde_json::Value = serde_json::from_str(&line).unwrap();
    (child, lines, answer)
}

/// Tells each client to call again; each must be the role, signed with `key`.
fn call_again(
    clients: &mut [(
        std::process::Child,
        std::io::Lines<BufReader<std::process::ChildStdout>>,
        serde_json::Value,
    )],
    key: &str,
) {
    for (child, lines, _) in clients.iter_mut() {
        child.stdin.as_mut().unwrap().write_all(b"again\n").unwrap();
        let line = lines.next().expect("the client answered again").unwrap();
        let answer: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert!(answer["arn"].as_str().unwrap().starts_with(ROLE_ARN_PREFIX), "{answer}");
        assert_eq!(answer["key"], key, "{answer}");
        assert!(child.wait().unwrap().success());
    }
}

#[test]
#[ignore = "needs the real peers: scripts/test-all"]
fn the_aws_cli_and_boto3_get_the_role_from_the_agent_and_follow_its_rotation() {
    let f = AgentFixture::start("cli-boto3");
    let moto = &f.moto;
    let process_config = process_config(&f);

    // boto3, container and IMDS, each in a process that lives across the rotation.
    let python = peers::python();
    let mut boto3: Vec<_> = [f.container.clone(), f.imds.clone()]
        .into_iter()
        .map(|env| {
            let mut cmd = client(&f, &python, &env);
            cmd.args(["-c", BOTO3, &moto.endpoint]);
            spawn_client(cmd)
        })
        .collect();
    let methods: Vec<_> = boto3.iter().map(|(_, _, a)| a["method"].clone()).collect();
    assert_eq!(methods, ["container-role", "iam-role"]);
    for (_, _, answer) in &boto3 {
        assert!(answer["arn"].as_str().unwrap().starts_with(ROLE_ARN_PREFIX), "{answer}");
        assert_eq!(answer["key"], f.first_key.as_str());
    }

    // The AWS CLI, each mode: the role, signed with the agent's key.
    moto.start_recording();
    for arn in cli_calls(&f, &process_config) {
        assert!(arn.starts_with(ROLE_ARN_PREFIX), "{arn}");
    }
    assert_eq!(signing_keys(moto), vec![f.first_key.clone(); 3]);

    let rotated = f.rotate();

    // Each client picks the new key up on its own refresh.
    let before = signing_keys(moto).len();
    call_again(&mut boto3, &rotated);
    for arn in cli_calls(&f, &process_config) {
        assert!(arn.starts_with(ROLE_ARN_PREFIX), "{arn}");
    }
    assert_eq!(signing_keys(moto)[before..], vec![rotated.clone(); 5]);
    f.stop();
}

/// The AWS SDK for JavaScript v3 in one long-lived Node process, with the
/// provider named by its third argument: a call, then (after a line on stdin) another.
/// The SDK refreshes credentials with under 5 minutes left: before the
/// second call its clock is moved 57 minutes on (the role's credentials
/// live an hour), so that its own refresh logic decides to refresh now.
const NODE: &str = r#"
const path = require("path");
const [nm, endpoint, mode] = process.argv.slice(1); // node -e: no script path
const { STSClient, GetCallerIdentityCommand } = require(path.join(nm, "@aws-sdk/client-sts"));
const { fromContainerMetadata, fromInstanceMetadata } = require(path.join(nm, "@aws-sdk/credential-providers"));
const provider = (mode === "container" ? fromContainerMetadata : fromInstanceMetadata)({ timeout: 2000, maxRetries: 0 });
const client = new STSClient({ region: "us-east-1", endpoint, credentials: provider });
async function call() {
  const who = await client.send(new GetCallerIdentityCommand({}));
  const creds = await client.config.credentials();
  console.log(JSON.stringify({ arn: who.Arn, key: creds.accessKeyId }));
}
(async () => {
  await call();
  await new Promise((resolve) => process.stdin.once("data", resolve));
  process.stdin.pause();
  const now = Date.now;
  Date.now = () => now() + 57 * 60 * 1000;
  await call();
})().catch((e) => { console.error(e); process.exit(1); });
"#;

/// The JavaScript SDK's packages, installed by scripts/test-all.
fn node_modules() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/peers-node/node_modules");
    assert!(
        dir.join("@aws-sdk/credential-providers").exists() && dir.join("@aws-sdk/client-sts").exists(),
        "the AWS SDK for JavaScript v3 is not installed at {} (run scripts/test-all)",
        dir.display()
    );
    dir
}

#[test]
#[ignore = "needs the real peers: scripts/test-all"]
fn the_javascript_sdk_gets_the_role_from_the_agent_and_follows_its_rotation() {
    let node = peers::system_bin("node");
    let modules = node_modules();
    let f = AgentFixture::start("node");
    f.moto.start_recording();
    // fromContainerMetadata reads the token from AWS_CONTAINER_AUTHORIZATION_TOKEN.
    let container = vec![
        (
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            f.agent.container_url("app").unwrap(),
        ),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", TOKEN.to_owned()),
    ];
    let mut clients: Vec<_> = [(container, "container"), (f.imds.clone(), "imds")]
        .into_iter()
        .map(|(env, mode)| {
            let mut cmd = client(&f, &node, &env);
            cmd.arg("-e").arg(NODE).arg(&modules).arg(&f.moto.endpoint).arg(mode);
            spawn_client(cmd)
        })
        .collect();
    for (_, _, answer) in &clients {
        assert!(answer["arn"].as_str().unwrap().starts_with(ROLE_ARN_PREFIX), "{answer}");
        assert_eq!(answer["key"], f.first_key.as_str());
    }
    let rotated = f.rotate();
    let before = signing_keys(&f.moto).len();
    call_again(&mut clients, &rotated);
    assert_eq!(signing_keys(&f.moto)[before..], vec![rotated.clone(); 2]);
    f.stop();
}
