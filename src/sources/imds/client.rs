//! The IMDS protocol of one fetch: the IMDSv2 session token (cached,
//! renewed, or IMDSv1 mode when the fallback allows it), the metadata
//! calls with their retries, the answers' statuses as error classes, and
//! the credentials document. The [source and its builder](super) configure
//! a [`Client`] and call [`Client::fetch`].

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use reqwest::header::HeaderValue;
use reqwest::{Method, StatusCode, Url};
use zeroize::Zeroizing;

use crate::credentials::Credentials;
use crate::document::{self, DocumentKind};
use crate::error::{ErrorClass, SourceError};
use crate::source::FetchContext;
use crate::sources::http::{self, printable};

pub(super) const TOKEN_PATH: &str = "latest/api/token";
const ROLES_PATH: &str = "latest/meta-data/iam/security-credentials/";
const TTL_HEADER: &str = "x-aws-ec2-metadata-token-ttl-seconds";
const TOKEN_HEADER: &str = "x-aws-ec2-metadata-token";

/// What a fetch needs: the HTTP client, the settings the builder checked,
/// and the cached session token.
pub(super) struct Client {
    pub(super) client: reqwest::Client,
    pub(super) base: Url,
    pub(super) role_name: Option<String>,
    pub(super) disabled: Option<&'static str>,
    pub(super) v1_fallback: bool,
    pub(super) token_ttl: Duration,
    pub(super) token_renew_early: Duration,
    pub(super) max_attempts: u32,
    pub(super) max_body_bytes: usize,
    pub(super) token: Mutex<Option<CachedToken>>,
}

/// A session token and when to renew it.
pub(super) struct CachedToken {
    pub(super) value: Zeroizing<String>,
    pub(super) renew_at: SystemTime,
}

/// A failed IMDS fetch, with whether the service answered at all.
pub(crate) struct ImdsFailure {
    pub(crate) error: SourceError,
    pub(crate) unreachable: bool,
}

impl Client {
    /// Fetches once, telling apart a metadata service that never answered
    /// (no HTTP answer to any call of this fetch) from other failures.
    pub(super) async fn fetch(&self, ctx: &FetchContext) -> Result<Credentials, ImdsFailure> {
        let mut call = Call {
            inner: self,
            ctx,
            token: None,
            answered: false,
        };
        let result = call.run().await;
        result.map_err(|error| ImdsFailure {
            unreachable: !call.answered && matches!(error.class(), ErrorClass::Timeout | ErrorClass::Retryable),
            error,
        })
    }
}

/// One fetch: the token in use and whether anything answered.
struct Call<'a> {
    inner: &'a Client,
    ctx: &'a FetchContext,
    /// `Some(token)` in v2 mode, `None` in v1 mode (after [`Call::session`]).
    token: Option<Zeroizing<String>>,
    answered: bool,
}

/// An HTTP answer, read whole.
struct Answer {
    status: StatusCode,
    ttl: Option<u64>,
    /// The local time the request was sent.
    sent: SystemTime,
    /// The answer's `Date`, when usable.
    date: Option<SystemTime>,
    /// Wiped when dropped: a session token or a credentials document.
    body: Zeroizing<Vec<u8>>,
}

