//! `ImdsSource` against the emulator's IMDS: the IMDSv2 protocol, the
//! token cache, the v1 fallback, and every failure a running refresher must
//! ride out (keeping the last good credentials, showing the error class).
//! Real time over loopback, short timeouts, no sleeps: every wait is on a
//! condition with a deadline.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use credrefresh::clock::ManualClock;
use credrefresh::sources::ImdsSource;
use credrefresh::sources::imds::ImdsSourceBuilder;
use credrefresh::testing::{Call, Emulator, Fault};
use credrefresh::{ErrorClass, FetchContext, Source};

use crate::common::refreshing::{assert_kept, refresh_fails_with, running};

const WAIT: Duration = Duration::from_secs(15);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + Send + Sync + 'static {
    let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |k| map.get(k).cloned()
}

/// A source on the emulator with short timeouts.
fn imds(emulator: &Emulator) -> ImdsSourceBuilder {
    ImdsSource::builder()
        .env_lookup(no_env)
        .endpoint(emulator.imds_endpoint())
        .connect_timeout(ms(300))
        .read_timeout(ms(500))
}

/// Polls `condition` until it holds, up to `limit` (real time).
async fn until(limit: Duration, mut condition: impl FnMut() -> bool) {
    tokio::time::timeout(limit, async {
        while !condition() {
            tokio::time::sleep(ms(5)).await;
        }
    })
    .await
    .expect("condition not met within the limit");
}

fn ctx() -> FetchContext {
    FetchContext::system("app")
}

#[tokio::test]
async fn fetches_with_a_session_token_and_reuses_it() {
    let emulator = Emulator::start().unwrap();
    let source = imds(&emulator).build().unwrap();
    let first = source.fetch(ctx()).await.unwrap();
    let issued = emulator.issued();
    assert_eq!(first.access_key_id(), issued.last().unwrap().access_key_id);
    // The wire carries whole seconds.
    let secs = |t: SystemTime| t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    assert_eq!(first.expiry().map(secs), Some(secs(issued.last().unwrap().expiration)));
    assert!(first.session_token().is_some());
    let second = source.fetch(ctx()).await.unwrap();
    assert_ne!(first.access_key_id(), second.access_key_id());
    // One token for both fetches; the role discovered each time.
    assert_eq!(emulator.count(Call::ImdsToken), 1);
    assert_eq!(emulator.count(Call::ImdsRoleList), 2);
    assert_eq!(emulator.count(Call::ImdsCredentials), 2);
    let token_call = &emulator.requests(Call::ImdsToken)[0];
    assert_eq!(token_call.method, "PUT");
    assert_eq!(token_call.header("x-aws-ec2-metadata-token-ttl-seconds"), Some("21600"));
    let credentials_call = &emulator.requests(Call::ImdsCredentials)[1];
    assert_eq!(
        credentials_call.path,
        format!(
            "/latest/meta-data/iam/security-credentials/{}",
            emulator.imds_role_name()
        )
    );
    let token = credentials_call.header("x-aws-ec2-metadata-token").expect("token sent");
    assert!(emulator.issued_secrets().iter().any(|s| s == token));
}

#[tokio::test]
async fn a_role_given_by_name_skips_discovery() {
    let emulator = Emulator::builder().imds_role_name("given-role").start().unwrap();
    let source = imds(&emulator).role_name("given-role").build().unwrap();
    source.fetch(ctx()).await.unwrap();
    assert_eq!(emulator.count(Call::ImdsRoleList), 0);
    assert_eq!(emulator.count(Call::ImdsCredentials), 1);
    // A name that is not the instance's role is a configuration error.
    let wrong = imds(&emulator).role_name("other-role").build().unwrap();
    let e = wrong.fetch(ctx()).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::InvalidConfiguration);
    assert!(e.message().contains("other-role"), "{e}");
}

#[tokio::test]
async fn the_token_is_renewed_before_it_expires() {
    let emulator = Emulator::start().unwrap();
    let source = imds(&emulator)
        .token_ttl(Duration::from_secs(600))
        .token_renew_early(Duration::from_secs(120))
        .build()
        .unwrap();
    // The source reads time from the fetch context: move it by hand.
    let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000));
    let ctx = FetchContext::new("app", Arc::new(clock.clone()));
    source.fetch(ctx.clone()).await.unwrap();
    clock.advance(Duration::from_secs(479));
    source.fetch(ctx.clone()).await.unwrap();
    assert_eq!(emulator.count(Call::ImdsToken), 1, "reused up to 120 s before expiry");
    clock.advance(Duration::from_secs(1));
    source.fetch(ctx.clone()).await.unwrap();
    assert_eq!(emulator.count(Call::ImdsToken), 2, "renewed 120 s before expiry");
    assert_eq!(
        emulator.requests(Call::ImdsToken)[1].header("x-aws-ec2-metadata-token-ttl-seconds"),
        Some("600")
    );
}

