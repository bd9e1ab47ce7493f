//! The AWS SDK for Rust signing with credrefresh credentials, against moto
//! with authentication and IAM policy checks on: moto verifies every SigV4
//! signature with the key the request names, so an answer proves the SDK
//! signed with exactly the credentials the handle held. Peer tests, ignored
//! unless run by `scripts/test-all`.

#[path = "../../common/mod.rs"]
pub mod common;

use std::time::Duration;

use common::moto::{self, Moto};
use common::next_event;
use credrefresh::sources::StaticSource;
use credrefresh::sources::sts::AssumeRoleSource;
use credrefresh::{Credentials, RefreshEventKind, RefreshPolicy, Refresher};
use sdk_interop::sts_client;

const USER_ARN: &str = "arn:aws:iam::123456789012:user/sdk-user";
const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/sdk-role";
const SESSION: &str = "sdk-session";
const ASSUMED_ARN: &str = "arn:aws:sts::123456789012:assumed-role/sdk-role/sdk-session";
const WAIT: Duration = Duration::from_secs(30);

/// The IAM fixture: 5 calls, leaving the user's key in `key`.
const IAM_CALLS: &str = r#"
iam.create_user(UserName="sdk-user")
key = iam.create_access_key(UserName="sdk-user")["AccessKey"]
iam.put_user_policy(UserName="sdk-user", PolicyName="sts", PolicyDocument=doc(
    {"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:GetCallerIdentity"], "Resource": "*"}))
iam.create_role(RoleName="sdk-role", AssumeRolePolicyDocument=doc(
    {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:user/sdk-user"}, "Action": "sts:AssumeRole"}))
iam.put_role_policy(RoleName="sdk-role", PolicyName="whoami", PolicyDocument=doc(
    {"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}))
"#;

/// moto with authentication on, the IAM fixture, and the user's keys.
fn moto_with_fixture() -> (Moto, Credentials) {
    moto::with_iam_fixture(5, IAM_CALLS, std::time::SystemTime::UNIX_EPOCH)
}

/// Access key IDs that signed each recorded call of `action`, in order.
fn signing_keys(moto: &Moto, action: &str) -> Vec<Option<String>> {
    moto.recorded(action).into_iter().map(|r| r.key).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real peers: scripts/test-all"]
async fn sdk_signs_with_the_static_keys_of_the_handle() {
    let (moto, user) = moto_with_fixture();
    let refresher = Refresher::builder()
        .role("user", StaticSource::new(user.clone()))
        .start()
        .unwrap();
    let handle = refresher.handle("user").unwrap();
    handle.wait_ready(WAIT).await.unwrap();
    moto.start_recording();

    let sts = sts_client(&handle, &moto.endpoint);
    let me = sts.get_caller_identity().send().await.expect("GetCallerIdentity");
    assert_eq!(me.arn(), Some(USER_ARN));
    assert_eq!(me.account(), Some("123456789012"));
    assert_eq!(
        signing_keys(&moto, "GetCallerIdentity"),
        [Some(user.access_key_id().to_string())]
    );

    // A key moto does not know is refused: the answer above is no accident.
    let bogus = Refresher::builder()
        .role(
            "bogus",
            StaticSource::new(
                Credentials::new(
                    "AKIABOGUSBOGUSBOGUS0",
                    "bogus-secret-bogus-secret",
                    std::time::SystemTime::UNIX_EPOCH,
                )
                .unwrap(),
            ),
        )
        .start()
        .unwrap();
    let bogus_handle = bogus.handle("bogus").unwrap();
    bogus_handle.wait_ready(WAIT).await.unwrap();
    let err = sts_client(&bogus_handle, &moto.endpoint)
        .get_caller_identity()
        .send()
        .await
        .unwrap_err();
    // moto wraps its error in `<Errors>`, a form the SDK's Query parser does
    // not read (no code), so the raw answer is checked.
    let raw = err.raw_response().expect("an HTTP answer");
    assert_eq!(raw.status().as_u16(), 403);
    let body = String::from_utf8_lossy(raw.body().bytes().unwrap_or_default()).to_string();
    assert!(body.contains("<Code>InvalidClientTokenId</Code>"), "{body}");
    bogus.shutdown();
    refresher.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real peers: scripts/test-all"]
async fn sdk_calls_as_the_assumed_role_and_signs_with_each_refreshed_key() {
    let (moto, user) = moto_with_fixture();
    let source = AssumeRoleSource::builder(ROLE_ARN, StaticSource::new(user.clone()))
        .endpoint(&moto.endpoint)
        .region(sdk_interop::REGION)
        .session_name(SESSION)
        .build()
        .unwrap();
    // moto's sessions last at least 900 s: a refresh is asked for by
    // invalidation instead, with no cooldown.
    let refresher = Refresher::builder()
        .policy(RefreshPolicy::default().invalidation_cooldown(Duration::ZERO))
        .role("app", source)
        .start()
        .unwrap();
    let handle = refresher.handle("app").unwrap();
    handle.wait_ready(WAIT).await.expect("AssumeRole on moto");
    moto.start_recording();

    let sts = sts_client(&handle, &moto.endpoint);
    let me = sts.get_caller_identity().send().await.expect("GetCallerIdentity");
    assert_eq!(me.arn(), Some(ASSUMED_ARN));
    assert!(me.user_id().is_some_and(|id| id.ends_with(":sdk-session")), "{me:?}");
    let first_key = handle.load().credentials().unwrap().access_key_id().to_string();
    assert_ne!(first_key, user.access_key_id());

    let mut events = handle.subscribe();
    handle.invalidate();
    next_event(&mut events, WAIT, |k| matches!(k, RefreshEventKind::Refreshed { .. })).await;
    let second_key = handle.load().credentials().unwrap().access_key_id().to_string();
    assert_ne!(second_key, first_key, "moto issues a new key per AssumeRole");

    // The same client, no rebuild: its next request signs with the new key.
    let me = sts
        .get_caller_identity()
        .send()
        .await
        .expect("GetCallerIdentity after the refresh");
    assert_eq!(me.arn(), Some(ASSUMED_ARN));
    assert_eq!(
        signing_keys(&moto, "GetCallerIdentity"),
        [Some(first_key), Some(second_key)]
    );
    // The refresh itself was signed by the user's static key.
    assert_eq!(
        signing_keys(&moto, "AssumeRole"),
        [Some(user.access_key_id().to_string())]
    );
    refresher.shutdown();
}
