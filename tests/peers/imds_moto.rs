//! Our IMDS source and the default chain against moto's instance metadata
//! service (a real, independent implementation). moto serves `/latest/...`
//! on its main port, answers the IMDSv2 token call without requiring the
//! token afterwards, and omits `Code`, `LastUpdated` and `Type` from the
//! credentials document; `INITIAL_NO_AUTH_ACTION_COUNT` does not apply to
//! it (the metadata paths bypass moto's IAM checks), so either setting works.

use std::time::Duration;

use credrefresh::sources::{DefaultChain, ImdsSource};
use credrefresh::{FetchContext, Refresher, Source};

use crate::common::lookup;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real peers: scripts/test-all"]
async fn imds_source_reads_motos_instance_profile() {
    // With IAM checks on from the first call, to show they do not apply to IMDS.
    let moto = crate::common::peers::start_moto();
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    let source = ImdsSource::builder()
        .env_lookup(lookup(vec![("AWS_EC2_METADATA_SERVICE_ENDPOINT", endpoint)]))
        .build()
        .expect("valid configuration");
    let credentials = source.fetch(FetchContext::system("moto")).await.expect("moto answers");
    assert_eq!(credentials.access_key_id(), "test-key");
    assert_eq!(credentials.secret_access_key(), "test-secret-key");
    assert_eq!(credentials.session_token(), Some("test-session-token"));
    let expiry = credentials.expiry().expect("moto sets Expiration");
    let lifetime = expiry
        .duration_since(credentials.issued_at())
        .expect("expires in the future");
    // moto: tomorrow, at second precision.
    assert!(
        lifetime > Duration::from_secs(86_000) && lifetime <= Duration::from_secs(86_400),
        "{lifetime:?}"
    );
    // The role found by discovery, given by name: the same answer.
    let named = ImdsSource::builder()
        .env_lookup(lookup(vec![]))
        .endpoint(format!("http://127.0.0.1:{}", moto.port))
        .role_name("default-role")
        .build()
        .unwrap();
    assert_eq!(
        named.fetch(FetchContext::system("moto")).await.unwrap().access_key_id(),
        "test-key"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real peers: scripts/test-all"]
async fn default_chain_chooses_motos_imds_and_the_snapshot_says_so() {
    let moto = crate::common::peers::start_moto_with(&[]);
    let chain = DefaultChain::with_lookup(lookup(vec![(
        "AWS_EC2_METADATA_SERVICE_ENDPOINT",
        format!("http://127.0.0.1:{}", moto.port),
    )]))
    .unwrap();
    let refresher = Refresher::builder().role("app", chain).start().unwrap();
    let handle = refresher.handle("app").unwrap();
    assert_eq!(handle.load().source(), "chain");
    let snapshot = handle
        .wait_ready(Duration::from_secs(20))
        .await
        .expect("credentials from moto");
    assert_eq!(snapshot.credentials().unwrap().access_key_id(), "test-key");
    assert_eq!(snapshot.source(), "chain");
    assert_eq!(snapshot.resolved_source(), "imds");
    refresher.shutdown();
}
