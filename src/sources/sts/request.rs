//! SigV4 signing and the HTTP exchange with STS.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningInstructions, SigningSettings, sign};
use aws_sigv4::sign::v4;
use http::HeaderMap;
use http::header::{CONTENT_TYPE, HOST, HeaderName, HeaderValue, USER_AGENT};
use reqwest::Url;
use zeroize::Zeroizing;

use crate::credentials::Credentials;
use crate::error::{BuildError, ErrorClass, SourceError};
use crate::source::FetchContext;
use crate::sources::http::{expiry_on_local_clock, read_body_capped, safe_request_id, server_date, transport_error};

use super::classify::{error_answer, error_code, is_clock_skew_error};
use super::xml::{self, Answer, Call, Parsed};

/// The STS API version sent with every call.
const API_VERSION: &str = "2011-06-15";
/// The content type of an AWS Query request.
const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";
const USER_AGENT_VALUE: &str = concat!("credrefresh/", env!("CARGO_PKG_VERSION"));
/// The header of STS's request id (looked up with a name made once, not
/// parsed from a string on every answer).
static X_AMZN_REQUEST_ID: HeaderName = HeaderName::from_static("x-amzn-requestid");

/// Signs `request` in place with AWS Signature Version 4, as the STS
/// sources do: the `Authorization` and `X-Amz-Date` headers are set, and
/// `X-Amz-Security-Token` when `credentials` carry a session token (it is
/// part of the signature).
///
/// Signed headers are `host` (set from the URI when absent, with its port
/// unless it is the scheme's default), every header already on the request
/// except `user-agent`, `authorization`, `x-amzn-trace-id` and
/// `transfer-encoding`, and the headers added here. The payload hash covers
/// the whole body. The signing time is `time`: pass
/// [`FetchContext::now`](crate::FetchContext::now) or a fixed instant in tests.
///
/// This is the signer of [`AssumeRoleSource`](super::AssumeRoleSource) and
/// [`SessionTokenSource`](super::SessionTokenSource), public so that it can be
/// checked against other implementations and reused to call STS (for
/// example `GetCallerIdentity`) with credentials a handle serves.
///
/// # Errors
/// [`InvalidConfiguration`](ErrorClass::InvalidConfiguration) when the
/// request cannot be signed: a header value that is not visible ASCII, a URI
/// without a host, a signing error of `aws-sigv4`. The message never carries
/// the credentials.
pub fn sign_request<B: AsRef<[u8]>>(
    request: &mut http::Request<B>,
    credentials: &Credentials,
    service: &str,
    region: &str,
    time: SystemTime,
) -> Result<(), SourceError> {
    if !request.headers().contains_key(HOST) {
        let authority = request
            .uri()
            .authority()
            .ok_or_else(|| signing_failed("the URI has no host".into()))?;
        let value = HeaderValue::from_str(authority.as_str())
            .map_err(|_| signing_failed("the URI host is not a header value".into()))?;
        request.headers_mut().insert(HOST, value);
    }
    let uri = request.uri().to_string();
    let signature = signature_headers(
        request.method().as_str(),
        &uri,
        request.headers(),
        request.body().as_ref(),
        credentials,
        service,
        region,
        time,
    )?;
    insert_signature(request.headers_mut(), signature)
}

/// The error of a request that cannot be signed.
fn signing_failed(reason: String) -> SourceError {
    SourceError::new(ErrorClass::InvalidConfiguration, format!("SigV4 signing: {reason}"))
}

