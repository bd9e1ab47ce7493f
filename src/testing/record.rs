//! What the emulator remembers: the requests it received and the
//! credentials it issued.

use std::collections::BTreeMap;
use std::fmt;
use std::time::SystemTime;

use super::faults::Call;
use crate::REDACTED;

/// Header names whose values are secrets, compared case-insensitively.
const SECRET_HEADERS: [&str; 3] = ["authorization", "x-amz-security-token", "x-aws-ec2-metadata-token"];

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
/// values of the `Authorization`, `X-Amz-Security-Token` and
/// `X-aws-ec2-metadata-token` headers, of the `WebIdentityToken` and
/// `TokenCode` parameters, and the whole body when it carries one of those
/// parameters:
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
        let body_has_secret =
            self.params.keys().any(|k| is_secret_param(k)) || SECRET_PARAMS.iter().any(|p| self.body.contains(p));
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