#[tokio::test]
async fn a_401_mid_life_gets_a_new_token_and_succeeds() {
    let emulator = Emulator::start().unwrap();
    let (_refresher, handle, key) = running(imds(&emulator).build().unwrap(), WAIT).await;
    assert_eq!(emulator.count(Call::ImdsToken), 1);
    let generation = handle.load().generation();
    emulator.expire_imds_tokens();
    handle.invalidate();
    let snapshot = handle
        .wait_for(WAIT, |s| s.credentials().is_some_and(|c| c.access_key_id() != key))
        .await
        .unwrap();
    assert!(snapshot.generation() > generation);
    assert_eq!(snapshot.consecutive_failures(), 0);
    assert_eq!(snapshot.last_error(), None);
    assert_eq!(emulator.count(Call::ImdsToken), 2);
    // The role list was asked with the dead token (401), then with the new one.
    let lists = emulator.requests(Call::ImdsRoleList);
    assert_eq!(lists.len(), 3);
    assert_ne!(
        lists[1].header("x-aws-ec2-metadata-token"),
        lists[2].header("x-aws-ec2-metadata-token")
    );
}

#[tokio::test]
async fn a_token_refused_again_is_credentials_rejected() {
    let emulator = Emulator::start().unwrap();
    // Every token the emulator hands out is already expired: 401, renew, 401.
    emulator.set_outage(Call::ImdsToken, Some(Fault::ExpiredCredentials));
    let e = imds(&emulator).build().unwrap().fetch(ctx()).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::CredentialsRejected, "{e}");
    assert_eq!(emulator.count(Call::ImdsToken), 2);
    assert_eq!(emulator.count(Call::ImdsRoleList), 2);
}

#[tokio::test]
async fn token_call_failures_without_v1_fallback() {
    let emulator = Emulator::builder().imds_v1_allowed(true).start().unwrap();
    let (_refresher, handle, key) = running(imds(&emulator).build().unwrap(), WAIT).await;
    // The cached token dies and its renewal is refused (IMDS turned off).
    emulator.expire_imds_tokens();
    emulator.set_outage(
        Call::ImdsToken,
        Some(Fault::AwsError {
            status: 403,
            code: "Forbidden".into(),
            message: "Forbidden".into(),
        }),
    );
    let snapshot = refresh_fails_with(&handle, ErrorClass::Denied, WAIT).await;
    assert_kept(&snapshot, &key, "imds");
    // Even though the emulator would serve v1, the source did not try it.
    assert!(
        emulator
            .requests(Call::ImdsRoleList)
            .iter()
            .all(|r| r.header("x-aws-ec2-metadata-token").is_some())
    );

    // Now the token call hangs: a timeout, after the attempts.
    emulator.set_outage(Call::ImdsToken, Some(Fault::Hang));
    let tokens_before = emulator.count(Call::ImdsToken);
    let snapshot = handle
        .wait_for(WAIT, |s| s.last_error_class() == Some(ErrorClass::Timeout))
        .await
        .unwrap();
    assert_kept(&snapshot, &key, "imds");
    assert!(emulator.count(Call::ImdsToken) >= tokens_before + 3, "three attempts");
}

#[tokio::test]
async fn token_call_failures_with_v1_fallback() {
    let emulator = Emulator::builder().imds_v1_allowed(true).start().unwrap();
    let source = imds(&emulator).v1_fallback(true).build().unwrap();
    let (_refresher, handle, key) = running(source, WAIT).await;
    for fault in [
        Fault::AwsError {
            status: 405,
            code: "MethodNotAllowed".into(),
            message: "Method Not Allowed".into(),
        },
        Fault::AwsError {
            status: 404,
            code: "NotFound".into(),
            message: "Not Found".into(),
        },
        Fault::Hang,
    ] {
        emulator.expire_imds_tokens();
        emulator.set_outage(Call::ImdsToken, Some(fault.clone()));
        let before = handle.load().credentials().unwrap().access_key_id().to_string();
        handle.invalidate();
        let snapshot = handle
            .wait_for(WAIT, |s| s.credentials().is_some_and(|c| c.access_key_id() != before))
            .await
            .unwrap_or_else(|e| panic!("{fault:?}: {e}"));
        assert_eq!(snapshot.consecutive_failures(), 0, "{fault:?}");
        let last = emulator.requests(Call::ImdsCredentials).pop().unwrap();
        assert_eq!(last.header("x-aws-ec2-metadata-token"), None, "{fault:?}: v1 call");
    }
    assert_ne!(handle.load().credentials().unwrap().access_key_id(), key);
}

