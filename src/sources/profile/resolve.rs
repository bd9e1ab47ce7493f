//! A profile resolved into the steps that give its credentials: a base and
//! the roles assumed from it, in order.
//!
//! The rules are the SDK reference guide's ("Assume role credential
//! provider", "IAM Identity Center credential provider", "Process
//! credential provider", "Service-specific endpoints") as `aws-config` and
//! botocore apply them:
//!
//! - A profile with `role_arn` is a role hop. Its base credentials come from
//!   `source_profile` (followed to any depth) or `credential_source`, never
//!   both; its own static keys are ignored, except when it names itself as
//!   `source_profile`, where its keys are the base.
//! - A source profile (second or later in the chain) with complete static
//!   keys stops the chain there, even if it also has `role_arn`.
//! - `role_arn` with `web_identity_token_file` is a web identity base
//!   (`source_profile` is then ignored), never chained further.
//! - Any other profile is a base, the first of: `credential_source`, IAM
//!   Identity Center (`sso_session` or the legacy `sso_start_url` keys),
//!   `credential_process`, static keys (`aws-config`'s order; botocore tries
//!   static keys of the credentials file before `credential_process`).
//! - Values that are empty count as unset; names of profiles are
//!   case-sensitive, names of keys are not; values of
//!   `credential_source` are case-sensitive, as in the SDKs.
//! - Every STS call of the chain uses the selected profile's region and STS
//!   endpoint (the SDKs build one STS client from the selected profile):
//!   `AWS_ENDPOINT_URL_STS`, else `AWS_ENDPOINT_URL`, else the `sts`
//!   `endpoint_url` of the profile's `[services x]` section, else the
//!   profile's `endpoint_url`; none of them when
//!   `ignore_configured_endpoint_urls` is `true`.

use std::collections::HashSet;
use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use zeroize::Zeroizing;

use super::error::ProfileError;
use super::parse::{ProfileSet, Property, Section};
use crate::{Credentials, CredentialsError, ErrorClass, REDACTED};

/// The shortest `duration_seconds` STS accepts.
pub const MIN_ROLE_DURATION: Duration = Duration::from_secs(900);
/// The longest `duration_seconds` STS accepts (the role's own maximum may be
/// lower, which only STS knows).
pub const MAX_ROLE_DURATION: Duration = Duration::from_secs(43_200);

/// A profile resolved: a [`Base`], then the [`RoleHop`]s assumed from it in
/// order (the first with the base's credentials, each next one with the
/// credentials of the one before). Built by [`resolve`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileChain {
    profile: String,
    base: Base,
    roles: Vec<RoleHop>,
    sts: StsSettings,
}

impl ProfileChain {
    /// The profile resolved.
    pub fn profile(&self) -> &str {
        &self.profile
    }

    /// Where the first credentials come from.
    pub fn base(&self) -> &Base {
        &self.base
    }

    /// The roles assumed from the base, in the order they are assumed: the
    /// last one is the profile's own role.
    pub fn roles(&self) -> &[RoleHop] {
        &self.roles
    }

    /// The region and STS endpoint of the selected profile, used by every
    /// STS call of the chain.
    pub fn sts(&self) -> &StsSettings {
        &self.sts
    }

    /// The names of the profiles the chain went through, from the base to
    /// the profile resolved.
    pub fn profiles(&self) -> Vec<&str> {
        let mut out = vec![self.base.profile()];
        for hop in &self.roles {
            if out.last() != Some(&hop.profile.as_str()) {
                out.push(&hop.profile);
            }
        }
        out
    }
}

/// Where the first credentials of a chain come from.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    /// `aws_access_key_id`, `aws_secret_access_key` (and
    /// `aws_session_token`) in the profile.
    Static(StaticKeys),
    /// `credential_source`: credentials from the environment, IMDS or the
    /// container endpoint.
    CredentialSource {
        /// The profile that says so.
        profile: String,
        /// Which.
        source: CredentialSource,
    },
    /// `role_arn` with `web_identity_token_file`:
    /// `AssumeRoleWithWebIdentity`.
    WebIdentity(WebIdentityHop),
    /// `credential_process`: a command printing credentials as JSON.
    Process {
        /// The profile that says so.
        profile: String,
        /// The command.
        command: ProcessCommand,
    },
    /// IAM Identity Center (`sso_session`, or the legacy `sso_start_url`
    /// keys): `GetRoleCredentials` with the cached token.
    Sso(SsoHop),
}