/// The headers that sign a request (`Authorization`, `X-Amz-Date`, and
/// `X-Amz-Security-Token` with a session token) made by `aws-sigv4` from
/// its method, URI, headers (`host` among them) and body, as
/// [`sign_request`] describes; [`insert_signature`] adds them to the
/// request's headers.
#[allow(clippy::too_many_arguments)]
fn signature_headers(
    method: &str,
    uri: &str,
    headers: &http::HeaderMap,
    body: &[u8],
    credentials: &Credentials,
    service: &str,
    region: &str,
    time: SystemTime,
) -> Result<SigningInstructions, SourceError> {
    let identity = aws_credential_types::Credentials::new(
        credentials.access_key_id(),
        credentials.secret_access_key(),
        credentials.session_token().map(str::to_string),
        None,
        "credrefresh",
    )
    .into();
    let params: aws_sigv4::http_request::SigningParams<'_> = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| signing_failed(e.to_string()))?
        .into();
    // Checked first, so that the headers go to aws-sigv4 as an iterator
    // (no vector of our own to fill).
    if let Some((name, _)) = headers.iter().find(|(_, value)| value.to_str().is_err()) {
        return Err(signing_failed(format!("header `{name}` is not visible ASCII")));
    }
    let signed = headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.to_str().unwrap_or_default()));
    let signable = SignableRequest::new(method, uri, signed, SignableBody::Bytes(body))
        .map_err(|e| signing_failed(e.to_string()))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| signing_failed(e.to_string()))?
        .into_parts();
    Ok(instructions)
}

/// Adds the headers of a signature to `headers`, replacing any of the same
/// name. The `Authorization` header and those aws-sigv4 marks sensitive are
/// marked sensitive (kept out of `Debug`).
fn insert_signature(headers: &mut HeaderMap, signature: SigningInstructions) -> Result<(), SourceError> {
    let (signature, _query) = signature.into_parts();
    for header in signature {
        let name = HeaderName::from_static(header.name());
        let mut value = HeaderValue::from_str(header.value())
            .map_err(|_| signing_failed(format!("the computed `{}` header is not a header value", header.name())))?;
        // The signature can be replayed for minutes: keep it out of logs too.
        value.set_sensitive(header.sensitive() || name == http::header::AUTHORIZATION);
        headers.insert(name, value);
    }
    Ok(())
}

/// An HTTP client bound to one STS endpoint and region, with the clock
/// skew learned from STS's answers (shared by every call of its source).
#[derive(Clone)]
pub(crate) struct StsClient {
    http: reqwest::Client,
    url: Url,
    /// The `host` header signed and sent: the URL's authority (with its
    /// port unless it is the scheme's default). Made once, not per call.
    host: Option<HeaderValue>,
    region: String,
    max_body_bytes: usize,
    skew: Arc<SkewTracker>,
}

impl fmt::Debug for StsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StsClient")
            .field("endpoint", &crate::sources::http::shown_url(&self.url))
            .field("region", &self.region)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("clock_skew_ms", &self.skew.get())
            .finish_non_exhaustive()
    }
}

/// A request body: form parameters, wiped when dropped (it may hold an MFA
/// code or a web identity token).
pub(crate) struct Form {
    body: Zeroizing<String>,
    /// Secret values sent (MFA code, web identity token), redacted from
    /// any error message that echoes them.
    secrets: Vec<Zeroizing<String>>,
}

impl Form {
    /// `Action=…&Version=2011-06-15`.
    pub(crate) fn new(call: Call) -> Self {
        let mut form = Self {
            body: Zeroizing::new(String::with_capacity(256)),
            secrets: Vec::new(),
        };
        form.push("Action", call.action());
        form.push("Version", API_VERSION);
        form
    }

    /// No parameters: a part of a body (see [`assembled`](Self::assembled)).
    pub(crate) fn empty() -> Self {
        Self {
            body: Zeroizing::new(String::new()),
            secrets: Vec::new(),
        }
    }

    /// The encoded parameters, to keep and [`assembled`](Self::assembled)
    /// later. Only for a form without secrets: the text is no longer wiped.
    pub(crate) fn into_encoded(mut self) -> String {
        debug_assert!(self.secrets.is_empty());
        std::mem::take(&mut *self.body)
    }

