//! Credentials from the container credentials endpoint: ECS task roles,
//! EKS Pod Identity, and any local credential agent speaking the protocol.
//!
//! # Where
//! - `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`: a path on
//!   [`RELATIVE_URI_HOST`] (`http://169.254.170.2`), the ECS agent. It wins
//!   over the full URI, as in the SDKs.
//! - `AWS_CONTAINER_CREDENTIALS_FULL_URI`: any `https` URL, or plain `http`
//!   only to a loopback host (`127.0.0.0/8`, `::1`, `localhost`) or to
//!   `169.254.170.2`, `169.254.170.23` or `fd00:ec2::23` (the ECS and EKS
//!   agents). Anything else is refused at build time, so credentials are
//!   never sent in the clear to an arbitrary host.
//!
//! Neither set: the source is built, and every fetch fails with
//! [`NotLoaded`](ErrorClass::NotLoaded), so a chain moves on.
//!
//! # Authorization token
//! Sent as the `Authorization` header when set: the contents of the file
//! named by `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` (EKS Pod Identity), else
//! `AWS_CONTAINER_AUTHORIZATION_TOKEN`. The file wins when both are set, as
//! in the SDKs. Both are re-read at every fetch (the agent rotates the file).
//! The file is read on a thread of its own and within 5 s: one that never
//! answers (a FIFO without a writer, a hung mount) makes that fetch, and the
//! next ones while the stuck read lasts, a [`Timeout`](ErrorClass::Timeout),
//! and blocks neither the other roles nor `shutdown()`.
//! Trailing whitespace, a final newline included, is trimmed; a token with a
//! line break or another control character inside, or non-ASCII, is refused
//! with an [`InvalidConfiguration`](ErrorClass::InvalidConfiguration) error
//! that names where the token came from and never shows it.
//!
//! # Error classes
//! | answer | class |
//! | --- | --- |
//! | 200 with a bad document, body over the cap | [`InvalidResponse`](ErrorClass::InvalidResponse) |
//! | 400 (bad request), 401 (token refused), 404 (wrong URI) | [`InvalidConfiguration`](ErrorClass::InvalidConfiguration) |
//! | 403 and other 4xx | [`Denied`](ErrorClass::Denied) |
//! | 429 | [`Throttled`](ErrorClass::Throttled) |
//! | 5xx, refused or dropped connection | [`Retryable`](ErrorClass::Retryable) |
//! | timeout; a token file not read within 5 s | [`Timeout`](ErrorClass::Timeout) |
//!
//! The error's message carries the status and the body's `code` and
//! `message` (`{"code":..,"message":..}`), with the authorization token
//! scrubbed should the endpoint echo it. A fetch makes one call: retrying
//! is the refresher's job.

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue};
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::credentials::Credentials;
use crate::document::{self, DocumentKind};
use crate::error::{BuildError, ErrorClass, SourceError};
use crate::source::{FetchContext, FetchFuture, Source};

/// Default connect timeout: 2 s, as the SDKs.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Default time allowed for the answer once connected: 5 s, as the SDKs.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Default limit on the answer's body: 64 KiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = http::DEFAULT_MAX_BODY_BYTES;
/// The host a relative URI is resolved on: the ECS agent.
pub const RELATIVE_URI_HOST: &str = "http://169.254.170.2";

/// The longest token file read: tokens are a few KiB at most.
const MAX_TOKEN_FILE_BYTES: usize = 16 * 1024;

const ENV_RELATIVE_URI: &str = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI";
const ENV_FULL_URI: &str = "AWS_CONTAINER_CREDENTIALS_FULL_URI";
const ENV_TOKEN: &str = "AWS_CONTAINER_AUTHORIZATION_TOKEN";
const ENV_TOKEN_FILE: &str = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE";

/// Plain-http hosts allowed for a full URI besides loopback.
const ALLOWED_HTTP_IPS: [&str; 3] = ["169.254.170.2", "169.254.170.23", "fd00:ec2::23"];

