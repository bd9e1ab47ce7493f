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
//! | [`DefaultChain`] | `chain` | the first of `env`, `sts` (web identity), `ecs`, `imds` that applies here, as the SDKs' default chain; the snapshot shows the one chosen |

mod chain;
pub mod ecs;
mod env;
pub(crate) mod http;
pub mod imds;
mod lookup;
pub mod profile;
mod static_source;
pub mod sts;

pub use chain::DefaultChain;
pub use ecs::EcsSource;
pub use env::EnvSource;
pub use imds::ImdsSource;
pub use static_source::StaticSource;