#[tokio::test]
async fn v1_fallback_to_a_service_that_refuses_v1() {
    let emulator = Emulator::builder().imds_v1_allowed(false).start().unwrap();
    emulator.set_outage(
        Call::ImdsToken,
        Some(Fault::AwsError {
            status: 404,
            code: "NotFound".into(),
            message: "Not Found".into(),
        }),
    );
    let e = imds(&emulator)
        .v1_fallback(true)
        .build()
        .unwrap()
        .fetch(ctx())
        .await
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::InvalidConfiguration);
    assert!(e.message().contains("IMDSv1 was refused"), "{e}");
    // Without the fallback, the same 404 says to turn it on.
    let e = imds(&emulator).build().unwrap().fetch(ctx()).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::InvalidConfiguration);
    assert!(e.message().contains("IMDSv1 fallback"), "{e}");
}

#[tokio::test]
async fn v1_disabled_in_the_environment_wins_over_the_setter() {
    let emulator = Emulator::builder().imds_v1_allowed(true).start().unwrap();
    emulator.set_outage(
        Call::ImdsToken,
        Some(Fault::AwsError {
            status: 403,
            code: "Forbidden".into(),
            message: "Forbidden".into(),
        }),
    );
    let source = imds(&emulator)
        .env_lookup(env(&[("AWS_EC2_METADATA_V1_DISABLED", "true")]))
        .v1_fallback(true)
        .build()
        .unwrap();
    assert_eq!(source.fetch(ctx()).await.unwrap_err().class(), ErrorClass::Denied);
    assert_eq!(emulator.count(Call::ImdsRoleList), 0);
}

