//! The agent's decisions under faults (issue 11): time from the server, one history for
//! eligibility, decide-and-record per buyer, errors that are answers, the probe, the offline
//! budget and the opening stock. Real server stub on 127.0.0.1, real journals, real processes.

use std::time::{Duration, Instant};

use mask_agent::{JOURNAL_META_CREATED, JOURNAL_META_LAST_CONTACT, LocalClient};
use mask_protocol::{
    Connectivity, DecisionSource, RefusalReason, SellBuyer, SellOutcome, StatusReport,
};
use time::OffsetDateTime;
use time::macros::date;

use crate::support::requests::{check, inventory, manual, sell, status};
use crate::support::{
    AS_OF, AS_OF_TEXT, AgentFiles, ChildAgent, InProcessAgent, TestServer, agent_cmd, ids,
    sync_until_empty,
};

/// Polls the status until `pred` holds; panics after `limit`.
async fn wait_status(
    client: &mut LocalClient,
    limit: Duration,
    what: &str,
    pred: impl Fn(&StatusReport) -> bool,
) -> StatusReport {
    let deadline = Instant::now() + limit;
    loop {
        let status = status(client).await;
        if pred(&status) {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "{what} not within {limit:?}: {:?}",
            status.sync
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Agent files whose test clock (`as_of`) reads `pc_clock` instead of the server's.
fn files_with_pc_clock(name: &str, server: &TestServer, pc_clock: &str) -> AgentFiles {
    let files = AgentFiles::new(name, &server.url(), &server.token);
    let text = std::fs::read_to_string(&files.config_path).unwrap();
    std::fs::write(&files.config_path, text.replace(AS_OF_TEXT, pc_clock)).unwrap();
    files
}

/// A URL where nothing listens (the server "never answered").
async fn dead_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

// ---- 1. time from the server ------------------------------------------------------------

async fn sells_with_the_servers_date(name: &str, pc_clock: &str) {
    let server = TestServer::start().await;
    let files = files_with_pc_clock(name, &server, pc_clock);
    let agent = InProcessAgent::start(&files).await;
    let mut client = agent.client().await;
    let pc =
        OffsetDateTime::parse(pc_clock, &time::format_description::well_known::Rfc3339).unwrap();
    let expected_s = (AS_OF - pc).whole_seconds();
    let first = wait_status(
        &mut client,
        Duration::from_secs(10),
        "the clock offset",
        |s| s.sync.clock_offset_s.is_some(),
    )
    .await;
    let offset = first.sync.clock_offset_s.unwrap();
    assert!(
        // The test server's clock started a little before the agent's.
        (offset - expected_s).abs() <= 60,
        "offset {offset} s, expected about {expected_s} s"
    );

    let [buyer, other] = <[String; 2]>::try_from(ids::even_ids(501, 2)).unwrap();
    let SellOutcome::Recorded(receipt) = sell(&mut client, manual(&buyer, None), 2).await else {
        panic!("expected a recorded sale")
    };
    assert!(!receipt.offline);
    assert_eq!(
        mask_api::taipei_date(receipt.sold_at),
        date!(2020 - 03 - 12)
    );
    assert!((receipt.sold_at - AS_OF).abs() < time::Duration::minutes(1));
    sync_until_empty(&mut client, Duration::from_secs(20)).await;
    // Accepted as is (not overrun, not rejected), and counted on the server's day.
    assert_eq!(files.journal().sale_states().unwrap(), (0, 1, 0, 0));
    assert_eq!(server.sold().await, 2);
    let pc_sold: i64 = files
        .journal()
        .connection()
        .query_row("SELECT pc_sold_at_ms FROM sales", [], |r| r.get(0))
        .unwrap();
    let pc_sold = OffsetDateTime::from_unix_timestamp(pc_sold / 1000).unwrap();
    assert!(
        (pc_sold - pc).abs() < time::Duration::minutes(1),
        "the PC's own reading is kept"
    );
    agent.stop().await;

    // The offset survives a restart and is used before the server answers again.
    let files_offline = files;
    let text = std::fs::read_to_string(&files_offline.config_path).unwrap();
    std::fs::write(
        &files_offline.config_path,
        text.replace(&server.url(), &dead_url().await),
    )
    .unwrap();
    let agent = InProcessAgent::start(&files_offline).await;
    let mut client = agent.client().await;
    let SellOutcome::Recorded(receipt) = sell(&mut client, manual(&other, None), 1).await else {
        panic!("expected a recorded sale offline")
    };
    assert!(receipt.offline);
    assert_eq!(
        mask_api::taipei_date(receipt.sold_at),
        date!(2020 - 03 - 12)
    );
    let report = status(&mut client).await;
    assert!(report.sync.clock_offset_s.is_some());
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pc_clock_in_2019_sells_with_the_servers_date() {
    sells_with_the_servers_date("clock-2019", "2019-06-01T10:00:00+08:00").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pc_clock_15_days_behind_sells_with_the_servers_date() {
    sells_with_the_servers_date("clock-15d", "2020-02-26T10:00:00+08:00").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pc_clock_10_minutes_ahead_sells_with_the_servers_date() {
    sells_with_the_servers_date("clock-10m", "2020-03-12T10:10:00+08:00").await;
}

// ---- 2. one history ---------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_adds_this_pharmacys_unsynced_sales_to_its_history() {
    let server = TestServer::start().await;
    let buyer = ids::even_id(601);
    // One mask at another pharmacy, synced.
    let batch = serde_json::json!({
        "sales": [{
            "id": uuid::Uuid::now_v7(),
            "id_no": buyer,
            "kind": "adult",
            "quantity": 1,
            "sold_at": "2020-03-12T09:00:00+08:00",
            "source": "manual",
            "offline": false,
        }]
    });
    let answer = reqwest::Client::new()
        .post(format!("{}/v1/sales", server.url()))
        .bearer_auth(&server.token_2)
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert!(
        answer.status().is_success(),
        "{}",
        answer.text().await.unwrap()
    );
    // One mask here that the server does not hold (it needs attention, so it is never sent).
    let files = AgentFiles::new("one-history", &server.url(), &server.token);
    let mut journal = files.journal();
    journal
        .record_sale(&mask_agent::NewSale {
            id: uuid::Uuid::now_v7(),
            id_no: buyer.clone(),
            birth_date: None,
            kind: mask_api::BuyerKind::Adult,
            quantity: 1,
            sold_at: AS_OF - time::Duration::minutes(20),
            source: mask_api::SaleSource::Manual,
            offline: true,
            pc_sold_at: None,
        })
        .unwrap();
    journal
        .connection()
        .execute("UPDATE sales SET sync_state = 'rejected'", [])
        .unwrap();
    drop(journal);
    let agent = InProcessAgent::start(&files).await;
    let mut client = agent.client().await;
    let view = check(&mut client, &buyer, None).await;
    assert_eq!((view.allowed, view.decided), (1, DecisionSource::Server));
    let SellOutcome::Refused(refused) = sell(&mut client, manual(&buyer, None), 2).await else {
        panic!("sold beyond the quota")
    };
    assert_eq!(refused.reason, Some(RefusalReason::Quota));
    agent.stop().await;
}

// ---- 3. decide-and-record per buyer -----------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_sells_to_one_buyer_record_one_sale() {
    let server = TestServer::start().await;
    let files = AgentFiles::new("per-buyer", &server.url(), &server.token);
    let agent = ChildAgent::start(&files).await;
    let mut client = agent.client().await;
    wait_status(&mut client, Duration::from_secs(10), "online", |s| {
        s.sync.connectivity == Connectivity::Online
    })
    .await;
    let buyers = ids::even_ids(700, 12);
    let children: Vec<_> = buyers
        .iter()
        .flat_map(|id| [id, id])
        .map(|id| {
            agent_cmd(&files.config_path, &["sell", "--id", id, "--qty", "3"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut recorded = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        match out.status.code() {
            Some(0) => recorded += 1,
            Some(1) => {}
            other => panic!(
                "sell failed ({other:?}): {}",
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }
    let journal = files.journal();
    let mut per_buyer = journal
        .connection()
        .prepare("SELECT COUNT(*) FROM sales GROUP BY id_no")
        .unwrap();
    let counts: Vec<i64> = per_buyer
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(counts, vec![1; 12], "sales per buyer");
    assert_eq!(recorded, 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_on_screen_is_checked_again_after_a_sale_to_that_buyer() {
    let mut server = TestServer::start().await;
    let files = AgentFiles::new("stale-card", &server.url(), &server.token);
    let agent = InProcessAgent::start(&files).await;
    let mut client = agent.client().await;
    let identity = nhi_card::Identity {
        card_no: "000012345678".into(),
        name: "王小明".into(),
        id_no: nhi_card::IdNumber::parse(&ids::even_id(801)).unwrap(),
        birth_date: date!(1990 - 01 - 01),
        sex: nhi_card::Sex::Male,
        issue_date: date!(2020 - 01 - 01),
    };
    let mut events = agent.core().subscribe();
    agent.feed.send(nhi_card::CardEvent::IdentityRead {
        reader: "R".into(),
        identity: identity.clone(),
    });
    let read = loop {
        if let mask_protocol::Event::Counter(mask_protocol::CounterState::Buyer {
            read,
            eligibility,
            ..
        }) = events.recv().await.unwrap()
        {
            assert_eq!(eligibility.allowed, 3);
            break read;
        }
    };
    // The same person buys at the other counter (manual entry) while the card is on screen.
    server.stop().await;
    let SellOutcome::Recorded(_) =
        sell(&mut client, manual(identity.id_no.as_str(), None), 3).await
    else {
        panic!("expected the manual sale")
    };
    let SellOutcome::Refused(refused) = sell(&mut client, SellBuyer::Card { read }, 3).await else {
        panic!("the card's stale decision sold again")
    };
    assert_eq!(refused.reason, Some(RefusalReason::Window));
    agent.stop().await;
}

// ---- 4. errors that are answers, and the probe -----------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_refuses_the_sale_instead_of_selling_offline() {
    let server = TestServer::start().await;
    let files = AgentFiles::new("token-refused", &server.url(), "not-a-valid-token");
    let agent = InProcessAgent::start(&files).await;
    let mut client = agent.client().await;
    let buyer = ids::even_id(901);
    let SellOutcome::Refused(refused) = sell(&mut client, manual(&buyer, None), 1).await else {
        panic!("sold with a refused token")
    };
    assert_eq!(refused.reason, Some(RefusalReason::TokenRefused));
    wait_status(&mut client, Duration::from_secs(5), "token refused", |s| {
        s.sync.connectivity == Connectivity::TokenRefused
    })
    .await;
    assert_eq!(files.journal().sale_count().unwrap(), 0);
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_4xx_on_eligibility_refuses_with_server_refused() {
    let server = TestServer::start().await;
    let files = AgentFiles::new("server-refused", &server.url(), &server.token);
    let agent = InProcessAgent::start(&files).await;
    let mut client = agent.client().await;
    // Born after the server's today: the server answers 422.
    let outcome = sell(
        &mut client,
        manual(&ids::even_id(902), Some(date!(2020 - 06 - 01))),
        1,
    )
    .await;
    let SellOutcome::Refused(refused) = outcome else {
        panic!("sold after the server refused the check: {outcome:?}")
    };
    assert_eq!(refused.reason, Some(RefusalReason::ServerRefused));
    assert_eq!(
        status(&mut client).await.sync.connectivity,
        Connectivity::Online
    );
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_follows_the_server_without_a_sale_and_cards_decide_at_once_offline() {
    let mut server = TestServer::start().await;
    let files = AgentFiles::new("probe", &server.url(), &server.token);
    let agent = InProcessAgent::start(&files).await;
    let mut client = agent.client().await;
    wait_status(&mut client, Duration::from_secs(5), "online", |s| {
        s.sync.connectivity == Connectivity::Online
    })
    .await;
    server.stop().await;
    // An idle counter learns of the outage at the next probe: the probe's online interval
    // (`probe::ONLINE_EVERY`, 10 s) plus its 25 % jitter and its 2 s timeout, with a margin.
    // (This waited 5 s, from when the probe ran every 3 s.)
    wait_status(&mut client, Duration::from_secs(20), "offline", |s| {
        s.sync.connectivity == Connectivity::Offline
    })
    .await;
    let started = Instant::now();
    let view = check(&mut client, &ids::even_id(903), None).await;
    assert_eq!(view.decided, DecisionSource::Local);
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    server.restart().await;
    wait_status(&mut client, Duration::from_secs(5), "online again", |s| {
        s.sync.connectivity == Connectivity::Online
    })
    .await;
    let view = check(&mut client, &ids::even_id(903), None).await;
    assert_eq!(view.decided, DecisionSource::Server);
    agent.stop().await;
}

// ---- 5. the offline budget --------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_decisions_stop_after_the_offline_hours() {
    for key in [JOURNAL_META_CREATED, JOURNAL_META_LAST_CONTACT] {
        let files = AgentFiles::new("offline-hours", &dead_url().await, "token");
        let mut journal = files.journal();
        journal
            .set_meta_time(JOURNAL_META_CREATED, AS_OF - time::Duration::hours(30))
            .unwrap();
        if key == JOURNAL_META_LAST_CONTACT {
            journal
                .set_meta_time(JOURNAL_META_LAST_CONTACT, AS_OF - time::Duration::hours(25))
                .unwrap();
        }
        drop(journal);
        let agent = ChildAgent::start(&files).await;
        let out = agent_cmd(
            &files.config_path,
            &["sell", "--id", &ids::even_id(910), "--qty", "1"],
        )
        .output()
        .unwrap();
        assert_eq!(out.status.code(), Some(1), "{key}: refused");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stdout.contains("\"offline_limit\""), "{key}: {stdout}");
        assert!(stderr.contains("offline selling limit"), "{key}: {stderr}");
        drop(agent);
    }
    // Within the budget a fresh journal sells offline.
    let files = AgentFiles::new("offline-hours-ok", &dead_url().await, "token");
    let mut journal = files.journal();
    journal
        .set_meta_time(JOURNAL_META_LAST_CONTACT, AS_OF - time::Duration::hours(23))
        .unwrap();
    drop(journal);
    let agent = InProcessAgent::start(&files).await;
    let mut client = agent.client().await;
    let SellOutcome::Recorded(receipt) =
        sell(&mut client, manual(&ids::even_id(911), None), 1).await
    else {
        panic!("expected an offline sale within the budget")
    };
    assert!(receipt.offline);
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_decisions_stop_at_the_days_allocation() {
    let files = AgentFiles::new("offline-cap", &dead_url().await, "token");
    // 2020-03-05 rules: 200 adult masks a day per site; 199 sold offline already today.
    let sales = files.prefill(199, 1000);
    assert_eq!(sales.len(), 199);
    let agent = InProcessAgent::start(&files).await;
    let mut client = agent.client().await;
    let [buyer, second, child] = <[String; 3]>::try_from(ids::even_ids(920, 3)).unwrap();
    let view = check(&mut client, &buyer, None).await;
    assert_eq!((view.allowed, view.decided), (1, DecisionSource::Local));
    let SellOutcome::Recorded(_) = sell(&mut client, manual(&buyer, None), 1).await else {
        panic!("expected the 200th mask")
    };
    let SellOutcome::Refused(refused) = sell(&mut client, manual(&second, None), 1).await else {
        panic!("sold beyond the day's allocation offline")
    };
    assert_eq!(refused.reason, Some(RefusalReason::OfflineLimit));
    // Children have their own allocation.
    let SellOutcome::Recorded(_) =
        sell(&mut client, manual(&child, Some(date!(2012 - 01 - 01))), 1).await
    else {
        panic!("expected a child sale")
    };
    agent.stop().await;
}

// ---- 6. opening stock -------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remaining_stock_is_the_servers_opening_minus_what_was_sold() {
    let server = TestServer::start().await;
    let opening = server.inventory().await.opening_adult;
    assert!(opening > 0);
    let files = AgentFiles::new("opening", &server.url(), &server.token);
    let agent = InProcessAgent::start(&files).await;
    let mut client = agent.client().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while inventory(&mut client).await.adult.remaining != opening {
        assert!(Instant::now() < deadline, "opening stock not fetched");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for buyer in ids::even_ids(1001, 2) {
        let SellOutcome::Recorded(_) = sell(&mut client, manual(&buyer, None), 3).await else {
            panic!("expected a sale")
        };
    }
    let now = inventory(&mut client).await;
    assert_eq!((now.adult.sold, now.adult.remaining), (6, opening - 6));
    // Survives a restart without the server (kept in the journal).
    agent.stop().await;
    drop(server);
    let agent = InProcessAgent::start(&files).await;
    let mut client = agent.client().await;
    assert_eq!(inventory(&mut client).await.adult.remaining, opening - 6);
    agent.stop().await;
}

// ---- retention on a time the server confirmed ---------------------------------------------

/// A PC clock set a month ahead while the agent was down, with the server unreachable: the
/// offset stored by the last run no longer holds, so the retention purge must wait for the
/// server instead of forgetting every buyer the offline quota check still needs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pc_clock_set_ahead_while_down_purges_nothing_before_the_server_confirms_the_time() {
    let mut server = TestServer::start().await;
    let files = AgentFiles::new("purge-unverified", &server.url(), &server.token);
    let id = ids::even_id(7);
    let agent = InProcessAgent::start(&files).await;
    let mut client = agent.client().await;
    assert!(matches!(
        sell(&mut client, manual(&id, None), 1).await,
        SellOutcome::Recorded(_)
    ));
    sync_until_empty(&mut client, Duration::from_secs(20)).await;
    drop(client);
    agent.stop().await;
    server.stop().await;

    let ahead = (AS_OF + time::Duration::days(40))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let text = std::fs::read_to_string(&files.config_path).unwrap();
    std::fs::write(&files.config_path, text.replace(AS_OF_TEXT, &ahead)).unwrap();
    let agent = InProcessAgent::start(&files).await;
    let mut client = agent.client().await;
    wait_status(
        &mut client,
        Duration::from_secs(10),
        "the outage seen",
        |s| s.sync.connectivity == Connectivity::Offline,
    )
    .await;
    // The purge loop runs at start; give it time to act on the wrong clock if it would.
    tokio::time::sleep(Duration::from_secs(1)).await;
    drop(client);
    agent.stop().await;
    assert_eq!(
        files.journal().purchases_of(&id).unwrap().len(),
        1,
        "the buyer's sale lost its ID number to a purge on an unconfirmed clock"
    );
}
