//! Windows: the agent under the service control manager (SCM).
//!
//! `service run` (the command line the MSI and `service install` register) hands this process to
//! the SCM dispatcher. `service_main` reports StartPending → Running, runs the agent with a
//! cancellation token, turns Stop and Shutdown into a cancelled token (StopPending while the agent
//! finishes the sale in progress and flushes the journal) and reports Stopped with the outcome.
//! A non-zero outcome counts as a failure for the recovery actions set by `configure`, so the SCM
//! restarts the agent (e.g. while agent.toml is still the empty template after an MSI install).
//!
//! The Smart Card service (SCardSvr) stops when the last reader is unplugged: that is not a
//! service dependency (it would stop the agent too); the card watcher re-establishes its PC/SC
//! context when the service comes back.

use std::ffi::OsString;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use mask_pipe_guard::COUNTER_GROUP;
use tokio_util::sync::CancellationToken;
use windows_service::service::{
    ServiceAccess, ServiceAction, ServiceActionType, ServiceControl, ServiceControlAccept,
    ServiceErrorControl, ServiceExitCode, ServiceFailureActions, ServiceFailureResetPeriod,
    ServiceInfo, ServiceStartType, ServiceState, ServiceStatus, ServiceType,
};
use windows_service::service_control_handler::{
    self, ServiceControlHandlerResult, ServiceStatusHandle,
};
use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};
use windows_service::{define_windows_service, service_dispatcher};

use super::command::Tool;
use super::{
    BoxError, DESCRIPTION, DISPLAY_NAME, ExitCode, Runner, SERVICE_NAME, ServiceError,
    ServicePaths, service_arguments,
};

/// The built-in account the service runs as: least privilege that can still use the smart-card
/// service and reach the network. Recognised by the SCM in every Windows language.
const SERVICE_ACCOUNT: &str = r"NT AUTHORITY\LocalService";

/// How long the SCM should wait for a start or a clean stop before it considers us hung.
const PENDING_WAIT: Duration = Duration::from_secs(30);

// Win32 error codes the service manager answers with.
const ERROR_ACCESS_DENIED: i32 = 5;
const ERROR_SERVICE_ALREADY_RUNNING: i32 = 1056;
const ERROR_SERVICE_DOES_NOT_EXIST: i32 = 1060;
const ERROR_SERVICE_NOT_ACTIVE: i32 = 1062;
const ERROR_FAILED_SERVICE_CONTROLLER_CONNECT: i32 = 1063;
const ERROR_SERVICE_EXISTS: i32 = 1073;

/// What `service_main` needs. The SCM calls `service_main` on a thread of its own with only
/// strings as arguments, so `run` leaves the runner here just before starting the dispatcher.
struct Pending {
    runner: Runner,
    paths: ServicePaths,
}

static PENDING: Mutex<Option<Pending>> = Mutex::new(None);
static OUTCOME: Mutex<Option<Result<(), String>>> = Mutex::new(None);

// The generated FFI entry point contains the crate's own `unsafe` argument conversion; it
// expands inside windows-service's macro, which the crate-level forbid(unsafe_code) accepts.
define_windows_service!(ffi_service_main, service_main);

pub(super) fn run(paths: &ServicePaths, runner: Runner) -> Result<ExitCode, ServiceError> {
    *lock(&PENDING) = Some(Pending {
        runner,
        paths: paths.clone(),
    });
    match service_dispatcher::start(SERVICE_NAME, ffi_service_main) {
        Ok(()) => {}
        Err(error) if os_error(&error) == Some(ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) => {
            return Err(ServiceError::NoServiceManager(
                "`mask-agent service run` is started by the Windows service manager; in a console use \
                 `mask-agent run` (or `mask-agent service install` to register the service)"
                    .to_owned(),
            ));
        }
        Err(source) => {
            return Err(ServiceError::Windows {
                action: "start the service dispatcher",
                source,
            });
        }
    }
    match lock(&OUTCOME).take() {
        Some(Err(message)) => Err(ServiceError::Agent(message.into())),
        _ => Ok(0),
    }
}