use super::builder_setters::{env_lookup_setters, http_setters};
use super::file::{FileError, FileReader};
use super::http::{self, printable};
use super::lookup::{Lookup, process_env};

/// Credentials from the container credentials endpoint. See the
/// [module documentation](self).
///
/// ```
/// use credrefresh::sources::EcsSource;
/// # fn main() -> Result<(), credrefresh::BuildError> {
/// let ecs = EcsSource::builder()
///     .env_lookup(|_| None) // for the example: ignore the process environment
///     .full_uri("http://127.0.0.1:51679/v2/credentials")
///     .auth_token_file("/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token")
///     .build()?;
/// assert!(ecs.is_configured());
/// assert!(EcsSource::builder().full_uri("http://example.com/creds").build().is_err());
/// # Ok(()) }
/// ```
pub struct EcsSource {
    client: reqwest::Client,
    uri: Option<Url>,
    token: TokenFrom,
    max_body_bytes: usize,
    reader: FileReader,
}

/// Where the authorization token comes from.
enum TokenFrom {
    /// Set in code: checked at build time.
    Value(Zeroizing<String>),
    /// A file set in code, read at every fetch.
    File(PathBuf),
    /// The environment, read at every fetch.
    Env(Lookup),
}

impl fmt::Debug for EcsSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let token = match &self.token {
            TokenFrom::Value(_) => crate::REDACTED.to_string(),
            TokenFrom::File(path) => format!("file {}", path.display()),
            TokenFrom::Env(_) => "environment".to_string(),
        };
        f.debug_struct("EcsSource")
            .field("uri", &self.uri.as_ref().map(http::shown_url))
            .field("token", &token)
            .finish_non_exhaustive()
    }
}

impl EcsSource {
    /// A builder reading the process environment for what is not set.
    pub fn builder() -> EcsSourceBuilder {
        EcsSourceBuilder::default()
    }

    /// A source configured from the process environment (`AWS_CONTAINER_*`).
    ///
    /// # Errors
    /// As [`EcsSourceBuilder::build`].
    pub fn from_env() -> Result<Self, BuildError> {
        Self::builder().build()
    }

    /// Whether a URI was found (in code or in the environment). An
    /// unconfigured source answers every fetch with
    /// [`NotLoaded`](ErrorClass::NotLoaded).
    pub fn is_configured(&self) -> bool {
        self.uri.is_some()
    }

    /// The endpoint credentials are fetched from.
    pub fn uri(&self) -> Option<&Url> {
        self.uri.as_ref()
    }

    /// The current authorization token, read afresh.
    async fn read_token(&self) -> Result<Option<Zeroizing<String>>, SourceError> {
        match &self.token {
            TokenFrom::Value(v) => Ok(Some(v.clone())),
            TokenFrom::File(path) => read_token_file(&self.reader, path).await.map(Some),
            TokenFrom::Env(lookup) => {
                if let Some(path) = lookup(ENV_TOKEN_FILE).filter(|p| !p.trim().is_empty()) {
                    return read_token_file(&self.reader, &PathBuf::from(path)).await.map(Some);
                }
                match lookup(ENV_TOKEN).map(Zeroizing::new) {
                    Some(raw) if !raw.trim().is_empty() => clean_token(&raw, ENV_TOKEN)
                        .map(Some)
                        .map_err(SourceError::invalid_configuration),
                    _ => Ok(None),
                }
            }
        }
    }

    async fn fetch_once(&self, ctx: &FetchContext) -> Result<Credentials, SourceError> {
        let what = "container credentials";
        let Some(uri) = &self.uri else {
            return Err(SourceError::not_loaded(format!(
                "{what}: neither {ENV_RELATIVE_URI} nor {ENV_FULL_URI} is set"
            )));
        };
        let token = self.read_token().await?;
        let now = ctx.now();
        let mut request = self.client.get(uri.clone()).header(ACCEPT, "application/json");
        if let Some(token) = &token {
            // clean_token let only visible ASCII through.
            let mut value = HeaderValue::from_str(token).map_err(|_| {
                SourceError::invalid_configuration(format!("{what}: the authorization token is not a header value"))
            })?;
            value.set_sensitive(true);
            request = request.header(AUTHORIZATION, value);
        }
        let response = request.send().await.map_err(|e| http::transport_error(what, e))?;
        let status = response.status();
        let date = http::server_date(response.headers());
        let body = http::read_body_capped(what, response, self.max_body_bytes).await?;
        let secret = token.as_deref().map(String::as_str);
        if status == StatusCode::OK {
            parse_document(&body, now).map(|c| http::on_local_clock(c, date, now))
        } else {
            Err(status_error(what, status, &body, secret))
        }
    }
}

