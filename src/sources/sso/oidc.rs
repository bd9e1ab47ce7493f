//! IAM Identity Center OIDC `CreateToken` with the `refresh_token` grant.
//!
//! `POST {endpoint}/token`, unsigned, JSON body `grantType`
//! (`refresh_token`), `clientId`, `clientSecret`, `refreshToken`; the
//! answer has `accessToken`, `tokenType`, `expiresIn` (seconds) and,
//! optionally, a new `refreshToken` (the `sso-oidc` 2019-06-10 model;
//! botocore's `SSOTokenProvider._attempt_create_token`).

use std::time::{Duration, SystemTime};

use reqwest::Url;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::wire::{RestError, join, parse_json, success_body};
use crate::error::{ErrorClass, SourceError};
use crate::sources::http;

/// The longest `expiresIn` believed: a year. IAM Identity Center sessions
/// last at most 90 days.
const MAX_EXPIRES_IN: u64 = 366 * 86_400;

const WHAT: &str = "IAM Identity Center OIDC CreateToken";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Request<'a> {
    grant_type: &'static str,
    client_id: &'a str,
    client_secret: &'a str,
    refresh_token: &'a str,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    access_token: Option<Zeroizing<String>>,
    expires_in: Option<i64>,
    refresh_token: Option<Zeroizing<String>>,
}

/// A new access token, and the new refresh token if the answer had one.
pub(crate) struct NewToken {
    pub(crate) access_token: Zeroizing<String>,
    pub(crate) expires_at: SystemTime,
    pub(crate) refresh_token: Option<Zeroizing<String>>,
}

/// What a refresh sends.
pub(crate) struct Grant<'a> {
    pub(crate) client_id: &'a str,
    pub(crate) client_secret: &'a str,
    pub(crate) refresh_token: &'a str,
}

/// Calls `CreateToken`; `now` is when the answer's `expiresIn` counts from.
pub(crate) async fn create_token(
    client: &reqwest::Client,
    endpoint: &Url,
    grant: &Grant<'_>,
    now: SystemTime,
    max_body_bytes: usize,
) -> Result<NewToken, SourceError> {
    let body = Zeroizing::new(
        serde_json::to_string(&Request {
            grant_type: "refresh_token",
            client_id: grant.client_id,
            client_secret: grant.client_secret,
            refresh_token: grant.refresh_token,
        })
        .unwrap_or_default(),
    );
    let response = client
        .post(join(endpoint, "/token"))
        .header(CONTENT_TYPE, "application/json")
        .header(ACCEPT, "application/json")
        .body(body.as_bytes().to_vec())
        .send()
        .await
        .map_err(|e| http::transport_error(WHAT, e))?;
    drop(body);
    let secrets = [grant.client_secret, grant.refresh_token];
    let body = success_body(WHAT, response, max_body_bytes, &secrets, status_error).await?;
    let answer: Answer = parse_json(WHAT, &body)?;
    let access_token = answer
        .access_token
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| SourceError::invalid_response(format!("{WHAT}: the answer has no `accessToken`")))?;
    let expires_in = answer
        .expires_in
        .ok_or_else(|| SourceError::invalid_response(format!("{WHAT}: the answer has no `expiresIn`")))?;
    let expires_in = u64::try_from(expires_in)
        .ok()
        .filter(|s| (1..=MAX_EXPIRES_IN).contains(s))
        .ok_or_else(|| {
            SourceError::invalid_response(format!(
                "{WHAT}: `expiresIn` of {expires_in} s is not between 1 s and {MAX_EXPIRES_IN} s"
            ))
        })?;
    Ok(NewToken {
        access_token,
        expires_at: now + Duration::from_secs(expires_in),
        refresh_token: answer.refresh_token.filter(|t| !t.trim().is_empty()),
    })
}

/// The class of a refused refresh. A refused grant or client means a new
/// `aws sso login`.
fn status_error(status: u16, error: &RestError) -> SourceError {
    let rejected = status == 401
        || error.is(&[
            "InvalidGrantException",
            "invalid_grant",
            "ExpiredTokenException",
            "expired_token",
            "InvalidClientException",
            "invalid_client",
            "UnauthorizedClientException",
            "unauthorized_client",
            "AccessDeniedException",
            "access_denied",
        ]);
    let throttled = status == 429 || error.is(&["SlowDownException", "slow_down", "TooManyRequestsException"]);
    let class = if throttled {
        ErrorClass::Throttled
    } else if rejected {
        ErrorClass::CredentialsRejected
    } else if status >= 500 {
        ErrorClass::Retryable
    } else if (400..500).contains(&status) {
        ErrorClass::InvalidConfiguration
    } else {
        ErrorClass::InvalidResponse
    };
    let hint = if class == ErrorClass::CredentialsRejected {
        ": the SSO session cannot be refreshed; run `aws sso login` to sign in again"
    } else {
        ""
    };
    SourceError::new(
        class,
        format!("{WHAT}: the service answered {status}{}{hint}", error.suffix()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderMap;

    fn class(status: u16, body: &str) -> ErrorClass {
        status_error(status, &RestError::read(&HeaderMap::new(), body.as_bytes(), &[])).class()
    }

    #[test]
    fn refusals_are_classified() {
        assert_eq!(
            class(400, r#"{"error":"invalid_grant"}"#),
            ErrorClass::CredentialsRejected
        );
        assert_eq!(
            class(401, r#"{"error":"invalid_client"}"#),
            ErrorClass::CredentialsRejected
        );
        assert_eq!(
            class(400, r#"{"error":"expired_token"}"#),
            ErrorClass::CredentialsRejected
        );
        assert_eq!(class(400, r#"{"error":"slow_down"}"#), ErrorClass::Throttled);
        assert_eq!(class(429, "{}"), ErrorClass::Throttled);
        assert_eq!(class(500, r#"{"error":"server_error"}"#), ErrorClass::Retryable);
        assert_eq!(class(503, "<html>"), ErrorClass::Retryable);
        assert_eq!(
            class(400, r#"{"error":"invalid_request"}"#),
            ErrorClass::InvalidConfiguration
        );
        assert_eq!(class(302, ""), ErrorClass::InvalidResponse);
        let e = status_error(
            400,
            &RestError::read(&HeaderMap::new(), br#"{"error":"invalid_grant"}"#, &[]),
        );
        assert!(
            e.message().contains("aws sso login") && e.message().contains("invalid_grant"),
            "{e}"
        );
    }
}
