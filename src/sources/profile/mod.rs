//! The shared `config` and `credentials` files (`~/.aws/config`,
//! `~/.aws/credentials`), read exactly as the AWS SDKs read them, and a
//! profile resolved into the chain of steps that gives its credentials.
//!
//! # Why a resolution you can look at
//!
//! A profile is a small program: `prod` assumes a role with the credentials
//! of `base`, which may itself assume a role, or run a process, or ask IAM
//! Identity Center. The SDKs run that program without showing it, and a
//! mistake (a `source_profile` pointing at the wrong profile, an external id
//! on the wrong hop) shows up as an `AccessDenied` from STS. Here
//! [`resolve`] returns the program itself, a [`ProfileChain`]: a
//! [`Base`] and the [`RoleHop`]s assumed from it, each with the profile it
//! came from, so a user (or a test) can see what a profile will do without
//! calling AWS. Its `Debug` shows no secret.
//!
//! # Exactly as the SDKs
//!
//! The syntax (sections, comments, continuation lines, sub-properties, case
//! rules, the merge of the two files) passes all 65 cases of the SDKs'
//! shared parser conformance data and the 9 of their file-location data
//! (`tests/data/conformance/`). The resolution follows the SDK reference
//! guide and `aws-config`: `source_profile` chains to any depth, static keys
//! of the first profile ignored when it has `role_arn`, static keys of a
//! source profile preferred over its own role, a profile that names itself
//! as `source_profile` using its own keys, and a cycle is an error.
//!
//! ```
//! use credrefresh::sources::profile::{self, Base, ProfileSet};
//!
//! let set = ProfileSet::parse(
//!     "[profile prod]\n\
//!      role_arn = arn:aws:iam::123456789012:role/deploy\n\
//!      source_profile = base\n\
//!      external_id = ops\n\
//!      region = eu-west-1\n",
//!     "[base]\n\
//!      aws_access_key_id = AKIDEXAMPLE\n\
//!      aws_secret_access_key = wJalrXUtnFEMIK7MDENG\n",
//! )?;
//! let chain = profile::resolve(&set, "prod")?;
//! assert!(matches!(chain.base(), Base::Static(keys) if keys.profile == "base"));
//! let hop = &chain.roles()[0];
//! assert_eq!(hop.role_arn, "arn:aws:iam::123456789012:role/deploy");
//! assert_eq!(hop.external_id.as_deref(), Some("ops"));
//! assert_eq!(hop.sts.region.as_deref(), Some("eu-west-1"));
//! assert!(!format!("{chain:?}").contains("wJalrXUtnFEMIK7MDENG"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Loading the files the environment names (blocking file reads, done once
//! at configuration time):
//!
//! ```no_run
//! use credrefresh::sources::profile::{self, ProfileEnv, ProfileSet};
//!
//! let set = ProfileSet::load(&ProfileEnv::process())?;
//! let chain = profile::resolve(&set, set.selected_profile())?;
//! println!("{chain:#?}");
//! # Ok::<(), credrefresh::sources::profile::ProfileError>(())
//! ```

//!
//! # Refreshing profiles
//!
//! - [`RefresherBuilder::profile`](crate::RefresherBuilder::profile),
//!   [`profiles`](crate::RefresherBuilder::profiles) and
//!   [`profile_roles`](crate::RefresherBuilder::profile_roles) (with
//!   [`ProfileRoles`]) make one role per profile, under its name, and one
//!   per refreshing hop of its chain, so a base shared by many profiles is
//!   fetched once; with an MFA code provider, one MFA session per base
//!   profile (python stslib's list).
//! - [`ProfileSource`] is one profile's whole chain as one source, run at
//!   every refresh as the SDKs run it: the `profile` step of the
//!   [`DefaultChain`](crate::sources::DefaultChain).

mod error;
mod link;
mod location;
mod parse;
mod resolve;
mod roles;
mod source;
mod sources;

#[cfg(test)]
mod conformance_tests;

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