impl Base {
    /// The profile this base comes from.
    pub fn profile(&self) -> &str {
        match self {
            Base::Static(k) => &k.profile,
            Base::CredentialSource { profile, .. } | Base::Process { profile, .. } => profile,
            Base::WebIdentity(w) => &w.profile,
            Base::Sso(s) => &s.profile,
        }
    }

    /// A stable name of the kind of base: `static`, `credential_source`,
    /// `web_identity`, `credential_process`, `sso`.
    pub fn kind(&self) -> &'static str {
        match self {
            Base::Static(_) => "static",
            Base::CredentialSource { .. } => "credential_source",
            Base::WebIdentity(_) => "web_identity",
            Base::Process { .. } => "credential_process",
            Base::Sso(_) => "sso",
        }
    }
}

/// Static keys from a profile. `Debug` shows the key id, not the secret nor
/// the token.
#[non_exhaustive]
#[derive(Clone, PartialEq, Eq)]
pub struct StaticKeys {
    /// The profile holding them.
    pub profile: String,
    /// `aws_access_key_id`.
    pub access_key_id: String,
    secret_access_key: Zeroizing<String>,
    session_token: Option<Zeroizing<String>>,
    /// `aws_account_id`, if set.
    pub account_id: Option<String>,
    /// `mfa_serial` of this profile, if set: the SDKs ignore it on a
    /// profile without `role_arn`; a caller may use it to get one MFA
    /// session (`GetSessionToken`) shared by the roles assumed from these
    /// keys, as stslib did.
    pub mfa_serial: Option<String>,
}

impl StaticKeys {
    /// `aws_secret_access_key`.
    pub fn secret_access_key(&self) -> &str {
        &self.secret_access_key
    }

    /// `aws_session_token`, if set.
    pub fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref().map(String::as_str)
    }

    /// The keys as [`Credentials`] issued at `issued_at`, with the session
    /// token and account id when set.
    ///
    /// # Errors
    /// [`CredentialsError`] when a key is not printable ASCII.
    pub fn credentials(&self, issued_at: SystemTime) -> Result<Credentials, CredentialsError> {
        let mut c = Credentials::new(
            self.access_key_id.clone(),
            self.secret_access_key.to_string(),
            issued_at,
        )?;
        if let Some(token) = self.session_token() {
            c = c.with_session_token(token)?;
        }
        if let Some(account) = &self.account_id {
            c = c.with_account_id(account.clone());
        }
        Ok(c)
    }
}

struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Debug for StaticKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticKeys")
            .field("profile", &self.profile)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &Redacted)
            .field("session_token", &self.session_token.as_ref().map(|_| Redacted))
            .field("account_id", &self.account_id)
            .field("mfa_serial", &self.mfa_serial)
            .finish()
    }
}

/// The values of `credential_source`.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CredentialSource {
    /// `Environment`: the `AWS_ACCESS_KEY_ID` family of variables.
    Environment,
    /// `Ec2InstanceMetadata`: the instance profile, from IMDS.
    Ec2InstanceMetadata,
    /// `EcsContainer`: the container credentials endpoint.
    EcsContainer,
}

impl CredentialSource {
    /// The value as written in the profile.
    pub const fn as_str(self) -> &'static str {
        match self {
            CredentialSource::Environment => "Environment",
            CredentialSource::Ec2InstanceMetadata => "Ec2InstanceMetadata",
            CredentialSource::EcsContainer => "EcsContainer",
        }
    }

    /// Parses a value (case-sensitive, as in the SDKs).
    pub fn parse(value: &str) -> Option<CredentialSource> {
        [
            CredentialSource::Environment,
            CredentialSource::Ec2InstanceMetadata,
            CredentialSource::EcsContainer,
        ]
        .into_iter()
        .find(|s| s.as_str() == value)
    }
}

/// `sts_regional_endpoints`.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegionalEndpoints {
    /// `regional`: `sts.<region>.amazonaws.com`.
    Regional,
    /// `legacy`: the global endpoint for the regions that had it.
    Legacy,
}

