//! Every user-facing sentence of `mask-agent`, in Traditional Chinese (default) and English.
//! One place, keyed by [`Msg`]: a message says what is wrong and then what to do.

use mask_api::RefusalReason;
use mask_pipe_guard::NotTheAgent;
use nhi_card::IdError;

use crate::local_api::ListenError;

/// Language of user-facing messages: the workspace's one type, picked by its one rule
/// (`mask_cli::Language::detect`), here with the agent's `language` setting in the flag's place.
pub use mask_cli::Language;

/// Why the journal could not be used, in terms the user can act on (the zh-TW message names
/// it in Chinese; the OS or SQLite text follows as technical detail).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JournalCause {
    /// The agent's account may not write the data directory or file.
    Permission,
    /// The disk or file is read-only.
    ReadOnly,
    /// The data directory or a file in it is missing.
    Missing,
    /// Another program holds the journal.
    Locked,
    /// The disk is full.
    DiskFull,
    /// The journal file is damaged (or from a newer version).
    Corrupt,
    /// The journal has an older schema (the service upgrades it when it starts).
    OlderSchema,
    /// A newer agent wrote the journal.
    NewerSchema,
    /// The journal has to be recovered by the service before it can be read as it is.
    Unsettled,
    /// Anything else.
    Other,
}

impl JournalCause {
    /// From an OS error.
    pub fn of_io(error: &std::io::Error) -> Self {
        match error.kind() {
            std::io::ErrorKind::PermissionDenied => Self::Permission,
            std::io::ErrorKind::ReadOnlyFilesystem => Self::ReadOnly,
            std::io::ErrorKind::NotFound => Self::Missing,
            _ => Self::Other,
        }
    }

    fn zh(self) -> &'static str {
        match self {
            Self::Permission => "沒有寫入資料目錄的權限",
            Self::ReadOnly => "磁碟或檔案為唯讀",
            Self::Missing => "找不到資料目錄或日誌檔",
            Self::Locked => "日誌正被其他程式使用",
            Self::DiskFull => "磁碟已滿",
            Self::Corrupt => "日誌檔已損毀或來自較新版本",
            Self::OlderSchema => "日誌格式是舊版，尚未由服務更新",
            Self::NewerSchema => "日誌由較新版本的 mask-agent 寫入",
            Self::Unsettled => "日誌上次未正常關閉，需先由服務復原",
            Self::Other => "發生未預期的錯誤",
        }
    }
}

