//! The sources a resolved profile is made of: one for its base, one per
//! role hop, and the MFA session. Shared by [`ProfileRoles`](super::ProfileRoles)
//! (one role per hop) and [`ProfileSource`](super::ProfileSource) (the whole
//! chain in one source, for the default chain).
//!
//! An IAM Identity Center base is an [`SsoSource`] ([`sso_source`]).
//!
//! Every STS call of a chain uses the selected profile's
//! [`StsSettings`]: its region (`AWS_REGION` first), else
//! [`DEFAULT_STS_REGION`] as botocore does without a region; its endpoint
//! URL when one is configured; and with `sts_regional_endpoints = legacy`,
//! the global endpoint `https://sts.amazonaws.com` (signed for
//! `us-east-1`) for the regions that had it.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, SystemClock};
use crate::error::BuildError;
use crate::source::Source;
use crate::sources::ecs::EcsSource;
use crate::sources::env::EnvSource;
use crate::sources::imds::ImdsSource;
use crate::sources::process::CredentialProcessSource;
use crate::sources::sso::{SsoConfig, SsoSource};
use crate::sources::static_source::StaticSource;
use crate::sources::sts::{AssumeRoleSource, BaseCredentials, MfaCodeProvider, SessionTokenSource, WebIdentitySource};

use super::error::ProfileError;
use super::location::ProfileEnv;
use super::resolve::{Base, CredentialSource, RegionalEndpoints, RoleHop, SsoHop, StaticKeys, StsSettings};

/// The region of a chain's STS calls when neither the environment nor the
/// selected profile names one: `us-east-1`, where botocore's global
/// endpoint signs.
pub const DEFAULT_STS_REGION: &str = "us-east-1";

/// The global STS endpoint, used with `sts_regional_endpoints = legacy`.
const GLOBAL_STS_ENDPOINT: &str = "https://sts.amazonaws.com";

/// The regions that used the global STS endpoint before regional ones
/// became the default (botocore's list), for `sts_regional_endpoints =
/// legacy`.
const LEGACY_GLOBAL_REGIONS: [&str; 16] = [
    "ap-northeast-1",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "aws-global",
    "ca-central-1",
    "eu-central-1",
    "eu-north-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
];

/// The region and endpoint override of an STS call made with `sts`.
pub(super) fn sts_target(sts: &StsSettings) -> (String, Option<String>) {
    let region = sts.region.clone().unwrap_or_else(|| DEFAULT_STS_REGION.to_owned());
    if let Some(url) = &sts.endpoint_url {
        return (region, Some(url.clone()));
    }
    if sts.regional_endpoints == Some(RegionalEndpoints::Legacy) && LEGACY_GLOBAL_REGIONS.contains(&region.as_str()) {
        return (DEFAULT_STS_REGION.to_owned(), Some(GLOBAL_STS_ENDPOINT.to_owned()));
    }
    (region, None)
}

/// A source's build error as a [`ProfileError`] of `profile`.
pub(super) fn settings_error(profile: &str) -> impl FnOnce(BuildError) -> ProfileError + '_ {
    move |e| match e {
        BuildError::InvalidConfiguration { what, reason } => ProfileError::InvalidSettings {
            profile: profile.to_owned(),
            what,
            reason,
        },
        other => ProfileError::InvalidSettings {
            profile: profile.to_owned(),
            what: "source",
            reason: other.to_string(),
        },
    }
}

/// Static keys as a source (long-term: never expire, re-read at the
/// refresher's no-expiry interval).
pub(super) fn static_source(keys: &StaticKeys) -> Result<Arc<dyn Source>, ProfileError> {
    let credentials = keys
        .credentials(SystemClock.now())
        .map_err(|e| ProfileError::InvalidSettings {
            profile: keys.profile.clone(),
            what: "static keys",
            reason: e.to_string(),
        })?;
    Ok(Arc::new(StaticSource::new(credentials)))
}

/// The source of a chain's base. `env` gives the variables of
/// `credential_source = Environment` and of the IMDS and container
/// sources.
pub(super) fn base_source(base: &Base, env: &ProfileEnv) -> Result<Arc<dyn Source>, ProfileError> {
    match base {
        Base::Static(keys) => static_source(keys),
        Base::CredentialSource { profile, source } => credential_source(profile, *source, env),
        Base::WebIdentity(hop) => {
            let (region, endpoint) = sts_target(&hop.sts);
            let mut builder = WebIdentitySource::builder(hop.role_arn.clone(), hop.token_file.clone()).region(region);
            if let Some(endpoint) = endpoint {
                builder = builder.endpoint(endpoint);
            }
            if let Some(name) = &hop.role_session_name {
                builder = builder.session_name(name.clone());
            }
            if let Some(duration) = hop.duration {
                builder = builder.duration(duration);
            }
            let source = builder.build().map_err(settings_error(&hop.profile))?;
            Ok(Arc::new(source))
        }
        Base::Process { profile, command } => {
            let source = CredentialProcessSource::builder(command.command_line())
                .build()
                .map_err(settings_error(profile))?;
            Ok(Arc::new(source))
        }
        Base::Sso(hop) => sso_source(hop, env),
    }
}