/// The region and STS endpoint of a chain.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StsSettings {
    /// `AWS_REGION` (else `AWS_DEFAULT_REGION`), else the profile's
    /// `region`.
    pub region: Option<String>,
    /// The STS endpoint URL configured, if any (see the module docs for the
    /// order).
    pub endpoint_url: Option<String>,
    /// `AWS_STS_REGIONAL_ENDPOINTS`, else the profile's
    /// `sts_regional_endpoints`.
    pub regional_endpoints: Option<RegionalEndpoints>,
}

/// A role assumed with `AssumeRole`.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleHop {
    /// The profile declaring the role.
    pub profile: String,
    /// `role_arn`.
    pub role_arn: String,
    /// `external_id`.
    pub external_id: Option<String>,
    /// `role_session_name` (the SDKs pick one when unset).
    pub role_session_name: Option<String>,
    /// `duration_seconds` (STS's default, one hour, when unset).
    pub duration: Option<Duration>,
    /// `mfa_serial`: the call needs an MFA code.
    pub mfa_serial: Option<String>,
    /// The region and endpoint of the call (the selected profile's).
    pub sts: StsSettings,
}

/// A role assumed with `AssumeRoleWithWebIdentity`.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebIdentityHop {
    /// The profile declaring it.
    pub profile: String,
    /// `role_arn`.
    pub role_arn: String,
    /// `web_identity_token_file`, re-read at every call.
    pub token_file: PathBuf,
    /// `role_session_name`.
    pub role_session_name: Option<String>,
    /// `duration_seconds`.
    pub duration: Option<Duration>,
    /// The region and endpoint of the call.
    pub sts: StsSettings,
}

/// IAM Identity Center settings of a profile.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoHop {
    /// The profile.
    pub profile: String,
    /// `sso_session`, when the profile uses an `[sso-session]` section
    /// (refreshable token); `None` for the legacy keys.
    pub session_name: Option<String>,
    /// `sso_start_url`.
    pub start_url: String,
    /// `sso_region`.
    pub region: String,
    /// `sso_account_id`.
    pub account_id: String,
    /// `sso_role_name`.
    pub role_name: String,
    /// `sso_registration_scopes` of the session, split on commas.
    pub registration_scopes: Vec<String>,
}

/// A `credential_process` command line. `Debug` shows the program and not
/// its arguments, which may carry secrets.
#[derive(Clone, PartialEq, Eq)]
pub struct ProcessCommand(String);

impl ProcessCommand {
    /// The whole command line, as written.
    pub fn command_line(&self) -> &str {
        &self.0
    }

    /// The program: the first word, or the first double-quoted string.
    pub fn program(&self) -> &str {
        crate::sources::process::program_of(&self.0)
    }
}

impl fmt::Debug for ProcessCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessCommand")
            .field("program", &self.program())
            .field("arguments", &Redacted)
            .finish()
    }
}

impl ProfileError {
    /// The class a source reports for this error: [`ErrorClass::NotLoaded`]
    /// when the profile is absent or holds no credentials (a chain moves on
    /// to its next source), [`ErrorClass::InvalidConfiguration`] otherwise.
    pub fn class(&self) -> ErrorClass {
        match self {
            ProfileError::UnknownProfile { .. } | ProfileError::NoCredentials { .. } => ErrorClass::NotLoaded,
            _ => ErrorClass::InvalidConfiguration,
        }
    }
}

/// Where the base credentials of a role hop come from.
enum Next {
    /// The profile names itself: its own keys.
    Myself,
    Profile(String),
    Source(CredentialSource),
}

