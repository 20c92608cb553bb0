//! The client's rule: the process that holds the agent's pipe must be the installed agent.
//!
//! The Windows glue asks for the pipe server's process id, the MaskAgent service's running
//! process id and configured command line, and the server process's image path; the functions
//! here decide. A pipe name is first come, first served, so without this check any program that
//! creates `\\.\pipe\mask-agent` first (or, as a member of the counter group, adds an instance)
//! would receive the pharmacist's sales.

use std::path::Path;

/// An image path made comparable: the `\\?\` (and `\??\`) prefixes removed (`\\?\UNC\srv\x`
/// becomes `\\srv\x`), `/` turned into `\`, surrounding quotes and spaces dropped, lower case
/// (Windows paths compare case-insensitively).
pub fn normalize_image_path(path: &str) -> String {
    let path = path.trim().trim_matches('"');
    let path = path.replace('/', "\\");
    let stripped = if let Some(rest) = strip_prefix_ignore_case(&path, r"\\?\UNC\") {
        format!(r"\\{rest}")
    } else if let Some(rest) = path
        .strip_prefix(r"\\?\")
        .or_else(|| path.strip_prefix(r"\??\"))
    {
        rest.to_owned()
    } else {
        path
    };
    stripped.to_lowercase()
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// The program of a service's command line (what the service manager stores, arguments
/// included): the quoted part when it starts with a quote, else everything up to the first
/// `.exe` that ends a word (an unquoted path may contain spaces), else up to the first space.
pub fn program_of_command_line(command_line: &str) -> Option<&str> {
    let line = command_line.trim_start();
    let program = if let Some(rest) = line.strip_prefix('"') {
        rest.split('"').next().unwrap_or_default()
    } else {
        let lower = line.to_ascii_lowercase();
        let exe_end = lower
            .match_indices(".exe")
            .map(|(i, _)| i + 4)
            .find(|&end| lower[end..].chars().next().is_none_or(char::is_whitespace));
        match exe_end {
            Some(end) => &line[..end],
            None => line.split_whitespace().next().unwrap_or_default(),
        }
    };
    let program = program.trim();
    (!program.is_empty()).then_some(program)
}

/// The agent binary the pipe's server must run: the installed service's program when the
/// service manager knows one, else `fallback` (`mask-agent.exe` beside the client's own binary:
/// a console agent of the same installation or build). Normalised.
pub fn expected_image(
    service_command_line: Option<&str>,
    fallback: Option<&Path>,
) -> Option<String> {
    service_command_line
        .and_then(program_of_command_line)
        .map(normalize_image_path)
        .or_else(|| fallback.map(|p| normalize_image_path(&p.to_string_lossy())))
}

/// What the client found out about the pipe's server process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerFacts {
    /// The process id that holds the pipe instance we opened.
    pub server_pid: u32,
    /// The MaskAgent service's process id, when it is running.
    pub service_pid: Option<u32>,
    /// The server process's image path, when it could be read.
    pub server_image: Option<String>,
    /// The expected agent binary ([`expected_image`]).
    pub expected_image: Option<String>,
}

/// The pipe's server is not the installed agent: send it nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "the agent's named pipe is held by process {pid} ({}), not the installed mask-agent: \
     send nothing; stop that process and check this PC",
    image.as_deref().unwrap_or("image path unreadable")
)]
pub struct NotTheAgent {
    /// Its process id.
    pub pid: u32,
    /// Its image path, when readable.
    pub image: Option<String>,
}

/// The agent is the process the service manager started as MaskAgent, or a process running the
/// expected agent binary (a console `mask-agent run`). Everything else, including a process
/// whose image cannot be read, is refused: the check fails closed.
pub fn judge(facts: &ServerFacts) -> Result<(), NotTheAgent> {
    let is_service = facts.server_pid != 0 && facts.service_pid == Some(facts.server_pid);
    let same_binary = match (&facts.server_image, &facts.expected_image) {
        (Some(actual), Some(expected)) => normalize_image_path(actual) == *expected,
        _ => false,
    };
    if is_service || same_binary {
        Ok(())
    } else {
        Err(NotTheAgent {
            pid: facts.server_pid,
            image: facts.server_image.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AGENT: &str = r"C:\Program Files\MaskAgent\mask-agent.exe";

    #[test]
    fn image_paths_compare_without_case_prefixes_quotes_or_slash_style() {
        let want = normalize_image_path(AGENT);
        for same in [
            r"c:\program files\maskagent\MASK-AGENT.EXE",
            r"\\?\C:\Program Files\MaskAgent\mask-agent.exe",
            r"\??\C:\Program Files\MaskAgent\mask-agent.exe",
            r#""C:\Program Files\MaskAgent\mask-agent.exe""#,
            "C:/Program Files/MaskAgent/mask-agent.exe",
            "  C:\\Program Files\\MaskAgent\\mask-agent.exe ",
        ] {
            assert_eq!(normalize_image_path(same), want, "{same}");
        }
        for other in [
            r"C:\Users\Public\mask-agent.exe",
            r"C:\Program Files\MaskAgent\mask-agent.exe.bak",
            r"C:\Program Files\MaskAgent\nhi-read.exe",
        ] {
            assert_ne!(normalize_image_path(other), want, "{other}");
        }
        assert_eq!(
            normalize_image_path(r"\\?\UNC\srv\share\mask-agent.exe"),
            r"\\srv\share\mask-agent.exe"
        );
    }

    #[test]
    fn the_program_of_a_service_command_line_drops_quotes_and_arguments() {
        let cases = [
            (
                r#""C:\Program Files\MaskAgent\mask-agent.exe" --config "C:\ProgramData\mask-agent\agent.toml" service run"#,
                AGENT,
            ),
            (
                r#"C:\Program Files\MaskAgent\mask-agent.exe --config "C:\x.exe y\agent.toml" service run"#,
                AGENT,
            ),
            (AGENT, AGENT),
            (
                r"C:\Tools\MASK-AGENT.EXE service run",
                r"C:\Tools\MASK-AGENT.EXE",
            ),
            (
                r"C:\Program Files\MaskAgent\MASK-AGENT.EXE service run",
                r"C:\Program Files\MaskAgent\MASK-AGENT.EXE",
            ),
            (r"C:\Tools\mask-agent service run", r"C:\Tools\mask-agent"),
            (
                r"C:\odd.exeish\mask-agent.exe run",
                r"C:\odd.exeish\mask-agent.exe",
            ),
        ];
        for (line, program) in cases {
            assert_eq!(program_of_command_line(line), Some(program), "{line}");
        }
        assert_eq!(program_of_command_line(""), None);
        assert_eq!(program_of_command_line(r#""" service run"#), None);
    }

    #[test]
    fn the_expected_binary_is_the_service_program_else_the_one_beside_the_client() {
        let service = r#""C:\Program Files\MaskAgent\mask-agent.exe" service run"#;
        let beside = Path::new(r"D:\build\mask-agent.exe");
        assert_eq!(
            expected_image(Some(service), Some(beside)),
            Some(normalize_image_path(AGENT))
        );
        assert_eq!(
            expected_image(None, Some(beside)),
            Some(r"d:\build\mask-agent.exe".to_owned())
        );
        assert_eq!(expected_image(Some("  "), None), None);
    }

    fn facts(server_pid: u32, service_pid: Option<u32>, image: Option<&str>) -> ServerFacts {
        ServerFacts {
            server_pid,
            service_pid,
            server_image: image.map(str::to_owned),
            expected_image: Some(normalize_image_path(AGENT)),
        }
    }

    #[test]
    fn the_running_service_or_the_installed_binary_is_the_agent() {
        assert_eq!(judge(&facts(4242, Some(4242), None)), Ok(()));
        assert_eq!(
            judge(&facts(
                77,
                Some(4242),
                Some(r"\\?\c:\program files\maskagent\mask-agent.exe")
            )),
            Ok(())
        );
        assert_eq!(judge(&facts(77, None, Some(AGENT))), Ok(()));
    }

    #[test]
    fn a_squatter_on_the_pipe_is_refused_with_its_pid_and_path() {
        let squatter = r"C:\Users\clerk\AppData\Local\Temp\mask-agent.exe";
        assert_eq!(
            judge(&facts(77, Some(4242), Some(squatter))),
            Err(NotTheAgent {
                pid: 77,
                image: Some(squatter.to_owned())
            })
        );
        // Unreadable image and not the service: refused (fail closed).
        assert_eq!(
            judge(&facts(77, None, None)),
            Err(NotTheAgent {
                pid: 77,
                image: None
            })
        );
        // No expected binary known and not the service: refused.
        let mut unknown = facts(77, None, Some(AGENT));
        unknown.expected_image = None;
        assert!(matches!(judge(&unknown), Err(NotTheAgent { .. })));
        // Pid 0 (the call failed) never matches a stopped service's missing pid.
        assert!(matches!(
            judge(&facts(0, Some(0), None)),
            Err(NotTheAgent { .. })
        ));
    }
}
