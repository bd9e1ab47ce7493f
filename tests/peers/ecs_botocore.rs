//! botocore (boto3's credential chain) and our `EcsSource` read the
//! emulator's container endpoint the same way: pointed at it with
//! `AWS_CONTAINER_CREDENTIALS_FULL_URI` and
//! `AWS_CONTAINER_AUTHORIZATION_TOKEN`, botocore gets exactly the
//! credentials the emulator issued to its request, and our source exactly
//! those issued to ours; both sent the same authorization header. The
//! emulator issues new credentials for every request, so "the same" is
//! checked against its record of what it issued.

use std::time::Duration;

use credrefresh::sources::EcsSource;
use credrefresh::testing::{Call, Emulator};
use credrefresh::{FetchContext, Source};

use crate::common::botocore::assert_each_got_what_was_issued;

/// botocore's credentials from `env`, with nothing else set but
/// IMDS off.
fn botocore(env: &[(&str, String)]) -> serde_json::Value {
    crate::common::botocore::credentials(&[("AWS_EC2_METADATA_DISABLED", "true")], env)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real peers: scripts/test-all"]
async fn botocore_and_our_ecs_source_get_what_the_emulator_issued() {
    let emulator = Emulator::builder()
        // An hour: botocore refreshes (a second request) within 15 min of expiry.
        .credential_lifetime(Duration::from_secs(3600))
        .start()
        .unwrap();
    let env = [
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", emulator.ecs_full_uri()),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", emulator.ecs_auth_token()),
    ];
    let theirs = botocore(&env);
    let ours = EcsSource::builder()
        .env_lookup(crate::common::lookup(env))
        .build()
        .unwrap()
        .fetch(FetchContext::system("peer"))
        .await
        .unwrap();

    assert_eq!(theirs["method"], "container-role");
    assert_each_got_what_was_issued(&emulator, &theirs, &ours);
    let requests = emulator.requests(Call::Ecs);
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].header("authorization"), requests[1].header("authorization"));
    assert_eq!(
        requests[1].header("authorization"),
        Some(emulator.ecs_auth_token().as_str())
    );
}
