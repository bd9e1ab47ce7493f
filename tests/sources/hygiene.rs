//! Secret hygiene at the edges: what a builder's `Debug` shows, what an
//! STS request id may carry into an error, and an endpoint URL's
//! `user:password`, never shown.

use std::time::SystemTime;

use credrefresh::sources::imds::ImdsSource;
use credrefresh::sources::sts::{AssumeRoleSource, SessionTokenSource, WebIdentitySource};
use credrefresh::sources::{EcsSource, StaticSource};
use credrefresh::{Credentials, ErrorClass, FetchContext, REDACTED, Source};

use crate::canned::{Reply, canned};

const ARN: &str = "arn:aws:iam::123456789012:role/hygiene";
const EXTERNAL_ID: &str = "partner-external-id-4242";
const PASSWORD: &str = "hunter2-pass";

fn keys() -> StaticSource {
    StaticSource::new(Credentials::new("AKIDHYGIENE", "hygiene-secret-key", SystemTime::UNIX_EPOCH).unwrap())
}

#[test]
fn assume_role_builder_debug_redacts_the_external_id() {
    let builder = AssumeRoleSource::builder(ARN, keys())
        .region("us-east-1")
        .external_id(EXTERNAL_ID);
    let shown = format!("{builder:?}");
    assert!(!shown.contains(EXTERNAL_ID), "{shown}");
    assert!(shown.contains(&format!("external_id: Some({REDACTED:?})")), "{shown}");
    assert!(shown.contains(ARN), "{shown}");
    // Unset, it says so.
    let shown = format!("{:?}", AssumeRoleSource::builder(ARN, keys()));
    assert!(shown.contains("external_id: None"), "{shown}");
}

#[test]
fn the_other_builders_show_no_secret_either() {
    let session = SessionTokenSource::builder(keys())
        .region("us-east-1")
        .mfa("arn:aws:iam::123456789012:mfa/user", || async {
            Ok("123456".to_string())
        });
    let shown = format!("{session:?}");
    assert!(
        shown.contains("arn:aws:iam::123456789012:mfa/user"),
        "the serial is not secret: {shown}"
    );
    assert!(!shown.contains("hygiene-secret-key"), "{shown}");
    let ecs = EcsSource::builder()
        .env_lookup(|_| None)
        .auth_token("ecs-auth-token-value");
    let shown = format!("{ecs:?}");
    assert!(
        !shown.contains("ecs-auth-token-value") && shown.contains(REDACTED),
        "{shown}"
    );
}

/// A 400 error answer whose request ids (body and header) are hostile.
async fn fetch_error(body_id: Option<&str>, header_id: &str) -> String {
    let body = match body_id {
        Some(id) => format!(
            "<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code><Message>nope</Message></Error>\
             <RequestId>{id}</RequestId></ErrorResponse>"
        ),
        None => "<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code><Message>nope</Message></Error>\
                 </ErrorResponse>"
            .to_string(),
    };
    let server = canned(vec![Reply::WithHeaders(
        400,
        format!("x-amzn-requestid: {header_id}\r\n"),
        body,
    )])
    .await;
    let source = AssumeRoleSource::builder(ARN, keys())
        .region("us-east-1")
        .endpoint(&server.endpoint)
        .build()
        .unwrap();
    let error = source.fetch(FetchContext::system("hygiene")).await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::Denied, "{error}");
    error.message().to_string()
}

#[tokio::test]
async fn request_ids_are_cut_to_a_safe_charset() {
    // From the body: a forged log line, then 60,000 characters. Kept:
    // letters, digits and `-_.+/=` (UUIDs and base64 ids), 64 at most.
    let forged = format!(
        "4f2c-ab\n2026-11-30T02:00:00Z ERROR forged line &lt;x&gt; {}",
        "A".repeat(60_000)
    );
    let message = fetch_error(Some(&forged), "hdr-id").await;
    let kept: String = "4f2c-ab2026-11-30T020000ZERRORforgedlinex"
        .chars()
        .chain("A".repeat(64).chars())
        .take(64)
        .collect();
    assert_eq!(
        message,
        format!("STS AssumeRole: HTTP 400 ValidationError: nope (request id {kept})")
    );
    // From the header (used when the body has none): spaces and symbols
    // dropped, cut at 64.
    let header = format!("id 0001;<script>{}", "b".repeat(8000));
    let message = fetch_error(None, &header).await;
    let kept: String = "id0001script".chars().chain("b".repeat(64).chars()).take(64).collect();
    assert_eq!(
        message,
        format!("STS AssumeRole: HTTP 400 ValidationError: nope (request id {kept})")
    );
    // Nothing left: no request id at all.
    let message = fetch_error(Some("\n&lt;&gt;\t "), "   ").await;
    assert_eq!(message, "STS AssumeRole: HTTP 400 ValidationError: nope");
}

