//! `mask-agent`: the resident service on each pharmacy PC. It turns card events into sales that
//! are never lost and reach the central API exactly once, online or offline.
//!
//! - [`config`]: TOML + `MASK_AGENT_*` env + flags, each value with its source.
//! - [`journal`]: the durable SQLite journal, which is also the outbox.
//! - [`eligibility`]: online check with a hard 2 s limit, else the shared policy offline.
//! - [`sync`]: drains the outbox in idempotent batches with backoff.
//! - [`local_api`]: the `mask-protocol` server on a Unix socket / named pipe, and its client.
//! - [`runtime`]: `run` wires it together and stops cleanly on a cancellation token.
#![forbid(unsafe_code)]
#![warn(missing_docs, clippy::unwrap_used)]

pub mod cards;
pub mod cli;
pub mod commands;
pub mod config;
pub mod core;
pub mod doctor;
pub mod eligibility;
pub mod journal;
pub mod local_api;
pub mod logging;
pub mod messages;
pub mod probe;
pub mod runtime;
pub mod server;
pub mod service;
pub mod sync;
