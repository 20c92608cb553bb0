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
    /// Language: zh-TW (default) or en.
    #[arg(long, default_value = "zh-TW", value_parser = parse_lang)]
    lang: Lang,
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

fn parse_lang(s: &str) -> Result<Lang, String> {
    Lang::parse(s).ok_or_else(|| format!("unknown language {s:?}: use zh-TW or en"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let trace = std::env::var_os("MASK_TERMINAL_TRACE").map(PathBuf::from);
    if cli.demo {
        return demo(cli, trace);
    }
    let opts = RunOptions {
        lang: cli.lang,
        endpoint: mask_protocol::client_endpoint(cli.socket.as_deref()).path,
        demo: None,
        trace,
    };
    finish(cli.lang, run(opts))
}

fn finish(lang: Lang, result: Result<(), mask_terminal::run::RunError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}", i18n::run_error(lang, &e));
            ExitCode::FAILURE
        }
    }
}

#[cfg(unix)]
fn demo(cli: Cli, trace: Option<PathBuf>) -> ExitCode {
    use mask_terminal::demo::{DemoOptions, DemoStack};
    let lang = cli.lang;
    let opts = DemoOptions {
        state_file: cli.demo_state_file,
        cards: cli.demo_cards,
        as_of: cli.demo_as_of,
        agent_lang: match lang {
            Lang::ZhTw => "zh-TW".into(),
            Lang::En => "en".into(),
        },
        trace: trace.clone(),
    };
    let mut progress = |step: &str| eprintln!("{}", i18n::demo_starting(lang, step));
    let mut stack = match DemoStack::start(&opts, &mut progress) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{}", i18n::demo_error(lang, &e));
            return ExitCode::FAILURE;
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
fn demo(cli: Cli, _trace: Option<PathBuf>) -> ExitCode {
    eprintln!("{}", i18n::demo_unix_only(cli.lang));
    ExitCode::from(2)
}
