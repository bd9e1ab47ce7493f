//! Credentials of the EC2 instance profile, from the instance metadata
//! service (IMDS).
//!
//! # Protocol
//! 1. `PUT /latest/api/token` with `X-aws-ec2-metadata-token-ttl-seconds`
//!    (IMDSv2). The token is cached and reused until
//!    [`DEFAULT_TOKEN_RENEW_EARLY`] before it expires, and renewed at once
//!    when a metadata call answers 401 (that call is then retried once with
//!    the new token).
//! 2. `GET /latest/meta-data/iam/security-credentials/`: the first line is
//!    the role name, unless one was given with
//!    [`ImdsSourceBuilder::role_name`].
//! 3. `GET /latest/meta-data/iam/security-credentials/<role>`: the
//!    credentials document (`AccessKeyId`, `SecretAccessKey`, `Token`,
//!    `Expiration`, and optionally `Code`, `LastUpdated`, `Type`).
//!
//! IMDSv1 (no token) is used only when [`ImdsSourceBuilder::v1_fallback`]
//! turned it on, `AWS_EC2_METADATA_V1_DISABLED` is not `true`, and the token
//! call answered 403, 404 or 405 or timed out: the case of Elastic Beanstalk
//! containers and other v1-only metadata services.
//!
//! # Refresh and failure
//! This source only fetches. Refreshing ahead of expiry (the Go SDK's
//! `ExpiryWindow`), retrying with backoff, and extending expired credentials
//! while IMDS is down (static stability, as the Rust SDK does for IMDS) are
//! done for every source by the refresher actor: see [`crate::policy`].
//! Within one fetch, each HTTP call is tried up to [`DEFAULT_MAX_ATTEMPTS`]
//! times on a 5xx answer or a transport failure (timeout, refused or dropped
//! connection), without delay; every other answer is final for that fetch.
//!
//! # Error classes
//! | what | class |
//! | --- | --- |
//! | disabled (`AWS_EC2_METADATA_DISABLED=true` or [`ImdsSourceBuilder::disabled`]) | [`NotLoaded`](crate::ErrorClass::NotLoaded) |
//! | no role attached (role list 404) | [`NotLoaded`](crate::ErrorClass::NotLoaded) |
//! | timed out (after the attempts) | [`Timeout`](crate::ErrorClass::Timeout) |
//! | refused or dropped connection, body cut short (after the attempts) | [`Retryable`](crate::ErrorClass::Retryable) |
//! | 5xx after the attempts, discovered role gone between two calls (404) | [`Retryable`](crate::ErrorClass::Retryable) |
//! | 429 | [`Throttled`](crate::ErrorClass::Throttled) |
//! | 401 again with a fresh token | [`CredentialsRejected`](crate::ErrorClass::CredentialsRejected) |
//! | token call 403 (IMDS turned off, hop limit), metadata 403, `Code` other than `Success` | [`Denied`](crate::ErrorClass::Denied) |
//! | a role given by name that is not attached (404), token call 400/404/405 without v1 fallback, v1 refused (401) | [`InvalidConfiguration`](crate::ErrorClass::InvalidConfiguration) |
//! | malformed JSON, missing field, empty or bad token or role list, body over the cap | [`InvalidResponse`](crate::ErrorClass::InvalidResponse) |
//!
//! A `Code` other than `Success` (`AssumeRoleUnauthorizedAccess` when the
//! role's trust policy does not let EC2 assume it) is [`Denied`](crate::ErrorClass::Denied): retrying
//! alone does not fix it, but an IAM change does, so the refresher keeps
//! retrying at its backoff cap and the snapshot shows the code.
//!
//! An unreachable metadata service stays a [`Timeout`](crate::ErrorClass::Timeout)
//! or [`Retryable`](crate::ErrorClass::Retryable) error here, so a running refresher
//! keeps trying. The [`DefaultChain`](crate::sources::DefaultChain) is what
//! treats "no answer at all" as "not on EC2" while it chooses a source.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Url;

