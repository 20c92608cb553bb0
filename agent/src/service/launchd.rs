//! macOS: the agent as a launchd daemon. The .pkg installs the plist from installers/macos/;
//! `service install` writes the same plist with this executable's path and config, and loads it.
//! (Compiled into the Linux test build too, so the plist rendering is tested on every run.)
#![cfg_attr(not(target_os = "macos"), allow(dead_code))]

use std::path::Path;

use super::command::Tool;
use super::{
    ExitCode, LAUNCHD_LABEL, Runner, ServiceError, ServicePaths, service_arguments, write_file,
};

const PLIST_TEMPLATE: &str =
    include_str!("../../../installers/macos/tw.mask-rationing.mask-agent.plist");

fn plist_path() -> String {
    format!("/Library/LaunchDaemons/{LAUNCHD_LABEL}.plist")
}

fn target() -> String {
    format!("system/{LAUNCHD_LABEL}")
}

pub(super) fn install(paths: &ServicePaths, start: bool) -> Result<ExitCode, ServiceError> {
    let exe = super::current_exe()?;
    let mut argv = vec![exe.display().to_string()];
    argv.extend(service_arguments(paths, &["run"]));
    let plist = plist_path();
    write_file(Path::new(&plist), &render_plist(&argv))?;
    // A previous definition must be unloaded before the new one is bootstrapped.
    let _ = Tool::new("launchctl", &["bootout", &target()]).run();
    Tool::new("launchctl", &["enable", &target()]).run()?;
    if start {
        Tool::new("launchctl", &["bootstrap", "system", &plist]).run()?;
    }
    println!(
        "{LAUNCHD_LABEL}: installed{}",
        if start { " and started" } else { "" }
    );
    Ok(0)
}

pub(super) fn uninstall() -> Result<ExitCode, ServiceError> {
    let _ = Tool::new("launchctl", &["bootout", &target()]).run();
    let plist = plist_path();
    match std::fs::remove_file(&plist) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(ServiceError::Io {
                path: plist.into(),
                source,
            });
        }
    }
    println!("{LAUNCHD_LABEL}: stopped and removed; the journal in the data directory is kept");
    Ok(0)
}

pub(super) fn status() -> Result<ExitCode, ServiceError> {
    let code = Tool::new("launchctl", &["print", &target()]).passthrough()?;
    Ok(if code == 0 { 0 } else { 3 })
}

pub(super) fn run(_: &ServicePaths, _: Runner) -> Result<ExitCode, ServiceError> {
    Err(ServiceError::WindowsOnly("run"))
}

pub(super) fn configure(_: &ServicePaths) -> Result<ExitCode, ServiceError> {
    Err(ServiceError::WindowsOnly("configure"))
}

/// The packaged plist with `argv` as its ProgramArguments.
fn render_plist(argv: &[String]) -> String {
    let start = PLIST_TEMPLATE.find("<key>ProgramArguments</key>");
    let end = start.and_then(|s| {
        PLIST_TEMPLATE[s..]
            .find("</array>")
            .map(|e| s + e + "</array>".len())
    });
    let (Some(start), Some(end)) = (start, end) else {
        // The template is part of this repository and checked by the tests below.
        return PLIST_TEMPLATE.to_owned();
    };
    let mut program = String::from("<key>ProgramArguments</key>\n    <array>\n");
    for arg in argv {
        program.push_str(&format!("        <string>{}</string>\n", xml_escape(arg)));
    }
    program.push_str("    </array>");
    format!(
        "{}{}{}",
        &PLIST_TEMPLATE[..start],
        program,
        &PLIST_TEMPLATE[end..]
    )
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_written_plist_runs_this_binary_and_keeps_the_daemon_settings() {
        let argv: Vec<String> = [
            "/opt/A&B/mask-agent",
            "--config",
            "/etc/mask-agent/agent.toml",
            "run",
        ]
        .map(String::from)
        .to_vec();
        let plist = render_plist(&argv);
        assert!(plist.contains(
            "<string>/opt/A&amp;B/mask-agent</string>\n        <string>--config</string>"
        ));
        assert_eq!(plist.matches("<key>ProgramArguments</key>").count(), 1);
        assert!(!plist.contains("/usr/local/bin/mask-agent"));
        for key in [
            "RunAtLoad",
            "KeepAlive",
            "StandardOutPath",
            "StandardErrorPath",
            "UserName",
        ] {
            assert!(
                plist.contains(&format!("<key>{key}</key>")),
                "{key} missing"
            );
        }
        assert!(plist.contains("<string>_maskagent</string>"));
    }
}
