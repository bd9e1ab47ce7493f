//! The STS sources through the local emulator: every failure class, seen in
//! the snapshot while the handle keeps its last good credentials; and what
//! the sources send. Real time, lifetimes of seconds, waits on events.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use credrefresh::backoff::BackoffConfig;
use credrefresh::sources::StaticSource;
use credrefresh::sources::sts::{AssumeRoleSource, SessionTokenSource, WebIdentitySource};
use credrefresh::testing::{Call, Emulator, Fault};
use credrefresh::{
    Credentials, CredentialsHandle, CredentialsState, ErrorClass, RefreshEventKind, RefreshPolicy, Refresher,
};

use crate::common::next_event;
use crate::common::refreshing::started;

const ARN: &str = "arn:aws:iam::123456789012:role/app";
const REGION: &str = "us-east-1";
const WAIT: Duration = Duration::from_secs(20);
/// The sources' whole-request timeout: a `Delay` beyond it is a timeout.
const REQUEST_TIMEOUT: Duration = Duration::from_millis(800);

fn long_term_keys() -> StaticSource {
    StaticSource::new(
        Credentials::new(
            "AKIAEMULATORBASE0001",
            "emulator-base-secret-key-0000000000000000",
            SystemTime::UNIX_EPOCH,
        )
        .unwrap(),
    )
}

/// Quick retries and invalidations, so each failure is followed by a
/// recovery within a second.
fn policy() -> RefreshPolicy {
    RefreshPolicy::default()
        .backoff(
            BackoffConfig::default()
                .initial(Duration::from_millis(50))
                .multiplier(2.0)
                .max(Duration::from_millis(300))
                .jitter(0.5),
        )
        .invalidation_cooldown(Duration::from_millis(10))
}

fn emulator() -> Emulator {
    Emulator::builder()
        .credential_lifetime(Duration::from_secs(20))
        .start()
        .unwrap()
}

/// Waits for new credentials published after `generation` (an event of an
/// earlier publication may still be on its way when a test subscribes).
async fn refreshed_after(events: &mut tokio::sync::broadcast::Receiver<credrefresh::RefreshEvent>, generation: u64) {
    loop {
        let event = next_event(events, WAIT, |k| matches!(k, RefreshEventKind::Refreshed { .. })).await;
        if event.generation > generation {
            return;
        }
    }
}

fn key_of(handle: &CredentialsHandle) -> String {
    handle
        .load()
        .credentials()
        .expect("credentials")
        .access_key_id()
        .to_string()
}

#[tokio::test]
async fn every_failure_class_keeps_the_last_good_credentials() {
    let emulator = emulator();
    let source = AssumeRoleSource::builder(ARN, long_term_keys())
        .region(REGION)
        .endpoint(emulator.sts_endpoint())
        .request_timeout(REQUEST_TIMEOUT)
        .build()
        .unwrap();
    let (refresher, handle, _) = started(policy(), "app", source, WAIT).await;

    let aws = |status: u16, code: &str| Fault::AwsError {
        status,
        code: code.to_string(),
        message: format!("scripted {code}"),
    };
    let cases = [
        (Fault::Throttle, ErrorClass::Throttled),
        (aws(400, "RequestLimitExceeded"), ErrorClass::Throttled),
        (aws(403, "ExpiredToken"), ErrorClass::CredentialsRejected),
        (aws(403, "InvalidClientTokenId"), ErrorClass::CredentialsRejected),
        (aws(403, "SignatureDoesNotMatch"), ErrorClass::CredentialsRejected),
        (aws(403, "AccessDenied"), ErrorClass::Denied),
        (aws(400, "ValidationError"), ErrorClass::Denied),
        (aws(400, "MalformedPolicyDocument"), ErrorClass::Denied),
        (aws(400, "PackedPolicyTooLarge"), ErrorClass::Denied),
        (aws(403, "RegionDisabledException"), ErrorClass::Denied),
        (aws(500, "InternalFailure"), ErrorClass::Retryable),
        (aws(503, "ServiceUnavailable"), ErrorClass::Retryable),
        (Fault::Html500, ErrorClass::Retryable),
        (Fault::Delay(REQUEST_TIMEOUT * 3), ErrorClass::Timeout),
        (Fault::Hang, ErrorClass::Timeout),
        (Fault::DropConnection, ErrorClass::Retryable),
        (Fault::TruncatedBody, ErrorClass::Retryable),
        (Fault::MalformedBody, ErrorClass::InvalidResponse),
        (Fault::ExpiredCredentials, ErrorClass::InvalidResponse),
    ];
    for (fault, class) in cases {
        let good = key_of(&handle);
        let calls = emulator.count(Call::AssumeRole);
        let mut events = handle.subscribe();
        emulator.script(Call::AssumeRole, [fault.clone()]);
        // Ask for a refresh now rather than at the scheduled time.
        handle.invalidate();
        let failed = next_event(&mut events, WAIT, |k| matches!(k, RefreshEventKind::Failed { .. })).await;
        assert_eq!(
            failed.kind,
            RefreshEventKind::Failed {
                class,
                consecutive_failures: 1
            },
            "{fault:?}"
        );
        {
            let snapshot = handle.load();
            assert_eq!(snapshot.last_error_class(), Some(class), "{fault:?}");
            assert_eq!(snapshot.state(), CredentialsState::Fresh, "{fault:?}");
            assert_eq!(
                snapshot.credentials().unwrap().access_key_id(),
                good,
                "{fault:?}: last good kept"
            );
            let message = &snapshot.last_error().unwrap().message;
            if let Fault::AwsError { code, .. } = &fault {
                assert!(message.contains(code.as_str()), "{message}");
            }
        }
        // The script is used up: the retry succeeds with new credentials.
        next_event(&mut events, WAIT, |k| matches!(k, RefreshEventKind::Refreshed { .. })).await;
        assert_ne!(key_of(&handle), good, "{fault:?}: recovered");
        assert!(emulator.count(Call::AssumeRole) >= calls + 2);
    }
    // Nothing panicked: the refresher was never restarted.
    assert_eq!(handle.load().restarts(), 0);
    let shown = format!("{:?}", handle.load());
    for secret in emulator.issued_secrets() {
        assert!(!shown.contains(&secret));
    }
    refresher.shutdown();
}