use crate::credentials::Credentials;
use crate::error::BuildError;
use crate::source::{FetchContext, FetchFuture, Source};
use crate::sources::builder_setters::{env_lookup_setters, http_setters};
use crate::sources::http;
use crate::sources::lookup::{Lookup, process_env};

mod client;

use self::client::{Client, ImdsFailure, is_role_name};

/// Default endpoint in IPv4 mode: `http://169.254.169.254`.
pub const DEFAULT_ENDPOINT_IPV4: &str = "http://169.254.169.254";
/// Default endpoint in IPv6 mode: `http://[fd00:ec2::254]`.
pub const DEFAULT_ENDPOINT_IPV6: &str = "http://[fd00:ec2::254]";
/// Default lifetime asked for a session token: 21600 s (6 hours, the most IMDS allows).
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(21_600);
/// Default margin before a token's expiry at which it is renewed: 120 s, as the Rust SDK.
pub const DEFAULT_TOKEN_RENEW_EARLY: Duration = Duration::from_secs(120);
/// Default connect timeout of one HTTP call: 1 s.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Default time allowed for the answer of one HTTP call once connected: 1 s.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(1);
/// Default number of tries of one HTTP call within a fetch (5xx and transport failures only): 3.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
/// Default of the IMDSv1 fallback: off.
pub const DEFAULT_V1_FALLBACK: bool = false;
/// Default limit on an answer's body: 64 KiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = http::DEFAULT_MAX_BODY_BYTES;

/// The longest token lifetime IMDS grants.
const MAX_TOKEN_TTL: Duration = Duration::from_secs(21_600);

const ENV_ENDPOINT: &str = "AWS_EC2_METADATA_SERVICE_ENDPOINT";
const ENV_ENDPOINT_MODE: &str = "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE";
const ENV_DISABLED: &str = "AWS_EC2_METADATA_DISABLED";
const ENV_V1_DISABLED: &str = "AWS_EC2_METADATA_V1_DISABLED";

/// Which default endpoint to use when none is given.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndpointMode {
    /// [`DEFAULT_ENDPOINT_IPV4`].
    IPv4,
    /// [`DEFAULT_ENDPOINT_IPV6`].
    IPv6,
}

impl EndpointMode {
    fn parse(raw: &str) -> Result<Self, BuildError> {
        match raw.trim() {
            m if m.eq_ignore_ascii_case("ipv4") => Ok(Self::IPv4),
            m if m.eq_ignore_ascii_case("ipv6") => Ok(Self::IPv6),
            other => Err(BuildError::InvalidConfiguration {
                what: ENV_ENDPOINT_MODE,
                reason: format!("`{other}` is neither IPv4 nor IPv6"),
            }),
        }
    }

    fn endpoint(self) -> &'static str {
        match self {
            Self::IPv4 => DEFAULT_ENDPOINT_IPV4,
            Self::IPv6 => DEFAULT_ENDPOINT_IPV6,
        }
    }
}

/// Credentials of the EC2 instance profile, from IMDS. See the
/// [module documentation](self) for the protocol and the error classes.
///
/// ```
/// use credrefresh::sources::ImdsSource;
/// # fn main() -> Result<(), credrefresh::BuildError> {
/// let imds = ImdsSource::builder()
///     .env_lookup(|_| None) // for the example: ignore the process environment
///     .role_name("web-server")
///     .build()?;
/// # let _ = imds;
/// # Ok(()) }
/// ```
pub struct ImdsSource {
    inner: Arc<Client>,
}

impl fmt::Debug for ImdsSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("ImdsSource")
            .field("endpoint", &http::shown_url(&i.base))
            .field("role_name", &i.role_name)
            .field("disabled", &i.disabled.is_some())
            .field("v1_fallback", &i.v1_fallback)
            .field("token_ttl", &i.token_ttl)
            .field("max_attempts", &i.max_attempts)
            .finish_non_exhaustive()
    }
}

impl ImdsSource {
    /// A builder reading the process environment for what is not set.
    pub fn builder() -> ImdsSourceBuilder {
        ImdsSourceBuilder::default()
    }

