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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let lang = Lang::detect(cli.lang);
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
