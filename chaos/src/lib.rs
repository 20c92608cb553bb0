//! The seeded fault suite of the mask rationing system (issue 11): a fault proxy that sits
//! between an agent and the server, and a driver that runs real agents and a real server
//! through kills, faults, clock skew, outages and server restarts, then checks that every sale
//! the screen was told about reached the server exactly once.
#![forbid(unsafe_code)]

pub mod accounting;
pub mod buyers;
pub mod client;
pub mod driver;
pub mod http;
pub mod procs;
pub mod proxy;

pub use proxy::{Fault, FaultCounts, FaultProxy, FaultRates};
