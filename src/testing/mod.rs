//! A local AWS credentials emulator: STS, IMDS, the container endpoint and
//! IAM Identity Center (OIDC and the portal) on one loopback port, with
//! scriptable faults.
//!
//! [`Emulator`] speaks the real wire protocols, so the sources of this crate,
//! the AWS SDKs and the AWS CLI all talk to it as they would to AWS. Tests
//! use it to see refreshes within seconds (credential lifetimes are
//! configurable down to a second) and to inject the failures that matter to
//! a refresher: AWS errors, throttling, slow or hung answers, dropped
//! connections, truncated or malformed bodies, already-expired credentials.
//!
//! It runs on its own thread with its own Tokio runtime, so it works the
//! same from synchronous code, from a multi-threaded Tokio runtime, from an
//! actix system, and from tests running under Tokio's paused time (its
//! delays run on real time). Dropping it stops the server and joins the
//! thread.
//!
//! # What is real
//!
//! - **STS** (`POST /` or `GET /?…`, Query protocol `2011-06-15`):
//!   `AssumeRole`, `GetSessionToken`, `AssumeRoleWithWebIdentity` and
//!   `GetCallerIdentity` answer with the real XML documents (namespace,
//!   element names, `ResponseMetadata/RequestId`, `x-amzn-RequestId`
//!   header) and the real error document. Parameters are validated as STS
//!   does: `RoleArn` must be an IAM role ARN, `RoleSessionName` and
//!   `SourceIdentity` 2–64 characters of `[\w+=,.@-]`, `DurationSeconds`
//!   900–43200 (129600 for `GetSessionToken`), a web identity token 4–20000
//!   characters; session policies and tags are packed into a
//!   `PackedPolicySize`. Signed calls (all but `AssumeRoleWithWebIdentity`)
//!   need a SigV4 `Authorization` header (or presigned query) scoped to
//!   service `sts`: without one, `403 MissingAuthenticationToken`; an
//!   incomplete one, `400 IncompleteSignature`. `GetSessionToken` refuses
//!   session credentials, and `GetCallerIdentity` knows every key the
//!   emulator issued (`403 InvalidClientTokenId` for any other).
//! - **IMDS** (under `/latest/`): IMDSv2 session tokens
//!   (`PUT /latest/api/token`, TTL 1–21600 s, honoured: a token stops
//!   working when its TTL is over), the role list and the role's credentials
//!   document (`Code`, `LastUpdated`, `Type`, `AccessKeyId`,
//!   `SecretAccessKey`, `Token`, `Expiration`), 401 without a valid token
//!   (unless IMDSv1 is allowed), 404 for another role, IMDS's HTML error
//!   pages and `Server: EC2ws`.
//! - **Container endpoint**: the ECS agent's form
//!   ([`Emulator::ecs_full_uri`], with `RoleArn`) and the EKS Pod Identity
//!   agent's form ([`Emulator::eks_full_uri`], with `AccountId`), both
//!   checking the `Authorization` header against the configured token.
//! - **IAM Identity Center** (restJson, as the `sso-oidc` and `sso`
//!   models): OIDC `CreateToken` with the `refresh_token` grant
//!   (`POST /token`, JSON `grantType`, `clientId`, `clientSecret`,
//!   `refreshToken`; answer `accessToken`, `tokenType`, `expiresIn`,
//!   `refreshToken`) and the portal's `GetRoleCredentials`
//!   (`GET /federation/credentials?role_name=…&account_id=…` with the
//!   access token in `x-amz-sso_bearer_token`; answer `roleCredentials`
//!   with `expiration` in epoch milliseconds). [`Emulator::sso_login`]
//!   does what `aws sso login` does (registers a client, issues an access
//!   token and a refresh token) and [`SsoLogin::cache_json`] writes the
//!   token cache file the AWS CLI would. `CreateToken` checks the client id
//!   and secret (`401 InvalidClientException`) and the refresh token
//!   (`400 InvalidGrantException`), and rotates it: a refresh token works
//!   once. The portal refuses an unknown or expired access token
//!   (`401 UnauthorizedException`) and an account id that is not 12 digits
//!   (`400 InvalidRequestException`). Errors carry `x-amzn-ErrorType`.
//! - Credentials look real: `ASIA` and 16 characters of `[A-Z0-9]`, a
//!   40-character secret, a long session token, and `Expiration` in
//!   whole-second RFC 3339 UTC.
//!
//! # What is simplified
//!
//! - Signatures are checked for shape, not verified (use moto when the
//!   signature itself is under test). The signing key does not need to be
//!   known, except to `GetCallerIdentity` and `GetSessionToken`.
//! - Every credentials request issues new credentials (real IMDS and the
//!   container agents hand out the same ones until close to expiry). They
//!   live for the configured lifetime, or the requested `DurationSeconds`
//!   when shorter.
//! - Any role may be assumed: there are no trust or permission policies.
//! - A web identity token is not verified. If it is a JWT, its `sub`, `aud`
//!   and `iss` claims become `SubjectFromWebIdentityToken`, `Audience` and
//!   `Provider`; otherwise fixed placeholder values are used.
//! - The container role is the IMDS role, [`Emulator::imds_role_name`].
//! - IAM Identity Center lets any account and any role name through (there
//!   are no assignments); its credentials act as
//!   `assumed-role/AWSReservedSSO_{role}_{id}/credrefresh-emulator-user`.
//!   There is no device authorization: [`Emulator::sso_login`] stands for
//!   it.
//! - Time comes from a [`Clock`] (the system clock unless
//!   [`EmulatorBuilder::clock`] says otherwise), moved by the
//!   [clock skew](#clock-skew) if one is set.
//!
//! # Memory and time limits
//!
//! The emulator can run for days (the demo server does) in bounded memory:
//!
//! - [`Emulator::requests`] keeps the last
//!   [`DEFAULT_REQUEST_HISTORY`] requests of each call,
//!   [`Emulator::issued`] the last [`DEFAULT_ISSUED_HISTORY`] credentials
//!   and [`Emulator::issued_secrets`] the last [`DEFAULT_SECRET_HISTORY`]
//!   secrets (see the builder's `*_history` settings). When one is full,
//!   the oldest record is dropped first. The counts stay exact:
//!   [`Emulator::count`] and [`Emulator::issued_count`] count everything
//!   since start.
//! - The principals of issued keys (for `GetCallerIdentity` and
//!   `GetSessionToken`) are kept while the credentials are valid and
//!   dropped when they expire: an expired key is then unknown
//!   (`InvalidClientTokenId`). IMDS session tokens are dropped when their
//!   TTL is over; IAM Identity Center access tokens when they expire,
//!   clients and refresh tokens after the 90 days of a registration (a used
//!   refresh token at once). The unique IDs of the last 4,096 roles assumed are
//!   remembered (an older role seen again gets a new `AROA…` ID).
//! - A client has [`DEFAULT_READ_TIMEOUT`] (see
//!   [`EmulatorBuilder::read_timeout`]) to send a request's headers, and as
//!   long again for its body, else the connection is closed; a keep-alive
//!   connection idle that long is closed too. A body over
//!   [`MAX_REQUEST_BODY`] bytes gets `413`.
//!
//! # Clock skew
//!
//! [`EmulatorBuilder::clock_skew`] (and [`Emulator::set_clock_skew`], at
//! run time) moves the emulator's clock ahead of (or behind) its [`Clock`]
//! by a signed number of seconds, to test a client whose clock is wrong.
//! The skewed time is the emulator's time everywhere: the `Date` header of
//! every answer (always sent, IMF-fixdate as RFC 7231 says, from the
//! emulator's clock, skewed or not), credential expirations, `LastUpdated`
//! and IMDS token TTLs. Once a skew is set (zero included), STS also checks
//! the time a request was signed as AWS does: an `X-Amz-Date` (or `Date`)
//! more than [`SIGNATURE_TIME_TOLERANCE`] from its clock gets
//! `403 SignatureDoesNotMatch`, "Signature expired: … is now earlier than …
//! (… - 15 min.)" or "Signature not yet current: … is still later than …
//! (… + 15 min.)". Without a skew set that check is off, so requests
//! written by hand with a fixed date keep working.
//!
//! Nothing is logged but request lines, calls and fault names: no header,
//! parameter or body value, so no secret, reaches the logs.

