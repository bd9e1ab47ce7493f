//! Profiles as roles of a refresher: one handle per profile, and one role
//! per refreshing hop, so a base many profiles share is fetched once.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::error::BuildError;
use crate::refresher::RefresherBuilder;
use crate::source::Source;
use crate::sources::sts::{BaseCredentials, DEFAULT_SESSION_TOKEN_DURATION, MfaCodeProvider};

use super::error::ProfileError;
use super::link::{Follower, Published};
use super::location::ProfileEnv;
use super::parse::ProfileSet;
use super::resolve::{Base, ProfileChain, resolve};
use super::sources::{assume_role, base_source, mfa_session, static_source};

/// A role to add to a refresher: its name and its source.
pub type NamedRole = (String, Arc<dyn Source>);

/// The suffix of the role holding a base profile's MFA session:
/// `<base>/mfa-session`.
pub const MFA_SESSION_SUFFIX: &str = "/mfa-session";

/// Profiles of the shared `config` and `credentials` files, to be refreshed
/// as roles of a refresher ([`RefresherBuilder::profile_roles`]).
///
/// For each profile asked for, its [chain](super::ProfileChain) becomes:
///
/// - one role per [`RoleHop`](super::RoleHop), named after the profile declaring it,
///   assuming its role with the credentials of the role before it (or of
///   the base) — a profile's own role is the last hop, so its handle is
///   under its own name;
/// - a role for a base that refreshes (`credential_process`, web
///   identity, IAM Identity Center), named after the profile declaring it; static keys and
///   `credential_source` are no role: each role assumed with them fetches
///   them itself;
/// - with MFA, one role `<base>/mfa-session`: `GetSessionToken` with the
///   MFA device and a code from the [code
///   provider](ProfileRoles::mfa_code_provider), signed with the base
///   profile's static keys, whose temporary credentials sign every role
///   assumed from that base — the one MFA session python stslib shared
///   among its list of profiles. The device is the base profile's
///   `mfa_serial`, else that of the first role assumed with its keys
///   (where the SDKs would send the code with `AssumeRole`: the session's
///   credentials carry the MFA context into it).
///
/// Roles are shared within one [`ProfileRoles`]: a hop or a base needed by
/// several profiles is one role, configured by the first profile that needs
/// it (the STS settings of a chain are those of the profile asked for).
///
/// A role reads its base role's credentials as that role last fetched
/// them, waiting up to [`DEFAULT_BASE_WAIT`](crate::sources::sts::DEFAULT_BASE_WAIT)
/// for the first ones. Unlike a base [handle](crate::sources::sts::BaseCredentials::Handle),
/// a base that STS rejects is not asked to refresh early: it refreshes on
/// its own schedule (the roles are made before the refresher starts, when
/// no handle exists yet).
///
/// ```no_run
/// use credrefresh::{Refresher, SourceError, sources::profile::ProfileRoles};
/// # fn totp_now() -> String { "123456".into() }
/// # fn main() -> Result<(), credrefresh::BuildError> {
/// // stslib's list: one MFA session on the base profile, one role each.
/// let refresher = Refresher::builder()
///     .profile_roles(
///         ProfileRoles::new(["DynamoDBRole-dev", "CodeDeployRole-qa", "S3ReadOnlyRole-prod"])
///             .mfa_code_provider(|| async { Ok::<_, SourceError>(totp_now()) }),
///     )?
///     .start()?;
/// let dev = refresher.handle("DynamoDBRole-dev").expect("one handle per profile");
/// # Ok(()) }
/// ```
#[must_use]
pub struct ProfileRoles {
    names: Vec<String>,
    env: Option<ProfileEnv>,
    set: Option<ProfileSet>,
    mfa: Option<Arc<dyn MfaCodeProvider>>,
    mfa_session_duration: Option<Duration>,
}

impl fmt::Debug for ProfileRoles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProfileRoles")
            .field("names", &self.names)
            .field("env", &self.env)
            .field("set", &self.set.as_ref().map(|_| "given"))
            .field("mfa", &self.mfa.as_ref().map(|_| crate::REDACTED))
            .field("mfa_session_duration", &self.mfa_session_duration)
            .finish()
    }
}

