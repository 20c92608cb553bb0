//! `mask-agent`: the pharmacy agent's command line. See `mask-agent --help`.
#![forbid(unsafe_code)]
#![warn(missing_docs, clippy::unwrap_used)]

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use mask_agent::cli::{CardCommand, Cli, Command, GlobalArgs, JournalCommand};
use mask_agent::commands;
use mask_agent::config::{Config, ProcessEnv};
use mask_agent::messages::Msg;
use tokio_util::sync::CancellationToken;

/// `card read` must print exactly what `nhi-read` prints, so it uses nhi-read's own text
/// catalogue (one source for both binaries) rather than a copy.
#[allow(dead_code)]
#[path = "../../card/src/bin/nhi-read/messages.rs"]
mod nhi_read_messages;

fn main() -> ExitCode {
    let cli = Cli::parse();
    ExitCode::from(dispatch(cli))
}

fn load_config(global: &GlobalArgs) -> Result<Config, u8> {
    Config::load(&global.overrides(), &ProcessEnv).map_err(|error| {
        let lang = global
            .lang
            .as_deref()
            .and_then(mask_agent::messages::Language::parse)
            .unwrap_or_default();
        eprintln!("{}", Msg::Config(error).text(lang));
        commands::EXIT_UNAVAILABLE
    })
}

fn dispatch(cli: Cli) -> u8 {
    if let Command::Card(CardCommand::Read {
        json,
        show_pii,
        reader,
        timeout,
    }) = &cli.command
    {
        return card_read(&cli.global, *json, *show_pii, reader.clone(), *timeout);
    }
    if let Command::Service(command) = &cli.command {
        // Loads the config itself: under the Windows service manager even a config error must
        // be reported through the dispatcher (Stopped with an error), not by exiting early.
        return mask_agent::service::dispatch(
            command,
            &cli.global.overrides(),
            |config, shutdown| commands::run_service(config, shutdown, false),
        );
    }
    let config = match load_config(&cli.global) {
        Ok(config) => config,
        Err(code) => return code,
    };
    if !matches!(cli.command, Command::Run) {
        let _logs = mask_agent::logging::init_command();
    }
    match cli.command {
        Command::Run => commands::run_service(&config, CancellationToken::new(), true),
        Command::Status { json } => commands::status(&config, json),
        Command::Sync { json } => commands::sync(&config, json),
        Command::Sell {
            id_no,
            quantity,
            birth_date,
        } => commands::sell(&config, &id_no, quantity, birth_date),
        Command::Doctor { json } => commands::doctor(&config, json),
        Command::Config { json } => commands::show_config(&config, json),
        Command::Journal(JournalCommand::Export { date, output }) => {
            commands::journal_export(&config, date, output.as_deref())
        }
        Command::Card(_) | Command::Service(_) => commands::EXIT_FAILED,
    }
}

/// Same behaviour as `nhi-read`: 0 read, 2 card refused, 1 anything else.
fn card_read(
    global: &GlobalArgs,
    json: bool,
    show_pii: bool,
    reader: Option<String>,
    timeout: Option<std::time::Duration>,
) -> u8 {
    use nhi_read_messages::Lang;
    const EXIT_FAILURE: u8 = 1;
    const EXIT_CARD_REFUSED: u8 = 2;
    let lang = match global
        .lang
        .as_deref()
        .and_then(mask_agent::messages::Language::parse)
    {
        Some(mask_agent::messages::Language::En) => Lang::En,
        Some(mask_agent::messages::Language::ZhTw) => Lang::ZhTw,
        None => Lang::from_env(),
    };
    if !json {
        eprintln!("{}", nhi_read_messages::waiting(lang));
    }
    let options = nhi_card::ReadOnceOptions { reader, timeout };
    match nhi_card::read_once(&options) {
        Ok(identity) => match print_identity(&identity, show_pii, json, lang) {
            Ok(()) => 0,
            Err(_) => {
                eprintln!("{}", nhi_read_messages::output_failed(lang));
                EXIT_FAILURE
            }
        },
        Err(err) => {
            eprintln!("{}", nhi_read_messages::failure(lang, &err));
            if err.is_card_refused() {
                EXIT_CARD_REFUSED
            } else {
                EXIT_FAILURE
            }
        }
    }
}

fn print_identity(
    identity: &nhi_card::Identity,
    show_pii: bool,
    json: bool,
    lang: nhi_read_messages::Lang,
) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    nhi_read_messages::write_identity(&mut out, identity, show_pii, json, lang)?;
    out.flush()
}
