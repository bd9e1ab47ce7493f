//! The default chain in a running refresher, over the emulator: which
//! source it chooses, that the snapshot shows it, that only "not loaded"
//! moves on, and that it sticks to its choice. Real time, no sleeps.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use credrefresh::sources::DefaultChain;
use credrefresh::testing::{Call, Emulator, Fault};
use credrefresh::{CredentialsHandle, CredentialsState, ErrorClass, Refresher, Source};

use crate::common::refreshing::quick_policy;

const WAIT: Duration = Duration::from_secs(15);

type Vars = Arc<Mutex<HashMap<String, String>>>;

fn vars(pairs: &[(&str, &str)]) -> Vars {
    Arc::new(Mutex::new(
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
    ))
}

fn chain(vars: &Vars) -> DefaultChain {
    let v = vars.clone();
    DefaultChain::with_lookup(move |k| v.lock().unwrap().get(k).cloned()).unwrap()
}

fn start(chain: DefaultChain) -> (Refresher, CredentialsHandle) {
    let refresher = Refresher::builder()
        .policy(quick_policy())
        .role("app", chain)
        .start()
        .unwrap();
    let handle = refresher.handle("app").unwrap();
    (refresher, handle)
}

/// The chain started with the environment's keys set (`AKIDCHAINENV`) and
/// the metadata service at `emulator`.
fn env_and_imds(emulator: &Emulator) -> (Vars, Refresher, CredentialsHandle) {
    let vars = vars(&[
        ("AWS_ACCESS_KEY_ID", "AKIDCHAINENV"),
        ("AWS_SECRET_ACCESS_KEY", "chain-env-secret"),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &emulator.imds_endpoint()),
    ]);
    let (refresher, handle) = start(chain(&vars));
    (vars, refresher, handle)
}

/// A port on loopback where nothing listens.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn environment_set_chooses_env() {
    let emulator = Emulator::start().unwrap();
    let (_vars, _refresher, handle) = env_and_imds(&emulator);
    assert_eq!(handle.load().source(), "chain");
    let snapshot = handle.wait_ready(WAIT).await.unwrap();
    assert_eq!(snapshot.credentials().unwrap().access_key_id(), "AKIDCHAINENV");
    assert_eq!(snapshot.resolved_source(), "env");
    assert_eq!(emulator.count(Call::ImdsToken), 0, "IMDS never asked");
}

#[tokio::test]
async fn nothing_set_and_imds_disabled_is_not_loaded() {
    let vars = vars(&[("AWS_EC2_METADATA_DISABLED", "true")]);
    let (_refresher, handle) = start(chain(&vars));
    let snapshot = handle.wait_for(WAIT, |s| s.last_error_class().is_some()).await.unwrap();
    assert_eq!(snapshot.last_error_class(), Some(ErrorClass::NotLoaded));
    assert_eq!(snapshot.state(), CredentialsState::NotLoaded);
    let message = &snapshot.last_error().unwrap().message;
    for name in ["env:", "sts:", "ecs:", "imds:"] {
        assert!(message.contains(name), "{message}");
    }
    assert_eq!(snapshot.source(), "chain");
}

#[tokio::test]
async fn an_unreachable_metadata_service_is_passed_over_while_choosing() {
    let vars = vars(&[(
        "AWS_EC2_METADATA_SERVICE_ENDPOINT",
        &format!("http://127.0.0.1:{}", closed_port()),
    )]);
    let chain = chain(&vars);
    let e = chain.fetch(credrefresh::FetchContext::system("app")).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::NotLoaded, "{e}");
    assert!(e.message().contains("no answer from the metadata service"), "{e}");
}

#[tokio::test]
async fn container_set_chooses_ecs() {
    let emulator = Emulator::start().unwrap();
    let vars = vars(&[
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", &emulator.ecs_full_uri()),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", &emulator.ecs_auth_token()),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &emulator.imds_endpoint()),
    ]);
    let (_refresher, handle) = start(chain(&vars));
    let snapshot = handle.wait_ready(WAIT).await.unwrap();
    assert_eq!(snapshot.resolved_source(), "ecs");
    assert_eq!(
        snapshot.credentials().unwrap().access_key_id(),
        emulator.issued()[0].access_key_id
    );
    assert_eq!(emulator.count(Call::Ecs), 1);
    assert_eq!(emulator.count(Call::ImdsToken), 0);
}

