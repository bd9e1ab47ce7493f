//! No secret handled by the STS sources (base keys and session token, issued
//! keys and token, MFA code, web identity token) appears in a source's
//! `Debug`, an error's `Display` or `Debug`, or any log line down to TRACE
//! (aws-sigv4's included), while the secrets do reach the server.

use credrefresh::clock::{Clock, SystemClock};
use credrefresh::sources::StaticSource;
use credrefresh::sources::sts::{AssumeRoleSource, SessionTokenSource, WebIdentitySource};
use credrefresh::{Credentials, ErrorClass, FetchContext, Source};

use crate::canned::{Reply, assume_role_answer_with, canned, error_answer};
use crate::logs::Logs;

const BASE_SECRET: &str = "base-SECRET-wJalrXUtnFEMI";
const BASE_TOKEN: &str = "base-TOKEN-IQoJb3JpZ2luX2Vj";
const ISSUED_SECRET: &str = "issued-SECRET-9drTJvcXLB89EXAMPLE";
const ISSUED_TOKEN: &str = "issued-TOKEN-AQoDYXdzEJr";
const MFA_CODE: &str = "975310";
const WEB_TOKEN: &str = "eyJ.web-TOKEN-payload.sig";
const SECRETS: [&str; 6] = [
    BASE_SECRET,
    BASE_TOKEN,
    ISSUED_SECRET,
    ISSUED_TOKEN,
    MFA_CODE,
    WEB_TOKEN,
];

fn assert_clean(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what} shows a secret: {text}");
    }
}

#[tokio::test]
async fn secrets_stay_out_of_debug_errors_and_logs() {
    let logs = Logs::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber().finish());
    let ctx = FetchContext::system("secrets");
    let base = Credentials::builder("ASIABASE", BASE_SECRET, SystemClock.now())
        .session_token(BASE_TOKEN)
        .build()
        .unwrap();
    let mut shown = Vec::new();

    // AssumeRole: a success, a truncated body, a body cut short by the
    // connection, a rejection.
    let server = canned(vec![
        Reply::Full(200, assume_role_answer_with(ISSUED_SECRET, ISSUED_TOKEN)),
        Reply::Full(
            200,
            assume_role_answer_with(ISSUED_SECRET, ISSUED_TOKEN)[..300].to_string(),
        ),
        Reply::Truncated(assume_role_answer_with(ISSUED_SECRET, ISSUED_TOKEN)),
        Reply::Full(403, error_answer("SignatureDoesNotMatch")),
    ])
    .await;
    let source = AssumeRoleSource::builder("arn:aws:iam::123456789012:role/r", StaticSource::new(base.clone()))
        .region("eu-west-1")
        .endpoint(&server.endpoint)
        .build()
        .unwrap();
    let creds = source.fetch(ctx.clone()).await.unwrap();
    assert_eq!(creds.secret_access_key(), ISSUED_SECRET);
    shown.push(format!("{creds:?} {creds}"));
    let cut = source.fetch(ctx.clone()).await.unwrap_err();
    assert_eq!(cut.class(), ErrorClass::InvalidResponse);
    let dropped = source.fetch(ctx.clone()).await.unwrap_err();
    assert_eq!(dropped.class(), ErrorClass::Retryable, "{dropped}");
    let rejected = source.fetch(ctx.clone()).await.unwrap_err();
    assert_eq!(rejected.class(), ErrorClass::CredentialsRejected);
    for e in [&cut, &dropped, &rejected] {
        shown.push(format!("{e} {e:?}"));
    }
    shown.push(format!("{source:?} {source:#?}"));
    let sent = server.received.lock().unwrap().join("\n");
    assert!(
        sent.to_ascii_lowercase()
            .contains(&format!("x-amz-security-token: {}", BASE_TOKEN.to_ascii_lowercase()))
    );

    // GetSessionToken with MFA, rejected.
    let server = canned(vec![Reply::Full(403, error_answer("ExpiredToken"))]).await;
    let source = SessionTokenSource::builder(StaticSource::new(base.clone()))
        .region("eu-west-1")
        .endpoint(&server.endpoint)
        .mfa("arn:aws:iam::123456789012:mfa/alice", || async {
            Ok(MFA_CODE.to_string())
        })
        .build()
        .unwrap();
    let e = source.fetch(ctx.clone()).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::CredentialsRejected);
    shown.push(format!("{e} {e:?} {source:?}"));
    assert!(server.received.lock().unwrap()[0].contains(&format!("TokenCode={MFA_CODE}")));

    // Web identity: an answer, then a file that has gone.
    let server = canned(vec![Reply::Full(400, error_answer("InvalidIdentityToken"))]).await;
    let file = std::env::temp_dir().join(format!("credrefresh-sts-secrets-{}", std::process::id()));
    std::fs::write(&file, WEB_TOKEN).unwrap();
    let source = WebIdentitySource::builder("arn:aws:iam::123456789012:role/r", &file)
        .region("eu-west-1")
        .endpoint(&server.endpoint)
        .build()
        .unwrap();
    let e = source.fetch(ctx.clone()).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::CredentialsRejected);
    shown.push(format!("{e} {e:?} {source:?}"));
    assert!(server.received.lock().unwrap()[0].contains(&format!("WebIdentityToken={WEB_TOKEN}")));
    std::fs::remove_file(&file).unwrap();
    let e = source.fetch(ctx.clone()).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::InvalidConfiguration);
    shown.push(format!("{e} {e:?}"));

    for text in &shown {
        assert_clean("Debug/Display", text);
    }
    let logs = logs.text();
    // The capture works: our debug line and aws-sigv4's trace lines are there.
    assert!(logs.contains("STS AssumeRole succeeded"), "{logs}");
    assert!(logs.contains("signing request"), "{logs}");
    assert_clean("the logs", &logs);
}