/// Something went wrong that only IT can look into; the typed cause is the technical detail.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Internal {
    /// The async runtime could not be started.
    #[error("{0}")]
    Runtime(std::io::Error),
    /// A background task of the agent failed (panicked or was cancelled).
    #[error("{0}")]
    Task(std::sync::Arc<tokio::task::JoinError>),
    /// A file could not be created or written.
    #[error("{}: {source}", path.display())]
    File {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    /// Output could not be written.
    #[error("{0}")]
    Write(std::io::Error),
    /// A CSV row could not be written.
    #[error("{0}")]
    Csv(#[from] csv::Error),
}

/// The running agent's answer was not what the command asked for.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolProblem {
    /// The connection broke, or the agent speaks another protocol version.
    #[error(transparent)]
    Client(#[from] crate::local_api::ClientError),
    /// An answer of another kind than the request's.
    #[error("{0:?}")]
    Unexpected(Box<mask_protocol::ResponseBody>),
}

/// A user-facing message. Each variant carries the typed cause; the catalogue below turns it
/// into text (in zh-TW the Chinese sentence first, the technical detail kept apart).
#[derive(Debug)]
#[non_exhaustive]
pub enum Msg {
    /// The configuration is invalid or incomplete: the cause is named in Chinese words from
    /// the error's kind, the config layer's English text is the technical detail.
    Config(crate::config::ConfigError),
    /// The configured server connection cannot be set up (CA file, URL).
    ServerSetup(crate::server::ServerError),
    /// The journal cannot be written because the disk is full.
    JournalDiskFull,
    /// The journal cannot be opened or written: the cause in words, and the technical detail.
    JournalUnavailable {
        /// What went wrong, as the user can act on it.
        cause: JournalCause,
        /// The underlying error (OS or SQLite text, in English).
        detail: String,
    },
    /// The journal cannot be read (`journal export`): the cause in words, and the detail.
    JournalUnreadable {
        /// What went wrong, as the user can act on it.
        cause: JournalCause,
        /// The underlying error (OS or SQLite text, in English).
        detail: String,
    },
    /// The agent is not running (local API unreachable).
    AgentNotRunning(crate::local_api::ClientError),
    /// This account may not use the local API (not in the access group).
    AccessDenied(mask_protocol::AccessDenied),
    /// The typed ID number is invalid (the validator's reason, worded per language here).
    InvalidId(IdError),
    /// Quantity out of range.
    InvalidQuantity,
    /// The public note breaks the rule (`mask_api::public_note`).
    InvalidNote(mask_api::NoteError),
    /// The sale was refused (reason, next date).
    SaleRefused {
        /// Why (the one set of codes in mask-api; a code a newer peer sent is kept as `Other`).
        reason: mask_api::RefusalReason,
        /// The next date allowed.
        next_date: Option<time::Date>,
    },
    /// A sale on screen is stale.
    StaleBuyer,
    /// No policy is cached and the server is unreachable.
    NoPolicy,
    /// The server could not be reached.
    ServerUnreachable(crate::server::ServerError),
    /// The local API answered with something unexpected.
    ProtocolError(ProtocolProblem),
    /// The local API endpoint could not be served: another agent answers there, another
    /// process holds the pipe name (Windows), or it could not be created.
    Listen(crate::local_api::ListenError),
    /// Windows: the pipe's server is not the installed agent; nothing was sent to it.
    NotTheAgent(NotTheAgent),
    /// Generic internal failure.
    Internal(Internal),
    /// A `mask-agent service …` step failed.
    Service(crate::service::ServiceError),
}

/// What is wrong with a typed ID number, in Traditional Chinese (the English text is
/// `IdError`'s own `Display`).
fn id_problem_zh(e: &IdError) -> String {
    match e {
        IdError::Empty => "未輸入身分證號".into(),
        IdError::WrongLength { len } => format!("應為 10 碼，輸入了 {len} 碼"),
        IdError::BadFirstLetter => "第 1 碼必須是英文字母 A–Z".into(),
        IdError::BadSecondCharacter => "第 2 碼必須是 1、2（國民）、8、9 或 A–D（居留證）".into(),
        IdError::NonDigit { position } => format!("第 {position} 碼必須是數字"),
        IdError::Checksum => "檢查碼不符（可能打錯一碼）".into(),
        IdError::Masked => "這是遮蔽過的號碼，需要完整身分證號".into(),
        _ => "格式不符".into(),
    }
}

impl Msg {
    /// The message for a journal that cannot be opened or written.
    pub fn journal(error: &crate::journal::JournalError) -> Self {
        Self::JournalUnavailable {
            cause: error.cause(),
            detail: error.to_string(),
        }
    }

    /// The message for a journal that cannot be read (nothing was changed).
    pub fn journal_read(error: &crate::journal::JournalError) -> Self {
        Self::JournalUnreadable {
            cause: error.cause(),
            detail: error.to_string(),
        }
    }

    /// The text in the given language.
    pub fn text(&self, lang: Language) -> String {
        use Language::{En, ZhTw};
        match (self, lang) {
            (Msg::Config(e), ZhTw) => format!("設定有誤：{}。請修正設定檔（mask-agent config 可查看目前設定）。（技術細節：{e}）", config_cause_zh(e)),
            (Msg::Config(e), En) => format!("Configuration problem: {e}. Fix the config file (`mask-agent config` shows the effective settings)."),
            (Msg::ServerSetup(e), ZhTw) => format!("設定有誤。請修正設定檔（mask-agent config 可查看目前設定）。（技術細節：{e}）"),
            (Msg::ServerSetup(e), En) => format!("Configuration problem: {e}. Fix the config file (`mask-agent config` shows the effective settings)."),
            (Msg::JournalDiskFull, ZhTw) => "磁碟已滿，銷售未記錄。請清出磁碟空間後再試；口罩請先不要交付。".into(),
            (Msg::JournalDiskFull, En) => "The disk is full: the sale was NOT recorded. Free disk space and try again; do not hand the masks over yet.".into(),
            (Msg::JournalUnavailable { cause, detail }, ZhTw) => format!("無法寫入銷售日誌：{}，銷售未記錄。請執行 mask-agent doctor 檢查。（技術細節：{detail}）", cause.zh()),
            (Msg::JournalUnavailable { detail, .. }, En) => format!("Cannot write the sale journal ({detail}): nothing was recorded. Run `mask-agent doctor`."),
            (Msg::JournalUnreadable { cause, detail }, ZhTw) => format!("無法讀取銷售日誌：{}。{}（技術細節：{detail}）", cause.zh(), read_fix_zh(*cause)),
            (Msg::JournalUnreadable { cause, detail }, En) => format!("Cannot read the sale journal ({detail}). {}", read_fix_en(*cause)),
            (Msg::AgentNotRunning(d), ZhTw) => format!("無法連線到 mask-agent 服務。請確認服務已啟動（mask-agent run 或系統服務）。（技術細節：{d}）"),
            (Msg::AgentNotRunning(d), En) => format!("Cannot reach the mask-agent service ({d}). Make sure it is running (`mask-agent run` or the system service)."),
            (Msg::AccessDenied(d), ZhTw) => d.zh_tw(),
            (Msg::AccessDenied(d), En) => d.en(),
            (Msg::InvalidId(e), ZhTw) => format!("身分證號不正確：{}。請核對證件後重新輸入。", id_problem_zh(e)),
            (Msg::InvalidId(e), En) => format!("Invalid national ID number: {e}. Check the document and type it again."),
            (Msg::InvalidQuantity, ZhTw) => "數量必須在 1 到 100 之間。".into(),
            (Msg::InvalidQuantity, En) => "The quantity must be between 1 and 100.".into(),
            (Msg::InvalidNote(mask_api::NoteError::ControlChar), ZhTw) => {
                "公告不可含換行、定位字元等控制字元。請改成一行文字。".into()
            }
            (Msg::InvalidNote(mask_api::NoteError::TooLong { chars }), ZhTw) => format!(
                "公告有 {chars} 個字，最多 {} 個字。請縮短後再存。",
                mask_api::PUBLIC_NOTE_MAX_CHARS
            ),
            (Msg::InvalidNote(mask_api::NoteError::Invisible { code }), ZhTw) => format!(
                "公告含看不見的格式字元（U+{code:04X}，會改變或隱藏顯示的文字）。請重新輸入後再存。"
            ),
            (Msg::InvalidNote(e), ZhTw) => format!("公告不正確（技術細節：{e}）。請修改後再存。"),
            (Msg::InvalidNote(e), En) => format!("The public note was not saved: {e}."),
            (Msg::SaleRefused { reason, next_date }, ZhTw) => format!(
                "不可販售：{}{}",
                refusal_zh(reason),
                next_date.map(|d| format!("，下次可購買日 {d}")).unwrap_or_default()
            ),
            (Msg::SaleRefused { reason, next_date }, En) => format!(
                "Sale refused: {}{}",
                refusal_en(reason),
                next_date.map(|d| format!("; may buy again on {d}")).unwrap_or_default()
            ),
            (Msg::StaleBuyer, ZhTw) => "畫面上的購買人已變更，請重新確認後再販售。".into(),
            (Msg::StaleBuyer, En) => "The buyer on screen has changed; check again before selling.".into(),
            (Msg::NoPolicy, ZhTw) => "尚未取得配售規則且無法連線伺服器。請連上網路一次以下載規則。".into(),
            (Msg::NoPolicy, En) => "No rationing policy cached and the server is unreachable. Connect once to download the rules.".into(),
            (Msg::ServerUnreachable(d), ZhTw) => format!("無法連線中央伺服器。銷售仍可離線進行，恢復連線後會自動上傳。（技術細節：{d}）"),
            (Msg::ServerUnreachable(d), En) => format!("Cannot reach the central server ({d}). Selling continues offline; sales upload when it is back."),
            (Msg::ProtocolError(d), ZhTw) => format!("與 mask-agent 服務通訊錯誤。請確認兩者版本相同。（技術細節：{d}）"),
            (Msg::ProtocolError(d), En) => format!("Unexpected answer from the mask-agent service ({d}). Make sure both are the same version."),
            (Msg::Listen(ListenError::AlreadyRunning(d)), ZhTw) => format!("已有另一個 mask-agent 在此位置提供本機服務（{d}）。請先停止它。"),
            (Msg::Listen(ListenError::AlreadyRunning(d)), En) => format!("Another mask-agent already serves the local API at {d}. Stop it first."),
            (Msg::Listen(ListenError::PipeTaken { holder, .. }), ZhTw) => format!("本機服務的連線管道已被{}佔用：可能是另一個 mask-agent，或冒充的程式。mask-agent 不會在它之後提供服務。請停止該程式（並檢查是否為惡意程式）後再啟動服務。", holder_zh(holder.as_ref())),
            (Msg::Listen(ListenError::PipeTaken { holder, .. }), En) => format!("The agent's named pipe is already held by {}: another mask-agent, or a program posing as it. The agent does not serve behind it. Stop that program (check it is not malware), then start the service again.", holder_en(holder.as_ref())),
            (Msg::Listen(d), ZhTw) => format!("無法建立本機服務的連線端點。系統服務請確認安裝完整；自行執行時請以設定檔的 socket 或環境變數 MASK_AGENT_SOCKET 指定此帳號可寫入的位置。（技術細節：{d}）"),
            (Msg::Listen(d), En) => format!("Cannot create the local API endpoint ({d}). As a service, check the installation; run by hand, set `socket` in the config or MASK_AGENT_SOCKET to a place this account may write."),
            (Msg::NotTheAgent(n), ZhTw) => format!("已拒絕連線：本機服務的連線管道由{}持有，不是已安裝的 mask-agent 服務，未傳送任何資料。請資訊人員檢查這台電腦。", holder_zh(Some(n))),
            (Msg::NotTheAgent(n), En) => format!("Refused: the agent's named pipe is held by {}, not the installed mask-agent service; nothing was sent. IT should check this PC.", holder_en(Some(n))),
            (Msg::Internal(d), ZhTw) => format!("內部錯誤。請執行 mask-agent doctor，並將記錄檔提供給資訊人員。（技術細節：{d}）"),
            (Msg::Internal(d), En) => format!("Internal error: {d}. Run `mask-agent doctor` and give the log files to IT."),
            (Msg::Service(d), ZhTw) => format!("系統服務操作失敗。安裝說明請見隨程式安裝的 README.md（資訊人員手冊）。（技術細節：{d}）"),
            (Msg::Service(d), En) => format!("Service operation failed: {d}. See the IT guide (README.md installed with the agent)."),
        }
    }
}

/// A config error's cause in Traditional Chinese (names, keys and paths stay as written).
fn config_cause_zh(error: &crate::config::ConfigError) -> String {
    use crate::config::{ConfigError, Source};
    let origin = |source: &Source| match source {
        Source::Default => "預設值".to_owned(),
        Source::File { path, line: None } => format!("設定檔 {}", path.display()),
        Source::File {
            path,
            line: Some(line),
        } => format!("設定檔 {} 第 {line} 行", path.display()),
        Source::Env(var) => format!("環境變數 {var}"),
        Source::Flag(flag) => format!("參數 {flag}"),
    };
    match error {
        ConfigError::Read { path, source } => {
            let why = match source.kind() {
                std::io::ErrorKind::NotFound => "檔案不存在",
                std::io::ErrorKind::PermissionDenied => {
                    "此帳號沒有讀取權限（設定檔只給服務帳號讀取：請以 sudo -u mask-agent 執行）"
                }
                _ => "讀取失敗",
            };
            format!("無法讀取設定檔 {}：{why}", path.display())
        }
        ConfigError::Parse { path, .. } => {
            format!(
                "設定檔 {} 的格式不正確（TOML 語法或欄位名稱）",
                path.display()
            )
        }
        ConfigError::Invalid {
            key,
            value,
            origin: source,
            ..
        } => format!("{key} 的值 {value:?} 無效（來自{}）", origin(source)),
        ConfigError::Missing { key, env } => {
            format!("尚未設定 {key}（設定檔的 {key}，或環境變數 {env}）")
        }
        ConfigError::NoDataDir => "找不到資料夾：請設定 data_dir".to_owned(),
    }
}

/// What to do when the journal cannot be read (the reader changed nothing).
fn read_fix_zh(cause: JournalCause) -> &'static str {
    match cause {
        JournalCause::Missing => {
            "請以 mask-agent config 確認 data_dir；日誌在服務第一次啟動時建立。"
        }
        JournalCause::OlderSchema | JournalCause::Unsettled => {
            "請啟動 mask-agent 服務一次（它會更新並復原日誌），再執行此指令。"
        }
        JournalCause::NewerSchema => "請改用寫入此日誌的較新版 mask-agent；不支援降版。",
        _ => "請執行 mask-agent doctor 檢查。",
    }
}