/// Resolves profile `name` of `set` into its chain, without calling AWS.
///
/// # Errors
/// A typed [`ProfileError`] for every profile that cannot work: unknown
/// profile, missing `source_profile` target, both `source_profile` and
/// `credential_source`, unknown `credential_source`, `role_arn` without a
/// source, an invalid `duration_seconds`, `role_session_name`, `role_arn`,
/// `sts_regional_endpoints` or `ignore_configured_endpoint_urls`, a cycle,
/// incomplete static keys or IAM Identity Center settings, a missing
/// `[sso-session]`, and a profile without any credentials.
///
/// ```
/// use credrefresh::sources::profile::{self, ProfileError, ProfileSet};
///
/// let set = ProfileSet::parse(
///     "[profile a]\nrole_arn = arn:aws:iam::1:role/a\nsource_profile = b\n\
///      [profile b]\nrole_arn = arn:aws:iam::1:role/b\nsource_profile = a\n",
///     "",
/// )?;
/// let err = profile::resolve(&set, "a").unwrap_err();
/// assert_eq!(err, ProfileError::Cycle { profiles: vec!["a".into(), "b".into(), "a".into()] });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn resolve(set: &ProfileSet, name: &str) -> Result<ProfileChain, ProfileError> {
    let top = set.profile(name).ok_or_else(|| ProfileError::UnknownProfile {
        profile: name.to_owned(),
    })?;
    let sts = sts_settings(set, top)?;
    // In order for the error, and as a set so a long chain stays linear.
    let mut visited: Vec<String> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut roles = Vec::new();
    let mut current = name.to_owned();
    let base = loop {
        let Some(profile) = set.profile(&current) else {
            // Only reachable after a source_profile: the first was checked.
            let by = visited.last().cloned().unwrap_or_default();
            return Err(ProfileError::MissingSourceProfile {
                profile: by,
                source_profile: current,
            });
        };
        if !seen.insert(current.clone()) {
            visited.push(current);
            return Err(ProfileError::Cycle { profiles: visited });
        }
        visited.push(current.clone());
        if visited.len() > 1 {
            if let Some(keys) = static_keys(profile)? {
                break Base::Static(keys);
            }
        }
        let Some((hop, next)) = role_hop(profile, &sts)? else {
            break base_of(set, profile, &sts)?;
        };
        roles.push(hop);
        match next {
            Next::Myself => match static_keys(profile)? {
                Some(keys) => break Base::Static(keys),
                None => {
                    visited.push(current);
                    return Err(ProfileError::Cycle { profiles: visited });
                }
            },
            Next::Profile(source) => current = source,
            Next::Source(source) => {
                break Base::CredentialSource {
                    profile: current,
                    source,
                };
            }
        }
    };
    roles.reverse();
    Ok(ProfileChain {
        profile: name.to_owned(),
        base,
        roles,
        sts,
    })
}

/// A property, `None` when unset or empty.
fn value<'a>(section: &'a Section, key: &str) -> Option<&'a str> {
    section.get(key).filter(|v| !v.is_empty())
}

fn invalid(section: &Section, key: &'static str, expected: &'static str) -> ProfileError {
    ProfileError::InvalidValue {
        profile: section.name().to_owned(),
        key,
        location: section.property(key).map(|p| p.location().clone()),
        expected,
    }
}

/// The role hop of a profile with `role_arn` (and no web identity), and
/// where its base comes from.
fn role_hop(profile: &Section, sts: &StsSettings) -> Result<Option<(RoleHop, Next)>, ProfileError> {
    if profile.get("role_arn").is_none() || value(profile, "web_identity_token_file").is_some() {
        return Ok(None);
    }
    let role_arn = role_arn(profile)?;
    let name = profile.name().to_owned();
    let next = match (profile.get("source_profile"), profile.property("credential_source")) {
        (Some(_), Some(_)) => {
            return Err(ProfileError::SourceProfileAndCredentialSource { profile: name });
        }
        (None, None) => return Err(ProfileError::RoleWithoutSource { profile: name }),
        (Some(source), None) if source == name => Next::Myself,
        (Some(source), None) => Next::Profile(source.to_owned()),
        (None, Some(source)) => Next::Source(credential_source(profile, source)?),
    };
    let hop = RoleHop {
        profile: name,
        role_arn,
        external_id: value(profile, "external_id").map(str::to_owned),
        role_session_name: session_name(profile)?,
        duration: duration(profile)?,
        mfa_serial: value(profile, "mfa_serial").map(str::to_owned),
        sts: sts.clone(),
    };
    Ok(Some((hop, next)))
}

fn credential_source(profile: &Section, raw: &Property) -> Result<CredentialSource, ProfileError> {
    CredentialSource::parse(raw.value()).ok_or_else(|| ProfileError::UnknownCredentialSource {
        profile: profile.name().to_owned(),
        location: raw.location().clone(),
    })
}

