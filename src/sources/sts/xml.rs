//! STS answers (AWS Query protocol, XML), parsed with quick-xml and serde.
//!
//! Only the fields credrefresh uses are read; unknown elements are ignored.
//! The root element says what the document is: the success element of the
//! call (`AssumeRoleResponse`, …) or an error (`ErrorResponse`, in either
//! of its two shapes). Parse errors never quote the body: it may hold a
//! secret access key or a session token.

use std::time::SystemTime;

use serde::Deserialize;
use zeroize::Zeroizing;

use crate::clock::parse_rfc3339;
use crate::credentials::Credentials;
use crate::error::SourceError;
use crate::sources::http::safe_request_id;

/// The STS call an answer belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Call {
    AssumeRole,
    GetSessionToken,
    AssumeRoleWithWebIdentity,
}

impl Call {
    /// The `Action` parameter, also the prefix of the answer's elements.
    pub(crate) const fn action(self) -> &'static str {
        match self {
            Call::AssumeRole => "AssumeRole",
            Call::GetSessionToken => "GetSessionToken",
            Call::AssumeRoleWithWebIdentity => "AssumeRoleWithWebIdentity",
        }
    }
}

/// Any document STS may send, told apart by its root element.
#[derive(Deserialize)]
enum Document {
    AssumeRoleResponse(AssumeRoleResponse),
    GetSessionTokenResponse(GetSessionTokenResponse),
    AssumeRoleWithWebIdentityResponse(WebIdentityResponse),
    ErrorResponse(ErrorDocument),
    /// The shape some Query services (EC2) use; accepted for proxies that speak it.
    Response(ErrorDocument),
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AssumeRoleResponse {
    assume_role_result: ResultBody,
    response_metadata: Option<ResponseMetadata>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetSessionTokenResponse {
    get_session_token_result: ResultBody,
    response_metadata: Option<ResponseMetadata>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WebIdentityResponse {
    assume_role_with_web_identity_result: ResultBody,
    response_metadata: Option<ResponseMetadata>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ResultBody {
    credentials: XmlCredentials,
    assumed_role_user: Option<AssumedRoleUser>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct XmlCredentials {
    access_key_id: String,
    secret_access_key: Zeroizing<String>,
    session_token: Zeroizing<String>,
    expiration: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AssumedRoleUser {
    arn: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ResponseMetadata {
    request_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorDocument {
    /// `<ErrorResponse><Error>…</Error>`, as STS sends it.
    error: Option<ErrorBody>,
    /// `<ErrorResponse><Errors><Error>…</Error></Errors>`.
    errors: Option<ErrorList>,
    request_id: Option<String>,
    #[serde(rename = "RequestID")]
    request_id_upper: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorList {
    #[serde(default)]
    error: Vec<ErrorBody>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorBody {
    code: Option<String>,
    message: Option<String>,
}

/// Credentials read from a success answer, with what else was useful in it.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub(crate) credentials: Credentials,
    /// The `AssumedRoleUser` ARN, when the call has one.
    pub(crate) assumed_role_arn: Option<String>,
    pub(crate) request_id: Option<String>,
}

/// An AWS error document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AwsError {
    pub(crate) code: String,
    pub(crate) message: String,
    pub(crate) request_id: Option<String>,
}

/// The longest AWS error message kept, in characters.
pub(crate) const MAX_MESSAGE_CHARS: usize = 512;

/// What a body turned out to be.
pub(crate) enum Answer {
    Success(Box<Parsed>),
    Error(AwsError),
}

/// A parse failure described without quoting the body.
fn describe(error: &quick_xml::DeError) -> String {
    match error {
        // serde's "missing field `X`" names a field, never a value.
        quick_xml::DeError::Custom(msg) if msg.starts_with("missing field") => msg.clone(),
        quick_xml::DeError::Custom(msg) if msg.starts_with("unknown variant") => {
            "an unexpected root element".to_string()
        }
        quick_xml::DeError::InvalidXml(_) | quick_xml::DeError::UnexpectedEof => "malformed XML".to_string(),
        _ => "an unexpected document structure".to_string(),
    }
}

/// Whether `text` holds a document type declaration (`<!DOCTYPE`, in any
/// case). STS never sends one, and quick-xml 0.38 panics ("entered
/// unreachable code") on one inside an element's text, where it splits the
/// text in two (found by fuzzing: `fuzz/corpus/sts_answer/regression-*`).
fn has_doctype(text: &str) -> bool {
    text.as_bytes()
        .windows(9)
        .any(|w| w.starts_with(b"<!") && w[2..].eq_ignore_ascii_case(b"DOCTYPE"))
}

/// Parses `body`, expecting the success answer of `call` or an error document.
///
/// # Errors
/// [`InvalidResponse`](crate::ErrorClass::InvalidResponse) for a body that
/// is not UTF-8 XML of one of those shapes, or whose credentials are
/// unusable (empty fields, a bad expiry).
pub(crate) fn parse(call: Call, body: &[u8], issued_at: SystemTime) -> Result<Answer, SourceError> {
    let what = call.action();
    let text = std::str::from_utf8(body)
        .map_err(|_| SourceError::invalid_response(format!("STS {what}: the answer is not UTF-8")))?;
    if has_doctype(text) {
        return Err(SourceError::invalid_response(format!(
            "STS {what}: the answer ({} bytes) is not an STS document: it has a DTD",
            body.len()
        )));
    }
    let document: Document = quick_xml::de::from_str(text).map_err(|e| {
        SourceError::invalid_response(format!(
            "STS {what}: the answer ({} bytes) is not an STS document: {}",
            body.len(),
            describe(&e)
        ))
    })?;
    let (result, metadata) = match (call, document) {
        (Call::AssumeRole, Document::AssumeRoleResponse(r)) => (r.assume_role_result, r.response_metadata),
        (Call::GetSessionToken, Document::GetSessionTokenResponse(r)) => {
            (r.get_session_token_result, r.response_metadata)
        }
        (Call::AssumeRoleWithWebIdentity, Document::AssumeRoleWithWebIdentityResponse(r)) => {
            (r.assume_role_with_web_identity_result, r.response_metadata)
        }
        (_, Document::ErrorResponse(e) | Document::Response(e)) => return Ok(Answer::Error(e.into_error())),
        _ => {
            return Err(SourceError::invalid_response(format!(
                "STS {what}: the answer is the answer to another call"
            )));
        }
    };
    let request_id = metadata.and_then(|m| m.request_id).as_deref().and_then(safe_request_id);
    let c = result.credentials;
    let expiry = parse_rfc3339(&c.expiration)
        .map_err(|e| SourceError::invalid_response(format!("STS {what}: bad Expiration: {e}")))?;
    let invalid = |e: crate::CredentialsError| SourceError::invalid_response(format!("STS {what}: {e}"));
    let mut credentials = Credentials::new(c.access_key_id, c.secret_access_key.as_str(), issued_at)
        .map_err(invalid)?
        .with_session_token(c.session_token.as_str())
        .map_err(invalid)?
        .with_expiry(expiry);
    let assumed_role_arn = result.assumed_role_user.map(|u| u.arn);
    if let Some(account) = assumed_role_arn.as_deref().and_then(account_of_arn) {
        credentials = credentials.with_account_id(account);
    }
    Ok(Answer::Success(Box::new(Parsed {
        credentials,
        assumed_role_arn,
        request_id,
    })))
}

impl ErrorDocument {
    fn into_error(self) -> AwsError {
        let first = self
            .error
            .or_else(|| self.errors.and_then(|l| l.error.into_iter().next()));
        let (code, message) = match first {
            Some(e) => (e.code, e.message),
            None => (None, None),
        };
        // Kept whole here (the body is already capped): it is redacted and
        // cut where the secrets sent are known (classify::error_answer).
        let message = message.unwrap_or_default().trim().to_string();
        AwsError {
            code: code
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| "Unknown".into()),
            message,
            request_id: self
                .request_id
                .or(self.request_id_upper)
                .as_deref()
                .and_then(safe_request_id),
        }
    }
}

/// The account id (fifth field) of an ARN, if it is 12 digits.
pub(crate) fn account_of_arn(arn: &str) -> Option<&str> {
    let account = arn.split(':').nth(4)?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
}

#[cfg(test)]
pub(crate) mod fixtures {
    pub(crate) const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY";
    pub(crate) const TOKEN: &str = "FwoGZXIvYXdzEXAMPLETOKEN+/=";

    pub(crate) fn assume_role(expiration: &str) -> String {
        format!(
            r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <SourceIdentity>DevUser123</SourceIdentity>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/demo/John</Arn>
      <AssumedRoleId>ARO123EXAMPLE123:John</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>
      <SecretAccessKey>{SECRET}</SecretAccessKey>
      <SessionToken>{TOKEN}</SessionToken>
      <Expiration>{expiration}</Expiration>
    </Credentials>
    <PackedPolicySize>8</PackedPolicySize>
  </AssumeRoleResult>
  <ResponseMetadata>
    <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>
  </ResponseMetadata>
</AssumeRoleResponse>"#
        )
    }

    pub(crate) fn session_token() -> String {
        format!(
            r#"<GetSessionTokenResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetSessionTokenResult>
    <Credentials>
      <SessionToken>{TOKEN}</SessionToken>
      <SecretAccessKey>{SECRET}</SecretAccessKey>
      <Expiration>2026-11-23T06:00:00Z</Expiration>
      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>
    </Credentials>
  </GetSessionTokenResult>
  <ResponseMetadata>
    <RequestId>58c5dbae-abef-11e0-8cfe-09039844ac7d</RequestId>
  </ResponseMetadata>
</GetSessionTokenResponse>"#
        )
    }

    pub(crate) fn web_identity() -> String {
        format!(
            r#"<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>amzn1.account.AF6RHO7KZU5XRVQJGXK6HB56KR2A</SubjectFromWebIdentityToken>
    <Audience>client.5498841531868486423.1548@apps.example.com</Audience>
    <AssumedRoleUser>
      <Arn>arn:aws-cn:sts::210987654321:assumed-role/FederatedWebIdentityRole/app1</Arn>
      <AssumedRoleId>AROACLKWSDQRAOEXAMPLE:app1</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <SessionToken>{TOKEN}</SessionToken>
      <SecretAccessKey>{SECRET}</SecretAccessKey>
      <Expiration>2026-11-22T19:00:00Z</Expiration>
      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>
    </Credentials>
    <SourceIdentity>SourceIdentityValue</SourceIdentity>
    <Provider>www.amazon.com</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata>
    <RequestId>ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE</RequestId>
  </ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>"#
        )
    }

    /// The shape STS sends.
    pub(crate) fn error(code: &str, message: &str) -> String {
        format!(
            r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error>
    <Type>Sender</Type>
    <Code>{code}</Code>
    <Message>{message}</Message>
  </Error>
  <RequestId>3a8b9c0d-0000-4000-8000-000000000001</RequestId>
</ErrorResponse>"#
        )
    }

    /// The shape with an `<Errors>` list.
    pub(crate) fn error_list(code: &str, message: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<ErrorResponse>
  <Errors>
    <Error>
      <Code>{code}</Code>
      <Message><![CDATA[{message}]]></Message>
    </Error>
  </Errors>
  <RequestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestId>
</ErrorResponse>"#
        )
    }

    pub(crate) const HTML_500: &str =
        "<html><head><title>500 Internal Server Error</title></head><body><h1>Oops</h1></body></html>";
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;
    use std::time::Duration;

    fn t(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn success(call: Call, body: &str) -> Parsed {
        match parse(call, body.as_bytes(), t(1_795_370_400)) {
            Ok(Answer::Success(p)) => *p,
            Ok(Answer::Error(e)) => panic!("unexpected error document {e:?}"),
            Err(e) => panic!("unexpected failure {e}"),
        }
    }

    fn error_of(call: Call, body: &str) -> AwsError {
        match parse(call, body.as_bytes(), t(0)) {
            Ok(Answer::Error(e)) => e,
            Ok(Answer::Success(_)) => panic!("parsed an error document as success"),
            Err(e) => panic!("unexpected failure {e}"),
        }
    }

    #[test]
    fn assume_role_whole_seconds() {
        let p = success(Call::AssumeRole, &assume_role("2026-11-22T19:00:00Z"));
        let c = &p.credentials;
        assert_eq!(c.access_key_id(), "ASIAIOSFODNN7EXAMPLE");
        assert_eq!(c.secret_access_key(), SECRET);
        assert_eq!(c.session_token(), Some(TOKEN));
        assert_eq!(c.expiry(), Some(t(1_795_374_000)));
        assert_eq!(c.issued_at(), t(1_795_370_400));
        assert_eq!(c.account_id(), Some("123456789012"));
        assert_eq!(
            p.assumed_role_arn.as_deref(),
            Some("arn:aws:sts::123456789012:assumed-role/demo/John")
        );
        assert_eq!(p.request_id.as_deref(), Some("c6104cbe-af31-11e0-8154-cbc7ccf896c7"));
    }

    #[test]
    fn assume_role_fractional_seconds_as_moto_sends() {
        let p = success(Call::AssumeRole, &assume_role("2026-11-22T19:00:00.123456Z"));
        assert_eq!(
            p.credentials.expiry(),
            Some(t(1_795_374_000) + Duration::from_micros(123_456))
        );
    }

    #[test]
    fn session_token_has_no_role_user() {
        let p = success(Call::GetSessionToken, &session_token());
        assert_eq!(p.credentials.expiry(), Some(t(1_795_413_600)));
        assert_eq!(p.credentials.account_id(), None);
        assert_eq!(p.assumed_role_arn, None);
        assert_eq!(p.request_id.as_deref(), Some("58c5dbae-abef-11e0-8cfe-09039844ac7d"));
    }

    #[test]
    fn web_identity_in_the_china_partition() {
        let p = success(Call::AssumeRoleWithWebIdentity, &web_identity());
        assert_eq!(p.credentials.account_id(), Some("210987654321"));
        assert_eq!(p.credentials.session_token(), Some(TOKEN));
    }

    #[test]
    fn both_error_shapes() {
        let e = error_of(Call::AssumeRole, &error("AccessDenied", "User is not authorized"));
        assert_eq!(e.code, "AccessDenied");
        assert_eq!(e.message, "User is not authorized");
        assert_eq!(e.request_id.as_deref(), Some("3a8b9c0d-0000-4000-8000-000000000001"));
        let e = error_of(
            Call::GetSessionToken,
            &error_list("InvalidClientTokenId", "The security token is invalid."),
        );
        assert_eq!(e.code, "InvalidClientTokenId");
        assert_eq!(e.message, "The security token is invalid.");
        assert_eq!(e.request_id.as_deref(), Some("7a62c49f-347e-4fc4-9331-6e8eEXAMPLE"));
    }

    #[test]
    fn error_without_code_or_with_a_long_message() {
        let e = error_of(
            Call::AssumeRole,
            "<ErrorResponse><RequestId>r1</RequestId></ErrorResponse>",
        );
        assert_eq!(e.code, "Unknown");
        assert_eq!(e.message, "");
    }

    #[test]
    fn wrong_or_broken_documents_are_invalid_responses() {
        let cases: Vec<(Call, String)> = vec![
            (Call::AssumeRole, HTML_500.to_string()),
            (Call::AssumeRole, "not xml at all".to_string()),
            (Call::AssumeRole, String::new()),
            // Truncated in the middle of the secret.
            (Call::AssumeRole, assume_role("2026-11-22T19:00:00Z")[..400].to_string()),
            // The answer to another call.
            (Call::GetSessionToken, assume_role("2026-11-22T19:00:00Z")),
            // A bad expiry.
            (Call::AssumeRole, assume_role("next tuesday")),
            // No credentials at all.
            (
                Call::AssumeRole,
                "<AssumeRoleResponse><AssumeRoleResult></AssumeRoleResult></AssumeRoleResponse>".to_string(),
            ),
            // An empty secret.
            (
                Call::AssumeRole,
                assume_role("2026-11-22T19:00:00Z").replace(SECRET, ""),
            ),
        ];
        for (call, body) in cases {
            let err = match parse(call, body.as_bytes(), t(0)) {
                Err(e) => e,
                Ok(_) => panic!("accepted {body:?}"),
            };
            assert_eq!(err.class(), crate::ErrorClass::InvalidResponse, "{err}");
            let shown = format!("{err} {err:?}");
            assert!(!shown.contains(SECRET) && !shown.contains(TOKEN), "{shown}");
        }
        let err = parse(Call::AssumeRole, &[0xff, 0xfe, 0x00], t(0)).err().unwrap();
        assert_eq!(err.class(), crate::ErrorClass::InvalidResponse);
    }

    #[test]
    fn missing_field_is_named() {
        let body = "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>A</AccessKeyId>\
                    </Credentials></AssumeRoleResult></AssumeRoleResponse>";
        let err = parse(Call::AssumeRole, body.as_bytes(), t(0)).err().unwrap();
        assert!(err.message().contains("missing field"), "{err}");
    }

    #[test]
    fn account_ids() {
        assert_eq!(
            account_of_arn("arn:aws:sts::123456789012:assumed-role/a/b"),
            Some("123456789012")
        );
        assert_eq!(account_of_arn("arn:aws:sts::12345:assumed-role/a/b"), None);
        assert_eq!(account_of_arn("garbage"), None);
    }
}
