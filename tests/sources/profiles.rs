//! Profiles of the shared `config` and `credentials` files as roles of a
//! refresher (`profile`, `profiles`, `profile_roles`) and as the profile
//! step of the default chain, over the emulator: one role per hop, a base
//! or hop shared by several profiles fetched once, one MFA session for
//! stslib's list, an IAM Identity Center base, the profiles' settings on
//! every STS call, and typed errors naming the profile. Real time, no
//! sleeps.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use credrefresh::sources::DefaultChain;
use credrefresh::sources::profile::{Platform, ProfileEnv, ProfileError, ProfileRoles, ProfileSet, ProfileSource};
use credrefresh::testing::{Call, Emulator, RecordedRequest};
use credrefresh::{BuildError, CredentialsHandle, ErrorClass, FetchContext, Refresher, Source, SourceError};

use crate::common::refreshing::quick_policy;

const WAIT: Duration = Duration::from_secs(20);
const BASE_SECRET: &str = "wJalrXUtnFEMIK7MDENGbPxRfiCYPROFILEKEY";

/// The environment of a test: the emulator as the STS endpoint, and `vars`.
fn env(emulator: &Emulator, vars: &[(&str, &str)]) -> ProfileEnv {
    let mut all: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    all.insert("AWS_ENDPOINT_URL_STS".into(), emulator.sts_endpoint());
    ProfileEnv::from_vars(all, Platform::Unix)
}

fn set(config: &str, credentials: &str, env: &ProfileEnv) -> ProfileSet {
    ProfileSet::parse(config, credentials).unwrap().with_env(env)
}

fn key_of(handle: &CredentialsHandle) -> String {
    handle.load().credentials().unwrap().access_key_id().to_string()
}

/// The access key id a recorded request was signed with.
fn signer(request: &RecordedRequest) -> String {
    let auth = request.header("authorization").expect("signed");
    let start = auth.find("Credential=").unwrap() + "Credential=".len();
    auth[start..].split('/').next().unwrap().to_string()
}

/// The recorded `AssumeRole` of `role_arn`.
fn assume_role_of(emulator: &Emulator, role_arn: &str) -> Vec<RecordedRequest> {
    emulator
        .requests(Call::AssumeRole)
        .into_iter()
        .filter(|r| r.param("RoleArn") == Some(role_arn))
        .collect()
}

const STSLIB_CONFIG: &str = "\
[profile DynamoDBRole-dev]
role_arn = arn:aws:iam::111111111111:role/DynamoDBRole
source_profile = base
region = eu-west-1
[profile CodeDeployRole-qa]
role_arn = arn:aws:iam::222222222222:role/CodeDeployRole
source_profile = base
external_id = qa-partner
duration_seconds = 1800
[profile S3ReadOnlyRole-prod]
role_arn = arn:aws:iam::333333333333:role/S3ReadOnlyRole
source_profile = base
role_session_name = stslib-prod
";

fn stslib_credentials() -> String {
    format!(
        "[base]\naws_access_key_id = AKIDPROFILEBASE\naws_secret_access_key = {BASE_SECRET}\n\
         mfa_serial = arn:aws:iam::123456789012:mfa/ana\n"
    )
}

const STSLIB: [&str; 3] = ["DynamoDBRole-dev", "CodeDeployRole-qa", "S3ReadOnlyRole-prod"];

