//! From the configured roles to a running [`Refresher`].

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::agent::config::{Config, ConfigError, RoleConfig};
use crate::clock::parse_rfc3339;
use crate::credentials::Credentials;
use crate::error::BuildError;
use crate::policy::RefreshPolicy;
use crate::refresher::Refresher;
use crate::source::Source;
use crate::sources::profile::{Platform, ProfileEnv, ProfileSet, ProfileSource};
use crate::sources::sts::{AssumeRoleSource, WebIdentitySource};
use crate::sources::{CredentialProcessSource, DefaultChain, EcsSource, EnvSource, ImdsSource, StaticSource};

/// How the agent reads environment variables (the process environment, or a
/// map in tests).
pub(crate) type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

fn invalid(name: &str, field: &str, e: impl std::fmt::Display) -> ConfigError {
    let key = if field.is_empty() {
        format!("roles.{name}")
    } else {
        format!("roles.{name}.{field}")
    };
    ConfigError::Invalid {
        key,
        reason: e.to_string(),
    }
}

/// Starts a refresher with every configured role, base roles first.
pub(crate) fn start(config: &Config, env: &EnvLookup) -> Result<Refresher, ConfigError> {
    let policy = RefreshPolicy::default()
        .strict(config.strict)
        .if_given(config.fetch_timeout, |p, t| p.fetch_timeout(t));
    let refresher = Refresher::builder()
        .policy(policy)
        .start()
        .map_err(|e| invalid("*", "", e))?;
    for (name, role) in &config.roles {
        let source = source(name, role, &refresher, env)?;
        refresher
            .add_role(name.as_str(), ArcSource(source))
            .map_err(|e| invalid(name, "", e))?;
    }
    Ok(refresher)
}

/// A boxed source as a [`Source`].
struct ArcSource(Arc<dyn Source>);

impl Source for ArcSource {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn fetch(&self, ctx: crate::source::FetchContext) -> crate::source::FetchFuture<'_> {
        self.0.fetch(ctx)
    }
}

/// Optional settings on a builder: `set` runs only for a value that is given.
trait IfGiven: Sized {
    fn if_given<T>(self, value: Option<T>, set: impl FnOnce(Self, T) -> Self) -> Self {
        match value {
            Some(value) => set(self, value),
            None => self,
        }
    }
}

impl<B> IfGiven for B {}

fn lookup_fn(env: &EnvLookup) -> impl Fn(&str) -> Option<String> + Send + Sync + 'static {
    let env = env.clone();
    move |k: &str| env(k)
}

fn source(
    name: &str,
    role: &RoleConfig,
    refresher: &Refresher,
    env: &EnvLookup,
) -> Result<Arc<dyn Source>, ConfigError> {
    Ok(match role {
        RoleConfig::Env {} => Arc::new(EnvSource::with_lookup(lookup_fn(env))),
        RoleConfig::Static {
            access_key_id,
            secret_access_key,
            session_token,
            expiration,
            account_id,
        } => {
            let mut creds = Credentials::new(
                access_key_id.as_str(),
                secret_access_key.as_str(),
                SystemTime::UNIX_EPOCH,
            )
            .map_err(|e| invalid(name, "access_key_id", e))?;
            if let Some(token) = session_token {
                creds = creds
                    .with_session_token(token.as_str())
                    .map_err(|e| invalid(name, "session_token", e))?;
            }
            if let Some(expiration) = expiration {
                let at = parse_rfc3339(expiration).map_err(|e| invalid(name, "expiration", e))?;
                creds = creds.with_expiry(at);
            }
            if let Some(account) = account_id {
                creds = creds.with_account_id(account.as_str());
            }
            Arc::new(StaticSource::new(creds))
        }
        RoleConfig::AssumeRole {
            role_arn,
            base_role,
            region,
            endpoint,
            session_name,
            duration_seconds,
            external_id,
        } => {
            let base = refresher
                .handle(base_role)
                .ok_or_else(|| invalid(name, "base_role", "no such role"))?;
            let b = AssumeRoleSource::builder(role_arn.as_str(), base)
                .if_given(region.as_deref(), |b, r| b.region(r))
                .if_given(endpoint.as_deref(), |b, e| b.endpoint(e))
                .if_given(session_name.as_deref(), |b, s| b.session_name(s))
                .if_given(duration_seconds.map(Duration::from_secs), |b, d| b.duration(d))
                .if_given(external_id.as_deref(), |b, x| b.external_id(x));
            Arc::new(b.build().map_err(|e| build_error(name, e))?)
        }
        RoleConfig::WebIdentity {
            role_arn,
            token_file,
            region,
            endpoint,
            session_name,
            duration_seconds,
        } => {
            let b = WebIdentitySource::builder(role_arn.as_str(), token_file.clone())
                .if_given(region.as_deref(), |b, r| b.region(r))
                .if_given(endpoint.as_deref(), |b, e| b.endpoint(e))
                .if_given(session_name.as_deref(), |b, s| b.session_name(s))
                .if_given(duration_seconds.map(Duration::from_secs), |b, d| b.duration(d));
            Arc::new(b.build().map_err(|e| build_error(name, e))?)
        }
        RoleConfig::Imds { endpoint, role_name } => {
            let b = ImdsSource::builder()
                .env_lookup(lookup_fn(env))
                .if_given(endpoint.as_deref(), |b, e| b.endpoint(e))
                .if_given(role_name.as_deref(), |b, r| b.role_name(r));
            Arc::new(b.build().map_err(|e| build_error(name, e))?)
        }
        RoleConfig::Ecs {
            full_uri,
            relative_uri,
            auth_token_file,
        } => {
            let b = EcsSource::builder()
                .env_lookup(lookup_fn(env))
                .if_given(full_uri.as_deref(), |b, u| b.full_uri(u))
                .if_given(relative_uri.as_deref(), |b, u| b.relative_uri(u))
                .if_given(auth_token_file.clone(), |b, f| b.auth_token_file(f));
            Arc::new(b.build().map_err(|e| build_error(name, e))?)
        }
        RoleConfig::Chain {} => Arc::new(DefaultChain::with_lookup(lookup_fn(env)).map_err(|e| build_error(name, e))?),
        RoleConfig::Profile { profile } => {
            let env = ProfileEnv::from_fn(lookup_fn(env), Platform::Unix);
            let profile = profile.clone().unwrap_or_else(|| env.profile_name());
            let source = ProfileSet::load(&env)
                .map(|set| ProfileSource::from_set(&set, &profile, &env))
                .map_err(|e| invalid(name, "profile", e))?;
            if let Some(e) = source.error() {
                return Err(invalid(name, "profile", e));
            }
            Arc::new(source)
        }
        RoleConfig::CredentialProcess {
            command,
            timeout_seconds,
        } => {
            let b = CredentialProcessSource::builder(command.as_str())
                .if_given(timeout_seconds.map(Duration::from_secs), |b, t| b.timeout(t));
            Arc::new(b.build().map_err(|e| build_error(name, e))?)
        }
    })
}

fn build_error(name: &str, e: BuildError) -> ConfigError {
    invalid(name, "", e)
}