mod ecs;
mod faults;
mod imds;
mod record;
mod server;
mod sso;
mod state;
mod sts;
#[cfg(test)]
mod tests;
mod wire;

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

pub use faults::{Call, Fault};
pub use record::{Issued, RecordedRequest, SsoLogin};
pub use sts::SIGNATURE_TIME_TOLERANCE;
pub use wire::MAX_REQUEST_BODY;

use crate::REDACTED;
use crate::clock::{Clock, SystemClock};
use server::Server;
use state::{Config, Shared};

/// Default lifetime of issued credentials: one hour, as AWS's default.
pub const DEFAULT_CREDENTIAL_LIFETIME: Duration = Duration::from_secs(3600);
/// Default AWS account ID of every ARN the emulator makes.
pub const DEFAULT_ACCOUNT_ID: &str = "123456789012";
/// Default name of the instance role IMDS (and the container endpoint) serve.
pub const DEFAULT_IMDS_ROLE_NAME: &str = "credrefresh-emulator-role";
/// Default for IMDSv1 (requests without a session token): refused, as on
/// instances that require IMDSv2.
pub const DEFAULT_IMDS_V1_ALLOWED: bool = false;
/// Default token the container endpoint expects in `Authorization`.
pub const DEFAULT_ECS_AUTH_TOKEN: &str = "credrefresh-emulator-container-authorization-token";
/// Default address: 127.0.0.1 on a port the system picks.
pub const DEFAULT_BIND: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 0);
/// Default number of requests kept per [`Call`] for [`Emulator::requests`]:
/// the last 1,024 (older ones are dropped first; [`Emulator::count`] stays
/// exact).
pub const DEFAULT_REQUEST_HISTORY: usize = 1024;
/// Default number of issued credentials kept for [`Emulator::issued`]: the
/// last 1,024 ([`Emulator::issued_count`] stays exact).
pub const DEFAULT_ISSUED_HISTORY: usize = 1024;
/// Default number of secrets kept for [`Emulator::issued_secrets`]: the last
/// 4,096 (each set of credentials issues two, each IMDS token one).
pub const DEFAULT_SECRET_HISTORY: usize = 4096;
/// Default lifetime of the IAM Identity Center access tokens the emulator
/// issues ([`Emulator::sso_login`], `CreateToken`): one hour.
pub const DEFAULT_SSO_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
/// Default time a client has to send a request's headers, and then its
/// body, before the connection is closed (and the longest a keep-alive
/// connection may sit idle): 30 seconds, hyper's own default for headers.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// A local AWS credentials emulator (STS, IMDS, ECS/EKS) on a loopback port.
/// Dropping it stops it.
///
/// See the [module docs](self) for what it serves.
///
/// ```
/// use std::time::Duration;
/// use credrefresh::testing::{Call, Emulator, Fault};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let emulator = Emulator::builder()
///     .credential_lifetime(Duration::from_secs(5))
///     .start()?;
/// // The first request to the container endpoint is throttled, the next is served.
/// emulator.script(Call::Ecs, [Fault::Throttle]);
///
/// # let _ = rustls::crypto::ring::default_provider().install_default();
/// let client = reqwest::Client::builder().build()?;
/// let get = || {
///     client
///         .get(emulator.ecs_full_uri())
///         .header("Authorization", emulator.ecs_auth_token())
///         .send()
/// };
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
/// rt.block_on(async {
///     assert_eq!(get().await?.status(), 429);
///     let answer: serde_json::Value = serde_json::from_slice(&get().await?.bytes().await?)?;
///     assert_eq!(answer["AccessKeyId"], emulator.issued()[0].access_key_id.as_str());
///     assert_eq!(emulator.count(Call::Ecs), 2);
///     Ok::<_, Box<dyn std::error::Error>>(())
/// })?;
/// # Ok(()) }
/// ```
pub struct Emulator {
    shared: Arc<Shared>,
    server: Server,
}

