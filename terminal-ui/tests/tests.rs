//! mask-terminal's integration tests: every screen pinned as a snapshot in both languages, and
//! the command line. (The real demo, end to end in tmux, is tested in `demo/tests/`.)
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

mod cmd;
mod render;
