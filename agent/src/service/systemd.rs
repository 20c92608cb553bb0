//! Linux: the agent as a systemd service. The .deb ships the hardened unit; for a binary copied
//! onto a machine by hand, `service install` writes the same unit (from installers/debian/) to
//! /etc/systemd/system with this executable's path. Acts only where systemd is PID 1.

use std::path::Path;

use super::command::Tool;
use super::{ExitCode, Runner, ServiceError, ServicePaths, service_arguments, write_file};

const UNIT: &str = "mask-agent.service";
/// The unit the .deb installs (usr-merged systems resolve /lib to /usr/lib).
const PACKAGED_UNITS: [&str; 2] = [
    "/usr/lib/systemd/system/mask-agent.service",
    "/lib/systemd/system/mask-agent.service",
];
const LOCAL_UNIT: &str = "/etc/systemd/system/mask-agent.service";
const LOCAL_SYSUSERS: &str = "/etc/sysusers.d/mask-agent.conf";
/// First line of a unit written by `service install`, so `uninstall` removes only its own file.
const MARKER: &str =
    "# Written by `mask-agent service install`; remove with `mask-agent service uninstall`.";
/// The data directory the unit's StateDirectory= creates.
const STATE_DIR: &str = "/var/lib/mask-agent";

const UNIT_TEMPLATE: &str = include_str!("../../../installers/debian/mask-agent.service");
const SYSUSERS: &str = include_str!("../../../installers/debian/sysusers.conf");

/// systemd is the running init system (the check systemd's own tools and debhelper use).
fn systemd_is_running() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

fn require_systemd() -> Result<(), ServiceError> {
    if systemd_is_running() {
        Ok(())
    } else {
        Err(ServiceError::NoServiceManager(
            "systemd is not running as PID 1 here (container, chroot or WSL without systemd), so there is \
             no service manager to register with. Start the agent in the foreground instead: \
             mask-agent --config /etc/mask-agent/agent.toml run"
                .to_owned(),
        ))
    }
}

fn systemctl(args: &[&str]) -> Tool {
    Tool::new("systemctl", args)
}

pub(super) fn install(paths: &ServicePaths, start: bool) -> Result<ExitCode, ServiceError> {
    require_systemd()?;
    let packaged = PACKAGED_UNITS.iter().any(|p| Path::new(p).is_file());
    if !packaged {
        let exe = super::current_exe()?;
        write_file(Path::new(LOCAL_SYSUSERS), SYSUSERS)?;
        Tool::new("systemd-sysusers", &[LOCAL_SYSUSERS]).run()?;
        let mut argv = vec![exe.display().to_string()];
        argv.extend(service_arguments(paths, &["run"]));
        write_file(Path::new(LOCAL_UNIT), &render_unit(&argv, &paths.data_dir))?;
        systemctl(&["daemon-reload"]).run()?;
    }
    let mut args = vec!["enable"];
    if start {
        args.push("--now");
    }
    args.push(UNIT);
    systemctl(&args).run()?;
    println!("{UNIT}: enabled{}", if start { " and started" } else { "" });
    Ok(0)
}

pub(super) fn uninstall() -> Result<ExitCode, ServiceError> {
    require_systemd()?;
    systemctl(&["disable", "--now", UNIT]).run()?;
    let local = Path::new(LOCAL_UNIT);
    if std::fs::read_to_string(local).is_ok_and(|text| text.starts_with(MARKER)) {
        std::fs::remove_file(local).map_err(|source| ServiceError::Io {
            path: local.to_path_buf(),
            source,
        })?;
        systemctl(&["daemon-reload"]).run()?;
    }
    println!("{UNIT}: stopped and disabled; the journal in the data directory is kept");
    Ok(0)
}

pub(super) fn status() -> Result<ExitCode, ServiceError> {
    require_systemd()?;
    let code = systemctl(&["status", "--no-pager", UNIT]).passthrough()?;
    Ok(u8::try_from(code).unwrap_or(1))
}

pub(super) fn run(_: &ServicePaths, _: Runner) -> Result<ExitCode, ServiceError> {
    Err(ServiceError::WindowsOnly("run"))
}

pub(super) fn configure(_: &ServicePaths) -> Result<ExitCode, ServiceError> {
    Err(ServiceError::WindowsOnly("configure"))
}

/// The packaged unit with this machine's command line (and the data dir made writable when it
/// is not the unit's StateDirectory, since ProtectSystem=strict makes everything else read-only).
fn render_unit(argv: &[String], data_dir: &Path) -> String {
    let exec = argv.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ");
    let mut out = format!("{MARKER}\n");
    for line in UNIT_TEMPLATE.lines() {
        if line.starts_with("ExecStart=") {
            out.push_str(&format!("ExecStart={exec}\n"));
            if data_dir != Path::new(STATE_DIR) {
                out.push_str(&format!(
                    "ReadWritePaths={}\n",
                    quote(&data_dir.display().to_string())
                ));
            }
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// One word of a unit-file command line: double-quoted, with `\`, `"` escaped and `%` doubled
/// (systemd.service(5) "Command lines" and systemd.unit(5) "Specifiers").
fn quote(word: &str) -> String {
    let escaped = word
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('%', "%%");
    format!("\"{escaped}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_written_unit_runs_this_binary_with_the_config_and_keeps_the_hardening() {
        let unit = render_unit(
            &args(&[
                "/opt/mask agent/mask-agent",
                "--config",
                "/etc/mask-agent/agent.toml",
                "run",
            ]),
            Path::new(STATE_DIR),
        );
        assert!(unit.starts_with(MARKER));
        assert!(unit.contains(
            "\nExecStart=\"/opt/mask agent/mask-agent\" \"--config\" \"/etc/mask-agent/agent.toml\" \"run\"\n"
        ));
        assert_eq!(unit.matches("ExecStart=").count(), 1);
        for hardening in [
            "ProtectSystem=strict",
            "NoNewPrivileges=yes",
            "UMask=0077",
            "Restart=on-failure",
        ] {
            assert!(unit.contains(hardening), "{hardening} missing");
        }
        assert!(!unit.contains("ReadWritePaths="));
    }

    #[test]
    fn a_data_dir_outside_the_state_directory_is_made_writable() {
        let unit = render_unit(
            &args(&["/usr/bin/mask-agent", "run"]),
            Path::new("/srv/mask"),
        );
        assert!(unit.contains("\nReadWritePaths=\"/srv/mask\"\n"));
    }

    #[test]
    fn quoting_escapes_quotes_backslashes_and_specifiers() {
        assert_eq!(quote(r#"a"b\c%d"#), r#""a\"b\\c%%d""#);
    }
}
