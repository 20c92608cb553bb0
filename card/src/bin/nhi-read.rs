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
use mask_cli::Language;
use mask_cli::help::{self, ZhHelp};
use nhi_card::read_report::{READ_ARGS_ZH, ReadArgs};

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

/// The help in zh-TW (the English is on `Cli`); the card-read flags' texts are `READ_ARGS_ZH`,
/// shared with `mask-agent card read`.
const ZH_HELP: &ZhHelp = &[
    ("", "讀取一張健保卡並顯示持卡人"),
    (
        ":lang",
        "訊息語言：zh-TW 或 en（預設依序看 MASK_LANG、LC_ALL、LC_MESSAGES、LANG，都沒有則為 zh-TW）",
    ),
];

const ZH_TABLES: &help::ZhTables = &[("", ZH_HELP), ("", READ_ARGS_ZH)];

fn main() -> ExitCode {
    match help::parse::<Cli>(ZH_TABLES) {
        Ok((cli, language)) => ExitCode::from(cli.read.run(language)),
        // --help, --version, or a usage error (exit code 2) in the detected language.
        Err(usage) => usage.print(),
    }
}

#[cfg(test)]
#[test]
fn every_help_text_has_a_zh_tw_row() {
    mask_cli::help::assert_complete::<Cli>(ZH_TABLES);
}