#[tokio::test]
async fn stslib_list_one_mfa_session_and_one_handle_per_profile() {
    let emulator = Emulator::start().unwrap();
    let env = env(&emulator, &[]);
    let codes = Arc::new(AtomicU32::new(0));
    let counter = codes.clone();
    let roles = ProfileRoles::new(STSLIB)
        .env(env.clone())
        .profile_set(set(STSLIB_CONFIG, &stslib_credentials(), &env))
        .mfa_code_provider(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move { Ok::<_, SourceError>(format!("{}", 123_456 + n)) }
        });
    let refresher = Refresher::builder()
        .policy(quick_policy())
        .profile_roles(roles)
        .unwrap()
        .start()
        .unwrap();
    let mut names = STSLIB.map(String::from).to_vec();
    names.push("base/mfa-session".into());
    names.sort();
    assert_eq!(refresher.role_names(), names);
    for name in STSLIB {
        refresher.handle(name).unwrap().wait_ready(WAIT).await.unwrap();
    }
    let session = refresher.handle("base/mfa-session").unwrap();
    let session_key = key_of(&session);
    // One MFA session, one code, signed with the base keys.
    assert_eq!(emulator.count(Call::GetSessionToken), 1);
    assert_eq!(codes.load(Ordering::SeqCst), 1);
    let gst = &emulator.requests(Call::GetSessionToken)[0];
    assert_eq!(gst.param("SerialNumber"), Some("arn:aws:iam::123456789012:mfa/ana"));
    assert_eq!(gst.param("TokenCode"), Some("123456"));
    assert_eq!(signer(gst), "AKIDPROFILEBASE");
    // Each role assumed once, with the session, with its profile's settings.
    assert_eq!(emulator.count(Call::AssumeRole), 3);
    let dev = &assume_role_of(&emulator, "arn:aws:iam::111111111111:role/DynamoDBRole")[0];
    let qa = &assume_role_of(&emulator, "arn:aws:iam::222222222222:role/CodeDeployRole")[0];
    let prod = &assume_role_of(&emulator, "arn:aws:iam::333333333333:role/S3ReadOnlyRole")[0];
    for request in [dev, qa, prod] {
        assert_eq!(signer(request), session_key);
    }
    assert!(
        dev.header("authorization").unwrap().contains("/eu-west-1/sts/"),
        "the profile's region signs"
    );
    assert!(qa.header("authorization").unwrap().contains("/us-east-1/sts/"));
    assert_eq!(qa.param("ExternalId"), Some("qa-partner"));
    assert_eq!(qa.param("DurationSeconds"), Some("1800"));
    assert_eq!(dev.param("ExternalId"), None);
    assert_eq!(dev.param("DurationSeconds"), Some("3600"));
    assert_eq!(prod.param("RoleSessionName"), Some("stslib-prod"));
    // Each profile's handle holds its own role's credentials.
    let issued: HashMap<String, String> = emulator
        .issued()
        .into_iter()
        .map(|i| (i.access_key_id, i.arn))
        .collect();
    let arn_of = |name: &str| issued[&key_of(&refresher.handle(name).unwrap())].clone();
    assert!(arn_of("DynamoDBRole-dev").contains(":assumed-role/DynamoDBRole/"));
    assert!(arn_of("S3ReadOnlyRole-prod").ends_with(":assumed-role/S3ReadOnlyRole/stslib-prod"));
    refresher.shutdown();
}

#[tokio::test]
async fn a_chain_of_three_shares_its_middle_hop_and_keeps_the_account() {
    let emulator = Emulator::start().unwrap();
    let env = env(&emulator, &[]);
    let config = "[profile top]\nrole_arn = arn:aws:iam::123456789012:role/top\nsource_profile = mid\n\
                  external_id = ext-top\n\
                  [profile mid]\nrole_arn = arn:aws:iam::123456789012:role/mid\nsource_profile = base\n\
                  [profile other]\nrole_arn = arn:aws:iam::123456789012:role/other\nsource_profile = mid\n";
    let credentials = format!(
        "[base]\naws_access_key_id = AKIDPROFILEBASE\naws_secret_access_key = {BASE_SECRET}\n\
         aws_account_id = 123456789012\n"
    );
    let refresher = Refresher::builder()
        .policy(quick_policy())
        .profile_roles(ProfileRoles::new(["top", "other", "mid"]).profile_set(set(config, &credentials, &env)))
        .unwrap()
        .start()
        .unwrap();
    assert_eq!(refresher.role_names(), ["mid", "other", "top"]);
    for name in ["top", "other", "mid"] {
        refresher.handle(name).unwrap().wait_ready(WAIT).await.unwrap();
    }
    let mid = refresher.handle("mid").unwrap();
    // mid is assumed once, with the base keys; top and other with mid's.
    let mids = assume_role_of(&emulator, "arn:aws:iam::123456789012:role/mid");
    assert_eq!(mids.len(), 1);
    assert_eq!(signer(&mids[0]), "AKIDPROFILEBASE");
    for arn in [
        "arn:aws:iam::123456789012:role/top",
        "arn:aws:iam::123456789012:role/other",
    ] {
        let calls = assume_role_of(&emulator, arn);
        assert_eq!(calls.len(), 1, "{arn}");
        assert_eq!(signer(&calls[0]), key_of(&mid));
    }
    assert_eq!(
        assume_role_of(&emulator, "arn:aws:iam::123456789012:role/top")[0].param("ExternalId"),
        Some("ext-top")
    );
    let top = refresher.handle("top").unwrap();
    assert_eq!(
        top.load().credentials().unwrap().account_id(),
        Some(emulator.account_id().as_str())
    );
    refresher.shutdown();
}

