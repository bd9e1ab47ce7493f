//! AWS credentials, with secrets that are zeroized on drop and never printed.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use zeroize::Zeroizing;

use crate::clock::{format_rfc3339, parse_rfc3339};

/// What `Debug` prints in place of a secret.
pub const REDACTED: &str = "** redacted **";

/// The environment variables the AWS CLI and SDKs read credentials from.
pub mod env_vars {
    /// `AWS_ACCESS_KEY_ID`
    pub const ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
    /// `AWS_SECRET_ACCESS_KEY`
    pub const SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
    /// `AWS_SESSION_TOKEN`
    pub const SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";
    /// `AWS_CREDENTIAL_EXPIRATION` (RFC 3339)
    pub const CREDENTIAL_EXPIRATION: &str = "AWS_CREDENTIAL_EXPIRATION";
    /// `AWS_ACCOUNT_ID`
    pub const ACCOUNT_ID: &str = "AWS_ACCOUNT_ID";
}

/// Input that does not make valid credentials.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    /// A required field is absent.
    #[error("missing {0}")]
    Missing(&'static str),
    /// A field is present but not acceptable.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// Which field.
        field: &'static str,
        /// Why (never the value itself).
        reason: String,
    },
}

/// A set of AWS credentials.
///
/// The secret access key and the session token are held in
/// [`Zeroizing`] strings, wiped from memory when dropped, and never shown by
/// `Debug` or `Display`. Cloning is cheap: clones share one copy of the
/// fields (as the AWS SDK's own type does), so the secrets are in memory
/// once, and are wiped when the last clone is dropped.
///
/// ```
/// # use credrefresh::Credentials;
/// # use std::time::SystemTime;
/// let c = Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI", SystemTime::UNIX_EPOCH).unwrap();
/// assert!(!format!("{c:?}").contains("wJalrXUtnFEMI"));
/// assert!(!c.to_string().contains("wJalrXUtnFEMI"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials(Arc<Inner>);

/// What every clone of a [`Credentials`] shares.
struct Inner {
    fields: Fields,
    /// The same credentials as the AWS SDK's type, made from `fields` on
    /// first use (see [`Credentials::to_sdk`]).
    #[cfg(feature = "aws-sdk")]
    sdk: std::sync::OnceLock<aws_credential_types::Credentials>,
}

/// Two credentials are equal when their fields are: the SDK form is made
/// from the fields, so whether it was made yet does not matter.
impl PartialEq for Inner {
    fn eq(&self, other: &Self) -> bool {
        self.fields == other.fields
    }
}

impl Eq for Inner {}

/// Strings are boxed (`Box<str>`, 16 bytes, not `String`'s 24): every
/// role keeps a set in its snapshot, and a fleet runs many roles.
#[derive(Clone, PartialEq, Eq)]
struct Fields {
    access_key_id: Box<str>,
    secret_access_key: Zeroizing<Box<str>>,
    session_token: Option<Zeroizing<Box<str>>>,
    expiry: Option<SystemTime>,
    issued_at: SystemTime,
    account_id: Option<Box<str>>,
}

/// A secret as the fields keep it: copied into a box of its own size, and
/// the string it came from wiped as it is dropped. (`into_boxed_str` would
/// move the secret to a smaller buffer without wiping the one it leaves.)
fn boxed_secret(secret: Zeroizing<String>) -> Zeroizing<Box<str>> {
    Zeroizing::new(Box::from(secret.as_str()))
}

fn check_field(field: &'static str, value: &str) -> Result<(), CredentialsError> {
    if value.is_empty() {
        return Err(CredentialsError::Missing(field));
    }
    // Values end up in HTTP headers and signing strings: printable ASCII only.
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(CredentialsError::Invalid {
            field,
            reason: "must be printable ASCII without spaces".into(),
        });
    }
    Ok(())
}

impl Credentials {
    /// Long-term credentials (no session token, no expiry), issued at `issued_at`.
    ///
    /// # Errors
    /// [`CredentialsError`] when the key id or secret is empty or holds
    /// anything but printable ASCII.
    pub fn new(
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        issued_at: SystemTime,
    ) -> Result<Self, CredentialsError> {
        let access_key_id = access_key_id.into();
        let secret_access_key = Zeroizing::new(secret_access_key.into());
        check_field("access key id", &access_key_id)?;
        check_field("secret access key", &secret_access_key)?;
        Ok(Self::from_fields(Fields {
            access_key_id: access_key_id.into_boxed_str(),
            secret_access_key: boxed_secret(secret_access_key),
            session_token: None,
            expiry: None,
            issued_at,
            account_id: None,
        }))
    }

