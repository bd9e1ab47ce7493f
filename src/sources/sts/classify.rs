//! From an STS error answer to an [`ErrorClass`].
//!
//! | answer | class |
//! | --- | --- |
//! | `Throttling`, `ThrottlingException`, `RequestLimitExceeded`, HTTP 429 | [`Throttled`](ErrorClass::Throttled) |
//! | `ExpiredToken`, `ExpiredTokenException`, `InvalidClientTokenId`, `SignatureDoesNotMatch`, `IncompleteSignature`, `InvalidIdentityToken` | [`CredentialsRejected`](ErrorClass::CredentialsRejected) (the base handle is invalidated) |
//! | `AccessDenied`, `ValidationError`, `MalformedPolicyDocument`, `PackedPolicyTooLarge`, `RegionDisabledException`, `IDPRejectedClaim`, any other 4xx code | [`Denied`](ErrorClass::Denied) |
//! | `InternalFailure`, `ServiceUnavailable`, `IDPCommunicationError`, any 5xx | [`Retryable`](ErrorClass::Retryable) |
//! | a 5xx whose body is not an STS document (an HTML 500 from a proxy) | [`Retryable`](ErrorClass::Retryable) |
//! | another status whose body is not an STS document | [`InvalidResponse`](ErrorClass::InvalidResponse) |

use crate::error::{ErrorClass, SourceError};

use super::xml::{self, Answer, AwsError, Call, MAX_MESSAGE_CHARS};
use crate::sources::http::safe_text;

/// The class of an AWS error code sent with HTTP `status`.
pub(crate) fn class_of(code: &str, status: u16) -> ErrorClass {
    match code {
        "Throttling" | "ThrottlingException" | "RequestLimitExceeded" | "TooManyRequestsException" => {
            ErrorClass::Throttled
        }
        "ExpiredToken"
        | "ExpiredTokenException"
        | "InvalidClientTokenId"
        | "SignatureDoesNotMatch"
        | "IncompleteSignature"
        | "InvalidIdentityToken" => ErrorClass::CredentialsRejected,
        "AccessDenied"
        | "AccessDeniedException"
        | "ValidationError"
        | "MalformedPolicyDocument"
        | "PackedPolicyTooLarge"
        | "RegionDisabledException"
        | "IDPRejectedClaim" => ErrorClass::Denied,
        "InternalFailure" | "InternalError" | "ServiceUnavailable" | "IDPCommunicationError" => ErrorClass::Retryable,
        _ if status == 429 => ErrorClass::Throttled,
        _ if status >= 500 => ErrorClass::Retryable,
        _ => ErrorClass::Denied,
    }
}

/// The AWS error codes with which a service may refuse a signature for its
/// time, the union of what the AWS SDKs read as a possible clock skew
/// (smithy-rs's `ServiceClockSkew`, the Java and JavaScript SDKs'
/// `isClockSkewError`). STS itself answers `SignatureDoesNotMatch`
/// ("Signature expired: … is now earlier than …" / "Signature not yet
/// current: …"). As in the SDKs, the code alone is not enough: the
/// answer's `Date` must also show a skew (see `StsClient::call`).
const CLOCK_SKEW_CODES: [&str; 6] = [
    "SignatureDoesNotMatch",
    "InvalidSignatureException",
    "AuthFailure",
    "RequestExpired",
    "RequestInTheFuture",
    "RequestTimeTooSkewed",
];

/// Whether `code` may be a refusal of a signature for its time.
pub(crate) fn is_clock_skew_error(code: &str) -> bool {
    CLOCK_SKEW_CODES.contains(&code)
}

/// The AWS error code of an error document, if `body` is one.
pub(crate) fn error_code(call: Call, body: &[u8]) -> Option<String> {
    match xml::parse(call, body, std::time::SystemTime::UNIX_EPOCH) {
        Ok(Answer::Error(e)) => Some(e.code),
        _ => None,
    }
}

