//! AWS STS: `AssumeRole`, `GetSessionToken` (with MFA) and
//! `AssumeRoleWithWebIdentity`.
//!
//! Each source makes one call per fetch to the regional endpoint
//! (`https://sts.{region}.amazonaws.com`, `.amazonaws.com.cn` in China, or an
//! [endpoint override](AssumeRoleBuilder::endpoint)) over the AWS Query
//! protocol, signed with SigV4 ([`aws-sigv4`](aws_sigv4)) by the
//! [`BaseCredentials`] of the source, except `AssumeRoleWithWebIdentity`,
//! which is not signed. Answers are parsed with quick-xml and serde; bodies
//! are capped at [`DEFAULT_MAX_BODY_BYTES`].
//!
//! # Role chaining
//!
//! The base credentials can be another role's [`CredentialsHandle`](crate::CredentialsHandle):
//!
//! ```no_run
//! use credrefresh::{Refresher, sources::{EnvSource, sts::AssumeRoleSource}};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let refresher = Refresher::builder()
//!     .role("ops", AssumeRoleSource::builder("arn:aws:iam::111122223333:role/ops", EnvSource::new()).build()?)
//!     .start()?;
//! let ops = refresher.handle("ops").expect("configured above");
//! // Both read `ops` lock-free at every refresh.
//! refresher.add_role("audit", AssumeRoleSource::builder("arn:aws:iam::444455556666:role/audit", ops.clone()).build()?)?;
//! refresher.add_role("deploy", AssumeRoleSource::builder("arn:aws:iam::444455556666:role/deploy", ops).build()?)?;
//! # Ok(()) }
//! ```
//!
//! # A local clock that is off
//!
//! - **Lifetimes** are measured against the answer's `Date`
//!   (`Expiration - Date`, both STS's clock) and counted from the local time
//!   of the call, so credentials live their real lifetime on the local clock
//!   whichever way it is off. IMDS and the container endpoint do the same.
//!   A `Date` that does not parse, comes from a cache (`Age`) or would make
//!   the lifetime over 36 h is ignored.
//! - **Signing** is corrected as the AWS SDKs do: each answer's `Date`
//!   gives STS's clock minus ours (measured at the middle of the round
//!   trip; under 4 minutes it counts as zero), kept by the source for its
//!   next calls. When STS refuses a signature for its time
//!   (`SignatureDoesNotMatch` "Signature expired" / "not yet current", or
//!   `RequestExpired`, `RequestTimeTooSkewed`, `RequestInTheFuture`,
//!   `InvalidSignatureException`, `AuthFailure`) and the `Date` shows a
//!   skew other than the one signed with, the call is signed again with
//!   STS's time and sent once more at once, with a warning. Later calls are
//!   signed right the first time.
//!
//! # Errors
//!
//! | what happened | class |
//! | --- | --- |
//! | `Throttling`, `RequestLimitExceeded`, HTTP 429 | [`Throttled`](crate::ErrorClass::Throttled) |
//! | HTTP 5xx (any body, an HTML page included), `InternalFailure`, a dropped connection | [`Retryable`](crate::ErrorClass::Retryable) |
//! | connect or request timeout; a web identity token file not read within 5 s (a FIFO without a writer, a hung mount), or still being read by an earlier fetch | [`Timeout`](crate::ErrorClass::Timeout) |
//! | `ExpiredToken`, `InvalidClientTokenId`, `SignatureDoesNotMatch` (the base handle is [invalidated](crate::CredentialsHandle::invalidate)); an expired or invalid web identity token | [`CredentialsRejected`](crate::ErrorClass::CredentialsRejected) |
//! | `AccessDenied`, `ValidationError`, `MalformedPolicyDocument`, `PackedPolicyTooLarge`, `RegionDisabledException`, other 4xx codes | [`Denied`](crate::ErrorClass::Denied) |
//! | a body that does not parse, is over the cap, or holds unusable credentials | [`InvalidResponse`](crate::ErrorClass::InvalidResponse) |
//! | an unreadable or empty token file, a bad MFA code | [`InvalidConfiguration`](crate::ErrorClass::InvalidConfiguration) |
//! | a base handle not ready within its wait | [`Retryable`](crate::ErrorClass::Retryable) |
//!
//! Messages carry the HTTP status, the AWS error code and message and the
//! request id (only its letters, digits and `-_.+/=`, at most 64: it cannot
//! forge a log line); never a secret key, a session token, a web identity
//! token, an MFA code or an endpoint's `user:password` (nor the body of an
//! answer, which may hold them). Request and answer bodies are wiped from
//! memory when dropped.

mod assume_role;
mod base;
pub(crate) mod classify;
mod config;
mod region;
mod request;
mod session_token;
mod validate;
mod web_identity;
pub(crate) mod xml;

pub use assume_role::{
    AssumeRoleBuilder, AssumeRoleSource, DEFAULT_DURATION, DEFAULT_SESSION_NAME_PREFIX, MAX_ROLE_DURATION, MIN_DURATION,
};
pub use base::{BaseCredentials, DEFAULT_BASE_WAIT};
pub use config::{DEFAULT_ALLOW_HTTP, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_BODY_BYTES, DEFAULT_REQUEST_TIMEOUT};
pub use region::{ENV_DEFAULT_REGION, ENV_REGION};
pub use request::sign_request;
pub use session_token::{
    DEFAULT_SESSION_TOKEN_DURATION, MAX_SESSION_TOKEN_DURATION, MfaCodeFuture, MfaCodeProvider, SessionTokenBuilder,
    SessionTokenSource,
};
pub use web_identity::{
    ENV_ROLE_ARN, ENV_ROLE_SESSION_NAME, ENV_WEB_IDENTITY_TOKEN_FILE, MAX_TOKEN_BYTES, WebIdentityBuilder,
    WebIdentitySource,
};
