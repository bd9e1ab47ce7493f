//! credrefresh against real, independent peers: moto (STS with signature
//! and IAM checks, its instance metadata), botocore and boto3 (SigV4
//! signing, the IMDS, container and IAM Identity Center credential
//! providers, reading what the emulator serves), and Prometheus with promtool (our metrics, the
//! dashboard and the alert rules, on us and on the demo).
//!
//! Every test that needs a peer is `#[ignore = "needs the real peers:
//! scripts/test-all"]`: plain `cargo test` lists it as ignored;
//! `scripts/test-all` installs the peers and runs this binary with
//! `--ignored`. Run by hand, a peer test fails when its peer is missing.
//! The few tests here that need no peer (checks of the tests' own scans)
//! run under plain `cargo test`.

#[path = "../common/mod.rs"]
pub mod common;

#[cfg(feature = "agent")]
#[path = "../common/agent_moto.rs"]
pub mod agent_moto;

#[cfg(feature = "agent")]
mod agent_clients;
#[cfg(feature = "agent")]
mod agent_dashboards;
mod dashboards;
mod dashboards_demo;
mod ecs_botocore;
mod emulator_boto3;
mod imds_botocore;
mod imds_moto;
mod profiles_botocore;
mod sso_botocore;
mod sts_moto;
mod sts_signing_botocore;
