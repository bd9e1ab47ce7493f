//! IAM Identity Center (AWS SSO): role credentials from the portal, with
//! the access token `aws sso login` left in the SDK token cache.
//!
//! # What a fetch does
//! 1. Reads the token cache file, `~/.aws/sso/cache/<sha1>.json` (the SHA-1
//!    of the `sso-session` name, or of the start URL in the legacy form),
//!    on Tokio's blocking pool.
//! 2. `sso_session` form only: when the access token expires within the
//!    [refresh window](SsoSourceBuilder::token_refresh_window) and the file
//!    has a refresh token and an unexpired client registration, calls
//!    SSO-OIDC `CreateToken` with the `refresh_token` grant, and writes the
//!    new token back the way the AWS CLI does (same fields, mode 0600,
//!    atomic replace), so the CLI and the SDKs see it too. If that call
//!    fails while the cached token is still valid, the cached token is used
//!    (as botocore and the Rust SDK do) and a warning is logged. Sources of
//!    one process that share a cache file (several roles of one session)
//!    take turns on it: the first refreshes, the others read its token.
//! 3. Calls the portal's `GetRoleCredentials` with the access token. The
//!    credentials carry the configured account id.
//!
//! The legacy form (a profile with `sso_start_url` and no `sso_session`)
//! is never refreshed, as in the SDKs.
//!
//! # Error classes
//! | what happened | class |
//! | --- | --- |
//! | no token cache file (nobody ran `aws sso login`) | [`NotLoaded`](ErrorClass::NotLoaded) |
//! | the token expired and cannot be refreshed (legacy form, no refresh token, registration expired); OIDC refused the refresh (`invalid_grant`, `invalid_client`, `expired_token`, 401); the portal answered 401 or 403 | [`CredentialsRejected`](ErrorClass::CredentialsRejected), the message says to run `aws sso login` |
//! | an unreadable or malformed cache file; OIDC or portal 400 / 404 (a wrong account or role) | [`InvalidConfiguration`](ErrorClass::InvalidConfiguration) |
//! | portal 429; OIDC `slow_down` or 429 | [`Throttled`](ErrorClass::Throttled) |
//! | 5xx, a refused or dropped connection | [`Retryable`](ErrorClass::Retryable) |
//! | a timeout | [`Timeout`](ErrorClass::Timeout) |
//! | an answer that does not parse, is over the cap, or lacks a field | [`InvalidResponse`](ErrorClass::InvalidResponse) |
//! | other portal 4xx | [`Denied`](ErrorClass::Denied) |
//!
//! No access token, refresh token, client secret, secret key or session
//! token appears in a `Debug`, an error or a log line: messages carry
//! paths, field names, statuses, AWS error codes and messages (scrubbed of
//! what was sent).

mod cache;
mod config;
mod oidc;
mod portal;
mod wire;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use reqwest::Url;
use zeroize::Zeroizing;

pub use cache::MAX_CACHE_FILE_BYTES;
pub use config::SsoConfig;

use self::cache::{CacheError, CachedToken};
use crate::clock::format_rfc3339;
use crate::credentials::Credentials;
use crate::error::{BuildError, ErrorClass, SourceError};
use crate::source::{FetchContext, FetchFuture, Source};
use crate::sources::builder_setters::{env_lookup_setters, http_setters};
use crate::sources::http;
use crate::sources::lookup::{Lookup, process_env};

/// Default time allowed to open a connection: 3.1 s, as for STS.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);
/// Default time allowed for an answer once connected: 10 s.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default limit on an answer's body: 64 KiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = http::DEFAULT_MAX_BODY_BYTES;
/// Default for plain http to a non-loopback endpoint override: refused.
pub const DEFAULT_ALLOW_HTTP: bool = false;
/// Default refresh window of the access token: 15 minutes before it
/// expires, as botocore and the AWS CLI (the Rust SDK uses 5 minutes).
pub const DEFAULT_TOKEN_REFRESH_WINDOW: Duration = Duration::from_secs(15 * 60);
/// The token cache directory under the home directory.
pub const DEFAULT_CACHE_DIR: &str = "~/.aws/sso/cache";

