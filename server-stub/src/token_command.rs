//! `mask-server-stub token …`: issue, list, revoke and rotate bearer tokens on a store, with or
//! without a server running on it. Tokens themselves are printed once, when issued; afterwards
//! they are named by their short id (the start of the stored hash).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use mask_cli::exit;
use mask_cli::help::{BadValue, ZhHelp};
use mask_server_stub::{ServerConfig, TOKEN_ID_LEN, TokenInfo, TokenSelector};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{Failure, database, server_failure};
use crate::messages::{Lang, Msg, text};

/// Longest overlap of a rotation: a year.
const MAX_OVERLAP_HOURS: f64 = 8_760.0;

/// The token commands' help in zh-TW (the English is on the fields); keys from the top.
pub const ZH_HELP: &ZhHelp = &[
    (
        "token issue",
        "為一個藥局（或加 --audit 為中央稽核）核發新的 bearer token 並印出（只存雜湊值）",
    ),
    (
        "token issue:site",
        "藥局代碼（10 個字元，例如 0145080011 或 592202A296）",
    ),
    (
        "token issue:audit",
        "中央稽核人員的唯讀 token（只能用稽核與報表路徑），不是藥局的",
    ),
    ("token issue:expires_days", "幾天後到期（預設：永不到期）"),
    (
        "token list",
        "列出已存的 token：短代號、角色、藥局、核發、到期、撤銷（不會印出 token 本身）",
    ),
    ("token list:json", "輸出一個 JSON 陣列，而不是表格"),
    (
        "token revoke",
        "依短代號（見 `token list`）撤銷一個 token，或撤銷一個藥局的全部 token。使用同一資料庫的執行中伺服器幾秒內就會拒絕它們",
    ),
    (
        "token revoke:id",
        "token 的短代號（12 個十六進位數字，見 `token list`）",
    ),
    ("token revoke:site", "改為撤銷這個藥局的全部 token"),
    (
        "token rotate",
        "為一個藥局核發新 token 並印出；該藥局較舊的 token 在 --overlap-hours 內仍有效，之後失效（留時間換上新的）",
    ),
    ("token rotate:site", "藥局代碼"),
    (
        "token rotate:overlap_hours",
        "舊 token 仍有效的時數（0 = 立即失效；可用小數，最多 8760）",
    ),
    (
        "token rotate:expires_days",
        "新 token 幾天後到期（預設：永不到期）",
    ),
];

/// [`StoreArgs`]' help in zh-TW, for each token command.
pub const STORE_ARGS_ZH: &ZhHelp = &[
    (":data_dir", "伺服器的資料目錄"),
    (
        ":database",
        "`sqlite`（預設，放在資料目錄）或 postgres:// 網址",
    ),
];

#[derive(Args, Debug)]
pub struct StoreArgs {
    /// Data directory of the server.
    #[arg(long, default_value = "mask-server-data")]
    data_dir: PathBuf,
    /// `sqlite` (default, in the data dir) or a postgres:// URL.
    #[arg(long, default_value = "sqlite")]
    database: String,
}

