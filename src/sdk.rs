//! Interoperation with the official AWS SDK for Rust (feature `aws-sdk`).
//!
//! [`CredentialsHandle`] implements
//! [`ProvideCredentials`],
//! so an SDK client can take its credentials from a credrefresh role:
//!
//! ```text
//! // Needs aws-sdk-sts (or any SDK client crate) in your dependencies.
//! let config = aws_sdk_sts::Config::builder()
//!     .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
//!     .region(aws_sdk_sts::config::Region::new("eu-west-1"))
//!     .credentials_provider(handle.clone())
//!     .build();
//! let sts = aws_sdk_sts::Client::from_conf(config);
//! let me = sts.get_caller_identity().send().await?;
//! ```
//!
//! `tests/sdk-interop` runs exactly this against moto.
//!
//! A call returns at once with the current credentials when they are usable
//! (fresh or extended). Before the first credentials arrive it waits up to
//! [`DEFAULT_SDK_WAIT`] for them; credentials expired in strict mode are an
//! error.

use std::time::Duration;

use aws_credential_types::provider::{self, ProvideCredentials, error::CredentialsError};

use crate::credentials::Credentials;
pub use crate::credentials::PROVIDER_NAME;
use crate::handle::{CredentialsHandle, CredentialsState};

/// How long an SDK call waits for a role's first credentials: 5 s.
pub const DEFAULT_SDK_WAIT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
#[error("credrefresh role `{role}` has no usable credentials ({state}; last error: {last_error})")]
struct NotUsable {
    role: String,
    state: CredentialsState,
    last_error: String,
}

impl CredentialsHandle {
    fn usable_sdk_credentials(&self) -> Option<aws_credential_types::Credentials> {
        self.load()
            .usable_credentials()
            .map(aws_credential_types::Credentials::from)
    }

    fn not_usable(&self) -> CredentialsError {
        let snap = self.load();
        let error = NotUsable {
            role: snap.role().to_string(),
            state: snap.state(),
            last_error: snap.last_error_class().map_or("none", |c| c.as_str()).to_string(),
        };
        match snap.state() {
            CredentialsState::NotLoaded => CredentialsError::not_loaded(error),
            _ => CredentialsError::provider_error(error),
        }
    }
}

impl ProvideCredentials for CredentialsHandle {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        if let Some(credentials) = self.usable_sdk_credentials() {
            return provider::future::ProvideCredentials::ready(Ok(credentials));
        }
        if self.load().state() != CredentialsState::NotLoaded {
            return provider::future::ProvideCredentials::ready(Err(self.not_usable()));
        }
        provider::future::ProvideCredentials::new(async move {
            match self.wait_ready(DEFAULT_SDK_WAIT).await {
                Ok(snapshot) => snapshot
                    .usable_credentials()
                    .map(Credentials::to_sdk)
                    .ok_or_else(|| self.not_usable()),
                Err(_) => Err(self.not_usable()),
            }
        })
    }

    fn fallback_on_interrupt(&self) -> Option<aws_credential_types::Credentials> {
        self.usable_sdk_credentials()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handle::{Shared, Snapshot};
    use std::time::SystemTime;

    /// Year 2096: usable credentials must not have expired on the clock.
    const EXPIRY: u64 = 4_000_000_000;

    fn handle_with(state: CredentialsState) -> CredentialsHandle {
        let shared = Shared::new("app".into(), "static");
        let mut snap = Snapshot::empty("app".into(), "static");
        if state != CredentialsState::NotLoaded {
            let creds = Credentials::new("ASIASDK", "sdk-secret", SystemTime::UNIX_EPOCH)
                .unwrap()
                .with_session_token("sdk-token")
                .unwrap()
                .with_expiry(SystemTime::UNIX_EPOCH + Duration::from_secs(EXPIRY));
            snap.credentials = Some(creds);
        }
        snap.state = state;
        shared.publish(snap, true, &[]);
        CredentialsHandle::new(shared)
    }

    #[tokio::test]
    async fn fresh_and_extended_credentials_are_provided() {
        for state in [CredentialsState::Fresh, CredentialsState::Extended] {
            let h = handle_with(state);
            let c = h.provide_credentials().await.unwrap();
            assert_eq!(c.access_key_id(), "ASIASDK");
            assert_eq!(c.secret_access_key(), "sdk-secret");
            assert_eq!(c.session_token(), Some("sdk-token"));
            assert_eq!(c.expiry(), Some(SystemTime::UNIX_EPOCH + Duration::from_secs(EXPIRY)));
            assert_eq!(h.fallback_on_interrupt().unwrap().access_key_id(), "ASIASDK");
        }
    }

    #[tokio::test]
    async fn expired_credentials_are_an_error_without_secrets() {
        let h = handle_with(CredentialsState::Expired);
        let err = h.provide_credentials().await.unwrap_err();
        assert!(matches!(err, CredentialsError::ProviderError(_)));
        let text = format!("{err:?} {}", aws_smithy_error_chain(&err));
        assert!(text.contains("expired"), "{text}");
        assert!(!text.contains("sdk-secret") && !text.contains("sdk-token"));
        assert!(h.fallback_on_interrupt().is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn not_loaded_waits_then_reports_not_loaded() {
        let h = handle_with(CredentialsState::NotLoaded);
        let err = h.provide_credentials().await.unwrap_err();
        assert!(matches!(err, CredentialsError::CredentialsNotLoaded(_)), "{err:?}");
    }

    fn aws_smithy_error_chain(e: &(dyn std::error::Error + 'static)) -> String {
        let mut out = e.to_string();
        let mut cur = e.source();
        while let Some(s) = cur {
            out.push_str(": ");
            out.push_str(&s.to_string());
            cur = s.source();
        }
        out
    }
}
