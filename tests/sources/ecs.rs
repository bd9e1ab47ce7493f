//! `EcsSource` against the emulator's container endpoint (ECS and EKS Pod
//! Identity forms): the authorization token from the environment or a file,
//! re-read at every fetch, and the failures a running refresher rides out.
//! Real time over loopback, no sleeps.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use credrefresh::sources::EcsSource;
use credrefresh::testing::{Call, Emulator, Fault};
use credrefresh::{ErrorClass, FetchContext, Source};

use crate::common::refreshing::{assert_kept, refresh_fails_with, running};

const WAIT: Duration = Duration::from_secs(15);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

type Vars = Arc<Mutex<HashMap<String, String>>>;

/// Variables a test can change while the source runs.
fn vars(pairs: &[(&str, &str)]) -> Vars {
    Arc::new(Mutex::new(
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
    ))
}

fn source(vars: &Vars) -> EcsSource {
    let v = vars.clone();
    EcsSource::builder()
        .env_lookup(move |k| v.lock().unwrap().get(k).cloned())
        .read_timeout(ms(500))
        .build()
        .unwrap()
}

fn token_file(test: &str, contents: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("credrefresh-ecs-emulator-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(test);
    std::fs::write(&path, contents).unwrap();
    path
}

fn ctx() -> FetchContext {
    FetchContext::system("app")
}

#[tokio::test]
async fn ecs_and_eks_forms_with_the_token_from_the_environment() {
    let emulator = Emulator::start().unwrap();
    let token = emulator.ecs_auth_token();
    let ecs = source(&vars(&[
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", &emulator.ecs_full_uri()),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", &token),
    ]));
    let c = ecs.fetch(ctx()).await.unwrap();
    assert_eq!(c.access_key_id(), emulator.issued()[0].access_key_id);
    assert!(c.session_token().is_some() && c.expiry().is_some());
    let request = &emulator.requests(Call::Ecs)[0];
    assert_eq!(request.method, "GET");
    assert_eq!(request.header("authorization"), Some(token.as_str()));
    assert_eq!(request.header("accept"), Some("application/json"));

    let eks = source(&vars(&[
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", &emulator.eks_full_uri()),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", &token),
    ]));
    let c = eks.fetch(ctx()).await.unwrap();
    assert_eq!(c.account_id(), Some(emulator.account_id().as_str()));
}

#[tokio::test]
async fn the_token_file_wins_and_is_reread_at_every_fetch() {
    let emulator = Emulator::start().unwrap();
    let token = emulator.ecs_auth_token();
    // A trailing newline, as files written by agents and editors have.
    let file = token_file("rotating", &format!("{token}\n"));
    let vars = vars(&[
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", &emulator.ecs_full_uri()),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "a-stale-token-that-loses"),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", file.to_str().unwrap()),
    ]);
    let ecs = source(&vars);
    ecs.fetch(ctx()).await.unwrap();
    assert_eq!(
        emulator.requests(Call::Ecs)[0].header("authorization"),
        Some(token.as_str())
    );
    // The agent writes another token: the next fetch sends it (and the
    // emulator, expecting the old one, refuses it).
    std::fs::write(&file, "rotated-token\n").unwrap();
    let e = ecs.fetch(ctx()).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::InvalidConfiguration);
    assert_eq!(
        emulator.requests(Call::Ecs)[1].header("authorization"),
        Some("rotated-token")
    );
    assert!(
        e.message().contains("401") && e.message().contains("AccessDenied"),
        "{e}"
    );
    // The file variable removed: the token variable is used, re-read too.
    vars.lock().unwrap().remove("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    vars.lock()
        .unwrap()
        .insert("AWS_CONTAINER_AUTHORIZATION_TOKEN".into(), token.clone());
    ecs.fetch(ctx()).await.unwrap();
}

