//! The STS sources against moto with authentication and IAM policy checks on
//! (every request's SigV4 signature is verified). Peer tests.
//!
//! moto ignores `Host` and routes a signed request by the credential scope
//! of its `Authorization` header, so a wrong service or region in our scope
//! shows up as a wrong answer: the tests assert the exact answers.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use credrefresh::clock::{Clock, SystemClock};
use credrefresh::sources::StaticSource;
use credrefresh::sources::sts::{
    AssumeRoleBuilder, AssumeRoleSource, BaseCredentials, SessionTokenSource, WebIdentitySource, sign_request,
};
use credrefresh::{Credentials, ErrorClass, FetchContext, RefreshEventKind, RefreshPolicy, Refresher, Source};

use crate::common::moto::{self, Moto};
use crate::common::peers;

const ACCOUNT: &str = "123456789012";
const FIRST_ROLE: &str = "arn:aws:iam::123456789012:role/first";
const SECOND_ROLE: &str = "arn:aws:iam::123456789012:role/second";
const REGION: &str = "us-east-1";
const WAIT: Duration = Duration::from_secs(30);

/// The IAM fixture: 6 calls, leaving the base user's key in `key`.
const IAM_CALLS: &str = r#"
# 1-3: the base user, its key, and what it may do.
iam.create_user(UserName="base-user")
key = iam.create_access_key(UserName="base-user")["AccessKey"]
iam.put_user_policy(UserName="base-user", PolicyName="sts", PolicyDocument=doc(
    {"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:GetSessionToken"], "Resource": "*"}))
