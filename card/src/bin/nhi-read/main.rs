//! `nhi-read`: wait for one NHI card, print the card holder, exit.
//!
//! `nhi-read --json --show-pii [--reader NAME] [--timeout SECS] [--lang zh-TW|en]`
//! prints one JSON object `{"card_no","name","id_no","birth_date","sex","issue_date"}`; card
//! number, name, ID number and birth date are masked (`0000****5678`, `王○明`, `A12****789`,
//! `1990-**-**`) unless `--show-pii`. Exit codes: 0 read, 2 card refused (not an
//! NHI card, health-professional card, removed too early, unreadable — reason on stderr),
//! 1 anything else (no reader, timeout, PC/SC service down, bad arguments).
#![forbid(unsafe_code)]
#![warn(missing_docs, clippy::unwrap_used)]

mod messages;

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use messages::Lang;
use nhi_card::{ReadOnceOptions, read_once};

/// Read one NHI card (健保卡) and print the card holder.
#[derive(Debug, Parser)]
#[command(name = "nhi-read", version)]
struct Cli {
    /// Print one JSON object instead of a readable summary.
    #[arg(long)]
    json: bool,
    /// Print the full card number, name, ID number and birth date (masked by default).
    #[arg(long)]
    show_pii: bool,
    /// Use only this reader (exact name, or text contained in its name).
    #[arg(long, value_name = "NAME")]
    reader: Option<String>,
    /// Give up after this many seconds without a card (default: wait indefinitely).
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    timeout: Option<Duration>,
    /// Message language (default from LANG; zh-TW unless LANG asks for English).
    #[arg(long, value_enum)]
    lang: Option<Lang>,
}

fn parse_secs(text: &str) -> Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| format!("not a number of seconds: {text}"))
}

const EXIT_FAILURE: u8 = 1;
const EXIT_CARD_REFUSED: u8 = 2;

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
                messages::usage_error(Lang::from_env(), err.to_string().trim_end())
            );
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let lang = cli.lang.unwrap_or_else(Lang::from_env);
    if !cli.json {
        eprintln!("{}", messages::waiting(lang));
    }
    let options = ReadOnceOptions {
        reader: cli.reader.clone(),
        timeout: cli.timeout,
    };
    match read_once(&options) {
        Ok(identity) => {
            let mut out = std::io::stdout().lock();
            let printed =
                messages::write_identity(&mut out, &identity, cli.show_pii, cli.json, lang)
                    .and_then(|()| out.flush());
            match printed {
                Ok(()) => ExitCode::SUCCESS,
                Err(_) => {
                    eprintln!("{}", messages::output_failed(lang));
                    ExitCode::from(EXIT_FAILURE)
                }
            }
        }
        Err(err) => {
            eprintln!("{}", messages::failure(lang, &err));
            ExitCode::from(if err.is_card_refused() {
                EXIT_CARD_REFUSED
            } else {
                EXIT_FAILURE
            })
        }
    }
}