    /// `head` (from [`new`](Self::new), [`into_encoded`](Self::into_encoded)),
    /// the parameter `key=value` encoded now, and `tail` (empty, or encoded
    /// `&key=value` parameters): the body the pushes of all three would make,
    /// without encoding `head` and `tail` again. Sized once.
    pub(crate) fn assembled(head: &str, key: &str, value: &str, tail: &str) -> Self {
        let mut form = Self {
            body: Zeroizing::new(String::with_capacity(
                head.len() + 3 * (key.len() + value.len()) + 2 + tail.len(),
            )),
            secrets: Vec::new(),
        };
        form.body.push_str(head);
        form.push(key, value);
        form.body.push_str(tail);
        form
    }

    /// Appends one parameter, form-encoded.
    pub(crate) fn push(&mut self, key: &str, value: &str) {
        // Room first, so that appending never reallocates: a reallocation
        // would leave an unwiped copy of what the body holds (at worst
        // three bytes per character once encoded, and the `&` and `=`).
        self.reserve(3 * (key.len() + value.len()) + 2);
        let mut s = url::form_urlencoded::Serializer::for_suffix(std::mem::take(&mut *self.body), 0);
        s.append_pair(key, value);
        *self.body = s.finish();
    }

    /// Makes room for `extra` more bytes, moving the body to a bigger
    /// buffer if needed; the old one is wiped when dropped.
    fn reserve(&mut self, extra: usize) {
        let needed = self.body.len() + extra;
        if self.body.capacity() < needed {
            let mut bigger = Zeroizing::new(String::with_capacity(needed.max(2 * self.body.capacity())));
            bigger.push_str(&self.body);
            self.body = bigger;
        }
    }

    /// Appends a parameter whose value is a secret.
    pub(crate) fn push_secret(&mut self, key: &str, value: &str) {
        self.push(key, value);
        self.secrets.push(Zeroizing::new(value.to_string()));
    }

    /// Appends `Prefix.member.N[.suffix]` lists, numbered from 1.
    pub(crate) fn push_members<'a>(&mut self, prefix: &str, suffix: &str, values: impl IntoIterator<Item = &'a str>) {
        for (i, v) in values.into_iter().enumerate() {
            self.push(&format!("{prefix}.member.{}{suffix}", i + 1), v);
        }
    }

    #[cfg(test)]
    pub(crate) fn as_str(&self) -> &str {
        &self.body
    }
}

impl StsClient {
    pub(crate) fn new(
        http: reqwest::Client,
        url: Url,
        region: String,
        max_body_bytes: usize,
    ) -> Result<Self, BuildError> {
        let host = url
            .as_str()
            .parse::<http::Uri>()
            .ok()
            .and_then(|uri| HeaderValue::from_str(uri.authority()?.as_str()).ok());
        Ok(Self {
            http,
            url,
            host,
            region,
            max_body_bytes,
            skew: Arc::new(SkewTracker::default()),
        })
    }

    /// The endpoint called.
    #[cfg(test)]
    pub(crate) fn url(&self) -> &Url {
        &self.url
    }

    /// The region signed for.
    #[cfg(test)]
    pub(crate) fn region(&self) -> &str {
        &self.region
    }