impl ProfileRoles {
    /// The profiles `names`, one role (and handle) each, under its name.
    pub fn new<I, S>(names: I) -> ProfileRoles
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ProfileRoles {
            names: names.into_iter().map(Into::into).collect(),
            env: None,
            set: None,
            mfa: None,
            mfa_session_duration: None,
        }
    }

    /// The environment the files are found with (`HOME`,
    /// `AWS_CONFIG_FILE`, `AWS_SHARED_CREDENTIALS_FILE`), whose variables
    /// override the profiles' settings (`AWS_REGION`,
    /// `AWS_ENDPOINT_URL_STS`, ...) and are read by `credential_source =
    /// Environment` and the IMDS and container sources.
    ///
    /// Defaults to [`ProfileEnv::process`].
    pub fn env(mut self, env: ProfileEnv) -> Self {
        self.env = Some(env);
        self
    }

    /// Profiles already parsed, instead of the files the
    /// [environment](Self::env) names. The environment's variables still
    /// apply to the sources; its overrides of the profiles' settings are
    /// the set's own ([`ProfileSet::with_env`]).
    ///
    /// Defaults to [`ProfileSet::load`] of the environment.
    pub fn profile_set(mut self, set: ProfileSet) -> Self {
        self.set = Some(set);
        self
    }

    /// Gives the MFA codes of profiles that need them (`mfa_serial`),
    /// asked at every refresh of the MFA session.
    ///
    /// Defaults to none: a profile needing MFA is then an error
    /// ([`ProfileError::MfaCodeProviderMissing`]).
    pub fn mfa_code_provider(mut self, provider: impl MfaCodeProvider) -> Self {
        self.mfa = Some(Arc::new(provider));
        self
    }

    /// The duration of the MFA sessions (`GetSessionToken`).
    ///
    /// Defaults to [`DEFAULT_SESSION_TOKEN_DURATION`].
    pub fn mfa_session_duration(mut self, duration: Duration) -> Self {
        self.mfa_session_duration = Some(duration);
        self
    }

    /// Resolves every profile and makes its roles: the name and source of
    /// each, bases before the roles assumed with them. To add them to a
    /// running refresher, pass each to
    /// [`Refresher::add_role`](crate::Refresher::add_role).
    ///
    /// Reads the files (blocking) unless [given](Self::profile_set).
    ///
    /// # Errors
    /// [`BuildError::Profile`] naming the profile: files that cannot be
    /// read or parsed, every error of [`resolve`], a profile needing MFA
    /// codes without a [provider](Self::mfa_code_provider), MFA where it
    /// cannot be used (a role assumed with another role's credentials, or
    /// with a base that is not static keys), and settings the sources
    /// refuse (a region, an endpoint, a role ARN, a duration, IAM Identity
    /// Center settings, no home directory for its token cache).
    pub fn into_roles(self) -> Result<Vec<NamedRole>, BuildError> {
        let env = self.env.unwrap_or_else(ProfileEnv::process);
        let set = match self.set {
            Some(set) => set,
            None => ProfileSet::load(&env).map_err(|error| BuildError::Profile {
                profile: self.names.first().cloned().unwrap_or_default(),
                error,
            })?,
        };
        let mut plan = Plan {
            env,
            mfa: self.mfa,
            mfa_session_duration: self.mfa_session_duration.unwrap_or(DEFAULT_SESSION_TOKEN_DURATION),
            roles: Vec::new(),
            followers: HashMap::new(),
        };
        for name in &self.names {
            plan.add(&set, name).map_err(|error| BuildError::Profile {
                profile: name.clone(),
                error,
            })?;
        }
        Ok(plan.roles)
    }
}

/// The roles made so far, and a follower of each (for the roles assumed
/// with it).
struct Plan {
    env: ProfileEnv,
    mfa: Option<Arc<dyn MfaCodeProvider>>,
    mfa_session_duration: Duration,
    roles: Vec<NamedRole>,
    followers: HashMap<String, Follower>,
}

impl Plan {
    /// Adds role `name` over `source`, returning a follower of it.
    fn publish(&mut self, name: String, source: Arc<dyn Source>) -> Follower {
        let (published, follower) = Published::new(&name, source);
        self.roles.push((name.clone(), Arc::new(published)));
        self.followers.insert(name, follower.clone());
        follower
    }

    fn follower(&self, role: &str) -> Option<BaseCredentials> {
        self.followers
            .get(role)
            .map(|f| BaseCredentials::Source(Arc::new(f.clone())))
    }

    fn add(&mut self, set: &ProfileSet, name: &str) -> Result<(), ProfileError> {
        if self.followers.contains_key(name) {
            return Ok(());
        }
        let chain = resolve(set, name)?;
        let Some((last, before)) = chain.roles().split_last() else {
            // No role to assume: the profile's role is its base.
            let source = match chain.base() {
                Base::Static(keys) => static_source(keys)?,
                base => base_source(base, &self.env)?,
            };
            self.publish(name.to_owned(), source);
            return Ok(());
        };
        let mut base = self.base(&chain)?;
        for hop in before.iter().chain([last]) {
            if let Some(existing) = self.follower(&hop.profile) {
                base = existing;
                continue;
            }
            let source = assume_role(hop, base)?;
            let follower = self.publish(hop.profile.clone(), Arc::new(source));
            base = BaseCredentials::Source(Arc::new(follower));
        }
        Ok(())
    }

