//! The host agent (`credrefresh::agent`), started in-process and spoken to
//! over loopback: the container and IMDS endpoints, the serving rules, the
//! refusals of bad input, the operational pages and the binary.

#[path = "../common/logs.rs"]
pub mod logs;

mod cli;
mod container;
mod imds;
mod limits;
mod ops;
mod profiles;
mod support;
