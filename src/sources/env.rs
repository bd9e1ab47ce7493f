use std::fmt;
use std::sync::Arc;

use crate::credentials::{Credentials, CredentialsError};
use crate::error::SourceError;
use crate::source::{FetchContext, FetchFuture, Source};

use super::lookup::{Lookup, process_env};

/// Credentials from environment variables, re-read at every refresh.
///
/// Reads `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, and when set
/// `AWS_SESSION_TOKEN`, `AWS_CREDENTIAL_EXPIRATION` (RFC 3339) and
/// `AWS_ACCOUNT_ID`. Without an expiry the variables are re-read every
/// [`DEFAULT_NO_EXPIRY_REFRESH_INTERVAL`](crate::policy::DEFAULT_NO_EXPIRY_REFRESH_INTERVAL),
/// as rusoto did.
///
/// Errors: no key id or secret → [`NotLoaded`](crate::ErrorClass::NotLoaded)
/// (so a default chain moves on); a malformed value →
/// [`InvalidConfiguration`](crate::ErrorClass::InvalidConfiguration).
#[derive(Clone)]
pub struct EnvSource {
    lookup: Lookup,
}

impl fmt::Debug for EnvSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvSource").finish_non_exhaustive()
    }
}

impl Default for EnvSource {
    fn default() -> Self {
        Self::new()
    }
}

impl EnvSource {
    /// Reads the process environment.
    pub fn new() -> Self {
        Self { lookup: process_env() }
    }

    /// Reads variables through `lookup` instead of the process environment
    /// (for tests, or a configuration map).
    pub fn with_lookup(lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        Self {
            lookup: Arc::new(lookup),
        }
    }

    /// Reads the variables once.
    ///
    /// # Errors
    /// As described on the type.
    pub fn read(&self, ctx: &FetchContext) -> Result<Credentials, SourceError> {
        Credentials::from_env_vars(|k| (self.lookup)(k), ctx.now()).map_err(|e| match e {
            CredentialsError::Missing(var) => SourceError::not_loaded(format!("environment variable {var} is not set")),
            other => SourceError::invalid_configuration(format!("environment credentials: {other}")),
        })
    }
}

impl Source for EnvSource {
    fn name(&self) -> &'static str {
        "env"
    }

    fn fetch(&self, ctx: FetchContext) -> FetchFuture<'_> {
        let result = self.read(&ctx);
        Box::pin(async move { result })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorClass;
    use crate::clock::ManualClock;
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::time::{Duration, SystemTime};

    fn ctx() -> FetchContext {
        FetchContext::new(
            "app",
            Arc::new(ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(100))),
        )
    }

    #[tokio::test]
    async fn reads_the_current_values_each_time() {
        let vars = Arc::new(Mutex::new(HashMap::from([
            ("AWS_ACCESS_KEY_ID".to_string(), "AKID1".to_string()),
            ("AWS_SECRET_ACCESS_KEY".to_string(), "S1".to_string()),
        ])));
        let v = vars.clone();
        let src = EnvSource::with_lookup(move |k| v.lock().unwrap().get(k).cloned());
        let first = src.fetch(ctx()).await.unwrap();
        assert_eq!(first.access_key_id(), "AKID1");
        assert_eq!(first.issued_at(), SystemTime::UNIX_EPOCH + Duration::from_secs(100));
        vars.lock().unwrap().insert("AWS_ACCESS_KEY_ID".into(), "AKID2".into());
        vars.lock().unwrap().insert("AWS_SESSION_TOKEN".into(), "TOKEN".into());
        vars.lock()
            .unwrap()
            .insert("AWS_CREDENTIAL_EXPIRATION".into(), "2030-01-01T00:00:00Z".into());
        let second = src.fetch(ctx()).await.unwrap();
        assert_eq!(second.access_key_id(), "AKID2");
        assert_eq!(second.session_token(), Some("TOKEN"));
        assert!(second.expiry().is_some());
    }

    #[tokio::test]
    async fn classifies_missing_and_malformed() {
        let missing = EnvSource::with_lookup(|_| None).fetch(ctx()).await.unwrap_err();
        assert_eq!(missing.class(), ErrorClass::NotLoaded);
        assert!(missing.message().contains("AWS_ACCESS_KEY_ID"));
        let bad = EnvSource::with_lookup(|k| match k {
            "AWS_ACCESS_KEY_ID" => Some("AKID".into()),
            "AWS_SECRET_ACCESS_KEY" => Some("SECRETVALUE".into()),
            "AWS_CREDENTIAL_EXPIRATION" => Some("never".into()),
            _ => None,
        })
        .fetch(ctx())
        .await
        .unwrap_err();
        assert_eq!(bad.class(), ErrorClass::InvalidConfiguration);
        assert!(!bad.to_string().contains("SECRETVALUE"));
    }
}