#[tokio::test]
async fn an_error_other_than_not_loaded_stops_the_chain() {
    let emulator = Emulator::start().unwrap();
    emulator.set_outage(
        Call::Ecs,
        Some(Fault::AwsError {
            status: 403,
            code: "AccessDenied".into(),
            message: "the task role cannot be assumed".into(),
        }),
    );
    let vars = vars(&[
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", &emulator.ecs_full_uri()),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", &emulator.ecs_auth_token()),
        // IMDS would answer, but must not be asked.
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &emulator.imds_endpoint()),
    ]);
    let (_refresher, handle) = start(chain(&vars));
    let snapshot = handle.wait_for(WAIT, |s| s.last_error_class().is_some()).await.unwrap();
    assert_eq!(snapshot.last_error_class(), Some(ErrorClass::Denied));
    assert!(snapshot.last_error().unwrap().message.contains("stopped at `ecs`"));
    assert_eq!(snapshot.state(), CredentialsState::NotLoaded);
    assert_eq!(emulator.count(Call::ImdsToken), 0);
    assert_eq!(emulator.count(Call::ImdsCredentials), 0);
}

#[tokio::test]
async fn sticks_to_imds_through_an_outage_and_chooses_again_when_env_goes_away() {
    let emulator = Emulator::start().unwrap();
    let (vars, _refresher, handle) = env_and_imds(&emulator);
    assert_eq!(handle.wait_ready(WAIT).await.unwrap().resolved_source(), "env");

    // The variables go away: env is not loaded any more, the chain chooses IMDS.
    vars.lock()
        .unwrap()
        .retain(|k, _| !k.starts_with("AWS_ACCESS") && !k.starts_with("AWS_SECRET"));
    handle.invalidate();
    let snapshot = handle.wait_for(WAIT, |s| s.resolved_source() == "imds").await.unwrap();
    let key = snapshot.credentials().unwrap().access_key_id().to_string();
    assert_eq!(key, emulator.issued()[0].access_key_id);

    // IMDS goes down: its own error (not "not loaded"), the last good
    // credentials kept, and the chain still on IMDS.
    emulator.set_outage(Call::ImdsCredentials, Some(Fault::Html500));
    handle.invalidate();
    let snapshot = handle.wait_for(WAIT, |s| s.consecutive_failures() > 0).await.unwrap();
    assert_eq!(snapshot.last_error_class(), Some(ErrorClass::Retryable));
    assert_eq!(snapshot.credentials().unwrap().access_key_id(), key);
    assert_eq!(snapshot.resolved_source(), "imds");
    assert_eq!(snapshot.state(), CredentialsState::Fresh);
    emulator.set_outage(Call::ImdsCredentials, None);
    let snapshot = handle.wait_for(WAIT, |s| s.consecutive_failures() == 0).await.unwrap();
    assert_eq!(snapshot.resolved_source(), "imds");
    let key = snapshot.credentials().unwrap().access_key_id().to_string();

    // IMDS disappears altogether (connections refused). While choosing that
    // would mean "not on EC2"; for the chosen source it is a transient
    // failure: retried, last credentials kept, no other source tried.
    drop(emulator);
    handle.invalidate();
    let snapshot = handle.wait_for(WAIT, |s| s.consecutive_failures() > 0).await.unwrap();
    assert_eq!(snapshot.last_error_class(), Some(ErrorClass::Retryable));
    assert!(snapshot.last_error().unwrap().message.contains("could not connect"));
    assert_eq!(snapshot.credentials().unwrap().access_key_id(), key);
    assert_eq!(snapshot.resolved_source(), "imds");
}