fn read_fix_en(cause: JournalCause) -> &'static str {
    match cause {
        JournalCause::Missing => {
            "Check data_dir with `mask-agent config`; the service creates the journal when it first starts."
        }
        JournalCause::OlderSchema | JournalCause::Unsettled => {
            "Start the mask-agent service once (it upgrades and recovers the journal), then run this again."
        }
        JournalCause::NewerSchema => {
            "Use the newer mask-agent that wrote this journal; downgrades are not supported."
        }
        _ => "Run `mask-agent doctor`.",
    }
}

/// "程式 C:\x.exe（PID 77）" / "another program" for the pipe messages.
fn holder_zh(holder: Option<&NotTheAgent>) -> String {
    match holder {
        Some(NotTheAgent {
            pid,
            image: Some(image),
        }) => format!("程式 {image}（PID {pid}）"),
        Some(NotTheAgent { pid, image: None }) => format!("程式 PID {pid}（無法讀取路徑）"),
        None => "其他程式".into(),
    }
}

/// "process 77 (C:\x.exe)" / "another process", for the pipe messages and errors.
pub(crate) fn holder_en(holder: Option<&NotTheAgent>) -> String {
    match holder {
        Some(NotTheAgent {
            pid,
            image: Some(image),
        }) => format!("process {pid} ({image})"),
        Some(NotTheAgent { pid, image: None }) => format!("process {pid} (image path unreadable)"),
        None => "another process".into(),
    }
}

