//! The host agent serving a role `app` assumed from moto with
//! authentication on (every signature verified, IAM policies checked), for
//! the tests that point real clients at it: `tests/peers/agent_clients.rs`
//! (the AWS CLI, boto3, the JavaScript SDK) and
//! `tests/sdk-interop/tests/agent_sdk.rs` (the Rust SDK's providers).
//!
//! Not part of the `common` tree: it needs the `agent` feature, which not
//! every binary including `common` has, so those two include it by path as
//! a public root module, next to `common` (whose `moto` it uses):
//!
//! ```ignore
//! #[path = "../common/agent_moto.rs"]
//! pub mod agent_moto;
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use credrefresh::agent::{Agent, Config};
use credrefresh::clock::{Clock, SystemClock};

use crate::common::moto::{self, Moto};

/// The start of the ARN every client must be: the role `app`, session `agent`.
pub const ROLE_ARN_PREFIX: &str = "arn:aws:sts::123456789012:assumed-role/app/agent";
/// The clients' token (environment variable `TOKEN` of the agent).
pub const TOKEN: &str = "client-token-0123456789abcdef";
/// How long the agent may take to fetch or rotate the role's credentials.
pub const WAIT: Duration = Duration::from_secs(30);

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

/// The agent's configuration: container and IMDS endpoints on loopback,
/// serving `app` (to holders of [`TOKEN`] on the container endpoint),
/// assumed from the base user's static key.
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

/// The access keys of the `GetCallerIdentity` calls moto recorded, in order.
pub fn signing_keys(moto: &Moto) -> Vec<String> {
    moto.recorded("GetCallerIdentity")
        .into_iter()
        .map(|r| r.key.expect("signed"))
        .collect()
}

/// moto with the IAM fixture, an agent serving role `app` assumed from
/// it, and the clients' settings.
pub struct AgentFixture {
    pub moto: Moto,
    pub rt: tokio::runtime::Runtime,
    pub agent: Agent,
    /// The role's first access key, fetched before `start` returns.
    pub first_key: String,
    /// A scratch home directory for the clients, removed by `stop`.
    pub home: PathBuf,
    /// A file in `home` holding [`TOKEN`].
    pub token_file: PathBuf,
    /// The environment of a client of the container endpoint (token read
    /// from `token_file`, IMDS off).
    pub container: Vec<(&'static str, String)>,
    /// The environment of a client of the IMDS endpoint.
    pub imds: Vec<(&'static str, String)>,
}

impl AgentFixture {
    /// Starts moto and the agent and waits for the role's first
    /// credentials; `name` tells this test's home directory apart.
    pub fn start(name: &str) -> Self {
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

        let home = std::env::temp_dir().join(format!("credrefresh-agent-{name}-{}", std::process::id()));
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
        Self {
            moto,
            rt,
            agent,
            first_key,
            home,
            token_file,
            container,
            imds,
        }
    }

    /// A client process with nothing in its environment but `HOME` (the
    /// fixture's), no config or credentials files, and `env`.
    pub fn command(&self, program: &Path, env: &[(&str, String)]) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env("HOME", &self.home)
            .env("AWS_CONFIG_FILE", self.home.join("no-config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", self.home.join("no-credentials"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Makes the agent rotate the role's credentials (as a refresh would);
    /// returns the new key.
    pub fn rotate(&self) -> String {
        let handle = self.agent.refresher().handle("app").unwrap();
        handle.invalidate();
        let first_key = self.first_key.clone();
        self.rt.block_on(async {
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
        })
    }

    /// Shuts the agent down and removes the home directory.
    pub fn stop(self) {
        let AgentFixture { rt, agent, home, .. } = self;
        rt.block_on(agent.shutdown());
        let _ = std::fs::remove_dir_all(&home);
    }
}
