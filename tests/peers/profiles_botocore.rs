//! botocore, the AWS CLI and credrefresh read the same shared `config` and
//! `credentials` files the same way, against moto with authentication and
//! IAM policy checks on (every signature verified). Peer tests.
//!
//! One config: a `source_profile` chain of three (`first` → `second` →
//! `third`, with `external_id` and `duration_seconds`), a role whose base
//! is `credential_source = Environment`, a `credential_process` printing
//! the user's keys and a role assumed with them; the user's static keys in
//! the credentials file. moto's recorder shows the same `AssumeRole` calls
//! (role ARNs, external ids, durations, in order) from botocore and from
//! credrefresh, and `GetCallerIdentity` the same final identities.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use credrefresh::clock::{Clock, SystemClock};
use credrefresh::sources::profile::{Platform, ProfileEnv, ProfileRoles, ProfileSet, ProfileSource};
use credrefresh::{Credentials, FetchContext, Refresher, Source};

use crate::common::moto::{self, Moto};
use crate::common::peers;
use crate::sts_moto::caller_arn;

const REGION: &str = "us-east-1";
const WAIT: Duration = Duration::from_secs(30);
/// The profiles whose identities are compared, in the order resolved.
const PROFILES: [&str; 3] = ["third", "from-env", "from-process"];

/// The IAM fixture: 13 calls. The user may call STS; each role trusts the
/// principal that assumes it (moto matches principals exactly, hence the
/// fixed session names in the config) and may assume further roles.
const IAM_CALLS: &str = r#"
iam.create_user(UserName="base-user")
key = iam.create_access_key(UserName="base-user")["AccessKey"]
iam.put_user_policy(UserName="base-user", PolicyName="sts", PolicyDocument=doc(
    {"Effect": "Allow", "Action": "sts:*", "Resource": "*"}))
user = "arn:aws:iam::123456789012:user/base-user"
for role, principal in [("first", user),
                        ("second", "arn:aws:sts::123456789012:assumed-role/first/chain-first"),
                        ("third", "arn:aws:sts::123456789012:assumed-role/second/chain-second"),
                        ("envrole", user), ("procrole", user)]:
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=doc(
        {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}))
    iam.put_role_policy(RoleName=role, PolicyName="chain", PolicyDocument=doc(
        {"Effect": "Allow", "Action": "sts:*", "Resource": "*"}))
"#;

/// Prints a `credential_process` document of the keys in the JSON file
/// `argv[1]`.
const PROCESS: &str = r#"
import json, sys, datetime
keys = json.load(open(sys.argv[1]))
expiry = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
print(json.dumps({"Version": 1, "AccessKeyId": keys["key"], "SecretAccessKey": keys["secret"],
                  "Expiration": expiry.strftime("%Y-%m-%dT%H:%M:%SZ")}))
"#;

/// botocore resolves each profile of `argv[1:]` in turn and asks who it is.
const BOTOCORE: &str = r#"
import json, sys, botocore.session
out = []
for name in sys.argv[1:]:
    session = botocore.session.Session(profile=name)
    frozen = session.get_credentials().get_frozen_credentials()
    arn = session.create_client("sts").get_caller_identity()["Arn"]
    out.append({"profile": name, "key": frozen.access_key, "arn": arn})
print(json.dumps(out))
"#;

