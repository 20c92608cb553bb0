//! `nhi-read`: wait for one NHI card, print the card holder, exit.
//!
//! `nhi-read --json --show-pii [--reader NAME] [--timeout SECS] [--lang zh-TW|en]`
//! prints one JSON object `{"card_no","name","id_no","birth_date","sex","issue_date"}`; card
//! number, name, ID number and birth date are masked (`0000****5678`, `王○明`, `A12****789`,
//! `1990-**-**`) unless `--show-pii`. What it does and says is `nhi_card::read_report`, shared
//! with `mask-agent card read`; exit codes are the workspace's (`mask_cli::exit`): 0 read,
//! 5 card refused (not an NHI card, health-professional card, removed too early, unreadable —
//! reason on stderr), 2 bad arguments, 1 anything else (no reader, timeout, PC/SC service down).
#![forbid(unsafe_code)]
#![warn(missing_docs, clippy::unwrap_used)]

use std::process::ExitCode;

use clap::Parser;
use mask_cli::{Language, exit};
use nhi_card::read_report::{self, ReadArgs};

/// Read one NHI card (健保卡) and print the card holder.
#[derive(Debug, Parser)]
#[command(name = "nhi-read", version)]
struct Cli {
    #[command(flatten)]
    read: ReadArgs,
    /// Message language: zh-TW or en (default: MASK_LANG, LC_ALL, LC_MESSAGES, LANG, then zh-TW).
    #[arg(long, value_name = "LANG", value_parser = mask_cli::parse_lang)]
    lang: Option<Language>,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if !err.use_stderr() => {
            // --help / --version
            let _ = err.print();
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            eprintln!(
                "{}",
                read_report::usage_error(Language::detect(None), err.to_string().trim_end())
            );
            return ExitCode::from(exit::USAGE);
        }
    };
    ExitCode::from(cli.read.run(Language::detect(cli.lang)))
}
