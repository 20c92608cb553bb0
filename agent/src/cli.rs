//! The command line. `Command` is one enum so more subcommands (e.g. the installers' `service`)
//! slot in with one variant and one match arm in `main.rs`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use time::Date;

use crate::config::FlagOverrides;

/// 口罩實名制藥局代理程式 — the pharmacy agent of the mask rationing system.
#[derive(Debug, Parser)]
#[command(name = "mask-agent", version, about, propagate_version = true)]
pub struct Cli {
    /// Settings that override the config file.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Flags accepted by every subcommand (they override env and the config file).
#[derive(Debug, Args, Default)]
pub struct GlobalArgs {
    /// Config file (default: the platform config dir, then /etc/mask-agent/agent.toml).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory (journal, logs).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The local API socket (default: env MASK_AGENT_SOCKET, the config's `socket`, then
    /// /run/mask-agent/agent.sock on Linux).
    #[arg(long, global = true, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Central API base URL.
    #[arg(long, global = true, value_name = "URL")]
    pub server_url: Option<String>,
    /// Pharmacy code.
    #[arg(long, global = true, value_name = "CODE")]
    pub site_code: Option<String>,
    /// PEM file of the CA to trust (only this CA).
    #[arg(long, global = true, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Use only readers whose name contains this text.
    #[arg(long, global = true, value_name = "TEXT")]
    pub reader_filter: Option<String>,
    /// Message language: zh-TW or en (default: the config's `language`, then MASK_LANG, LC_ALL,
    /// LC_MESSAGES, LANG, then zh-TW).
    #[arg(long, global = true, value_name = "LANG")]
    pub lang: Option<String>,
    /// Demo/test clock: start the agent's clock at this RFC 3339 instant.
    #[arg(long, global = true, value_name = "RFC3339", hide = true)]
    pub as_of: Option<String>,
}

impl GlobalArgs {
    /// As config overrides.
    pub fn overrides(&self) -> FlagOverrides {
        FlagOverrides {
            config_file: self.config.clone(),
            site_code: self.site_code.clone(),
            server_url: self.server_url.clone(),
            data_dir: self.data_dir.clone(),
            ca_cert: self.ca_cert.clone(),
            reader_filter: self.reader_filter.clone(),
            language: self.lang.clone(),
            as_of: self.as_of.clone(),
            socket: self.socket.clone(),
        }
    }
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service in the foreground (logs to the data dir and stderr).
    Run,
    /// Card reader commands.
    #[command(subcommand)]
    Card(CardCommand),
    /// Show online/offline, queued sales, last sync, readers (asks the running service).
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Push queued sales now (asks the running service).
    Sync {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Sell to a manually entered ID through the running service; prints JSON.
    /// Exit 0 when recorded (online or offline), 1 when refused (README, "Exit codes").
    Sell {
        /// National ID number.
        #[arg(long = "id", value_name = "ID_NO")]
        id_no: String,
        /// Number of masks.
        #[arg(long = "qty", value_name = "N")]
        quantity: u32,
        /// Birth date (YYYY-MM-DD), when known: decides adult or child.
        #[arg(long, value_parser = parse_date)]
        birth_date: Option<Date>,
    },
    /// Check PC/SC, readers, config, journal, server, TLS, clock and disk; exit 1 on failure.
    Doctor {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show the effective configuration and where each value came from.
    Config {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Journal commands.
    #[command(subcommand)]
    Journal(JournalCommand),
    /// Install, remove or inspect the system service (Windows service, systemd unit, launchd).
    #[command(subcommand)]
    Service(crate::service::ServiceCommand),
}

/// `card …`.
#[derive(Debug, Subcommand)]
pub enum CardCommand {
    /// Wait for one card and print the card holder (the same command as `nhi-read`).
    Read(nhi_card::read_report::ReadArgs),
}

/// `journal …`.
#[derive(Debug, Subcommand)]
pub enum JournalCommand {
    /// Write the day's sales as CSV (IDs masked) for the pharmacy's own records.
    Export {
        /// The day (YYYY-MM-DD, Asia/Taipei; default today).
        #[arg(long, value_parser = parse_date)]
        date: Option<Date>,
        /// Output file (default stdout).
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

/// Parses `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Result<Date, String> {
    Date::parse(
        text.trim(),
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|e| format!("{e}; use YYYY-MM-DD"))
}