/// Role credentials from IAM Identity Center. See the
/// [module documentation](self).
///
/// ```no_run
/// use credrefresh::{Refresher, sources::sso::{SsoConfig, SsoSource}};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // [profile dev] sso_session = my-sso, sso_account_id = 111122223333,
/// // sso_role_name = ReadOnly; [sso-session my-sso] sso_start_url = …,
/// // sso_region = eu-west-1. Run `aws sso login --sso-session my-sso` first.
/// let config = SsoConfig::session(
///     "my-sso",
///     "https://d-abc123.awsapps.com/start",
///     "eu-west-1",
///     "111122223333",
///     "ReadOnly",
/// );
/// let refresher = Refresher::builder().role("dev", SsoSource::builder(config).build()?).start()?;
/// # let _ = refresher;
/// # Ok(()) }
/// ```
pub struct SsoSource {
    config: SsoConfig,
    cache_file: PathBuf,
    oidc_endpoint: Url,
    portal_endpoint: Url,
    token_refresh_window: Duration,
    client: reqwest::Client,
    max_body_bytes: usize,
}

impl fmt::Debug for SsoSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SsoSource")
            .field("config", &self.config)
            .field("cache_file", &self.cache_file)
            .field("oidc_endpoint", &self.oidc_endpoint.as_str())
            .field("portal_endpoint", &self.portal_endpoint.as_str())
            .field("token_refresh_window", &self.token_refresh_window)
            .finish_non_exhaustive()
    }
}

impl SsoSource {
    /// Configures a source for the profile settings in `config`: the one
    /// required value. Everything else has a default.
    pub fn builder(config: SsoConfig) -> SsoSourceBuilder {
        SsoSourceBuilder {
            config,
            cache_dir: None,
            lookup: None,
            oidc_endpoint: None,
            portal_endpoint: None,
            allow_http: None,
            token_refresh_window: None,
            http: http::HttpOptions::default(),
        }
    }

    /// The settings, checked and trimmed.
    pub fn config(&self) -> &SsoConfig {
        &self.config
    }

    /// The token cache file read (and, in the `sso_session` form, written).
    pub fn cache_file(&self) -> &Path {
        &self.cache_file
    }

    /// The SSO-OIDC endpoint (`CreateToken` is `POST {endpoint}/token`).
    pub fn oidc_endpoint(&self) -> &Url {
        &self.oidc_endpoint
    }

    /// The portal endpoint (`GetRoleCredentials` is
    /// `GET {endpoint}/federation/credentials`).
    pub fn portal_endpoint(&self) -> &Url {
        &self.portal_endpoint
    }

    /// How the session is named in messages, and the command that signs
    /// in to it.
    fn session_text(&self) -> (String, String) {
        match &self.config.session_name {
            Some(name) => (
                format!("sso-session `{name}`"),
                format!("`aws sso login --sso-session {name}`"),
            ),
            None => (
                format!("start URL `{}`", self.config.start_url),
                "`aws sso login` with the profile".to_string(),
            ),
        }
    }

    async fn read_cache(&self) -> Result<CachedToken, SourceError> {
        let path = self.cache_file.clone();
        let read = tokio::task::spawn_blocking(move || cache::read(&path))
            .await
            .map_err(|e| SourceError::retryable("IAM Identity Center: the cache read task failed").with_cause(e))?;
        read.map_err(|e| match e {
            CacheError::Missing => {
                let (session, login) = self.session_text();
                SourceError::not_loaded(format!(
                    "IAM Identity Center: no cached SSO token for {session} at {}: run {login} to sign in",
                    self.cache_file.display()
                ))
            }
            CacheError::Invalid(reason) => {
                SourceError::invalid_configuration(format!("IAM Identity Center token cache file {reason}"))
            }
        })
    }