impl Source for EcsSource {
    fn name(&self) -> &'static str {
        "ecs"
    }

    fn fetch(&self, ctx: FetchContext) -> FetchFuture<'_> {
        Box::pin(async move { self.fetch_once(&ctx).await })
    }
}

/// Trims trailing whitespace and checks the token can be sent as a header.
/// `from` names where it came from; the error never shows the token.
fn clean_token(raw: &str, from: &str) -> Result<Zeroizing<String>, String> {
    let token = raw.trim_end();
    if token.is_empty() {
        return Err(format!("the container authorization token from {from} is empty"));
    }
    if token.chars().any(|c| c.is_control()) {
        return Err(format!(
            "the container authorization token from {from} contains a line break or another control \
             character, which cannot be sent in an HTTP header"
        ));
    }
    if !token.is_ascii() {
        return Err(format!(
            "the container authorization token from {from} contains non-ASCII characters"
        ));
    }
    Ok(Zeroizing::new(token.to_string()))
}

/// Reads a token file off the actor thread ([`FileReader`]).
async fn read_token_file(reader: &FileReader, path: &std::path::Path) -> Result<Zeroizing<String>, SourceError> {
    let from = format!("file {}", path.display());
    let bytes = reader.read(path, MAX_TOKEN_FILE_BYTES).await.map_err(|e| {
        let message = match &e {
            FileError::TooLarge => {
                format!("the container authorization token {from} is over {MAX_TOKEN_FILE_BYTES} bytes")
            }
            e => format!("the container authorization token {from} {e}"),
        };
        if e.is_timeout() {
            SourceError::new(ErrorClass::Timeout, message)
        } else {
            SourceError::invalid_configuration(message)
        }
    })?;
    let bad = |reason: String| SourceError::invalid_configuration(reason);
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| bad(format!("the container authorization token {from} is not UTF-8")))?;
    clean_token(text, &from).map_err(bad)
}

fn parse_document(body: &[u8], issued_at: SystemTime) -> Result<Credentials, SourceError> {
    document::parse(body, issued_at, DocumentKind::Container).map_err(|e| e.into_source_error("container credentials"))
}

#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(alias = "Code")]
    code: Option<String>,
    #[serde(alias = "Message")]
    message: Option<String>,
}

fn status_error(what: &str, status: StatusCode, body: &[u8], secret: Option<&str>) -> SourceError {
    let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let mut text = format!("{what}: the endpoint answered {}", status.as_u16());
    match (parsed.code.as_deref(), parsed.message.as_deref()) {
        (Some(code), Some(message)) => {
            text.push_str(&format!(
                " ({}: {})",
                printable(code, secret),
                printable(message, secret)
            ));
        }
        (Some(one), None) | (None, Some(one)) => text.push_str(&format!(" ({})", printable(one, secret))),
        (None, None) => {}
    }
    let class = match status {
        StatusCode::TOO_MANY_REQUESTS => ErrorClass::Throttled,
        StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED | StatusCode::NOT_FOUND => ErrorClass::InvalidConfiguration,
        s if s.is_client_error() => ErrorClass::Denied,
        s if s.is_server_error() => ErrorClass::Retryable,
        _ => ErrorClass::InvalidResponse,
    };
    SourceError::new(class, text)
}

