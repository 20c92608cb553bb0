//! The `mask-agent` command line.
#![forbid(unsafe_code)]
#![warn(missing_docs, clippy::unwrap_used)]

fn main() {}
