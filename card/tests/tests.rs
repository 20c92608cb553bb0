//! Integration tests of nhi-card. One binary; the PC/SC modules talk to the real pcscd through
//! vsmartcard's vpcd driver with virtual cards from `nhi_fixtures`, and are serialised per vpcd
//! port by the fixtures' file locks. Without the stack they skip with a printed reason; with
//! `REQUIRE_PCSC=1` they fail instead.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

mod cli;
mod cmd;
mod fixture_profiles;
mod hostile;
mod pcsc_profiles;
mod service_restart;
mod watcher;
