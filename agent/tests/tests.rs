//! Integration tests of `mask-agent`: the real server stub in-process on 127.0.0.1:0, real
//! SQLite journals in temp dirs, the real binary as a child process for the CLI and kill -9
//! tests, virtual cards in-process (fixture transport) and over pcscd + vpcd.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

#[cfg(unix)]
mod access;
mod cards;
mod cli;
mod cmd;
mod crash;
mod disk_full;
mod faults;
mod integrity;
mod logs;
mod note;
mod offline;
mod online;
mod outbox;
// The Unix socket's checks; the Windows pipe's rules are unit tests of mask-pipe-guard.
#[cfg(unix)]
mod protocol;
mod read_only;
mod server_client;
