//! The credential sources against local servers: `ImdsSource`,
//! `EcsSource`, `SsoSource`, the default chain and the STS sources over the emulator
//! (`credrefresh::testing`), or a canned server where exact bytes matter;
//! each in a running refresher that must ride out every failure, and none
//! of them leaking a secret.
//!
//! The emulator's own tests are in `tests/emulator`; the sources against
//! real peers (moto, botocore), in `tests/peers`.

#[path = "../common/mod.rs"]
pub mod common;

#[path = "../common/logs.rs"]
pub mod logs;

mod canned;
mod chain;
mod ecs;
mod hygiene;
mod imds;
mod imds_ecs_secrets;
mod process;
mod profiles;
mod skew;
mod sso;
mod sts;
mod sts_base;
mod sts_secrets;
mod tls;
mod token_files;