fn web_identity_vars(emulator: &Emulator, token_file: &std::path::Path) -> Vars {
    vars(&[
        ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/eks-pod-role"),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token_file.to_str().unwrap()),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ENDPOINT_URL_STS", &emulator.sts_endpoint()),
        // Also configured, later in the order: never asked.
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", &emulator.ecs_full_uri()),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", &emulator.ecs_auth_token()),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &emulator.imds_endpoint()),
    ])
}

fn temp_token(name: &str, contents: Option<&str>) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("credrefresh-chain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    match contents {
        Some(c) => std::fs::write(&path, c).unwrap(),
        None => {
            let _ = std::fs::remove_file(&path);
        }
    }
    path
}

#[tokio::test]
async fn web_identity_set_chooses_sts_before_the_container() {
    let emulator = Emulator::start().unwrap();
    let token = temp_token(
        "web-identity",
        Some("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2ln\n"),
    );
    let (_refresher, handle) = start(chain(&web_identity_vars(&emulator, &token)));
    let snapshot = handle.wait_ready(WAIT).await.unwrap();
    assert_eq!(snapshot.resolved_source(), "sts");
    assert_eq!(
        snapshot.credentials().unwrap().access_key_id(),
        emulator.issued()[0].access_key_id
    );
    assert_eq!(emulator.count(Call::AssumeRoleWithWebIdentity), 1);
    assert_eq!(emulator.count(Call::Ecs), 0);
    assert_eq!(emulator.count(Call::ImdsToken), 0);
}

#[tokio::test]
async fn a_broken_web_identity_stops_the_chain() {
    let emulator = Emulator::start().unwrap();
    let missing = temp_token("missing", None);
    let (_refresher, handle) = start(chain(&web_identity_vars(&emulator, &missing)));
    let snapshot = handle.wait_for(WAIT, |s| s.last_error_class().is_some()).await.unwrap();
    assert_eq!(snapshot.last_error_class(), Some(ErrorClass::InvalidConfiguration));
    assert!(snapshot.last_error().unwrap().message.contains("stopped at `sts`"));
    assert_eq!(emulator.count(Call::AssumeRoleWithWebIdentity), 0);
    assert_eq!(emulator.count(Call::Ecs), 0);
    assert_eq!(emulator.count(Call::ImdsToken), 0);
}

#[tokio::test]
async fn a_metadata_service_slow_at_boot_is_retried_with_the_normal_backoff() {
    let emulator = Emulator::start().unwrap();
    // Every try of the first fetch's token call outlives the client's
    // 2 s (connect + read) limit; the next fetch is answered at once.
    let tries = credrefresh::sources::imds::DEFAULT_MAX_ATTEMPTS as usize;
    emulator.script(Call::ImdsToken, vec![Fault::Delay(Duration::from_secs(3)); tries]);
    let vars = vars(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", &emulator.imds_endpoint())]);
    // The backoff starts at 100 ms; its cap, where "not loaded" is retried,
    // is a minute away.
    let policy = credrefresh::RefreshPolicy::default().backoff(
        credrefresh::backoff::BackoffConfig::default()
            .initial(Duration::from_millis(100))
            .max(Duration::from_secs(60))
            .jitter(0.0),
    );
    let refresher = Refresher::builder()
        .policy(policy)
        .role("app", chain(&vars))
        .start()
        .unwrap();
    let handle = refresher.handle("app").unwrap();
    let mut events = handle.subscribe();
    let failed = crate::common::next_event(&mut events, WAIT, |k| {
        matches!(k, credrefresh::RefreshEventKind::Failed { .. })
    })
    .await;
    let credrefresh::RefreshEventKind::Failed { class, .. } = failed.kind else {
        unreachable!()
    };
    assert_eq!(class, ErrorClass::Timeout, "the IMDS step's class, retryable");
    // Retried after 100 ms, not at the cap.
    let snapshot = handle.wait_ready(Duration::from_secs(5)).await.unwrap();
    assert_eq!(snapshot.source(), "chain");
    assert_eq!(snapshot.resolved_source(), "imds");
    assert_eq!(emulator.issued().len(), 1);
    refresher.shutdown();
}
