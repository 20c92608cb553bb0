//! The agent as an operating-system service: `mask-agent service install|uninstall|status`, and
//! the entry point the Windows service manager starts (`mask-agent service run`).
//!
//! - Windows ([`windows`](self)): the `windows-service` dispatcher reports StartPending →
//!   Running → StopPending → Stopped and turns Stop / Shutdown into a cancelled run token, so the
//!   agent finishes the sale in progress and flushes its journal before the process ends.
//!   `install` and the MSI's `service configure` step set the description, restart-on-failure
//!   recovery actions and the data folder's ACL.
//! - Linux: systemd (`systemctl`), only where systemd is PID 1; the .deb ships the unit.
//! - macOS: a launchd daemon (`launchctl`).
//!
//! `mask-agent run` stays the console (foreground) mode on every platform.

use std::path::{Path, PathBuf};

use tokio_util::sync::CancellationToken;

use crate::config::{Config, FlagOverrides, ProcessEnv};
use crate::messages::{Language, Msg};

mod command;
// Unit-tested on every Unix (it writes files with `write_file`, which Windows does not build).
#[cfg(any(target_os = "macos", all(test, unix)))]
mod launchd;
#[cfg(target_os = "linux")]
mod systemd;
#[cfg(windows)]
mod windows;

pub use command::CommandError;

/// Name of the service (Windows service name, systemd unit stem).
#[cfg_attr(not(windows), allow(dead_code))] // used by the Windows service manager code only
pub const SERVICE_NAME: &str = if cfg!(windows) {
    // One home: the screen asks the service manager about this name (mask-pipe-guard).
    mask_pipe_guard::WINDOWS_SERVICE_NAME
} else {
    "mask-agent"
};

/// Name shown in the Windows service list.
#[cfg_attr(not(windows), allow(dead_code))]
pub const DISPLAY_NAME: &str = "Mask Rationing Pharmacy Agent";

/// Description registered with the service manager (zh-TW first, then English).
#[cfg_attr(not(windows), allow(dead_code))]
pub const DESCRIPTION: &str = "口罩實名制藥局代理程式：讀取健保卡（唯讀）、記錄販售並同步至中央系統。\
     Mask rationing pharmacy agent: reads NHI cards (read-only), keeps the sale journal and syncs it \
     to the central API.";

/// launchd label of the macOS daemon.
#[cfg_attr(not(any(target_os = "macos", all(test, unix))), allow(dead_code))]
pub const LAUNCHD_LABEL: &str = "tw.mask-rationing.mask-agent";

/// An error of the agent itself, as the service runner reports it.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Runs the agent until the token is cancelled (a service Stop) and returns once the journal is
/// flushed. Built by the CLI from `run`'s own code path, so service and console mode are one code.
pub type Runner = Box<dyn FnOnce(CancellationToken) -> Result<(), BoxError> + Send + 'static>;

/// `mask-agent service …`.
#[derive(Clone, Debug, PartialEq, Eq, clap::Subcommand)]
pub enum ServiceCommand {
    /// Register the agent as a system service that starts at boot and restarts on failure, then
    /// start it (Windows service, systemd unit or launchd daemon). Needs administrator rights.
    Install {
        /// Register only; do not start it now.
        #[arg(long)]
        no_start: bool,
    },
    /// Stop and unregister the service. The journal, logs and config are kept.
    Uninstall,
    /// Show whether the service is installed and running (exit 0 only when it is running).
    Status,
    /// Entry point for the Windows service manager; in a console use `mask-agent run`.
    #[command(hide = true)]
    Run,
    /// Windows: set the description, recovery actions and data-folder ACL, and create the local
    /// group "Mask Counter" whose members may use the counter screen (the MSI runs this).
    #[command(hide = true)]
    Configure,
}

/// Where the service finds its files: the config file baked into the service command line and
/// the data directory whose access is restricted.
#[derive(Clone, Debug)]
pub struct ServicePaths {
    /// The config file the service is started with (`--config`), absolute.
    pub config_file: Option<PathBuf>,
    /// The data directory (journal, logs).
    pub data_dir: PathBuf,
}