fn refusal_zh(reason: &RefusalReason) -> String {
    match reason {
        RefusalReason::Window => "本期已購買額度用完".into(),
        RefusalReason::Closed => "今日不販售".into(),
        RefusalReason::Weekday => "今日非此身分證號尾數的購買日".into(),
        RefusalReason::Hours => "不在販售時段".into(),
        RefusalReason::NotStarted => "實名制尚未開始".into(),
        RefusalReason::Quota => "購買數量超過可購買數量".into(),
        RefusalReason::OfflineLimit => "離線販售已達上限，請待恢復連線".into(),
        RefusalReason::TokenRefused => "中央伺服器拒絕本藥局憑證，請聯絡中央服務台".into(),
        RefusalReason::ServerRefused => "中央伺服器拒絕此查詢".into(),
        RefusalReason::Other(code) => format!("不符合購買規則（代碼 {code}）"),
    }
}

fn refusal_en(reason: &RefusalReason) -> String {
    match reason {
        RefusalReason::Window => "the quantity of this purchase window is used up".into(),
        RefusalReason::Closed => "no sales today".into(),
        RefusalReason::Weekday => "this ID's last digit may not buy today".into(),
        RefusalReason::Hours => "outside sales hours".into(),
        RefusalReason::NotStarted => "rationing has not started".into(),
        RefusalReason::Quota => "more than the quantity still allowed".into(),
        RefusalReason::OfflineLimit => {
            "the offline selling limit is reached; wait for the server".into()
        }
        RefusalReason::TokenRefused => {
            "the server refuses this pharmacy's token; call the central helpdesk".into()
        }
        RefusalReason::ServerRefused => "the server refused this check".into(),
        RefusalReason::Other(code) => format!("not allowed by the rules (code {code})"),
    }
}