impl Call<'_> {
    async fn run(&mut self) -> Result<Credentials, SourceError> {
        if let Some(why) = self.inner.disabled {
            return Err(SourceError::not_loaded(format!(
                "the instance metadata service is disabled ({why})"
            )));
        }
        self.session(false).await?;
        let (role, given) = match &self.inner.role_name {
            Some(role) => (role.clone(), true),
            None => (self.discover_role().await?, false),
        };
        let what = "IMDS credentials";
        let answer = self.get(&format!("{ROLES_PATH}{role}"), what).await?;
        match answer.status {
            StatusCode::OK => {
                let credentials =
                    parse_document(&answer.body, self.ctx.now(), self.token.as_deref().map(String::as_str))?;
                Ok(http::on_local_clock(credentials, answer.date, answer.sent))
            }
            StatusCode::NOT_FOUND if given => Err(SourceError::invalid_configuration(format!(
                "{what}: IAM role `{role}` is not attached to this instance (404)"
            ))),
            StatusCode::NOT_FOUND => Err(SourceError::retryable(format!(
                "{what}: IAM role `{role}` was detached between two calls (404); the next fetch looks again"
            ))),
            status => Err(self.status_error(what, status)),
        }
    }

    async fn discover_role(&mut self) -> Result<String, SourceError> {
        let what = "IMDS role list";
        let answer = self.get(ROLES_PATH, what).await?;
        match answer.status {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => {
                return Err(SourceError::not_loaded(format!(
                    "{what}: no IAM role is attached to this instance (404)"
                )));
            }
            status => return Err(self.status_error(what, status)),
        }
        let text = std::str::from_utf8(&answer.body)
            .map_err(|_| SourceError::invalid_response(format!("{what}: the answer is not UTF-8")))?;
        let role = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or_default();
        if role.is_empty() {
            // IMDS answers 404 when no role is attached: an empty 200 is broken.
            return Err(SourceError::invalid_response(format!("{what}: the answer is empty")));
        }
        if !is_role_name(role) {
            return Err(SourceError::invalid_response(format!(
                "{what}: the answer is not an IAM role name"
            )));
        }
        Ok(role.to_string())
    }

    /// Makes sure [`Call::token`] holds a usable token, or chooses v1 mode.
    /// `renew` forces a new token (after a 401).
    async fn session(&mut self, renew: bool) -> Result<(), SourceError> {
        let now = self.ctx.now();
        if !renew {
            let cached = lock(&self.inner.token);
            if let Some(t) = cached.as_ref().filter(|t| now < t.renew_at) {
                self.token = Some(t.value.clone());
                return Ok(());
            }
        }
        *lock(&self.inner.token) = None;
        let what = "IMDS session token";
        let ttl = self.inner.token_ttl.as_secs();
        let answer = match self.send(Method::PUT, TOKEN_PATH, what, Some(ttl)).await {
            Ok(answer) => answer,
            Err(e) if e.class() == ErrorClass::Timeout && self.inner.v1_fallback => {
                tracing::debug!("IMDS token call timed out; falling back to IMDSv1");
                self.token = None;
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        match answer.status {
            StatusCode::OK => {}
            StatusCode::FORBIDDEN | StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
                if self.inner.v1_fallback =>
            {
                tracing::debug!(
                    status = answer.status.as_u16(),
                    "IMDS token call refused; falling back to IMDSv1"
                );
                self.token = None;
                return Ok(());
            }
            StatusCode::FORBIDDEN => {
                return Err(SourceError::new(
                    ErrorClass::Denied,
                    format!(
                        "{what}: refused (403): the metadata service is turned off on this instance, \
                         or the PUT response hop limit is too low for a container"
                    ),
                ));
            }
            StatusCode::BAD_REQUEST => {
                return Err(SourceError::invalid_configuration(format!(
                    "{what}: the token lifetime of {ttl} s was refused (400)"
                )));
            }
            s @ (StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED) => {
                return Err(SourceError::invalid_configuration(format!(
                    "{what}: the endpoint does not offer IMDSv2 tokens ({}); \
                     enable the IMDSv1 fallback if it is a v1-only metadata service",
                    s.as_u16()
                )));
            }
            status => return Err(self.status_error(what, status)),
        }
        let token = std::str::from_utf8(&answer.body)
            .map_err(|_| SourceError::invalid_response(format!("{what}: the token is not UTF-8")))?;
        let token = Zeroizing::new(token.trim().to_string());
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(SourceError::invalid_response(format!(
                "{what}: the token is empty or not printable ASCII"
            )));
        }
        // The service may grant less than asked; never trust it for more.
        let granted = answer
            .ttl
            .map(Duration::from_secs)
            .unwrap_or(self.inner.token_ttl)
            .min(self.inner.token_ttl);
        let renew_at = now + granted.saturating_sub(self.inner.token_renew_early);
        *lock(&self.inner.token) = Some(CachedToken {
            value: token.clone(),
            renew_at,
        });
        self.token = Some(token);
        Ok(())
    }

    /// A metadata `GET`; on a 401 in v2 mode, renews the token and retries once.
    async fn get(&mut self, path: &str, what: &'static str) -> Result<Answer, SourceError> {
        let answer = self.send(Method::GET, path, what, None).await?;
        if answer.status != StatusCode::UNAUTHORIZED {
            return Ok(answer);
        }
        if self.token.is_none() {
            return Err(SourceError::invalid_configuration(format!(
                "{what}: IMDSv1 was refused (401): this instance requires IMDSv2 tokens"
            )));
        }
        tracing::debug!("IMDS refused the session token (401); renewing it");
        self.session(true).await?;
        let again = self.send(Method::GET, path, what, None).await?;
        if again.status == StatusCode::UNAUTHORIZED {
            return Err(SourceError::new(
                ErrorClass::CredentialsRejected,
                format!("{what}: a freshly issued session token was refused (401)"),
            ));
        }
        Ok(again)
    }

    /// One HTTP call, tried up to `max_attempts` times on 5xx answers and
    /// transport failures.
    async fn send(
        &mut self,
        method: Method,
        path: &str,
        what: &'static str,
        ttl: Option<u64>,
    ) -> Result<Answer, SourceError> {
        let url = self
            .inner
            .base
            .join(path)
            .map_err(|e| SourceError::invalid_configuration(format!("{what}: bad URL: {e}")))?;
        let mut last = None;
        for attempt in 1..=self.inner.max_attempts {
            let mut request = self.inner.client.request(method.clone(), url.clone());
            if let Some(ttl) = ttl {
                request = request.header(TTL_HEADER, ttl);
            }
            if let (Some(token), None) = (&self.token, ttl) {
                let mut value = HeaderValue::from_str(token)
                    .map_err(|_| SourceError::invalid_response(format!("{what}: unusable session token")))?;
                value.set_sensitive(true);
                request = request.header(TOKEN_HEADER, value);
            }
            let sent = self.ctx.now();
            let response = match request.send().await {
                Ok(r) => r,
                Err(e) => {
                    last = Some(http::transport_error(what, e));
                    continue;
                }
            };
            self.answered = true;
            let status = response.status();
            let date = http::server_date(response.headers());
            let granted = response
                .headers()
                .get(TTL_HEADER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            if status.is_server_error() {
                last = Some(SourceError::retryable(format!(
                    "{what}: the metadata service answered {}",
                    status.as_u16()
                )));
                continue;
            }
            match http::read_body_capped(what, response, self.inner.max_body_bytes).await {
                Ok(body) => {
                    return Ok(Answer {
                        status,
                        ttl: granted,
                        sent,
                        date,
                        body,
                    });
                }
                Err(e) if e.class() == ErrorClass::InvalidResponse => return Err(e),
                Err(e) => last = Some(e),
            }
            tracing::debug!(attempt, what, "IMDS call failed; trying again");
        }
        Err(last.unwrap_or_else(|| SourceError::retryable(format!("{what}: no attempt was made"))))
    }

    fn status_error(&self, what: &str, status: StatusCode) -> SourceError {
        let code = status.as_u16();
        match status {
            StatusCode::TOO_MANY_REQUESTS => SourceError::new(
                ErrorClass::Throttled,
                format!("{what}: throttled by the metadata service (429)"),
            ),
            StatusCode::FORBIDDEN => SourceError::new(ErrorClass::Denied, format!("{what}: access denied (403)")),
            s if s.is_server_error() => SourceError::retryable(format!("{what}: the metadata service answered {code}")),
            _ => SourceError::invalid_response(format!("{what}: unexpected answer {code}")),
        }
    }
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// IAM role names: 1–64 of `[A-Za-z0-9+=,.@_-]`.
pub(super) fn is_role_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
}

/// Parses a credentials document; a `Code` other than `Success` is
/// [`Denied`](ErrorClass::Denied). `secret` (the session token in use) is
/// scrubbed from any text echoed into an error.
fn parse_document(body: &[u8], issued_at: SystemTime, secret: Option<&str>) -> Result<Credentials, SourceError> {
    let what = "IMDS credentials";
    let doc = document::read(body).map_err(|e| e.into_source_error(what))?;
    if let Some(code) = doc.code().filter(|c| *c != "Success") {
        let mut text = format!(
            "{what}: the metadata service answered code `{}`",
            printable(code, secret)
        );
        if let Some(message) = doc.message().filter(|m| !m.is_empty()) {
            text.push_str(": ");
            text.push_str(&printable(message, secret));
        }
        return Err(SourceError::new(ErrorClass::Denied, text));
    }
    doc.into_credentials(issued_at, DocumentKind::Imds)
        .map_err(|e| e.into_source_error(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const TOKEN: &str = "IQoJb3JpZ2luX2VjEXAMPLETOKEN";

    fn t(s: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(s)
    }

    #[test]
    fn documents_with_and_without_the_optional_fields() {
        let full = format!(
            r#"{{"Code":"Success","LastUpdated":"2026-11-22T18:00:00Z","Type":"AWS-HMAC","AccessKeyId":"ASIAEXAMPLE",
               "SecretAccessKey":"{SECRET}","Token":"{TOKEN}","Expiration":"2026-11-22T19:00:00Z"}}"#
        );
        let c = parse_document(full.as_bytes(), t(1_795_370_400), None).unwrap();
        assert_eq!(c.access_key_id(), "ASIAEXAMPLE");
        assert_eq!(c.secret_access_key(), SECRET);
        assert_eq!(c.session_token(), Some(TOKEN));
        assert_eq!(c.expiry(), Some(t(1_795_374_000)));
        assert_eq!(c.issued_at(), t(1_795_370_400));
        // moto's document: no Code, LastUpdated or Type.
        let moto = r#"{"AccessKeyId": "test-key", "SecretAccessKey": "test-secret-key", "Token": "test-session-token", "Expiration": "2026-11-23T17:52:29Z"}"#;
        let m = parse_document(moto.as_bytes(), t(0), None).unwrap();
        assert_eq!(m.access_key_id(), "test-key");
        assert_eq!(m.session_token(), Some("test-session-token"));
    }

    #[test]
    fn bad_documents_are_classified_without_secrets() {
        let denied = br#"{"Code":"AssumeRoleUnauthorizedAccess","Message":"EC2 cannot assume the role","LastUpdated":"2026-11-22T18:00:00Z"}"#;
        let e = parse_document(denied, t(0), None).unwrap_err();
        assert_eq!(e.class(), ErrorClass::Denied);
        assert!(e.message().contains("AssumeRoleUnauthorizedAccess"), "{e}");
        assert!(e.message().contains("EC2 cannot assume the role"), "{e}");

        let cases: [(&str, &str); 6] = [
            ("{\"AccessKeyId\":", "not valid JSON"),
            (
                r#"{"AccessKeyId":"A","Token":"T","Expiration":"2026-11-22T19:00:00Z"}"#,
                "SecretAccessKey",
            ),
            (
                r#"{"SecretAccessKey":"S","Token":"T","Expiration":"2026-11-22T19:00:00Z"}"#,
                "AccessKeyId",
            ),
            (
                r#"{"AccessKeyId":"A","SecretAccessKey":"S","Expiration":"2026-11-22T19:00:00Z"}"#,
                "Token",
            ),
            (r#"{"AccessKeyId":"A","SecretAccessKey":"S","Token":"T"}"#, "Expiration"),
            (
                r#"{"AccessKeyId":"A","SecretAccessKey":"S","Token":"T","Expiration":"tomorrow"}"#,
                "Expiration",
            ),
        ];
        for (doc, needle) in cases {
            let e = parse_document(doc.as_bytes(), t(0), None).unwrap_err();
            assert_eq!(e.class(), ErrorClass::InvalidResponse, "{doc}");
            assert!(e.message().contains(needle), "{doc}: {e}");
        }
        // A secret inside a broken document is not echoed.
        let broken = format!(r#"{{"AccessKeyId":"A","SecretAccessKey":"{SECRET}","Token":5}}"#);
        let e = parse_document(broken.as_bytes(), t(0), None).unwrap_err();
        assert!(!e.to_string().contains(SECRET), "{e}");
        let bad_secret = format!(
            r#"{{"AccessKeyId":"A","SecretAccessKey":"{SECRET} x","Token":"{TOKEN}","Expiration":"2026-11-22T19:00:00Z"}}"#
        );
        let e = parse_document(bad_secret.as_bytes(), t(0), None).unwrap_err();
        assert!(!e.to_string().contains(SECRET), "{e}");
        // A hostile service echoing our session token in a message gets it scrubbed.
        let echo = format!(r#"{{"Code":"Failure","Message":"token {TOKEN} refused"}}"#);
        let e = parse_document(echo.as_bytes(), t(0), Some(TOKEN)).unwrap_err();
        assert!(!e.to_string().contains(TOKEN), "{e}");
        assert!(e.to_string().contains(crate::REDACTED), "{e}");
    }

    #[test]
    fn role_names() {
        assert!(is_role_name("default-role"));
        assert!(is_role_name("a+b=c,d.e@f_g-h"));
        assert!(!is_role_name(""));
        assert!(!is_role_name("a/b"));
        assert!(!is_role_name("a b"));
        assert!(!is_role_name("<html>"));
        assert!(!is_role_name(&"r".repeat(65)));
    }
}
