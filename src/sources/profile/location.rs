//! Where the two files are, and which profile is selected, from an
//! injectable environment.
//!
//! The environment is a value ([`ProfileEnv`]) rather than the process
//! environment read in place, so that tests (and the SDKs' conformance
//! cases, which include Windows) run without touching the process and on any
//! platform.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// The rules of a platform for the home directory and path separators.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Platform {
    /// Linux, macOS and the other Unix-likes: the home is `HOME`, the
    /// separator `/`.
    Unix,
    /// Windows: the home is `HOME`, else `USERPROFILE`, else
    /// `HOMEDRIVE` + `HOMEPATH`; the separator `\`.
    Windows,
}

impl Platform {
    /// The platform this program was built for.
    pub const fn current() -> Platform {
        if cfg!(windows) {
            Platform::Windows
        } else {
            Platform::Unix
        }
    }

    const fn separator(self) -> char {
        match self {
            Platform::Unix => '/',
            Platform::Windows => '\\',
        }
    }
}

type Vars = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The environment the profile files are found with: variables and platform.
///
/// [`ProfileEnv::process`] reads the process environment; tests give a map.
/// An empty variable counts as unset, as in the SDKs.
///
/// ```
/// use std::path::PathBuf;
/// use credrefresh::sources::profile::{Platform, ProfileEnv};
///
/// let env = ProfileEnv::from_vars([("HOME", "/home/ana"), ("AWS_PROFILE", "prod")], Platform::Unix);
/// assert_eq!(env.config_file(), Some(PathBuf::from("/home/ana/.aws/config")));
/// assert_eq!(env.credentials_file(), Some(PathBuf::from("/home/ana/.aws/credentials")));
/// assert_eq!(env.profile_name(), "prod");
/// ```
#[derive(Clone)]
pub struct ProfileEnv {
    vars: Vars,
    platform: Platform,
}

impl fmt::Debug for ProfileEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProfileEnv")
            .field("platform", &self.platform)
            .finish_non_exhaustive()
    }
}

/// The config file when `AWS_CONFIG_FILE` is unset, under the home.
pub const DEFAULT_CONFIG_FILE: &str = "~/.aws/config";
/// The credentials file when `AWS_SHARED_CREDENTIALS_FILE` is unset.
pub const DEFAULT_CREDENTIALS_FILE: &str = "~/.aws/credentials";

impl ProfileEnv {
    /// The process environment, on this platform.
    pub fn process() -> ProfileEnv {
        ProfileEnv::from_fn(|k| std::env::var(k).ok(), Platform::current())
    }

    /// Variables from a list of pairs, on the platform given.
    pub fn from_vars<I, K, V>(vars: I, platform: Platform) -> ProfileEnv
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let map: std::collections::HashMap<String, String> =
            vars.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        ProfileEnv::from_fn(move |k| map.get(k).cloned(), platform)
    }

    /// Variables read through a function, on the platform given.
    pub fn from_fn(vars: impl Fn(&str) -> Option<String> + Send + Sync + 'static, platform: Platform) -> ProfileEnv {
        ProfileEnv {
            vars: Arc::new(vars),
            platform,
        }
    }

    /// The platform.
    pub fn platform(&self) -> Platform {
        self.platform
    }

    /// A variable; empty counts as unset.
    pub fn var(&self, name: &str) -> Option<String> {
        (self.vars)(name).filter(|v| !v.is_empty())
    }

    /// The home directory by the platform's rules, if any is set.
    pub fn home_dir(&self) -> Option<String> {
        if let Some(home) = self.var("HOME") {
            return Some(home);
        }
        match self.platform {
            Platform::Unix => None,
            Platform::Windows => self.var("USERPROFILE").or_else(|| {
                let drive = self.var("HOMEDRIVE")?;
                let path = self.var("HOMEPATH")?;
                Some(format!("{drive}{path}"))
            }),
        }
    }

    /// The config file: `AWS_CONFIG_FILE`, else [`DEFAULT_CONFIG_FILE`],
    /// with a leading `~` replaced by the home. `None` when the path needs
    /// the home and none is set.
    pub fn config_file(&self) -> Option<PathBuf> {
        self.file("AWS_CONFIG_FILE", "config")
    }

    /// The credentials file: `AWS_SHARED_CREDENTIALS_FILE`, else
    /// [`DEFAULT_CREDENTIALS_FILE`], with a leading `~` replaced by the
    /// home. `None` when the path needs the home and none is set.
    pub fn credentials_file(&self) -> Option<PathBuf> {
        self.file("AWS_SHARED_CREDENTIALS_FILE", "credentials")
    }

    /// The profile selected: `AWS_PROFILE`, else
    /// [`DEFAULT_PROFILE`](super::DEFAULT_PROFILE).
    pub fn profile_name(&self) -> String {
        self.var("AWS_PROFILE")
            .unwrap_or_else(|| super::DEFAULT_PROFILE.to_owned())
    }

    fn file(&self, var: &str, name: &str) -> Option<PathBuf> {
        match self.var(var) {
            Some(path) => self.expand_home(&path).map(PathBuf::from),
            None => {
                let home = self.home_dir()?;
                let sep = self.platform.separator();
                let home = home.strip_suffix(sep).unwrap_or(&home);
                Some(PathBuf::from(format!("{home}{sep}.aws{sep}{name}")))
            }
        }
    }

    /// `~`, `~/x` (and `~\x` on Windows) with the home in front.
    fn expand_home(&self, path: &str) -> Option<String> {
        let Some(rest) = path.strip_prefix('~') else {
            return Some(path.to_owned());
        };
        let is_sep = |c: char| c == '/' || (self.platform == Platform::Windows && c == '\\');
        if !(rest.is_empty() || rest.starts_with(is_sep)) {
            // `~user/x`: another user's home is not looked up.
            return Some(path.to_owned());
        }
        let home = self.home_dir()?;
        let sep = self.platform.separator();
        let home = home.strip_suffix(sep).unwrap_or(&home);
        Some(format!("{home}{rest}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tilde_is_expanded_in_overrides() {
        let env = ProfileEnv::from_vars(
            [
                ("HOME", "/home/u/"),
                ("AWS_CONFIG_FILE", "~/cfg"),
                ("AWS_SHARED_CREDENTIALS_FILE", "~other/c"),
            ],
            Platform::Unix,
        );
        assert_eq!(env.config_file(), Some(PathBuf::from("/home/u/cfg")));
        assert_eq!(env.credentials_file(), Some(PathBuf::from("~other/c")));
        let win = ProfileEnv::from_vars(
            [("USERPROFILE", "C:\\u"), ("AWS_CONFIG_FILE", "~\\cfg")],
            Platform::Windows,
        );
        assert_eq!(win.config_file(), Some(PathBuf::from("C:\\u\\cfg")));
    }

    #[test]
    fn no_home_means_no_default_file_and_empty_means_unset() {
        let env = ProfileEnv::from_vars([("HOME", ""), ("AWS_PROFILE", "")], Platform::Unix);
        assert_eq!(env.config_file(), None);
        assert_eq!(env.credentials_file(), None);
        assert_eq!(env.profile_name(), "default");
        let env = ProfileEnv::from_vars([("USERPROFILE", "C:\\u")], Platform::Unix);
        assert_eq!(env.home_dir(), None, "USERPROFILE is a Windows rule");
    }
}