    /// The access token to use: the cached one, or a refreshed one.
    async fn access_token(&self, ctx: &FetchContext, now: SystemTime) -> Result<Zeroizing<String>, SourceError> {
        // One reader-refresher per cache file in this process: sources
        // sharing a session (profiles of several roles) wait here, then
        // read the token the first one wrote instead of spending the
        // refresh token again.
        let file_lock = file_lock(&self.cache_file);
        let _held = file_lock.lock().await;
        let token = self.read_cache().await?;
        let expired = token.expires_at <= now;
        let due = now
            .checked_add(self.token_refresh_window)
            .is_none_or(|limit| token.expires_at <= limit);
        let (session, login) = self.session_text();
        let cannot_refresh = |reason: &str| {
            SourceError::new(
                ErrorClass::CredentialsRejected,
                format!(
                    "IAM Identity Center: the SSO token for {session} expired at {} and cannot be refreshed \
                     ({reason}): run {login} to sign in again",
                    format_rfc3339(token.expires_at)
                ),
            )
        };
        if self.config.session_name.is_none() {
            if expired {
                return Err(cannot_refresh(
                    "a legacy profile without `sso_session` is never refreshed",
                ));
            }
            return Ok(token.access_token);
        }
        if !due {
            return Ok(token.access_token);
        }
        let Some(registration) = token.refresh.as_ref() else {
            if expired {
                return Err(cannot_refresh(
                    "the cache file has no refreshToken, clientId, clientSecret and registrationExpiresAt",
                ));
            }
            tracing::debug!(
                role = ctx.role(),
                "SSO token due for refresh but not refreshable; using it"
            );
            return Ok(token.access_token);
        };
        if registration.expires_at <= now {
            if expired {
                return Err(cannot_refresh(&format!(
                    "the client registration expired at {}",
                    format_rfc3339(registration.expires_at)
                )));
            }
            return Ok(token.access_token);
        }
        let grant = oidc::Grant {
            client_id: &registration.client_id,
            client_secret: &registration.client_secret,
            refresh_token: &registration.refresh_token,
        };
        match oidc::create_token(&self.client, &self.oidc_endpoint, &grant, now, self.max_body_bytes).await {
            Ok(new) => {
                let refresh_token = new.refresh_token.as_ref().unwrap_or(&registration.refresh_token);
                let contents = cache::render(&cache::Refreshed {
                    start_url: &self.config.start_url,
                    region: &self.config.region,
                    access_token: &new.access_token,
                    expires_at: new.expires_at,
                    registration,
                    refresh_token,
                });
                let path = self.cache_file.clone();
                let written = tokio::task::spawn_blocking(move || cache::write(&path, contents.as_bytes())).await;
                match written {
                    Ok(Ok(())) => tracing::debug!(
                        role = ctx.role(),
                        expires_at = %format_rfc3339(new.expires_at),
                        "SSO token refreshed and written back to the cache"
                    ),
                    Ok(Err(reason)) => tracing::warn!(
                        role = ctx.role(),
                        %reason,
                        "SSO token refreshed, but the token cache could not be written"
                    ),
                    Err(e) => tracing::warn!(role = ctx.role(), error = %e, "SSO token cache write task failed"),
                }
                Ok(new.access_token)
            }
            Err(e) if !expired => {
                tracing::warn!(
                    role = ctx.role(),
                    error = %e,
                    expires_at = %format_rfc3339(token.expires_at),
                    "SSO token refresh failed; using the cached token while it is valid"
                );
                Ok(token.access_token)
            }
            Err(e) => Err(e),
        }
    }

    async fn fetch_once(&self, ctx: FetchContext) -> Result<Credentials, SourceError> {
        let now = ctx.now();
        let access_token = self.access_token(&ctx, now).await?;
        let role = portal::Role {
            account_id: &self.config.account_id,
            role_name: &self.config.role_name,
        };
        let credentials = portal::get_role_credentials(
            &self.client,
            &self.portal_endpoint,
            &role,
            &access_token,
            ctx.now(),
            self.max_body_bytes,
        )
        .await?;
        tracing::debug!(
            role = ctx.role(),
            account_id = %self.config.account_id,
            role_name = %self.config.role_name,
            "IAM Identity Center GetRoleCredentials succeeded"
        );
        Ok(credentials)
    }
}

impl Source for SsoSource {
    fn name(&self) -> &'static str {
        "sso"
    }

    fn fetch(&self, ctx: FetchContext) -> FetchFuture<'_> {
        Box::pin(self.fetch_once(ctx))
    }
}

/// The lock of the token cache file at `path`, shared by every source of
/// this process that uses it. The map holds one entry per file ever used (a
/// few sessions).
fn file_lock(path: &Path) -> Arc<tokio::sync::Mutex<()>> {
    static LOCKS: OnceLock<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>> = OnceLock::new();
    let locks = LOCKS.get_or_init(Mutex::default);
    let mut locks = locks.lock().unwrap_or_else(|e| e.into_inner());
    locks.entry(path.to_path_buf()).or_default().clone()
}

/// The IAM Identity Center endpoints of `region`: `oidc.{region}` and
/// `portal.sso.{region}` under `amazonaws.com`, `amazonaws.com.cn` in China.
fn default_endpoints(region: &str) -> (String, String) {
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    (
        format!("https://oidc.{region}.{suffix}"),
        format!("https://portal.sso.{region}.{suffix}"),
    )
}

