//! mask-terminal's integration tests: every screen pinned as a snapshot in both languages, and
//! the real demo driven end to end in tmux.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;
mod tmux;

mod cmd;
mod demo_e2e;
mod render;
