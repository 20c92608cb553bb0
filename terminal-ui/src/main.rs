//! `mask-terminal`: the pharmacist's counter screen. Connects to the local agent
//! (`mask-agent run`). The one-command demo is the `mask-demo` binary (see README).
#![forbid(unsafe_code)]
#![warn(missing_docs, clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use mask_cli::help::{self, ZhHelp};
use mask_terminal::{Lang, demo_moved};
use mask_terminal::{RunOptions, exit_status, run};

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
    /// `--demo` moved to the `mask-demo` binary; still accepted (hidden), with the old demo
    /// options, so an old command line is told where the demo went.
    #[arg(long, hide = true)]
    demo: bool,
    /// The old `--demo-state-file`, `--demo-cards` and `--demo-as-of` (hidden, see `demo`).
    #[arg(
        long = "demo-state-file",
        aliases = ["demo-cards", "demo-as-of"],
        hide = true,
        value_name = "VALUE"
    )]
    old_demo_options: Vec<String>,
}

/// The help in zh-TW (the English is on `Cli`).
const ZH_HELP: &ZhHelp = &[
    (
        "",
        "藥師的櫃檯畫面（只用鍵盤操作的文字介面）；示範系統在 mask-demo",
    ),
    (
        ":lang",
        "語言：zh-TW 或 en（預設依序看 MASK_LANG、LC_ALL、LC_MESSAGES、LANG，都沒有則為 zh-TW）",
    ),
    (
        ":socket",
        "代理程式的本機 socket（預設：環境變數 MASK_AGENT_SOCKET，其次代理程式的預設值，Linux 上為 /run/mask-agent/agent.sock）。不會讀取代理程式的設定檔：裡面有藥局的 token",
    ),
];

fn main() -> ExitCode {
    let (cli, lang) = match help::parse::<Cli>(&[("", ZH_HELP)]) {
        Ok(parsed) => parsed,
        // --help, --version, or a usage error (exit code 2) in the detected language.
        Err(usage) => return usage.print(),
    };
    if cli.demo || !cli.old_demo_options.is_empty() {
        eprintln!("{}", demo_moved(lang));
        return ExitCode::from(mask_cli::exit::USAGE);
    }
    let opts = RunOptions {
        lang,
        endpoint: mask_protocol::client_endpoint(cli.socket.as_deref()).path,
        demo: None,
        trace: std::env::var_os("MASK_TERMINAL_TRACE").map(PathBuf::from),
    };
    exit_status(lang, run(opts))
}

#[cfg(test)]
#[test]
fn every_help_text_has_a_zh_tw_row() {
    mask_cli::help::assert_complete::<Cli>(&[("", ZH_HELP)]);
}