/// The home directory from `lookup`: `HOME`, and on Windows `USERPROFILE`
/// or `HOMEDRIVE` + `HOMEPATH`, as the SDKs.
fn home_dir(lookup: &Lookup) -> Option<String> {
    let var = |k: &str| lookup(k).filter(|v| !v.is_empty());
    var("HOME").or_else(|| {
        if cfg!(windows) {
            var("USERPROFILE").or_else(|| Some(format!("{}{}", var("HOMEDRIVE")?, var("HOMEPATH")?)))
        } else {
            None
        }
    })
}

/// Configures an [`SsoSource`]; made by [`SsoSource::builder`].
#[must_use]
pub struct SsoSourceBuilder {
    config: SsoConfig,
    cache_dir: Option<PathBuf>,
    lookup: Option<Lookup>,
    oidc_endpoint: Option<String>,
    portal_endpoint: Option<String>,
    allow_http: Option<bool>,
    token_refresh_window: Option<Duration>,
    http: http::HttpOptions,
}

impl fmt::Debug for SsoSourceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SsoSourceBuilder")
            .field("config", &self.config)
            .field("cache_dir", &self.cache_dir)
            .field("oidc_endpoint", &self.oidc_endpoint)
            .field("portal_endpoint", &self.portal_endpoint)
            .field("allow_http", &self.allow_http)
            .field("token_refresh_window", &self.token_refresh_window)
            .finish_non_exhaustive()
    }
}

impl SsoSourceBuilder {
    /// The directory of token cache files.
    ///
    /// Defaults to [`DEFAULT_CACHE_DIR`] under the home directory of the
    /// [environment](Self::env_lookup) (`HOME`; on Windows `USERPROFILE`,
    /// else `HOMEDRIVE` + `HOMEPATH`).
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    env_lookup_setters!("the home directory's variables");

    /// The SSO-OIDC endpoint (a local emulator, a VPC endpoint). Plain
    /// `http` only for loopback hosts unless
    /// [`allow_http`](Self::allow_http) is set.
    ///
    /// Defaults to `https://oidc.{region}.amazonaws.com`
    /// (`.amazonaws.com.cn` for `cn-*`).
    pub fn oidc_endpoint(mut self, url: impl Into<String>) -> Self {
        self.oidc_endpoint = Some(url.into());
        self
    }

    /// The portal endpoint. Plain `http` only for loopback hosts unless
    /// [`allow_http`](Self::allow_http) is set.
    ///
    /// Defaults to `https://portal.sso.{region}.amazonaws.com`
    /// (`.amazonaws.com.cn` for `cn-*`).
    pub fn portal_endpoint(mut self, url: impl Into<String>) -> Self {
        self.portal_endpoint = Some(url.into());
        self
    }

    /// Accepts a plain `http` endpoint override on a non-loopback host.
    ///
    /// Defaults to [`DEFAULT_ALLOW_HTTP`].
    pub fn allow_http(mut self, allow: bool) -> Self {
        self.allow_http = Some(allow);
        self
    }

    /// How long before the access token expires it is refreshed (the
    /// `sso_session` form only).
    ///
    /// Defaults to [`DEFAULT_TOKEN_REFRESH_WINDOW`].
    pub fn token_refresh_window(mut self, window: Duration) -> Self {
        self.token_refresh_window = Some(window);
        self
    }

    http_setters!(
        connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        read_timeout: DEFAULT_READ_TIMEOUT,
        max_body_bytes: DEFAULT_MAX_BODY_BYTES,
    );

