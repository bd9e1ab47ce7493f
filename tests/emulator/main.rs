//! The local AWS emulator itself (`credrefresh::testing`), seen from a plain
//! HTTP client over loopback: its STS, IMDS and container endpoint speak
//! their protocols, every fault it injects is observable, it records what it
//! received and issued, and it starts and stops cleanly.
//!
//! Our sources against the emulator are tested in `tests/sources`; real
//! peers (botocore, boto3) reading it, in `tests/peers`.

mod client;
mod ecs;
mod faults;
mod imds;
mod lifecycle;
mod records;
mod skew;
mod sso;
mod sts;