/// The plain-text report of `mask-agent status`, one `label value` line each, in `lang`
/// (`status --json` is the script-friendly form; this one is read by people).
pub fn status_report(status: &mask_protocol::StatusReport, lang: Language) -> String {
    use mask_protocol::Connectivity as C;
    let s = &status.sync;
    let zh = lang == Language::ZhTw;
    let pick = |zh_text: &str, en_text: &str| if zh { zh_text } else { en_text }.to_owned();
    let mut rows: Vec<(String, String)> = Vec::new();
    let site = match &status.site_name {
        Some(name) => format!("{} {name}", status.site_code),
        None => status.site_code.clone(),
    };
    rows.push((pick("藥局", "site"), site));
    let server = match s.connectivity {
        C::Online => pick("連線正常", "online"),
        C::Offline => pick(
            "無法連線（離線販售中）",
            "offline (selling on local decisions)",
        ),
        C::Unknown => pick("尚未連線", "not reached yet"),
        C::TokenRefused => pick(
            "憑證遭拒，請聯絡中央服務台",
            "token refused: call the central helpdesk",
        ),
    };
    rows.push((pick("中央伺服器", "server"), server));
    rows.push((
        pick("待上傳", "queued"),
        if zh {
            format!("銷售 {} 筆，其他 {} 筆", s.queued, s.queued_other)
        } else {
            format!("{} sales, {} other", s.queued, s.queued_other)
        },
    ));
    let last_sync = s
        .last_sync
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| pick("尚無", "-"));
    rows.push((pick("上次同步", "last sync"), last_sync));
    if let Some(error) = &s.last_error {
        rows.push((pick("最近錯誤", "last error"), error.clone()));
    }
    rows.push((pick("超賣記錄", "overruns"), s.overruns.to_string()));
    if s.attention > 0 {
        rows.push((
            pick("需處理", "attention"),
            if zh {
                format!(
                    "{} 筆記錄中央伺服器不收（請執行 mask-agent doctor）",
                    s.attention
                )
            } else {
                format!(
                    "{} records the server would not take (see `mask-agent doctor`)",
                    s.attention
                )
            },
        ));
    }
    let listed = if status.listing.listed {
        pick("已上架（在開放資料中）", "yes")
    } else {
        pick("已下架（不在開放資料中）", "no (delisted)")
    };
    rows.push((pick("開放資料", "listed"), listed));
    let mut note = match &status.note.text {
        Some(text) => text.clone(),
        None => pick("（無）", "(none)"),
    };
    if !status.note.synced && status.note.changed_at.is_some() {
        note.push_str(&pick("（尚未上傳）", " (not on the server yet)"));
    }
    rows.push((pick("公開告示", "note"), note));
    if status.readers.is_empty() {
        rows.push((pick("讀卡機", "readers"), pick("（無）", "(none)")));
    }
    for reader in &status.readers {
        let card = match (reader.card_present, zh) {
            (true, true) => "有卡",
            (false, true) => "無卡",
            (true, false) => "card: yes",
            (false, false) => "card: no",
        };
        rows.push((
            pick("讀卡機", "reader"),
            if zh {
                format!("{}（{card}）", reader.name)
            } else {
                format!("{} ({card})", reader.name)
            },
        ));
    }
    let mut out = String::new();
    for (label, value) in rows {
        if zh {
            out.push_str(&format!("{label}：{value}\n"));
        } else {
            out.push_str(&format!("{label:<12}{value}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn status() -> mask_protocol::StatusReport {
        mask_protocol::StatusReport {
            agent_version: "0.1.0".into(),
            site_code: "0145080011".into(),
            site_name: Some("台北市立聯合醫院".into()),
            sync: mask_protocol::SyncStatus {
                connectivity: mask_protocol::Connectivity::Online,
                queued: 2,
                queued_other: 1,
                last_sync: None,
                last_error: None,
                overruns: 0,
                attention: 1,
                clock_offset_s: None,
            },
            readers: vec![mask_protocol::ReaderState {
                name: "Virtual PCD 00 00".into(),
                card_present: true,
            }],
            listing: mask_protocol::ListingState {
                listed: true,
                changed_at: None,
                synced: true,
            },
            note: mask_protocol::NoteState::default(),
            counter: mask_protocol::CounterState::Waiting,
            policy_cached: true,
        }
    }

    // Regression (issue #13): `mask-agent status` printed English labels and Rust Debug names
    // (`server      Online`, `listed      true`) whatever the language.
    #[test]
    fn the_status_report_is_in_the_chosen_language_without_debug_names() {
        use mask_protocol::Connectivity as C;
        for connectivity in [C::Online, C::Offline, C::Unknown, C::TokenRefused] {
            let mut report = status();
            report.sync.connectivity = connectivity;
            let zh = status_report(&report, Language::ZhTw);
            for debug in [
                "Online",
                "Offline",
                "Unknown",
                "TokenRefused",
                "true",
                "false",
            ] {
                assert!(!zh.contains(debug), "{debug} in:\n{zh}");
            }
            // No English words but the command to run and the reader's own name.
            let prose = zh
                .replace("mask-agent doctor", "")
                .replace("Virtual PCD", "");
            assert!(
                !prose.chars().any(|c| c.is_ascii_alphabetic()),
                "English in:\n{zh}"
            );
            let en = status_report(&report, Language::En);
            assert!(!en.contains(&format!("{connectivity:?}")), "{en}");
        }
        let zh = status_report(&status(), Language::ZhTw);
        assert!(zh.contains("藥局：0145080011 台北市立聯合醫院"), "{zh}");
        assert!(zh.contains("中央伺服器：連線正常"), "{zh}");
        assert!(zh.contains("銷售 2 筆，其他 1 筆"), "{zh}");
        assert!(zh.contains("公開告示：（無）"), "{zh}");
        let en = status_report(&status(), Language::En);
        assert!(en.contains("server      online"), "{en}");
        assert!(en.contains("note        (none)"), "{en}");
        // The public note, and whether the server has it yet.
        let mut noted = status();
        noted.note = mask_protocol::NoteState {
            text: Some("今日口罩已售完，明早 9 點進貨".into()),
            changed_at: Some(time::macros::datetime!(2020-02-06 10:00 UTC)),
            synced: false,
        };
        let zh = status_report(&noted, Language::ZhTw);
        assert!(
            zh.contains("公開告示：今日口罩已售完，明早 9 點進貨（尚未上傳）"),
            "{zh}"
        );
        noted.note.synced = true;
        let en = status_report(&noted, Language::En);
        assert!(
            en.contains("note        今日口罩已售完，明早 9 點進貨\n"),
            "{en}"
        );
        assert!(
            en.contains("site        0145080011 台北市立聯合醫院"),
            "{en}"
        );
    }

    #[test]
    fn a_pipe_squatter_is_named_by_path_and_pid_in_both_languages() {
        let squatter = NotTheAgent {
            pid: 77,
            image: Some(r"C:\Users\clerk\evil.exe".into()),
        };
        for lang in [Language::ZhTw, Language::En] {
            let refused = Msg::NotTheAgent(squatter.clone()).text(lang);
            assert!(refused.contains(r"C:\Users\clerk\evil.exe"), "{refused}");
            assert!(refused.contains("77"), "{refused}");
            let taken = Msg::Listen(pipe_taken(Some(squatter.clone()))).text(lang);
            assert!(taken.contains(r"C:\Users\clerk\evil.exe"), "{taken}");
        }
        assert!(
            Msg::NotTheAgent(squatter)
                .text(Language::ZhTw)
                .contains("資訊人員")
        );
        assert!(
            Msg::Listen(pipe_taken(None))
                .text(Language::ZhTw)
                .contains("其他程式")
        );
    }

    fn pipe_taken(holder: Option<NotTheAgent>) -> ListenError {
        ListenError::PipeTaken {
            name: r"\\.\pipe\mask-agent".into(),
            holder,
        }
    }

    #[test]
    fn languages_parse_from_common_spellings() {
        assert_eq!(Language::parse("zh-TW"), Some(Language::ZhTw));
        assert_eq!(Language::parse("zh_tw"), Some(Language::ZhTw));
        assert_eq!(Language::parse("EN"), Some(Language::En));
        assert_eq!(Language::parse("fr"), None);
    }

    #[test]
    fn refusals_name_the_reason_in_both_languages() {
        let msg = Msg::SaleRefused {
            reason: RefusalReason::Weekday,
            next_date: Some(time::macros::date!(2020 - 03 - 13)),
        };
        assert!(msg.text(Language::ZhTw).contains("2020-03-13"));
        assert!(msg.text(Language::En).contains("last digit"));
        // A code of a newer server is shown with its code, not as a known reason.
        let unknown = Msg::SaleRefused {
            reason: RefusalReason::from("tuesday_only".to_owned()),
            next_date: None,
        };
        assert_eq!(
            unknown.text(Language::ZhTw),
            "不可販售：不符合購買規則（代碼 tuesday_only）"
        );
        assert!(unknown.text(Language::En).contains("(code tuesday_only)"));
    }

    #[test]
    fn journal_problems_are_named_in_chinese_with_the_detail_kept_apart() {
        let causes = [
            JournalCause::Permission,
            JournalCause::ReadOnly,
            JournalCause::Missing,
            JournalCause::Locked,
            JournalCause::DiskFull,
            JournalCause::Corrupt,
            JournalCause::Other,
        ];
        for cause in causes {
            let msg = Msg::JournalUnavailable {
                cause,
                detail: "database disk image is malformed".into(),
            };
            let zh = msg.text(Language::ZhTw);
            let (words, detail) = zh.split_once("（技術細節：").unwrap();
            assert!(words.contains(cause.zh()), "{zh}");
            // No English but the command to run.
            let prose = words.replace("mask-agent doctor", "");
            assert!(!prose.chars().any(|c| c.is_ascii_alphabetic()), "{zh}");
            assert!(detail.starts_with("database disk image"), "{zh}");
            assert!(
                msg.text(Language::En)
                    .contains("database disk image is malformed")
            );
        }
    }

    #[test]
    fn messages_with_an_os_or_library_detail_keep_it_apart_in_chinese() {
        let refused = || std::io::Error::other("connection refused (os error 111)");
        let msgs = [
            Msg::ServerSetup(crate::server::ServerError::Url("not a URL".into())),
            Msg::AgentNotRunning(crate::local_api::ClientError::Connect {
                endpoint: "/run/mask-agent/agent.sock".into(),
                source: refused(),
            }),
            Msg::ServerUnreachable(crate::server::ServerError::Connect(
                "connection refused (os error 111)".into(),
            )),
            Msg::ProtocolError(ProtocolProblem::Client(
                crate::local_api::ClientError::Version(7),
            )),
            Msg::Listen(ListenError::Io {
                path: "/run/mask-agent/agent.sock".into(),
                source: refused(),
            }),
            Msg::Internal(Internal::Runtime(refused())),
            Msg::Internal(Internal::File {
                path: "/tmp/export.csv".into(),
                source: refused(),
            }),
            Msg::Service(crate::service::ServiceError::NoServiceManager(
                "systemd is not running".into(),
            )),
        ];
        for msg in msgs {
            let detail = match &msg {
                Msg::ServerSetup(e) | Msg::ServerUnreachable(e) => e.to_string(),
                Msg::AgentNotRunning(e) => e.to_string(),
                Msg::ProtocolError(e) => e.to_string(),
                Msg::Listen(e) => e.to_string(),
                Msg::Internal(e) => e.to_string(),
                Msg::Service(e) => e.to_string(),
                other => panic!("{other:?}"),
            };
            let zh = msg.text(Language::ZhTw);
            let (words, kept) = zh
                .split_once("（技術細節：")
                .unwrap_or_else(|| panic!("no detail kept apart: {zh}"));
            assert_eq!(kept, format!("{detail}）"), "{zh}");
            // The sentence itself is Chinese but for commands, file and variable names.
            let prose = [
                "mask-agent doctor",
                "mask-agent config",
                "mask-agent run",
                "mask-agent",
                "MASK_AGENT_SOCKET",
                "socket",
                "README.md",
            ]
            .iter()
            .fold(words.to_owned(), |w, name| w.replace(name, ""));
            assert!(!prose.chars().any(|c| c.is_ascii_alphabetic()), "{zh}");
            assert!(msg.text(Language::En).contains(&detail));
        }
    }

    #[test]
    fn config_problems_are_named_in_chinese_with_the_detail_kept_apart() {
        use crate::config::{ConfigError, Source};
        let path = std::path::PathBuf::from("/etc/mask-agent/agent.toml");
        let parse = toml::from_str::<toml::Table>("site_code = ").unwrap_err();
        let errors = [
            ConfigError::Read {
                path: path.clone(),
                source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
            },
            ConfigError::Read {
                path: path.clone(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            },
            ConfigError::Parse {
                path: path.clone(),
                source: Box::new(parse),
            },
            ConfigError::Invalid {
                key: "server_url",
                value: "ftp://x".into(),
                origin: Source::Env("MASK_AGENT_SERVER_URL"),
                reason: "must be http or https".into(),
            },
            ConfigError::Invalid {
                key: "server_url",
                value: "ftp://x".into(),
                origin: Source::File {
                    path: path.clone(),
                    line: Some(3),
                },
                reason: "must be http or https".into(),
            },
            ConfigError::Missing {
                key: "token",
                env: "MASK_AGENT_TOKEN",
            },
            ConfigError::NoDataDir,
        ];
        for error in errors {
            let expected = error.to_string();
            let from_file = matches!(
                error,
                ConfigError::Invalid {
                    origin: Source::File { .. },
                    ..
                }
            );
            let msg = Msg::Config(error);
            let zh = msg.text(Language::ZhTw);
            if from_file {
                assert!(
                    zh.contains("設定檔 /etc/mask-agent/agent.toml 第 3 行"),
                    "{zh}"
                );
            }
            let (words, detail) = zh.split_once("（技術細節：").unwrap();
            // No English but names the user types or sees: paths, keys, variables, commands.
            let prose = [
                "/etc/mask-agent/agent.toml",
                "mask-agent config",
                "sudo -u mask-agent",
                "MASK_AGENT_SERVER_URL",
                "MASK_AGENT_TOKEN",
                "server_url",
                "ftp://x",
                "token",
                "data_dir",
                "TOML",
            ]
            .iter()
            .fold(words.to_owned(), |w, name| w.replace(name, ""));
            assert!(!prose.chars().any(|c| c.is_ascii_alphabetic()), "{zh}");
            assert_eq!(detail.trim_end_matches('）'), expected, "{zh}");
            assert!(msg.text(Language::En).contains(&expected));
        }
    }

    #[test]
    fn a_journal_that_cannot_be_read_says_what_to_do_in_chinese() {
        let cases = [
            (JournalCause::Missing, "data_dir"),
            (JournalCause::OlderSchema, "啟動 mask-agent 服務一次"),
            (JournalCause::Unsettled, "啟動 mask-agent 服務一次"),
            (JournalCause::NewerSchema, "較新版 mask-agent"),
            (JournalCause::Corrupt, "mask-agent doctor"),
        ];
        for (cause, fix) in cases {
            let msg = Msg::JournalUnreadable {
                cause,
                detail: "journal schema version 1 is older".into(),
            };
            let zh = msg.text(Language::ZhTw);
            let (words, detail) = zh.split_once("（技術細節：").unwrap();
            assert!(words.starts_with("無法讀取銷售日誌："), "{zh}");
            assert!(words.contains(cause.zh()) && words.contains(fix), "{zh}");
            // Nothing was written: the message must not say a sale was lost.
            assert!(!words.contains("未記錄"), "{zh}");
            assert!(detail.starts_with("journal schema"), "{zh}");
            assert!(
                msg.text(Language::En)
                    .starts_with("Cannot read the sale journal")
            );
        }
    }

    #[test]
    fn a_journal_file_that_is_not_a_database_is_called_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.sqlite3");
        std::fs::write(
            &path,
            b"this is not an SQLite file, just forty-odd bytes of text",
        )
        .unwrap();
        let error = crate::journal::Journal::open(&path)
            .err()
            .expect("a text file is no journal");
        assert_eq!(error.cause(), JournalCause::Corrupt, "{error}");
        assert!(
            Msg::journal(&error)
                .text(Language::ZhTw)
                .contains("日誌檔已損毀")
        );
    }

    // Regression: the zh-TW message for a mistyped ID used to embed the validator's English text
    // ("身分證號不正確：ID number check digit does not match…").
    #[test]
    fn a_bad_id_is_explained_in_the_chosen_language_only() {
        let errors = [
            IdError::Empty,
            IdError::WrongLength { len: 9 },
            IdError::BadFirstLetter,
            IdError::BadSecondCharacter,
            IdError::NonDigit { position: 4 },
            IdError::Checksum,
            IdError::Masked,
        ];
        for e in errors {
            let zh = Msg::InvalidId(e).text(Language::ZhTw);
            assert!(!zh.contains("ID number"), "{zh}");
            assert!(
                zh.starts_with("身分證號不正確：") && zh.ends_with("請核對證件後重新輸入。"),
                "{zh}"
            );
            let en = Msg::InvalidId(e).text(Language::En);
            assert!(en.contains(&e.to_string()), "{en}");
        }
        assert!(
            Msg::InvalidId(IdError::Checksum)
                .text(Language::ZhTw)
                .contains("檢查碼不符")
        );
    }

    #[test]
    fn a_refused_public_note_says_what_is_wrong_and_what_to_do_in_both_languages() {
        let long = Msg::InvalidNote(mask_api::NoteError::TooLong { chars: 45 });
        let zh = long.text(Language::ZhTw);
        assert!(
            zh.contains("45") && zh.contains("40") && zh.contains("請縮短"),
            "{zh}"
        );
        assert!(long.text(Language::En).contains("45 characters"));
        let control = Msg::InvalidNote(mask_api::NoteError::ControlChar);
        assert!(control.text(Language::ZhTw).contains("一行"));
        assert!(control.text(Language::En).contains("control character"));
        let invisible = Msg::InvalidNote(mask_api::NoteError::Invisible { code: 0x202E });
        assert_eq!(
            invisible.text(Language::ZhTw),
            "公告含看不見的格式字元（U+202E，會改變或隱藏顯示的文字）。請重新輸入後再存。"
        );
        assert!(invisible.text(Language::En).contains("U+202E"));
    }
}
