//! Who may reach the agent on Windows, in one crate used by the agent (server side) and by the
//! counter screen and `mask-agent` CLI (client side), so the terminal does not depend on the agent.
//!
//! - Server side ([`access`]): every pipe instance gets an explicit, protected DACL: SYSTEM,
//!   Administrators and the pipe's owner (the agent's own account) full control, the local group
//!   [`COUNTER_GROUP`] read/write, nobody else. Without that group the pipe is admins-only and the
//!   agent says how to create it.
//! - Client side ([`server_check`]): before sending anything, the client asks whose process holds
//!   the pipe and refuses unless it is the installed service (or its binary).
//!
//! The rules are plain functions compiled and unit-tested on every platform; the Win32 calls
//! live in the Windows-only `sys` module, the only `unsafe` code of the workspace besides
//! macro expansions of `windows-service`.
#![deny(unsafe_code)]
#![warn(missing_docs, clippy::unwrap_used)]

pub mod access;
pub mod server_check;
#[cfg(windows)]
#[allow(unsafe_code)]
mod sys;
#[cfg(windows)]
mod windows;

pub use access::{AdminsOnlyReason, PipeAccess};
pub use server_check::NotTheAgent;
#[cfg(windows)]
pub use windows::{ServerOptionsExt, describe_pipe_holder, lookup_pipe_access, verify_pipe_server};

/// The Windows service name the agent registers (the MSI and `mask-agent service install`), and
/// the name the client asks the service manager about.
pub const WINDOWS_SERVICE_NAME: &str = "MaskAgent";

/// The local group whose members may use the counter screen (created by the installer).
pub const COUNTER_GROUP: &str = "Mask Counter";