pub use error::{Location, ParseError, ParseErrorKind, ProfileError};
pub use location::{DEFAULT_CONFIG_FILE, DEFAULT_CREDENTIALS_FILE, Platform, ProfileEnv};
pub use parse::{FileKind, ProfileSet, Property, Section};
pub use resolve::{
    Base, CredentialSource, MAX_ROLE_DURATION, MIN_ROLE_DURATION, ProcessCommand, ProfileChain, RegionalEndpoints,
    RoleHop, SsoHop, StaticKeys, StsSettings, WebIdentityHop, resolve,
};
pub use roles::{MFA_SESSION_SUFFIX, NamedRole, ProfileRoles};
pub use source::ProfileSource;
pub use sources::DEFAULT_STS_REGION;

/// The profile used when `AWS_PROFILE` is unset.
pub const DEFAULT_PROFILE: &str = "default";

/// The largest profile file read: real ones are a few kilobytes, and a
/// variable pointing at `/dev/zero` must not exhaust the memory.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// The settings of the environment that take precedence over the profile's
/// in a resolution (`AWS_REGION`, `AWS_ENDPOINT_URL_STS`, ...), captured by
/// [`ProfileSet::load`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct EnvSettings {
    pub(crate) region: Option<String>,
    pub(crate) endpoint_url_sts: Option<String>,
    pub(crate) endpoint_url: Option<String>,
    pub(crate) ignore_configured_endpoint_urls: Option<String>,
    pub(crate) sts_regional_endpoints: Option<String>,
}

impl EnvSettings {
    fn capture(env: &ProfileEnv) -> EnvSettings {
        EnvSettings {
            region: env.var("AWS_REGION").or_else(|| env.var("AWS_DEFAULT_REGION")),
            endpoint_url_sts: env.var("AWS_ENDPOINT_URL_STS"),
            endpoint_url: env.var("AWS_ENDPOINT_URL"),
            ignore_configured_endpoint_urls: env.var("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"),
            sts_regional_endpoints: env.var("AWS_STS_REGIONAL_ENDPOINTS"),
        }
    }
}

impl ProfileSet {
    /// Reads and parses the files `env` names ([`ProfileEnv::config_file`],
    /// [`ProfileEnv::credentials_file`]), and keeps the profile it selects
    /// ([`ProfileEnv::profile_name`]) and the variables that override a
    /// profile's settings: `AWS_REGION` (else `AWS_DEFAULT_REGION`),
    /// `AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL`,
    /// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`, `AWS_STS_REGIONAL_ENDPOINTS`.
    ///
    /// A missing file reads as empty, as in the SDKs. The reads block: call
    /// it at configuration time, not on an async runtime's worker.
    ///
    /// # Errors
    /// [`ProfileError::Read`] for a file that exists but cannot be read,
    /// [`ProfileError::TooLarge`] for one over [`MAX_FILE_BYTES`],
    /// [`ProfileError::Parse`] for a syntax error or a file that is not
    /// UTF-8.
    pub fn load(env: &ProfileEnv) -> Result<ProfileSet, ProfileError> {
        let config = read_optional(env.config_file().as_deref())?;
        let credentials = read_optional(env.credentials_file().as_deref())?;
        let mut set = ProfileSet::parse_labelled(
            config.as_ref().map(|(l, t)| (Arc::clone(l), t.as_str())),
            credentials.as_ref().map(|(l, t)| (Arc::clone(l), t.as_str())),
        )?;
        set.selected = Some(env.profile_name());
        set.env = EnvSettings::capture(env);
        Ok(set)
    }

    /// The same set, with the selected profile and the overriding variables
    /// taken from `env` (as [`ProfileSet::load`] does), for a set parsed
    /// from texts.
    pub fn with_env(mut self, env: &ProfileEnv) -> ProfileSet {
        self.selected = Some(env.profile_name());
        self.env = EnvSettings::capture(env);
        self
    }
}