/// A script printing a `credential_process` document for `key` and
/// counting its runs in `dir/runs`.
fn counting_process(dir: &Path, key: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("creds.sh");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\necho run >> \"{}\"\n\
             echo '{{\"Version\": 1, \"AccessKeyId\": \"{key}\", \"SecretAccessKey\": \"s\", \
             \"AccountId\": \"444455556666\"}}'\n",
            dir.join("runs").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[tokio::test]
async fn a_credential_process_base_is_one_role_run_once_for_every_profile() {
    let emulator = Emulator::start().unwrap();
    let dir = std::env::temp_dir().join(format!("credrefresh-profile-process-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let script = counting_process(&dir, "AKIDFROMPROCESS");
    let config = format!(
        "[profile helper]\ncredential_process = \"{}\" --verbose\n\
         [profile a]\nrole_arn = arn:aws:iam::123456789012:role/a\nsource_profile = helper\n\
         [profile b]\nrole_arn = arn:aws:iam::123456789012:role/b\nsource_profile = helper\n",
        script.display()
    );
    let env = env(&emulator, &[]);
    let refresher = Refresher::builder()
        .policy(quick_policy())
        .profile_roles(ProfileRoles::new(["a", "b", "helper"]).profile_set(set(&config, "", &env)))
        .unwrap()
        .start()
        .unwrap();
    assert_eq!(refresher.role_names(), ["a", "b", "helper"]);
    for name in ["a", "b"] {
        refresher.handle(name).unwrap().wait_ready(WAIT).await.unwrap();
    }
    let helper = refresher.handle("helper").unwrap().load_full();
    assert_eq!(helper.source(), "process");
    let creds = helper.credentials().unwrap();
    assert_eq!(creds.access_key_id(), "AKIDFROMPROCESS");
    assert_eq!(creds.account_id(), Some("444455556666"));
    let runs = std::fs::read_to_string(dir.join("runs")).unwrap();
    assert_eq!(runs.lines().count(), 1, "the process ran once for both profiles");
    for request in emulator.requests(Call::AssumeRole) {
        assert_eq!(signer(&request), "AKIDFROMPROCESS");
    }
    refresher.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn credential_source_environment_reads_the_injected_variables() {
    let emulator = Emulator::start().unwrap();
    let env = env(
        &emulator,
        &[
            ("AWS_ACCESS_KEY_ID", "AKIDFROMENVIRONMENT"),
            ("AWS_SECRET_ACCESS_KEY", "env-secret"),
        ],
    );
    let config = "[profile r]\nrole_arn = arn:aws:iam::123456789012:role/r\ncredential_source = Environment\n";
    let refresher = Refresher::builder()
        .profile_roles(
            ProfileRoles::new(["r"])
                .env(env.clone())
                .profile_set(set(config, "", &env)),
        )
        .unwrap()
        .start()
        .unwrap();
    refresher.handle("r").unwrap().wait_ready(WAIT).await.unwrap();
    assert_eq!(refresher.role_names(), ["r"]);
    assert_eq!(signer(&emulator.requests(Call::AssumeRole)[0]), "AKIDFROMENVIRONMENT");
    refresher.shutdown();
}

fn profile_error(result: Result<credrefresh::RefresherBuilder, BuildError>) -> (String, ProfileError, String) {
    match result {
        Err(e @ BuildError::Profile { .. }) => {
            let text = e.to_string();
            let BuildError::Profile { profile, error } = e else {
                unreachable!()
            };
            (profile, error, text)
        }
        Err(other) => panic!("expected a profile error, got {other:?}"),
        Ok(_) => panic!("expected a profile error"),
    }
}

#[test]
fn errors_are_typed_and_name_the_profile() {
    let env = ProfileEnv::from_vars([("HOME", "/nonexistent")], Platform::Unix);
    let with = |config: &str, credentials: &str, names: &[&str]| {
        Refresher::builder().profile_roles(
            ProfileRoles::new(names.iter().copied())
                .env(env.clone())
                .profile_set(set(config, credentials, &env)),
        )
    };
    // MFA without a code provider.
    let (profile, error, text) = profile_error(with(STSLIB_CONFIG, &stslib_credentials(), &STSLIB));
    assert_eq!(profile, "DynamoDBRole-dev");
    assert_eq!(
        error,
        ProfileError::MfaCodeProviderMissing {
            profile: "DynamoDBRole-dev".into(),
            mfa_serial_from: "base".into()
        }
    );
    assert!(
        text.starts_with("profile `DynamoDBRole-dev` cannot be used: "),
        "{text}"
    );
    assert!(!text.contains(BASE_SECRET));
    // Unknown profile.
    let (profile, error, _) = profile_error(with("", "", &["nowhere"]));
    assert_eq!(profile, "nowhere");
    assert_eq!(error.class(), ErrorClass::NotLoaded);
    assert!(matches!(error, ProfileError::UnknownProfile { .. }));
    // IAM Identity Center settings the source refuses (an account id that is not 12 digits).
    let sso = "[profile sso]\nsso_start_url = https://x.awsapps.com/start\nsso_region = eu-west-1\n\
               sso_account_id = 1234\nsso_role_name = Admin\n";
    let (_, error, _) = profile_error(with(sso, "", &["sso"]));
    assert!(
        matches!(error, ProfileError::InvalidSettings { ref profile, .. } if profile == "sso"),
        "{error}"
    );
    // MFA on a role assumed with another role's credentials.
    let chained = "[profile top]\nrole_arn = arn:aws:iam::123456789012:role/top\nsource_profile = mid\n\
                   mfa_serial = arn:aws:iam::123456789012:mfa/ana\n\
                   [profile mid]\nrole_arn = arn:aws:iam::123456789012:role/mid\nsource_profile = base\n";
    let keys = "[base]\naws_access_key_id = AKID\naws_secret_access_key = S\n";
    let (_, error, _) = profile_error(with(chained, keys, &["top"]));
    assert!(matches!(error, ProfileError::Unsupported { .. }), "{error}");
    // A role ARN STS would refuse (not 12 digits): the source's check, named.
    let bad = "[profile bad]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = base\n";
    let (_, error, text) = profile_error(with(bad, keys, &["bad"]));
    assert!(
        matches!(&error, ProfileError::InvalidSettings { profile, what: "role ARN", .. } if profile == "bad"),
        "{error:?}"
    );
    assert!(text.contains("profile `bad`"), "{text}");
    // `profile` and `profiles` read the files the process environment names.
    let (profile, error, _) = profile_error(Refresher::builder().profile("credrefresh-test-no-such-profile"));
    assert_eq!(profile, "credrefresh-test-no-such-profile");
    assert!(matches!(error, ProfileError::UnknownProfile { .. }), "{error}");
    let (profile, _, _) = profile_error(Refresher::builder().profiles(["credrefresh-test-none-a", "b"]));
    assert_eq!(profile, "credrefresh-test-none-a");
}

#[test]
fn separate_calls_sharing_a_hop_are_refused_at_start() {
    let env = ProfileEnv::from_vars([("HOME", "/nonexistent")], Platform::Unix);
    let config = "[profile a]\nrole_arn = arn:aws:iam::123456789012:role/a\nsource_profile = mid\n\
                  [profile b]\nrole_arn = arn:aws:iam::123456789012:role/b\nsource_profile = mid\n\
                  [profile mid]\nrole_arn = arn:aws:iam::123456789012:role/mid\nsource_profile = base\n";
    let keys = "[base]\naws_access_key_id = AKID\naws_secret_access_key = S\n";
    let one = |name: &str| {
        ProfileRoles::new([name])
            .env(env.clone())
            .profile_set(set(config, keys, &env))
    };
    let builder = Refresher::builder()
        .profile_roles(one("a"))
        .unwrap()
        .profile_roles(one("b"))
        .unwrap();
    assert!(matches!(builder.start(), Err(BuildError::DuplicateRole(role)) if role == "mid"));
}

#[tokio::test]
async fn an_iam_identity_center_base_is_one_role_under_its_profile() {
    use credrefresh::sources::sso::{SsoConfig, SsoSource};
    const START: &str = "https://d-abc123.awsapps.com/start";
    let emulator = Emulator::start().unwrap();
    let home = home("sso", "", "");
    let env = env(
        &emulator,
        &[
            ("HOME", &home.display().to_string()),
            ("AWS_ENDPOINT_URL_SSO", &emulator.sso_portal_endpoint()),
            ("AWS_ENDPOINT_URL_SSO_OIDC", &emulator.sso_oidc_endpoint()),
        ],
    );
    let config = format!(
        "[profile admin]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = Admin\n\
         [sso-session corp]\nsso_start_url = {START}\nsso_region = eu-west-1\n\
         [profile deploy]\nrole_arn = arn:aws:iam::123456789012:role/deploy\nsource_profile = admin\n\
         [profile audit]\nrole_arn = arn:aws:iam::123456789012:role/audit\nsource_profile = admin\n"
    );
    // The token `aws sso login` would have cached, where the source looks.
    let lookup_env = env.clone();
    let cache_file = SsoSource::builder(SsoConfig::session("corp", START, "eu-west-1", "111122223333", "Admin"))
        .env_lookup(move |k| lookup_env.var(k))
        .build()
        .unwrap()
        .cache_file()
        .to_path_buf();
    std::fs::create_dir_all(cache_file.parent().unwrap()).unwrap();
    std::fs::write(&cache_file, emulator.sso_login().cache_json(START, "eu-west-1")).unwrap();

    let refresher = Refresher::builder()
        .policy(quick_policy())
        .profile_roles(
            ProfileRoles::new(["deploy", "audit"])
                .env(env.clone())
                .profile_set(set(&config, "", &env)),
        )
        .unwrap()
        .start()
        .unwrap();
    assert_eq!(refresher.role_names(), ["admin", "audit", "deploy"]);
    for name in ["deploy", "audit"] {
        refresher.handle(name).unwrap().wait_ready(WAIT).await.unwrap();
    }
    let admin = refresher.handle("admin").unwrap().load_full();
    assert_eq!(admin.source(), "sso");
    assert_eq!(admin.credentials().unwrap().account_id(), Some("111122223333"));
    assert_eq!(
        emulator.count(Call::SsoGetRoleCredentials),
        1,
        "one portal call for both roles"
    );
    let admin_key = admin.credentials().unwrap().access_key_id().to_string();
    let calls = emulator.requests(Call::AssumeRole);
    assert_eq!(calls.len(), 2);
    for request in calls {
        assert_eq!(signer(&request), admin_key);
    }
    refresher.shutdown();
    let _ = std::fs::remove_dir_all(&home);
}

/// A home with `.aws/config` and `.aws/credentials`.
fn home(name: &str, config: &str, credentials: &str) -> PathBuf {
    let home = std::env::temp_dir().join(format!("credrefresh-home-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(home.join(".aws")).unwrap();
    std::fs::write(home.join(".aws/config"), config).unwrap();
    std::fs::write(home.join(".aws/credentials"), credentials).unwrap();
    home
}

#[tokio::test]
async fn the_default_chain_reads_the_selected_profile_after_the_environment() {
    let emulator = Emulator::start().unwrap();
    let home = home(
        "chain",
        "[profile prod]\nrole_arn = arn:aws:iam::123456789012:role/prod\nsource_profile = base\n",
        "[base]\naws_access_key_id = AKIDCHAINBASE\naws_secret_access_key = s\n",
    );
    let vars: HashMap<&str, String> = HashMap::from([
        ("HOME", home.display().to_string()),
        ("AWS_PROFILE", "prod".to_string()),
        ("AWS_ENDPOINT_URL_STS", emulator.sts_endpoint()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
    ]);
    let lookup = move |k: &str| vars.get(k).cloned();
    let chain = DefaultChain::with_lookup(lookup.clone()).unwrap();
    assert_eq!(chain.source_names(), ["env", "profile", "sts", "ecs", "imds"]);
    let creds = chain.fetch(FetchContext::system("app")).await.unwrap();
    assert_eq!(chain.chosen(), Some("profile"));
    assert_eq!(signer(&emulator.requests(Call::AssumeRole)[0]), "AKIDCHAINBASE");
    assert!(creds.session_token().is_some());

    // A profile in neither file: passed over, and said so.
    let missing = DefaultChain::with_lookup(move |k| match k {
        "AWS_PROFILE" => Some("nowhere".into()),
        other => lookup(other),
    })
    .unwrap();
    let e = missing.fetch(FetchContext::system("app")).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::NotLoaded, "{e}");
    assert!(e.message().contains("profile: profile `nowhere` is in neither"), "{e}");

    // A profile that is there but broken stops the chain.
    let broken = ProfileSource::from_env(&ProfileEnv::from_vars(
        [("HOME", home.display().to_string()), ("AWS_PROFILE", "base".into())],
        Platform::Unix,
    ));
    assert!(broken.error().is_none(), "static keys are fine");
    std::fs::write(
        home.join(".aws/config"),
        "[profile prod]\nrole_arn = arn:aws:iam::1:role/p\n",
    )
    .unwrap();
    let broken = ProfileSource::from_env(&ProfileEnv::from_vars(
        [("HOME", home.display().to_string()), ("AWS_PROFILE", "prod".into())],
        Platform::Unix,
    ));
    let e = broken.fetch(FetchContext::system("app")).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::InvalidConfiguration, "{e}");
    assert!(e.message().contains("profile `prod`"), "{e}");
    let _ = std::fs::remove_dir_all(&home);
}

#[tokio::test]
async fn a_profile_source_refreshes_its_whole_chain_in_one_role() {
    let emulator = Emulator::start().unwrap();
    let env = env(&emulator, &[]);
    let config = "[profile top]\nrole_arn = arn:aws:iam::123456789012:role/top\nsource_profile = mid\n\
                  [profile mid]\nrole_arn = arn:aws:iam::123456789012:role/mid\nsource_profile = base\n";
    let keys = "[base]\naws_access_key_id = AKIDPROFILEBASE\naws_secret_access_key = s\n";
    let source = ProfileSource::from_set(&set(config, keys, &env), "top", &env);
    let refresher = Refresher::builder().role("app", source).start().unwrap();
    let handle = refresher.handle("app").unwrap();
    handle.wait_ready(WAIT).await.unwrap();
    assert_eq!(handle.load().source(), "profile");
    let calls = emulator.requests(Call::AssumeRole);
    let arns: Vec<_> = calls.iter().map(|r| r.param("RoleArn").unwrap()).collect();
    assert_eq!(
        arns,
        [
            "arn:aws:iam::123456789012:role/mid",
            "arn:aws:iam::123456789012:role/top"
        ]
    );
    assert_eq!(signer(&calls[0]), "AKIDPROFILEBASE");
    refresher.shutdown();
}
