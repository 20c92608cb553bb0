//! `mask-server-stub`: run the central quota API, or issue a pharmacy token.
#![forbid(unsafe_code)]
#![warn(missing_docs, clippy::unwrap_used)]

mod messages;
mod token_command;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use mask_cli::exit;
use mask_cli::help::{self, ZhHelp, ZhTables};
use mask_server_stub::{Database, ServerConfig, ServerError, TlsFiles, ensure_self_signed};
use messages::{Lang, Msg, text};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Central quota API and open-data feed of the 2020 name-based mask rationing (stub of the NHI system).
#[derive(Parser, Debug)]
#[command(version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Bearer tokens: issue, list, revoke, rotate.
    Token {
        #[command(subcommand)]
        action: token_command::TokenAction,
    },
}

#[derive(Args, Debug)]
struct RunArgs {
    /// Address to listen on, e.g. 127.0.0.1:8443.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Data directory (created if missing): database, buyer-key secret, generated certificate.
    #[arg(long, default_value = "mask-server-data")]
    data_dir: PathBuf,
    /// Serve plain HTTP instead of HTTPS (loopback addresses only).
    #[arg(long)]
    plain_http: bool,
    /// Start the server clock at this RFC 3339 instant (it then runs on), e.g. 2020-03-12T09:00:00+08:00.
    #[arg(long)]
    as_of: Option<String>,
    /// Open-data refresh interval in seconds.
    #[arg(long, default_value_t = 30)]
    refresh_secs: u64,
    /// `sqlite` (default, in the data dir) or a postgres:// URL.
    #[arg(long, default_value = "sqlite")]
    database: String,
    /// HTTPS certificate chain (PEM); default: self-signed, generated into DATA_DIR/tls.
    #[arg(long)]
    tls_cert: Option<PathBuf>,
    /// HTTPS private key (PEM).
    #[arg(long)]
    tls_key: Option<PathBuf>,
    /// Requests per second allowed per token (0 = unlimited).
    #[arg(long, default_value_t = 200)]
    rate_limit: u32,
    /// Largest request body in bytes.
    #[arg(long, default_value_t = 1 << 20)]
    body_limit: usize,
    /// Longest a request may take, reading its body included (408 after).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    request_timeout_secs: u64,
    /// Requests handled at once; more wait for a free slot.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..))]
    max_concurrent_requests: u64,
    /// TLS handshakes in flight at once; beyond, the oldest is dropped.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..))]
    max_tls_handshakes: u64,
    /// Unknown tokens per second per client address; beyond, 429 before any store lookup (0 = unlimited).
    #[arg(long, default_value_t = 5)]
    unknown_token_rate: u32,
    /// Longest TLS handshake in seconds.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    tls_handshake_timeout_secs: u64,
    /// Different ID numbers one token may ask eligibility about per minute (asking again about one counts once); beyond, 429 (0 = unlimited).
    #[arg(long, default_value_t = mask_server_stub::DEFAULT_ELIGIBILITY_IDS_PER_MINUTE)]
    eligibility_ids_per_minute: u32,
}

/// The help in zh-TW (the English is on the fields): this table, and the token commands' in
/// token_command.rs.
const ZH_HELP: &ZhHelp = &[
    (
        "",
        "2020 年口罩實名制的中央額度 API 與開放資料（健保署系統的替身）",
    ),
    (":listen", "監聽的位址，例如 127.0.0.1:8443"),
    (
        ":data_dir",
        "資料目錄（不存在時建立）：資料庫、買方識別碼的密鑰、產生的憑證",
    ),
    (
        ":plain_http",
        "以明文 HTTP 取代 HTTPS（只限 loopback 位址）",
    ),
    (
        ":as_of",
        "伺服器時鐘從這個 RFC 3339 時刻開始（之後照常走），例如 2020-03-12T09:00:00+08:00",
    ),
    (":refresh_secs", "開放資料的更新間隔（秒）"),
    (
        ":database",
        "`sqlite`（預設，放在資料目錄）或 postgres:// 網址",
    ),
    (
        ":tls_cert",
        "HTTPS 憑證鏈（PEM）；預設：自簽憑證，產生在 DATA_DIR/tls",
    ),
    (":tls_key", "HTTPS 私鑰（PEM）"),
    (":rate_limit", "每個 token 每秒可送的請求數（0 = 不限）"),
    (":body_limit", "請求內容的上限（位元組）"),
    (
        ":request_timeout_secs",
        "一個請求最長可花的時間，含讀取內容（超過回 408）",
    ),
    (
        ":max_concurrent_requests",
        "同時處理的請求數；其餘的排隊等空位",
    ),
    (
        ":max_tls_handshakes",
        "同時進行中的 TLS 交握數；超過時丟棄最舊的",
    ),
    (
        ":unknown_token_rate",
        "每個用戶端位址每秒可送的未知 token 數；超過時在查詢資料庫前就回 429（0 = 不限）",
    ),
    (":tls_handshake_timeout_secs", "TLS 交握最長的秒數"),
    (
        ":eligibility_ids_per_minute",
        "一個 token 每分鐘可查詢購買資格的不同身分證號數（同一個號碼再查只算一次）；超過回 429（0 = 不限）",
    ),
    ("token", "Bearer token：核發、列出、撤銷、輪替"),
];

