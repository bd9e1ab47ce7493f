//! The `Refresher` and its handles with in-process sources: the actor's
//! schedule, backoff, static stability and restarts under paused Tokio time;
//! handles read from many threads and actix-web workers; the metrics
//! collector and facade; reads during a storm of refreshes; and the demo
//! server as a user runs it.

#[path = "../common/mod.rs"]
pub mod common;

mod actor;
mod chain_labels;
mod clocks;
mod collector;
mod demo_server;
mod handle_threads;
mod pinned;
mod restart_backoff;
mod retry_schedule;
mod stopped;
mod stress;
mod wrong_clock;