/// The source of an IAM Identity Center base (`sso_session`, or the legacy
/// `sso_start_url` keys): an [`SsoSource`] with the token cache under the
/// environment's home, and the SDKs' endpoint variables
/// `AWS_ENDPOINT_URL_SSO_OIDC` (SSO-OIDC) and `AWS_ENDPOINT_URL_SSO` (the
/// portal) when set.
pub(super) fn sso_source(hop: &SsoHop, env: &ProfileEnv) -> Result<Arc<dyn Source>, ProfileError> {
    let config = match &hop.session_name {
        Some(session) => SsoConfig::session(
            session.clone(),
            hop.start_url.clone(),
            hop.region.clone(),
            hop.account_id.clone(),
            hop.role_name.clone(),
        ),
        None => SsoConfig::legacy(
            hop.start_url.clone(),
            hop.region.clone(),
            hop.account_id.clone(),
            hop.role_name.clone(),
        ),
    };
    let lookup = {
        let env = env.clone();
        move |k: &str| env.var(k)
    };
    let mut builder = SsoSource::builder(config).env_lookup(lookup);
    if let Some(url) = env.var("AWS_ENDPOINT_URL_SSO_OIDC") {
        builder = builder.oidc_endpoint(url);
    }
    if let Some(url) = env.var("AWS_ENDPOINT_URL_SSO") {
        builder = builder.portal_endpoint(url);
    }
    let source = builder.build().map_err(settings_error(&hop.profile))?;
    Ok(Arc::new(source))
}

fn credential_source(
    profile: &str,
    source: CredentialSource,
    env: &ProfileEnv,
) -> Result<Arc<dyn Source>, ProfileError> {
    let lookup = {
        let env = env.clone();
        move |k: &str| env.var(k)
    };
    Ok(match source {
        CredentialSource::Environment => Arc::new(EnvSource::with_lookup(lookup)),
        CredentialSource::Ec2InstanceMetadata => Arc::new(
            ImdsSource::builder()
                .env_lookup(lookup)
                .build()
                .map_err(settings_error(profile))?,
        ),
        CredentialSource::EcsContainer => Arc::new(
            EcsSource::builder()
                .env_lookup(lookup)
                .build()
                .map_err(settings_error(profile))?,
        ),
    })
}

/// The `AssumeRole` of `hop`, signed with `base`.
pub(super) fn assume_role(hop: &RoleHop, base: BaseCredentials) -> Result<AssumeRoleSource, ProfileError> {
    let (region, endpoint) = sts_target(&hop.sts);
    let mut builder = AssumeRoleSource::builder(hop.role_arn.clone(), base).region(region);
    if let Some(endpoint) = endpoint {
        builder = builder.endpoint(endpoint);
    }
    if let Some(id) = &hop.external_id {
        builder = builder.external_id(id.clone());
    }
    if let Some(name) = &hop.role_session_name {
        builder = builder.session_name(name.clone());
    }
    if let Some(duration) = hop.duration {
        builder = builder.duration(duration);
    }
    builder.build().map_err(settings_error(&hop.profile))
}

/// A `GetSessionToken` with the MFA device `serial`, signed with `keys`.
pub(super) fn mfa_session(
    keys: &StaticKeys,
    serial: &str,
    provider: Arc<dyn MfaCodeProvider>,
    duration: Duration,
    sts: &StsSettings,
) -> Result<SessionTokenSource, ProfileError> {
    let (region, endpoint) = sts_target(sts);
    let provider = move || {
        let provider = Arc::clone(&provider);
        async move { provider.code().await }
    };
    let mut builder = SessionTokenSource::builder(BaseCredentials::Source(static_source(keys)?))
        .region(region)
        .duration(duration)
        .mfa(serial.to_owned(), provider);
    if let Some(endpoint) = endpoint {
        builder = builder.endpoint(endpoint);
    }
    builder.build().map_err(settings_error(&keys.profile))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sts(region: Option<&str>, endpoint: Option<&str>, regional: Option<RegionalEndpoints>) -> StsSettings {
        StsSettings {
            region: region.map(str::to_owned),
            endpoint_url: endpoint.map(str::to_owned),
            regional_endpoints: regional,
        }
    }

    #[test]
    fn sts_targets() {
        assert_eq!(sts_target(&sts(None, None, None)), ("us-east-1".into(), None));
        assert_eq!(
            sts_target(&sts(Some("eu-west-1"), Some("http://127.0.0.1:5000"), None)),
            ("eu-west-1".into(), Some("http://127.0.0.1:5000".into()))
        );
        assert_eq!(
            sts_target(&sts(Some("eu-west-1"), None, Some(RegionalEndpoints::Legacy))),
            ("us-east-1".into(), Some(GLOBAL_STS_ENDPOINT.into()))
        );
        assert_eq!(
            sts_target(&sts(Some("ap-east-1"), None, Some(RegionalEndpoints::Legacy))),
            ("ap-east-1".into(), None)
        );
        assert_eq!(
            sts_target(&sts(Some("eu-west-1"), None, Some(RegionalEndpoints::Regional))),
            ("eu-west-1".into(), None)
        );
    }
}
