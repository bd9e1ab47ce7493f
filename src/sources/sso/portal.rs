//! The IAM Identity Center portal's `GetRoleCredentials`.
//!
//! `GET {endpoint}/federation/credentials?role_name=…&account_id=…`,
//! unsigned, with the access token in `x-amz-sso_bearer_token`; the answer
//! is `{"roleCredentials": {"accessKeyId", "secretAccessKey",
//! "sessionToken", "expiration"}}`, `expiration` in milliseconds since the
//! epoch (the `sso` 2019-06-10 model; botocore's
//! `SSOCredentialFetcher._get_credentials`).

use std::time::{Duration, SystemTime};

use reqwest::Url;
use reqwest::header::{ACCEPT, HeaderValue};
use serde::Deserialize;
use zeroize::Zeroizing;

use super::wire::{RestError, join, parse_json, success_body};
use crate::credentials::Credentials;
use crate::error::{ErrorClass, SourceError};
use crate::sources::http;

/// The header carrying the access token.
pub(crate) const BEARER_HEADER: &str = "x-amz-sso_bearer_token";

/// The latest `expiration` accepted: 9999-12-31T23:59:59Z, in milliseconds.
const MAX_EXPIRATION_MILLIS: u64 = 253_402_300_799_000;

const WHAT: &str = "IAM Identity Center GetRoleCredentials";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    role_credentials: Option<RoleCredentials>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RoleCredentials {
    access_key_id: Option<String>,
    secret_access_key: Option<Zeroizing<String>>,
    session_token: Option<Zeroizing<String>>,
    expiration: Option<serde_json::Number>,
}

/// Which role of which account.
pub(crate) struct Role<'a> {
    pub(crate) account_id: &'a str,
    pub(crate) role_name: &'a str,
}

/// Calls `GetRoleCredentials` with `access_token`; the credentials are
/// issued at `now` and carry the account id.
pub(crate) async fn get_role_credentials(
    client: &reqwest::Client,
    endpoint: &Url,
    role: &Role<'_>,
    access_token: &str,
    now: SystemTime,
    max_body_bytes: usize,
) -> Result<Credentials, SourceError> {
    let mut url = join(endpoint, "/federation/credentials");
    url.query_pairs_mut()
        .append_pair("role_name", role.role_name)
        .append_pair("account_id", role.account_id);
    let mut bearer = HeaderValue::from_str(access_token).map_err(|_| {
        SourceError::invalid_configuration(format!(
            "{WHAT}: the cached access token cannot be sent in an HTTP header"
        ))
    })?;
    bearer.set_sensitive(true);
    let response = client
        .get(url)
        .header(ACCEPT, "application/json")
        .header(BEARER_HEADER, bearer)
        .send()
        .await
        .map_err(|e| http::transport_error(WHAT, e))?;
    let body = success_body(WHAT, response, max_body_bytes, &[access_token], status_error).await?;
    parse(&body, role.account_id, now)
}

fn parse(body: &[u8], account_id: &str, now: SystemTime) -> Result<Credentials, SourceError> {
    let answer: Answer = parse_json(WHAT, body)?;
    let missing = |field: &str| SourceError::invalid_response(format!("{WHAT}: the answer has no `{field}`"));
    let creds = answer.role_credentials.ok_or_else(|| missing("roleCredentials"))?;
    let access_key_id = creds.access_key_id.ok_or_else(|| missing("accessKeyId"))?;
    let secret = creds.secret_access_key.ok_or_else(|| missing("secretAccessKey"))?;
    let token = creds.session_token.ok_or_else(|| missing("sessionToken"))?;
    let expiration = creds.expiration.ok_or_else(|| missing("expiration"))?;
    let millis = expiration
        .as_u64()
        .or_else(|| {
            expiration
                .as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0 && *f <= MAX_EXPIRATION_MILLIS as f64)
                .map(|f| f as u64)
        })
        .filter(|m| *m <= MAX_EXPIRATION_MILLIS)
        .ok_or_else(|| {
            SourceError::invalid_response(format!(
                "{WHAT}: `expiration` is not a time in milliseconds since 1970 before the year 10000"
            ))
        })?;
    let expiry = SystemTime::UNIX_EPOCH + Duration::from_millis(millis);
    Credentials::builder(access_key_id, secret.as_str(), now)
        .session_token(token.as_str())
        .expiry(expiry)
        .account_id(account_id)
        .build()
        .map_err(|e| SourceError::invalid_response(format!("{WHAT}: {e}")))
}