/// The error for a non-200 answer. `header_request_id` is the
/// `x-amzn-RequestId` header, used when the body carries none; `secrets`
/// are the secret values the request carried, redacted from the message.
pub(crate) fn error_answer(
    call: Call,
    status: u16,
    header_request_id: Option<String>,
    body: &[u8],
    secrets: &[&str],
) -> SourceError {
    let what = call.action();
    match xml::parse(call, body, std::time::SystemTime::UNIX_EPOCH) {
        Ok(Answer::Error(e)) => aws_error(call, status, e, header_request_id, secrets),
        Ok(Answer::Success(_)) => {
            // Credentials with an error status: do not trust them.
            let class = if status >= 500 {
                ErrorClass::Retryable
            } else {
                ErrorClass::InvalidResponse
            };
            SourceError::new(class, format!("STS {what}: HTTP {status} with a success document"))
        }
        Err(_) => {
            let class = match status {
                429 => ErrorClass::Throttled,
                s if s >= 500 => ErrorClass::Retryable,
                _ => ErrorClass::InvalidResponse,
            };
            let id = header_request_id
                .map(|id| format!(" (request id {})", shown_request_id(&id, secrets)))
                .unwrap_or_default();
            SourceError::new(
                class,
                format!(
                    "STS {what}: HTTP {status} with a body of {} bytes that is not an STS error document{id}",
                    body.len()
                ),
            )
        }
    }
}

fn aws_error(call: Call, status: u16, e: AwsError, header_request_id: Option<String>, secrets: &[&str]) -> SourceError {
    let class = class_of(&e.code, status);
    let code = safe_text(&e.code, secrets, 64);
    let mut message = format!("STS {}: HTTP {status} {code}", call.action());
    let text = safe_text(&e.message, secrets, MAX_MESSAGE_CHARS);
    if !text.is_empty() {
        message.push_str(": ");
        message.push_str(&text);
    }
    if let Some(id) = e.request_id.or(header_request_id) {
        message.push_str(&format!(" (request id {})", shown_request_id(&id, secrets)));
    }
    SourceError::new(class, message)
}

/// The shortest run of a secret's characters that counts as showing it.
const SECRET_OVERLAP: usize = 16;

/// A request id (already made printable and cut by `safe_request_id`) as
/// shown in an error: [`REDACTED`](crate::REDACTED) whole when it holds a
/// secret the request carried, is part of one, or shares
/// [`SECRET_OVERLAP`] characters with one (an id cut at 64 characters can
/// hold the start of a longer token). Found by fuzzing: a server echoing
/// the session token as its `RequestId`.
fn shown_request_id<'a>(id: &'a str, secrets: &[&str]) -> &'a str {
    let shares = |secret: &str| {
        secret.contains(id)
            || id.contains(secret)
            || secret
                .as_bytes()
                .windows(SECRET_OVERLAP)
                .any(|w| id.as_bytes().windows(SECRET_OVERLAP).any(|x| x == w))
    };
    if secrets.iter().filter(|s| !s.is_empty()).any(|s| shares(s)) {
        crate::REDACTED
    } else {
        id
    }
}

#[cfg(test)]
mod tests {
    use super::super::xml::fixtures::*;
    use super::*;

    fn classify(status: u16, body: &str) -> SourceError {
        error_answer(Call::AssumeRole, status, Some("hdr-id".into()), body.as_bytes(), &[])
    }

