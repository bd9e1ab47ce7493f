//! STS `GetSessionToken`, optionally with MFA.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use zeroize::Zeroizing;

use crate::REDACTED;
use crate::error::{BuildError, SourceError};
use crate::source::{FetchContext, FetchFuture, Source};

use super::base::{BaseCredentials, DEFAULT_BASE_WAIT};
use super::config::{CommonBuilder, common_setters};
use super::request::{Form, StsClient};
use super::validate;
use super::xml::Call;

/// Default `GetSessionToken` duration: 43200 s (12 h), AWS's own default.
pub const DEFAULT_SESSION_TOKEN_DURATION: Duration = Duration::from_secs(43_200);
/// The longest `GetSessionToken` session: 129600 s (36 h).
pub const MAX_SESSION_TOKEN_DURATION: Duration = Duration::from_secs(129_600);

/// The future an [`MfaCodeProvider`] returns.
pub type MfaCodeFuture<'a> = Pin<Box<dyn Future<Output = Result<String, SourceError>> + Send + 'a>>;

/// Gives the current code of an MFA device, once per refresh.
///
/// A code can be used once, so the provider is asked at every refresh (a
/// TOTP generator holding the device's seed, a prompt, a secrets service).
/// Its errors are passed on as the fetch's error, with their class. The code
/// must be six digits; it is wiped from memory after the call and never
/// logged or shown by `Debug`.
///
/// Any `Fn() -> impl Future<Output = Result<String, SourceError>>` closure
/// is a provider:
///
/// ```
/// use credrefresh::{Credentials, SourceError, sources::{StaticSource, sts::SessionTokenSource}};
/// # use std::time::SystemTime;
/// # fn totp_now() -> String { "123456".into() }
/// # fn main() -> Result<(), credrefresh::BuildError> {
/// # let keys = StaticSource::new(Credentials::new("AKIDEXAMPLE", "secret", SystemTime::UNIX_EPOCH).unwrap());
/// let source = SessionTokenSource::builder(keys)
///     .region("eu-west-1")
///     .mfa("arn:aws:iam::123456789012:mfa/alice", || async { Ok::<_, SourceError>(totp_now()) })
///     .build()?;
/// # let _ = source;
/// # Ok(()) }
/// ```
pub trait MfaCodeProvider: Send + Sync + 'static {
    /// The code to send now.
    fn code(&self) -> MfaCodeFuture<'_>;
}

impl<F, Fut> MfaCodeProvider for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<String, SourceError>> + Send + 'static,
{
    fn code(&self) -> MfaCodeFuture<'_> {
        Box::pin(self())
    }
}

#[derive(Clone)]
struct Mfa {
    serial_number: String,
    provider: Arc<dyn MfaCodeProvider>,
}

impl fmt::Debug for Mfa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mfa")
            .field("serial_number", &self.serial_number)
            .field("provider", &REDACTED)
            .finish()
    }
}

/// Temporary credentials of an IAM user from STS `GetSessionToken`,
/// optionally with MFA, signed with [`BaseCredentials`] (the user's
/// long-term keys).
///
/// Errors at fetch time are classified as described in
/// [`crate::sources::sts`]; a code that is not six digits is
/// [`InvalidConfiguration`](crate::ErrorClass::InvalidConfiguration).
pub struct SessionTokenSource {
    base: BaseCredentials,
    duration_secs: u64,
    mfa: Option<Mfa>,
    base_wait: Duration,
    client: StsClient,
}

impl fmt::Debug for SessionTokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionTokenSource")
            .field("base", &self.base)
            .field("duration_secs", &self.duration_secs)
            .field("mfa", &self.mfa)
            .field("base_wait", &self.base_wait)
            .field("client", &self.client)
            .finish()
    }
}

impl SessionTokenSource {
    /// Configures a `GetSessionToken` signed with `base`.
    pub fn builder(base: impl Into<BaseCredentials>) -> SessionTokenBuilder {
        SessionTokenBuilder {
            base: base.into(),
            duration: None,
            mfa: None,
            base_wait: None,
            common: CommonBuilder::default(),
        }
    }

    async fn form(&self) -> Result<Form, SourceError> {
        let mut form = Form::new(Call::GetSessionToken);
        form.push("DurationSeconds", &self.duration_secs.to_string());
        if let Some(mfa) = &self.mfa {
            let code = Zeroizing::new(mfa.provider.code().await?);
            let code = code.trim();
            if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
                return Err(SourceError::invalid_configuration(
                    "the MFA code provider returned a code that is not six digits",
                ));
            }
            form.push("SerialNumber", &mfa.serial_number);
            form.push_secret("TokenCode", code);
        }
        Ok(form)
    }
}

impl Source for SessionTokenSource {
    fn name(&self) -> &'static str {
        "sts"
    }

    fn fetch(&self, ctx: FetchContext) -> FetchFuture<'_> {
        Box::pin(async move {
            let base = self.base.get(&ctx, self.base_wait).await?;
            let form = self.form().await?;
            let result = self.client.call(Call::GetSessionToken, form, Some(&base), &ctx).await;
            let parsed = self.base.checked(&base, result)?;
            tracing::debug!(
                role = ctx.role(),
                request_id = parsed.request_id.as_deref().unwrap_or("-"),
                "STS GetSessionToken succeeded"
            );
            // The answer names no account: keep the base's, if known.
            Ok(match base.account_id() {
                Some(account) if parsed.credentials.account_id().is_none() => {
                    parsed.credentials.with_account_id(account)
                }
                _ => parsed.credentials,
            })
        })
    }
}