# 4-5: a role trusting the user, allowed to assume further roles.
iam.create_role(RoleName="first", AssumeRolePolicyDocument=doc(
    {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:user/base-user"}, "Action": "sts:AssumeRole"}))
iam.put_role_policy(RoleName="first", PolicyName="chain", PolicyDocument=doc(
    {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}))
# 6: a role trusting the first role's session named chain-base (moto matches principals exactly).
iam.create_role(RoleName="second", AssumeRolePolicyDocument=doc(
    {"Effect": "Allow", "Principal": {"AWS": "arn:aws:sts::123456789012:assumed-role/first/chain-base"},
     "Action": "sts:AssumeRole"}))
"#;

/// moto with authentication on, the IAM fixture, and the base user's keys.
fn moto_with_fixture() -> (Moto, Credentials) {
    moto::with_iam_fixture(6, IAM_CALLS, SystemClock.now())
}

fn ctx() -> FetchContext {
    FetchContext::system("test")
}

/// An `AssumeRole` of `role` from `base`, at moto in [`REGION`].
fn assume_role(moto: &Moto, role: &str, base: impl Into<BaseCredentials>) -> AssumeRoleBuilder {
    AssumeRoleSource::builder(role, base)
        .region(REGION)
        .endpoint(&moto.endpoint)
}

/// Recorded calls of `action`, as parameter maps and whether each was signed.
fn recorded(moto: &Moto, action: &str) -> Vec<(HashMap<String, String>, bool)> {
    moto.recorded(action)
        .into_iter()
        .map(|r| (r.params, r.signed))
        .collect()
}

/// `GetCallerIdentity` signed by our own signer with `credentials`: the ARN.
pub(crate) async fn caller_arn(endpoint: &str, credentials: &Credentials) -> String {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut request = http::Request::builder()
        .method("POST")
        .uri(format!("{endpoint}/"))
        .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
        .body(b"Action=GetCallerIdentity&Version=2011-06-15".to_vec())
        .unwrap();
    sign_request(&mut request, credentials, "sts", REGION, SystemClock.now()).unwrap();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let response = client
        .execute(reqwest::Request::try_from(request).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = response.text().await.unwrap();
    assert!(status.is_success(), "GetCallerIdentity: {status} {body}");
    let start = body.find("<Arn>").expect("an Arn") + "<Arn>".len();
    let end = body[start..].find("</Arn>").expect("</Arn>") + start;
    body[start..end].to_string()
}

#[tokio::test]
#[ignore = "needs the real peers: scripts/test-all"]
async fn assume_role_returns_credentials_that_work() {
    let (moto, user) = moto_with_fixture();
    let source = assume_role(&moto, FIRST_ROLE, StaticSource::new(user.clone()))
        .session_name_prefix("moto-")
        .build()
        .unwrap();
    let before = SystemClock.now();
    let creds = source.fetch(ctx()).await.expect("AssumeRole");
    assert_ne!(creds.access_key_id(), user.access_key_id());
    assert!(creds.session_token().is_some());
    assert_eq!(creds.account_id(), Some(ACCOUNT));
    // moto writes the expiry with microseconds; AWS's default hour is kept.
    let lifetime = creds.expiry().unwrap().duration_since(before).unwrap();
    assert!(
        lifetime > Duration::from_secs(3590) && lifetime < Duration::from_secs(3610),
        "{lifetime:?}"
    );
    let micros = creds
        .expiry()
        .unwrap()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .subsec_micros();
    assert_ne!(micros, 0, "the fractional part of moto's Expiration was parsed");
    let arn = caller_arn(&moto.endpoint, &creds).await;
    let session = arn
        .strip_prefix("arn:aws:sts::123456789012:assumed-role/first/moto-")
        .unwrap_or_else(|| panic!("unexpected caller {arn}"));
    let secs: u64 = session.parse().expect("the session name ends with the unix time");
    assert!(secs.abs_diff(before.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs()) < 30);
    // The base user itself is still who it was.
    assert_eq!(
        caller_arn(&moto.endpoint, &user).await,
        "arn:aws:iam::123456789012:user/base-user"
    );
}

#[tokio::test]
#[ignore = "needs the real peers: scripts/test-all"]
async fn session_token_with_mfa_sends_serial_and_a_fresh_code() {
    let (moto, user) = moto_with_fixture();
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let source = SessionTokenSource::builder(StaticSource::new(user))
        .region(REGION)
        .endpoint(&moto.endpoint)
        .duration(Duration::from_secs(900))
        .mfa("arn:aws:iam::123456789012:mfa/base-user", move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move { Ok(format!("{}", 314_159 + n)) }
        })
        .build()
        .unwrap();
    moto.start_recording();
    let first = source.fetch(ctx()).await.expect("GetSessionToken");
    let second = source.fetch(ctx()).await.expect("GetSessionToken again");
    assert!(first.session_token().is_some() && second.session_token().is_some());
    assert!(first.expiry().is_some());
    assert_eq!(calls.load(Ordering::SeqCst), 2, "one code per refresh");
    let sent = recorded(&moto, "GetSessionToken");
    assert_eq!(sent.len(), 2, "{sent:?}");
    for ((params, signed), code) in sent.iter().zip(["314159", "314160"]) {
        assert!(signed);
        assert_eq!(params["SerialNumber"], "arn:aws:iam::123456789012:mfa/base-user");
        assert_eq!(params["TokenCode"], code);
        assert_eq!(params["DurationSeconds"], "900");
        assert_eq!(params["Version"], "2011-06-15");
    }
    let shown = format!("{source:?}");
    assert!(!shown.contains("314159") && !shown.contains("314160"), "{shown}");
}

#[tokio::test]
#[ignore = "needs the real peers: scripts/test-all"]
async fn web_identity_rereads_the_token_file() {
    // The call is unsigned; moto with authentication on cannot take unsigned
    // calls (it answers an HTML 500), so this moto runs without it.
    let moto = moto::start(false);
    let dir = std::env::temp_dir().join(format!(
        "credrefresh-sts-web-{}-{}",
        std::process::id(),
        moto.endpoint.len()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let token_file = dir.join(format!("token-{}", peers::free_port()));
    std::fs::write(&token_file, "eyJ.first-token-CONTENT.sig\n").unwrap();
    let vars: HashMap<&str, String> = HashMap::from([
        ("AWS_ROLE_ARN", FIRST_ROLE.to_string()),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token_file.to_str().unwrap().to_string()),
        ("AWS_ROLE_SESSION_NAME", "pod-7f9c".to_string()),
        ("AWS_REGION", REGION.to_string()),
    ]);
    let source = WebIdentitySource::from_env_with(move |k| vars.get(k).cloned())
        .unwrap()
        .endpoint(&moto.endpoint)
        .build()
        .unwrap();
    moto.start_recording();
    let creds = source.fetch(ctx()).await.expect("AssumeRoleWithWebIdentity");
    assert_eq!(creds.account_id(), Some(ACCOUNT));
    assert!(creds.session_token().is_some() && creds.expiry().is_some());
    // The token is rotated: the next fetch sends the new one.
    std::fs::write(&token_file, "eyJ.second-token-CONTENT.sig").unwrap();
    source.fetch(ctx()).await.expect("again");
    let sent = recorded(&moto, "AssumeRoleWithWebIdentity");
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sent[0].0["WebIdentityToken"], "eyJ.first-token-CONTENT.sig");
    assert_eq!(sent[1].0["WebIdentityToken"], "eyJ.second-token-CONTENT.sig");
    assert_eq!(sent[0].0["RoleSessionName"], "pod-7f9c");
    assert_eq!(sent[0].0["RoleArn"], FIRST_ROLE);
    assert!(!sent[0].1 && !sent[1].1, "web identity calls are not signed");
    // Emptied: a configuration error of that fetch, naming no token.
    std::fs::write(&token_file, "").unwrap();
    let err = source.fetch(ctx()).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::InvalidConfiguration);
    std::fs::remove_file(&token_file).unwrap();
    let err = source.fetch(ctx()).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::InvalidConfiguration);
    let shown = format!("{err} {err:?} {source:?}");
    assert!(!shown.contains("token-CONTENT"), "{shown}");
    assert_eq!(
        recorded(&moto, "AssumeRoleWithWebIdentity").len(),
        2,
        "no call without a token"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
#[ignore = "needs the real peers: scripts/test-all"]
async fn role_chain_through_a_refresher() {
    let (moto, user) = moto_with_fixture();
    let refresher = Refresher::builder()
        .role("base", StaticSource::new(user))
        .start()
        .unwrap();
    let base = refresher.handle("base").unwrap();
    let first = refresher
        .add_role(
            "first",
            assume_role(&moto, FIRST_ROLE, base)
                .session_name("chain-base")
                .build()
                .unwrap(),
        )
        .unwrap();
    // Two roles on one base handle: the second is chained on the first.
    let second = refresher
        .add_role(
            "second",
            assume_role(&moto, SECOND_ROLE, first.clone())
                .session_name("chained")
                .build()
                .unwrap(),
        )
        .unwrap();
    let second_snapshot = second
        .wait_ready(WAIT)
        .await
        .expect("the chained role gets credentials");
    let first_snapshot = first.wait_ready(WAIT).await.unwrap();
    let second_creds = second_snapshot.credentials().unwrap().clone();
    let first_creds = first_snapshot.credentials().unwrap().clone();
    assert_ne!(second_creds.access_key_id(), first_creds.access_key_id());
    assert_eq!(second_snapshot.source(), "sts");
    assert_eq!(
        caller_arn(&moto.endpoint, &first_creds).await,
        "arn:aws:sts::123456789012:assumed-role/first/chain-base"
    );
    assert_eq!(
        caller_arn(&moto.endpoint, &second_creds).await,
        "arn:aws:sts::123456789012:assumed-role/second/chained"
    );
    refresher.shutdown();
}

#[tokio::test]
#[ignore = "needs the real peers: scripts/test-all"]
async fn rejected_and_denied_answers_are_classified() {
    let (moto, user) = moto_with_fixture();
    let wrong = Credentials::new(
        user.access_key_id(),
        "not-the-secret-at-all-0123456789",
        SystemClock.now(),
    )
    .unwrap();
    let policy = RefreshPolicy::default().invalidation_cooldown(Duration::from_millis(100));
    let refresher = Refresher::builder()
        .policy(policy)
        .role("base", StaticSource::new(wrong))
        .start()
        .unwrap();
    let base = refresher.handle("base").unwrap();
    base.wait_ready(WAIT).await.unwrap();
    let generation = base.load().generation();
    let mut events = base.subscribe();

    let source = assume_role(&moto, FIRST_ROLE, base.clone()).build().unwrap();
    let err = source.fetch(ctx()).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::CredentialsRejected, "{err}");
    assert!(err.message().contains("SignatureDoesNotMatch"), "{err}");
    assert!(err.message().contains("HTTP 403"), "{err}");
    assert!(!format!("{err} {err:?}").contains("not-the-secret"));
    // The base handle was invalidated: its refresher fetches again at once
    // (a static source otherwise refreshes only every few minutes).
    // (The first fetch's own event may still be on its way: skip it.)
    loop {
        let event =
            crate::common::next_event(&mut events, WAIT, |k| matches!(k, RefreshEventKind::Refreshed { .. })).await;
        if event.generation > generation {
            break;
        }
    }

    // GetSessionToken with the same wrong secret: the same class.
    let session = SessionTokenSource::builder(base.clone())
        .region(REGION)
        .endpoint(&moto.endpoint)
        .build()
        .unwrap();
    assert_eq!(
        session.fetch(ctx()).await.unwrap_err().class(),
        ErrorClass::CredentialsRejected
    );

    // A key moto does not know: InvalidClientTokenId.
    let unknown = Credentials::new("AKIAUNKNOWNKEY000000", "whatever-secret", SystemClock.now()).unwrap();
    let err = assume_role(&moto, FIRST_ROLE, StaticSource::new(unknown))
        .build()
        .unwrap()
        .fetch(ctx())
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::CredentialsRejected, "{err}");
    assert!(err.message().contains("InvalidClientTokenId"), "{err}");

    // The right keys, but a role whose trust policy does not name the user.
    let err = assume_role(&moto, SECOND_ROLE, StaticSource::new(user))
        .build()
        .unwrap()
        .fetch(ctx())
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Denied, "{err}");
    assert!(err.message().contains("AccessDenied"), "{err}");
    refresher.shutdown();
}
