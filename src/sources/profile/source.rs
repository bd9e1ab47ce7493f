//! A profile as one source, the way the SDKs' default chain reads it.

use std::fmt;
use std::sync::Arc;

use crate::credentials::Credentials;
use crate::error::SourceError;
use crate::source::{FetchContext, FetchFuture, Source};
use crate::sources::sts::BaseCredentials;

use super::error::ProfileError;
use super::location::ProfileEnv;
use super::parse::ProfileSet;
use super::resolve::{ProfileChain, resolve};
use super::sources::{assume_role, base_source};

/// The credentials of one profile of the shared `config` and `credentials`
/// files, its whole chain in one source: each fetch fetches the base and
/// assumes every role in turn, as the SDKs do. It is the `profile` step of
/// the [`DefaultChain`](crate::sources::DefaultChain).
///
/// The files are read and the profile resolved once, when the source is
/// made (as the SDKs load them once). What goes wrong there is reported by
/// every fetch: a missing profile or files, or a profile without
/// credentials, as [`NotLoaded`](crate::ErrorClass::NotLoaded) (a chain moves on);
/// anything else as [`InvalidConfiguration`](crate::ErrorClass::InvalidConfiguration),
/// which stops a chain, as in the SDKs: a profile that is selected but
/// broken must not give way to the instance's role.
///
/// A profile whose roles need MFA codes cannot be a single source: refresh
/// it with [`RefresherBuilder::profile_roles`](crate::RefresherBuilder::profile_roles)
/// and a code provider. To share bases among profiles, and see each hop's
/// state, use that too: it makes one role per hop.
///
/// ```no_run
/// use credrefresh::{Refresher, sources::profile::ProfileSource};
/// # fn main() -> Result<(), credrefresh::BuildError> {
/// // AWS_PROFILE (else `default`) of ~/.aws/config and ~/.aws/credentials.
/// let refresher = Refresher::builder().role("app", ProfileSource::new()).start()?;
/// # Ok(()) }
/// ```
pub struct ProfileSource {
    profile: String,
    chain: Result<Arc<dyn Source>, ProfileError>,
}

impl fmt::Debug for ProfileSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProfileSource")
            .field("profile", &self.profile)
            .field("error", &self.chain.as_ref().err())
            .finish_non_exhaustive()
    }
}

impl ProfileSource {
    /// The profile the process environment selects (`AWS_PROFILE`, else
    /// `default`), from the files it names.
    pub fn new() -> ProfileSource {
        ProfileSource::from_env(&ProfileEnv::process())
    }

    /// The profile `env` selects, from the files it names, with its
    /// variables (for the sources and the profile's overrides).
    pub fn from_env(env: &ProfileEnv) -> ProfileSource {
        let profile = env.profile_name();
        match ProfileSet::load(env) {
            Ok(set) => ProfileSource::from_set(&set, &profile, env),
            Err(e) => ProfileSource { profile, chain: Err(e) },
        }
    }

    /// Profile `profile` of `set`, with the variables of `env` for the
    /// sources (`credential_source = Environment`, IMDS, container).
    pub fn from_set(set: &ProfileSet, profile: &str, env: &ProfileEnv) -> ProfileSource {
        ProfileSource {
            profile: profile.to_owned(),
            chain: resolve(set, profile).and_then(|chain| nested(&chain, env)),
        }
    }

    /// The profile.
    pub fn profile(&self) -> &str {
        &self.profile
    }

    /// Why the profile cannot give credentials, if it cannot.
    pub fn error(&self) -> Option<&ProfileError> {
        self.chain.as_ref().err()
    }
}

impl Default for ProfileSource {
    fn default() -> Self {
        ProfileSource::new()
    }
}

/// The chain as nested sources: each role's base is the source before it.
fn nested(chain: &ProfileChain, env: &ProfileEnv) -> Result<Arc<dyn Source>, ProfileError> {
    if let Some(hop) = chain.roles().iter().find(|h| h.mfa_serial.is_some()) {
        return Err(ProfileError::MfaCodeProviderMissing {
            profile: chain.profile().to_owned(),
            mfa_serial_from: hop.profile.clone(),
        });
    }
    let mut source = base_source(chain.base(), env)?;
    for hop in chain.roles() {
        source = Arc::new(assume_role(hop, BaseCredentials::Source(source))?);
    }
    Ok(source)
}

impl ProfileSource {
    async fn fetch_inner(&self, ctx: FetchContext) -> Result<Credentials, SourceError> {
        match &self.chain {
            Ok(source) => source.fetch(ctx).await,
            Err(e) => Err(SourceError::new(e.class(), e.to_string())),
        }
    }
}

impl Source for ProfileSource {
    fn name(&self) -> &'static str {
        "profile"
    }

    fn fetch(&self, ctx: FetchContext) -> FetchFuture<'_> {
        Box::pin(self.fetch_inner(ctx))
    }
}
