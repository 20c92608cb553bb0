//! `mask-agent`: the resident service on each pharmacy PC. It turns card events into sales that
//! are never lost and reach the central API exactly once, online or offline.
//!
//! - `config`: TOML + `MASK_AGENT_*` env + flags, each value with its source ([`Config`]).
//! - `journal`: the durable SQLite journal, which is also the outbox ([`Journal`]).
//! - `eligibility`: online check with a hard 2 s limit, else the shared policy offline.
//! - `sync`: drains the outbox in idempotent batches with backoff ([`run_sync`]).
//! - `local_api`: the `mask-protocol` server on a Unix socket / named pipe, and its client
//!   ([`LocalClient`]).
//! - `runtime`: `run` wires it together and stops cleanly on a cancellation token
//!   ([`start_agent`]).
//!
//! The library exists for the crate's own binary, tests and benchmarks and for the launch-day
//! benchmark: its modules are private and the root re-exports only what those use.
#![forbid(unsafe_code)]
#![warn(missing_docs, clippy::unwrap_used)]

mod cards;
mod cli;
// A namespace rather than root names: the binary calls `commands::status`, `commands::sync`, …
pub mod commands;
mod config;
mod core;
mod doctor;
mod eligibility;
mod journal;
mod local_api;
mod logging;
mod messages;
mod probe;
mod runtime;
mod server;
mod service;
mod sync;

// The command line: parsed by the binary, run by `commands` and the service dispatcher.
pub use cli::{CardCommand, Cli, Command, GlobalArgs, JournalCommand};
pub use logging::init_command as init_command_logging;
pub use service::dispatch as dispatch_service;
// The configuration, where it comes from, and the language of messages.
pub use config::{Config, Env as ConfigEnv, FlagOverrides, ProcessEnv};
pub use messages::{Language, Msg};
// The whole agent in-process (tests): started on a card source, reached over the local API.
pub use cards::{CardFeed, CardSource};
pub use local_api::LocalClient;
pub use runtime::{RunError, Started as StartedAgent, start as start_agent};
// The agent's core and journal without the rest (benchmarks, launch-day, tests).
pub use core::{Core, CoreSettings};
pub use journal::{
    Journal, META_CREATED as JOURNAL_META_CREATED, META_LAST_CONTACT as JOURNAL_META_LAST_CONTACT,
    NewSale, Opening as OpeningStock, PRAGMAS as JOURNAL_PRAGMAS, SyncState,
};
// The server client and the agent's loops that use it.
pub use probe::run as run_probe;
pub use server::{EXCHANGE_TARGET, MAX_ANSWER_BYTES, ServerClient, ServerError};
pub use sync::{BATCH_SIZE as SYNC_BATCH_SIZE, drain as drain_outbox, run as run_sync};