    fn from_fields(fields: Fields) -> Self {
        Self(Arc::new(Inner {
            fields,
            #[cfg(feature = "aws-sdk")]
            sdk: std::sync::OnceLock::new(),
        }))
    }

    /// The same credentials with `edit` applied to the fields. Other clones
    /// keep the old fields; forms made from them (the SDK one) are not
    /// carried over.
    fn edited(self, edit: impl FnOnce(&mut Fields)) -> Self {
        let mut fields = match Arc::try_unwrap(self.0) {
            // The only holder: take the fields, without copying the secrets.
            Ok(inner) => inner.fields,
            Err(shared) => shared.fields.clone(),
        };
        edit(&mut fields);
        Self::from_fields(fields)
    }

    fn fields(&self) -> &Fields {
        &self.0.fields
    }

    /// A builder for credentials with a session token, an expiry or an
    /// account id; [`new`](Self::new) is the short form for long-term keys.
    ///
    /// ```
    /// # use credrefresh::Credentials;
    /// # use std::time::{Duration, SystemTime};
    /// let issued = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    /// let c = Credentials::builder("ASIAEXAMPLE", "example-secret", issued)
    ///     .session_token("example-token")
    ///     .expiry(issued + Duration::from_secs(3600))
    ///     .account_id("123456789012")
    ///     .build()?;
    /// assert_eq!(c.account_id(), Some("123456789012"));
    /// # Ok::<(), credrefresh::CredentialsError>(())
    /// ```
    pub fn builder(
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        issued_at: SystemTime,
    ) -> CredentialsBuilder {
        CredentialsBuilder {
            access_key_id: access_key_id.into(),
            secret_access_key: Zeroizing::new(secret_access_key.into()),
            issued_at,
            session_token: None,
            expiry: None,
            account_id: None,
        }
    }

    /// Adds a session token (crate-internal; users build through
    /// [`Credentials::builder`]).
    pub(crate) fn with_session_token(self, token: impl Into<String>) -> Result<Self, CredentialsError> {
        let token = Zeroizing::new(token.into());
        check_field("session token", &token)?;
        let token = boxed_secret(token);
        Ok(self.edited(|f| f.session_token = Some(token)))
    }

    /// The same credentials expiring at `expiry`: how the refresher extends
    /// expired credentials.
    pub(crate) fn with_expiry(self, expiry: SystemTime) -> Self {
        self.edited(|f| f.expiry = Some(expiry))
    }

    /// The same credentials, of AWS account `account_id` (none when empty).
    pub(crate) fn with_account_id(self, account_id: impl Into<String>) -> Self {
        let account_id = Some(account_id.into())
            .filter(|a: &String| !a.is_empty())
            .map(String::into_boxed_str);
        self.edited(|f| f.account_id = account_id)
    }

    /// The access key id (`AKIA…` or `ASIA…`). Not a secret.
    pub fn access_key_id(&self) -> &str {
        &self.fields().access_key_id
    }

    /// The secret access key. Handle with care.
    pub fn secret_access_key(&self) -> &str {
        &self.fields().secret_access_key
    }

    /// The session token of temporary credentials. Handle with care.
    pub fn session_token(&self) -> Option<&str> {
        self.fields().session_token.as_deref().map(|t| &**t)
    }

    /// When these credentials stop working; `None` for long-term keys.
    pub fn expiry(&self) -> Option<SystemTime> {
        self.fields().expiry
    }

    /// When these credentials were obtained.
    pub fn issued_at(&self) -> SystemTime {
        self.fields().issued_at
    }

    /// The account id, when the source told it.
    pub fn account_id(&self) -> Option<&str> {
        self.fields().account_id.as_deref()
    }

    /// Start of validity (python-stslib's `start`): the issue time.
    pub fn start(&self) -> SystemTime {
        self.issued_at()
    }

    /// End of validity (python-stslib's `end`): the expiry.
    pub fn end(&self) -> Option<SystemTime> {
        self.expiry()
    }

    /// Lifetime from issue to expiry (python-stslib's `duration`).
    pub fn duration(&self) -> Option<Duration> {
        self.expiry()
            .map(|e| e.duration_since(self.issued_at()).unwrap_or(Duration::ZERO))
    }

