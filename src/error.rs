//! Error types: what went wrong, and whether retrying can help.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;

/// What kind of failure a refresh met. The class decides what the refresher
/// does next, and is the `error_class` label of the metrics.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// A transient failure: connection refused or dropped, a 5xx answer.
    Retryable,
    /// The service asked us to slow down (`Throttling`, `RequestLimitExceeded`).
    Throttled,
    /// The call did not finish in time.
    Timeout,
    /// The answer could not be understood (malformed XML or JSON, a body over
    /// the size cap, credentials that were already expired).
    InvalidResponse,
    /// The service rejected the credentials used to ask
    /// (`ExpiredToken`, `InvalidClientTokenId`, `SignatureDoesNotMatch`).
    CredentialsRejected,
    /// This source does not apply here (no variables set, no metadata service).
    NotLoaded,
    /// The configuration is wrong and retrying will not fix it.
    InvalidConfiguration,
    /// The service refused the request (`AccessDenied`, `ValidationError`,
    /// `MalformedPolicyDocument`, `RegionDisabledException`): retrying alone
    /// will not fix it.
    Denied,
}

impl ErrorClass {
    /// Every class, in a stable order.
    pub const ALL: [ErrorClass; 8] = [
        ErrorClass::Retryable,
        ErrorClass::Throttled,
        ErrorClass::Timeout,
        ErrorClass::InvalidResponse,
        ErrorClass::CredentialsRejected,
        ErrorClass::NotLoaded,
        ErrorClass::InvalidConfiguration,
        ErrorClass::Denied,
    ];

    /// The stable snake-case name used in metrics and logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Retryable => "retryable",
            ErrorClass::Throttled => "throttled",
            ErrorClass::Timeout => "timeout",
            ErrorClass::InvalidResponse => "invalid_response",
            ErrorClass::CredentialsRejected => "credentials_rejected",
            ErrorClass::NotLoaded => "not_loaded",
            ErrorClass::InvalidConfiguration => "invalid_configuration",
            ErrorClass::Denied => "denied",
        }
    }

    /// Whether an early retry can help. Classes for which it cannot are
    /// retried at the backoff cap, and stay visible in the snapshot.
    pub const fn retry_can_help(self) -> bool {
        !matches!(
            self,
            ErrorClass::NotLoaded | ErrorClass::InvalidConfiguration | ErrorClass::Denied
        )
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed fetch from a [`Source`](crate::Source).
///
/// Its message and cause never carry secrets: sources build them from status
/// codes, AWS error codes and messages, and I/O errors only.
#[derive(Debug)]
pub struct SourceError {
    class: ErrorClass,
    message: Cow<'static, str>,
    cause: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl SourceError {
    /// An error of `class` with a human-readable `message`.
    pub fn new(class: ErrorClass, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            class,
            message: message.into(),
            cause: None,
        }
    }

    /// Attaches the underlying error.
    pub fn with_cause(mut self, cause: impl Into<Box<dyn StdError + Send + Sync + 'static>>) -> Self {
        self.cause = Some(cause.into());
        self
    }

    /// A transient failure.
    pub fn retryable(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorClass::Retryable, message)
    }

    /// This source does not apply here.
    pub fn not_loaded(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorClass::NotLoaded, message)
    }

    /// Wrong configuration.
    pub fn invalid_configuration(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorClass::InvalidConfiguration, message)
    }

    /// An answer that could not be understood.
    pub fn invalid_response(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorClass::InvalidResponse, message)
    }

    /// The class of this error.
    pub fn class(&self) -> ErrorClass {
        self.class
    }

    /// The message, without the class.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.class)?;
        if let Some(cause) = &self.cause {
            write!(f, ": {cause}")?;
        }
        Ok(())
    }
}

impl StdError for SourceError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.cause.as_deref().map(|e| e as &(dyn StdError + 'static))
    }
}

/// A configuration the builder rejected, or a refresher that could not start.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A role name was empty.
    #[error("role names must not be empty")]
    EmptyRoleName,
    /// Two roles share a name.
    #[error("role `{0}` is configured twice")]
    DuplicateRole(String),
    /// A policy value is out of range.
    #[error("invalid refresh policy: {0}")]
    InvalidPolicy(String),
    /// A source's configuration is invalid.
    #[error("invalid configuration for {what}: {reason}")]
    InvalidConfiguration {
        /// What was being configured.
        what: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// `start_local` was called outside a running actix system.
    #[error("start_local() needs a running actix system (call it inside actix_rt::System or actix-web)")]
    NoActixSystem,
    /// The refresher thread could not be spawned, or did not come up within
    /// the start timeout (then the source is of kind
    /// [`TimedOut`](std::io::ErrorKind::TimedOut)). The cause is the
    /// [`source`](StdError::source).
    #[error("the refresher thread could not start")]
    Start(#[source] std::io::Error),
    /// The refresher has been shut down.
    #[error("the refresher has been shut down")]
    ShutDown,
    /// A profile of the shared `config` and `credentials` files cannot be
    /// used: unknown, invalid, or needing what was not given (see
    /// [`sources::profile`](crate::sources::profile)).
    #[error("profile `{profile}` cannot be used: {error}")]
    Profile {
        /// The profile asked for.
        profile: String,
        /// Why.
        error: crate::sources::profile::ProfileError,
    },
}

/// Why [`CredentialsHandle::wait_ready`](crate::CredentialsHandle::wait_ready) returned without credentials.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WaitError {
    /// No usable credentials arrived in time.
    #[error("no credentials within the timeout (last error: {})", last_error.map(ErrorClass::as_str).unwrap_or("none"))]
    TimedOut {
        /// The class of the last failed refresh, if any.
        last_error: Option<ErrorClass>,
    },
    /// The refresher was shut down or the role removed.
    #[error("the refresher for this role has stopped")]
    Stopped,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_stable_and_unique() {
        let names: std::collections::HashSet<_> = ErrorClass::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), ErrorClass::ALL.len());
        assert_eq!(ErrorClass::CredentialsRejected.to_string(), "credentials_rejected");
    }

    #[test]
    fn only_fixable_classes_retry_early() {
        assert!(ErrorClass::Throttled.retry_can_help());
        assert!(ErrorClass::Timeout.retry_can_help());
        assert!(!ErrorClass::Denied.retry_can_help());
        assert!(!ErrorClass::InvalidConfiguration.retry_can_help());
        assert!(!ErrorClass::NotLoaded.retry_can_help());
    }

    #[test]
    fn display_includes_class_and_cause() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        let e = SourceError::retryable("connection dropped").with_cause(io);
        assert_eq!(e.to_string(), "connection dropped (retryable): reset");
        assert!(StdError::source(&e).is_some());
    }
}
