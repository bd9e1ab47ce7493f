//! What the emulator remembers: the requests it received and the
//! credentials it issued.

use std::collections::BTreeMap;
use std::fmt;
use std::time::SystemTime;

use crate::clock::format_rfc3339;

use super::faults::Call;
use crate::REDACTED;

/// Header names whose values are secrets, compared case-insensitively.
const SECRET_HEADERS: [&str; 4] = [
    "authorization",
    "x-amz-security-token",
    "x-aws-ec2-metadata-token",
    "x-amz-sso_bearer_token",
];

/// Names whose presence in a body makes the whole body secret: the fields
/// of IAM Identity Center OIDC `CreateToken`'s JSON request.
const SECRET_BODY_FIELDS: [&str; 2] = ["clientSecret", "refreshToken"];

/// Parameter names whose values are secrets (STS form or query parameters).
const SECRET_PARAMS: [&str; 4] = [
    "WebIdentityToken",
    "TokenCode",
    "X-Amz-Security-Token",
    "X-Amz-Signature",
];

/// One request the emulator received, as it arrived.
///
/// The fields hold the real values, for assertions. `Debug` redacts the
/// values of the `Authorization`, `X-Amz-Security-Token`,
/// `X-aws-ec2-metadata-token` and `x-amz-sso_bearer_token` headers, of the
/// `WebIdentityToken` and `TokenCode` parameters, and the whole body when it
/// carries one of those parameters or an IAM Identity Center `clientSecret`
/// or `refreshToken`:
///
/// ```
/// use credrefresh::testing::{Call, Emulator};
/// use std::io::{Read, Write};
///
/// let emulator = Emulator::start()?;
/// let mut stream = std::net::TcpStream::connect(emulator.endpoint().trim_start_matches("http://"))?;
/// let token = "imds-token-value";
/// write!(
///     stream,
///     "GET /latest/meta-data/iam/security-credentials/ HTTP/1.1\r\nHost: x\r\n\
///      X-aws-ec2-metadata-token: {token}\r\nConnection: close\r\n\r\n"
/// )?;
/// let mut answer = String::new();
/// stream.read_to_string(&mut answer)?;
/// assert!(answer.starts_with("HTTP/1.1 401")); // a token IMDS never issued
///
/// let request = &emulator.requests(Call::ImdsRoleList)[0];
/// assert_eq!(request.header("x-aws-ec2-metadata-token"), Some(token));
/// assert!(!format!("{request:?}").contains(token));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET`, `PUT`, `POST`…
    pub method: String,
    /// The path, without the query string.
    pub path: String,
    /// Every header, names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    /// Query-string and form-body parameters (the body wins on a clash).
    pub params: BTreeMap<String, String>,
    /// The body, as text (invalid UTF-8 replaced).
    pub body: String,
}

impl RecordedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The parameter `name` (case-sensitive, as AWS parameters are).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

fn is_secret_header(name: &str) -> bool {
    SECRET_HEADERS.iter().any(|s| s.eq_ignore_ascii_case(name))
}

fn is_secret_param(name: &str) -> bool {
    SECRET_PARAMS.contains(&name)
}

impl fmt::Debug for RecordedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), if is_secret_header(n) { REDACTED } else { v.as_str() }))
            .collect();
        let params: BTreeMap<&str, &str> = self
            .params
            .iter()
            .map(|(n, v)| (n.as_str(), if is_secret_param(n) { REDACTED } else { v.as_str() }))
            .collect();
        let body_has_secret = self.params.keys().any(|k| is_secret_param(k))
            || SECRET_PARAMS.iter().any(|p| self.body.contains(p))
            || SECRET_BODY_FIELDS.iter().any(|p| self.body.contains(p));
        f.debug_struct("RecordedRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("headers", &headers)
            .field("params", &params)
            .field("body", &if body_has_secret { REDACTED } else { self.body.as_str() })
            .finish()
    }
}

/// Credentials the emulator issued: everything but the secrets, which
/// [`Emulator::issued_secrets`](super::Emulator::issued_secrets) lists.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// The call that issued them.
    pub call: Call,
    /// The access key ID (`ASIA…`).
    pub access_key_id: String,
    /// The principal they act as (an assumed-role or user ARN).
    pub arn: String,
    /// When they expire.
    pub expiration: SystemTime,
}

/// What `aws sso login` leaves behind, made by
/// [`Emulator::sso_login`](super::Emulator::sso_login): a registered OIDC
/// client, an access token the portal accepts and a refresh token
/// `CreateToken` accepts (once: each refresh rotates it).
///
/// The fields hold the real values, for tests; `Debug` shows only the
/// client id and the times. [`cache_json`](Self::cache_json) writes the
/// token cache file the AWS CLI would.
#[non_exhaustive]
#[derive(Clone, PartialEq, Eq)]
pub struct SsoLogin {
    /// The access token (`x-amz-sso_bearer_token`).
    pub access_token: String,
    /// The refresh token.
    pub refresh_token: String,
    /// The OIDC client's id.
    pub client_id: String,
    /// The OIDC client's secret.
    pub client_secret: String,
    /// When the access token expires.
    pub expires_at: SystemTime,
    /// When the client registration (and its refresh tokens) expires.
    pub registration_expires_at: SystemTime,
}

impl SsoLogin {
    /// The token cache file (`~/.aws/sso/cache/<sha1>.json`) the AWS CLI
    /// writes after `aws sso login` for an `sso-session` with this start URL
    /// and region: `startUrl`, `region`, `accessToken`, `expiresAt`,
    /// `clientId`, `clientSecret`, `registrationExpiresAt`, `refreshToken`,
    /// times in whole-second RFC 3339 UTC.
    pub fn cache_json(&self, start_url: &str, region: &str) -> String {
        serde_json::json!({
            "startUrl": start_url,
            "region": region,
            "accessToken": self.access_token,
            "expiresAt": format_rfc3339(self.expires_at),
            "clientId": self.client_id,
            "clientSecret": self.client_secret,
            "registrationExpiresAt": format_rfc3339(self.registration_expires_at),
            "refreshToken": self.refresh_token,
        })
        .to_string()
    }
}

/// Only the client id and the times: the tokens and the secret are redacted.
impl fmt::Debug for SsoLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SsoLogin")
            .field("access_token", &REDACTED)
            .field("refresh_token", &REDACTED)
            .field("client_id", &self.client_id)
            .field("client_secret", &REDACTED)
            .field("expires_at", &self.expires_at)
            .field("registration_expires_at", &self.registration_expires_at)
            .finish()
    }
}