    /// Builds the source. Nothing is read or fetched yet.
    ///
    /// # Errors
    /// [`BuildError::InvalidConfiguration`] for an empty start URL, a region
    /// that is not a region name, an account id that is not 12 digits, a
    /// role name that is not 1–64 characters of `[\w+=,.@-]`, an empty
    /// session name; no cache directory given and no home directory; an
    /// endpoint that is not a URL, or plain http to a non-loopback host
    /// without [`allow_http`](Self::allow_http); a zero timeout or body cap.
    pub fn build(self) -> Result<SsoSource, BuildError> {
        let config = self.config.checked()?;
        let cache_dir = match self.cache_dir {
            Some(dir) => dir,
            None => {
                let lookup = self.lookup.unwrap_or_else(process_env);
                let home = home_dir(&lookup).ok_or_else(|| BuildError::InvalidConfiguration {
                    what: "IAM Identity Center token cache",
                    reason: "no home directory (HOME is not set): set the cache directory on the builder".into(),
                })?;
                PathBuf::from(home).join(".aws").join("sso").join("cache")
            }
        };
        let cache_file = cache_dir.join(cache::file_name(config.cache_key()));
        let allow_http = self.allow_http.unwrap_or(DEFAULT_ALLOW_HTTP);
        let (oidc_default, portal_default) = default_endpoints(&config.region);
        let oidc_endpoint = match self.oidc_endpoint {
            Some(raw) => http::parse_endpoint("IAM Identity Center OIDC endpoint", &raw, allow_http)?,
            None => http::parse_endpoint("IAM Identity Center OIDC endpoint", &oidc_default, false)?,
        };
        let portal_endpoint = match self.portal_endpoint {
            Some(raw) => http::parse_endpoint("IAM Identity Center portal endpoint", &raw, allow_http)?,
            None => http::parse_endpoint("IAM Identity Center portal endpoint", &portal_default, false)?,
        };
        let (client, max_body_bytes) = self.http.build(&http::HttpDefaults {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            read_timeout: DEFAULT_READ_TIMEOUT,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            timeouts_what: "IAM Identity Center timeouts",
            body_cap_what: "IAM Identity Center body cap",
        })?;
        Ok(SsoSource {
            config,
            cache_file,
            oidc_endpoint,
            portal_endpoint,
            token_refresh_window: self.token_refresh_window.unwrap_or(DEFAULT_TOKEN_REFRESH_WINDOW),
            client,
            max_body_bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> SsoConfig {
        SsoConfig::session(
            "my-sso",
            "https://d-abc123.awsapps.com/start",
            "eu-west-1",
            "111122223333",
            "ReadOnly",
        )
    }

    #[test]
    fn the_cache_file_follows_home_and_the_key() {
        let s = SsoSource::builder(config())
            .env_lookup(|k| (k == "HOME").then(|| "/home/ana".to_string()))
            .build()
            .unwrap();
        assert_eq!(
            s.cache_file(),
            Path::new("/home/ana/.aws/sso/cache/0ad374308c5a4e22f723adf10145eafad7c4031c.json")
        );
        let legacy = SsoConfig::legacy("https://d-abc123.awsapps.com/start", "eu-west-1", "111122223333", "R");
        let s = SsoSource::builder(legacy).cache_dir("/c").build().unwrap();
        assert_eq!(
            s.cache_file(),
            Path::new("/c/40a89917e3175433e361b710a9d43528d7f1890a.json")
        );
        let e = SsoSource::builder(config()).env_lookup(|_| None).build().unwrap_err();
        assert!(e.to_string().contains("home directory"), "{e}");
    }

    #[test]
    fn endpoints_default_by_region_and_overrides_are_checked() {
        let s = SsoSource::builder(config()).cache_dir("/c").build().unwrap();
        assert_eq!(s.oidc_endpoint().as_str(), "https://oidc.eu-west-1.amazonaws.com/");
        assert_eq!(
            s.portal_endpoint().as_str(),
            "https://portal.sso.eu-west-1.amazonaws.com/"
        );
        let mut cn = config();
        cn.region = "cn-north-1".into();
        let s = SsoSource::builder(cn).cache_dir("/c").build().unwrap();
        assert_eq!(
            s.portal_endpoint().as_str(),
            "https://portal.sso.cn-north-1.amazonaws.com.cn/"
        );
        let local = SsoSource::builder(config())
            .cache_dir("/c")
            .oidc_endpoint("http://127.0.0.1:4566")
            .portal_endpoint("http://localhost:4566")
            .build()
            .unwrap();
        assert_eq!(local.oidc_endpoint().as_str(), "http://127.0.0.1:4566/");
        let remote = || {
            SsoSource::builder(config())
                .cache_dir("/c")
                .portal_endpoint("http://sso.internal")
        };
        assert!(remote().build().is_err());
        assert!(remote().allow_http(true).build().is_ok());
        assert!(
            SsoSource::builder(config())
                .cache_dir("/c")
                .read_timeout(Duration::ZERO)
                .build()
                .is_err()
        );
        assert!(
            SsoSource::builder(config())
                .cache_dir("/c")
                .max_body_bytes(0)
                .build()
                .is_err()
        );
    }

    #[test]
    fn debug_shows_the_configuration() {
        let s = SsoSource::builder(config()).cache_dir("/c").build().unwrap();
        let d = format!("{s:?}");
        assert!(
            d.contains("my-sso") && d.contains("111122223333") && d.contains("/c/"),
            "{d}"
        );
        assert_eq!(s.name(), "sso");
    }
}