/// Every zh-TW table of this binary.
const ZH_TABLES: &ZhTables = &[
    ("", ZH_HELP),
    ("", token_command::ZH_HELP),
    ("token issue", token_command::STORE_ARGS_ZH),
    ("token list", token_command::STORE_ARGS_ZH),
    ("token revoke", token_command::STORE_ARGS_ZH),
    ("token rotate", token_command::STORE_ARGS_ZH),
];

/// A failure with its exit code (`mask_cli::exit`: `USAGE` or `FAILURE`).
struct Failure(u8, String);

/// Below this many open files the server warns at start: 6,500 pharmacy PCs keep a connection
/// each, and the public's browsers open their own.
const LAUNCH_DAY_OPEN_FILES: u64 = 16_384;

fn main() -> ExitCode {
    let lang = Lang::detect(None);
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = match help::parse::<Cli>(ZH_TABLES) {
        Ok((cli, _)) => cli,
        // --help, --version, or a usage error (exit code 2) in the detected language.
        Err(usage) => return usage.print(),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{}", text(lang, &Msg::Server(&e.to_string())));
            return ExitCode::from(exit::FAILURE);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Some(Command::Token { action }) => token_command::run(lang, action).await,
            None => run(lang, cli.run).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(code, message)) => {
            eprintln!("{message}");
            ExitCode::from(code)
        }
    }
}

fn database(lang: Lang, arg: &str) -> Result<Database, Failure> {
    Database::parse(arg).ok_or_else(|| Failure(exit::USAGE, text(lang, &Msg::BadDatabase(arg))))
}

fn server_failure(lang: Lang, e: &ServerError) -> Failure {
    match e {
        ServerError::UnknownSite(site) => Failure(exit::USAGE, text(lang, &Msg::UnknownSite(site))),
        ServerError::Bind { addr, source } => Failure(
            exit::FAILURE,
            text(lang, &Msg::Bind(&addr.to_string(), &source.to_string())),
        ),
        other => Failure(exit::FAILURE, text(lang, &Msg::Server(&other.to_string()))),
    }
}

async fn run(lang: Lang, args: RunArgs) -> Result<(), Failure> {
    let listen = args
        .listen
        .ok_or_else(|| Failure(exit::USAGE, text(lang, &Msg::ListenRequired)))?;
    if args.plain_http && !listen.ip().is_loopback() {
        return Err(Failure(
            exit::USAGE,
            text(lang, &Msg::PlainHttpNotLoopback(&listen.to_string())),
        ));
    }
    let mut config = ServerConfig::new(&args.data_dir);
    config.database = database(lang, &args.database)?;
    config.refresh = Duration::from_secs(args.refresh_secs.max(1));
    config.rate_limit_per_sec = args.rate_limit;
    config.body_limit = args.body_limit;
    config.request_timeout = Duration::from_secs(args.request_timeout_secs);
    config.max_concurrent_requests =
        usize::try_from(args.max_concurrent_requests).unwrap_or(usize::MAX);
    config.max_tls_handshakes = usize::try_from(args.max_tls_handshakes).unwrap_or(usize::MAX);
    config.tls_handshake_timeout = Duration::from_secs(args.tls_handshake_timeout_secs);
    config.unknown_tokens_per_sec = args.unknown_token_rate;
    config.eligibility_ids_per_minute = args.eligibility_ids_per_minute;
    if let Some(as_of) = &args.as_of {
        let at = OffsetDateTime::parse(as_of, &Rfc3339)
            .map_err(|_| Failure(exit::USAGE, text(lang, &Msg::BadAsOf(as_of))))?;
        config.as_of = Some(at);
    }
    config.tls = match (args.plain_http, args.tls_cert, args.tls_key) {
        (true, _, _) => None,
        (false, Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
        (false, None, None) => {
            std::fs::create_dir_all(&args.data_dir)
                .map_err(|e| Failure(exit::FAILURE, text(lang, &Msg::Server(&e.to_string()))))?;
            Some(ensure_self_signed(&args.data_dir).map_err(|e| server_failure(lang, &e.into()))?)
        }
        (false, _, _) => return Err(Failure(exit::USAGE, text(lang, &Msg::TlsPair))),
    };
    let cert = config.tls.as_ref().map(|t| t.cert.display().to_string());
    // The port opens only once the store is migrated and seeded.
    let server = mask_server_stub::spawn_on(config, listen)
        .await
        .map_err(|e| server_failure(lang, &e))?;
    // After the start, so that a start that fails says only why.
    match mask_server_stub::raise_open_files_limit() {
        Ok(open_files) if open_files < LAUNCH_DAY_OPEN_FILES => tracing::warn!(
            open_files,
            "open files limit is low for a launch day: every pharmacy PC and browser holds a connection (raise the hard limit, e.g. systemd LimitNOFILE=65536)"
        ),
        Ok(open_files) => tracing::info!(open_files, "open files limit"),
        Err(error) => tracing::warn!(%error, "cannot raise the open files limit"),
    }
    let addr = server.addr();
    let scheme = if cert.is_some() { "https" } else { "http" };
    println!(
        "{}",
        text(lang, &Msg::Listening(&format!("{scheme}://{addr}")))
    );
    if let Some(cert) = cert {
        println!("{}", text(lang, &Msg::Certificate(&cert)));
    }
    shutdown_signal().await;
    server
        .shutdown()
        .await
        .map_err(|e| server_failure(lang, &e))
}

/// Ctrl-C, or SIGTERM on unix (systemd stop).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
#[test]
fn every_help_text_has_a_zh_tw_row() {
    mask_cli::help::assert_complete::<Cli>(ZH_TABLES);
}
