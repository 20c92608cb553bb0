//! The Windows glue: look the counter group up, create pipe instances with the DACL, and check a
//! connected pipe's server before the client sends anything.

use std::ffi::OsStr;
use std::io;
use std::path::Path;

use tokio::net::windows::named_pipe::{NamedPipeClient, NamedPipeServer, ServerOptions};
use windows_service::service::ServiceAccess;
use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};

use crate::access::{GroupLookup, PipeAccess, decide, pipe_sddl};
use crate::server_check::{NotTheAgent, ServerFacts, expected_image, judge};
use crate::{COUNTER_GROUP, WINDOWS_SERVICE_NAME, sys};

/// Who may open the pipe on this machine: looks [`COUNTER_GROUP`] up and decides.
pub fn lookup_pipe_access() -> PipeAccess {
    let lookup = match sys::lookup_account(COUNTER_GROUP) {
        Ok(Some(account)) => GroupLookup::Found {
            sid: account.sid,
            local_group: account.local_group,
        },
        Ok(None) => GroupLookup::Missing,
        Err(error) => GroupLookup::Failed(error.to_string()),
    };
    decide(lookup)
}

/// Pipe creation with the agent's DACL.
pub trait ServerOptionsExt {
    /// Creates a pipe instance named `name` whose DACL is [`pipe_sddl`] of `access`.
    fn create_guarded(&self, name: &OsStr, access: &PipeAccess) -> io::Result<NamedPipeServer>;
}

impl ServerOptionsExt for ServerOptions {
    fn create_guarded(&self, name: &OsStr, access: &PipeAccess) -> io::Result<NamedPipeServer> {
        sys::create_pipe(self, name, &pipe_sddl(access))
    }
}

/// Checks that the process serving `pipe` is the installed agent: the running MaskAgent service,
/// or a process of the expected binary (the service's program, else `fallback`, normally
/// `mask-agent.exe` beside the calling program). Call it before sending anything.
pub fn verify_pipe_server(
    pipe: &NamedPipeClient,
    fallback: Option<&Path>,
) -> Result<(), NotTheAgent> {
    let server_pid = sys::pipe_server_pid(pipe).unwrap_or(0);
    let (service_pid, command_line) = service_facts();
    let server_image = if server_pid == 0 {
        None
    } else {
        sys::process_image(server_pid).ok()
    };
    judge(&ServerFacts {
        server_pid,
        service_pid,
        server_image,
        expected_image: expected_image(command_line.as_deref(), fallback),
    })
}

/// The MaskAgent service's running process id and configured command line, as far as this user
/// may read them (both are readable by ordinary users with the default service DACL).
fn service_facts() -> (Option<u32>, Option<String>) {
    let Ok(manager) = ServiceManager::local_computer(None::<&str>, ServiceManagerAccess::CONNECT)
    else {
        return (None, None);
    };
    let Ok(service) = manager.open_service(
        WINDOWS_SERVICE_NAME,
        ServiceAccess::QUERY_STATUS | ServiceAccess::QUERY_CONFIG,
    ) else {
        return (None, None);
    };
    let pid = service
        .query_status()
        .ok()
        .and_then(|status| status.process_id)
        .filter(|pid| *pid != 0);
    let command_line = service
        .query_config()
        .ok()
        .map(|config| config.executable_path.to_string_lossy().into_owned());
    (pid, command_line)
}

/// Who holds the pipe `name`, found by connecting to it as a client; `None` when that is not
/// possible. For the agent's message when the name is taken.
pub fn describe_pipe_holder(name: &OsStr) -> Option<NotTheAgent> {
    use std::os::windows::fs::OpenOptionsExt;
    // FILE_READ_ATTRIBUTES: enough to ask for the server's process id, and more often granted
    // by a foreign pipe's DACL than read or write.
    const FILE_READ_ATTRIBUTES: u32 = 0x80;
    let pipe = std::fs::OpenOptions::new()
        .read(true)
        .open(name)
        .or_else(|_| {
            std::fs::OpenOptions::new()
                .access_mode(FILE_READ_ATTRIBUTES)
                .open(name)
        })
        .ok()?;
    let pid = sys::pipe_server_pid(&pipe).ok()?;
    Some(NotTheAgent {
        pid,
        image: sys::process_image(pid).ok(),
    })
}