    /// What the first role of `chain` is assumed with.
    fn base(&mut self, chain: &ProfileChain) -> Result<BaseCredentials, ProfileError> {
        let roles = chain.roles();
        // MFA can only be used by a role assumed with static keys.
        if roles.iter().skip(1).any(|h| h.mfa_serial.is_some()) {
            return Err(unsupported_mfa(chain));
        }
        let base = chain.base();
        let base_role = base.profile().to_owned();
        match base {
            Base::Static(keys) => {
                let serial = keys
                    .mfa_serial
                    .as_ref()
                    .map(|s| (s, &keys.profile))
                    .or_else(|| roles.first().and_then(|h| Some((h.mfa_serial.as_ref()?, &h.profile))));
                let Some((serial, from)) = serial else {
                    return Ok(BaseCredentials::Source(static_source(keys)?));
                };
                let session_role = format!("{base_role}{MFA_SESSION_SUFFIX}");
                if let Some(existing) = self.follower(&session_role) {
                    return Ok(existing);
                }
                let provider = self.mfa.clone().ok_or_else(|| ProfileError::MfaCodeProviderMissing {
                    profile: chain.profile().to_owned(),
                    mfa_serial_from: from.clone(),
                })?;
                let session = mfa_session(keys, serial, provider, self.mfa_session_duration, chain.sts())?;
                let follower = self.publish(session_role, Arc::new(session));
                Ok(BaseCredentials::Source(Arc::new(follower)))
            }
            Base::CredentialSource { .. } => {
                if roles.first().is_some_and(|h| h.mfa_serial.is_some()) {
                    return Err(unsupported_mfa(chain));
                }
                Ok(BaseCredentials::Source(base_source(base, &self.env)?))
            }
            Base::WebIdentity(_) | Base::Process { .. } | Base::Sso(_) => {
                if roles.first().is_some_and(|h| h.mfa_serial.is_some()) {
                    return Err(unsupported_mfa(chain));
                }
                if let Some(existing) = self.follower(&base_role) {
                    return Ok(existing);
                }
                let source = base_source(base, &self.env)?;
                let follower = self.publish(base_role, source);
                Ok(BaseCredentials::Source(Arc::new(follower)))
            }
        }
    }
}

fn unsupported_mfa(chain: &ProfileChain) -> ProfileError {
    ProfileError::Unsupported {
        profile: chain.profile().to_owned(),
        what: "MFA (mfa_serial) on a role assumed with credentials other than static keys",
    }
}

impl RefresherBuilder {
    /// Adds profile `name` of the shared `config` and `credentials` files
    /// (found as [`ProfileEnv::process`] says) as a role of that name, with
    /// a role per refreshing hop of its chain: see
    /// [`profile_roles`](Self::profile_roles).
    ///
    /// Unlike the builder's other settings, this one reads the files and
    /// checks the profile at once, hence the `Result`.
    ///
    /// # Errors
    /// As [`ProfileRoles::into_roles`].
    pub fn profile(self, name: impl Into<String>) -> Result<Self, BuildError> {
        self.profile_roles(ProfileRoles::new([name.into()]))
    }

    /// Adds the profiles `names`, one role (and handle) each under its
    /// name, sharing the roles of the bases and hops they have in common:
    /// python stslib's list. See [`profile_roles`](Self::profile_roles).
    ///
    /// # Errors
    /// As [`ProfileRoles::into_roles`].
    pub fn profiles<I, S>(self, names: I) -> Result<Self, BuildError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.profile_roles(ProfileRoles::new(names))
    }

    /// Adds the roles of `profiles` ([`ProfileRoles::into_roles`]) under
    /// the builder's policy: one per profile, under its name, and one per
    /// hop or base they need (see [`ProfileRoles`]).
    ///
    /// Roles are shared within one call: two calls whose profiles share a
    /// hop add that hop's role twice, and [`start`](Self::start) refuses
    /// the duplicate ([`BuildError::DuplicateRole`]). Give every profile
    /// to one call.
    ///
    /// # Errors
    /// As [`ProfileRoles::into_roles`].
    pub fn profile_roles(mut self, profiles: ProfileRoles) -> Result<Self, BuildError> {
        for (name, source) in profiles.into_roles()? {
            self = self.role(name, source);
        }
        Ok(self)
    }
}