impl Emulator {
    /// A builder, to change the defaults.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    /// Starts an emulator with the defaults.
    ///
    /// # Errors
    /// As [`EmulatorBuilder::start`].
    pub fn start() -> io::Result<Emulator> {
        Self::builder().start()
    }

    /// The base URL, `http://127.0.0.1:PORT`. One port serves everything.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// The STS endpoint: the same as [`endpoint`](Self::endpoint).
    pub fn sts_endpoint(&self) -> String {
        self.endpoint()
    }

    /// The IMDS endpoint: the same base; IMDS paths are under `/latest/`.
    pub fn imds_endpoint(&self) -> String {
        self.endpoint()
    }

    /// The container credentials URL in the ECS form, for
    /// `AWS_CONTAINER_CREDENTIALS_FULL_URI`.
    pub fn ecs_full_uri(&self) -> String {
        format!("{}{}", self.endpoint(), ecs::ECS_PATH)
    }

    /// The container credentials URL in the EKS Pod Identity form (the
    /// answer carries `AccountId` instead of `RoleArn`).
    pub fn eks_full_uri(&self) -> String {
        format!("{}{}", self.endpoint(), ecs::EKS_PATH)
    }

    /// The token the container endpoint expects in `Authorization`, for
    /// `AWS_CONTAINER_AUTHORIZATION_TOKEN`.
    pub fn ecs_auth_token(&self) -> String {
        self.shared.config.ecs_auth_token.clone()
    }

