//! Logs: tracing to a daily-rotated file in the data dir (and stderr in the foreground).
//! Personal data never reaches a log: the code logs only `mask_id` / `mask_name` forms and
//! `Identity`'s masking `Debug`; a test greps the logs of a whole run for unmasked IDs.

use std::path::Path;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Keeps the file writer flushing; drop it last.
pub struct LogGuard {
    _file: Option<tracing_appender::non_blocking::WorkerGuard>,
}

/// Logging for `run`: file in `log_dir` (0700 directory) plus stderr.
pub fn init_service(log_dir: &Path, filter: &str, stderr: bool) -> std::io::Result<LogGuard> {
    mask_private_file::create_private_dir(log_dir)?;
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("mask-agent")
        .filename_suffix("log")
        .max_log_files(31)
        .build(log_dir)
        .map_err(std::io::Error::other)?;
    let (file, guard) = tracing_appender::non_blocking(appender);
    let file_layer = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(file)
        .with_filter(EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info")));
    let stderr_layer = stderr.then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_filter(EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info")))
    });
    let _ = tracing_subscriber::registry()
        .with(file_layer)
        .with(stderr_layer)
        .try_init();
    Ok(LogGuard { _file: Some(guard) })
}

/// Logging for short commands: warnings and errors on stderr only.
pub fn init_command() -> LogGuard {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_env("MASK_AGENT_LOG").unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .try_init();
    LogGuard { _file: None }
}