#[derive(Subcommand, Debug)]
pub enum TokenAction {
    /// Issue a new bearer token for a site (or, with --audit, for the central audit) and print
    /// it (stored hashed only).
    Issue {
        #[command(flatten)]
        store: StoreArgs,
        /// Site code (10 characters, e.g. 0145080011 or 592202A296).
        #[arg(long, required_unless_present = "audit", conflicts_with = "audit")]
        site: Option<String>,
        /// A central auditor's read-only token (audit and report routes only), not a pharmacy's.
        #[arg(long)]
        audit: bool,
        /// Days until the token expires (default: never).
        #[arg(long)]
        expires_days: Option<u32>,
    },
    /// List the stored tokens: short id, role, site, issued, expires, revoked (never a token).
    List {
        #[command(flatten)]
        store: StoreArgs,
        /// One JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by its short id (see `token list`), or every token of a site. Running
    /// servers on the same store refuse them within a few seconds.
    Revoke {
        #[command(flatten)]
        store: StoreArgs,
        /// The token's short id (12 hex digits, from `token list`).
        #[arg(required_unless_present = "site", conflicts_with = "site")]
        id: Option<String>,
        /// Revoke every token of this site instead.
        #[arg(long)]
        site: Option<String>,
    },
    /// Issue a new token for a site and print it; the site's older tokens stay valid for
    /// --overlap-hours, then expire (time to install the new one).
    Rotate {
        #[command(flatten)]
        store: StoreArgs,
        /// Site code.
        #[arg(long)]
        site: String,
        /// Hours the old tokens stay valid (0 = they stop now; fractions allowed, at most 8760).
        #[arg(long, value_parser = overlap_hours)]
        overlap_hours: f64,
        /// Days until the new token expires (default: never).
        #[arg(long)]
        expires_days: Option<u32>,
    },
}

fn overlap_hours(arg: &str) -> Result<f64, BadValue> {
    match arg.parse::<f64>() {
        Ok(h) if (0.0..=MAX_OVERLAP_HOURS).contains(&h) => Ok(h),
        _ => Err(BadValue {
            en: format!("a number of hours from 0 to {MAX_OVERLAP_HOURS}"),
            zh: format!("請填 0 到 {MAX_OVERLAP_HOURS} 的時數"),
        }),
    }
}

fn config(lang: Lang, store: &StoreArgs) -> Result<ServerConfig, Failure> {
    let mut config = ServerConfig::new(&store.data_dir);
    config.database = database(lang, &store.database)?;
    Ok(config)
}

fn days(d: Option<u32>) -> Option<time::Duration> {
    d.map(|d| time::Duration::days(i64::from(d)))
}

/// Runs one token command.
pub async fn run(lang: Lang, action: TokenAction) -> Result<(), Failure> {
    match action {
        TokenAction::Issue {
            store,
            site,
            audit,
            expires_days,
        } => {
            let config = config(lang, &store)?;
            let (token, holder) = match site {
                Some(site) if !audit => (
                    mask_server_stub::issue_token(&config, &site, days(expires_days)).await,
                    site,
                ),
                _ => (
                    mask_server_stub::issue_audit_token(&config, days(expires_days)).await,
                    text(lang, &Msg::AuditHolder),
                ),
            };
            let token = token.map_err(|e| server_failure(lang, &e))?;
            eprintln!("{}", text(lang, &Msg::TokenIssued(&holder)));
            println!("{token}");
            Ok(())
        }
        TokenAction::List { store, json } => {
            let config = config(lang, &store)?;
            let tokens = mask_server_stub::list_tokens(&config)
                .await
                .map_err(|e| server_failure(lang, &e))?;
            if json {
                println!("{}", list_json(&tokens));
            } else if tokens.is_empty() {
                eprintln!("{}", text(lang, &Msg::NoTokens));
            } else {
                print!("{}", list_table(lang, &tokens));
            }
            Ok(())
        }
        TokenAction::Revoke { store, id, site } => {
            let config = config(lang, &store)?;
            let (which, named) = match (id, site) {
                (Some(id), _) => {
                    if id.len() != TOKEN_ID_LEN || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return Err(Failure(exit::USAGE, text(lang, &Msg::BadTokenId(&id))));
                    }
                    (TokenSelector::Id(id.clone()), id)
                }
                (None, Some(site)) => (TokenSelector::Site(site.clone()), site),
                // clap requires one of the two.
                (None, None) => return Err(Failure(exit::USAGE, text(lang, &Msg::BadTokenId("")))),
            };
            let (selected, revoked) = mask_server_stub::revoke_tokens(&config, which)
                .await
                .map_err(|e| server_failure(lang, &e))?;
            if selected == 0 {
                return Err(Failure(exit::USAGE, text(lang, &Msg::NoSuchToken(&named))));
            }
            eprintln!(
                "{}",
                text(lang, &Msg::TokensRevoked(revoked, selected - revoked))
            );
            Ok(())
        }
        TokenAction::Rotate {
            store,
            site,
            overlap_hours,
            expires_days,
        } => {
            let config = config(lang, &store)?;
            // Whole milliseconds: what storage keeps.
            let overlap =
                time::Duration::milliseconds((overlap_hours * 3_600_000.0).round() as i64);
            let (token, old) =
                mask_server_stub::rotate_token(&config, &site, overlap, days(expires_days))
                    .await
                    .map_err(|e| server_failure(lang, &e))?;
            let until = rfc3339(Some(OffsetDateTime::now_utc() + overlap));
            eprintln!("{}", text(lang, &Msg::TokenRotated(&site, old, &until)));
            println!("{token}");
            Ok(())
        }
    }
}

/// An instant as RFC 3339 in UTC, whole seconds; `None` as an empty string.
fn rfc3339(at: Option<OffsetDateTime>) -> String {
    at.and_then(|t| t.replace_nanosecond(0).ok())
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

fn list_json(tokens: &[TokenInfo]) -> String {
    let opt = |t: Option<OffsetDateTime>| (t.is_some()).then(|| rfc3339(t));
    let rows: Vec<serde_json::Value> = tokens
        .iter()
        .map(|t| {
            serde_json::json!({
                "id": t.id,
                "role": t.record.role.as_str(),
                "site": (!t.record.site.is_empty()).then_some(&t.record.site),
                "created_at": rfc3339(Some(t.created_at)),
                "expires_at": opt(t.record.expires_at),
                "revoked_at": opt(t.record.revoked_at),
            })
        })
        .collect();
    serde_json::Value::Array(rows).to_string()
}

fn list_table(lang: Lang, tokens: &[TokenInfo]) -> String {
    let dash = |s: String| if s.is_empty() { "-".to_owned() } else { s };
    let mut out = format!("{}\n", text(lang, &Msg::TokenListHeader));
    for t in tokens {
        out.push_str(&format!(
            "{:<12}  {:<8}  {:<10}  {:<20}  {:<20}  {}\n",
            t.id,
            t.record.role.as_str(),
            dash(t.record.site.clone()),
            rfc3339(Some(t.created_at)),
            dash(rfc3339(t.record.expires_at)),
            dash(rfc3339(t.record.revoked_at)),
        ));
    }
    out
}