    /// The IAM Identity Center OIDC endpoint (`CreateToken` is
    /// `POST {endpoint}/token`): the same base, for
    /// `AWS_ENDPOINT_URL_SSO_OIDC`.
    pub fn sso_oidc_endpoint(&self) -> String {
        self.endpoint()
    }

    /// The IAM Identity Center portal endpoint (`GetRoleCredentials` is
    /// `GET {endpoint}/federation/credentials`): the same base, for
    /// `AWS_ENDPOINT_URL_SSO`.
    pub fn sso_portal_endpoint(&self) -> String {
        self.endpoint()
    }

    /// Does what `aws sso login` does: registers an OIDC client (for 90
    /// days), issues an access token (for
    /// [`EmulatorBuilder::sso_token_lifetime`]) and a refresh token. Write
    /// [`SsoLogin::cache_json`] into the token cache for a source or an SDK
    /// to find. The access token, refresh token and client secret are
    /// added to [`issued_secrets`](Self::issued_secrets).
    ///
    /// ```
    /// use credrefresh::testing::Emulator;
    ///
    /// let emulator = Emulator::start()?;
    /// let login = emulator.sso_login();
    /// let json: serde_json::Value =
    ///     serde_json::from_str(&login.cache_json("https://d-123.awsapps.com/start", "eu-west-1")).unwrap();
    /// assert_eq!(json["clientId"], login.client_id.as_str());
    /// assert!(!format!("{login:?}").contains(&login.access_token));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn sso_login(&self) -> SsoLogin {
        self.shared.sso_login()
    }

    /// The role IMDS lists and serves credentials for.
    pub fn imds_role_name(&self) -> String {
        self.shared.config.role_name.clone()
    }

    /// The account ID of every ARN the emulator makes.
    pub fn account_id(&self) -> String {
        self.shared.config.account_id.clone()
    }

    /// Queues faults: the next requests of `call` get these faults, one
    /// each, in order; then normal service resumes. Queued faults come
    /// before an [outage](Self::set_outage).
    pub fn script(&self, call: Call, faults: impl IntoIterator<Item = Fault>) {
        self.shared.script(call, faults);
    }

    /// Every request of `call` gets `fault` until cleared with `None`
    /// (scripted faults still come first).
    pub fn set_outage(&self, call: Call, fault: Option<Fault>) {
        self.shared.set_outage(call, fault);
    }

    /// Credentials issued from now on live this long (or less, when a
    /// request asks for less with `DurationSeconds`).
    pub fn set_credential_lifetime(&self, lifetime: Duration) {
        self.shared.set_lifetime(lifetime);
    }

    /// Moves the emulator's clock `seconds` ahead of its [`Clock`]
    /// (behind, when negative) from now on, and turns on STS's check of the
    /// time requests were signed. See [Clock skew](self#clock-skew).
    pub fn set_clock_skew(&self, seconds: i64) {
        self.shared.set_skew(seconds);
    }

    /// The clock skew, in seconds (0 unless set).
    pub fn clock_skew(&self) -> i64 {
        self.shared.skew()
    }

    /// How many requests of `call` arrived since start, faulted ones
    /// included: exact, however many [`requests`](Self::requests) keeps.
    pub fn count(&self, call: Call) -> usize {
        self.shared.count(call)
    }

    /// The last requests of `call` (at most
    /// [`EmulatorBuilder::request_history`], [`DEFAULT_REQUEST_HISTORY`]
    /// unless set), in arrival order, faulted ones included.
    pub fn requests(&self, call: Call) -> Vec<RecordedRequest> {
        self.shared.requests(call)
    }

    /// The last sets of credentials issued (at most
    /// [`EmulatorBuilder::issued_history`], [`DEFAULT_ISSUED_HISTORY`]
    /// unless set), in order (no secrets).
    pub fn issued(&self) -> Vec<Issued> {
        self.shared.issued()
    }

    /// How many sets of credentials were issued since start: exact, however
    /// many [`issued`](Self::issued) keeps.
    pub fn issued_count(&self) -> usize {
        self.shared.issued_count()
    }

    /// The last secrets issued (at most
    /// [`EmulatorBuilder::secret_history`], [`DEFAULT_SECRET_HISTORY`]
    /// unless set), in order: secret access keys, session tokens, IMDS
    /// session tokens, and IAM Identity Center access tokens, refresh
    /// tokens and client secrets, for scanning logs and outputs for leaks. (The
    /// container token is configured, not issued: see
    /// [`ecs_auth_token`](Self::ecs_auth_token).)
    pub fn issued_secrets(&self) -> Vec<String> {
        self.shared.issued_secrets()
    }

    /// Every IMDS session token handed out so far becomes invalid: requests
    /// using one get 401, as after the token's TTL.
    pub fn expire_imds_tokens(&self) {
        self.shared.expire_imds_tokens();
    }
}