fn service_main(_arguments: Vec<OsString>) {
    let Some(Pending { runner, paths }) = lock(&PENDING).take() else {
        return;
    };
    service_log(&paths.data_dir, "service starting");
    let outcome = run_under_scm(runner).map_err(|error| error.to_string());
    match &outcome {
        Ok(()) => service_log(&paths.data_dir, "service stopped cleanly"),
        Err(message) => service_log(
            &paths.data_dir,
            &format!("service stopped with an error: {message}"),
        ),
    }
    *lock(&OUTCOME) = Some(outcome);
}

fn run_under_scm(runner: Runner) -> Result<(), ServiceError> {
    let shutdown = CancellationToken::new();
    let status: Arc<OnceLock<ServiceStatusHandle>> = Arc::new(OnceLock::new());

    let handler_shutdown = shutdown.clone();
    let handler_status = Arc::clone(&status);
    let handle = service_control_handler::register(SERVICE_NAME, move |control| match control {
        ServiceControl::Stop | ServiceControl::Shutdown => {
            if let Some(handle) = handler_status.get() {
                let _ = handle.set_service_status(service_status(
                    ServiceState::StopPending,
                    ServiceExitCode::NO_ERROR,
                    PENDING_WAIT,
                ));
            }
            handler_shutdown.cancel();
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
        _ => ServiceControlHandlerResult::NotImplemented,
    })
    .map_err(|source| ServiceError::Windows {
        action: "register the control handler",
        source,
    })?;
    let _ = status.set(handle);

    let report = |state, exit, wait| {
        handle
            .set_service_status(service_status(state, exit, wait))
            .map_err(|source| ServiceError::Windows {
                action: "report the service status",
                source,
            })
    };
    report(
        ServiceState::StartPending,
        ServiceExitCode::NO_ERROR,
        PENDING_WAIT,
    )?;
    report(
        ServiceState::Running,
        ServiceExitCode::NO_ERROR,
        Duration::ZERO,
    )?;

    // A panic must not unwind into the SCM's thread (that aborts without a Stopped report).
    let result: Result<(), BoxError> =
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || runner(shutdown))) {
            Ok(result) => result,
            Err(_) => Err("the agent panicked".into()),
        };
    let exit = if result.is_ok() {
        ServiceExitCode::NO_ERROR
    } else {
        ServiceExitCode::ServiceSpecific(1)
    };
    report(ServiceState::Stopped, exit, Duration::ZERO)?;
    result.map_err(ServiceError::Agent)
}

fn service_status(
    state: ServiceState,
    exit_code: ServiceExitCode,
    wait_hint: Duration,
) -> ServiceStatus {
    let controls_accepted = match state {
        ServiceState::Running => ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN,
        _ => ServiceControlAccept::empty(),
    };
    ServiceStatus {
        service_type: ServiceType::OWN_PROCESS,
        current_state: state,
        controls_accepted,
        exit_code,
        checkpoint: 0,
        wait_hint,
        process_id: None,
    }
}

pub(super) fn install(paths: &ServicePaths, start: bool) -> Result<ExitCode, ServiceError> {
    let manager = manager(ServiceManagerAccess::CONNECT | ServiceManagerAccess::CREATE_SERVICE)?;
    let info = ServiceInfo {
        name: SERVICE_NAME.into(),
        display_name: DISPLAY_NAME.into(),
        service_type: ServiceType::OWN_PROCESS,
        start_type: ServiceStartType::AutoStart,
        error_control: ServiceErrorControl::Normal,
        executable_path: super::current_exe()?,
        launch_arguments: service_arguments(paths, &["service", "run"])
            .into_iter()
            .map(OsString::from)
            .collect(),
        // Deliberately no dependency on SCardSvr: it stops whenever the last reader is unplugged.
        dependencies: Vec::new(),
        account_name: Some(SERVICE_ACCOUNT.into()),
        account_password: None,
    };
    let access = ServiceAccess::CHANGE_CONFIG | ServiceAccess::START | ServiceAccess::QUERY_STATUS;
    let service = match manager.create_service(&info, access) {
        Ok(service) => service,
        Err(error) if os_error(&error) == Some(ERROR_SERVICE_EXISTS) => {
            let service = manager
                .open_service(SERVICE_NAME, access)
                .map_err(|source| scm_error("open the existing service", source))?;
            service
                .change_config(&info)
                .map_err(|source| scm_error("update the service", source))?;
            service
        }
        Err(source) => return Err(scm_error("create the service", source)),
    };
    configure(paths)?;
    if start {
        match service.start::<&str>(&[]) {
            Ok(()) => {}
            Err(error) if os_error(&error) == Some(ERROR_SERVICE_ALREADY_RUNNING) => {}
            Err(source) => return Err(scm_error("start the service", source)),
        }
    }
    println!(
        "{SERVICE_NAME}: installed{}",
        if start { " and started" } else { "" }
    );
    Ok(0)
}

