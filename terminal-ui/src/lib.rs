//! `mask-terminal`: the pharmacist's counter screen (also run by the `mask-demo` binary).
//!
//! - [`app`]: the screen as a pure state machine (keys and agent frames in, intents out);
//! - [`ui`]: rendering of that state with ratatui (no state, no strings of its own);
//! - [`i18n`]: every word on screen, zh-TW and English;
//! - [`client`]: the agent's local API (Unix socket / named pipe) on a background thread;
//! - [`run`]: the terminal loop tying them together, with hooks for the demo's keys
//!   ([`run::DemoHooks`], implemented by the `mask-demo` binary).
#![forbid(unsafe_code)]
#![warn(missing_docs, clippy::unwrap_used)]

pub mod app;
pub mod client;
pub mod i18n;
pub mod run;
pub mod ui;