#[tokio::test]
async fn assume_role_sends_its_parameters_signed_for_the_region() {
    let emulator = emulator();
    let source = AssumeRoleSource::builder(ARN, long_term_keys())
        .region("eu-west-3")
        .endpoint(emulator.sts_endpoint())
        .session_name_prefix("svc-")
        .duration(Duration::from_secs(900))
        .external_id("partner-7")
        .policy(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#)
        .policy_arn("arn:aws:iam::aws:policy/ReadOnlyAccess")
        .tag("Project", "Unicorn")
        .tag("CostCenter", "42")
        .transitive_tag_key("Project")
        .source_identity("alice")
        .build()
        .unwrap();
    let (refresher, _, snapshot) = started(policy(), "app", source, WAIT).await;
    let creds = snapshot.credentials().unwrap();
    assert_eq!(creds.account_id(), Some("123456789012"));
    assert!(emulator.issued_secrets().iter().any(|s| s == creds.secret_access_key()));

    let sent = emulator.requests(Call::AssumeRole);
    let r = &sent[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.param("RoleArn"), Some(ARN));
    let session = r.param("RoleSessionName").unwrap();
    let secs: u64 = session
        .strip_prefix("svc-")
        .expect("prefix")
        .parse()
        .expect("unix time");
    let issued = creds
        .issued_at()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(secs.abs_diff(issued) <= 5, "{session} vs {issued}");
    assert_eq!(r.param("DurationSeconds"), Some("900"));
    assert_eq!(r.param("ExternalId"), Some("partner-7"));
    assert!(r.param("Policy").unwrap().contains("s3:GetObject"));
    assert_eq!(
        r.param("PolicyArns.member.1.arn"),
        Some("arn:aws:iam::aws:policy/ReadOnlyAccess")
    );
    assert_eq!(r.param("Tags.member.1.Key"), Some("Project"));
    assert_eq!(r.param("Tags.member.1.Value"), Some("Unicorn"));
    assert_eq!(r.param("Tags.member.2.Key"), Some("CostCenter"));
    assert_eq!(r.param("Tags.member.2.Value"), Some("42"));
    assert_eq!(r.param("TransitiveTagKeys.member.1"), Some("Project"));
    assert_eq!(r.param("SourceIdentity"), Some("alice"));
    let auth = r.header("authorization").unwrap();
    assert!(
        auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIAEMULATORBASE0001/")
            && auth.contains("/eu-west-3/sts/aws4_request"),
        "{auth}"
    );
    assert!(r.header("x-amz-date").is_some());
    assert!(
        r.header("x-amz-security-token").is_none(),
        "long-term keys carry no token"
    );
    refresher.shutdown();
}

#[tokio::test]
async fn session_token_sends_a_new_mfa_code_at_each_refresh() {
    let emulator = emulator();
    let codes = Arc::new(AtomicU32::new(0));
    let counter = codes.clone();
    let source = SessionTokenSource::builder(long_term_keys())
        .region(REGION)
        .endpoint(emulator.sts_endpoint())
        .duration(Duration::from_secs(3600))
        .mfa("arn:aws:iam::123456789012:mfa/alice", move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move { Ok(format!("{}", 500_100 + n)) }
        })
        .build()
        .unwrap();
    let (refresher, handle, first) = started(policy(), "mfa", source, WAIT).await;
    let generation = first.generation();
    let mut events = handle.subscribe();
    handle.invalidate();
    refreshed_after(&mut events, generation).await;
    let sent = emulator.requests(Call::GetSessionToken);
    assert!(sent.len() >= 2);
    assert_eq!(sent[0].param("TokenCode"), Some("500100"));
    assert_eq!(sent[1].param("TokenCode"), Some("500101"));
    for r in &sent {
        assert_eq!(r.param("SerialNumber"), Some("arn:aws:iam::123456789012:mfa/alice"));
        assert_eq!(r.param("DurationSeconds"), Some("3600"));
        assert!(!format!("{r:?}").contains("50010"), "the recorder redacts the code too");
    }
    assert!(!format!("{:?}", handle.load()).contains("50010"));
    refresher.shutdown();
}

