//! `mask-launch-day-server`: the server process of a launch-day run, started by
//! `mask-launch-day` (see [`mask_launch_day::central::serve`]). A binary of its own so that the
//! server keeps the system allocator, as the packaged `mask-server-stub` does, while the load
//! generator uses mimalloc.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use mask_launch_day::central::{ServeArgs, serve};
use mask_launch_day::logging::{self, Console};
use mask_launch_day::server_times::ServerTimes;
use time::OffsetDateTime;
use tracing_subscriber::filter::LevelFilter;

#[derive(Parser, Debug)]
#[command(about = "The server process of a mask-launch-day run (started by mask-launch-day)")]
struct Cli {
    #[arg(long)]
    data_dir: PathBuf,
    #[arg(long)]
    database: String,
    #[arg(long)]
    sites: usize,
    #[arg(long)]
    speed: u32,
    #[arg(long)]
    as_of_ms: i64,
    #[arg(long)]
    listen: std::net::SocketAddr,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Warnings to standard error, and the server's per-request events into its route times.
    let times = ServerTimes::default();
    logging::init(
        times.layer(),
        mask_server_stub::REQUEST_TARGET,
        LevelFilter::WARN,
        Console::Stderr,
    );
    if let Err(error) = mask_server_stub::raise_open_files_limit() {
        tracing::warn!(%error, "cannot raise the open files limit");
    }
    let result = tokio::runtime::Runtime::new()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| {
            let as_of =
                OffsetDateTime::from_unix_timestamp_nanos(i128::from(cli.as_of_ms) * 1_000_000)?;
            runtime.block_on(serve(
                ServeArgs {
                    data_dir: cli.data_dir,
                    database: cli.database,
                    sites: cli.sites,
                    speed: cli.speed,
                    as_of,
                    listen: cli.listen,
                },
                times,
            ))
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mask-launch-day-server: {e:#}");
            ExitCode::from(2)
        }
    }
}
