//! Credential sources.
//!
//! | source | name | where credentials come from |
//! | --- | --- | --- |
//! | [`EnvSource`] | `env` | `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_CREDENTIAL_EXPIRATION`, re-read at every refresh |
//! | [`StaticSource`] | `static` | fixed credentials given in code |
//! | [`sts::AssumeRoleSource`] | `sts` | STS `AssumeRole`, signed by base credentials (another role's handle, or a source) |
//! | [`sts::SessionTokenSource`] | `sts` | STS `GetSessionToken`, with an MFA code asked at every refresh |
//! | [`sts::WebIdentitySource`] | `sts` | STS `AssumeRoleWithWebIdentity` with a token file re-read at every refresh (EKS) |

mod env;
mod static_source;
pub mod sts;

pub use env::EnvSource;
pub use static_source::StaticSource;