    /// Whether the credentials are expired at `now`. Long-term keys never are.
    pub fn is_expired_at(&self, now: SystemTime) -> bool {
        self.expiry().is_some_and(|e| e <= now)
    }

    /// The `AWS_*` environment variable pairs for these credentials, as a
    /// child process or the AWS CLI reads them (raku-kivuli's `:environment`).
    /// Variables that do not apply (no token, no expiry) are left out.
    pub fn to_env_vars(&self) -> Vec<(&'static str, Zeroizing<String>)> {
        let fields = self.fields();
        let mut vars = vec![
            (
                env_vars::ACCESS_KEY_ID,
                Zeroizing::new(fields.access_key_id.to_string()),
            ),
            (
                env_vars::SECRET_ACCESS_KEY,
                Zeroizing::new(fields.secret_access_key.to_string()),
            ),
        ];
        if let Some(token) = &fields.session_token {
            vars.push((env_vars::SESSION_TOKEN, Zeroizing::new(token.to_string())));
        }
        if let Some(expiry) = fields.expiry {
            vars.push((env_vars::CREDENTIAL_EXPIRATION, Zeroizing::new(format_rfc3339(expiry))));
        }
        if let Some(account) = &fields.account_id {
            vars.push((env_vars::ACCOUNT_ID, Zeroizing::new(account.to_string())));
        }
        vars
    }

    /// Reads credentials from environment-style variables through `lookup`
    /// (for the process environment: `|k| std::env::var(k).ok()`). Empty
    /// values count as absent.
    ///
    /// # Errors
    /// [`CredentialsError::Missing`] when the key id or secret is absent;
    /// [`CredentialsError::Invalid`] for a malformed value or expiry.
    pub fn from_env_vars(
        lookup: impl Fn(&str) -> Option<String>,
        issued_at: SystemTime,
    ) -> Result<Self, CredentialsError> {
        let get = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
        let key = get(env_vars::ACCESS_KEY_ID).ok_or(CredentialsError::Missing(env_vars::ACCESS_KEY_ID))?;
        let secret = Zeroizing::new(
            get(env_vars::SECRET_ACCESS_KEY).ok_or(CredentialsError::Missing(env_vars::SECRET_ACCESS_KEY))?,
        );
        let mut creds = Self::new(key.trim(), secret.trim(), issued_at)?;
        if let Some(token) = get(env_vars::SESSION_TOKEN).map(Zeroizing::new) {
            creds = creds.with_session_token(token.trim())?;
        }
        if let Some(exp) = get(env_vars::CREDENTIAL_EXPIRATION) {
            let expiry = parse_rfc3339(&exp).map_err(|reason| CredentialsError::Invalid {
                field: env_vars::CREDENTIAL_EXPIRATION,
                reason,
            })?;
            creds = creds.with_expiry(expiry);
        }
        if let Some(account) = get(env_vars::ACCOUNT_ID) {
            creds = creds.with_account_id(account.trim());
        }
        Ok(creds)
    }
}

struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

struct Rfc3339Debug(SystemTime);

impl fmt::Debug for Rfc3339Debug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_rfc3339(self.0))
    }
}

/// Builds [`Credentials`]; made by [`Credentials::builder`]. Every setting
/// but the three given up front is optional; [`build`](Self::build) checks
/// them all.
#[must_use]
pub struct CredentialsBuilder {
    access_key_id: String,
    secret_access_key: Zeroizing<String>,
    issued_at: SystemTime,
    session_token: Option<Zeroizing<String>>,
    expiry: Option<SystemTime>,
    account_id: Option<String>,
}

impl CredentialsBuilder {
    /// The session token of temporary credentials. Defaults to none.
    pub fn session_token(mut self, token: impl Into<String>) -> Self {
        self.session_token = Some(Zeroizing::new(token.into()));
        self
    }

    /// When the credentials expire. Defaults to never.
    pub fn expiry(mut self, expiry: SystemTime) -> Self {
        self.expiry = Some(expiry);
        self
    }

    /// The AWS account the credentials belong to. Defaults to unknown; an
    /// empty id means unknown.
    pub fn account_id(mut self, account_id: impl Into<String>) -> Self {
        self.account_id = Some(account_id.into()).filter(|a| !a.is_empty());
        self
    }

