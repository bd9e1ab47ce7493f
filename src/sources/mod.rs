//! Credential sources.
//!
//! | source | name | where credentials come from |
//! | --- | --- | --- |
//! | [`EnvSource`] | `env` | `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_CREDENTIAL_EXPIRATION`, re-read at every refresh |
//! | [`StaticSource`] | `static` | fixed credentials given in code |

mod env;
mod static_source;

pub use env::EnvSource;
pub use static_source::StaticSource;
