//! `mask-terminal`: the pharmacist's counter screen. Connects to the local agent
//! (`mask-agent run`); with `--demo` it first starts a whole demo system (see README).
#![forbid(unsafe_code)]
#![warn(missing_docs, clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use mask_terminal::i18n::{self, Lang};
use mask_terminal::run::{RunOptions, run};

/// 口罩實名制 櫃檯畫面 / mask rationing counter screen.
#[derive(Parser, Debug)]
#[command(name = "mask-terminal", version, about)]
struct Cli {
    /// Language: zh-TW or en (default: MASK_LANG, LC_ALL, LC_MESSAGES, LANG, then zh-TW).
    #[arg(long, value_name = "LANG", value_parser = mask_cli::parse_lang)]
    lang: Option<Lang>,
    /// The agent's local socket (default: env MASK_AGENT_SOCKET, else the agent's default,
    /// /run/mask-agent/agent.sock on Linux). The agent's config is never read: it holds the
    /// pharmacy's token.
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Start a complete demo (server stub, agent, virtual card reader) and the screen.
    #[arg(long)]
    demo: bool,
    /// Demo: write ports and paths of the demo as JSON to this file.
    #[arg(long, value_name = "FILE", requires = "demo")]
    demo_state_file: Option<PathBuf>,
    /// Demo: card profiles to cycle through (comma-separated fixture names).
    #[arg(long, value_name = "LIST", value_delimiter = ',', requires = "demo")]
    demo_cards: Option<Vec<String>>,
    /// Demo: the clock start of server and agent (RFC 3339).
    #[arg(long, value_name = "INSTANT", requires = "demo")]
    demo_as_of: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let lang = Lang::detect(cli.lang);
    let trace = std::env::var_os("MASK_TERMINAL_TRACE").map(PathBuf::from);
    if cli.demo {
        return demo(cli, lang, trace);
    }
    let opts = RunOptions {
        lang,
        endpoint: mask_protocol::client_endpoint(cli.socket.as_deref()).path,
        demo: None,
        trace,
    };
    finish(lang, run(opts))
}

fn finish(lang: Lang, result: Result<(), mask_terminal::run::RunError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}", i18n::run_error(lang, &e));
            ExitCode::from(mask_cli::exit::FAILURE)
        }
    }
}

#[cfg(unix)]
fn demo(cli: Cli, lang: Lang, trace: Option<PathBuf>) -> ExitCode {
    use mask_terminal::demo::{DemoOptions, DemoStack};
    let opts = DemoOptions {
        state_file: cli.demo_state_file,
        cards: cli.demo_cards,
        as_of: cli.demo_as_of,
        agent_lang: lang.code().into(),
        trace: trace.clone(),
    };
    let mut progress = |step: &str| eprintln!("{}", i18n::demo_starting(lang, step));
    let mut stack = match DemoStack::start(&opts, &mut progress) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{}", i18n::demo_error(lang, &e));
            return ExitCode::from(mask_cli::exit::FAILURE);
        }
    };
    let hooks = stack
        .take_hooks()
        .map(|h| Box::new(h) as Box<dyn mask_terminal::run::DemoHooks>);
    let result = run(RunOptions {
        lang,
        endpoint: stack.endpoint(),
        demo: hooks,
        trace,
    });
    eprintln!("{}", i18n::demo_stopping(lang));
    stack.stop();
    finish(lang, result)
}

#[cfg(not(unix))]
fn demo(_cli: Cli, lang: Lang, _trace: Option<PathBuf>) -> ExitCode {
    eprintln!("{}", i18n::demo_unix_only(lang));
    ExitCode::from(mask_cli::exit::USAGE)
}
