//! Errors of the profile files: a file that cannot be parsed, and a profile
//! that cannot be resolved.
//!
//! Every error names the file, the line, the profile and the key it is about,
//! and never the value: a value may be a secret (`aws_secret_access_key`),
//! and a malformed line may be a secret pasted in the wrong place, so no
//! error repeats the text of a line.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

/// Where a section or a property was written: the file (as given, or
/// `config` / `credentials` for texts parsed from memory) and the line,
/// counted from 1.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    pub(crate) file: Arc<str>,
    pub(crate) line: usize,
}

impl Location {
    /// The file, as given (a path, or `config` / `credentials` for texts
    /// parsed from memory).
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The line, counted from 1.
    pub fn line(&self) -> usize {
        self.line
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} line {}", self.file, self.line)
    }
}

/// What is wrong with a line of a profile file. The [`Display`](fmt::Display)
/// texts are the ones the AWS SDKs' shared conformance data expects.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParseErrorKind {
    /// A section header (`[profile x]`) without its closing `]`.
    UnterminatedHeader,
    /// A property, or an indented line, before any section header.
    PropertyOutsideSection,
    /// An indented line (a continuation) before any property of its section.
    ContinuationOutsideProperty,
    /// A property line without `=`.
    PropertyWithoutEquals,
    /// A property line whose name is empty (`= value`).
    PropertyWithoutName,
    /// A sub-property line (an indented line under `key =`) without `=`.
    SubPropertyWithoutEquals,
    /// A sub-property line whose name is empty.
    SubPropertyWithoutName,
    /// The file is not UTF-8.
    NotUtf8,
}

impl ParseErrorKind {
    /// The message, as the SDKs word it.
    pub const fn message(self) -> &'static str {
        match self {
            ParseErrorKind::UnterminatedHeader => "Profile definition must end with ']'",
            ParseErrorKind::PropertyOutsideSection => "Expected a profile definition",
            ParseErrorKind::ContinuationOutsideProperty => "Expected a property definition, found continuation",
            ParseErrorKind::PropertyWithoutEquals => "Expected an '=' sign defining a property",
            ParseErrorKind::PropertyWithoutName => "Property did not have a name",
            ParseErrorKind::SubPropertyWithoutEquals => "Expected an '=' sign defining a sub-property",
            ParseErrorKind::SubPropertyWithoutName => "Sub-property did not have a name",
            ParseErrorKind::NotUtf8 => "The file is not valid UTF-8",
        }
    }
}

impl fmt::Display for ParseErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// A profile file that cannot be parsed: the file, the line, the section and
/// property being read if any, and what is wrong. Never the text of the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub(crate) location: Location,
    pub(crate) section: Option<String>,
    pub(crate) key: Option<String>,
    pub(crate) kind: ParseErrorKind,
}

impl ParseError {
    /// The file and line.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The section header being read (`profile prod`), if any.
    pub fn section(&self) -> Option<&str> {
        self.section.as_deref()
    }

    /// The property being read (its name, lower-cased), if known.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// What is wrong.
    pub fn kind(&self) -> ParseErrorKind {
        self.kind
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error parsing {} on line {}", self.location.file, self.location.line)?;
        match (&self.section, &self.key) {
            (Some(section), Some(key)) => write!(f, " ([{section}], key `{key}`)")?,
            (Some(section), None) => write!(f, " ([{section}])")?,
            (None, Some(key)) => write!(f, " (key `{key}`)")?,
            (None, None) => {}
        }
        write!(f, ": {}", self.kind)
    }
}

impl std::error::Error for ParseError {}

