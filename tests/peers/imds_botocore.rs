//! botocore (boto3's credential chain) and our `ImdsSource` read the
//! emulator's IMDS the same way: botocore, pointed at it with
//! `AWS_EC2_METADATA_SERVICE_ENDPOINT`, gets exactly the credentials the
//! emulator issued to its request, and our source exactly those issued to
//! ours, both over IMDSv2 (the emulator refuses v1). The emulator issues
//! new credentials for every request, so "the same" is checked against its
//! record of what it issued, field by field.

use std::time::{Duration, SystemTime};

use credrefresh::sources::ImdsSource;
use credrefresh::testing::{Call, Emulator};
use credrefresh::{FetchContext, Source};

use crate::common::botocore::assert_each_got_what_was_issued;

/// botocore's credentials from `env`, with nothing else set but
/// one short IMDS attempt.
fn botocore(env: &[(&str, String)]) -> serde_json::Value {
    crate::common::botocore::credentials(
        &[
            ("AWS_METADATA_SERVICE_TIMEOUT", "2"),
            ("AWS_METADATA_SERVICE_NUM_ATTEMPTS", "1"),
        ],
        env,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real peers: scripts/test-all"]
async fn botocore_and_our_imds_source_get_what_the_emulator_issued() {
    let emulator = Emulator::builder()
        .imds_v1_allowed(false)
        // An hour: botocore refreshes (a second request) within 15 min of expiry.
        .credential_lifetime(Duration::from_secs(3600))
        .start()
        .unwrap();
    let env = [("AWS_EC2_METADATA_SERVICE_ENDPOINT", emulator.imds_endpoint())];
    let theirs = botocore(&env);
    let ours = ImdsSource::builder()
        .env_lookup(crate::common::lookup(env))
        .build()
        .unwrap()
        .fetch(FetchContext::system("peer"))
        .await
        .unwrap();

    assert_eq!(theirs["method"], "iam-role");
    let issued = assert_each_got_what_was_issued(&emulator, &theirs, &ours);
    assert!(issued.iter().all(|i| i.call == Call::ImdsCredentials));
    let secs = |t: SystemTime| t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    assert_eq!(ours.expiry().map(secs), Some(secs(issued[1].expiration)));
    // Both asked the same paths, both with a session token.
    let requests = emulator.requests(Call::ImdsCredentials);
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].path, requests[1].path);
    assert!(requests.iter().all(|r| r.header("x-aws-ec2-metadata-token").is_some()));
    assert_eq!(emulator.count(Call::ImdsToken), 2);
}