/// A failure of a `service` subcommand.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The Windows service manager refused an operation.
    #[cfg(windows)]
    #[error("Windows service manager: {action}: {source}")]
    Windows {
        /// What was being done.
        action: &'static str,
        source: windows_service::Error,
    },
    /// An external tool (systemctl, launchctl, icacls, …) failed.
    #[error(transparent)]
    Command(#[from] CommandError),
    /// A file could not be written or read.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// This platform has no service manager the agent can use (e.g. systemd is not PID 1).
    #[error("{0}")]
    NoServiceManager(String),
    /// The subcommand does not exist on this platform.
    #[error("`mask-agent service {0}` is only used on Windows")]
    WindowsOnly(&'static str),
    /// The agent run by the service manager stopped with an error.
    #[error("the agent stopped with an error: {0}")]
    Agent(BoxError),
}

/// Result of a `service` subcommand: the process exit code (`mask_cli::exit`; for `status`,
/// 3 = not running, as LSB `status` does and as `mask_cli::exit::UNAVAILABLE` means).
pub type ExitCode = u8;

/// Runs a `service` subcommand. `runner` is called only for `service run`.
pub fn execute(
    command: &ServiceCommand,
    paths: &ServicePaths,
    runner: impl FnOnce() -> Runner,
) -> Result<ExitCode, ServiceError> {
    match command {
        ServiceCommand::Install { no_start } => platform::install(paths, !no_start),
        ServiceCommand::Uninstall => platform::uninstall(),
        ServiceCommand::Status => platform::status(),
        ServiceCommand::Run => platform::run(paths, runner()),
        ServiceCommand::Configure => platform::configure(paths),
    }
}

/// `mask-agent service …` from the command line: resolves the paths from the config (a config
/// that does not load yet is no reason to refuse `install`: the service reports the problem in
/// its log and the service manager retries), runs the subcommand, prints any error in the
/// configured language and returns the exit code. `run_agent` is the console `run` code path.
pub fn dispatch(
    command: &ServiceCommand,
    flags: &FlagOverrides,
    run_agent: impl FnOnce(&Config, CancellationToken) -> u8 + Send + 'static,
) -> u8 {
    let config = Config::load(flags, &ProcessEnv);
    let lang = match &config {
        Ok(config) => config.language.value,
        Err(_) => Language::detect(flags.language.as_deref().and_then(Language::parse)),
    };
    let config_file = flags
        .config_file
        .clone()
        .or_else(|| config.as_ref().ok().and_then(|c| c.file.clone()))
        .map(|file| std::path::absolute(&file).unwrap_or(file));
    let data_dir = match (&config, &config_file) {
        (Ok(config), _) => config.data_dir.value.clone(),
        (Err(_), Some(file)) => file.parent().map(Path::to_path_buf).unwrap_or_default(),
        (Err(_), None) => {
            if let Err(error) = config {
                eprintln!("{}", Msg::Config(error).text(lang));
            }
            return mask_cli::exit::CONFIG;
        }
    };
    let paths = ServicePaths {
        config_file,
        data_dir,
    };
    let runner = move || -> Runner {
        Box::new(move |shutdown| {
            match config {
            Ok(config) => match run_agent(&config, shutdown) {
                0 => Ok(()),
                code => Err(format!("`mask-agent run` ended with exit code {code}; see the logs in the data directory").into()),
            },
            Err(error) => Err(Box::new(error)),
        }
        })
    };
    match execute(command, &paths, runner) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("{}", Msg::Service(error).text(lang));
            mask_cli::exit::FAILURE
        }
    }
}

/// The arguments the service manager starts the agent with (before the program path).
fn service_arguments(paths: &ServicePaths, subcommand: &[&str]) -> Vec<String> {
    let mut args = Vec::new();
    if let Some(config) = &paths.config_file {
        args.push("--config".to_owned());
        args.push(config.display().to_string());
    }
    args.extend(subcommand.iter().map(|s| (*s).to_owned()));
    args
}