/// Configures a [`SessionTokenSource`]; see [`SessionTokenSource::builder`].
#[derive(Debug)]
#[must_use]
pub struct SessionTokenBuilder {
    base: BaseCredentials,
    duration: Option<Duration>,
    mfa: Option<Mfa>,
    base_wait: Option<Duration>,
    common: CommonBuilder,
}

impl SessionTokenBuilder {
    /// The session duration, 900–129600 whole seconds.
    ///
    /// Defaults to [`DEFAULT_SESSION_TOKEN_DURATION`].
    pub fn duration(mut self, duration: Duration) -> Self {
        self.duration = Some(duration);
        self
    }

    /// Sends `SerialNumber` (the MFA device's serial number or ARN) and a
    /// `TokenCode` asked from `provider` at every refresh.
    ///
    /// Defaults to no MFA.
    pub fn mfa(mut self, serial_number: impl Into<String>, provider: impl MfaCodeProvider) -> Self {
        self.mfa = Some(Mfa {
            serial_number: serial_number.into(),
            provider: Arc::new(provider),
        });
        self
    }

    /// How long a fetch waits for a base handle without usable credentials.
    ///
    /// Defaults to [`DEFAULT_BASE_WAIT`].
    pub fn base_wait(mut self, wait: Duration) -> Self {
        self.base_wait = Some(wait);
        self
    }

    common_setters!();

    /// Validates the configuration and builds the source.
    ///
    /// # Errors
    /// [`BuildError::InvalidConfiguration`] for a duration outside
    /// 900–129600 s or not whole seconds, an MFA serial number not of 9–256
    /// `[\w+=/:,.@-]`, no region, a bad region, a bad endpoint, a zero
    /// timeout or limit.
    pub fn build(self) -> Result<SessionTokenSource, BuildError> {
        let duration_secs = validate::duration(
            "GetSessionToken duration",
            self.duration.unwrap_or(DEFAULT_SESSION_TOKEN_DURATION),
            super::MIN_DURATION.as_secs(),
            MAX_SESSION_TOKEN_DURATION.as_secs(),
        )?;
        if let Some(mfa) = &self.mfa {
            validate::mfa_serial(&mfa.serial_number)?;
        }
        let client = self.common.build()?;
        Ok(SessionTokenSource {
            base: self.base,
            duration_secs,
            mfa: self.mfa,
            base_wait: self.base_wait.unwrap_or(DEFAULT_BASE_WAIT),
            client,
        })
    }
}

impl From<SessionTokenSource> for BaseCredentials {
    fn from(source: SessionTokenSource) -> Self {
        BaseCredentials::from_source(source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Credentials;
    use crate::ErrorClass;
    use crate::sources::StaticSource;
    use std::time::SystemTime;

    fn base() -> StaticSource {
        StaticSource::new(Credentials::new("AKIDEXAMPLE", "SECRETKEYVALUE", SystemTime::UNIX_EPOCH).unwrap())
    }

    #[tokio::test]
    async fn mfa_code_is_asked_at_every_form_and_checked() {
        let calls = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let c = calls.clone();
        let s = SessionTokenSource::builder(base())
            .region("us-east-1")
            .mfa("arn:aws:iam::123456789012:mfa/alice", move || {
                let n = c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                async move { Ok(format!("{:06}", 987_654 + n)) }
            })
            .build()
            .unwrap();
        assert_eq!(s.duration_secs, 43_200);
        let first = s.form().await.unwrap();
        assert_eq!(
            first.as_str(),
            "Action=GetSessionToken&Version=2011-06-15&DurationSeconds=43200\
             &SerialNumber=arn%3Aaws%3Aiam%3A%3A123456789012%3Amfa%2Falice&TokenCode=987654"
        );
        let second = s.form().await.unwrap();
        assert!(second.as_str().ends_with("TokenCode=987655"));
        assert!(!format!("{s:?}").contains("98765"), "{s:?}");
    }

    #[tokio::test]
    async fn bad_codes_and_provider_errors() {
        let s = SessionTokenSource::builder(base())
            .region("us-east-1")
            .mfa("GAHT12345678", || async { Ok("98765x".to_string()) })
            .build()
            .unwrap();
        let e = s.form().await.err().unwrap();
        assert_eq!(e.class(), ErrorClass::InvalidConfiguration);
        assert!(!e.to_string().contains("98765x"));
        let s = SessionTokenSource::builder(base())
            .region("us-east-1")
            .mfa("GAHT12345678", || async { Err(SourceError::not_loaded("no device")) })
            .build()
            .unwrap();
        assert_eq!(s.form().await.err().unwrap().class(), ErrorClass::NotLoaded);
    }

    #[test]
    fn build_errors() {
        let b = || SessionTokenSource::builder(base()).region("us-east-1");
        assert!(b().duration(Duration::from_secs(129_600)).build().is_ok());
        assert!(b().duration(Duration::from_secs(129_601)).build().is_err());
        assert!(b().duration(Duration::from_secs(899)).build().is_err());
        assert!(b().mfa("short", || async { Ok("123456".to_string()) }).build().is_err());
    }
}
