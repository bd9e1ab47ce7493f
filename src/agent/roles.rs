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
use crate::sources::sts::{AssumeRoleSource, WebIdentitySource};
use crate::sources::{DefaultChain, EcsSource, EnvSource, ImdsSource, StaticSource};

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
    let mut policy = RefreshPolicy::default().strict(config.strict);
    if let Some(timeout) = config.fetch_timeout {
        policy = policy.fetch_timeout(timeout);
    }
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
            let mut b = AssumeRoleSource::builder(role_arn.as_str(), base);
            if let Some(r) = region {
                b = b.region(r.as_str());
            }
            if let Some(e) = endpoint {
                b = b.endpoint(e.as_str());
            }
            if let Some(s) = session_name {
                b = b.session_name(s.as_str());
            }
            if let Some(d) = duration_seconds {
                b = b.duration(Duration::from_secs(*d));
            }
            if let Some(x) = external_id {
                b = b.external_id(x.as_str());
            }
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
            let mut b = WebIdentitySource::builder(role_arn.as_str(), token_file.clone());
            if let Some(r) = region {
                b = b.region(r.as_str());
            }
            if let Some(e) = endpoint {
                b = b.endpoint(e.as_str());
            }
            if let Some(s) = session_name {
                b = b.session_name(s.as_str());
            }
            if let Some(d) = duration_seconds {
                b = b.duration(Duration::from_secs(*d));
            }
            Arc::new(b.build().map_err(|e| build_error(name, e))?)
        }
        RoleConfig::Imds { endpoint, role_name } => {
            let mut b = ImdsSource::builder().env_lookup(lookup_fn(env));
            if let Some(e) = endpoint {
                b = b.endpoint(e.as_str());
            }
            if let Some(r) = role_name {
                b = b.role_name(r.as_str());
            }
            Arc::new(b.build().map_err(|e| build_error(name, e))?)
        }
        RoleConfig::Ecs {
            full_uri,
            relative_uri,
            auth_token_file,
        } => {
            let mut b = EcsSource::builder().env_lookup(lookup_fn(env));
            if let Some(u) = full_uri {
                b = b.full_uri(u.as_str());
            }
            if let Some(u) = relative_uri {
                b = b.relative_uri(u.as_str());
            }
            if let Some(f) = auth_token_file {
                b = b.auth_token_file(f.clone());
            }
            Arc::new(b.build().map_err(|e| build_error(name, e))?)
        }
        RoleConfig::Chain {} => Arc::new(DefaultChain::with_lookup(lookup_fn(env)).map_err(|e| build_error(name, e))?),
    })
}

fn build_error(name: &str, e: BuildError) -> ConfigError {
    invalid(name, "", e)
}
