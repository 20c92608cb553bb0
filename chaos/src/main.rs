//! `mask-chaos`: the seeded fault suite's driver. Prints the figures table; exit 0 when every
//! run is clean, 1 when a run found lost, duplicated or stuck sales or overruns off, 2 when the
//! suite itself could not run.
#![forbid(unsafe_code)]

#[cfg(unix)]
mod cli;

#[cfg(unix)]
fn main() -> std::process::ExitCode {
    cli::main()
}

#[cfg(not(unix))]
fn main() -> std::process::ExitCode {
    eprintln!("mask-chaos drives agents over their Unix socket: run it on Linux or macOS");
    std::process::ExitCode::from(2)
}
