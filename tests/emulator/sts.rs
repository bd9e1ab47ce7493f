//! The emulator's STS speaks the Query protocol: real XML documents,
//! lifetimes as configured, validation and signing errors as STS sends them.

use std::time::{Duration, SystemTime};

use credrefresh::clock::{Clock, SystemClock};
use credrefresh::testing::{Call, Emulator};
use serde::Deserialize;

use crate::client::client;

/// A SigV4 `Authorization` header of the right shape for `akid` (the
/// emulator checks the shape, not the signature).
fn authorization(akid: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential={akid}/20260101/us-east-1/sts/aws4_request, \
         SignedHeaders=content-type;host;x-amz-date, Signature=0123456789abcdef"
    )
}

struct Answer {
    status: u16,
    request_id: Option<String>,
    content_type: Option<String>,
    body: String,
}

/// POSTs a form to STS, signed as `signer` when given.
async fn post(emulator: &Emulator, params: &[(&str, &str)], signer: Option<&str>) -> Answer {
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let mut request = client()
        .post(emulator.sts_endpoint())
        .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
        .body(form);
    if let Some(akid) = signer {
        request = request
            .header("authorization", authorization(akid))
            .header("x-amz-date", "20260101T000000Z");
    }
    answer(request.send().await.expect("send")).await
}