fn role_arn(profile: &Section) -> Result<String, ProfileError> {
    match value(profile, "role_arn") {
        Some(arn) if arn.starts_with("arn:") && !arn.contains(char::is_whitespace) => Ok(arn.to_owned()),
        _ => Err(invalid(profile, "role_arn", "an ARN (arn:...)")),
    }
}

fn session_name(profile: &Section) -> Result<Option<String>, ProfileError> {
    let Some(name) = value(profile, "role_session_name") else {
        return Ok(None);
    };
    let valid =
        (2..=64).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if valid {
        Ok(Some(name.to_owned()))
    } else {
        Err(invalid(
            profile,
            "role_session_name",
            "2 to 64 of letters, digits and _+=,.@-",
        ))
    }
}

fn duration(profile: &Section) -> Result<Option<Duration>, ProfileError> {
    let Some(raw) = value(profile, "duration_seconds") else {
        return Ok(None);
    };
    raw.parse::<u64>()
        .ok()
        .map(Duration::from_secs)
        .filter(|d| (MIN_ROLE_DURATION..=MAX_ROLE_DURATION).contains(d))
        .map(Some)
        .ok_or_else(|| invalid(profile, "duration_seconds", "whole seconds from 900 to 43200"))
}

/// Complete static keys, `None` when the profile has neither key.
fn static_keys(profile: &Section) -> Result<Option<StaticKeys>, ProfileError> {
    let id = value(profile, "aws_access_key_id");
    let secret = value(profile, "aws_secret_access_key");
    let (id, secret) = match (id, secret) {
        (None, None) => return Ok(None),
        (Some(id), Some(secret)) => (id, secret),
        (Some(_), None) => {
            return Err(ProfileError::IncompleteKeys {
                profile: profile.name().to_owned(),
                missing: "aws_secret_access_key",
            });
        }
        (None, Some(_)) => {
            return Err(ProfileError::IncompleteKeys {
                profile: profile.name().to_owned(),
                missing: "aws_access_key_id",
            });
        }
    };
    Ok(Some(StaticKeys {
        profile: profile.name().to_owned(),
        access_key_id: id.to_owned(),
        secret_access_key: Zeroizing::new(secret.to_owned()),
        session_token: value(profile, "aws_session_token").map(|t| Zeroizing::new(t.to_owned())),
        account_id: value(profile, "aws_account_id").map(str::to_owned),
        mfa_serial: value(profile, "mfa_serial").map(str::to_owned),
    }))
}

/// The base of a profile without a role hop, in the SDKs' order.
fn base_of(set: &ProfileSet, profile: &Section, sts: &StsSettings) -> Result<Base, ProfileError> {
    let name = profile.name().to_owned();
    if let Some(source) = profile.property("credential_source") {
        return Ok(Base::CredentialSource {
            source: credential_source(profile, source)?,
            profile: name,
        });
    }
    if let Some(token_file) = value(profile, "web_identity_token_file") {
        if profile.get("role_arn").is_some() {
            return Ok(Base::WebIdentity(WebIdentityHop {
                role_arn: role_arn(profile)?,
                token_file: PathBuf::from(token_file),
                role_session_name: session_name(profile)?,
                duration: duration(profile)?,
                sts: sts.clone(),
                profile: name,
            }));
        }
    }
    if let Some(sso) = sso(set, profile)? {
        return Ok(Base::Sso(sso));
    }
    if let Some(command) = value(profile, "credential_process") {
        return Ok(Base::Process {
            profile: name,
            command: ProcessCommand(command.to_owned()),
        });
    }
    match static_keys(profile)? {
        Some(keys) => Ok(Base::Static(keys)),
        None => Err(ProfileError::NoCredentials { profile: name }),
    }
}

