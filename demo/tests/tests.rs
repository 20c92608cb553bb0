//! mask-demo's integration tests: the real demo driven end to end in tmux.
#![allow(clippy::unwrap_used, missing_docs)]

mod tmux;

mod cmd;
mod demo_e2e;