    /// The headers of a call with `body`: the content type, the user agent
    /// and, when `signing` gives credentials and a time, `host` and the
    /// SigV4 headers, as [`sign_request`] makes them for a `POST` to the
    /// endpoint (the endpoint's URL and host are parsed once, in
    /// [`new`](Self::new), not per call).
    fn headers(&self, body: &[u8], signing: Option<(&Credentials, SystemTime)>) -> Result<HeaderMap, SourceError> {
        let mut headers = HeaderMap::with_capacity(8);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(FORM_CONTENT_TYPE));
        if let Some((credentials, time)) = signing {
            let host = self
                .host
                .clone()
                .ok_or_else(|| signing_failed("the URI has no host".into()))?;
            headers.insert(HOST, host);
            let signature = signature_headers(
                "POST",
                self.url.as_str(),
                &headers,
                body,
                credentials,
                "sts",
                &self.region,
                time,
            )?;
            insert_signature(&mut headers, signature)?;
        }
        // Added after the signature: `user-agent` is never signed (aws-sigv4
        // leaves it out by default, as `sign_request` says), so aws-sigv4
        // need not look at it.
        headers.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
        Ok(headers)
    }

    /// Sends one call, signed with `signer` when given, and parses the answer.
    ///
    /// The signing time is the local time corrected by the clock skew
    /// learned from earlier answers. When STS refuses the signature for its
    /// time ([`is_clock_skew_error`]) and the answer's `Date` shows a skew
    /// other than the one signed with, the call is signed again with the
    /// new skew and sent once more at once, as the AWS SDKs do. The
    /// credentials' expiry is moved onto the local clock by the answer's
    /// `Date` ([`on_local_clock`](crate::sources::http::on_local_clock)).
    pub(crate) async fn call(
        &self,
        call: Call,
        form: Form,
        signer: Option<&Credentials>,
        ctx: &FetchContext,
    ) -> Result<Parsed, SourceError> {
        // reqwest owns the body it sends: the form's own buffer, moved
        // into `Bytes` once for every attempt (no copy), and wiped when
        // the last of them is dropped (it may hold a web identity token or
        // an MFA code).
        let Form { body, secrets } = form;
        let body = bytes::Bytes::from_owner(body);
        let form = Sent { body, secrets };
        let first = self.attempt(call, &form, signer, ctx).await?;
        let retry = match &first {
            Err(refused) if signer.is_some() => refused.skew_changed,
            _ => false,
        };
        let outcome = if retry {
            tracing::warn!(
                role = ctx.role(),
                action = call.action(),
                clock_skew_secs = self.skew.get() / 1000,
                "STS refused the signature for its time: the local clock is off; signing again with STS's time"
            );
            self.attempt(call, &form, signer, ctx).await?
        } else {
            first
        };
        outcome.map_err(|refused| refused.error)
    }

    /// One request: `Ok(Ok(parsed))`, `Ok(Err(refused))` for an error
    /// answer (with whether it was a clock-skew refusal that a new signature
    /// can fix), `Err` for everything else.
    async fn attempt(
        &self,
        call: Call,
        form: &Sent,
        signer: Option<&Credentials>,
        ctx: &FetchContext,
    ) -> Result<Result<Parsed, Refused>, SourceError> {
        let what = call.what();
        let sent = ctx.now();
        let signed_with = self.skew.get();
        let signing = signer.map(|credentials| (credentials, shift(sent, signed_with)));
        let headers = self.headers(&form.body, signing)?;
        // Built on the client's parsed URL: `reqwest::Request::try_from`
        // would parse the URI again into a `Url` on every request.
        let mut request = reqwest::Request::new(http::Method::POST, self.url.clone());
        *request.headers_mut() = headers;
        *request.body_mut() = Some(reqwest::Body::from(form.body.clone()));
        let response = self.http.execute(request).await.map_err(|e| transport_error(what, e))?;
        let received = ctx.now();
        let status = response.status().as_u16();
        let server_date = server_date(response.headers());
        let learned = server_date.and_then(|date| self.skew.learn(date, sent, received));
        // Only an error answer needs it (a success has its own in the
        // document): kept as received (a shared buffer), read when needed.
        let request_id = response.headers().get(&X_AMZN_REQUEST_ID).cloned();
        let body = read_body_capped(what, response, self.max_body_bytes).await?;
        let refused = |body: &[u8]| {
            // Everything secret this request carried, for redaction of echoes.
            let mut secrets: Vec<&str> = form.secrets.iter().map(|s| s.as_str()).collect();
            if let Some(credentials) = signer {
                secrets.push(credentials.secret_access_key());
                secrets.extend(credentials.session_token());
            }
            let skew_changed = learned.is_some_and(|skew| (skew - signed_with).unsigned_abs() > SKEW_THRESHOLD_MS)
                && error_code(call, body).is_some_and(|code| is_clock_skew_error(&code));
            Refused {
                error: error_answer(
                    call,
                    status,
                    request_id
                        .as_ref()
                        .and_then(|v| v.to_str().ok())
                        .and_then(safe_request_id),
                    body,
                    &secrets,
                ),
                skew_changed,
            }
        };
        if status != 200 {
            return Ok(Err(refused(&body)));
        }
        // The expiry moved onto the local clock by the answer's `Date`, as
        // `on_local_clock` does, while the credentials are built (no copy).
        match xml::parse_with_expiry(call, &body, sent, |expiry| {
            expiry_on_local_clock(expiry, server_date, sent)
        })? {
            Answer::Success(parsed) => Ok(Ok(*parsed)),
            // An error document with a 200: classify it all the same.
            Answer::Error(_) => Ok(Err(refused(&body))),
        }
    }
}