    /// The credentials.
    ///
    /// # Errors
    /// [`CredentialsError`] when the key id, the secret or the session token
    /// is empty or holds anything but printable ASCII.
    pub fn build(self) -> Result<Credentials, CredentialsError> {
        check_field("access key id", &self.access_key_id)?;
        check_field("secret access key", &self.secret_access_key)?;
        if let Some(token) = &self.session_token {
            check_field("session token", token)?;
        }
        Ok(Credentials::from_fields(Fields {
            access_key_id: self.access_key_id.into_boxed_str(),
            secret_access_key: boxed_secret(self.secret_access_key),
            session_token: self.session_token.map(boxed_secret),
            expiry: self.expiry,
            issued_at: self.issued_at,
            account_id: self.account_id.map(String::into_boxed_str),
        }))
    }
}

impl fmt::Debug for CredentialsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialsBuilder")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &Redacted)
            .field("session_token", &self.session_token.as_ref().map(|_| Redacted))
            .field("expiry", &self.expiry)
            .field("issued_at", &self.issued_at)
            .field("account_id", &self.account_id)
            .finish()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id())
            .field("secret_access_key", &Redacted)
            .field("session_token", &self.session_token().map(|_| Redacted))
            .field("expiry", &self.expiry().map(Rfc3339Debug))
            .field("issued_at", &Rfc3339Debug(self.issued_at()))
            .field("account_id", &self.account_id())
            .finish()
    }
}

impl fmt::Display for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.access_key_id())?;
        match self.expiry() {
            Some(e) => write!(f, " (expires {})", format_rfc3339(e)),
            None => f.write_str(" (long-term)"),
        }
    }
}

/// The provider name the AWS SDK sees on credentials from credrefresh.
#[cfg(feature = "aws-sdk")]
pub const PROVIDER_NAME: &str = "credrefresh";

#[cfg(feature = "aws-sdk")]
#[cfg_attr(docsrs, doc(cfg(feature = "aws-sdk")))]
impl Credentials {
    /// These credentials as the AWS SDK's type, with the
    /// [account id](Self::account_id) when known. Made on first use and then
    /// shared by every clone (the SDK's type is an `Arc` too): an SDK call
    /// costs a reference count, not a copy of the secrets. Credentials made
    /// by a `with_*` method from these get a form of their own.
    pub fn to_sdk(&self) -> aws_credential_types::Credentials {
        self.0
            .sdk
            .get_or_init(|| {
                let mut sdk = aws_credential_types::Credentials::builder()
                    .access_key_id(self.access_key_id())
                    .secret_access_key(self.secret_access_key())
                    .provider_name(PROVIDER_NAME);
                sdk.set_session_token(self.session_token().map(str::to_string));
                sdk.set_expiry(self.expiry());
                // The SDK resolves account-based endpoints (DynamoDB) from it.
                sdk.set_account_id(self.account_id().map(Into::into));
                sdk.build()
            })
            .clone()
    }
}

