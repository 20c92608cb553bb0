//! Running the platform's service tools (systemctl, launchctl, icacls) with errors that name the
//! command and keep its output.

use std::process::{Command, Output, Stdio};

/// An external command that could not be started or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// The program could not be started (not installed, not on PATH).
    #[error("cannot start `{command}`: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    /// The program ran and reported failure.
    #[error("`{command}` failed ({status}): {stderr}")]
    Failed {
        command: String,
        status: std::process::ExitStatus,
        /// What it printed on stderr (trimmed).
        stderr: String,
    },
}

/// A command line to run.
pub(crate) struct Tool {
    command: Command,
    display: String,
}

#[cfg_attr(windows, allow(dead_code))]
impl Tool {
    /// `program args…`.
    pub(crate) fn new<S: AsRef<str>>(program: &str, args: &[S]) -> Tool {
        let mut command = Command::new(program);
        let mut display = program.to_owned();
        for arg in args {
            command.arg(arg.as_ref());
            display.push(' ');
            display.push_str(arg.as_ref());
        }
        Tool { command, display }
    }

    /// Runs it with output captured; fails unless it exits 0.
    pub(crate) fn output(mut self) -> Result<Output, CommandError> {
        let output = self
            .command
            .stdin(Stdio::null())
            .output()
            .map_err(|source| CommandError::Spawn {
                command: self.display.clone(),
                source,
            })?;
        if output.status.success() {
            Ok(output)
        } else {
            Err(CommandError::Failed {
                command: self.display,
                status: output.status,
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            })
        }
    }

    /// Runs it with output captured; fails unless it exits 0.
    pub(crate) fn run(self) -> Result<(), CommandError> {
        self.output().map(|_| ())
    }

    /// Runs it with the terminal's stdout/stderr and returns its exit code (for `status`
    /// pass-through, where a non-zero code is an answer, not an error).
    pub(crate) fn passthrough(mut self) -> Result<i32, CommandError> {
        let status = self
            .command
            .stdin(Stdio::null())
            .status()
            .map_err(|source| CommandError::Spawn {
                command: self.display,
                source,
            })?;
        Ok(status.code().unwrap_or(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_failing_command_reports_its_command_line_and_stderr() {
        let err = Tool::new("sh", &["-c", "echo nope >&2; exit 3"])
            .run()
            .expect_err("exit 3");
        let text = err.to_string();
        assert!(text.contains("sh -c"), "{text}");
        assert!(text.contains("nope"), "{text}");
    }

    #[test]
    fn a_missing_program_is_a_spawn_error() {
        let err = Tool::new("mask-agent-no-such-program", &["x"])
            .run()
            .expect_err("missing");
        assert!(matches!(err, CommandError::Spawn { .. }), "{err}");
    }
}