    #[test]
    fn long_messages_are_cut() {
        let long = "x".repeat(2000);
        let e = classify(400, &error("ValidationError", &long));
        let kept = e.message().split(": ").nth(2).unwrap();
        let kept = kept.split(" (request id").next().unwrap();
        assert_eq!(kept.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert!(kept.ends_with('…'));
    }

    #[test]
    fn echoed_secrets_are_redacted_even_across_the_cut() {
        let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
        let token = "FwoGZXIvYXdzEXAMPLESESSIONTOKEN".repeat(8);
        // As AWS words SignatureDoesNotMatch: the canonical request quoted,
        // the session token straddling the 512-character cut.
        let intro = "The request signature we calculated does not match. The Canonical String for this \
                     request should have been ";
        let lead = "y".repeat(MAX_MESSAGE_CHARS - intro.len() - 40);
        let message = format!("{intro}{lead} x-amz-security-token:{token} and {secret}");
        // The token starts before the cut and ends after it.
        let start = message.find(&token).unwrap();
        assert!(start < MAX_MESSAGE_CHARS && start + token.len() > MAX_MESSAGE_CHARS);
        let e = error_answer(
            Call::AssumeRole,
            403,
            None,
            error("SignatureDoesNotMatch", &message).as_bytes(),
            &[secret, &token],
        );
        let text = format!("{e} {e:?}");
        assert_eq!(e.class(), ErrorClass::CredentialsRejected);
        assert!(!text.contains(&token[..16]), "{text}");
        assert!(!text.contains(&secret[..16]), "{text}");
        assert!(text.contains(crate::REDACTED), "{text}");
    }

    #[test]
    fn every_code_of_the_spec() {
        let cases = [
            (400, "Throttling", ErrorClass::Throttled),
            (400, "RequestLimitExceeded", ErrorClass::Throttled),
            (403, "ExpiredToken", ErrorClass::CredentialsRejected),
            (403, "InvalidClientTokenId", ErrorClass::CredentialsRejected),
            (403, "SignatureDoesNotMatch", ErrorClass::CredentialsRejected),
            (403, "AccessDenied", ErrorClass::Denied),
            (400, "ValidationError", ErrorClass::Denied),
            (400, "MalformedPolicyDocument", ErrorClass::Denied),
            (400, "PackedPolicyTooLarge", ErrorClass::Denied),
            (403, "RegionDisabledException", ErrorClass::Denied),
            (500, "InternalFailure", ErrorClass::Retryable),
            (503, "ServiceUnavailable", ErrorClass::Retryable),
            (502, "SomethingNew", ErrorClass::Retryable),
            (429, "SomethingNew", ErrorClass::Throttled),
            (400, "SomethingNew", ErrorClass::Denied),
        ];
        for (status, code, class) in cases {
            for body in [error(code, "the message"), error_list(code, "the message")] {
                let e = classify(status, &body);
                assert_eq!(e.class(), class, "{code} / {status}");
                assert!(e.message().contains(code), "{e}");
                assert!(e.message().contains("the message"), "{e}");
                assert!(e.message().contains(&format!("HTTP {status}")), "{e}");
            }
        }
    }

    #[test]
    fn request_id_from_body_then_header() {
        let e = classify(403, &error("AccessDenied", "no"));
        assert!(
            e.message()
                .ends_with("(request id 3a8b9c0d-0000-4000-8000-000000000001)"),
            "{e}"
        );
        let e = classify(
            403,
            "<ErrorResponse><Error><Code>AccessDenied</Code></Error></ErrorResponse>",
        );
        assert!(e.message().ends_with("(request id hdr-id)"), "{e}");
        assert_eq!(e.message(), "STS AssumeRole: HTTP 403 AccessDenied (request id hdr-id)");
    }

    #[test]
    fn bodies_that_are_not_sts_documents() {
        let e = classify(500, HTML_500);
        assert_eq!(e.class(), ErrorClass::Retryable);
        assert!(e.message().contains("HTTP 500"));
        assert!(!e.message().contains("Oops"), "the body is not quoted: {e}");
        assert_eq!(classify(503, "").class(), ErrorClass::Retryable);
        assert_eq!(classify(429, "slow down").class(), ErrorClass::Throttled);
        assert_eq!(classify(403, HTML_500).class(), ErrorClass::InvalidResponse);
        assert_eq!(
            classify(404, "<ErrorResponse><Error>").class(),
            ErrorClass::InvalidResponse
        );
    }

    #[test]
    fn success_document_with_an_error_status_is_not_trusted() {
        let body = assume_role("2026-11-22T19:00:00Z");
        let e = classify(400, &body);
        assert_eq!(e.class(), ErrorClass::InvalidResponse);
        assert!(!format!("{e} {e:?}").contains(SECRET));
        assert_eq!(classify(500, &body).class(), ErrorClass::Retryable);
    }
}