/// A file's label and text, `None` when it does not exist.
fn read_optional(path: Option<&Path>) -> Result<Option<(Arc<str>, String)>, ProfileError> {
    let Some(path) = path else {
        return Ok(None);
    };
    let read_error = |e: std::io::Error| ProfileError::Read {
        path: path.to_owned(),
        kind: e.kind(),
    };
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(read_error(e)),
    };
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(ProfileError::TooLarge {
            path: path.to_owned(),
            limit: MAX_FILE_BYTES,
        });
    }
    let label: Arc<str> = Arc::from(path.display().to_string());
    match String::from_utf8(bytes) {
        Ok(text) => Ok(Some((label, text))),
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            Err(parse::utf8_error(&label, e.as_bytes(), valid).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("credrefresh-profile-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join(".aws")).unwrap();
        dir
    }

    #[test]
    fn load_reads_both_files_from_the_injected_home() {
        let home = temp_dir("load");
        std::fs::write(home.join(".aws/config"), "[profile prod]\nregion = eu-west-1\n").unwrap();
        std::fs::write(
            home.join(".aws/credentials"),
            "[prod]\naws_access_key_id = AKID\naws_secret_access_key = S\n",
        )
        .unwrap();
        let env = ProfileEnv::from_vars(
            [
                ("HOME", home.to_str().unwrap()),
                ("AWS_PROFILE", "prod"),
                ("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9"),
            ],
            Platform::Unix,
        );
        let set = ProfileSet::load(&env).unwrap();
        assert_eq!(set.selected_profile(), "prod");
        let p = set.profile("prod").unwrap();
        assert_eq!(p.get("region"), Some("eu-west-1"));
        assert_eq!(p.get("aws_access_key_id"), Some("AKID"));
        let chain = resolve(&set, set.selected_profile()).unwrap();
        assert_eq!(chain.sts().endpoint_url.as_deref(), Some("http://127.0.0.1:9"));
        let _ = std::fs::remove_dir_all(&home);
    }

    #[test]
    fn missing_files_read_as_empty_and_errors_name_the_file() {
        let home = temp_dir("errors");
        let env = ProfileEnv::from_vars([("HOME", home.to_str().unwrap())], Platform::Unix);
        let set = ProfileSet::load(&env).unwrap();
        assert_eq!(set.profile_names().count(), 0);
        assert!(matches!(
            resolve(&set, "default"),
            Err(ProfileError::UnknownProfile { .. })
        ));

        std::fs::write(home.join(".aws/credentials"), "[a]\nkey = \u{e9}\n[b\n").unwrap();
        let err = ProfileSet::load(&env).unwrap_err();
        let path = home.join(".aws/credentials");
        assert_eq!(
            err.to_string(),
            format!(
                "error parsing {} on line 3 ([a]): Profile definition must end with ']'",
                path.display()
            )
        );
        std::fs::write(home.join(".aws/credentials"), b"[a]\nk = \xff\n").unwrap();
        let err = ProfileSet::load(&env).unwrap_err();
        assert!(
            matches!(&err, ProfileError::Parse(e) if e.kind() == ParseErrorKind::NotUtf8 && e.location().line() == 2)
        );

        // A device that never ends: cut at the limit.
        if std::path::Path::new("/dev/zero").exists() {
            let env = ProfileEnv::from_vars(
                [("HOME", home.to_str().unwrap()), ("AWS_CONFIG_FILE", "/dev/zero")],
                Platform::Unix,
            );
            assert!(matches!(
                ProfileSet::load(&env),
                Err(ProfileError::TooLarge {
                    limit: MAX_FILE_BYTES,
                    ..
                })
            ));
        }

        // A directory where a file should be: a read error, not a panic.
        std::fs::remove_file(home.join(".aws/credentials")).unwrap();
        std::fs::create_dir(home.join(".aws/credentials")).unwrap();
        assert!(matches!(ProfileSet::load(&env), Err(ProfileError::Read { .. })));
        let _ = std::fs::remove_dir_all(&home);
    }
}