/// Checks a full URI: https anywhere; plain http only to loopback or the
/// container agents' addresses.
fn check_full_uri(raw: &str) -> Result<Url, BuildError> {
    let invalid = |reason: String| BuildError::InvalidConfiguration {
        what: ENV_FULL_URI,
        reason,
    };
    let url = http::parse_endpoint(ENV_FULL_URI, raw, true)?;
    if url.scheme() == "https" {
        return Ok(url);
    }
    let allowed_ip = http::host_ip(&url).is_some_and(|ip| ALLOWED_HTTP_IPS.iter().any(|a| a.parse() == Ok(ip)));
    if http::is_loopback(&url) || allowed_ip {
        return Ok(url);
    }
    Err(invalid(format!(
        "plain http to `{}` is refused: use https, a loopback host, 169.254.170.2, 169.254.170.23 or fd00:ec2::23",
        url.host_str().unwrap_or_default()
    )))
}

/// Resolves a relative URI on [`RELATIVE_URI_HOST`], refusing anything
/// that would leave that host.
fn relative_uri(raw: &str) -> Result<Url, BuildError> {
    let invalid = |reason: String| BuildError::InvalidConfiguration {
        what: ENV_RELATIVE_URI,
        reason,
    };
    let raw = raw.trim();
    let shown = http::shown_raw_url(raw);
    if raw.starts_with("//") || raw.contains("://") {
        return Err(invalid(format!("`{shown}` is not a path")));
    }
    let sep = if raw.starts_with('/') { "" } else { "/" };
    let url = Url::parse(&format!("{RELATIVE_URI_HOST}{sep}{raw}")).map_err(|e| invalid(format!("`{shown}`: {e}")))?;
    if url.host_str() != Some("169.254.170.2") || url.port().is_some() || !url.username().is_empty() {
        return Err(invalid(format!("`{shown}` is not a path")));
    }
    Ok(url)
}

/// Configures an [`EcsSource`]. What is not set here is read from the
/// environment (through [`env_lookup`](Self::env_lookup)), then defaults.
#[derive(Default)]
pub struct EcsSourceBuilder {
    relative_uri: Option<String>,
    full_uri: Option<String>,
    auth_token: Option<Zeroizing<String>>,
    auth_token_file: Option<PathBuf>,
    http: http::HttpOptions,
    lookup: Option<Lookup>,
}

impl fmt::Debug for EcsSourceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EcsSourceBuilder")
            .field("relative_uri", &self.relative_uri.as_deref().map(http::shown_raw_url))
            .field("full_uri", &self.full_uri.as_deref().map(http::shown_raw_url))
            .field("auth_token", &self.auth_token.as_ref().map(|_| crate::REDACTED))
            .field("auth_token_file", &self.auth_token_file)
            .finish_non_exhaustive()
    }
}

impl EcsSourceBuilder {
    /// A path on [`RELATIVE_URI_HOST`]. Wins over a full URI. Defaults to
    /// `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`.
    pub fn relative_uri(mut self, path: impl Into<String>) -> Self {
        self.relative_uri = Some(path.into());
        self
    }

    /// A full URL: https, or http to loopback or a container agent's
    /// address. Defaults to `AWS_CONTAINER_CREDENTIALS_FULL_URI`.
    pub fn full_uri(mut self, url: impl Into<String>) -> Self {
        self.full_uri = Some(url.into());
        self
    }

    /// A fixed authorization token. Defaults to the environment
    /// (`AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`, then
    /// `AWS_CONTAINER_AUTHORIZATION_TOKEN`), re-read at every fetch.
    pub fn auth_token(mut self, token: impl Into<String>) -> Self {
        self.auth_token = Some(Zeroizing::new(token.into()));
        self
    }