/// A profile that cannot be loaded or resolved.
///
/// Messages name files, lines, profiles and keys, never values.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileError {
    /// A profile file cannot be parsed.
    Parse(ParseError),
    /// A profile file exists but cannot be read (a missing file is not an
    /// error: it reads as empty, as in the SDKs).
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        kind: io::ErrorKind,
    },
    /// A profile file is larger than
    /// [`MAX_FILE_BYTES`](super::MAX_FILE_BYTES).
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit, in bytes.
        limit: u64,
    },
    /// The profile asked for is in neither file.
    UnknownProfile {
        /// The profile asked for.
        profile: String,
    },
    /// A `source_profile` names a profile that is in neither file.
    MissingSourceProfile {
        /// The profile whose `source_profile` is wrong.
        profile: String,
        /// The profile it names.
        source_profile: String,
    },
    /// A profile sets both `source_profile` and `credential_source`: only one
    /// may say where the role's base credentials come from.
    SourceProfileAndCredentialSource {
        /// The profile.
        profile: String,
    },
    /// `credential_source` is none of `Environment`, `Ec2InstanceMetadata`,
    /// `EcsContainer`.
    UnknownCredentialSource {
        /// The profile.
        profile: String,
        /// Where the value is written.
        location: Location,
    },
    /// A profile has `role_arn` but neither `source_profile`,
    /// `credential_source` nor `web_identity_token_file`: nothing to assume
    /// the role with.
    RoleWithoutSource {
        /// The profile.
        profile: String,
    },
    /// A setting has a value of the wrong form.
    InvalidValue {
        /// The profile (or `sso-session` / `services` section).
        profile: String,
        /// The setting.
        key: &'static str,
        /// Where the value is written; `None` for an environment variable
        /// (then `key` is the variable's name).
        location: Option<Location>,
        /// What was expected.
        expected: &'static str,
    },
    /// `source_profile` leads back to a profile already in the chain (or a
    /// profile names itself without having keys of its own).
    Cycle {
        /// The profiles in the order followed, the repeated one last.
        profiles: Vec<String>,
    },
    /// Static keys with one half missing.
    IncompleteKeys {
        /// The profile.
        profile: String,
        /// The key missing.
        missing: &'static str,
    },
    /// An IAM Identity Center profile without every setting it needs.
    SsoIncomplete {
        /// The profile.
        profile: String,
        /// The settings missing.
        missing: Vec<&'static str>,
    },
    /// `sso_session` names an `[sso-session x]` section that does not exist.
    MissingSsoSession {
        /// The profile.
        profile: String,
        /// The session named.
        sso_session: String,
    },
    /// A profile repeats `sso_start_url` or `sso_region` of its
    /// `[sso-session]` with a different value.
    SsoSessionMismatch {
        /// The profile.
        profile: String,
        /// The setting that differs.
        key: &'static str,
    },
    /// The profile has no way to get credentials: no keys, role, process,
    /// IAM Identity Center or credential source.
    NoCredentials {
        /// The profile.
        profile: String,
    },
    /// A role of the profile's chain needs MFA codes (`mfa_serial`) and no
    /// [code provider](super::ProfileRoles::mfa_code_provider) was given.
    MfaCodeProviderMissing {
        /// The profile asked for.
        profile: String,
        /// The profile whose `mfa_serial` asks for the codes.
        mfa_serial_from: String,
    },
    /// The profile needs something credrefresh cannot do (yet).
    Unsupported {
        /// The profile that needs it.
        profile: String,
        /// What it needs.
        what: &'static str,
    },
    /// A source of the profile's chain rejected the settings it was given
    /// (a region that is not one, an endpoint URL that is not a URL, a role
    /// ARN STS would refuse, ...).
    InvalidSettings {
        /// The profile whose settings they are.
        profile: String,
        /// What was being configured.
        what: &'static str,
        /// Why it was rejected.
        reason: String,
    },
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProfileError::Parse(e) => e.fmt(f),
            ProfileError::Read { path, kind } => {
                write!(f, "cannot read profile file {}: {kind}", path.display())
            }
            ProfileError::TooLarge { path, limit } => {
                write!(f, "profile file {} is larger than {limit} bytes", path.display())
            }
            ProfileError::UnknownProfile { profile } => {
                write!(
                    f,
                    "profile `{profile}` is in neither the config nor the credentials file"
                )
            }
            ProfileError::MissingSourceProfile {
                profile,
                source_profile,
            } => write!(
                f,
                "profile `{profile}`: source_profile `{source_profile}` is in neither file"
            ),
            ProfileError::SourceProfileAndCredentialSource { profile } => write!(
                f,
                "profile `{profile}` sets both source_profile and credential_source: only one may be set"
            ),
            ProfileError::UnknownCredentialSource { profile, location } => write!(
                f,
                "profile `{profile}` ({location}): credential_source must be one of \
                 Environment, Ec2InstanceMetadata, EcsContainer"
            ),
            ProfileError::RoleWithoutSource { profile } => write!(
                f,
                "profile `{profile}` sets role_arn without source_profile, credential_source \
                 or web_identity_token_file"
            ),
            ProfileError::InvalidValue {
                profile,
                key,
                location,
                expected,
            } => match location {
                Some(location) => write!(
                    f,
                    "profile `{profile}` ({location}): invalid {key}: expected {expected}"
                ),
                None => write!(
                    f,
                    "profile `{profile}`: invalid environment variable {key}: expected {expected}"
                ),
            },
            ProfileError::Cycle { profiles } => {
                write!(f, "source_profile cycle: {}", profiles.join(" -> "))
            }
            ProfileError::IncompleteKeys { profile, missing } => {
                write!(f, "profile `{profile}` has static keys without {missing}")
            }
            ProfileError::SsoIncomplete { profile, missing } => write!(
                f,
                "profile `{profile}` is an IAM Identity Center profile without {}",
                missing.join(", ")
            ),
            ProfileError::MissingSsoSession { profile, sso_session } => write!(
                f,
                "profile `{profile}`: sso_session `{sso_session}` has no [sso-session {sso_session}] section"
            ),
            ProfileError::SsoSessionMismatch { profile, key } => {
                write!(f, "profile `{profile}`: {key} differs from the one of its sso-session")
            }
            ProfileError::NoCredentials { profile } => write!(
                f,
                "profile `{profile}` has no credentials: no keys, role_arn, credential_process, \
                 IAM Identity Center settings or credential_source"
            ),
            ProfileError::MfaCodeProviderMissing {
                profile,
                mfa_serial_from,
            } => write!(
                f,
                "profile `{profile}` needs MFA codes (mfa_serial of profile `{mfa_serial_from}`): \
                 give an MFA code provider"
            ),
            ProfileError::Unsupported { profile, what } => {
                write!(f, "profile `{profile}` needs {what}, which is not supported yet")
            }
            ProfileError::InvalidSettings { profile, what, reason } => {
                write!(f, "profile `{profile}`: invalid {what}: {reason}")
            }
        }
    }
}

impl std::error::Error for ProfileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ProfileError::Parse(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ParseError> for ProfileError {
    fn from(e: ParseError) -> Self {
        ProfileError::Parse(e)
    }
}