fn status_error(status: u16, error: &RestError) -> SourceError {
    let class = match status {
        401 | 403 => ErrorClass::CredentialsRejected,
        429 => ErrorClass::Throttled,
        400 | 404 => ErrorClass::InvalidConfiguration,
        s if (500..600).contains(&s) => ErrorClass::Retryable,
        s if (400..500).contains(&s) => ErrorClass::Denied,
        _ => ErrorClass::InvalidResponse,
    };
    let hint = match status {
        401 => ": the SSO session has expired or is otherwise invalid; run `aws sso login` to sign in again",
        403 => ": the SSO session may have expired, or the role is not assigned to the user; run `aws sso login`",
        _ => "",
    };
    SourceError::new(
        class,
        format!("{WHAT}: the portal answered {status}{}{hint}", error.suffix()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderMap;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    #[test]
    fn answers() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_000_000);
        let body = format!(
            r#"{{"roleCredentials":{{"accessKeyId":"ASIASSO","secretAccessKey":"{SECRET}","sessionToken":"TOK","expiration":1796003600000}}}}"#
        );
        let c = parse(body.as_bytes(), "111122223333", now).unwrap();
        assert_eq!(c.access_key_id(), "ASIASSO");
        assert_eq!(c.secret_access_key(), SECRET);
        assert_eq!(c.session_token(), Some("TOK"));
        assert_eq!(c.account_id(), Some("111122223333"));
        assert_eq!(c.expiry(), Some(now + Duration::from_secs(3600)));
        assert_eq!(c.issued_at(), now);
        for (bad, needle) in [
            ("{}", "roleCredentials"),
            (r#"{"roleCredentials":{"accessKeyId":"A"}}"#, "secretAccessKey"),
            (
                r#"{"roleCredentials":{"accessKeyId":"A","secretAccessKey":"S","sessionToken":"T"}}"#,
                "expiration",
            ),
            (
                r#"{"roleCredentials":{"accessKeyId":"A","secretAccessKey":"S","sessionToken":"T","expiration":-1}}"#,
                "milliseconds",
            ),
            (
                r#"{"roleCredentials":{"accessKeyId":"A","secretAccessKey":"S","sessionToken":"T","expiration":1e300}}"#,
                "milliseconds",
            ),
            ("{\"roleCredentials\":{\"accessKeyId\":\"ASIA", "JSON"),
        ] {
            let e = parse(bad.as_bytes(), "111122223333", now).unwrap_err();
            assert_eq!(e.class(), ErrorClass::InvalidResponse);
            assert!(e.message().contains(needle), "{e}");
        }
        let leak =
            format!(r#"{{"roleCredentials":{{"accessKeyId":"A","secretAccessKey":"{SECRET}","sessionToken":7}}}}"#);
        assert!(
            !parse(leak.as_bytes(), "1", now)
                .unwrap_err()
                .to_string()
                .contains(SECRET)
        );
    }

    #[test]
    fn refusals_are_classified() {
        let e = |status| status_error(status, &RestError::read(&HeaderMap::new(), br#"{"message":"m"}"#, &[]));
        assert_eq!(e(401).class(), ErrorClass::CredentialsRejected);
        assert!(e(401).message().contains("aws sso login"));
        assert_eq!(e(403).class(), ErrorClass::CredentialsRejected);
        assert_eq!(e(429).class(), ErrorClass::Throttled);
        assert_eq!(e(400).class(), ErrorClass::InvalidConfiguration);
        assert_eq!(e(404).class(), ErrorClass::InvalidConfiguration);
        assert_eq!(e(409).class(), ErrorClass::Denied);
        assert_eq!(e(500).class(), ErrorClass::Retryable);
        assert_eq!(e(302).class(), ErrorClass::InvalidResponse);
    }
}
