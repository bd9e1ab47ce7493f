//! What an IAM Identity Center profile says: which portal, which account
//! and role, and whether an `sso-session` holds its token.

use crate::error::BuildError;

/// The IAM Identity Center settings of a profile, as the shared config file
/// holds them: `sso_start_url`, `sso_region`, `sso_account_id`,
/// `sso_role_name`, and `sso_session` when the profile names an
/// `[sso-session …]` section (whose `sso_start_url` and `sso_region` are
/// then the ones to give here).
///
/// With a session name the token cache file is named after the session and
/// the token is refreshed through SSO-OIDC; without one (the legacy form,
/// `sso_start_url` in the profile itself) it is named after the start URL
/// and never refreshed, as in the SDKs.
///
/// ```
/// use credrefresh::sources::sso::SsoConfig;
///
/// let session = SsoConfig::session("my-sso", "https://d-abc123.awsapps.com/start", "eu-west-1", "111122223333", "ReadOnly");
/// assert_eq!(session.session_name.as_deref(), Some("my-sso"));
/// let legacy = SsoConfig::legacy("https://d-abc123.awsapps.com/start", "eu-west-1", "111122223333", "ReadOnly");
/// assert_eq!(legacy.session_name, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SsoConfig {
    /// The AWS access portal URL (`sso_start_url`).
    pub start_url: String,
    /// The region of IAM Identity Center (`sso_region`): it picks the OIDC
    /// and portal endpoints.
    pub region: String,
    /// The account whose role is used (`sso_account_id`, 12 digits).
    pub account_id: String,
    /// The permission set's role name (`sso_role_name`).
    pub role_name: String,
    /// The `sso-session` name (`sso_session`), or `None` for the legacy,
    /// non-refreshable form.
    pub session_name: Option<String>,
}

impl SsoConfig {
    /// The `sso_session` form: a token cached under the session's name and
    /// refreshed through SSO-OIDC.
    pub fn session(
        session_name: impl Into<String>,
        start_url: impl Into<String>,
        region: impl Into<String>,
        account_id: impl Into<String>,
        role_name: impl Into<String>,
    ) -> Self {
        Self {
            session_name: Some(session_name.into()),
            ..Self::legacy(start_url, region, account_id, role_name)
        }
    }

    /// The legacy form: a token cached under the start URL, never
    /// refreshed.
    pub fn legacy(
        start_url: impl Into<String>,
        region: impl Into<String>,
        account_id: impl Into<String>,
        role_name: impl Into<String>,
    ) -> Self {
        Self {
            start_url: start_url.into(),
            region: region.into(),
            account_id: account_id.into(),
            role_name: role_name.into(),
            session_name: None,
        }
    }

    /// The key the token cache file is named after: the session name, else
    /// the start URL.
    pub fn cache_key(&self) -> &str {
        self.session_name.as_deref().unwrap_or(&self.start_url)
    }

    /// Checks every field; values are trimmed.
    pub(crate) fn checked(self) -> Result<Self, BuildError> {
        let invalid = |what: &'static str, reason: String| BuildError::InvalidConfiguration { what, reason };
        let start_url = self.start_url.trim().to_string();
        if start_url.is_empty() || start_url.chars().any(char::is_control) {
            return Err(invalid(
                "IAM Identity Center start URL",
                "must be a non-empty URL without control characters".into(),
            ));
        }
        let region = self.region.trim().to_string();
        let region_ok = (1..=64).contains(&region.len())
            && region.starts_with(|c: char| c.is_ascii_lowercase())
            && region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !region_ok {
            return Err(invalid(
                "IAM Identity Center region",
                format!("`{region}` is not an AWS region name like `eu-west-1`"),
            ));
        }
        let account_id = self.account_id.trim().to_string();
        if account_id.len() != 12 || !account_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(
                "IAM Identity Center account id",
                format!("`{account_id}` is not 12 digits"),
            ));
        }
        let role_name = self.role_name.trim().to_string();
        let role_ok = (1..=64).contains(&role_name.len())
            && role_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
        if !role_ok {
            return Err(invalid(
                "IAM Identity Center role name",
                format!("`{role_name}` is not 1-64 characters of [A-Za-z0-9_+=,.@-]"),
            ));
        }
        let session_name = match self.session_name.map(|s| s.trim().to_string()) {
            Some(s) if s.is_empty() || s.chars().any(char::is_control) => {
                return Err(invalid(
                    "IAM Identity Center session name",
                    "must be non-empty, without control characters".into(),
                ));
            }
            other => other,
        };
        Ok(Self {
            start_url,
            region,
            account_id,
            role_name,
            session_name,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_checked_and_trimmed() {
        let ok = SsoConfig::session(
            " s ",
            " https://d-1.awsapps.com/start ",
            "eu-west-1",
            "111122223333",
            "Admin",
        )
        .checked()
        .unwrap();
        assert_eq!(
            (ok.session_name.as_deref(), ok.start_url.as_str()),
            (Some("s"), "https://d-1.awsapps.com/start")
        );
        assert_eq!(ok.cache_key(), "s");
        let legacy = SsoConfig::legacy("u", "cn-north-1", "111122223333", "R");
        assert_eq!(legacy.cache_key(), "u");
        for bad in [
            SsoConfig::legacy("", "eu-west-1", "111122223333", "R"),
            SsoConfig::legacy("u", "EU", "111122223333", "R"),
            SsoConfig::legacy("u", "eu-west-1/x", "111122223333", "R"),
            SsoConfig::legacy("u", "eu-west-1", "1111", "R"),
            SsoConfig::legacy("u", "eu-west-1", "11112222333x", "R"),
            SsoConfig::legacy("u", "eu-west-1", "111122223333", ""),
            SsoConfig::legacy("u", "eu-west-1", "111122223333", "a b"),
            SsoConfig::session(" ", "u", "eu-west-1", "111122223333", "R"),
        ] {
            assert!(bad.clone().checked().is_err(), "{bad:?}");
        }
    }
}