/// Every way an endpoint with `user:password` could be shown.
#[tokio::test]
async fn endpoint_user_and_password_are_never_shown() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://admin:{PASSWORD}@127.0.0.1:{port}/");
    let assert_clean = |what: &str, text: &str| {
        assert!(!text.contains(PASSWORD) && !text.contains("admin"), "{what}: {text}");
    };

    // STS: the builder, the source, a fetch's error, build errors.
    let builder = AssumeRoleSource::builder(ARN, keys())
        .region("us-east-1")
        .endpoint(&endpoint);
    assert_clean("AssumeRoleBuilder Debug", &format!("{builder:?}"));
    let source = builder.build().unwrap();
    let shown = format!("{source:?}");
    assert_clean("AssumeRoleSource Debug", &shown);
    assert!(shown.contains(&format!("http://127.0.0.1:{port}/")), "{shown}");
    let error = source.fetch(FetchContext::system("hygiene")).await.unwrap_err();
    assert_clean("fetch error", &format!("{error} {error:?}"));
    for bad in [
        format!("http://admin:{PASSWORD}@sts.internal.example"),
        format!("ftp://admin:{PASSWORD}@127.0.0.1/"),
        format!("http://admin:{PASSWORD}@[::zz]/"),
        format!("https://admin:{PASSWORD}@/nohost"),
    ] {
        let error = WebIdentitySource::builder(ARN, "/t")
            .region("us-east-1")
            .endpoint(&bad)
            .build()
            .unwrap_err();
        assert_clean(&bad, &format!("{error} {error:?}"));
    }

    // IMDS.
    let imds = ImdsSource::builder().env_lookup(|_| None).endpoint(&endpoint);
    assert_clean("ImdsSourceBuilder Debug", &format!("{imds:?}"));
    let imds = imds.build().unwrap();
    assert_clean("ImdsSource Debug", &format!("{imds:?}"));
    let error = imds.fetch(FetchContext::system("hygiene")).await.unwrap_err();
    assert_clean("IMDS fetch error", &format!("{error} {error:?}"));
    let error = ImdsSource::builder()
        .env_lookup(|_| None)
        .endpoint(format!("http://admin:{PASSWORD}@[::zz]/"))
        .build()
        .unwrap_err();
    assert_clean("IMDS build error", &format!("{error} {error:?}"));

    // The container endpoint.
    let ecs = EcsSource::builder().env_lookup(|_| None).full_uri(&endpoint);
    assert_clean("EcsSourceBuilder Debug", &format!("{ecs:?}"));
    let ecs = ecs.build().unwrap();
    assert_clean("EcsSource Debug", &format!("{ecs:?}"));
    let error = ecs.fetch(FetchContext::system("hygiene")).await.unwrap_err();
    assert_clean("container fetch error", &format!("{error} {error:?}"));
    for bad in [
        format!("http://admin:{PASSWORD}@example.com/creds"),
        format!("http://admin:{PASSWORD}@[::zz]/"),
    ] {
        let error = EcsSource::builder()
            .env_lookup(|_| None)
            .full_uri(&bad)
            .build()
            .unwrap_err();
        assert_clean(&bad, &format!("{error} {error:?}"));
    }
    let error = EcsSource::builder()
        .env_lookup(|_| None)
        .relative_uri(format!("//admin:{PASSWORD}@evil.example/creds"))
        .build()
        .unwrap_err();
    assert_clean("relative URI error", &format!("{error} {error:?}"));
}