/// Shows where it listens; never the secrets it issued or the container token.
impl fmt::Debug for Emulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emulator")
            .field("endpoint", &self.endpoint())
            .field("account_id", &self.shared.config.account_id)
            .field("imds_role_name", &self.shared.config.role_name)
            .field("imds_v1_allowed", &self.shared.config.imds_v1_allowed)
            .field("clock_skew", &self.shared.skew())
            .finish_non_exhaustive()
    }
}

/// Configures and starts an [`Emulator`].
///
/// ```
/// use std::time::Duration;
/// use credrefresh::testing::Emulator;
///
/// let emulator = Emulator::builder()
///     .credential_lifetime(Duration::from_secs(2))
///     .account_id("210987654321")
///     .imds_v1_allowed(true)
///     .start()?;
/// assert!(emulator.endpoint().starts_with("http://127.0.0.1:"));
/// assert_eq!(emulator.account_id(), "210987654321");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Default)]
pub struct EmulatorBuilder {
    credential_lifetime: Option<Duration>,
    account_id: Option<String>,
    imds_role_name: Option<String>,
    imds_v1_allowed: Option<bool>,
    ecs_auth_token: Option<String>,
    bind: Option<SocketAddr>,
    clock: Option<Arc<dyn Clock>>,
    clock_skew: Option<i64>,
    request_history: Option<usize>,
    issued_history: Option<usize>,
    secret_history: Option<usize>,
    read_timeout: Option<Duration>,
    sso_token_lifetime: Option<Duration>,
}

