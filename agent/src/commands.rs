//! The subcommands (except `card read`, which is `nhi_card::read_report`, shared with `nhi-read`).
//! Each returns the process exit code; library code never exits.

use std::io::Write;
use std::path::Path;

use mask_protocol::{RequestBody, ResponseBody, SellBuyer, SellOutcome, StatusReport};
use serde_json::json;
use time::Date;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::local_api::{ClientError, LocalClient};
use crate::messages::{Internal, Language, Msg, ProtocolProblem};
use crate::runtime::RunError;

pub use mask_cli::exit::{CONFIG as EXIT_CONFIG, FAILURE as EXIT_FAILED};
use mask_cli::exit::{
    JOURNAL as EXIT_JOURNAL, SUCCESS as EXIT_OK, UNAVAILABLE as EXIT_UNAVAILABLE,
};

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

/// `run`: the service in the foreground until Ctrl-C / SIGTERM or `shutdown` (a Windows
/// service Stop cancels it).
pub fn run_service(config: &Config, shutdown: CancellationToken, stderr_logs: bool) -> u8 {
    let lang = config.language.value;
    let _logs =
        match crate::logging::init_service(&config.log_dir(), &config.log_level.value, stderr_logs)
        {
            Ok(guard) => guard,
            Err(error) => {
                eprintln!(
                    "{}",
                    Msg::JournalUnavailable {
                        cause: crate::messages::JournalCause::of_io(&error),
                        detail: format!("{}: {error}", config.log_dir().display()),
                    }
                    .text(lang)
                );
                return EXIT_JOURNAL;
            }
        };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(error) => {
            eprintln!("{}", Msg::Internal(Internal::Runtime(error)).text(lang));
            return EXIT_FAILED;
        }
    };
    let cards = crate::cards::CardSource::pcsc(config.reader_filter.value.clone());
    let result = rt.block_on(async {
        let signals = shutdown.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("stop requested");
            signals.cancel();
        });
        crate::runtime::run(config, cards, shutdown).await
    });
    match result {
        Ok(()) => EXIT_OK,
        Err(error) => {
            tracing::error!(%error, "mask-agent could not start");
            let (msg, code) = match error {
                RunError::Config(e) => (Msg::Config(e), EXIT_CONFIG),
                RunError::Journal(crate::journal::JournalError::DiskFull(_)) => {
                    (Msg::JournalDiskFull, EXIT_JOURNAL)
                }
                RunError::Journal(e) => (Msg::journal(&e), EXIT_JOURNAL),
                RunError::Server(e) => (Msg::ServerSetup(e), EXIT_CONFIG),
                RunError::Listen(e) => (Msg::Listen(e), EXIT_UNAVAILABLE),
            };
            eprintln!("{}", msg.text(lang));
            code
        }
    }
}

