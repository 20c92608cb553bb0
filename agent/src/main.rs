//! `mask-agent`: the pharmacy agent's command line. See `mask-agent --help`.
#![forbid(unsafe_code)]
#![warn(missing_docs, clippy::unwrap_used)]

use std::process::ExitCode;

use mask_agent::{
    CardCommand, Cli, Command, Config, GlobalArgs, JournalCommand, Language, Msg, ProcessEnv,
    commands,
};
use tokio_util::sync::CancellationToken;

fn main() -> ExitCode {
    // The help and usage errors in the language of --lang or the environment (the config's
    // `language` is not read yet: the config file is named on this very command line).
    match mask_cli::help::parse::<Cli>(Cli::ZH_HELP) {
        Ok((cli, language)) => ExitCode::from(dispatch(cli, language)),
        Err(usage) => usage.print(),
    }
}

fn load_config(global: &GlobalArgs) -> Result<Config, u8> {
    Config::load(&global.overrides(), &ProcessEnv).map_err(|error| {
        let lang = Language::detect(global.lang.as_deref().and_then(Language::parse));
        eprintln!("{}", Msg::Config(error).text(lang));
        commands::EXIT_CONFIG
    })
}

/// `language` is the one the command line and the environment ask for (the config's
/// `language` not considered).
fn dispatch(cli: Cli, language: Language) -> u8 {
    if let Command::Card(CardCommand::Read(read)) = &cli.command {
        // The same command as `nhi-read` (one implementation, `nhi_card::read_report`).
        return read.run(language);
    }
    if let Command::Service(command) = &cli.command {
        // Loads the config itself: under the Windows service manager even a config error must
        // be reported through the dispatcher (Stopped with an error), not by exiting early.
        return mask_agent::dispatch_service(
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
        let _logs = mask_agent::init_command_logging();
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
