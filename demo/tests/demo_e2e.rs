//! The real demo, end to end, in tmux: `mask-demo` with the real server stub, agent,
//! pcscd + vpcd and virtual cards. After each step the screen, the agent's journal (SQLite) and
//! the server's open data are checked. Needs the PC/SC stack (gated like every PC/SC test:
//! skipped with a reason, or failed when REQUIRE_PCSC=1) and tmux.

use std::process::Command;
use std::time::Duration;

use crate::tmux::{DemoSession, bin_dir, process_alive};

const STEP: Duration = Duration::from_secs(20);
/// The open data is rebuilt every few seconds in the demo (`--refresh-secs`); allow several.
const OPEN_DATA: Duration = Duration::from_secs(60);

fn journal_count(session: &DemoSession, sql: &str) -> i64 {
    let path = session.state_str("journal");
    let conn =
        rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn open_data(session: &DemoSession) -> String {
    let url = format!("{}/maskdata.csv", session.state_str("server_url"));
    let out = Command::new("curl").args(["-sf", &url]).output().unwrap();
    assert!(out.status.success(), "GET {url} failed");
    String::from_utf8(out.stdout).unwrap()
}

fn wait_open_data(session: &DemoSession, listed: bool) {
    let site = session.state_str("site_code");
    let deadline = std::time::Instant::now() + OPEN_DATA;
    loop {
        let csv = open_data(session);
        let present = csv.lines().any(|l| l.starts_with(&format!("{site},")));
        if present == listed {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "open data still {} site {site}",
            if listed { "lacks" } else { "has" }
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The demo pharmacy's name in the server's registry (public `GET /v1/sites`).
fn registry_name(session: &DemoSession) -> String {
    let url = format!("{}/v1/sites", session.state_str("server_url"));
    let out = Command::new("curl").args(["-sf", &url]).output().unwrap();
    assert!(out.status.success(), "GET {url} failed");
    let sites: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let code = session.state_str("site_code");
    sites["sites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["code"] == code.as_str())
        .and_then(|s| s["name"].as_str())
        .unwrap()
        .to_owned()
}

/// Pids of the processes the demo started (its state file).
fn child_pids(session: &DemoSession) -> Vec<u64> {
    session.state["pids"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(serde_json::Value::as_u64)
        .collect()
}

fn tools_present() -> Option<std::path::PathBuf> {
    let tmux = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    let dir = bin_dir();
    match (tmux, dir) {
        (true, Some(d)) => Some(d),
        (false, _) => {
            assert!(!nhi_fixtures::pcsc_required(), "tmux is missing");
            eprintln!("skipped: tmux is not installed");
            None
        }
        (_, None) => {
            assert!(
                !nhi_fixtures::pcsc_required(),
                "mask-agent / mask-server-stub not built next to mask-demo"
            );
            eprintln!("skipped: build the workspace first (cargo build --release --workspace)");
            None
        }
    }
}

#[test]
fn demo_sells_enters_manually_stocks_in_delists_relists_goes_offline_and_quits_cleanly() {
    let Some(_lock) = nhi_fixtures::pcsc_gate(nhi_fixtures::VPCD_PORT, "demo end to end") else {
        return;
    };
    let Some(bins) = tools_present() else { return };
    let mut demo = DemoSession::start(&bins, &[], 100, 30);

    // Connected, online (the agent asks the server at start), reader ready, waiting for a card.
    demo.wait_for("waiting and online", STEP, |s| {
        s.contains("請插入健保卡") && s.contains("● 連線") && s.contains("讀卡機 就緒")
    });
    wait_open_data(&demo, true);
    // The header names the pharmacy as the registry does (issue #13).
    let name = registry_name(&demo);
    let header = format!("藥局 {} {name}", demo.state_str("site_code"));
    demo.wait_for("pharmacy name in the header", STEP, |s| s.contains(&header));

    // Insert card: the adult with an odd ID may buy 3 on the demo's Monday.
    demo.keys(&["c"]);
    let s = demo.wait_for("adult buyer", STEP, |s| {
        s.contains("A12****789") && s.contains("本次數量")
    });
    assert!(s.contains("王○明") && s.contains("3 片"), "{s}");
    // The amount to collect, from the dated price (5 NTD a mask in 2020).
    assert!(s.contains("應收") && s.contains("NT$15"), "{s}");
    assert!(!s.contains("A123456789"), "full ID on screen:\n{s}");

    // Sell: back to waiting, the sale journalled once.
    demo.keys(&["Enter"]);
    demo.wait_for("back to waiting", STEP, |s| {
        s.contains("請插入健保卡") && s.contains("已售出 3 片") && s.contains("應收 NT$15")
    });
    // Today's count on the counter screen itself.
    demo.wait_for("today's count", STEP, |s| {
        s.contains("今日已售 1 筆，共 3 片")
    });
    assert_eq!(
        journal_count(
            &demo,
            "SELECT count(*) FROM sales WHERE source = 'card' AND quantity = 3"
        ),
        1
    );

    // Next card: a child (exempt from odd/even).
    demo.keys(&["c"]);
    demo.wait_for("child buyer", STEP, |s| {
        s.contains("N12****525") && s.contains("本次數量")
    });
    // Next card: even ID on a Monday: refused with the reason and the next date.
    demo.keys(&["c"]);
    let s = demo.wait_for("refused buyer", STEP, |s| {
        s.contains("F22****786") && s.contains("✗ 不可購買")
    });
    assert!(s.contains("2020-03-10"), "next date missing:\n{s}");
    // Next card: a health-professional card: a card error in pharmacist words.
    demo.keys(&["c"]);
    demo.wait_for("hpc error", STEP, |s| s.contains("這是醫事人員卡"));
    // (Each key waits for the screen: ESC and a letter sent at once would read as Alt+letter.)
    demo.keys(&["Escape"]);
    demo.wait_for("cleared", STEP, |s| s.contains("請插入健保卡"));

    // Manual entry: a bad ID shows the reason, a good one gets checked and sold.
    demo.keys(&["m", "B220246818"]);
    demo.wait_for("checksum error", STEP, |s| s.contains("檢查碼不符"));
    demo.keys(&["BSpace", "9"]);
    demo.wait_for("valid id", STEP, |s| s.contains("格式正確"));
    demo.keys(&["Enter"]);
    demo.wait_for("manual buyer", STEP, |s| {
        s.contains("B22****819") && s.contains("手動輸入")
    });
    demo.keys(&["Enter"]);
    demo.wait_for("manual sale", STEP, |s| s.contains("已售出"));
    assert_eq!(
        journal_count(&demo, "SELECT count(*) FROM sales WHERE source = 'manual'"),
        1
    );

    // Stock-in: 200 adult, 50 child received, 5 adult damaged; confirm; today's inventory.
    demo.keys(&["s", "200", "Tab", "50", "Tab", "5", "Enter"]);
    demo.wait_for("stock confirm", STEP, |s| s.contains("確認進貨"));
    demo.keys(&["Enter"]);
    demo.wait_for("inventory", STEP, |s| {
        s.contains("今日庫存") && s.contains("200")
    });
    assert_eq!(
        journal_count(
            &demo,
            "SELECT count(*) FROM stock_ins WHERE received_adult = 200 AND received_child = 50 \
             AND damaged_adult = 5"
        ),
        1
    );
    demo.keys(&["Escape"]);
    demo.wait_for("counter", STEP, |s| s.contains("請插入健保卡"));

    // Sold out: x, confirm with x; banner; the site leaves the open data.
    demo.keys(&["x"]);
    demo.wait_for("delist confirm", STEP, |s| s.contains("一鍵下架"));
    demo.keys(&["x"]);
    demo.wait_for("delisted banner", STEP, |s| {
        s.contains("已下架：本藥局不在開放資料中")
    });
    assert_eq!(
        journal_count(
            &demo,
            "SELECT count(*) FROM listing_changes WHERE listed = 0"
        ),
        1
    );
    wait_open_data(&demo, false);

    // The same key relists.
    demo.keys(&["x", "x"]);
    demo.wait_for("relisted", STEP, |s| {
        !s.contains("已下架：") && s.contains("已重新上架")
    });
    wait_open_data(&demo, true);

    // Offline: the link to the server is really cut; a sale is decided locally and queued.
    demo.keys(&["o"]);
    demo.wait_for("link cut", STEP, |s| s.contains("已切斷"));
    demo.keys(&["c", "c", "c"]); // pulled, bank, then the second odd adult
    demo.wait_for("offline buyer", Duration::from_secs(30), |s| {
        s.contains("H12****317") && s.contains("離線判斷")
    });
    demo.keys(&["Enter"]);
    demo.wait_for("offline sale", STEP, |s| s.contains("離線記錄待上傳"));
    assert_eq!(
        journal_count(&demo, "SELECT count(*) FROM sales WHERE offline = 1"),
        1
    );
    // Back online: the queue drains.
    demo.keys(&["o"]);
    demo.wait_for("synced", Duration::from_secs(60), |s| {
        s.contains("● 連線") && s.contains("待上傳 0")
    });
    assert_eq!(
        journal_count(
            &demo,
            "SELECT count(*) FROM sales WHERE sync_state = 'queued'"
        ),
        0
    );

    // Quit: everything the demo started is gone.
    let pids = child_pids(&demo);
    let dir = demo.state_str("dir");
    assert!(pids.len() >= 2, "server and agent pids expected");
    demo.quit();
    for pid in pids {
        assert!(!process_alive(pid), "process {pid} still running after q");
    }
    assert!(
        !std::path::Path::new(&dir).exists(),
        "demo dir {dir} left behind"
    );
}

// Regression: closing the terminal (tmux kill-session, a closed window) left `mask-terminal`
// spinning on the dead tty while its key thread was joined, so the demo never stopped the agent
// and server it started (they stayed as zombies) and a later SIGTERM was swallowed.
#[test]
fn closing_the_demo_terminal_stops_everything_it_started() {
    let Some(_lock) = nhi_fixtures::pcsc_gate(nhi_fixtures::VPCD_PORT, "demo hangup") else {
        return;
    };
    let Some(bins) = tools_present() else { return };
    let mut demo = DemoSession::start(&bins, &[], 100, 30);
    demo.wait_for("waiting", STEP, |s| s.contains("請插入健保卡"));
    let mut pids = child_pids(&demo);
    pids.push(demo.state["terminal_pid"].as_u64().unwrap());
    let dir = demo.state_str("dir");
    demo.close_terminal();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while pids.iter().any(|&p| process_alive(p)) {
        assert!(
            std::time::Instant::now() < deadline,
            "still running 30 s after the terminal closed: {:?}",
            pids.iter()
                .filter(|&&p| process_alive(p))
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !std::path::Path::new(&dir).exists(),
        "demo dir {dir} left behind"
    );
}
