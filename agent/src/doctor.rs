//! `mask-agent doctor`: checks what the agent needs, each with a fix hint.

use std::path::Path;

use mask_api::Clock;
use serde::Serialize;

use crate::config::Config;
use crate::journal::{AttentionGroup, Journal, JournalError, Schema};
use crate::messages::Language;
use crate::server::{ServerClient, ServerError};

/// Result of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Fine.
    Ok,
    /// Works, but look at it.
    Warn,
    /// Broken: the agent cannot do its job.
    Fail,
}

/// One check.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// Stable name.
    pub name: &'static str,
    pub verdict: Verdict,
    /// What was found.
    pub detail: String,
    /// What to do (empty when fine).
    pub hint: String,
}

fn check(
    name: &'static str,
    verdict: Verdict,
    detail: impl Into<String>,
    hint: impl Into<String>,
) -> Check {
    Check {
        name,
        verdict,
        detail: detail.into(),
        hint: hint.into(),
    }
}

fn hint(lang: Language, zh: &str, en: &str) -> String {
    match lang {
        Language::ZhTw => zh.to_owned(),
        Language::En => en.to_owned(),
    }
}

/// Free space below this fails the disk check (a day of sales is well under 1 MB).
const DISK_FAIL_BYTES: u64 = 50 * 1024 * 1024;
/// Free space below this warns.
const DISK_WARN_BYTES: u64 = 500 * 1024 * 1024;
/// Clock skew above this warns (sale times and the daily windows depend on the clock).
const SKEW_WARN_SECS: i64 = 30;
/// Clock skew above this fails (the server refuses sales "from the future").
const SKEW_FAIL_SECS: i64 = 300;

/// Runs every check.
pub async fn run(config: &Config) -> Vec<Check> {
    let lang = config.language.value;
    let mut checks = vec![check_config(config, lang)];
    checks.extend(check_pcsc(lang));
    checks.extend(check_journal(&config.journal_path(), lang));
    checks.push(check_disk(&config.data_dir.value, lang));
    checks.extend(check_server(config, lang).await);
    checks.push(check_counter_access(&config.local_endpoint(), lang).await);
    checks
}

/// Whether the counter screen, run as this account, reaches the running agent: the same connect
/// and handshake `mask-terminal` does, so it meets the socket's group and mode (or the pipe's
/// DACL) and the agent's peer check. Run by IT as the pharmacist's account, it says whether that
/// account can sell and how to fix it when not.
async fn check_counter_access(endpoint: &Path, lang: Language) -> Check {
    use crate::local_api::{ClientError, LocalClient};
    let client = concat!("mask-agent-doctor ", env!("CARGO_PKG_VERSION"));
    let at = endpoint.display();
    match LocalClient::connect(endpoint, client).await {
        Ok(_) => check(
            "counter_access",
            Verdict::Ok,
            format!("the agent at {at} serves this account"),
            "",
        ),
        Err(ClientError::AccessDenied { denied, .. }) => {
            let (problem, action) = match lang {
                Language::ZhTw => denied.zh_tw_parts(),
                Language::En => denied.en_parts(),
            };
            check(
                "counter_access",
                Verdict::Fail,
                format!("{at}: {problem}"),
                action,
            )
        }
        Err(error @ ClientError::NotTheAgent(_)) => check(
            "counter_access",
            Verdict::Fail,
            error.to_string(),
            hint(
                lang,
                "連線管道不是由已安裝的 mask-agent 服務提供：請檢查佔用它的程式",
                "The pipe is not served by the installed mask-agent service: check the program holding it",
            ),
        ),
        Err(error @ ClientError::Connect { .. }) => check(
            "counter_access",
            Verdict::Warn,
            error.to_string(),
            hint(
                lang,
                "mask-agent 服務未執行，櫃台畫面無法連線：請啟動服務（Linux：systemctl start mask-agent）",
                "The mask-agent service is not running, so the counter screen cannot connect: start it (Linux: systemctl start mask-agent)",
            ),
        ),
        Err(error) => check(
            "counter_access",
            Verdict::Fail,
            error.to_string(),
            hint(
                lang,
                "櫃台畫面與服務版本不符或通訊錯誤：請安裝相同版本",
                "The counter screen and the service disagree: install the same version of both",
            ),
        ),
    }
}