#[cfg(feature = "aws-sdk")]
#[cfg_attr(docsrs, doc(cfg(feature = "aws-sdk")))]
impl From<&Credentials> for aws_credential_types::Credentials {
    fn from(c: &Credentials) -> Self {
        c.to_sdk()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const TOKEN: &str = "FwoGZXIvYXdzEXAMPLETOKEN";

    fn t(s: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(s)
    }

    fn temp() -> Credentials {
        Credentials::new("ASIAEXAMPLE", SECRET, t(1_795_370_400))
            .unwrap()
            .with_session_token(TOKEN)
            .unwrap()
            .with_expiry(t(1_795_374_000))
    }

    #[test]
    fn debug_is_exact_and_redacted() {
        assert_eq!(
            format!("{:?}", temp()),
            "Credentials { access_key_id: \"ASIAEXAMPLE\", secret_access_key: ** redacted **, \
             session_token: Some(** redacted **), expiry: Some(2026-11-22T19:00:00Z), \
             issued_at: 2026-11-22T18:00:00Z, account_id: None }"
        );
        let long_term = Credentials::new("AKIAEXAMPLE", SECRET, t(0)).unwrap();
        assert_eq!(
            format!("{long_term:?}"),
            "Credentials { access_key_id: \"AKIAEXAMPLE\", secret_access_key: ** redacted **, \
             session_token: None, expiry: None, issued_at: 1970-01-01T00:00:00Z, account_id: None }"
        );
        let pretty = format!("{:#?}", temp());
        assert!(!pretty.contains(SECRET) && !pretty.contains(TOKEN));
        assert_eq!(temp().to_string(), "ASIAEXAMPLE (expires 2026-11-22T19:00:00Z)");
    }

    /// Every role keeps a set in its snapshot: boxed strings, not `String`s.
    #[test]
    fn the_fields_stay_small() {
        assert!(std::mem::size_of::<Fields>() <= 96, "{}", std::mem::size_of::<Fields>());
    }

    #[test]
    fn rejects_empty_and_non_ascii_fields() {
        assert_eq!(
            Credentials::new("", SECRET, t(0)).unwrap_err(),
            CredentialsError::Missing("access key id")
        );
        let err = Credentials::new("AKID", "sec ret", t(0)).unwrap_err();
        assert!(matches!(
            err,
            CredentialsError::Invalid {
                field: "secret access key",
                ..
            }
        ));
        // The error never echoes the value.
        assert!(!err.to_string().contains("sec ret"));
        assert!(
            Credentials::new("AKID", SECRET, t(0))
                .unwrap()
                .with_session_token("a\nb")
                .is_err()
        );
    }

    #[test]
    fn stslib_accessors() {
        let c = temp();
        assert_eq!(c.start(), t(1_795_370_400));
        assert_eq!(c.end(), Some(t(1_795_374_000)));
        assert_eq!(c.duration(), Some(Duration::from_secs(3600)));
        assert!(!c.is_expired_at(t(1_795_373_999)));
        assert!(c.is_expired_at(t(1_795_374_000)));
    }

    #[test]
    fn env_vars_round_trip() {
        let c = temp().with_account_id("123456789012");
        let vars: HashMap<_, _> = c
            .to_env_vars()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(vars["AWS_ACCESS_KEY_ID"], "ASIAEXAMPLE");
        assert_eq!(vars["AWS_SECRET_ACCESS_KEY"], SECRET);
        assert_eq!(vars["AWS_SESSION_TOKEN"], TOKEN);
        assert_eq!(vars["AWS_CREDENTIAL_EXPIRATION"], "2026-11-22T19:00:00Z");
        assert_eq!(vars["AWS_ACCOUNT_ID"], "123456789012");
        let back = Credentials::from_env_vars(|k| vars.get(k).cloned(), c.issued_at()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn env_vars_missing_and_malformed() {
        let none = Credentials::from_env_vars(|_| None, t(0)).unwrap_err();
        assert_eq!(none, CredentialsError::Missing("AWS_ACCESS_KEY_ID"));
        let only_key = Credentials::from_env_vars(|k| (k == "AWS_ACCESS_KEY_ID").then(|| "AKID".into()), t(0));
        assert_eq!(
            only_key.unwrap_err(),
            CredentialsError::Missing("AWS_SECRET_ACCESS_KEY")
        );
        let bad_exp = Credentials::from_env_vars(
            |k| match k {
                "AWS_ACCESS_KEY_ID" => Some("AKID".into()),
                "AWS_SECRET_ACCESS_KEY" => Some(SECRET.into()),
                "AWS_CREDENTIAL_EXPIRATION" => Some("soon".into()),
                _ => None,
            },
            t(0),
        );
        assert!(matches!(
            bad_exp,
            Err(CredentialsError::Invalid {
                field: "AWS_CREDENTIAL_EXPIRATION",
                ..
            })
        ));
    }

    #[test]
    fn credential_process_round_trip() {
        let c = temp();
        let json = c.to_credential_process_json();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["Version"], 1);
        assert_eq!(v["AccessKeyId"], "ASIAEXAMPLE");
        assert_eq!(v["SecretAccessKey"], SECRET);
        assert_eq!(v["SessionToken"], TOKEN);
        assert_eq!(v["Expiration"], "2026-11-22T19:00:00Z");
        assert_eq!(
            Credentials::from_credential_process_json(&json, c.issued_at()).unwrap(),
            c
        );
    }

    #[test]
    fn credential_process_rejects_bad_documents() {
        let v2 = r#"{"Version":2,"AccessKeyId":"A","SecretAccessKey":"S"}"#;
        assert!(matches!(
            Credentials::from_credential_process_json(v2, t(0)),
            Err(CredentialsError::Invalid { field: "Version", .. })
        ));
        let no_version = r#"{"AccessKeyId":"A","SecretAccessKey":"S"}"#;
        assert_eq!(
            Credentials::from_credential_process_json(no_version, t(0)).unwrap_err(),
            CredentialsError::Missing("Version")
        );
        let broken = format!(r#"{{"Version":1,"AccessKeyId":"A","SecretAccessKey":"{SECRET}""#);
        let err = Credentials::from_credential_process_json(&broken, t(0)).unwrap_err();
        assert!(!err.to_string().contains(SECRET));
    }

    #[test]
    fn boto_map_round_trip_with_start_time() {
        let c = temp();
        let json = c.to_boto_json();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["StartTime"], "2026-11-22T18:00:00Z");
        assert_eq!(v["Expiration"], "2026-11-22T19:00:00Z");
        assert!(v.get("Version").is_none());
        let back = Credentials::from_boto_json(&json, t(0)).unwrap();
        assert_eq!(back, c);
        assert_eq!(back.duration(), Some(Duration::from_secs(3600)));
        // Fractional seconds, as moto and botocore write them.
        let frac = r#"{"AccessKeyId":"ASIA","SecretAccessKey":"S","SessionToken":"T","Expiration":"2026-11-22T19:00:00.250000Z"}"#;
        let f = Credentials::from_boto_json(frac, t(1_795_370_400)).unwrap();
        assert_eq!(f.duration(), Some(Duration::from_millis(3_600_250)));
    }

    #[test]
    fn clones_share_one_copy_and_edits_make_a_new_one() {
        let c = temp();
        let clone = c.clone();
        assert_eq!(clone, c);
        assert_eq!(clone.secret_access_key().as_ptr(), c.secret_access_key().as_ptr());
        assert_eq!(
            clone.session_token().unwrap().as_ptr(),
            c.session_token().unwrap().as_ptr()
        );
        let edited = clone.clone().with_expiry(t(1_795_380_000));
        assert_eq!(edited.expiry(), Some(t(1_795_380_000)));
        assert_ne!(edited, c);
        // The others keep the old fields.
        assert_eq!(clone.expiry(), Some(t(1_795_374_000)));
        assert_eq!(c.expiry(), Some(t(1_795_374_000)));
        // The only holder edits in place, moving the secret, not copying it.
        let only = temp();
        let secret = only.secret_access_key().as_ptr();
        assert_eq!(
            only.with_account_id("123456789012").secret_access_key().as_ptr(),
            secret
        );
    }

    #[cfg(feature = "aws-sdk")]
    #[test]
    fn the_sdk_form_is_made_once_shared_by_clones_and_never_outlives_an_edit() {
        let c = temp();
        let first = c.to_sdk();
        let second = c.to_sdk();
        // Shared, not copied: the SDK type compares by value, so check the secret's address.
        assert_eq!(first.secret_access_key().as_ptr(), second.secret_access_key().as_ptr());
        let clone = c.clone();
        assert_eq!(
            clone.to_sdk().secret_access_key().as_ptr(),
            first.secret_access_key().as_ptr()
        );
        let extended = clone.with_expiry(t(1_795_380_000));
        assert_eq!(extended.to_sdk().expiry(), Some(t(1_795_380_000)));
        assert_eq!(c.to_sdk().expiry(), Some(t(1_795_374_000)));
        // Also on the only holder, edited in place.
        let owned = temp();
        let _ = owned.to_sdk();
        let moved = owned.with_expiry(t(10));
        assert_eq!(moved.to_sdk().expiry(), Some(t(10)));
        assert_eq!(aws_credential_types::Credentials::from(&moved).expiry(), Some(t(10)));
    }

    #[cfg(feature = "aws-sdk")]
    #[test]
    fn the_sdk_form_carries_every_field_and_the_account_id() {
        let c = temp().with_account_id("123456789012");
        let sdk = c.to_sdk();
        assert_eq!(sdk.access_key_id(), "ASIAEXAMPLE");
        assert_eq!(sdk.secret_access_key(), SECRET);
        assert_eq!(sdk.session_token(), Some(TOKEN));
        assert_eq!(sdk.expiry(), c.expiry());
        assert_eq!(sdk.account_id().map(|a| a.as_str()), Some("123456789012"));
        assert!(!format!("{sdk:?}").contains(SECRET));
        // Long-term keys without an account: none of them set.
        let plain = Credentials::new("AKIDEXAMPLE", SECRET, t(0)).unwrap().to_sdk();
        assert_eq!(
            (plain.session_token(), plain.expiry(), plain.account_id()),
            (None, None, None)
        );
    }
}
