//! The seeded fault suite of the mask rationing system (issue 11): a fault proxy that sits
//! between an agent and the server, and a driver that runs real agents and a real server
//! through kills, faults, clock skew, outages and server restarts, then checks that every sale
//! the screen was told about reached the server exactly once.
#![forbid(unsafe_code)]
// The agents' local API is a Unix socket here; on Windows (a named pipe) only the proxy and
// the accounting build, so the workspace's Windows cross-build still passes.

pub mod accounting;
pub mod buyers;
#[cfg(unix)]
pub mod client;
#[cfg(unix)]
pub mod driver;
pub mod http;
#[cfg(unix)]
pub mod procs;
pub mod proxy;

pub use proxy::{Fault, FaultCounts, FaultProxy, FaultRates};

/// A free port on 127.0.0.1, for a server started next (the suite's server must come back on
/// the same one after a restart; the launch-day benchmark's runs on it).
pub fn free_port() -> std::io::Result<std::net::SocketAddr> {
    std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()
}