    /// A file holding the authorization token, read at every fetch; wins
    /// over [`auth_token`](Self::auth_token). Defaults to the environment,
    /// as for [`auth_token`](Self::auth_token).
    pub fn auth_token_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.auth_token_file = Some(path.into());
        self
    }

    http_setters!(
        connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        read_timeout: DEFAULT_READ_TIMEOUT,
        max_body_bytes: DEFAULT_MAX_BODY_BYTES,
    );

    env_lookup_setters!("the `AWS_CONTAINER_*` variables", shared);

    /// Builds the source. Nothing is read or fetched yet, except that a
    /// token given with [`auth_token`](Self::auth_token) is checked.
    ///
    /// # Errors
    /// [`BuildError::InvalidConfiguration`] for a full URI that is not a URL,
    /// is neither https nor plain http to an allowed host; a relative URI
    /// that is not a path; a token given in code that is empty or holds a
    /// control character; a zero timeout or body cap.
    pub fn build(self) -> Result<EcsSource, BuildError> {
        let lookup: Lookup = self.lookup.unwrap_or_else(process_env);
        let set = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
        let uri = match (set(self.relative_uri), set(self.full_uri)) {
            (Some(rel), _) => Some(relative_uri(&rel)?),
            (None, Some(full)) => Some(check_full_uri(&full)?),
            (None, None) => match (set(lookup(ENV_RELATIVE_URI)), set(lookup(ENV_FULL_URI))) {
                (Some(rel), _) => Some(relative_uri(&rel)?),
                (None, Some(full)) => Some(check_full_uri(&full)?),
                (None, None) => None,
            },
        };
        let token = match (self.auth_token_file, self.auth_token) {
            (Some(path), _) => TokenFrom::File(path),
            (None, Some(value)) => TokenFrom::Value(clean_token(&value, "the builder").map_err(|reason| {
                BuildError::InvalidConfiguration {
                    what: "container authorization token",
                    reason,
                }
            })?),
            (None, None) => TokenFrom::Env(lookup),
        };
        let (client, max_body_bytes) = self.http.build(&http::HttpDefaults {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            read_timeout: DEFAULT_READ_TIMEOUT,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            timeouts_what: "container credentials timeouts",
            body_cap_what: "container credentials body cap",
        })?;
        Ok(EcsSource {
            client,
            uri,
            token,
            max_body_bytes,
            reader: FileReader::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const AUTH: &str = "container-auth-EXAMPLE-9f8e7d";

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + Send + Sync + 'static {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    fn build(pairs: &[(&str, &str)]) -> Result<EcsSource, BuildError> {
        EcsSource::builder().env_lookup(env(pairs)).build()
    }

    fn uri(pairs: &[(&str, &str)]) -> String {
        build(pairs).unwrap().uri().unwrap().to_string()
    }

    fn temp_file(name: &str, contents: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("credrefresh-ecs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    #[test]
    fn full_uri_hosts() {
        for ok in [
            "https://creds.example.com/v1",
            "http://127.0.0.1:51679/creds",
            "http://127.0.0.2/creds",
            "http://localhost:8080/creds",
            "http://LOCALHOST/creds",
            "http://[::1]:80/creds",
            "http://169.254.170.2/v2/credentials/abc",
            "http://169.254.170.23/v1/credentials",
            "http://[fd00:ec2::23]/v1/credentials",
        ] {
            assert_eq!(
                uri(&[(ENV_FULL_URI, ok)]).to_lowercase(),
                Url::parse(ok).unwrap().to_string().to_lowercase()
            );
        }
        for bad in [
            "http://example.com/creds",
            "http://169.254.169.254/latest",
            "http://10.0.0.1/creds",
            "http://[fd00:ec2::254]/creds",
            "http://localhost.example.com/creds",
            "ftp://127.0.0.1/creds",
            "not a url",
        ] {
            let e = build(&[(ENV_FULL_URI, bad)]).unwrap_err();
            assert!(matches!(e, BuildError::InvalidConfiguration { .. }), "{bad}: {e}");
        }
        let e = build(&[(ENV_FULL_URI, "http://example.com/creds")])
            .unwrap_err()
            .to_string();
        assert!(e.contains(ENV_FULL_URI) && e.contains("example.com"), "{e}");
    }

    #[test]
    fn relative_uri_wins_and_stays_on_the_agent() {
        assert_eq!(
            uri(&[(ENV_RELATIVE_URI, "/v2/credentials/abc?x=1")]),
            "http://169.254.170.2/v2/credentials/abc?x=1"
        );
        assert_eq!(
            uri(&[(ENV_RELATIVE_URI, "v2/credentials")]),
            "http://169.254.170.2/v2/credentials"
        );
        assert_eq!(
            uri(&[(ENV_RELATIVE_URI, "/v2/c"), (ENV_FULL_URI, "http://127.0.0.1/full")]),
            "http://169.254.170.2/v2/c"
        );
        for bad in [
            "//evil.example.com/x",
            "http://evil.example.com/x",
            "https://evil.example.com/x",
        ] {
            assert!(build(&[(ENV_RELATIVE_URI, bad)]).is_err(), "{bad} accepted");
        }
        // Odd paths stay paths on the agent.
        for odd in [":8080/x", "@evil.example.com/x", "/..//evil.example.com"] {
            let u = build(&[(ENV_RELATIVE_URI, odd)]).unwrap().uri().unwrap().clone();
            assert_eq!((u.host_str(), u.port()), (Some("169.254.170.2"), None), "{odd}: {u}");
        }
        // Setters win over the environment.
        let s = EcsSource::builder()
            .env_lookup(env(&[(ENV_RELATIVE_URI, "/from-env")]))
            .full_uri("http://127.0.0.1:9/from-code")
            .build()
            .unwrap();
        assert_eq!(s.uri().unwrap().path(), "/from-code");
    }

    #[tokio::test]
    async fn unconfigured_is_not_loaded() {
        let s = build(&[]).unwrap();
        assert!(!s.is_configured());
        let e = s.fetch(FetchContext::system("app")).await.unwrap_err();
        assert_eq!(e.class(), ErrorClass::NotLoaded);
        assert!(e.message().contains(ENV_FULL_URI), "{e}");
    }

    #[tokio::test]
    async fn token_from_env_file_wins_and_is_trimmed() {
        let file = temp_file("wins", format!("{AUTH}-file\n").as_bytes());
        let s = build(&[
            (ENV_FULL_URI, "http://127.0.0.1/"),
            (ENV_TOKEN, AUTH),
            (ENV_TOKEN_FILE, file.to_str().unwrap()),
        ])
        .unwrap();
        assert_eq!(s.read_token().await.unwrap().unwrap().as_str(), format!("{AUTH}-file"));
        // Re-read at every fetch: a rotated file is seen.
        std::fs::write(&file, format!("{AUTH}-rotated \r\n\t")).unwrap();
        assert_eq!(
            s.read_token().await.unwrap().unwrap().as_str(),
            format!("{AUTH}-rotated")
        );
        let only_env = build(&[(ENV_TOKEN, &format!("{AUTH}\n"))]).unwrap();
        assert_eq!(only_env.read_token().await.unwrap().unwrap().as_str(), AUTH);
        assert!(build(&[]).unwrap().read_token().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn bad_tokens_are_refused_without_echo() {
        let inside = temp_file("inside", format!("{AUTH}\nsecond-line\n").as_bytes());
        let cr = temp_file("cr", format!("{AUTH}\rx").as_bytes());
        let nul = temp_file("nul", format!("{AUTH}\0x").as_bytes());
        let empty = temp_file("empty", b" \n");
        let utf = temp_file("utf", "jeton-é".as_bytes());
        let missing = std::env::temp_dir().join("credrefresh-no-such-token-file");
        for (path, needle) in [
            (&inside, "line break"),
            (&cr, "line break"),
            (&nul, "control"),
            (&empty, "empty"),
            (&utf, "non-ASCII"),
            (&missing, "cannot be read"),
        ] {
            let s = build(&[(ENV_TOKEN_FILE, path.to_str().unwrap())]).unwrap();
            let e = s.read_token().await.unwrap_err();
            assert_eq!(e.class(), ErrorClass::InvalidConfiguration);
            let text = e.to_string();
            assert!(text.contains(needle), "{text}");
            assert!(text.contains(&path.display().to_string()), "{text}");
            assert!(!text.contains(AUTH) && !text.contains("second-line"), "{text}");
        }
        let env_bad = build(&[(ENV_TOKEN, &format!("{AUTH}\r\nX-Injected: 1"))]).unwrap();
        let e = env_bad.read_token().await.unwrap_err().to_string();
        assert!(
            e.contains(ENV_TOKEN) && !e.contains(AUTH) && !e.contains("Injected"),
            "{e}"
        );
        let code = EcsSource::builder()
            .env_lookup(env(&[]))
            .auth_token(format!("{AUTH}\nx"))
            .build();
        let e = code.unwrap_err().to_string();
        assert!(e.contains("line break") && !e.contains(AUTH), "{e}");
    }

    #[test]
    fn documents() {
        let doc = format!(
            r#"{{"AccessKeyId":"ASIAECS","SecretAccessKey":"{SECRET}","Token":"T0K","Expiration":"2026-11-22T19:00:00Z",
               "RoleArn":"arn:aws:iam::123456789012:role/task","AccountId":"123456789012"}}"#
        );
        let c = parse_document(doc.as_bytes(), SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(c.access_key_id(), "ASIAECS");
        assert_eq!(c.secret_access_key(), SECRET);
        assert_eq!(c.session_token(), Some("T0K"));
        assert_eq!(c.account_id(), Some("123456789012"));
        assert!(c.expiry().is_some());
        for (bad, needle) in [
            ("<html>", "not valid JSON"),
            (r#"{"AccessKeyId":"A","SecretAccessKey":"S","Token":"T"}"#, "Expiration"),
            (
                r#"{"SecretAccessKey":"S","Expiration":"2026-11-22T19:00:00Z"}"#,
                "AccessKeyId",
            ),
        ] {
            let e = parse_document(bad.as_bytes(), SystemTime::UNIX_EPOCH).unwrap_err();
            assert_eq!(e.class(), ErrorClass::InvalidResponse);
            assert!(e.message().contains(needle), "{e}");
        }
        let leak = format!(r#"{{"AccessKeyId":"A","SecretAccessKey":"{SECRET}","Token":7}}"#);
        let e = parse_document(leak.as_bytes(), SystemTime::UNIX_EPOCH).unwrap_err();
        assert!(!e.to_string().contains(SECRET));
    }

    #[test]
    fn error_answers_are_classified() {
        let body = br#"{"code":"AccessDenied","message":"role cannot be assumed"}"#;
        let cases = [
            (400, ErrorClass::InvalidConfiguration),
            (401, ErrorClass::InvalidConfiguration),
            (403, ErrorClass::Denied),
            (404, ErrorClass::InvalidConfiguration),
            (409, ErrorClass::Denied),
            (429, ErrorClass::Throttled),
            (500, ErrorClass::Retryable),
            (503, ErrorClass::Retryable),
            (302, ErrorClass::InvalidResponse),
        ];
        for (status, class) in cases {
            let e = status_error(
                "container credentials",
                StatusCode::from_u16(status).unwrap(),
                body,
                None,
            );
            assert_eq!(e.class(), class, "{status}");
            assert!(e.message().contains(&status.to_string()), "{e}");
            assert!(e.message().contains("AccessDenied: role cannot be assumed"), "{e}");
        }
        let html = status_error("c", StatusCode::INTERNAL_SERVER_ERROR, b"<html>oops</html>", None);
        assert_eq!(html.message(), "c: the endpoint answered 500");
        let echo = format!(r#"{{"code":"Unauthorized","message":"bad token {AUTH}"}}"#);
        let e = status_error("c", StatusCode::UNAUTHORIZED, echo.as_bytes(), Some(AUTH));
        assert!(!e.to_string().contains(AUTH), "{e}");
    }

    #[test]
    fn debug_never_shows_the_token() {
        let s = EcsSource::builder()
            .env_lookup(env(&[]))
            .full_uri("http://127.0.0.1:1/")
            .auth_token(AUTH)
            .build()
            .unwrap();
        let d = format!("{s:?}");
        assert!(!d.contains(AUTH) && d.contains(crate::REDACTED), "{d}");
        let b = EcsSource::builder().auth_token(AUTH);
        assert!(!format!("{b:?}").contains(AUTH));
    }
}
