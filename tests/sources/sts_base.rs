//! Base credentials read from another role's handle: a fetch waits, within
//! its bound, for a base that is not ready yet, and fails as retryable when
//! the base stays unavailable.

use std::time::Duration;

use credrefresh::sources::sts::AssumeRoleSource;
use credrefresh::{ErrorClass, FetchContext, Refresher, Source};

use crate::canned::{Reply, assume_role_answer, canned};
use crate::common::fake::{FakeSource, Step};

const ARN: &str = "arn:aws:iam::123456789012:role/r";

#[tokio::test]
async fn waits_for_a_base_that_becomes_ready() {
    // The base's first fetch fails; its retry (after about a second of
    // backoff) succeeds while our fetch is waiting.
    let base_source = FakeSource::new(
        [Step::Fail(ErrorClass::Retryable)],
        Step::Ok(Some(Duration::from_secs(3600))),
    );
    let refresher = Refresher::builder().role("base", base_source.clone()).start().unwrap();
    let base = refresher.handle("base").unwrap();
    let server = canned(vec![Reply::Full(200, assume_role_answer())]).await;
    let source = AssumeRoleSource::builder(ARN, base.clone())
        .region("eu-west-1")
        .endpoint(&server.endpoint)
        .base_wait(Duration::from_secs(20))
        .build()
        .unwrap();
    let creds = source
        .fetch(FetchContext::system("child"))
        .await
        .expect("waited for the base");
    assert_eq!(creds.access_key_id(), "ASIAISSUED");
    assert!(base_source.fetches() >= 2, "the base failed first, then succeeded");
    // The call was signed with the base's credentials as they were then.
    let base_key = base.load().credentials().unwrap().access_key_id().to_string();
    let sent = server.received.lock().unwrap()[0].clone();
    assert!(sent.contains(&format!("Credential={base_key}/")), "{sent}");
    refresher.shutdown();
}

#[tokio::test]
async fn a_base_that_stays_unavailable_is_retryable() {
    let refresher = Refresher::builder()
        .role("base", FakeSource::new([], Step::Fail(ErrorClass::NotLoaded)))
        .start()
        .unwrap();
    let base = refresher.handle("base").unwrap();
    base.wait_for(Duration::from_secs(10), |s| s.last_error_class().is_some())
        .await
        .expect("the base's first fetch failed");
    let source = AssumeRoleSource::builder(ARN, base)
        .region("eu-west-1")
        // Never called: the fetch gives up before.
        .endpoint("http://127.0.0.1:9")
        .base_wait(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = source.fetch(FetchContext::system("child")).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Retryable, "{err}");
    assert!(err.message().contains("role `base`"), "{err}");
    assert!(err.message().contains("not_loaded"), "its last error is named: {err}");
    refresher.shutdown();
}