fn check_config(config: &Config, lang: Language) -> Check {
    let missing: Vec<&str> = [
        ("site_code", config.site_code.value.is_none()),
        ("server_url", config.server_url.value.is_none()),
        ("token", config.token.value.is_none()),
    ]
    .into_iter()
    .filter_map(|(k, m)| m.then_some(k))
    .collect();
    if missing.is_empty() {
        let file = config
            .file
            .as_ref()
            .map_or_else(|| "(no file)".into(), |p| p.display().to_string());
        check("config", Verdict::Ok, format!("complete ({file})"), "")
    } else {
        check(
            "config",
            Verdict::Fail,
            format!("missing: {}", missing.join(", ")),
            hint(
                lang,
                "在設定檔填入 site_code、server_url、token（mask-agent config 會顯示設定檔位置）",
                "Set site_code, server_url and token in the config file (`mask-agent config` shows where it is)",
            ),
        )
    }
}

fn check_pcsc(lang: Language) -> Vec<Check> {
    let context = match pcsc::Context::establish(pcsc::Scope::User) {
        Ok(context) => context,
        Err(error) => {
            return vec![check(
                "pcsc_service",
                Verdict::Fail,
                error.to_string(),
                hint(
                    lang,
                    "啟動智慧卡服務：Linux 執行 systemctl start pcscd；Windows 插入讀卡機或啟動 Smart Card (SCardSvr) 服務",
                    "Start the smart-card service: `systemctl start pcscd` on Linux; on Windows plug in a reader or start the Smart Card (SCardSvr) service",
                ),
            )];
        }
    };
    let mut checks = vec![check("pcsc_service", Verdict::Ok, "running", "")];
    let readers = context.list_readers_owned().map(|names| {
        names
            .iter()
            .map(|n| n.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
    });
    checks.push(match readers {
        Ok(names) if !names.is_empty() => check("readers", Verdict::Ok, names.join("; "), ""),
        Ok(_) | Err(pcsc::Error::NoReadersAvailable) => check(
            "readers",
            Verdict::Fail,
            "no card reader",
            hint(
                lang,
                "接上健保卡讀卡機（CCID）",
                "Plug in an NHI card reader (CCID)",
            ),
        ),
        Err(error) => check(
            "readers",
            Verdict::Fail,
            error.to_string(),
            hint(lang, "重新插拔讀卡機", "Unplug and plug the reader back in"),
        ),
    });
    checks
}

/// What doctor reads from the journal, in one read-only snapshot.
struct JournalLook {
    schema: Schema,
    integrity: Result<(), Vec<String>>,
    /// (all sales, queued sales) and the records needing attention; only read when the schema
    /// is this build's (an older one lacks columns the queries use).
    counts: Option<(u64, u64, Vec<AttentionGroup>)>,
}

fn look_at_journal(journal: &Journal) -> Result<JournalLook, JournalError> {
    let schema = journal.schema()?;
    let integrity = journal.integrity_check()?;
    let counts = if schema == Schema::Current {
        Some((
            journal.sale_count()?,
            journal.queued_sale_count()?,
            journal.attention_groups()?,
        ))
    } else {
        None
    };
    Ok(JournalLook {
        schema,
        integrity,
        counts,
    })
}

/// The journal and attention checks. The journal is opened read-only: doctor runs beside the
/// service, often as another user, and must neither change nor create anything.
fn check_journal(path: &Path, lang: Language) -> Vec<Check> {
    let fix = hint(
        lang,
        "確認資料夾權限與磁碟空間；若日誌損毀，請停止服務並將 journal.sqlite3 交給資訊人員",
        "Check the data directory's permissions and free space; if the journal is damaged, stop the service and give journal.sqlite3 to IT",
    );
    let look = match Journal::read_only(path, look_at_journal) {
        Ok(look) => look,
        Err(JournalError::Missing { path }) => {
            return vec![check(
                "journal",
                Verdict::Warn,
                format!(
                    "no journal at {} (no sale recorded here yet)",
                    path.display()
                ),
                hint(
                    lang,
                    "服務第一次啟動時會建立日誌；若已有銷售紀錄，請以 mask-agent config 確認 data_dir 是否正確",
                    "The service creates the journal when it first starts; if sales were recorded on this PC, check data_dir with `mask-agent config`",
                ),
            )];
        }
        Err(JournalError::Unsettled) => {
            return vec![check(
                "journal",
                Verdict::Warn,
                JournalError::Unsettled.to_string(),
                hint(
                    lang,
                    "日誌上次未正常關閉：啟動 mask-agent 服務，它會復原日誌，之後再執行 doctor",
                    "The journal was not closed cleanly: start the mask-agent service (it recovers the journal), then run doctor again",
                ),
            )];
        }
        Err(error) => return vec![check("journal", Verdict::Fail, error.to_string(), fix)],
    };
    if let Err(problems) = look.integrity {
        return vec![check("journal", Verdict::Fail, problems.join("; "), fix)];
    }
    match look.schema {
        Schema::Current => {}
        Schema::Older { found, current } => {
            return vec![check(
                "journal",
                Verdict::Warn,
                format!("integrity ok; schema version {found}, older than this agent's {current}"),
                hint(
                    lang,
                    "服務啟動時會自動更新日誌格式：更新程式後請重新啟動 mask-agent 服務",
                    "The service upgrades the journal when it starts: restart the mask-agent service after an upgrade",
                ),
            )];
        }
        Schema::Newer { found, current } => {
            return vec![check(
                "journal",
                Verdict::Fail,
                format!(
                    "schema version {found} was written by a newer mask-agent (this one knows {current})"
                ),
                hint(
                    lang,
                    "請改用較新版的 mask-agent（不支援降版）；日誌內容未被更動",
                    "Use the newer mask-agent (downgrades are not supported); the journal was not changed",
                ),
            )];
        }
    }
    let Some((total, queued, groups)) = look.counts else {
        return vec![check("journal", Verdict::Ok, "integrity ok", "")];
    };
    vec![
        check(
            "journal",
            Verdict::Ok,
            format!("integrity ok; {total} sales, {queued} queued"),
            "",
        ),
        check_attention(&groups, lang),
    ]
}

/// Records the server would not take: counts by kind and reason only (no IDs, no names).
fn check_attention(groups: &[AttentionGroup], lang: Language) -> Check {
    let total: u64 = groups.iter().map(|g| g.count).sum();
    if total == 0 {
        return check("attention", Verdict::Ok, "no record needs attention", "");
    }
    let parts: Vec<String> = groups
        .iter()
        .map(|g| format!("{} {} × {}", g.kind, g.reason, g.count))
        .collect();
    check(
        "attention",
        Verdict::Warn,
        format!(
            "{total} record(s) the server would not take: {}",
            parts.join("; ")
        ),
        hint(
            lang,
            "這些紀錄已保留，仍計入本機購買限制與庫存，不會再自動上傳：請勿重複販售或補登；以 mask-agent journal export 查看（needs_attention=true），將原因碼告知中央服務台，並依指示將 journal.sqlite3 交給資訊人員",
            "These records are kept and still count in the local rules and inventory, but are not sent again: do not sell or enter them again. See them with `mask-agent journal export` (needs_attention=true), give the reason codes to the central helpdesk, and hand journal.sqlite3 to IT if asked",
        ),
    )
}

fn check_disk(dir: &Path, lang: Language) -> Check {
    match free_bytes(dir) {
        None => check(
            "disk_space",
            Verdict::Warn,
            "not measured on this platform",
            "",
        ),
        Some(free) => {
            let detail = format!("{} MB free", free / (1024 * 1024));
            let fix = hint(
                lang,
                "清出磁碟空間，否則無法記錄銷售",
                "Free disk space, or sales cannot be recorded",
            );
            if free < DISK_FAIL_BYTES {
                check("disk_space", Verdict::Fail, detail, fix)
            } else if free < DISK_WARN_BYTES {
                check("disk_space", Verdict::Warn, detail, fix)
            } else {
                check("disk_space", Verdict::Ok, detail, "")
            }
        }
    }
}

/// Free bytes for unprivileged users on the file system holding `dir` (or its nearest
/// existing parent).
pub fn free_bytes(dir: &Path) -> Option<u64> {
    #[cfg(unix)]
    {
        let mut probe = dir;
        while !probe.exists() {
            probe = probe.parent()?;
        }
        let stat = rustix::fs::statvfs(probe).ok()?;
        Some(stat.f_bavail.saturating_mul(stat.f_frsize))
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        None
    }
}

async fn check_server(config: &Config, lang: Language) -> Vec<Check> {
    let (Some(url), Some(token)) = (
        config.server_url.value.as_deref(),
        config.token.value.as_deref(),
    ) else {
        return vec![check(
            "server",
            Verdict::Fail,
            "not configured",
            hint(lang, "設定 server_url 與 token", "Set server_url and token"),
        )];
    };
    let client = match ServerClient::new(url, token, config.ca_cert.value.as_deref()) {
        Ok(client) => client,
        Err(error) => {
            return vec![check(
                "tls",
                Verdict::Fail,
                error.to_string(),
                hint(
                    lang,
                    "設定 ca_cert 為簽發伺服器憑證的 CA（PEM 檔）",
                    "Set ca_cert to the PEM file of the CA that signs the server certificate",
                ),
            )];
        }
    };
    let mut checks = Vec::new();
    let started = std::time::Instant::now();
    match client.health().await {
        Ok(health) => {
            let rtt = started.elapsed();
            checks.push(check("server", Verdict::Ok, format!("{url} answers in {} ms", rtt.as_millis()), ""));
            if url.starts_with("https") {
                checks.push(check("tls", Verdict::Ok, "certificate verified against the pinned CA", ""));
            }
            let local = Clock::from_as_of(config.as_of.value).now();
            let skew = (local - health.server_time).whole_seconds();
            let detail = format!("local clock differs from the server by {skew} s");
            let fix = hint(lang, "校正電腦時間（啟用自動網路校時）", "Correct the PC clock (enable automatic time sync)");
            checks.push(if skew.abs() > SKEW_FAIL_SECS {
                check("clock_skew", Verdict::Fail, detail, fix)
            } else if skew.abs() > SKEW_WARN_SECS {
                check("clock_skew", Verdict::Warn, detail, fix)
            } else {
                check("clock_skew", Verdict::Ok, detail, "")
            });
            checks.push(match client.whoami().await {
                Ok(who) if config.site_code.value.as_deref() == Some(who.site.as_str()) => {
                    check("token", Verdict::Ok, format!("token belongs to {}", who.site), "")
                }
                Ok(who) => check(
                    "token",
                    Verdict::Fail,
                    format!("token belongs to {}, config says {:?}", who.site, config.site_code.value),
                    hint(lang, "使用本藥局自己的 token", "Use this pharmacy's own token"),
                ),
                Err(error) => check(
                    "token",
                    Verdict::Fail,
                    error.to_string(),
                    hint(lang, "向中央系統申請新的 token", "Ask the central system for a new token"),
                ),
            });
        }
        Err(ServerError::Tls(detail)) => checks.push(check(
            "tls",
            Verdict::Fail,
            detail,
            hint(
                lang,
                "伺服器憑證不是由設定的 CA 簽發，或已過期；請確認 ca_cert 與伺服器位址",
                "The server certificate is not signed by the configured CA, or has expired: check ca_cert and the server address",
            ),
        )),
        Err(error) => checks.push(check(
            "server",
            Verdict::Fail,
            error.to_string(),
            hint(
                lang,
                "確認網路／VPN 已連線且防火牆允許連到伺服器；離線期間仍可販售",
                "Check the network/VPN and that the firewall allows the server's host and port; selling continues offline meanwhile",
            ),
        )),
    }
    checks
}
