//! The AWS SDK for Rust with credentials from a credrefresh role fed by the
//! crate's emulator: always run, no peer needed.

#[path = "../../common/mod.rs"]
pub mod common;

use std::error::Error as _;
use std::time::Duration;

use aws_credential_types::provider::error::CredentialsError;
use common::next_event;
use credrefresh::backoff::BackoffConfig;
use credrefresh::clock::{Clock, SystemClock};
use credrefresh::sdk::DEFAULT_SDK_WAIT;
use credrefresh::sources::StaticSource;
use credrefresh::sources::sts::AssumeRoleSource;
use credrefresh::testing::{Call, Emulator, Fault};
use credrefresh::{Credentials, CredentialsHandle, CredentialsState, RefreshEventKind, RefreshPolicy, Refresher};
use sdk_interop::sts_client;

const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/sdk-role";
const SESSION: &str = "sdk-session";
const WAIT: Duration = Duration::from_secs(10);

/// The emulator checks the base key's signature for shape only.
fn base_keys() -> StaticSource {
    StaticSource::new(
        Credentials::new(
            "AKIAEMULATORBASEKEY0",
            "emulator-base-secret-emulator-base-secr",
            std::time::SystemTime::UNIX_EPOCH,
        )
        .unwrap(),
    )
}

fn assume_role(emulator: &Emulator) -> AssumeRoleSource {
    AssumeRoleSource::builder(ROLE_ARN, base_keys())
        .endpoint(emulator.sts_endpoint())
        .region(sdk_interop::REGION)
        .session_name(SESSION)
        .build()
        .unwrap()
}

/// Short retries (on the backoff alone: no wait for the expiry), so the
/// role recovers within a fraction of a second once the outage ends; no
/// cooldown on invalidation.
fn short_policy() -> RefreshPolicy {
    RefreshPolicy::default()
        .retry_schedule(credrefresh::policy::RetrySchedule::Backoff)
        .invalidation_cooldown(Duration::ZERO)
        .fetch_timeout(Duration::from_secs(2))
        .backoff(
            BackoffConfig::default()
                .initial(Duration::from_millis(50))
                .multiplier(2.0)
                .max(Duration::from_millis(200))
                .jitter(0.0),
        )
}

/// A refresher with role `app` assumed from the emulator, on the short
/// policy; not waited for.
fn start(emulator: &Emulator) -> (Refresher, CredentialsHandle) {
    let refresher = Refresher::builder()
        .policy(short_policy())
        .role("app", assume_role(emulator))
        .start()
        .unwrap();
    let handle = refresher.handle("app").unwrap();
    (refresher, handle)
}

/// The access key ID in a recorded request's SigV4 credential scope.
fn signing_key(authorization: Option<&str>) -> Option<String> {
    let scope = authorization?.split("Credential=").nth(1)?;
    Some(scope.split('/').next()?.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_calls_as_the_emulators_assumed_role_and_follows_refreshes() {
    let emulator = Emulator::start().unwrap();
    let (refresher, handle) = start(&emulator);
    handle.wait_ready(WAIT).await.expect("AssumeRole on the emulator");

    let sts = sts_client(&handle, &emulator.sts_endpoint());
    let me = sts.get_caller_identity().send().await.expect("GetCallerIdentity");
    let expected = format!("arn:aws:sts::{}:assumed-role/sdk-role/{SESSION}", emulator.account_id());
    assert_eq!(me.arn(), Some(expected.as_str()));
    assert_eq!(me.account(), Some(emulator.account_id().as_str()));
    let issued = emulator.issued();
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].arn, expected);
    let first_key = handle.load().credentials().unwrap().access_key_id().to_string();
    assert_eq!(issued[0].access_key_id, first_key);

    let mut events = handle.subscribe();
    handle.invalidate();
    next_event(&mut events, WAIT, |k| matches!(k, RefreshEventKind::Refreshed { .. })).await;
    let second_key = handle.load().credentials().unwrap().access_key_id().to_string();
    assert_ne!(second_key, first_key);
    let me = sts
        .get_caller_identity()
        .send()
        .await
        .expect("GetCallerIdentity after the refresh");
    assert_eq!(me.arn(), Some(expected.as_str()));

    let signers: Vec<Option<String>> = emulator
        .requests(Call::GetCallerIdentity)
        .iter()
        .map(|r| signing_key(r.header("authorization")))
        .collect();
    assert_eq!(signers, [Some(first_key), Some(second_key)]);
    refresher.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_call_fails_with_a_credentials_error_while_the_role_is_not_loaded() {
    let emulator = Emulator::start().unwrap();
    emulator.set_outage(
        Call::AssumeRole,
        Some(Fault::AwsError {
            status: 503,
            code: "ServiceUnavailable".into(),
            message: "emulated outage".into(),
        }),
    );
    let (refresher, handle) = start(&emulator);
    let sts = sts_client(&handle, &emulator.sts_endpoint());

    // The handle waits up to DEFAULT_SDK_WAIT for first credentials, then
    // the SDK gives up with the provider's error, before any request is sent.
    let started = SystemClock.now();
    let err = sts.get_caller_identity().send().await.unwrap_err();
    let waited = SystemClock.now().duration_since(started).unwrap();
    assert!(
        waited >= DEFAULT_SDK_WAIT - Duration::from_millis(100) && waited < DEFAULT_SDK_WAIT + Duration::from_secs(2),
        "waited {waited:?}"
    );
    let mut cause = err.source();
    let mut found = None;
    while let Some(e) = cause {
        if let Some(c) = e.downcast_ref::<CredentialsError>() {
            found = Some(c);
            break;
        }
        cause = e.source();
    }
    let credentials_error = found.unwrap_or_else(|| panic!("no CredentialsError in {err:?}"));
    assert!(
        matches!(credentials_error, CredentialsError::CredentialsNotLoaded(_)),
        "{credentials_error:?}"
    );
    // It names the role, its state and why (a 503 is retryable).
    let text = credentials_error.source().expect("the handle's reason").to_string();
    assert!(
        text.contains("role `app`")
            && text.contains(&CredentialsState::NotLoaded.to_string())
            && text.contains("last error: retryable"),
        "{text}"
    );
    assert_eq!(emulator.count(Call::GetCallerIdentity), 0, "nothing was sent unsigned");
    assert!(emulator.count(Call::AssumeRole) >= 2, "the refresher kept retrying");
    assert_eq!(handle.load().state(), CredentialsState::NotLoaded);

    // The outage ends: the role loads and the same client works.
    emulator.set_outage(Call::AssumeRole, None);
    handle.wait_ready(WAIT).await.expect("recovered");
    let me = sts.get_caller_identity().send().await.expect("GetCallerIdentity");
    assert_eq!(
        me.arn(),
        Some(format!("arn:aws:sts::{}:assumed-role/sdk-role/{SESSION}", emulator.account_id()).as_str())
    );
    refresher.shutdown();
}
