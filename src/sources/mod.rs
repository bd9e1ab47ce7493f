//! Credential sources.
//!
//! | source | name | where credentials come from |
//! | --- | --- | --- |
//! | [`EnvSource`] | `env` | `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_CREDENTIAL_EXPIRATION`, re-read at every refresh |
//! | [`StaticSource`] | `static` | fixed credentials given in code |
//! | [`sts::AssumeRoleSource`] | `sts` | STS `AssumeRole`, signed by base credentials (another role's handle, or a source) |
//! | [`sts::SessionTokenSource`] | `sts` | STS `GetSessionToken`, with an MFA code asked at every refresh |
//! | [`sts::WebIdentitySource`] | `sts` | STS `AssumeRoleWithWebIdentity` with a token file re-read at every refresh (EKS) |
//! | [`EcsSource`] | `ecs` | the container credentials endpoint (ECS task roles, EKS Pod Identity): `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` / `_FULL_URI`, with an authorization token |
//! | [`ImdsSource`] | `imds` | the EC2 instance profile, from the instance metadata service (IMDSv2, optional v1 fallback) |
//! | [`SsoSource`] | `sso` | IAM Identity Center: the token `aws sso login` cached (refreshed through SSO-OIDC and written back, in the `sso_session` form), then the portal's `GetRoleCredentials` |
//! | [`CredentialProcessSource`] | `process` | a `credential_process` command printing JSON credentials, run at every refresh |
//! | [`profile::ProfileSource`] | `profile` | a profile of the shared `config` and `credentials` files (`AWS_PROFILE`), its whole chain in one source; [`profile::ProfileRoles`] makes one role per hop instead |
//! | [`DefaultChain`] | `chain` | the first of `env`, `profile`, `sts` (web identity), `ecs`, `imds` that applies here, as the SDKs' default chain; the snapshot shows the one chosen |

mod builder_setters;
mod chain;
pub mod ecs;
mod env;
mod file;
pub(crate) mod http;
pub mod imds;
mod lookup;
pub mod process;
pub mod profile;
pub mod sso;
mod static_source;
pub mod sts;

pub use chain::DefaultChain;
pub use ecs::EcsSource;
pub use env::EnvSource;
pub use imds::ImdsSource;
pub use process::CredentialProcessSource;
pub use sso::SsoSource;
pub use static_source::StaticSource;