/// The container token is redacted.
impl fmt::Debug for EmulatorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmulatorBuilder")
            .field("credential_lifetime", &self.credential_lifetime)
            .field("account_id", &self.account_id)
            .field("imds_role_name", &self.imds_role_name)
            .field("imds_v1_allowed", &self.imds_v1_allowed)
            .field("ecs_auth_token", &self.ecs_auth_token.as_ref().map(|_| REDACTED))
            .field("bind", &self.bind)
            .field("clock", &self.clock)
            .field("clock_skew", &self.clock_skew)
            .field("request_history", &self.request_history)
            .field("issued_history", &self.issued_history)
            .field("secret_history", &self.secret_history)
            .field("read_timeout", &self.read_timeout)
            .field("sso_token_lifetime", &self.sso_token_lifetime)
            .finish()
    }
}

impl EmulatorBuilder {
    /// How long issued credentials live. Defaults to
    /// [`DEFAULT_CREDENTIAL_LIFETIME`].
    pub fn credential_lifetime(mut self, lifetime: Duration) -> Self {
        self.credential_lifetime = Some(lifetime);
        self
    }

    /// The account ID in every ARN (12 digits). Defaults to
    /// [`DEFAULT_ACCOUNT_ID`].
    pub fn account_id(mut self, account_id: impl Into<String>) -> Self {
        self.account_id = Some(account_id.into());
        self
    }

    /// The instance role IMDS serves (also the container role). Defaults to
    /// [`DEFAULT_IMDS_ROLE_NAME`].
    pub fn imds_role_name(mut self, name: impl Into<String>) -> Self {
        self.imds_role_name = Some(name.into());
        self
    }

    /// Whether IMDS answers requests without a session token (IMDSv1).
    /// Defaults to [`DEFAULT_IMDS_V1_ALLOWED`].
    pub fn imds_v1_allowed(mut self, allowed: bool) -> Self {
        self.imds_v1_allowed = Some(allowed);
        self
    }

    /// The token the container endpoint expects in `Authorization`.
    /// Defaults to [`DEFAULT_ECS_AUTH_TOKEN`].
    pub fn ecs_auth_token(mut self, token: impl Into<String>) -> Self {
        self.ecs_auth_token = Some(token.into());
        self
    }