#[tokio::test]
async fn the_endpoint_comes_from_the_environment() {
    let emulator = Emulator::start().unwrap();
    let source = ImdsSource::builder()
        .env_lookup(env(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", &emulator.imds_endpoint())]))
        .build()
        .unwrap();
    let c = source.fetch(ctx()).await.unwrap();
    assert_eq!(c.access_key_id(), emulator.issued()[0].access_key_id);
}

#[tokio::test]
async fn role_gone() {
    let emulator = Emulator::start().unwrap();
    let (_refresher, handle, key) = running(imds(&emulator).build().unwrap(), WAIT).await;
    let not_found = Fault::AwsError {
        status: 404,
        code: "NotFound".into(),
        message: "Not Found".into(),
    };
    // Detached between listing and fetching: retryable, the next fetch looks again.
    emulator.script(Call::ImdsCredentials, [not_found.clone()]);
    let snapshot = refresh_fails_with(&handle, ErrorClass::Retryable, WAIT).await;
    assert_kept(&snapshot, &key, "imds");
    assert!(snapshot.last_error().unwrap().message.contains("detached"));
    // The retry succeeds (the script is used up).
    let snapshot = handle.wait_for(WAIT, |s| s.consecutive_failures() == 0).await.unwrap();
    let key = snapshot.credentials().unwrap().access_key_id().to_string();
    // No role at all any more: not loaded, last credentials still served.
    emulator.set_outage(Call::ImdsRoleList, Some(not_found));
    let snapshot = refresh_fails_with(&handle, ErrorClass::NotLoaded, WAIT).await;
    assert_kept(&snapshot, &key, "imds");
}

#[tokio::test]
async fn malformed_answers() {
    let emulator = Emulator::start().unwrap();
    let (_refresher, handle, key) = running(imds(&emulator).build().unwrap(), WAIT).await;
    emulator.set_outage(Call::ImdsCredentials, Some(Fault::MalformedBody));
    let snapshot = refresh_fails_with(&handle, ErrorClass::InvalidResponse, WAIT).await;
    assert_kept(&snapshot, &key, "imds");
    assert!(snapshot.last_error().unwrap().message.contains("not valid JSON"));
    emulator.set_outage(Call::ImdsCredentials, None);
    handle.wait_for(WAIT, |s| s.consecutive_failures() == 0).await.unwrap();
    // An empty role list.
    let key = handle.load().credentials().unwrap().access_key_id().to_string();
    emulator.set_outage(Call::ImdsRoleList, Some(Fault::MalformedBody));
    let snapshot = refresh_fails_with(&handle, ErrorClass::InvalidResponse, WAIT).await;
    assert_kept(&snapshot, &key, "imds");
}

#[tokio::test]
async fn a_code_other_than_success_is_denied() {
    let emulator = Emulator::start().unwrap();
    let (_refresher, handle, key) = running(imds(&emulator).build().unwrap(), WAIT).await;
    emulator.set_outage(
        Call::ImdsCredentials,
        Some(Fault::AwsError {
            status: 200,
            code: "AssumeRoleUnauthorizedAccess".into(),
            message: "EC2 cannot assume the role".into(),
        }),
    );
    let snapshot = refresh_fails_with(&handle, ErrorClass::Denied, WAIT).await;
    assert_kept(&snapshot, &key, "imds");
    let message = &snapshot.last_error().unwrap().message;
    assert!(message.contains("AssumeRoleUnauthorizedAccess"), "{message}");
}

#[tokio::test]
async fn already_expired_credentials_are_refused() {
    let emulator = Emulator::start().unwrap();
    let (_refresher, handle, key) = running(imds(&emulator).build().unwrap(), WAIT).await;
    emulator.set_outage(Call::ImdsCredentials, Some(Fault::ExpiredCredentials));
    let snapshot = refresh_fails_with(&handle, ErrorClass::InvalidResponse, WAIT).await;
    assert_kept(&snapshot, &key, "imds");
    assert!(snapshot.last_error().unwrap().message.contains("already expired"));
}

#[tokio::test]
async fn transient_faults_are_retried_within_the_fetch() {
    let emulator = Emulator::start().unwrap();
    let source = imds(&emulator).build().unwrap();
    // Two bad answers, then a good one: the third attempt succeeds.
    emulator.script(Call::ImdsCredentials, [Fault::Html500, Fault::DropConnection]);
    source.fetch(ctx()).await.unwrap();
    assert_eq!(emulator.count(Call::ImdsCredentials), 3);
    // Three bad answers: the fetch fails, retryable.
    emulator.script(
        Call::ImdsCredentials,
        [Fault::TruncatedBody, Fault::Html500, Fault::DropConnection],
    );
    let e = source.fetch(ctx()).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::Retryable, "{e}");
    assert_eq!(emulator.count(Call::ImdsCredentials), 6);
    // Throttling is not retried within the fetch.
    emulator.script(Call::ImdsRoleList, [Fault::Throttle]);
    assert_eq!(source.fetch(ctx()).await.unwrap_err().class(), ErrorClass::Throttled);
    assert_eq!(emulator.count(Call::ImdsCredentials), 6);
    // A body over the cap.
    let small = imds(&emulator).max_body_bytes(64).build().unwrap();
    assert_eq!(
        small.fetch(ctx()).await.unwrap_err().class(),
        ErrorClass::InvalidResponse
    );
}

#[tokio::test]
#[allow(clippy::disallowed_methods)] // measures how long a read takes
async fn a_hung_endpoint_times_out_while_readers_are_served_at_once() {
    let emulator = Emulator::start().unwrap();
    let (_refresher, handle, key) = running(imds(&emulator).max_attempts(2).build().unwrap(), WAIT).await;
    emulator.set_outage(Call::ImdsCredentials, Some(Fault::Hang));
    let before = emulator.count(Call::ImdsCredentials);
    handle.invalidate();
    // The fetch is hanging on the endpoint now.
    until(WAIT, || emulator.count(Call::ImdsCredentials) > before).await;
    let reader = handle.clone();
    let expected = key.clone();
    let reads = std::thread::spawn(move || {
        let start = std::time::Instant::now();
        let mut slowest = Duration::ZERO;
        for _ in 0..1000 {
            let one = std::time::Instant::now();
            let snapshot = reader.load();
            slowest = slowest.max(one.elapsed());
            assert_eq!(snapshot.credentials().unwrap().access_key_id(), expected);
        }
        (start.elapsed(), slowest)
    });
    let (total, slowest) = reads.join().unwrap();
    assert!(slowest < ms(50), "a read took {slowest:?}");
    assert!(total < ms(500), "1000 reads took {total:?}");
    assert_eq!(handle.load().consecutive_failures(), 0, "the fetch was still hanging");
    let snapshot = handle
        .wait_for(WAIT, |s| s.last_error_class() == Some(ErrorClass::Timeout))
        .await
        .unwrap();
    assert_kept(&snapshot, &key, "imds");
}