/// Description, recovery actions and data-folder ACL. Run by `install` and by the MSI (as SYSTEM).
pub(super) fn configure(paths: &ServicePaths) -> Result<ExitCode, ServiceError> {
    let manager = manager(ServiceManagerAccess::CONNECT)?;
    let service = manager
        .open_service(
            SERVICE_NAME,
            ServiceAccess::CHANGE_CONFIG | ServiceAccess::QUERY_CONFIG,
        )
        .map_err(|source| scm_error("open the service", source))?;
    service
        .set_description(DESCRIPTION)
        .map_err(|source| scm_error("set the description", source))?;
    // Restart after 5 s, again after 5 s, then every minute; the count resets after a quiet day.
    let restart = |secs| ServiceAction {
        action_type: ServiceActionType::Restart,
        delay: Duration::from_secs(secs),
    };
    service
        .update_failure_actions(ServiceFailureActions {
            reset_period: ServiceFailureResetPeriod::After(Duration::from_secs(24 * 60 * 60)),
            reboot_msg: None,
            command: None,
            actions: Some(vec![restart(5), restart(5), restart(60)]),
        })
        .map_err(|source| scm_error("set the recovery actions", source))?;
    // Also restart when the agent reports Stopped with an error (not only on a crash).
    service
        .set_failure_actions_on_non_crash_failures(true)
        .map_err(|source| scm_error("enable recovery on errors", source))?;

    let mut dirs = vec![paths.data_dir.clone()];
    if let Some(config_dir) = paths.config_file.as_deref().and_then(Path::parent)
        && config_dir != paths.data_dir
    {
        dirs.push(config_dir.to_path_buf());
    }
    for dir in dirs {
        restrict_dir(&dir)?;
    }
    println!("{SERVICE_NAME}: description, recovery actions and folder permissions set");
    if ensure_counter_group()? {
        println!(
            "{SERVICE_NAME}: local group \"{COUNTER_GROUP}\" created; add each pharmacist's \
             account with: net localgroup \"{COUNTER_GROUP}\" <user> /add"
        );
    }
    Ok(0)
}

/// Creates the local group whose members may open the agent's pipe (the counter screen), unless
/// it exists. Returns whether it was created. The agent looks the group up when it starts, so
/// the MSI runs this before it starts the service; members are added by IT (installers/README).
fn ensure_counter_group() -> Result<bool, ServiceError> {
    let net = system32("net.exe").display().to_string();
    // `net localgroup NAME` exits 0 only when the group exists (any Windows language).
    if Tool::new(&net, &["localgroup", COUNTER_GROUP])
        .run()
        .is_ok()
    {
        return Ok(false);
    }
    Tool::new(&net, &["localgroup", COUNTER_GROUP, "/add"]).run()?;
    Ok(true)
}