    /// The address to listen on; loopback only. Defaults to [`DEFAULT_BIND`].
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = Some(addr);
        self
    }

    /// The clock for expirations, `LastUpdated` and IMDS token TTLs.
    /// Defaults to [`SystemClock`].
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Runs the emulator's clock `seconds` ahead of the [`clock`](Self::clock)
    /// (behind, when negative), and turns on STS's check of the time
    /// requests were signed. Defaults to no skew and no check; change it at
    /// run time with [`Emulator::set_clock_skew`]. See
    /// [Clock skew](self#clock-skew).
    pub fn clock_skew(mut self, seconds: i64) -> Self {
        self.clock_skew = Some(seconds);
        self
    }

    /// How many requests of each call [`Emulator::requests`] keeps (the
    /// oldest are dropped first). Defaults to [`DEFAULT_REQUEST_HISTORY`].
    pub fn request_history(mut self, capacity: usize) -> Self {
        self.request_history = Some(capacity);
        self
    }

    /// How many issued credentials [`Emulator::issued`] keeps (the oldest
    /// are dropped first). Defaults to [`DEFAULT_ISSUED_HISTORY`].
    pub fn issued_history(mut self, capacity: usize) -> Self {
        self.issued_history = Some(capacity);
        self
    }

    /// How many secrets [`Emulator::issued_secrets`] keeps (the oldest are
    /// dropped first). Defaults to [`DEFAULT_SECRET_HISTORY`].
    pub fn secret_history(mut self, capacity: usize) -> Self {
        self.secret_history = Some(capacity);
        self
    }

    /// How long a client has to send a request's headers, and then as long
    /// for its body, before the connection is closed; a keep-alive
    /// connection idle this long between requests is closed too. Defaults
    /// to [`DEFAULT_READ_TIMEOUT`].
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = Some(timeout);
        self
    }

    /// How long the IAM Identity Center access tokens the emulator issues
    /// live (whole seconds). Defaults to [`DEFAULT_SSO_TOKEN_LIFETIME`].
    pub fn sso_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.sso_token_lifetime = Some(lifetime);
        self
    }

    /// Binds the port and starts serving on a new thread; returns once
    /// requests are accepted.
    ///
    /// # Errors
    /// [`io::ErrorKind::InvalidInput`] for a bind address that is not
    /// loopback, an account ID that is not 12 digits, a role name that is
    /// not 1–64 characters of `[\w+=,.@-]`, or a container token that is
    /// empty or not printable ASCII, a history of 0, a read timeout of 0, or
    /// an SSO token lifetime under one second;
    /// otherwise the error of binding the port or of starting the thread.
    pub fn start(self) -> io::Result<Emulator> {
        let invalid = |reason: String| io::Error::new(io::ErrorKind::InvalidInput, reason);
        let bind = self.bind.unwrap_or(DEFAULT_BIND);
        if !bind.ip().is_loopback() {
            return Err(invalid(format!(
                "the emulator listens on loopback only, not on {}",
                bind.ip()
            )));
        }
        let account_id = self.account_id.unwrap_or_else(|| DEFAULT_ACCOUNT_ID.to_string());
        if account_id.len() != 12 || !account_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(format!("account ID `{account_id}` is not 12 digits")));
        }
        let role_name = self
            .imds_role_name
            .unwrap_or_else(|| DEFAULT_IMDS_ROLE_NAME.to_string());
        let role_ok = (1..=64).contains(&role_name.len())
            && role_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
        if !role_ok {
            return Err(invalid(format!(
                "role name `{role_name}` is not 1-64 characters of [A-Za-z0-9_+=,.@-]"
            )));
        }
        let ecs_auth_token = self
            .ecs_auth_token
            .unwrap_or_else(|| DEFAULT_ECS_AUTH_TOKEN.to_string());
        // The token is a secret: the error says what is wrong, not what it is.
        if ecs_auth_token.is_empty() || !ecs_auth_token.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
            return Err(invalid(
                "the container authorization token must be non-empty printable ASCII".to_string(),
            ));
        }
        let request_history = self.request_history.unwrap_or(DEFAULT_REQUEST_HISTORY);
        let issued_history = self.issued_history.unwrap_or(DEFAULT_ISSUED_HISTORY);
        let secret_history = self.secret_history.unwrap_or(DEFAULT_SECRET_HISTORY);
        if request_history == 0 || issued_history == 0 || secret_history == 0 {
            return Err(invalid("a history must keep at least one record".to_string()));
        }
        let read_timeout = self.read_timeout.unwrap_or(DEFAULT_READ_TIMEOUT);
        if read_timeout.is_zero() {
            return Err(invalid("the read timeout must be longer than zero".to_string()));
        }
        let sso_token_lifetime = self.sso_token_lifetime.unwrap_or(DEFAULT_SSO_TOKEN_LIFETIME);
        if sso_token_lifetime.as_secs() == 0 {
            return Err(invalid(
                "the SSO token lifetime must be at least one second".to_string(),
            ));
        }
        let config = Config {
            account_id,
            role_name,
            imds_v1_allowed: self.imds_v1_allowed.unwrap_or(DEFAULT_IMDS_V1_ALLOWED),
            ecs_auth_token,
            instance_id: state::instance_id(),
            task_id: wire::hex(32),
            user_id: format!("AIDA{}", wire::upper_alnum(17)),
            request_history,
            issued_history,
            secret_history,
            read_timeout,
            sso_token_lifetime,
        };
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let lifetime = self.credential_lifetime.unwrap_or(DEFAULT_CREDENTIAL_LIFETIME);
        let shared = Arc::new(Shared::new(config, clock, lifetime, self.clock_skew));
        let server = Server::start(bind, shared.clone())?;
        tracing::debug!(target: "credrefresh::testing", addr = %server.addr(), "emulator: listening");
        Ok(Emulator { shared, server })
    }
}