/// The running executable, for the service definition.
fn current_exe() -> Result<PathBuf, ServiceError> {
    std::env::current_exe().map_err(|source| ServiceError::Io {
        path: PathBuf::from("mask-agent"),
        source,
    })
}

#[cfg(not(windows))]
fn write_file(path: &Path, contents: &str) -> Result<(), ServiceError> {
    std::fs::write(path, contents).map_err(|source| ServiceError::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(windows)]
use windows as platform;

#[cfg(target_os = "linux")]
use systemd as platform;

#[cfg(target_os = "macos")]
use launchd as platform;

/// Other platforms: no service manager integration.
#[cfg(not(any(windows, target_os = "linux", target_os = "macos")))]
mod platform {
    use super::{ExitCode, Runner, ServiceError, ServicePaths};

    fn unsupported() -> ServiceError {
        ServiceError::NoServiceManager(
            "no supported service manager on this platform: run `mask-agent run` under your init system".to_owned(),
        )
    }
    pub(super) fn install(_: &ServicePaths, _: bool) -> Result<ExitCode, ServiceError> {
        Err(unsupported())
    }
    pub(super) fn uninstall() -> Result<ExitCode, ServiceError> {
        Err(unsupported())
    }
    pub(super) fn status() -> Result<ExitCode, ServiceError> {
        Err(unsupported())
    }
    pub(super) fn run(_: &ServicePaths, _: Runner) -> Result<ExitCode, ServiceError> {
        Err(ServiceError::WindowsOnly("run"))
    }
    pub(super) fn configure(_: &ServicePaths) -> Result<ExitCode, ServiceError> {
        Err(ServiceError::WindowsOnly("configure"))
    }
}

/// `icacls` arguments for the Windows data and config folders: SYSTEM and Administrators full
/// control, the service account (LocalService, which writes the journal) modify, nothing
/// inherited from ProgramData (where every user may read). The counter group gets nothing here:
/// pharmacists reach the journal only through the agent's pipe. SIDs rather than names, because
/// account names are localised (zh-TW Windows). (install.ps1 grants the same before the MSI runs.)
#[cfg(any(windows, test))]
fn data_dir_acl_args(dir: &str) -> Vec<String> {
    [
        dir,
        "/inheritance:r",
        "/grant:r",
        "*S-1-5-18:(OI)(CI)F",
        "*S-1-5-32-544:(OI)(CI)F",
        "*S-1-5-19:(OI)(CI)M",
        "/Q",
    ]
    .map(str::to_owned)
    .to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_windows_data_folder_is_for_system_administrators_and_the_service_only() {
        let args = data_dir_acl_args(r"C:\ProgramData\mask-agent");
        assert_eq!(args[0], r"C:\ProgramData\mask-agent");
        // Inherited entries (Users may read ProgramData) removed; grants replace, not add.
        assert!(args.contains(&"/inheritance:r".to_owned()));
        assert!(args.contains(&"/grant:r".to_owned()));
        let grants: Vec<&str> = args
            .iter()
            .filter(|a| a.starts_with('*'))
            .map(String::as_str)
            .collect();
        assert_eq!(
            grants,
            [
                "*S-1-5-18:(OI)(CI)F",
                "*S-1-5-32-544:(OI)(CI)F",
                "*S-1-5-19:(OI)(CI)M"
            ]
        );
    }

    #[test]
    fn service_arguments_put_the_config_flag_before_the_subcommand() {
        let paths = ServicePaths {
            config_file: Some(PathBuf::from("/etc/mask-agent/agent.toml")),
            data_dir: PathBuf::from("/var/lib/mask-agent"),
        };
        assert_eq!(
            service_arguments(&paths, &["service", "run"]),
            ["--config", "/etc/mask-agent/agent.toml", "service", "run"]
        );
    }

    #[test]
    fn service_arguments_without_config_are_just_the_subcommand() {
        let paths = ServicePaths {
            config_file: None,
            data_dir: PathBuf::from("d"),
        };
        assert_eq!(service_arguments(&paths, &["run"]), ["run"]);
    }
}