async fn answer(response: reqwest::Response) -> Answer {
    let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_string());
    let (request_id, content_type) = (header("x-amzn-requestid"), header("content-type"));
    Answer {
        status: response.status().as_u16(),
        request_id,
        content_type,
        body: response.text().await.expect("body"),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Metadata {
    request_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct XmlCredentials {
    access_key_id: String,
    secret_access_key: String,
    session_token: String,
    expiration: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AssumedRoleUser {
    assumed_role_id: String,
    arn: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AssumeRoleResult {
    credentials: XmlCredentials,
    assumed_role_user: AssumedRoleUser,
    packed_policy_size: Option<u32>,
    source_identity: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AssumeRoleResponse {
    assume_role_result: AssumeRoleResult,
    response_metadata: Metadata,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetSessionTokenResult {
    credentials: XmlCredentials,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetSessionTokenResponse {
    get_session_token_result: GetSessionTokenResult,
    response_metadata: Metadata,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WebIdentityResult {
    credentials: XmlCredentials,
    assumed_role_user: AssumedRoleUser,
    subject_from_web_identity_token: String,
    audience: String,
    provider: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WebIdentityResponse {
    assume_role_with_web_identity_result: WebIdentityResult,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CallerIdentity {
    arn: String,
    user_id: String,
    account: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CallerIdentityResponse {
    get_caller_identity_result: CallerIdentity,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorBody {
    r#type: String,
    code: String,
    message: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorResponse {
    error: ErrorBody,
    request_id: String,
}

fn parse<T: for<'de> Deserialize<'de>>(body: &str) -> T {
    quick_xml::de::from_str(body).unwrap_or_else(|e| panic!("unparsable STS XML ({e}):\n{body}"))
}

fn expiration(credentials: &XmlCredentials) -> SystemTime {
    let t = time::OffsetDateTime::parse(&credentials.expiration, &time::format_description::well_known::Rfc3339)
        .expect("RFC 3339 Expiration");
    assert!(credentials.expiration.ends_with('Z'), "{}", credentials.expiration);
    assert!(
        !credentials.expiration.contains('.'),
        "whole seconds: {}",
        credentials.expiration
    );
    SystemTime::from(t)
}

/// `credentials` expire `lifetime` after `before`..`after`, give or take
/// the whole-second rounding.
fn assert_lifetime(credentials: &XmlCredentials, before: SystemTime, after: SystemTime, lifetime: Duration) {
    let expires = expiration(credentials);
    assert!(
        expires + Duration::from_secs(1) >= before + lifetime && expires <= after + lifetime,
        "expiration {expires:?} is not {lifetime:?} after the call"
    );
}

fn assert_key_shapes(credentials: &XmlCredentials) {
    let akid = &credentials.access_key_id;
    assert_eq!(akid.len(), 20, "{akid}");
    assert!(akid.starts_with("ASIA"), "{akid}");
    assert!(
        akid[4..].bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
        "{akid}"
    );
    assert_eq!(credentials.secret_access_key.len(), 40);
    assert!(credentials.session_token.len() >= 300);
}

const ROLE: &str = "arn:aws:iam::123456789012:role/service/app-role";

#[tokio::test]
async fn assume_role_answers_the_real_document_with_the_configured_lifetime() {
    let lifetime = Duration::from_secs(7);
    let emulator = Emulator::builder().credential_lifetime(lifetime).start().unwrap();
    let before = SystemClock.now();
    let answer = post(
        &emulator,
        &[
            ("Action", "AssumeRole"),
            ("Version", "2011-06-15"),
            ("RoleArn", ROLE),
            ("RoleSessionName", "refresh@app"),
            ("SourceIdentity", "alice"),
        ],
        Some("AKIDEXAMPLE"),
    )
    .await;
    let after = SystemClock.now();
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.content_type.as_deref(), Some("text/xml"));
    assert!(
        answer
            .body
            .contains("xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"")
    );
    let doc: AssumeRoleResponse = parse(&answer.body);
    assert_eq!(
        answer.request_id.as_deref(),
        Some(doc.response_metadata.request_id.as_str())
    );

    let result = doc.assume_role_result;
    assert_key_shapes(&result.credentials);
    assert_lifetime(&result.credentials, before, after, lifetime);
    assert_eq!(
        result.assumed_role_user.arn,
        "arn:aws:sts::123456789012:assumed-role/app-role/refresh@app"
    );
    let role_id = &result.assumed_role_user.assumed_role_id;
    assert!(
        role_id.starts_with("AROA") && role_id.ends_with(":refresh@app"),
        "{role_id}"
    );
    assert_eq!(result.source_identity.as_deref(), Some("alice"));
    assert_eq!(result.packed_policy_size, None, "no session policy, no packed size");

    let issued = emulator.issued();
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].call, Call::AssumeRole);
    assert_eq!(issued[0].access_key_id, result.credentials.access_key_id);
    // The document carries the issued expiration, cut to whole seconds.
    let in_document = expiration(&result.credentials);
    assert!(in_document <= issued[0].expiration && issued[0].expiration < in_document + Duration::from_secs(1));
    let secrets = emulator.issued_secrets();
    assert!(secrets.contains(&result.credentials.secret_access_key));
    assert!(secrets.contains(&result.credentials.session_token));
}

#[tokio::test]
async fn a_shorter_requested_duration_wins_and_policies_are_packed() {
    let emulator = Emulator::start().unwrap();
    let before = SystemClock.now();
    let answer = post(
        &emulator,
        &[
            ("Action", "AssumeRole"),
            ("RoleArn", ROLE),
            ("RoleSessionName", "s1"),
            ("DurationSeconds", "900"),
            ("Policy", r#"{"Version":"2012-10-17","Statement":[]}"#),
        ],
        Some("AKIDEXAMPLE"),
    )
    .await;
    let after = SystemClock.now();
    assert_eq!(answer.status, 200, "{}", answer.body);
    let result = parse::<AssumeRoleResponse>(&answer.body).assume_role_result;
    assert_lifetime(&result.credentials, before, after, Duration::from_secs(900));
    let packed = result
        .packed_policy_size
        .expect("PackedPolicySize with a session policy");
    assert!((1..=100).contains(&packed), "{packed}");
    assert_eq!(result.source_identity, None);

    // The session's role ID is stable across sessions of the same role.
    let again = post(
        &emulator,
        &[("Action", "AssumeRole"), ("RoleArn", ROLE), ("RoleSessionName", "s2")],
        Some("AKIDEXAMPLE"),
    )
    .await;
    let again = parse::<AssumeRoleResponse>(&again.body).assume_role_result;
    let prefix = |id: &str| id.split(':').next().unwrap().to_string();
    assert_eq!(
        prefix(&again.assumed_role_user.assumed_role_id),
        prefix(&result.assumed_role_user.assumed_role_id)
    );
    assert_ne!(again.credentials.access_key_id, result.credentials.access_key_id);
}

#[tokio::test]
async fn get_session_token_answers_with_the_lifetime_set_at_run_time() {
    let emulator = Emulator::start().unwrap();
    emulator.set_credential_lifetime(Duration::from_secs(3));
    let before = SystemClock.now();
    let answer = post(
        &emulator,
        &[("Action", "GetSessionToken"), ("Version", "2011-06-15")],
        Some("AKIDUSER"),
    )
    .await;
    let after = SystemClock.now();
    assert_eq!(answer.status, 200, "{}", answer.body);
    let doc: GetSessionTokenResponse = parse(&answer.body);
    assert_eq!(
        answer.request_id.as_deref(),
        Some(doc.response_metadata.request_id.as_str())
    );
    let credentials = doc.get_session_token_result.credentials;
    assert_key_shapes(&credentials);
    assert_lifetime(&credentials, before, after, Duration::from_secs(3));
    assert_eq!(emulator.issued()[0].arn, "arn:aws:iam::123456789012:user/emulator-user");
}

#[tokio::test]
async fn assume_role_with_web_identity_is_unsigned_and_reports_the_token_claims() {
    let emulator = Emulator::builder()
        .credential_lifetime(Duration::from_secs(60))
        .start()
        .unwrap();
    // header {"alg":"RS256"}, claims {"sub":"system:serviceaccount:ns:app","aud":"sts.amazonaws.com","iss":"https://oidc.example.test/id/ABC"}
    let jwt = "eyJhbGciOiJSUzI1NiJ9.\
               eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6bnM6YXBwIiwiYXVkIjoic3RzLmFtYXpvbmF3cy5jb20iLCJpc3MiOiJodHRwczovL29pZGMuZXhhbXBsZS50ZXN0L2lkL0FCQyJ9.\
               c2lnbmF0dXJl";
    let before = SystemClock.now();
    let answer = post(
        &emulator,
        &[
            ("Action", "AssumeRoleWithWebIdentity"),
            ("Version", "2011-06-15"),
            ("RoleArn", "arn:aws:iam::210987654321:role/web"),
            ("RoleSessionName", "pod-1"),
            ("WebIdentityToken", jwt),
        ],
        None,
    )
    .await;
    let after = SystemClock.now();
    assert_eq!(answer.status, 200, "{}", answer.body);
    let result = parse::<WebIdentityResponse>(&answer.body).assume_role_with_web_identity_result;
    assert_key_shapes(&result.credentials);
    assert_lifetime(&result.credentials, before, after, Duration::from_secs(60));
    assert_eq!(result.subject_from_web_identity_token, "system:serviceaccount:ns:app");
    assert_eq!(result.audience, "sts.amazonaws.com");
    assert_eq!(result.provider, "https://oidc.example.test/id/ABC");
    assert_eq!(
        result.assumed_role_user.arn,
        "arn:aws:sts::210987654321:assumed-role/web/pod-1"
    );
    assert!(!answer.body.contains(jwt), "the token is not echoed");
}

#[tokio::test]
async fn get_caller_identity_knows_issued_keys_and_rejects_others() {
    let emulator = Emulator::builder().account_id("111122223333").start().unwrap();
    let assumed = post(
        &emulator,
        &[
            ("Action", "AssumeRole"),
            ("RoleArn", "arn:aws:iam::111122223333:role/app"),
            ("RoleSessionName", "who"),
        ],
        Some("AKIDBASE"),
    )
    .await;
    let assumed = parse::<AssumeRoleResponse>(&assumed.body).assume_role_result;
    let session = post(&emulator, &[("Action", "GetSessionToken")], Some("AKIDBASE")).await;
    let session = parse::<GetSessionTokenResponse>(&session.body).get_session_token_result;

    let who = post(
        &emulator,
        &[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")],
        Some(&assumed.credentials.access_key_id),
    )
    .await;
    assert_eq!(who.status, 200, "{}", who.body);
    let who = parse::<CallerIdentityResponse>(&who.body).get_caller_identity_result;
    assert_eq!(who.arn, "arn:aws:sts::111122223333:assumed-role/app/who");
    assert_eq!(who.user_id, assumed.assumed_role_user.assumed_role_id);
    assert_eq!(who.account, "111122223333");

    let user = post(
        &emulator,
        &[("Action", "GetCallerIdentity")],
        Some(&session.credentials.access_key_id),
    )
    .await;
    let user = parse::<CallerIdentityResponse>(&user.body).get_caller_identity_result;
    assert_eq!(user.arn, "arn:aws:iam::111122223333:user/emulator-user");
    assert!(user.user_id.starts_with("AIDA"), "{}", user.user_id);

    let unknown = post(
        &emulator,
        &[("Action", "GetCallerIdentity")],
        Some("ASIANEVERISSUED0000"),
    )
    .await;
    assert_eq!(unknown.status, 403);
    let error = parse::<ErrorResponse>(&unknown.body);
    assert_eq!(error.error.code, "InvalidClientTokenId");
    assert_eq!(error.error.r#type, "Sender");
    assert_eq!(unknown.request_id.as_deref(), Some(error.request_id.as_str()));
    assert_eq!(emulator.count(Call::GetCallerIdentity), 3);
}

#[tokio::test]
async fn the_query_string_form_is_accepted() {
    let emulator = Emulator::start().unwrap();
    let url = format!(
        "{}/?Action=AssumeRole&Version=2011-06-15&RoleArn={}&RoleSessionName=via-query",
        emulator.sts_endpoint(),
        url::form_urlencoded::byte_serialize(ROLE.as_bytes()).collect::<String>()
    );
    let response = client()
        .get(url)
        .header("authorization", authorization("AKIDEXAMPLE"))
        .header("x-amz-date", "20260101T000000Z")
        .send()
        .await
        .unwrap();
    let answer = answer(response).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let result = parse::<AssumeRoleResponse>(&answer.body).assume_role_result;
    assert!(result.assumed_role_user.arn.ends_with("/app-role/via-query"));
    let recorded = emulator.requests(Call::AssumeRole);
    assert_eq!(recorded[0].method, "GET");
    assert_eq!(recorded[0].param("RoleSessionName"), Some("via-query"));
}

/// Parameters, the signing key (if signed), then the expected status and code.
type Case<'a> = (Vec<(&'a str, &'a str)>, Option<&'a str>, u16, &'a str);

#[tokio::test]
async fn invalid_parameters_get_the_errors_sts_sends() {
    let emulator = Emulator::start().unwrap();
    let session = post(&emulator, &[("Action", "GetSessionToken")], Some("AKIDBASE")).await;
    let session_key = parse::<GetSessionTokenResponse>(&session.body)
        .get_session_token_result
        .credentials
        .access_key_id;

    let long_name = "n".repeat(65);
    let huge_policy = format!(r#"{{"Statement":"{}"}}"#, "x".repeat(3000));
    let cases: Vec<Case<'_>> = vec![
        (vec![("Version", "2011-06-15")], Some("AKID"), 400, "MissingAction"),
        (vec![("Action", "AssumeRoot")], Some("AKID"), 400, "InvalidAction"),
        (
            vec![("Action", "AssumeRole"), ("Version", "2010-01-01")],
            Some("AKID"),
            400,
            "InvalidAction",
        ),
        (
            vec![("Action", "AssumeRole"), ("RoleSessionName", "s1")],
            Some("AKID"),
            400,
            "ValidationError",
        ),
        (
            vec![("Action", "AssumeRole"), ("RoleArn", ROLE)],
            Some("AKID"),
            400,
            "ValidationError",
        ),
        (
            vec![
                ("Action", "AssumeRole"),
                ("RoleArn", "app-role"),
                ("RoleSessionName", "s1"),
            ],
            Some("AKID"),
            400,
            "ValidationError",
        ),
        (
            vec![
                ("Action", "AssumeRole"),
                ("RoleArn", "arn:aws:iam::123456789012:user/bob"),
                ("RoleSessionName", "s1"),
            ],
            Some("AKID"),
            400,
            "ValidationError",
        ),
        (
            vec![("Action", "AssumeRole"), ("RoleArn", ROLE), ("RoleSessionName", "s")],
            Some("AKID"),
            400,
            "ValidationError",
        ),
        (
            vec![
                ("Action", "AssumeRole"),
                ("RoleArn", ROLE),
                ("RoleSessionName", &long_name),
            ],
            Some("AKID"),
            400,
            "ValidationError",
        ),
        (
            vec![
                ("Action", "AssumeRole"),
                ("RoleArn", ROLE),
                ("RoleSessionName", "has space"),
            ],
            Some("AKID"),
            400,
            "ValidationError",
        ),
        (
            vec![
                ("Action", "AssumeRole"),
                ("RoleArn", ROLE),
                ("RoleSessionName", "s1"),
                ("DurationSeconds", "899"),
            ],
            Some("AKID"),
            400,
            "ValidationError",
        ),
        (
            vec![
                ("Action", "AssumeRole"),
                ("RoleArn", ROLE),
                ("RoleSessionName", "s1"),
                ("DurationSeconds", "43201"),
            ],
            Some("AKID"),
            400,
            "ValidationError",
        ),
        (
            vec![
                ("Action", "AssumeRole"),
                ("RoleArn", ROLE),
                ("RoleSessionName", "s1"),
                ("DurationSeconds", "an hour"),
            ],
            Some("AKID"),
            400,
            "ValidationError",
        ),
        (
            vec![
                ("Action", "AssumeRole"),
                ("RoleArn", ROLE),
                ("RoleSessionName", "s1"),
                ("Policy", &huge_policy),
            ],
            Some("AKID"),
            400,
            "PackedPolicyTooLarge",
        ),
        (
            vec![("Action", "GetSessionToken"), ("DurationSeconds", "129601")],
            Some("AKID"),
            400,
            "ValidationError",
        ),
        (
            vec![
                ("Action", "GetSessionToken"),
                ("SerialNumber", "arn:aws:iam::123456789012:mfa/u"),
                ("TokenCode", "12ab56"),
            ],
            Some("AKID"),
            400,
            "ValidationError",
        ),
        (
            vec![("Action", "GetSessionToken")],
            Some(&session_key),
            403,
            "AccessDenied",
        ),
        (
            vec![
                ("Action", "AssumeRoleWithWebIdentity"),
                ("RoleArn", ROLE),
                ("RoleSessionName", "s1"),
            ],
            None,
            400,
            "ValidationError",
        ),
        (
            vec![
                ("Action", "AssumeRoleWithWebIdentity"),
                ("RoleArn", ROLE),
                ("RoleSessionName", "s1"),
                ("WebIdentityToken", "abc"),
            ],
            None,
            400,
            "ValidationError",
        ),
    ];
    for (params, signer, status, code) in cases {
        let answer = post(&emulator, &params, signer).await;
        assert_eq!(answer.status, status, "{params:?}");
        let error = parse::<ErrorResponse>(&answer.body);
        assert_eq!(error.error.code, code, "{params:?}: {}", error.error.message);
        assert_eq!(error.error.r#type, "Sender");
        assert!(!error.error.message.is_empty());
        assert!(answer.request_id.is_some());
    }
    // Rejected requests issue nothing (only the GetSessionToken above).
    assert_eq!(emulator.issued().len(), 1);
}

#[tokio::test]
async fn signed_calls_need_a_sigv4_authorization_for_sts() {
    let emulator = Emulator::start().unwrap();
    let params = [("Action", "AssumeRole"), ("RoleArn", ROLE), ("RoleSessionName", "s1")];
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let send = |authorization: Option<String>, date: bool| {
        let mut request = client()
            .post(emulator.sts_endpoint())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.clone());
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        if date {
            request = request.header("x-amz-date", "20260101T000000Z");
        }
        async move { answer(request.send().await.unwrap()).await }
    };
    let cases = [
        (None, true, 403, "MissingAuthenticationToken"),
        (Some("Bearer abc".to_string()), true, 400, "IncompleteSignature"),
        (
            Some(
                "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/sts/aws4_request, SignedHeaders=host".to_string(),
            ),
            true,
            400,
            "IncompleteSignature",
        ),
        (
            Some(
                "AWS4-HMAC-SHA256 Credential=AKID/20260101/sts/aws4_request, SignedHeaders=host, Signature=00"
                    .to_string(),
            ),
            true,
            400,
            "IncompleteSignature",
        ),
        (Some(authorization("AKID")), false, 400, "IncompleteSignature"),
        (
            Some(authorization("AKID").replace("/sts/", "/iam/")),
            true,
            403,
            "SignatureDoesNotMatch",
        ),
    ];
    for (authorization, date, status, code) in cases {
        let answer = send(authorization.clone(), date).await;
        assert_eq!(answer.status, status, "{authorization:?}: {}", answer.body);
        assert_eq!(
            parse::<ErrorResponse>(&answer.body).error.code,
            code,
            "{authorization:?}"
        );
    }
    assert!(emulator.issued().is_empty());
    assert_eq!(send(Some(authorization("AKID")), true).await.status, 200);
}
