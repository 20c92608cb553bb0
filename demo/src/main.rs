//! `mask-demo`: the one-command demo. Starts a whole demo system on this machine (server stub,
//! agent, PC/SC with virtual cards, see [`stack`]) and runs the counter screen (the
//! `mask-terminal` library) against it; quitting the screen stops everything it started.
//!
//! Its own binary so that the counter binary the installers ship (`mask-terminal`) links no test
//! rig (virtual cards, temporary directories).
#![forbid(unsafe_code)]
#![warn(missing_docs, clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use mask_cli::help::{self, ZhHelp};
use mask_terminal::Lang;

#[cfg(unix)]
mod cards;
#[cfg(unix)]
mod http;
mod messages;
#[cfg(unix)]
mod procs;
#[cfg(unix)]
mod proxy;
#[cfg(unix)]
mod stack;

/// 口罩實名制 示範 / mask rationing demo (server stub, agent, virtual cards and the counter screen).
#[derive(Parser, Debug)]
#[command(name = "mask-demo", version, about)]
struct Cli {
    /// Language: zh-TW or en (default: MASK_LANG, LC_ALL, LC_MESSAGES, LANG, then zh-TW).
    #[arg(long, value_name = "LANG", value_parser = mask_cli::parse_lang)]
    lang: Option<Lang>,
    /// Write ports, paths and pids of the demo as JSON to this file (for tests and benchmarks).
    #[arg(long, value_name = "FILE")]
    state_file: Option<PathBuf>,
    /// Card profiles to cycle through (comma-separated fixture names, e.g. adult,adult-3).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    cards: Option<Vec<String>>,
    /// The clock start of server and agent (RFC 3339; default 2020-03-09T10:00:00+08:00).
    #[arg(long, value_name = "INSTANT")]
    as_of: Option<String>,
}

/// The help in zh-TW (the English is on `Cli`).
const ZH_HELP: &ZhHelp = &[
    (
        "",
        "一個命令啟動的示範系統：在同一台電腦上執行伺服器替身、代理程式、含虛擬卡片的 PC/SC 與櫃檯畫面（不會安裝到藥局）",
    ),
    (
        ":lang",
        "語言：zh-TW 或 en（預設依序看 MASK_LANG、LC_ALL、LC_MESSAGES、LANG，都沒有則為 zh-TW）",
    ),
    (
        ":state_file",
        "把示範系統的連接埠、路徑與 pid 以 JSON 寫到這個檔案（供測試與效能量測）",
    ),
    (
        ":cards",
        "輪流使用的卡片設定檔（以逗號分隔的 fixture 名稱，例如 adult,adult-3）",
    ),
    (
        ":as_of",
        "伺服器與代理程式時鐘的起點（RFC 3339；預設 2020-03-09T10:00:00+08:00）",
    ),
];

fn main() -> ExitCode {
    let (cli, lang) = match help::parse::<Cli>(&[("", ZH_HELP)]) {
        Ok(parsed) => parsed,
        // --help, --version, or a usage error (exit code 2) in the detected language.
        Err(usage) => return usage.print(),
    };
    let trace = std::env::var_os("MASK_TERMINAL_TRACE").map(PathBuf::from);
    demo(cli, lang, trace)
}

#[cfg(unix)]
fn demo(cli: Cli, lang: Lang, trace: Option<PathBuf>) -> ExitCode {
    use mask_terminal::{DemoHooks, RunOptions, exit_status, run};
    use stack::{DemoOptions, DemoStack};
    let opts = DemoOptions {
        state_file: cli.state_file,
        cards: cli.cards,
        as_of: cli.as_of,
        agent_lang: lang.code().into(),
        trace: trace.clone(),
    };
    let mut progress = |step: &str| eprintln!("{}", messages::starting(lang, step));
    let mut stack = match DemoStack::start(&opts, &mut progress) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{}", messages::start_error(lang, &e));
            return ExitCode::from(mask_cli::exit::FAILURE);
        }
    };
    let hooks = stack
        .take_hooks()
        .map(|h| Box::new(h) as Box<dyn DemoHooks>);
    let result = run(RunOptions {
        lang,
        endpoint: stack.endpoint(),
        demo: hooks,
        trace,
    });
    eprintln!("{}", messages::stopping(lang));
    stack.stop();
    exit_status(lang, result)
}

#[cfg(not(unix))]
fn demo(cli: Cli, lang: Lang, _trace: Option<PathBuf>) -> ExitCode {
    let _ = (cli.state_file, cli.cards, cli.as_of);
    eprintln!("{}", messages::unix_only(lang));
    ExitCode::from(mask_cli::exit::USAGE)
}

#[cfg(test)]
#[test]
fn every_help_text_has_a_zh_tw_row() {
    mask_cli::help::assert_complete::<Cli>(&[("", ZH_HELP)]);
}
