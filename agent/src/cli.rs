//! The command line. `Command` is one enum so more subcommands (e.g. the installers' `service`)
//! slot in with one variant and one match arm in `main.rs`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use mask_cli::help::{BadValue, ZhHelp, ZhTables};
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

impl Cli {
    /// The help in zh-TW, for [`mask_cli::help::parse`] (the English is on the fields): this
    /// binary's table, and `card read`'s flags from `nhi-read`'s (one command, one text).
    pub const ZH_HELP: &'static ZhTables = &[
        ("", ZH_HELP),
        ("card read", nhi_card::read_report::READ_ARGS_ZH),
    ];
}

const ZH_HELP: &ZhHelp = &[
    (
        "",
        "藥局端常駐服務：讀卡事件、購買資格、銷售紀錄、離線佇列與同步",
    ),
    (
        ":config",
        "設定檔（預設：系統的設定目錄，其次 /etc/mask-agent/agent.toml）",
    ),
    (":data_dir", "資料目錄（銷售紀錄、日誌）"),
    (
        ":socket",
        "本機 API 的 socket（預設：環境變數 MASK_AGENT_SOCKET、設定檔的 `socket`，Linux 上其次為 /run/mask-agent/agent.sock）",
    ),
    (":server_url", "中央伺服器 API 的網址"),
    (":site_code", "藥局代碼"),
    (":ca_cert", "要信任的 CA 憑證 PEM 檔（只信任這個 CA）"),
    (":reader_filter", "只使用名稱含有這段文字的讀卡機"),
    (
        ":lang",
        "訊息語言：zh-TW 或 en（預設依序看設定檔的 `language`、MASK_LANG、LC_ALL、LC_MESSAGES、LANG，都沒有則為 zh-TW）",
    ),
    ("run", "在前景執行服務（日誌寫到資料目錄與 stderr）"),
    ("card", "讀卡機相關命令"),
    ("card read", "等待一張卡並顯示持卡人（與 `nhi-read` 相同）"),
    (
        "status",
        "顯示連線或離線、待上傳的銷售、上次同步時間、讀卡機（向執行中的服務查詢）",
    ),
    ("status:json", "輸出 JSON"),
    ("sync", "立即上傳待送的銷售（透過執行中的服務）"),
    ("sync:json", "輸出 JSON"),
    (
        "sell",
        "以手動輸入的身分證號透過執行中的服務販售，輸出 JSON。已記錄（線上或離線）結束碼為 0，被拒為 1（見 README「結束碼」）",
    ),
    ("sell:id_no", "身分證號"),
    ("sell:quantity", "口罩數量"),
    (
        "sell:birth_date",
        "出生日期（YYYY-MM-DD），已知時填寫：用來判斷成人或兒童",
    ),
    (
        "doctor",
        "檢查 PC/SC、讀卡機、設定、銷售紀錄、伺服器、TLS、時鐘與磁碟；有問題時結束碼為 1",
    ),
    ("doctor:json", "輸出 JSON"),
    ("config", "顯示實際生效的設定，以及每個值的來源"),
    ("config:json", "輸出 JSON"),
    ("journal", "銷售紀錄相關命令"),
    (
        "journal export",
        "把一天的銷售輸出成 CSV（身分證號遮蔽），供藥局自行留存",
    ),
    (
        "journal export:date",
        "哪一天（YYYY-MM-DD，台北時間；預設今天）",
    ),
    ("journal export:output", "輸出檔（預設 stdout）"),
    (
        "service",
        "安裝、移除或查看系統服務（Windows 服務、systemd unit、launchd）",
    ),
    (
        "service install",
        "把代理程式註冊為開機自動啟動、失敗時自動重啟的系統服務，並立即啟動（Windows 服務、systemd unit 或 launchd daemon）。需要系統管理員權限",
    ),
    ("service install:no_start", "只註冊，不立即啟動"),
    (
        "service uninstall",
        "停止並移除服務。銷售紀錄、日誌與設定檔都會保留",
    ),
    (
        "service status",
        "顯示服務是否已安裝、是否在執行（只有在執行中時結束碼為 0）",
    ),
];

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
pub fn parse_date(text: &str) -> Result<Date, BadValue> {
    Date::parse(
        text.trim(),
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|e| BadValue {
        en: format!("{e}; use YYYY-MM-DD"),
        zh: "請用 YYYY-MM-DD 格式的日期，例如 2020-02-06".to_owned(),
    })
}

#[cfg(test)]
#[test]
fn every_help_text_has_a_zh_tw_row() {
    mask_cli::help::assert_complete::<Cli>(Cli::ZH_HELP);
}