#[tokio::test]
async fn a_bad_token_file_keeps_the_last_credentials_and_sends_nothing() {
    let emulator = Emulator::start().unwrap();
    let token = emulator.ecs_auth_token();
    let file = token_file("bad", &token);
    let ecs = EcsSource::builder()
        .env_lookup(|_| None)
        .full_uri(emulator.ecs_full_uri())
        .auth_token_file(&file)
        .build()
        .unwrap();
    let (_refresher, handle, key) = running(ecs, WAIT).await;
    let calls = emulator.count(Call::Ecs);

    // A line break inside: refused, never sent, never shown.
    std::fs::write(&file, format!("{token}\nX-Injected: yes\n")).unwrap();
    let snapshot = refresh_fails_with(&handle, ErrorClass::InvalidConfiguration, WAIT).await;
    assert_kept(&snapshot, &key, "ecs");
    let message = snapshot.last_error().unwrap().message.to_string();
    assert!(
        message.contains("line break") && message.contains(file.to_str().unwrap()),
        "{message}"
    );
    assert!(!message.contains(&token) && !message.contains("Injected"), "{message}");

    // Missing: the same class, a message naming the file.
    std::fs::remove_file(&file).unwrap();
    let snapshot = handle
        .wait_for(WAIT, |s| {
            s.last_error().is_some_and(|e| e.message.contains("cannot be read")) && s.consecutive_failures() > 1
        })
        .await
        .unwrap();
    assert_eq!(snapshot.last_error_class(), Some(ErrorClass::InvalidConfiguration));
    assert_kept(&snapshot, &key, "ecs");
    assert_eq!(emulator.count(Call::Ecs), calls, "no request with a bad token");

    // Fixed: the refresher recovers on its own.
    std::fs::write(&file, format!("{token}\r\n")).unwrap();
    let snapshot = handle.wait_for(WAIT, |s| s.consecutive_failures() == 0).await.unwrap();
    assert_ne!(snapshot.credentials().unwrap().access_key_id(), key);
}

#[tokio::test]
async fn error_answers_keep_the_last_credentials() {
    let emulator = Emulator::builder().ecs_auth_token("ecs-test-token").start().unwrap();
    let ecs = EcsSource::builder()
        .env_lookup(|_| None)
        .full_uri(emulator.ecs_full_uri())
        .auth_token("ecs-test-token")
        .read_timeout(ms(500))
        .build()
        .unwrap();
    let (_refresher, handle, key) = running(ecs, WAIT).await;
    let cases = [
        (Fault::Throttle, ErrorClass::Throttled),
        (
            Fault::AwsError {
                status: 403,
                code: "AccessDenied".into(),
                message: "not allowed".into(),
            },
            ErrorClass::Denied,
        ),
        (
            Fault::AwsError {
                status: 400,
                code: "InvalidParameter".into(),
                message: "bad request".into(),
            },
            ErrorClass::InvalidConfiguration,
        ),
        (
            Fault::AwsError {
                status: 503,
                code: "ServiceUnavailable".into(),
                message: "try later".into(),
            },
            ErrorClass::Retryable,
        ),
        (Fault::Html500, ErrorClass::Retryable),
        (Fault::DropConnection, ErrorClass::Retryable),
        (Fault::TruncatedBody, ErrorClass::Retryable),
        (Fault::MalformedBody, ErrorClass::InvalidResponse),
        (Fault::ExpiredCredentials, ErrorClass::InvalidResponse),
        (Fault::Hang, ErrorClass::Timeout),
    ];
    let mut key = key;
    for (fault, class) in cases {
        emulator.set_outage(Call::Ecs, Some(fault.clone()));
        let snapshot = refresh_fails_with(&handle, class, WAIT).await;
        assert_kept(&snapshot, &key, "ecs");
        if let Fault::AwsError { code, message, .. } = &fault {
            let text = &snapshot.last_error().unwrap().message;
            assert!(
                text.contains(code.as_str()) && text.contains(message.as_str()),
                "{fault:?}: {text}"
            );
        }
        emulator.set_outage(Call::Ecs, None);
        let snapshot = handle
            .wait_for(WAIT, |s| s.consecutive_failures() == 0)
            .await
            .unwrap_or_else(|e| panic!("{fault:?}: no recovery: {e}"));
        key = snapshot.credentials().unwrap().access_key_id().to_string();
    }
}

#[tokio::test]
async fn an_answer_over_the_cap_is_refused() {
    let emulator = Emulator::start().unwrap();
    let ecs = EcsSource::builder()
        .env_lookup(|_| None)
        .full_uri(emulator.ecs_full_uri())
        .auth_token(emulator.ecs_auth_token())
        .max_body_bytes(100)
        .build()
        .unwrap();
    let e = ecs.fetch(ctx()).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::InvalidResponse);
    assert!(e.message().contains("100-byte limit"), "{e}");
}