/// A call's form as its attempts send it.
struct Sent {
    /// The encoded form, shared by the attempts and reqwest.
    body: bytes::Bytes,
    /// Secret values sent, redacted from any error message that echoes them.
    secrets: Vec<Zeroizing<String>>,
}

/// An error answer from STS.
struct Refused {
    error: SourceError,
    /// Whether STS refused the signature for its time while its `Date`
    /// shows a clock skew other than the one signed with.
    skew_changed: bool,
}

/// Below this skew (4 minutes, as the AWS SDK for Rust), the local clock is
/// taken as right: signing is not corrected, and a refusal is not read as
/// a clock problem. STS accepts signatures up to 15 minutes off.
const SKEW_THRESHOLD_MS: u64 = 4 * 60 * 1000;
/// An answer that took longer than this (15 minutes) is not used to measure
/// the skew: its `Date` could be anywhere within the wait.
const MAX_MEASURED_ROUND_TRIP: Duration = Duration::from_secs(15 * 60);

/// The clock skew between STS and us, learned from the `Date` of every
/// answer: STS's time minus the local time halfway through the request,
/// in milliseconds, or zero when it is under [`SKEW_THRESHOLD_MS`].
#[derive(Debug, Default)]
struct SkewTracker {
    millis: AtomicI64,
}

impl SkewTracker {
    fn get(&self) -> i64 {
        self.millis.load(Ordering::Relaxed)
    }