async fn wait_for_signal() {
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
                if tokio::signal::ctrl_c().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        // Under the Windows service manager there may be no console handler: then the service's
        // cancellation token is the only stop signal (an error here must not stop the agent).
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Connects to the running service and asks one thing.
fn ask(config: &Config, body: RequestBody) -> Result<ResponseBody, (Msg, u8)> {
    let rt = runtime().map_err(|e| (Msg::Internal(Internal::Runtime(e)), EXIT_FAILED))?;
    rt.block_on(async {
        let mut client = LocalClient::connect(
            &config.local_endpoint(),
            concat!("mask-agent-cli ", env!("CARGO_PKG_VERSION")),
        )
        .await
        .map_err(client_error)?;
        client.request(body).await.map_err(client_error)
    })
}

fn client_error(error: ClientError) -> (Msg, u8) {
    match error {
        ClientError::Connect { .. } => (Msg::AgentNotRunning(error), EXIT_UNAVAILABLE),
        ClientError::AccessDenied { denied, .. } => (Msg::AccessDenied(denied), EXIT_UNAVAILABLE),
        ClientError::NotTheAgent(impostor) => (Msg::NotTheAgent(impostor), EXIT_UNAVAILABLE),
        other => (Msg::ProtocolError(other.into()), EXIT_UNAVAILABLE),
    }
}

/// An answer of another kind than the request's.
fn unexpected(answer: ResponseBody) -> (Msg, u8) {
    (
        Msg::ProtocolError(ProtocolProblem::Unexpected(Box::new(answer))),
        EXIT_UNAVAILABLE,
    )
}

fn fail(lang: Language, (msg, code): (Msg, u8)) -> u8 {
    eprintln!("{}", msg.text(lang));
    code
}

fn print_json(value: &serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer_pretty(&mut out, value);
    let _ = writeln!(out);
}

fn rfc3339(at: Option<time::OffsetDateTime>) -> Option<String> {
    at.and_then(|t| {
        t.format(&time::format_description::well_known::Rfc3339)
            .ok()
    })
}

/// The script-friendly JSON of `status --json`.
fn status_json(status: &StatusReport) -> serde_json::Value {
    json!({
        "running": true,
        "agent_version": status.agent_version,
        "site_code": status.site_code,
        "site_name": status.site_name,
        "online": status.sync.connectivity == mask_protocol::Connectivity::Online,
        "connectivity": status.sync.connectivity,
        "queued_sales": status.sync.queued,
        "queued_other": status.sync.queued_other,
        "last_sync": rfc3339(status.sync.last_sync),
        "last_error": status.sync.last_error,
        "overruns": status.sync.overruns,
        "attention": status.sync.attention,
        "readers": status.readers,
        "listed": status.listing.listed,
        "note": status.note.text,
        "note_synced": status.note.synced,
        "policy_cached": status.policy_cached,
        "counter": status.counter,
    })
}

/// `status [--json]`.
pub fn status(config: &Config, as_json: bool) -> u8 {
    let lang = config.language.value;
    match ask(config, RequestBody::Status) {
        Ok(ResponseBody::Status(status)) => {
            if as_json {
                print_json(&status_json(&status));
            } else {
                print!("{}", crate::messages::status_report(&status, lang));
            }
            EXIT_OK
        }
        Ok(ResponseBody::Error(error)) => {
            eprintln!("{}", error.message);
            EXIT_FAILED
        }
        Ok(other) => fail(lang, unexpected(other)),
        Err(e) => fail(lang, e),
    }
}

/// `sync [--json]`: exit 0 when nothing is left queued.
pub fn sync(config: &Config, as_json: bool) -> u8 {
    let lang = config.language.value;
    match ask(config, RequestBody::SyncNow) {
        Ok(ResponseBody::Sync(s)) => {
            let value = json!({
                "online": s.connectivity == mask_protocol::Connectivity::Online,
                "queued_sales": s.queued,
                "queued_other": s.queued_other,
                "last_sync": rfc3339(s.last_sync),
                "last_error": s.last_error,
                "overruns": s.overruns,
                "attention": s.attention,
            });
            if as_json {
                print_json(&value);
            } else {
                println!(
                    "queued {} sales, {} other; last error: {}",
                    s.queued,
                    s.queued_other,
                    s.last_error.as_deref().unwrap_or("-")
                );
            }
            if s.queued == 0 && s.queued_other == 0 {
                EXIT_OK
            } else {
                EXIT_FAILED
            }
        }
        Ok(ResponseBody::Error(error)) => {
            eprintln!("{}", error.message);
            EXIT_FAILED
        }
        Ok(other) => fail(lang, unexpected(other)),
        Err(e) => fail(lang, e),
    }
}

/// `sell --id --qty [--birth-date]`: prints JSON; 0 recorded, 1 refused.
pub fn sell(config: &Config, id_no: &str, quantity: u32, birth_date: Option<Date>) -> u8 {
    let lang = config.language.value;
    let body = RequestBody::Sell {
        buyer: SellBuyer::Manual {
            id_no: id_no.to_owned(),
            birth_date,
        },
        quantity,
    };
    match ask(config, body) {
        Ok(ResponseBody::Sell(SellOutcome::Recorded(receipt))) => {
            print_json(&json!({
                "result": "recorded",
                "sale_id": receipt.sale_id,
                "id_masked": receipt.buyer.masked_id,
                "kind": receipt.kind,
                "quantity": receipt.quantity,
                "sold_at": rfc3339(Some(receipt.sold_at)),
                "offline": receipt.offline,
                "amount_due": receipt.amount_due,
                "sync": receipt.sync,
            }));
            EXIT_OK
        }
        Ok(ResponseBody::Sell(SellOutcome::Refused(e))) => {
            let reason = e.reason.clone().unwrap_or(mask_api::RefusalReason::Quota);
            let next = e.next_date;
            print_json(&json!({
                "result": "refused",
                "reason": reason.as_str(),
                "allowed": e.allowed,
                "kind": e.kind,
                "next_date": next.map(|d| d.to_string()),
                "decided": e.decided,
            }));
            eprintln!(
                "{}",
                Msg::SaleRefused {
                    reason,
                    next_date: next
                }
                .text(lang)
            );
            EXIT_FAILED
        }
        Ok(ResponseBody::Error(error)) => {
            print_json(&json!({ "result": "error", "code": error.code, "message": error.message }));
            eprintln!("{}", error.message);
            if error.code == mask_protocol::ErrorCode::JournalUnavailable {
                EXIT_JOURNAL
            } else {
                EXIT_FAILED
            }
        }
        Ok(other) => fail(lang, unexpected(other)),
        Err(e) => fail(lang, e),
    }
}

/// `doctor [--json]`: exit 1 when a check fails.
pub fn doctor(config: &Config, as_json: bool) -> u8 {
    let lang = config.language.value;
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return fail(lang, (Msg::Internal(Internal::Runtime(e)), EXIT_FAILED)),
    };
    let checks = rt.block_on(crate::doctor::run(config));
    let failed = checks
        .iter()
        .any(|c| c.verdict == crate::doctor::Verdict::Fail);
    if as_json {
        print_json(&json!({ "ok": !failed, "checks": checks }));
    } else {
        for c in &checks {
            let mark = match c.verdict {
                crate::doctor::Verdict::Ok => "OK  ",
                crate::doctor::Verdict::Warn => "WARN",
                crate::doctor::Verdict::Fail => "FAIL",
            };
            println!("[{mark}] {:<13} {}", c.name, c.detail);
            if !c.hint.is_empty() {
                println!("       → {}", c.hint);
            }
        }
    }
    if failed { EXIT_FAILED } else { EXIT_OK }
}