fn sso(set: &ProfileSet, profile: &Section) -> Result<Option<SsoHop>, ProfileError> {
    const KEYS: [&str; 5] = [
        "sso_session",
        "sso_start_url",
        "sso_region",
        "sso_account_id",
        "sso_role_name",
    ];
    if KEYS.iter().all(|k| value(profile, k).is_none()) {
        return Ok(None);
    }
    let name = profile.name().to_owned();
    let mut start_url = value(profile, "sso_start_url");
    let mut region = value(profile, "sso_region");
    let mut scopes = Vec::new();
    let session_name = value(profile, "sso_session");
    if let Some(session_name) = session_name {
        let session = set
            .sso_session(session_name)
            .ok_or_else(|| ProfileError::MissingSsoSession {
                profile: name.clone(),
                sso_session: session_name.to_owned(),
            })?;
        for (key, slot) in [("sso_start_url", &mut start_url), ("sso_region", &mut region)] {
            if let Some(from_session) = value(session, key) {
                if slot.is_some_and(|v| v != from_session) {
                    return Err(ProfileError::SsoSessionMismatch { profile: name, key });
                }
                *slot = Some(from_session);
            }
        }
        scopes = value(session, "sso_registration_scopes")
            .map(|s| {
                s.split(',')
                    .map(|x| x.trim_matches([' ', '\t', '\n']))
                    .filter(|x| !x.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
    }
    let account_id = value(profile, "sso_account_id");
    let role_name = value(profile, "sso_role_name");
    let missing: Vec<&'static str> = [
        ("sso_start_url", start_url),
        ("sso_region", region),
        ("sso_account_id", account_id),
        ("sso_role_name", role_name),
    ]
    .into_iter()
    .filter(|(_, v)| v.is_none())
    .map(|(k, _)| k)
    .collect();
    match (start_url, region, account_id, role_name) {
        (Some(start_url), Some(region), Some(account_id), Some(role_name)) => Ok(Some(SsoHop {
            profile: name,
            session_name: session_name.map(str::to_owned),
            start_url: start_url.to_owned(),
            region: region.to_owned(),
            account_id: account_id.to_owned(),
            role_name: role_name.to_owned(),
            registration_scopes: scopes,
        })),
        _ => Err(ProfileError::SsoIncomplete { profile: name, missing }),
    }
}

fn sts_settings(set: &ProfileSet, profile: &Section) -> Result<StsSettings, ProfileError> {
    let env = &set.env;
    let region = env
        .region
        .clone()
        .or_else(|| value(profile, "region").map(str::to_owned));
    let ignore = match &env.ignore_configured_endpoint_urls {
        Some(v) => parse_bool(v).ok_or_else(|| ProfileError::InvalidValue {
            profile: profile.name().to_owned(),
            key: "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
            location: None,
            expected: "true or false",
        })?,
        None => match value(profile, "ignore_configured_endpoint_urls") {
            Some(v) => {
                parse_bool(v).ok_or_else(|| invalid(profile, "ignore_configured_endpoint_urls", "true or false"))?
            }
            None => false,
        },
    };
    let endpoint_url = if ignore {
        None
    } else {
        env.endpoint_url_sts
            .clone()
            .or_else(|| env.endpoint_url.clone())
            .or_else(|| {
                // A `services` naming no section is ignored, as in the SDKs.
                let services = set.services(value(profile, "services")?)?;
                services
                    .property("sts")?
                    .sub_properties()
                    .remove("endpoint_url")
                    .filter(|v| !v.is_empty())
            })
            .or_else(|| value(profile, "endpoint_url").map(str::to_owned))
    };
    let regional_endpoints = match &env.sts_regional_endpoints {
        Some(v) => Some(parse_regional(v).ok_or_else(|| ProfileError::InvalidValue {
            profile: profile.name().to_owned(),
            key: "AWS_STS_REGIONAL_ENDPOINTS",
            location: None,
            expected: "regional or legacy",
        })?),
        None => match value(profile, "sts_regional_endpoints") {
            Some(v) => Some(
                parse_regional(v).ok_or_else(|| invalid(profile, "sts_regional_endpoints", "regional or legacy"))?,
            ),
            None => None,
        },
    };
    Ok(StsSettings {
        region,
        endpoint_url,
        regional_endpoints,
    })
}

fn parse_bool(v: &str) -> Option<bool> {
    if v.eq_ignore_ascii_case("true") {
        Some(true)
    } else if v.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn parse_regional(v: &str) -> Option<RegionalEndpoints> {
    if v.eq_ignore_ascii_case("regional") {
        Some(RegionalEndpoints::Regional)
    } else if v.eq_ignore_ascii_case("legacy") {
        Some(RegionalEndpoints::Legacy)
    } else {
        None
    }
}

#[cfg(test)]
mod tests;