/// The files of one test, in a directory of their own.
struct Files {
    dir: PathBuf,
    vars: Vec<(String, String)>,
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Writes the config, the credentials file with `user`'s keys, the
/// process script and its keys file, and the variables both sides run
/// with: the files, moto as the STS endpoint, the region, and `user`'s
/// keys in the environment (for `credential_source = Environment`).
fn files(moto: &Moto, user: &Credentials) -> Files {
    let dir = std::env::temp_dir().join(format!(
        "credrefresh-profiles-peer-{}-{}",
        std::process::id(),
        peers::free_port()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let keys = dir.join("keys.json");
    std::fs::write(
        &keys,
        serde_json::json!({"key": user.access_key_id(), "secret": user.secret_access_key()}).to_string(),
    )
    .unwrap();
    let script = dir.join("process.py");
    std::fs::write(&script, PROCESS).unwrap();
    let config = format!(
        "[profile first]\nrole_arn = arn:aws:iam::123456789012:role/first\nsource_profile = base\n\
         external_id = ext-first\nduration_seconds = 1800\nrole_session_name = chain-first\n\
         [profile second]\nrole_arn = arn:aws:iam::123456789012:role/second\nsource_profile = first\n\
         role_session_name = chain-second\n\
         [profile third]\nrole_arn = arn:aws:iam::123456789012:role/third\nsource_profile = second\n\
         external_id = ext-third\nduration_seconds = 1200\nrole_session_name = chain-third\n\
         [profile from-env]\nrole_arn = arn:aws:iam::123456789012:role/envrole\n\
         credential_source = Environment\nexternal_id = ext-env\nrole_session_name = env-session\n\
         [profile helper]\ncredential_process = \"{}\" \"{}\" \"{}\"\n\
         [profile from-process]\nrole_arn = arn:aws:iam::123456789012:role/procrole\nsource_profile = helper\n\
         role_session_name = process-session\n",
        peers::python().display(),
        script.display(),
        keys.display()
    );
    let credentials = format!(
        "[base]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
        user.access_key_id(),
        user.secret_access_key()
    );
    std::fs::write(dir.join("config"), config).unwrap();
    std::fs::write(dir.join("credentials"), credentials).unwrap();
    let vars = vec![
        ("HOME".to_string(), dir.display().to_string()),
        ("AWS_CONFIG_FILE".into(), dir.join("config").display().to_string()),
        (
            "AWS_SHARED_CREDENTIALS_FILE".into(),
            dir.join("credentials").display().to_string(),
        ),
        ("AWS_ENDPOINT_URL_STS".into(), moto.endpoint.clone()),
        ("AWS_DEFAULT_REGION".into(), REGION.into()),
        ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        ("AWS_ACCESS_KEY_ID".into(), user.access_key_id().into()),
        ("AWS_SECRET_ACCESS_KEY".into(), user.secret_access_key().into()),
    ];
    Files { dir, vars }
}

impl Files {
    fn env(&self) -> ProfileEnv {
        ProfileEnv::from_vars(self.vars.clone(), Platform::Unix)
    }

    /// A command of the peers' virtualenv with only these variables.
    fn command(&self, program: &Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear().envs(self.vars.iter().map(|(k, v)| (k, v)));
        cmd
    }
}

/// The `AssumeRole` calls moto recorded: role ARN, external id, duration
/// (STS's default hour when not sent), and whether signed.
fn assume_role_calls(moto: &Moto) -> Vec<(String, Option<String>, String, bool)> {
    moto.recorded("AssumeRole")
        .into_iter()
        .map(|r| {
            (
                r.params["RoleArn"].clone(),
                r.params.get("ExternalId").cloned(),
                r.params
                    .get("DurationSeconds")
                    .cloned()
                    .unwrap_or_else(|| "3600".into()),
                r.signed,
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real peers: scripts/test-all"]
async fn botocore_and_credrefresh_resolve_the_same_profiles_against_moto() {
    let (moto, user) = moto::with_iam_fixture(13, IAM_CALLS, SystemClock.now());
    let files = files(&moto, &user);

    // botocore, each profile in turn.
    moto.start_recording();
    let out = files
        .command(&peers::python())
        .arg("-c")
        .arg(BOTOCORE)
        .args(PROFILES)
        .output()
        .expect("run botocore");
    assert!(
        out.status.success(),
        "botocore: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let their_calls = assume_role_calls(&moto);

    // credrefresh, the same way: each profile's chain in turn (ProfileSource).
    let env = files.env();
    let set = ProfileSet::load(&env).unwrap();
    let mut ours = Vec::new();
    for name in PROFILES {
        let source = ProfileSource::from_set(&set, name, &env);
        let creds = source
            .fetch(FetchContext::system(name))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        ours.push(caller_arn(&moto.endpoint, &creds).await);
    }
    // One recording holds botocore's calls, then ours: skip botocore's.
    let our_calls = assume_role_calls(&moto)[their_calls.len()..].to_vec();

    let arn = |role: &str| format!("arn:aws:iam::123456789012:role/{role}");
    let expected = vec![
        (arn("first"), Some("ext-first".to_string()), "1800".to_string(), true),
        (arn("second"), None, "3600".into(), true),
        (arn("third"), Some("ext-third".into()), "1200".into(), true),
        (arn("envrole"), Some("ext-env".into()), "3600".into(), true),
        (arn("procrole"), None, "3600".into(), true),
    ];
    assert_eq!(their_calls, expected, "botocore's calls");
    assert_eq!(our_calls, their_calls, "the same calls, in the same order");
    let their_arns: Vec<&str> = theirs
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["arn"].as_str().unwrap())
        .collect();
    assert_eq!(
        their_arns,
        [
            "arn:aws:sts::123456789012:assumed-role/third/chain-third",
            "arn:aws:sts::123456789012:assumed-role/envrole/env-session",
            "arn:aws:sts::123456789012:assumed-role/procrole/process-session",
        ]
    );
    assert_eq!(ours, their_arns, "the same final identities");

    // And as roles of a refresher: one per hop, the same calls (in the
    // order the roles' refreshes ran) and identities.
    let refresher = Refresher::builder()
        .profile_roles(ProfileRoles::new(PROFILES).env(files.env()))
        .unwrap()
        .start()
        .unwrap();
    let mut names = refresher.role_names();
    names.sort();
    assert_eq!(
        names,
        ["first", "from-env", "from-process", "helper", "second", "third"]
    );
    for (name, expected) in PROFILES.iter().zip(&their_arns) {
        let snapshot = refresher.handle(name).unwrap().wait_ready(WAIT).await.unwrap();
        assert_eq!(
            &caller_arn(&moto.endpoint, snapshot.credentials().unwrap()).await,
            expected
        );
    }
    let mut role_calls = assume_role_calls(&moto)[their_calls.len() * 2..].to_vec();
    role_calls.sort();
    let mut sorted = expected;
    sorted.sort();
    assert_eq!(role_calls, sorted, "each role assumed once");
    refresher.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real peers: scripts/test-all"]
async fn the_aws_cli_runs_the_same_credential_process_and_agrees_on_the_keys() {
    let (moto, user) = moto::with_iam_fixture(13, IAM_CALLS, SystemClock.now());
    let files = files(&moto, &user);
    let aws = peers::venv_bin("aws");

    let list = files
        .command(&aws)
        .args(["configure", "list", "--profile", "helper"])
        .output()
        .expect("run aws");
    let list_text = String::from_utf8_lossy(&list.stdout);
    assert!(list.status.success(), "aws: {}", String::from_utf8_lossy(&list.stderr));
    assert!(list_text.contains("custom-process"), "{list_text}");

    moto.start_recording();
    let out = files
        .command(&aws)
        .args(["sts", "get-caller-identity", "--profile", "helper", "--output", "json"])
        .output()
        .expect("run aws");
    assert!(out.status.success(), "aws: {}", String::from_utf8_lossy(&out.stderr));
    let theirs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let their_calls = moto.recorded("GetCallerIdentity");
    assert_eq!(their_calls.len(), 1);

    let env = files.env();
    let ours = ProfileSource::from_set(&ProfileSet::load(&env).unwrap(), "helper", &env)
        .fetch(FetchContext::system("helper"))
        .await
        .unwrap();
    // The same keys: the id the CLI signed with (moto verified its
    // signature, so its secret too), and ours.
    assert_eq!(their_calls[0].key.as_deref(), Some(ours.access_key_id()));
    assert_eq!(ours.access_key_id(), user.access_key_id());
    assert_eq!(ours.secret_access_key(), user.secret_access_key());
    assert!(ours.expiry().is_some(), "the process's Expiration is read");
    let our_arn = caller_arn(&moto.endpoint, &ours).await;
    assert_eq!(theirs["Arn"].as_str(), Some(our_arn.as_str()));
    assert_eq!(our_arn, "arn:aws:iam::123456789012:user/base-user");
}