/// `config [--json]`.
pub fn show_config(config: &Config, as_json: bool) -> u8 {
    let rows = config.rows();
    if as_json {
        let map: serde_json::Map<String, serde_json::Value> = rows
            .into_iter()
            .map(|(k, v, s)| (k.to_owned(), json!({ "value": v, "source": s })))
            .collect();
        print_json(&serde_json::Value::Object(map));
    } else {
        for (key, value, source) in rows {
            println!("{key:<15} {value}  [{source}]");
        }
    }
    EXIT_OK
}

/// `journal export [--date] [--output]`: CSV of the day, IDs masked; the journal is only read.
pub fn journal_export(config: &Config, date: Option<Date>, output: Option<&Path>) -> u8 {
    let lang = config.language.value;
    let day = date.unwrap_or_else(|| {
        mask_api::taipei_date(mask_api::Clock::from_as_of(config.as_of.value).now())
    });
    // Read-only: an export runs beside the service, often as another user, and must not
    // migrate, create or chmod anything. An older or newer schema is refused by name.
    let rows = crate::journal::Journal::read_only(&config.journal_path(), |journal| {
        journal.schema()?.require_current()?;
        journal.export_day(day)
    });
    let rows = match rows {
        Ok(rows) => rows,
        Err(error) => {
            return fail(lang, (Msg::journal_read(&error), EXIT_JOURNAL));
        }
    };
    let sink: Box<dyn Write> = match output {
        Some(path) => match mask_private_file::create_private_file(path)
            .and_then(|()| std::fs::File::create(path))
        {
            Ok(file) => Box::new(file),
            Err(error) => {
                let error = Internal::File {
                    path: path.to_owned(),
                    source: error,
                };
                return fail(lang, (Msg::Internal(error), EXIT_FAILED));
            }
        },
        None => Box::new(std::io::stdout().lock()),
    };
    let mut writer = csv::Writer::from_writer(sink);
    for row in &rows {
        if let Err(error) = writer.serialize(row) {
            return fail(lang, (Msg::Internal(error.into()), EXIT_FAILED));
        }
    }
    if rows.is_empty() {
        // Still write the header so spreadsheets open an empty day cleanly.
        let _ = writer.write_record([
            "sale_id",
            "sold_at",
            "id_masked",
            "kind",
            "quantity",
            "source",
            "offline",
            "sync_state",
            "detail",
            "needs_attention",
        ]);
    }
    match writer.flush() {
        Ok(()) => EXIT_OK,
        Err(error) => fail(lang, (Msg::Internal(Internal::Write(error)), EXIT_FAILED)),
    }
}