    /// A source configured from the process environment and the defaults.
    ///
    /// # Errors
    /// As [`ImdsSourceBuilder::build`].
    pub fn new() -> Result<Self, BuildError> {
        Self::builder().build()
    }

    /// The metadata service's base URL.
    pub fn endpoint(&self) -> &Url {
        &self.inner.base
    }

    /// Fetches once, telling apart a metadata service that never answered
    /// (no HTTP answer to any call of this fetch) from other failures.
    pub(crate) async fn fetch_detailed(&self, ctx: &FetchContext) -> Result<Credentials, ImdsFailure> {
        self.inner.fetch(ctx).await
    }
}

impl Source for ImdsSource {
    fn name(&self) -> &'static str {
        "imds"
    }

    fn fetch(&self, ctx: FetchContext) -> FetchFuture<'_> {
        Box::pin(async move { self.fetch_detailed(&ctx).await.map_err(|f| f.error) })
    }
}

fn env_bool(lookup: &Lookup, var: &'static str) -> Result<Option<bool>, BuildError> {
    match lookup(var).as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(v) => Err(BuildError::InvalidConfiguration {
            what: var,
            reason: format!("`{v}` is neither true nor false"),
        }),
    }
}

/// Configures an [`ImdsSource`]. What is not set here is read from the
/// environment (through [`env_lookup`](Self::env_lookup)), then defaults.
#[derive(Default)]
pub struct ImdsSourceBuilder {
    endpoint: Option<String>,
    endpoint_mode: Option<EndpointMode>,
    disabled: Option<bool>,
    role_name: Option<String>,
    v1_fallback: Option<bool>,
    token_ttl: Option<Duration>,
    token_renew_early: Option<Duration>,
    http: http::HttpOptions,
    max_attempts: Option<u32>,
    lookup: Option<Lookup>,
}

impl fmt::Debug for ImdsSourceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImdsSourceBuilder")
            .field("endpoint", &self.endpoint.as_deref().map(http::shown_raw_url))
            .field("endpoint_mode", &self.endpoint_mode)
            .field("disabled", &self.disabled)
            .field("role_name", &self.role_name)
            .field("v1_fallback", &self.v1_fallback)
            .finish_non_exhaustive()
    }
}

impl ImdsSourceBuilder {
    /// The metadata service's base URL. Defaults to
    /// `AWS_EC2_METADATA_SERVICE_ENDPOINT`, else the endpoint of the
    /// [`endpoint_mode`](Self::endpoint_mode): [`DEFAULT_ENDPOINT_IPV4`].
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// IPv4 or IPv6 default endpoint, used when no endpoint is given.
    /// Defaults to `AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE`, else
    /// [`EndpointMode::IPv4`] ([`DEFAULT_ENDPOINT_IPV4`]).
    pub fn endpoint_mode(mut self, mode: EndpointMode) -> Self {
        self.endpoint_mode = Some(mode);
        self
    }

    /// Turns the source off: every fetch fails with
    /// [`NotLoaded`](crate::ErrorClass::NotLoaded). Defaults to
    /// `AWS_EC2_METADATA_DISABLED`, else off.
    pub fn disabled(mut self, disabled: bool) -> Self {
        self.disabled = Some(disabled);
        self
    }

    /// The IAM role whose credentials to fetch, instead of discovering it
    /// (raku-kivuli's `role-name`). Defaults to discovery.
    pub fn role_name(mut self, role: impl Into<String>) -> Self {
        self.role_name = Some(role.into());
        self
    }

    /// Allows IMDSv1 (no token) when the token call answers 403, 404 or 405
    /// or times out: for v1-only metadata services such as the one Elastic
    /// Beanstalk containers see (raku-kivuli's `no-api-token`).
    /// `AWS_EC2_METADATA_V1_DISABLED=true` forces it off. Defaults to
    /// [`DEFAULT_V1_FALLBACK`].
    pub fn v1_fallback(mut self, enabled: bool) -> Self {
        self.v1_fallback = Some(enabled);
        self
    }

