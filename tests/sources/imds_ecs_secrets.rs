//! No secret the IMDS and container sources handle (secret keys, session
//! tokens, IMDS session tokens, the container authorization token) reaches
//! a log line, a `Debug` or `Display` output, or an error message, through
//! successes and failures alike. Every log event at every level, from
//! every crate, is captured by a global subscriber and scanned. (That
//! subscriber also sees the other tests of this binary running at the same
//! time: their secrets are random, never the ones this test looks for.)

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use credrefresh::sources::{DefaultChain, EcsSource, ImdsSource};
use credrefresh::testing::{Call, Emulator, Fault};
use credrefresh::{CredentialsHandle, ErrorClass, FetchContext, Refresher, Source};

use crate::common::refreshing::quick_policy;
use crate::logs::Logs;

const WAIT: Duration = Duration::from_secs(15);

/// The global log sink, installed once at TRACE (with the `log` crate's
/// records too).
fn logs() -> &'static Logs {
    static LOGS: OnceLock<Logs> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Logs::default();
        logs.subscriber().init();
        logs
    })
}

async fn fail_once(handle: &CredentialsHandle, emulator: &Emulator, call: Call, fault: Fault) {
    let failures = handle.load().consecutive_failures();
    emulator.set_outage(call, Some(fault));
    handle.invalidate();
    handle
        .wait_for(WAIT, |s| s.consecutive_failures() > failures)
        .await
        .expect("the fault was seen");
    emulator.set_outage(call, None);
    handle
        .wait_for(WAIT, |s| s.consecutive_failures() == 0)
        .await
        .expect("recovered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_logs_debug_or_errors() {
    let logs = logs();
    let token = "ecs-auth-token-MUST-NOT-LEAK-42";
    let emulator = Emulator::builder().ecs_auth_token(token).start().unwrap();
    let mut outputs: Vec<String> = Vec::new();

    let imds = ImdsSource::builder()
        .env_lookup(|_| None)
        .endpoint(emulator.imds_endpoint())
        .read_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let ecs = EcsSource::builder()
        .env_lookup(|_| None)
        .full_uri(emulator.ecs_full_uri())
        .auth_token(token)
        .build()
        .unwrap();
    let vars: HashMap<&str, String> = HashMap::from([
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", emulator.eks_full_uri()),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", token.to_string()),
    ]);
    let chain = DefaultChain::with_lookup(move |k| vars.get(k).cloned()).unwrap();
    outputs.push(format!("{imds:?} {ecs:?} {chain:?}"));
    let refresher = Refresher::builder()
        .policy(quick_policy())
        .role("imds", imds)
        .role("ecs", ecs)
        .role("chain", chain)
        .start()
        .unwrap();
    let imds_handle = refresher.handle("imds").unwrap();
    let ecs_handle = refresher.handle("ecs").unwrap();
    let chain_handle = refresher.handle("chain").unwrap();
    for h in [&imds_handle, &ecs_handle, &chain_handle] {
        h.wait_ready(WAIT).await.unwrap();
    }

    // Failures of every kind, each followed by a recovery.
    emulator.expire_imds_tokens();
    imds_handle.invalidate();
    imds_handle
        .wait_for(WAIT, |s| {
            s.generation() > 1 && s.consecutive_failures() == 0 && s.last_success().is_some()
        })
        .await
        .unwrap();
    let aws = |status: u16, message: &str| Fault::AwsError {
        status,
        code: "AccessDenied".into(),
        message: message.into(),
    };
    fail_once(&imds_handle, &emulator, Call::ImdsCredentials, Fault::MalformedBody).await;
    fail_once(&imds_handle, &emulator, Call::ImdsCredentials, aws(200, "denied")).await;
    // The cached token dies, and every new one is born dead: 401, renew, 401.
    emulator.expire_imds_tokens();
    fail_once(&imds_handle, &emulator, Call::ImdsToken, Fault::ExpiredCredentials).await;
    assert_eq!(
        imds_handle.load().last_error_class(),
        Some(ErrorClass::CredentialsRejected)
    );
    fail_once(&ecs_handle, &emulator, Call::Ecs, Fault::MalformedBody).await;
    fail_once(&ecs_handle, &emulator, Call::Ecs, Fault::TruncatedBody).await;
    // A hostile endpoint echoing the token back in its error message.
    fail_once(
        &ecs_handle,
        &emulator,
        Call::Ecs,
        aws(403, &format!("token {token} refused")),
    )
    .await;
    let echoed = ecs_handle.load().last_error().unwrap().message.to_string();
    assert!(
        echoed.contains("refused") && echoed.contains(credrefresh::REDACTED),
        "{echoed}"
    );
    fail_once(&chain_handle, &emulator, Call::Ecs, Fault::Html500).await;

    for h in [&imds_handle, &ecs_handle, &chain_handle] {
        let snapshot = h.load_full();
        outputs.push(format!("{snapshot:?} {h:?} {}", snapshot.credentials().unwrap()));
    }
    // Errors returned by hand-made fetches, with their causes.
    let bad = EcsSource::builder()
        .env_lookup(|_| None)
        .full_uri(emulator.ecs_full_uri())
        .auth_token("not-the-token-SECRET-too")
        .build()
        .unwrap();
    let e = bad.fetch(FetchContext::system("bad")).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::InvalidConfiguration);
    outputs.push(format!("{e} {e:?} {bad:?}"));
    refresher.shutdown();

    let mut secrets = emulator.issued_secrets();
    assert!(
        secrets.len() > 10,
        "secret keys, session tokens and IMDS tokens were issued"
    );
    secrets.push(token.to_string());
    secrets.push("not-the-token-SECRET-too".to_string());
    let log_text = logs.text();
    assert!(
        log_text.contains("credentials refresh failed"),
        "the failures were logged"
    );
    assert!(
        log_text.contains("credentials chain chose a source"),
        "the chain's choice was logged"
    );
    for secret in &secrets {
        assert!(!log_text.contains(secret.as_str()), "a secret is in the logs");
        for output in &outputs {
            assert!(!output.contains(secret.as_str()), "a secret is in an output: {output}");
        }
    }
}
