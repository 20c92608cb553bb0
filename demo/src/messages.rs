//! mask-demo's own words (zh-TW and English): start-up progress, why the demo could not start
//! and what to do. What the counter screen shows during the demo is the screen's catalogue
//! (`terminal-ui/src/i18n.rs`).

use mask_terminal::Lang;

/// Demo start-up progress line.
#[cfg(unix)]
pub fn starting(lang: Lang, step: &str) -> String {
    match lang {
        Lang::ZhTw => format!("示範：啟動 {step}…"),
        Lang::En => format!("demo: starting {step}..."),
    }
}

/// Printed after the screen closes, while the demo stops its processes.
#[cfg(unix)]
pub fn stopping(lang: Lang) -> &'static str {
    match lang {
        Lang::ZhTw => "示範：正在停止所有示範程式並清除暫存資料…",
        Lang::En => "demo: stopping everything it started and removing its files...",
    }
}

/// The demo is Unix-only (it drives pcscd and vpcd).
#[cfg(not(unix))]
pub fn unix_only(lang: Lang) -> &'static str {
    match lang {
        Lang::ZhTw => {
            "示範模式需要 Linux 的 pcscd 與 vpcd 虛擬讀卡機，Windows 上請改用 mask-agent 搭配實體讀卡機"
        }
        Lang::En => {
            "The demo needs Linux (pcscd with the vpcd virtual reader); on Windows use mask-agent with a real reader"
        }
    }
}

/// Why the demo could not start, and what to do.
#[cfg(unix)]
pub fn start_error(lang: Lang, e: &crate::stack::DemoError) -> String {
    use crate::stack::DemoError;
    match (e, lang) {
        (DemoError::MissingBinary { name, dir }, Lang::ZhTw) => format!(
            "示範無法啟動：{} 中找不到 {name}。請先執行 cargo build --release --workspace",
            dir.display()
        ),
        (DemoError::MissingBinary { name, dir }, Lang::En) => format!(
            "Demo cannot start: {name} is not in {}. Run cargo build --release --workspace first",
            dir.display()
        ),
        (DemoError::Pcsc { detail }, Lang::ZhTw) => format!(
            "示範無法啟動：讀卡服務不可用（{detail}）。請以 root 執行 scripts/pcsc-stack.sh start，\
             或安裝 pcscd 與 vsmartcard-vpcd"
        ),
        (DemoError::Pcsc { detail }, Lang::En) => format!(
            "Demo cannot start: PC/SC is unavailable ({detail}). Run scripts/pcsc-stack.sh start \
             as root, or install pcscd and vsmartcard-vpcd"
        ),
        (DemoError::DidNotStart { what, log_tail }, Lang::ZhTw) => {
            format!("示範無法啟動：{what} 沒有啟動。它最後的記錄：\n{log_tail}")
        }
        (DemoError::DidNotStart { what, log_tail }, Lang::En) => {
            format!("Demo cannot start: {what} did not start. Its last log lines:\n{log_tail}")
        }
        (other, Lang::ZhTw) => format!("示範無法啟動：{other}"),
        (other, Lang::En) => format!("Demo cannot start: {other}"),
    }
}