    /// Lifetime asked for session tokens, whole seconds from 1 to 21600.
    /// Defaults to [`DEFAULT_TOKEN_TTL`].
    pub fn token_ttl(mut self, ttl: Duration) -> Self {
        self.token_ttl = Some(ttl);
        self
    }

    /// How long before its expiry a token is renewed; less than the TTL.
    /// Defaults to [`DEFAULT_TOKEN_RENEW_EARLY`].
    pub fn token_renew_early(mut self, margin: Duration) -> Self {
        self.token_renew_early = Some(margin);
        self
    }

    /// Tries of one HTTP call within a fetch, at least 1. Defaults to [`DEFAULT_MAX_ATTEMPTS`].
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = Some(attempts);
        self
    }

    http_setters!(
        connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        read_timeout: DEFAULT_READ_TIMEOUT,
        max_body_bytes: DEFAULT_MAX_BODY_BYTES,
    );

    env_lookup_setters!("the `AWS_EC2_METADATA_*` variables", shared);

    /// Builds the source. Nothing is fetched yet.
    ///
    /// # Errors
    /// [`BuildError::InvalidConfiguration`] for an endpoint that is not an
    /// http(s) URL with a host, an endpoint mode other than IPv4/IPv6, a
    /// boolean variable other than true/false, a role name that is not an
    /// IAM role name, a token TTL outside 1–21600 whole seconds, a renewal
    /// margin not below the TTL, zero attempts, or a zero timeout or body cap.
    pub fn build(self) -> Result<ImdsSource, BuildError> {
        let lookup: Lookup = self.lookup.unwrap_or_else(process_env);
        let invalid = |what: &'static str, reason: String| BuildError::InvalidConfiguration { what, reason };
        let env_endpoint = lookup(ENV_ENDPOINT).filter(|v| !v.trim().is_empty());
        let mode = match self.endpoint_mode {
            Some(mode) => mode,
            None => match lookup(ENV_ENDPOINT_MODE).filter(|v| !v.trim().is_empty()) {
                Some(raw) => EndpointMode::parse(&raw)?,
                None => EndpointMode::IPv4,
            },
        };
        let raw = self
            .endpoint
            .or(env_endpoint)
            .unwrap_or_else(|| mode.endpoint().to_string());
        // IMDS is plain http on a link-local address by design.
        let mut base = http::parse_endpoint("IMDS endpoint", &raw, true)?;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        base.set_query(None);
        base.set_fragment(None);

        let disabled = match self.disabled {
            Some(true) => Some("turned off in code"),
            Some(false) => None,
            None => env_bool(&lookup, ENV_DISABLED)?
                .unwrap_or(false)
                .then_some("AWS_EC2_METADATA_DISABLED=true"),
        };
        let v1_forced_off = env_bool(&lookup, ENV_V1_DISABLED)?.unwrap_or(false);
        let v1_fallback = self.v1_fallback.unwrap_or(DEFAULT_V1_FALLBACK) && !v1_forced_off;

        if let Some(role) = &self.role_name {
            if !is_role_name(role) {
                return Err(invalid(
                    "IMDS role name",
                    format!("`{role}` is not an IAM role name (1-64 of A-Z a-z 0-9 + = , . @ _ -)"),
                ));
            }
        }
        let token_ttl = self.token_ttl.unwrap_or(DEFAULT_TOKEN_TTL);
        if token_ttl.subsec_nanos() != 0 || token_ttl.is_zero() || token_ttl > MAX_TOKEN_TTL {
            return Err(invalid(
                "IMDS token TTL",
                format!("{token_ttl:?} is not a whole number of seconds from 1 to 21600"),
            ));
        }
        let token_renew_early = self.token_renew_early.unwrap_or(DEFAULT_TOKEN_RENEW_EARLY);
        if token_renew_early >= token_ttl {
            return Err(invalid(
                "IMDS token renewal margin",
                format!("{token_renew_early:?} is not below the token TTL of {token_ttl:?}"),
            ));
        }
        let max_attempts = self.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS);
        if max_attempts == 0 {
            return Err(invalid("IMDS attempts", "at least one attempt is needed".into()));
        }
        let (client, max_body_bytes) = self.http.build(&http::HttpDefaults {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            read_timeout: DEFAULT_READ_TIMEOUT,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            timeouts_what: "IMDS timeouts",
            body_cap_what: "IMDS body cap",
        })?;
        Ok(ImdsSource {
            inner: Arc::new(Client {
                client,
                base,
                role_name: self.role_name,
                disabled,
                v1_fallback,
                token_ttl,
                token_renew_early,
                max_attempts,
                max_body_bytes,
                token: Mutex::new(None),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::client::{CachedToken, TOKEN_PATH, lock};
    use super::*;
    use crate::error::ErrorClass;
    use std::collections::HashMap;
    use std::time::SystemTime;
    use zeroize::Zeroizing;

    const TOKEN: &str = "IQoJb3JpZ2luX2VjEXAMPLETOKEN";

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + Send + Sync + 'static {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    fn build(pairs: &[(&str, &str)]) -> Result<ImdsSource, BuildError> {
        ImdsSource::builder().env_lookup(env(pairs)).build()
    }

    fn t(s: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(s)
    }

    #[test]
    fn endpoint_defaults_modes_and_overrides() {
        assert_eq!(build(&[]).unwrap().endpoint().as_str(), "http://169.254.169.254/");
        let v6 = build(&[(ENV_ENDPOINT_MODE, "IPv6")]).unwrap();
        assert_eq!(v6.endpoint().as_str(), "http://[fd00:ec2::254]/");
        let v6_lower = build(&[(ENV_ENDPOINT_MODE, "ipv6")]).unwrap();
        assert_eq!(v6_lower.endpoint().as_str(), "http://[fd00:ec2::254]/");
        // An explicit endpoint wins over the mode.
        let both = build(&[(ENV_ENDPOINT_MODE, "IPv6"), (ENV_ENDPOINT, "http://127.0.0.1:8111")]).unwrap();
        assert_eq!(both.endpoint().as_str(), "http://127.0.0.1:8111/");
        // A path prefix is kept and ends with a slash, so joins stay under it.
        let prefixed = build(&[(ENV_ENDPOINT, "http://127.0.0.1:8111/imds")]).unwrap();
        assert_eq!(
            prefixed.endpoint().join(TOKEN_PATH).unwrap().path(),
            "/imds/latest/api/token"
        );
        // The setter wins over the environment.
        let setter = ImdsSource::builder()
            .env_lookup(env(&[(ENV_ENDPOINT, "http://127.0.0.1:1")]))
            .endpoint("http://127.0.0.2:2")
            .build()
            .unwrap();
        assert_eq!(setter.endpoint().as_str(), "http://127.0.0.2:2/");
        let mode_setter = ImdsSource::builder()
            .env_lookup(env(&[]))
            .endpoint_mode(EndpointMode::IPv6)
            .build()
            .unwrap();
        assert_eq!(mode_setter.endpoint().as_str(), "http://[fd00:ec2::254]/");
    }

    #[test]
    fn bad_configuration_is_rejected_at_build() {
        let cases: Vec<Result<ImdsSource, BuildError>> = vec![
            build(&[(ENV_ENDPOINT_MODE, "IPv5")]),
            build(&[(ENV_ENDPOINT, "ftp://169.254.169.254")]),
            build(&[(ENV_ENDPOINT, "not a url")]),
            build(&[(ENV_DISABLED, "yes")]),
            build(&[(ENV_V1_DISABLED, "1")]),
            ImdsSource::builder().env_lookup(env(&[])).role_name("a/b").build(),
            ImdsSource::builder().env_lookup(env(&[])).role_name("").build(),
            ImdsSource::builder()
                .env_lookup(env(&[]))
                .token_ttl(Duration::ZERO)
                .build(),
            ImdsSource::builder()
                .env_lookup(env(&[]))
                .token_ttl(Duration::from_secs(21_601))
                .build(),
            ImdsSource::builder()
                .env_lookup(env(&[]))
                .token_ttl(Duration::from_millis(1500))
                .build(),
            ImdsSource::builder()
                .env_lookup(env(&[]))
                .token_ttl(Duration::from_secs(60))
                .token_renew_early(Duration::from_secs(60))
                .build(),
            ImdsSource::builder().env_lookup(env(&[])).max_attempts(0).build(),
            ImdsSource::builder()
                .env_lookup(env(&[]))
                .read_timeout(Duration::ZERO)
                .build(),
        ];
        for (i, case) in cases.into_iter().enumerate() {
            assert!(
                matches!(case, Err(BuildError::InvalidConfiguration { .. })),
                "case {i} was accepted: {case:?}"
            );
        }
        let mode = build(&[(ENV_ENDPOINT_MODE, "IPv5")]).unwrap_err().to_string();
        assert!(mode.contains(ENV_ENDPOINT_MODE) && mode.contains("IPv5"), "{mode}");
    }

    #[test]
    fn v1_fallback_is_off_by_default_and_forced_off_by_the_environment() {
        assert!(!build(&[]).unwrap().inner.v1_fallback);
        let on = ImdsSource::builder()
            .env_lookup(env(&[]))
            .v1_fallback(true)
            .build()
            .unwrap();
        assert!(on.inner.v1_fallback);
        let forced = ImdsSource::builder()
            .env_lookup(env(&[(ENV_V1_DISABLED, "TRUE")]))
            .v1_fallback(true)
            .build()
            .unwrap();
        assert!(!forced.inner.v1_fallback);
        let not_forced = ImdsSource::builder()
            .env_lookup(env(&[(ENV_V1_DISABLED, "false")]))
            .v1_fallback(true)
            .build()
            .unwrap();
        assert!(not_forced.inner.v1_fallback);
    }

    #[tokio::test]
    async fn disabled_is_not_loaded_without_any_call() {
        // Port 9 on loopback: nothing listens, and nothing must be tried.
        let src = build(&[(ENV_DISABLED, "true"), (ENV_ENDPOINT, "http://127.0.0.1:9")]).unwrap();
        let failure = src.fetch_detailed(&FetchContext::system("app")).await.unwrap_err();
        assert_eq!(failure.error.class(), ErrorClass::NotLoaded);
        assert!(!failure.unreachable);
        assert!(failure.error.message().contains("AWS_EC2_METADATA_DISABLED"));
        // The setter overrides the variable both ways.
        let on = ImdsSource::builder()
            .env_lookup(env(&[(ENV_DISABLED, "true")]))
            .disabled(false)
            .build()
            .unwrap();
        assert!(on.inner.disabled.is_none());
        let off = ImdsSource::builder()
            .env_lookup(env(&[]))
            .disabled(true)
            .build()
            .unwrap();
        assert_eq!(
            off.fetch(FetchContext::system("app")).await.unwrap_err().class(),
            ErrorClass::NotLoaded
        );
    }

    #[tokio::test]
    async fn nothing_listening_is_unreachable_and_retryable() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // The listener is dropped: the port refuses connections.
        let src = build(&[(ENV_ENDPOINT, &format!("http://127.0.0.1:{port}"))]).unwrap();
        let failure = src.fetch_detailed(&FetchContext::system("app")).await.unwrap_err();
        assert!(failure.unreachable);
        assert_eq!(failure.error.class(), ErrorClass::Retryable);
        assert!(
            failure.error.message().contains("IMDS session token"),
            "{}",
            failure.error
        );
    }

    #[test]
    fn debug_shows_configuration_only() {
        let src = build(&[]).unwrap();
        *lock(&src.inner.token) = Some(CachedToken {
            value: Zeroizing::new(TOKEN.into()),
            renew_at: t(0),
        });
        let debug = format!("{src:?}");
        assert!(debug.contains("169.254.169.254"), "{debug}");
        assert!(!debug.contains(TOKEN), "{debug}");
    }
}