#[tokio::test]
async fn a_rejected_chain_invalidates_its_base() {
    let emulator = emulator();
    let sts = |arn: &str, base: CredentialsHandle| {
        AssumeRoleSource::builder(arn, base)
            .region(REGION)
            .endpoint(emulator.sts_endpoint())
            .request_timeout(REQUEST_TIMEOUT)
            .build()
            .unwrap()
    };
    let refresher = Refresher::builder().policy(policy()).start().unwrap();
    let base = refresher
        .add_role(
            "base",
            AssumeRoleSource::builder("arn:aws:iam::123456789012:role/base", long_term_keys())
                .region(REGION)
                .endpoint(emulator.sts_endpoint())
                .build()
                .unwrap(),
        )
        .unwrap();
    let chained = refresher.add_role("chained", sts(ARN, base.clone())).unwrap();
    chained.wait_ready(WAIT).await.unwrap();
    let base_key = key_of(&base);
    // The chained call was signed with the base role's session credentials.
    let last = emulator
        .requests(Call::AssumeRole)
        .into_iter()
        .rev()
        .find(|r| r.param("RoleArn") == Some(ARN))
        .unwrap();
    assert!(
        last.header("authorization")
            .unwrap()
            .contains(&format!("Credential={base_key}/"))
    );
    assert!(last.header("x-amz-security-token").is_some());

    let base_generation = base.load().generation();
    let mut base_events = base.subscribe();
    let mut chained_events = chained.subscribe();
    emulator.script(
        Call::AssumeRole,
        [Fault::AwsError {
            status: 400,
            code: "ExpiredToken".into(),
            message: "The security token included in the request is expired".into(),
        }],
    );
    chained.invalidate();
    let failed = next_event(&mut chained_events, WAIT, |k| {
        matches!(k, RefreshEventKind::Failed { .. })
    })
    .await;
    assert!(matches!(
        failed.kind,
        RefreshEventKind::Failed {
            class: ErrorClass::CredentialsRejected,
            ..
        }
    ));
    // The base was told: it fetched new credentials well before its schedule.
    refreshed_after(&mut base_events, base_generation).await;
    assert_ne!(key_of(&base), base_key);
    // And the chained role recovers on them.
    next_event(&mut chained_events, WAIT, |k| {
        matches!(k, RefreshEventKind::Refreshed { .. })
    })
    .await;
    assert_eq!(chained.load().state(), CredentialsState::Fresh);
    refresher.shutdown();
}

#[tokio::test]
async fn web_identity_through_the_emulator() {
    let emulator = emulator();
    let file = std::env::temp_dir().join(format!("credrefresh-sts-emu-token-{}", std::process::id()));
    std::fs::write(&file, "header.payload-one.signature\n").unwrap();
    let source = WebIdentitySource::builder(ARN, &file)
        .region(REGION)
        .endpoint(emulator.sts_endpoint())
        .session_name("pod-1")
        .build()
        .unwrap();
    let (refresher, handle, _) = started(policy(), "web", source, WAIT).await;
    let good = key_of(&handle);
    // The file is emptied: a configuration error, the credentials are kept.
    let mut events = handle.subscribe();
    std::fs::write(&file, "").unwrap();
    handle.invalidate();
    let failed = next_event(&mut events, WAIT, |k| matches!(k, RefreshEventKind::Failed { .. })).await;
    assert!(matches!(
        failed.kind,
        RefreshEventKind::Failed {
            class: ErrorClass::InvalidConfiguration,
            ..
        }
    ));
    assert_eq!(key_of(&handle), good);
    // A new token: the next retry (at the backoff cap) uses it.
    std::fs::write(&file, "header.payload-two.signature").unwrap();
    next_event(&mut events, WAIT, |k| matches!(k, RefreshEventKind::Refreshed { .. })).await;
    let sent = emulator.requests(Call::AssumeRoleWithWebIdentity);
    assert_eq!(
        sent.first().unwrap().param("WebIdentityToken"),
        Some("header.payload-one.signature")
    );
    assert_eq!(
        sent.last().unwrap().param("WebIdentityToken"),
        Some("header.payload-two.signature")
    );
    assert!(sent.iter().all(|r| r.header("authorization").is_none()), "unsigned");
    assert_eq!(sent[0].param("RoleSessionName"), Some("pod-1"));
    let _ = std::fs::remove_file(&file);
    refresher.shutdown();
}
