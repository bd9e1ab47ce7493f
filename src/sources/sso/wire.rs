//! What the two IAM Identity Center services share on the wire: restJson
//! errors, reading and parsing answers, and endpoint paths.
//!
//! A restJson error carries its code in the `x-amzn-ErrorType` header
//! (`Code:namespace` or `namespace#Code`), else in the body's `__type`,
//! `code` or (OIDC) `error`; the message is the body's `message` or (OIDC)
//! `error_description` (botocore's `RestJSONParser`, and the `sso` and
//! `sso-oidc` models).

use reqwest::Url;
use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use crate::error::SourceError;
use crate::sources::http::{self, safe_text};

#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(rename = "__type")]
    kind: Option<String>,
    #[serde(alias = "Code")]
    code: Option<String>,
    error: Option<String>,
    #[serde(alias = "Message")]
    message: Option<String>,
    error_description: Option<String>,
}

/// The code and message of an error answer, made safe to show (control
/// characters dropped, `secrets` redacted, cut short).
pub(crate) struct RestError {
    pub(crate) code: Option<String>,
    pub(crate) message: Option<String>,
}

impl RestError {
    pub(crate) fn read(headers: &HeaderMap, body: &[u8], secrets: &[&str]) -> Self {
        let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
        let header = headers
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let code = header
            .or(parsed.kind)
            .or(parsed.code)
            .or(parsed.error)
            .map(|c| clean_code(&c));
        let message = parsed.message.or(parsed.error_description);
        Self {
            code: code.map(|c| safe_text(&c, secrets, 100)).filter(|c| !c.is_empty()),
            message: message.map(|m| safe_text(&m, secrets, 200)).filter(|m| !m.is_empty()),
        }
    }

    /// Whether the code is one of `codes`.
    pub(crate) fn is(&self, codes: &[&str]) -> bool {
        self.code.as_deref().is_some_and(|c| codes.contains(&c))
    }

    /// ` (Code: message)`, ` (Code)`, or nothing.
    pub(crate) fn suffix(&self) -> String {
        match (&self.code, &self.message) {
            (Some(code), Some(message)) => format!(" ({code}: {message})"),
            (Some(one), None) | (None, Some(one)) => format!(" ({one})"),
            (None, None) => String::new(),
        }
    }
}

/// `Code:namespace` and `namespace#Code` to `Code`.
fn clean_code(code: &str) -> String {
    let code = code.split(':').next().unwrap_or(code);
    code.rsplit('#').next().unwrap_or(code).trim().to_string()
}

/// The body of `response`, read up to `max_body_bytes` (an error for
/// `what` past that). A non-2xx answer is the error `status_error` makes of
/// its status and [`RestError`], `secrets` redacted.
pub(crate) async fn success_body(
    what: &str,
    response: reqwest::Response,
    max_body_bytes: usize,
    secrets: &[&str],
    status_error: impl FnOnce(u16, &RestError) -> SourceError,
) -> Result<Zeroizing<Vec<u8>>, SourceError> {
    let status = response.status();
    let headers = response.headers().clone();
    let body = http::read_body_capped(what, response, max_body_bytes).await?;
    if !status.is_success() {
        return Err(status_error(
            status.as_u16(),
            &RestError::read(&headers, &body, secrets),
        ));
    }
    Ok(body)
}

/// `body` as the JSON answer `T` of `what`; an error says where the JSON
/// broke, never what it holds.
pub(crate) fn parse_json<T: DeserializeOwned>(what: &str, body: &[u8]) -> Result<T, SourceError> {
    serde_json::from_slice(body).map_err(|e| {
        SourceError::invalid_response(format!(
            "{what}: the answer is not the expected JSON ({:?} error at line {} column {})",
            e.classify(),
            e.line(),
            e.column()
        ))
    })
}

/// `endpoint` with `path` appended to its own path.
pub(crate) fn join(endpoint: &Url, path: &str) -> Url {
    let mut url = endpoint.clone();
    let joined = format!("{}{path}", endpoint.path().trim_end_matches('/'));
    url.set_path(&joined);
    url.set_query(None);
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_from_the_header_or_the_body() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-amzn-errortype",
            "UnauthorizedException:http://internal.amazon.com/coral/com.amazonaws.switchboard.portal/"
                .parse()
                .unwrap(),
        );
        let e = RestError::read(&headers, br#"{"message":"Session token not found or invalid"}"#, &[]);
        assert_eq!(e.code.as_deref(), Some("UnauthorizedException"));
        assert_eq!(
            e.suffix(),
            " (UnauthorizedException: Session token not found or invalid)"
        );
        let e = RestError::read(
            &HeaderMap::new(),
            br#"{"error":"invalid_grant","error_description":"bad SECRET-RT"}"#,
            &["SECRET-RT"],
        );
        assert_eq!(e.code.as_deref(), Some("invalid_grant"));
        assert!(e.is(&["invalid_grant"]));
        assert!(!e.suffix().contains("SECRET-RT"));
        let e = RestError::read(&HeaderMap::new(), br#"{"__type":"com.amazon#SlowDownException"}"#, &[]);
        assert_eq!(e.code.as_deref(), Some("SlowDownException"));
        assert_eq!(RestError::read(&HeaderMap::new(), b"<html>", &[]).suffix(), "");
    }

    #[test]
    fn paths_are_appended() {
        let base = Url::parse("http://127.0.0.1:9000").unwrap();
        assert_eq!(join(&base, "/token").as_str(), "http://127.0.0.1:9000/token");
        let prefixed = Url::parse("https://vpce.example.com/sso/?x=1").unwrap();
        assert_eq!(
            join(&prefixed, "/federation/credentials").as_str(),
            "https://vpce.example.com/sso/federation/credentials"
        );
    }
}
