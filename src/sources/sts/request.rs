//! SigV4 signing and the HTTP exchange with STS.

use std::fmt;
use std::time::SystemTime;

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use http::header::{CONTENT_TYPE, HOST, HeaderName, HeaderValue, USER_AGENT};
use reqwest::Url;
use zeroize::Zeroizing;

use crate::credentials::Credentials;
use crate::error::{BuildError, ErrorClass, SourceError};
use crate::sources::http::{read_body_capped, transport_error};

use super::classify::error_answer;
use super::xml::{self, Answer, Call, Parsed};

/// The STS API version sent with every call.
const API_VERSION: &str = "2011-06-15";
/// The content type of an AWS Query request.
const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";
const USER_AGENT_VALUE: &str = concat!("credrefresh/", env!("CARGO_PKG_VERSION"));

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
    let failed =
        |reason: String| SourceError::new(ErrorClass::InvalidConfiguration, format!("SigV4 signing: {reason}"));
    if !request.headers().contains_key(HOST) {
        let authority = request
            .uri()
            .authority()
            .ok_or_else(|| failed("the URI has no host".into()))?
            .as_str()
            .to_string();
        let value =
            HeaderValue::from_str(&authority).map_err(|_| failed("the URI host is not a header value".into()))?;
        request.headers_mut().insert(HOST, value);
    }
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
        .map_err(|e| failed(e.to_string()))?
        .into();
    let uri = request.uri().to_string();
    let mut headers = Vec::with_capacity(request.headers().len());
    for (name, value) in request.headers() {
        let value = value
            .to_str()
            .map_err(|_| failed(format!("header `{name}` is not visible ASCII")))?;
        headers.push((name.as_str(), value));
    }
    let signable = SignableRequest::new(
        request.method().as_str(),
        uri,
        headers.into_iter(),
        SignableBody::Bytes(request.body().as_ref()),
    )
    .map_err(|e| failed(e.to_string()))?;
    let (instructions, _signature) = sign(signable, &params).map_err(|e| failed(e.to_string()))?.into_parts();
    let (new_headers, _query) = instructions.into_parts();
    for header in new_headers {
        let name = HeaderName::from_static(header.name());
        let mut value = HeaderValue::from_str(header.value())
            .map_err(|_| failed(format!("the computed `{}` header is not a header value", header.name())))?;
        // The signature can be replayed for minutes: keep it out of logs too.
        value.set_sensitive(header.sensitive() || name == http::header::AUTHORIZATION);
        request.headers_mut().insert(name, value);
    }
    Ok(())
}

/// An HTTP client bound to one STS endpoint and region.
#[derive(Clone)]
pub(crate) struct StsClient {
    http: reqwest::Client,
    url: Url,
    region: String,
    max_body_bytes: usize,
}

impl fmt::Debug for StsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StsClient")
            .field("endpoint", &self.url.as_str())
            .field("region", &self.region)
            .field("max_body_bytes", &self.max_body_bytes)
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

    /// Appends one parameter, form-encoded.
    pub(crate) fn push(&mut self, key: &str, value: &str) {
        let mut s = url::form_urlencoded::Serializer::for_suffix(std::mem::take(&mut *self.body), 0);
        s.append_pair(key, value);
        *self.body = s.finish();
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
        Ok(Self {
            http,
            url,
            region,
            max_body_bytes,
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

    /// Sends one call, signed with `signer` when given, and parses the answer.
    pub(crate) async fn call(
        &self,
        call: Call,
        form: Form,
        signer: Option<&Credentials>,
        now: SystemTime,
    ) -> Result<Parsed, SourceError> {
        let what = format!("STS {}", call.action());
        let build_failed = |e: http::Error| SourceError::invalid_configuration(format!("{what}: bad request: {e}"));
        let mut request = http::Request::builder()
            .method(http::Method::POST)
            .uri(self.url.as_str())
            .header(CONTENT_TYPE, FORM_CONTENT_TYPE)
            .header(USER_AGENT, USER_AGENT_VALUE)
            .body(form.body.as_bytes().to_vec())
            .map_err(build_failed)?;
        if let Some(credentials) = signer {
            sign_request(&mut request, credentials, "sts", &self.region, now)?;
        }
        let request = reqwest::Request::try_from(request).map_err(|e| transport_error(&what, e))?;
        let response = self
            .http
            .execute(request)
            .await
            .map_err(|e| transport_error(&what, e))?;
        let status = response.status().as_u16();
        let request_id = response
            .headers()
            .get("x-amzn-requestid")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = read_body_capped(&what, response, self.max_body_bytes).await?;
        // Everything secret this request carried, for redaction of echoes.
        let mut secrets: Vec<&str> = form.secrets.iter().map(|s| s.as_str()).collect();
        if let Some(credentials) = signer {
            secrets.push(credentials.secret_access_key());
            secrets.extend(credentials.session_token());
        }
        if status != 200 {
            return Err(error_answer(call, status, request_id, &body, &secrets));
        }
        match xml::parse(call, &body, now)? {
            Answer::Success(parsed) => Ok(*parsed),
            // An error document with a 200: classify it all the same.
            Answer::Error(_) => Err(error_answer(call, status, request_id, &body, &secrets)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