/// Data and config folders: see `super::data_dir_acl_args`.
fn restrict_dir(dir: &Path) -> Result<(), ServiceError> {
    std::fs::create_dir_all(dir).map_err(|source| ServiceError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let icacls = system32("icacls.exe");
    Tool::new(
        &icacls.display().to_string(),
        &super::data_dir_acl_args(&dir.display().to_string()),
    )
    .run()?;
    Ok(())
}

fn system32(program: &str) -> PathBuf {
    let root = std::env::var_os("SystemRoot").unwrap_or_else(|| OsString::from(r"C:\Windows"));
    PathBuf::from(root).join("System32").join(program)
}

pub(super) fn uninstall() -> Result<ExitCode, ServiceError> {
    let manager = manager(ServiceManagerAccess::CONNECT)?;
    let access = ServiceAccess::QUERY_STATUS | ServiceAccess::STOP | ServiceAccess::DELETE;
    let service = match manager.open_service(SERVICE_NAME, access) {
        Ok(service) => service,
        Err(error) if os_error(&error) == Some(ERROR_SERVICE_DOES_NOT_EXIST) => {
            println!("{SERVICE_NAME}: not installed");
            return Ok(0);
        }
        Err(source) => return Err(scm_error("open the service", source)),
    };
    match service.stop() {
        Ok(_) => {}
        Err(error) if os_error(&error) == Some(ERROR_SERVICE_NOT_ACTIVE) => {}
        Err(source) => return Err(scm_error("stop the service", source)),
    }
    // Wait for the clean stop (journal flushed) before deleting.
    let deadline = Instant::now() + PENDING_WAIT;
    while Instant::now() < deadline {
        match service.query_status() {
            Ok(status) if status.current_state == ServiceState::Stopped => break,
            Ok(_) => std::thread::sleep(Duration::from_millis(250)),
            Err(source) => return Err(scm_error("query the service", source)),
        }
    }
    service
        .delete()
        .map_err(|source| scm_error("delete the service", source))?;
    println!("{SERVICE_NAME}: stopped and removed; the journal in the data folder is kept");
    Ok(0)
}

pub(super) fn status() -> Result<ExitCode, ServiceError> {
    let manager = manager(ServiceManagerAccess::CONNECT)?;
    let service = match manager.open_service(
        SERVICE_NAME,
        ServiceAccess::QUERY_STATUS | ServiceAccess::QUERY_CONFIG,
    ) {
        Ok(service) => service,
        Err(error) if os_error(&error) == Some(ERROR_SERVICE_DOES_NOT_EXIST) => {
            println!("{SERVICE_NAME}: not installed");
            return Ok(3);
        }
        Err(source) => return Err(scm_error("open the service", source)),
    };
    let status = service
        .query_status()
        .map_err(|source| scm_error("query the service", source))?;
    let config = service
        .query_config()
        .map_err(|source| scm_error("read the service configuration", source))?;
    println!("{SERVICE_NAME}: {:?}", status.current_state);
    if let Some(pid) = status.process_id.filter(|pid| *pid != 0) {
        println!("  process id: {pid}");
    }
    println!("  start type: {:?}", config.start_type);
    println!("  command:    {}", config.executable_path.display());
    if let Some(account) = &config.account_name {
        println!("  account:    {}", account.to_string_lossy());
    }
    Ok(if status.current_state == ServiceState::Running {
        0
    } else {
        3
    })
}

fn manager(access: ServiceManagerAccess) -> Result<ServiceManager, ServiceError> {
    ServiceManager::local_computer(None::<&str>, access)
        .map_err(|source| scm_error("connect to the service manager", source))
}

fn scm_error(action: &'static str, source: windows_service::Error) -> ServiceError {
    if os_error(&source) == Some(ERROR_ACCESS_DENIED) {
        return ServiceError::NoServiceManager(format!(
            "access denied while trying to {action}: run this from an elevated (Administrator) prompt"
        ));
    }
    ServiceError::Windows { action, source }
}

fn os_error(error: &windows_service::Error) -> Option<i32> {
    match error {
        windows_service::Error::Winapi(io) => io.raw_os_error(),
        _ => None,
    }
}

/// Appends one line to `<data dir>\logs\service.log`: what the SCM did with us, readable even
/// when the agent could not start its own logging (e.g. a config error).
fn service_log(data_dir: &Path, line: &str) {
    let dir = data_dir.join("logs");
    let _ = std::fs::create_dir_all(&dir);
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("service.log"))
    {
        let _ = writeln!(file, "{now} {line}");
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
