//! Every user-facing message of the binary, in Traditional Chinese (default) and English.
//! Each says what went wrong and what to do.

/// Output language: the workspace's one type, picked by its one rule (`Lang::detect`: this
/// binary has no `--lang`, so `MASK_LANG`, `LC_ALL`, `LC_MESSAGES`, `LANG`, then zh-TW).
pub use mask_cli::Language as Lang;

/// A message of the binary.
#[derive(Debug)]
pub enum Msg<'a> {
    /// `--listen` missing.
    ListenRequired,
    /// `--plain-http` on a non-loopback address.
    PlainHttpNotLoopback(&'a str),
    /// `--tls-cert` without `--tls-key` or the reverse.
    TlsPair,
    BadDatabase(&'a str),
    BadAsOf(&'a str),
    Bind(&'a str, &'a str),
    Server(&'a str),
    /// Unknown site code for a token.
    UnknownSite(&'a str),
    /// Listening (startup line).
    Listening(&'a str),
    /// Certificate to pin (startup line).
    Certificate(&'a str),
    /// Token issued (stderr note; the token itself goes to stdout alone).
    TokenIssued(&'a str),
    /// Who an audit token is for (in the token-issued note).
    AuditHolder,
    /// `token list` on a store without tokens.
    NoTokens,
    /// The column names of `token list`.
    TokenListHeader,
    /// `token revoke` with something that is not a short token id.
    BadTokenId(&'a str),
    /// `token revoke`: no token has this id (or the site has none).
    NoSuchToken(&'a str),
    /// Tokens revoked now, and how many of those selected were revoked before.
    TokensRevoked(u64, u64),
    /// A rotation: the site, how many old tokens now expire, and when.
    TokenRotated(&'a str, u64, &'a str),
}

/// The text of a message.
pub fn text(lang: Lang, msg: &Msg<'_>) -> String {
    use Msg::*;
    match (lang, msg) {
        (Lang::ZhTw, ListenRequired) => "錯誤：未指定 --listen 位址。請加上 --listen 127.0.0.1:PORT。".into(),
        (Lang::En, ListenRequired) => "error: no --listen address. Add --listen 127.0.0.1:PORT.".into(),
        (Lang::ZhTw, PlainHttpNotLoopback(a)) => format!("錯誤：--plain-http 只能用於本機迴路位址，{a} 不是。請改聽 127.0.0.1，或拿掉 --plain-http 改用 HTTPS。"),
        (Lang::En, PlainHttpNotLoopback(a)) => format!("error: --plain-http is allowed on loopback only and {a} is not. Listen on 127.0.0.1, or drop --plain-http to use HTTPS."),
        (Lang::ZhTw, TlsPair) => "錯誤：--tls-cert 與 --tls-key 必須一起指定。請兩個都給，或都不給（自動產生自簽憑證）。".into(),
        (Lang::En, TlsPair) => "error: --tls-cert and --tls-key go together. Give both, or neither (a self-signed certificate is generated).".into(),
        (Lang::ZhTw, BadDatabase(d)) => format!("錯誤：無法辨識的 --database「{d}」。請用 sqlite 或 postgres://使用者:密碼@主機:埠/資料庫。"),
        (Lang::En, BadDatabase(d)) => format!("error: unrecognised --database {d:?}. Use sqlite or postgres://user:pass@host:port/db."),
        (Lang::ZhTw, BadAsOf(v)) => format!("錯誤：--as-of「{v}」不是 RFC 3339 時間。例如 2020-03-12T09:00:00+08:00。"),
        (Lang::En, BadAsOf(v)) => format!("error: --as-of {v:?} is not an RFC 3339 time. Example: 2020-03-12T09:00:00+08:00."),
        (Lang::ZhTw, Bind(a, e)) => format!("錯誤：無法監聽 {a}（{e}）。請確認埠號未被占用。"),
        (Lang::En, Bind(a, e)) => format!("error: cannot listen on {a} ({e}). Check that the port is free."),
        (Lang::ZhTw, Server(e)) => format!("錯誤：伺服器無法執行：{e}。請檢查資料目錄權限與資料庫設定。"),
        (Lang::En, Server(e)) => format!("error: the server cannot run: {e}. Check the data directory permissions and database settings."),
        (Lang::ZhTw, UnknownSite(s)) => format!("錯誤：醫事機構代碼「{s}」不在名冊中。請確認 10 碼代碼（可含英文字母）。"),
        (Lang::En, UnknownSite(s)) => format!("error: site code {s:?} is not in the registry. Check the 10-character code (it may contain letters)."),
        (Lang::ZhTw, Listening(u)) => format!("服務中：{u}"),
        (Lang::En, Listening(u)) => format!("listening on {u}"),
        (Lang::ZhTw, Certificate(p)) => format!("憑證（供代理程式釘選）：{p}"),
        (Lang::En, Certificate(p)) => format!("certificate (pin it in the agent): {p}"),
        (Lang::ZhTw, TokenIssued(s)) => format!("已為 {s} 發出權杖（只顯示這一次，請妥善保存）。"),
        (Lang::En, TokenIssued(s)) => format!("token issued for {s} (shown only once; keep it safe)."),
        (Lang::ZhTw, AuditHolder) => "中央稽核（唯讀）".into(),
        (Lang::En, AuditHolder) => "the central audit (read-only)".into(),
        (Lang::ZhTw, NoTokens) => "尚未發出任何權杖。請用 token issue 發出。".into(),
        (Lang::En, NoTokens) => "no tokens issued yet. Issue one with token issue.".into(),
        (Lang::ZhTw, TokenListHeader) => "代號          角色      機構代碼    發出時間              到期時間              撤銷時間".into(),
        (Lang::En, TokenListHeader) => "id            role      site        created               expires               revoked".into(),
        (Lang::ZhTw, BadTokenId(i)) => format!("錯誤：「{i}」不是權杖代號。代號是 12 位十六進位數字，請用 token list 查看。"),
        (Lang::En, BadTokenId(i)) => format!("error: {i:?} is not a token id. An id is 12 hex digits; see token list."),
        (Lang::ZhTw, NoSuchToken(i)) => format!("錯誤：沒有符合「{i}」的權杖。請用 token list 查看代號與機構代碼。"),
        (Lang::En, NoSuchToken(i)) => format!("error: no token matches {i:?}. See token list for ids and sites."),
        (Lang::ZhTw, TokensRevoked(n, before)) => format!("已撤銷 {n} 個權杖（另有 {before} 個先前已撤銷）。執行中的伺服器會在數秒內拒絕它們。"),
        (Lang::En, TokensRevoked(n, before)) => format!("revoked {n} token(s) ({before} more were revoked before). Running servers refuse them within a few seconds."),
        (Lang::ZhTw, TokenRotated(s, n, until)) => format!("已為 {s} 發出新權杖（只顯示這一次，請妥善保存）；舊權杖 {n} 個在 {until} 前仍有效，之後失效。請在那之前把新權杖裝到藥局。"),
        (Lang::En, TokenRotated(s, n, until)) => format!("new token issued for {s} (shown only once; keep it safe); its {n} old token(s) stay valid until {until}, then expire. Install the new one at the pharmacy before then."),
    }
}