    /// Records the skew shown by an answer dated `server` to a request sent
    /// at `sent` and answered at `received` (local times), and returns it;
    /// `None` when the round trip is too long to tell.
    fn learn(&self, server: SystemTime, sent: SystemTime, received: SystemTime) -> Option<i64> {
        let round_trip = received.duration_since(sent).unwrap_or_default();
        if round_trip > MAX_MEASURED_ROUND_TRIP {
            return None;
        }
        let midpoint = sent + round_trip / 2;
        let measured = match server.duration_since(midpoint) {
            Ok(ahead) => i64::try_from(ahead.as_millis()).unwrap_or(i64::MAX),
            Err(behind) => i64::try_from(behind.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
        };
        let skew = if measured.unsigned_abs() > SKEW_THRESHOLD_MS {
            measured
        } else {
            0
        };
        self.millis.store(skew, Ordering::Relaxed);
        Some(skew)
    }
}

/// `t` moved by `skew_ms`, or `t` itself if that is beyond `SystemTime`.
fn shift(t: SystemTime, skew_ms: i64) -> SystemTime {
    let by = Duration::from_millis(skew_ms.unsigned_abs());
    let moved = if skew_ms >= 0 {
        t.checked_add(by)
    } else {
        t.checked_sub(by)
    };
    moved.unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            SystemTime::UNIX_EPOCH,
        )
        .unwrap()
    }

    fn request(uri: &str) -> http::Request<Vec<u8>> {
        http::Request::builder()
            .method("POST")
            .uri(uri)
            .header(CONTENT_TYPE, FORM_CONTENT_TYPE)
            .body(b"Action=GetCallerIdentity&Version=2011-06-15".to_vec())
            .unwrap()
    }

    const T: Duration = Duration::from_secs(1_440_938_160); // 2015-08-30T12:36:00Z

    #[test]
    fn adds_host_date_and_authorization() {
        let mut r = request("https://sts.eu-west-1.amazonaws.com/");
        sign_request(&mut r, &creds(), "sts", "eu-west-1", SystemTime::UNIX_EPOCH + T).unwrap();
        assert_eq!(r.headers()["host"], "sts.eu-west-1.amazonaws.com");
        assert_eq!(r.headers()["x-amz-date"], "20150830T123600Z");
        let auth = r.headers()["authorization"].to_str().unwrap();
        assert!(
            auth.starts_with(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/eu-west-1/sts/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date, Signature="
            ),
            "{auth}"
        );
        assert!(!r.headers().contains_key("x-amz-security-token"));
        assert!(r.headers()["authorization"].is_sensitive());
    }

    #[test]
    fn session_token_is_signed_and_sent() {
        let mut r = request("http://127.0.0.1:4566/");
        let c = creds().with_session_token("SESSIONTOKEN").unwrap();
        sign_request(&mut r, &c, "sts", "us-east-1", SystemTime::UNIX_EPOCH + T).unwrap();
        assert_eq!(r.headers()["host"], "127.0.0.1:4566");
        assert_eq!(r.headers()["x-amz-security-token"], "SESSIONTOKEN");
        assert!(r.headers()["x-amz-security-token"].is_sensitive());
        let auth = r.headers()["authorization"].to_str().unwrap();
        assert!(
            auth.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token,"),
            "{auth}"
        );
    }

    #[test]
    fn signature_depends_on_body_region_and_time() {
        let sig = |uri: &str, region: &str, body: &[u8], t: Duration| {
            let mut r = request(uri);
            *r.body_mut() = body.to_vec();
            sign_request(&mut r, &creds(), "sts", region, SystemTime::UNIX_EPOCH + t).unwrap();
            r.headers()["authorization"].to_str().unwrap().to_string()
        };
        let base = sig("https://sts.amazonaws.com/", "us-east-1", b"a=1", T);
        assert_eq!(base, sig("https://sts.amazonaws.com/", "us-east-1", b"a=1", T));
        assert_ne!(base, sig("https://sts.amazonaws.com/", "us-east-1", b"a=2", T));
        assert_ne!(base, sig("https://sts.amazonaws.com/", "us-west-2", b"a=1", T));
        assert_ne!(
            base,
            sig(
                "https://sts.amazonaws.com/",
                "us-east-1",
                b"a=1",
                T + Duration::from_secs(1)
            )
        );
        assert_ne!(base, sig("https://sts.amazonaws.com:8443/", "us-east-1", b"a=1", T));
    }

    /// The client's own path (URL and host parsed once) signs exactly as
    /// `sign_request`, which is checked against botocore
    /// (`tests/peers/sts_signing_botocore.rs`).
    #[test]
    fn the_clients_headers_are_those_of_sign_request() {
        let body = b"Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fr";
        let at = SystemTime::UNIX_EPOCH + T;
        let with_token = creds().with_session_token("SESSIONTOKEN").unwrap();
        for endpoint in [
            "https://sts.eu-west-1.amazonaws.com",
            "https://sts.amazonaws.com:443/",
            "https://sts.amazonaws.com:8443/",
            "http://127.0.0.1:4566",
            "http://localhost:80/",
            "http://[::1]:8080/sts/",
        ] {
            let url = Url::parse(endpoint).unwrap();
            let http = crate::sources::http::client(Duration::from_secs(1), Duration::from_secs(2)).unwrap();
            let client = StsClient::new(http, url.clone(), "eu-west-1".into(), 1024).unwrap();
            for c in [creds(), with_token.clone()] {
                let ours = client.headers(body, Some((&c, at))).unwrap();
                let mut expected = http::Request::builder()
                    .method("POST")
                    .uri(url.as_str())
                    .header(CONTENT_TYPE, FORM_CONTENT_TYPE)
                    .header(USER_AGENT, USER_AGENT_VALUE)
                    .body(body.to_vec())
                    .unwrap();
                sign_request(&mut expected, &c, "sts", "eu-west-1", at).unwrap();
                assert_eq!(&ours, expected.headers(), "{endpoint}");
                assert!(ours["authorization"].is_sensitive());
            }
            let unsigned = client.headers(body, None).unwrap();
            assert_eq!(unsigned.len(), 2);
            assert!(!unsigned.contains_key(HOST));
        }
    }

    #[test]
    fn non_ascii_header_is_an_error_not_a_panic() {
        let mut r = request("https://sts.amazonaws.com/");
        r.headers_mut()
            .insert("x-custom", HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap());
        let e = sign_request(&mut r, &creds(), "sts", "us-east-1", SystemTime::UNIX_EPOCH + T).unwrap_err();
        assert_eq!(e.class(), ErrorClass::InvalidConfiguration);
        assert!(!e.to_string().contains("wJalr"));
    }

    #[test]
    fn skew_is_learned_from_the_midpoint_and_ignored_under_the_threshold() {
        let tracker = SkewTracker::default();
        let sent = SystemTime::UNIX_EPOCH + T;
        let received = sent + Duration::from_secs(2);
        // STS two hours ahead of the request's midpoint.
        let server = sent + Duration::from_secs(1) + Duration::from_secs(7200);
        assert_eq!(tracker.learn(server, sent, received), Some(7_200_000));
        assert_eq!(tracker.get(), 7_200_000);
        // Behind.
        let server = sent + Duration::from_secs(1) - Duration::from_secs(7200);
        assert_eq!(tracker.learn(server, sent, received), Some(-7_200_000));
        // Three minutes off: the local clock is taken as right.
        let server = sent + Duration::from_secs(1) + Duration::from_secs(180);
        assert_eq!(tracker.learn(server, sent, received), Some(0));
        assert_eq!(tracker.get(), 0);
        // A round trip over 15 minutes tells nothing, and changes nothing.
        tracker.learn(sent + Duration::from_secs(7201), sent, received);
        let late = sent + Duration::from_secs(16 * 60);
        assert_eq!(tracker.learn(sent, sent, late), None);
        assert_eq!(tracker.get(), 7_200_000);
    }

    #[test]
    fn shifting_saturates() {
        let t = SystemTime::UNIX_EPOCH + T;
        assert_eq!(shift(t, 1500), t + Duration::from_millis(1500));
        assert_eq!(shift(t, -1500), t - Duration::from_millis(1500));
        let _ = shift(SystemTime::UNIX_EPOCH, i64::MIN);
        let _ = shift(t, i64::MAX);
    }

    #[test]
    fn form_bodies_make_room_before_appending() {
        let mut f = Form::new(Call::AssumeRoleWithWebIdentity);
        // What `push` reserves bounds what it appends, for the worst values
        // (every byte percent-encoded), so `String` never reallocates.
        for value in ["é".repeat(300), "\u{10FFFF}".repeat(100), "a b+c&d=".repeat(50)] {
            let len = f.body.len();
            f.push_secret("WebIdentityToken", &value);
            assert!(f.body.len() - len <= 3 * ("WebIdentityToken".len() + value.len()) + 2);
        }
        // Making room moves the content to a big enough buffer.
        let content = f.body.to_string();
        f.reserve(100_000);
        assert!(f.body.capacity() >= content.len() + 100_000);
        assert_eq!(f.body.as_str(), content);
        // The secrets, kept for redaction, are wiped buffers too.
        let _: &Zeroizing<String> = &f.secrets[0];
        assert_eq!(f.secrets[0].as_str(), "é".repeat(300));
    }

    #[test]
    fn form_encoding() {
        let mut f = Form::new(Call::AssumeRole);
        f.push("RoleSessionName", "a b+c@d");
        f.push_members(
            "PolicyArns",
            ".arn",
            ["arn:aws:iam::aws:policy/A", "arn:aws:iam::aws:policy/B"],
        );
        assert_eq!(
            f.as_str(),
            "Action=AssumeRole&Version=2011-06-15&RoleSessionName=a+b%2Bc%40d\
             &PolicyArns.member.1.arn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FA\
             &PolicyArns.member.2.arn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FB"
        );
    }
}
