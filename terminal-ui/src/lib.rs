//! `mask-terminal`: the pharmacist's counter screen (also run by the `mask-demo` binary).
//!
//! The modules are private; what the binaries and tests use is re-exported here:
//! - `app`: the screen as a pure state machine (keys and agent frames in, intents out):
//!   [`App`], [`Input`], [`Intent`], and the demo's keys and notices;
//! - `ui`: rendering of that state with ratatui (no state, no strings of its own): [`draw`];
//! - `i18n`: every word on screen, zh-TW and English ([`Lang`] is the workspace's one language
//!   type);
//! - `client`: the agent's local API (Unix socket / named pipe) on a background thread:
//!   [`AgentClient`];
//! - `run`: the terminal loop tying them together, with hooks for the demo's keys
//!   ([`DemoHooks`], implemented by the `mask-demo` binary): [`run()`], [`RunOptions`].
#![forbid(unsafe_code)]
#![warn(missing_docs, clippy::unwrap_used)]

mod app;
mod client;
mod i18n;
mod run;
mod ui;

pub use app::{App, DemoAction, DemoCard, DemoNotice, Input, Intent};
pub use client::AgentClient;
pub use i18n::{Lang, demo_moved};
pub use run::{DemoHooks, RunError, RunOptions, exit_status, run};
pub use ui::draw;
