//! The outbox under faults: a record the server will not take needs attention but never
//! blocks another, still counts locally, and everything else reaches the server exactly once.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use mask_agent::{LocalClient, NewSale, SyncState};
use mask_api::{BuyerKind, SaleBatch, SaleSource};
use mask_protocol::{
    DecisionSource, RequestBody, ResponseBody, SellOutcome, StockInForm, SyncStatus,
};
use serde_json::Value;

use crate::support::proxy::{Rule, RuleProxy, problem, sales_in};
use crate::support::requests;
use crate::support::{AS_OF, AgentFiles, InProcessAgent, TestServer, agent_cmd, ids};

/// Sends `SyncNow` until `done` holds (or panics after `limit` with the last status).
async fn sync_until(
    client: &mut LocalClient,
    limit: Duration,
    done: impl Fn(&SyncStatus) -> bool,
) -> SyncStatus {
    let deadline = Instant::now() + limit;
    loop {
        let ResponseBody::Sync(status) = client.request(RequestBody::SyncNow).await.unwrap() else {
            panic!("SyncNow answered something else")
        };
        if done(&status) {
            return status;
        }
        assert!(Instant::now() < deadline, "not reached: {status:?}");
    }
}

async fn sell(client: &mut LocalClient, id_no: &str, quantity: u32) {
    let outcome = requests::sell(client, requests::manual(id_no, None), quantity).await;
    assert!(matches!(outcome, SellOutcome::Recorded(_)), "{outcome:?}");
}

fn today() -> time::Date {
    mask_api::taipei_date(AS_OF)
}

/// An old server: any batch holding the poisoned sale is refused whole with 422.
fn all_or_nothing(poisoned: uuid::Uuid) -> Rule {
    let id = poisoned.to_string();
    Arc::new(move |path: &str, body: &[u8]| {
        if path != "/v1/sales" {
            return None;
        }
        let index = sales_in(body).iter().position(|s| s["id"] == id.as_str())?;
        Some((
            StatusCode::UNPROCESSABLE_ENTITY,
            problem(
                422,
                "sale_time_in_future",
                &[(index, id.clone(), "sale_time_in_future")],
            ),
        ))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_refused_whole_is_bisected_down_to_the_one_poisoned_sale() {
    let server = TestServer::start().await;
    let proxy = RuleProxy::start(server.addr).await;
    let files = AgentFiles::new("outbox-bisect", &proxy.url(), &server.token);
    let sales = files.prefill(40, 700_000);
    let poisoned = sales[17].id;
    proxy.set(all_or_nothing(poisoned));

    let agent = InProcessAgent::start(&files).await;
    let mut client = agent.client().await;
    let status = sync_until(&mut client, Duration::from_secs(30), |s| s.queued == 0).await;
    assert_eq!(status.attention, 1, "{status:?}");
    assert_eq!(server.sold().await, 39);
    let journal = files.journal();
    assert_eq!(journal.sale_states().unwrap(), (0, 39, 0, 1));
    assert_eq!(
        journal.sale_state(poisoned).unwrap(),
        Some(SyncState::Rejected)
    );
    // Still counted: 40 masks left the pharmacy.
    assert_eq!(
        journal
            .movements(BuyerKind::Adult, Some(today()), today())
            .unwrap()
            .sold,
        40
    );
    assert_eq!(
        journal.purchases_of(&sales[17].id_no).unwrap().len(),
        1,
        "the refused sale still counts for its buyer"
    );
    // Bisecting 40 costs a handful of requests, not one per sale.
    let posts = proxy
        .seen()
        .iter()
        .filter(|s| s.path == "/v1/sales")
        .count();
    assert!(posts <= 14, "{posts} batches sent");

    // What a person sees: status, export and doctor name the record and its reason.
    let status = agent_cmd(&files.config_path, &["status", "--json"])
        .output()
        .unwrap();
    let value: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(value["attention"], 1, "{value}");

    let export = agent_cmd(
        &files.config_path,
        &["journal", "export", "--date", "2020-03-12"],
    )
    .output()
    .unwrap();
    assert!(export.status.success(), "{export:?}");
    let csv = String::from_utf8(export.stdout).unwrap();
    assert!(
        csv.lines().next().unwrap().ends_with(",needs_attention"),
        "{csv}"
    );
    let line = csv
        .lines()
        .find(|l| l.starts_with(&poisoned.to_string()))
        .unwrap();
    assert!(
        line.ends_with(",rejected,sale_time_in_future,true"),
        "{line}"
    );
    assert_eq!(csv.lines().filter(|l| l.ends_with(",true")).count(), 1);

    let doctor = agent_cmd(&files.config_path, &["doctor", "--json"])
        .output()
        .unwrap();
    let value: Value = serde_json::from_slice(&doctor.stdout).unwrap();
    let check = value["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "attention")
        .unwrap_or_else(|| panic!("no attention check: {value}"))
        .clone();
    assert_eq!(check["verdict"], "warn", "{check}");
    let detail = check["detail"].as_str().unwrap();
    assert!(detail.contains("sale sale_time_in_future × 1"), "{detail}");
    assert!(!check["hint"].as_str().unwrap().is_empty());
    let text = value.to_string();
    assert!(
        !text.contains(&sales[17].id_no),
        "doctor printed an ID number"
    );
    drop(client);
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sale_the_server_refuses_needs_attention_never_blocks_and_still_counts() {
    let mut server = TestServer::start().await;
    // The server already holds sale X (one mask for one buyer)…
    let reused = uuid::Uuid::now_v7();
    let direct = mask_agent::ServerClient::new(&server.url(), &server.token, None).unwrap();
    let sold_at = NewSale::truncate_time(AS_OF - time::Duration::minutes(40));
    direct
        .post_sales(&SaleBatch {
            site: None,
            sales: vec![mask_api::Sale {
                id: reused,
                id_no: ids::even_id(710_000),
                birth_date: None,
                kind: BuyerKind::Adult,
                quantity: 1,
                sold_at,
                source: SaleSource::Manual,
                offline: false,
            }],
        })
        .await
        .unwrap();
    // …and this pharmacy's journal holds another sale under the same id: three masks to
    // another buyer (a restored backup, a cloned PC).
    let files = AgentFiles::new("outbox-conflict", &server.url(), &server.token);
    let buyer = ids::even_id(710_010);
    files
        .journal()
        .record_sale(&NewSale {
            id: reused,
            id_no: buyer.clone(),
            birth_date: None,
            kind: BuyerKind::Adult,
            quantity: 3,
            sold_at,
            source: SaleSource::Manual,
            offline: true,
            pc_sold_at: None,
        })
        .unwrap();

    let agent = InProcessAgent::start(&files).await;
    let mut client = agent.client().await;
    for i in 0..3 {
        sell(&mut client, &ids::even_id(710_100 + i * 10), 1).await;
    }
    let status = sync_until(&mut client, Duration::from_secs(30), |s| s.queued == 0).await;
    assert_eq!(status.attention, 1, "{status:?}");
    // Every other sale reached the server: its one sale of X and the three later ones.
    assert_eq!(server.sold().await, 1 + 3);
    let journal = files.journal();
    assert_eq!(
        journal.sale_state(reused).unwrap(),
        Some(SyncState::Rejected)
    );
    let row = journal
        .export_day(today())
        .unwrap()
        .into_iter()
        .find(|r| r.sale_id == reused.to_string())
        .unwrap();
    assert!(row.needs_attention);
    assert!(!row.detail.is_empty(), "the reason is kept");
    // The counter's attention list (key `a`) names it: masked buyer, masks, the server's code.
    let ResponseBody::Attention { records } = client.request(RequestBody::Attention).await.unwrap()
    else {
        panic!("no attention list")
    };
    assert_eq!(records.len(), 1, "{records:?}");
    let record = &records[0];
    assert_eq!(
        (record.kind.as_str(), record.quantity),
        ("sale", Some(3)),
        "{record:?}"
    );
    assert_eq!(
        record.id_masked.as_deref(),
        Some(nhi_card::mask_id(&buyer).as_str())
    );
    assert_eq!(record.reason, row.detail, "{record:?}");
    assert!(
        !format!("{records:?}").contains(&buyer),
        "full ID in the list"
    );
    // The local inventory counts the three masks handed over.
    assert_eq!(
        journal
            .movements(BuyerKind::Adult, Some(today()), today())
            .unwrap()
            .sold,
        3 + 3
    );

    // Offline, the local decision counts the refused sale: the buyer had all 3 masks.
    server.stop().await;
    let view = requests::check(&mut client, &buyer, None).await;
    assert_eq!(view.decided, DecisionSource::Local);
    assert_eq!(view.allowed, 0, "{view:?}");
    drop(client);
    agent.stop().await;
}

const FORWARD: u8 = 0;
const STOCK_DOWN: u8 = 1;
const SALES_DOWN: u8 = 2;

fn endpoint_down(mode: Arc<AtomicU8>) -> Rule {
    Arc::new(move |path: &str, _: &[u8]| {
        let down = match mode.load(Ordering::SeqCst) {
            STOCK_DOWN => "/v1/stock",
            SALES_DOWN => "/v1/sales",
            _ => return None,
        };
        (path == down).then(|| {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                problem(500, "internal", &[]),
            )
        })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_stock_in_does_not_hold_back_sales_nor_the_other_way_round() {
    let server = TestServer::start().await;
    let proxy = RuleProxy::start(server.addr).await;
    let mode = Arc::new(AtomicU8::new(STOCK_DOWN));
    proxy.set(endpoint_down(Arc::clone(&mode)));
    let files = AgentFiles::new("outbox-stuck", &proxy.url(), &server.token);
    let agent = InProcessAgent::start(&files).await;
    let mut client = agent.client().await;

    let response = client
        .request(RequestBody::StockIn(StockInForm {
            received_adult: 200,
            received_child: 50,
            damaged_adult: 2,
            damaged_child: 0,
        }))
        .await
        .unwrap();
    assert!(
        matches!(response, ResponseBody::Inventory(_)),
        "{response:?}"
    );
    sell(&mut client, &ids::even_id(720_000), 2).await;
    sell(&mut client, &ids::even_id(720_010), 1).await;
    let status = sync_until(&mut client, Duration::from_secs(20), |s| s.queued == 0).await;
    assert_eq!(status.queued_other, 1, "the stock-in waits: {status:?}");
    // Once failed under CI load with 1 (cause not found yet): the status says what the agent
    // thought of its two sales.
    assert_eq!(server.sold().await, 3, "{status:?}");

    mode.store(SALES_DOWN, Ordering::SeqCst);
    sell(&mut client, &ids::even_id(720_020), 1).await;
    let status = sync_until(&mut client, Duration::from_secs(20), |s| {
        s.queued_other == 0
    })
    .await;
    assert_eq!(status.queued, 1, "the sale waits: {status:?}");
    assert_eq!(server.inventory().await.received_adult, 200);

    mode.store(FORWARD, Ordering::SeqCst);
    let status = sync_until(&mut client, Duration::from_secs(20), |s| s.queued == 0).await;
    assert_eq!((status.queued_other, status.attention), (0, 0));
    assert_eq!(server.sold().await, 4);
    drop(client);
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_413_the_batch_size_stays_reduced() {
    let server = TestServer::start().await;
    let proxy = RuleProxy::start(server.addr).await;
    proxy.set(Arc::new(|path: &str, body: &[u8]| {
        (path == "/v1/sales" && sales_in(body).len() > 100).then(|| {
            (
                StatusCode::PAYLOAD_TOO_LARGE,
                problem(413, "payload_too_large", &[]),
            )
        })
    }));
    let files = AgentFiles::new("outbox-413", &proxy.url(), &server.token);
    files.prefill(300, 730_000);
    let agent = InProcessAgent::start(&files).await;
    let mut client = agent.client().await;
    sync_until(&mut client, Duration::from_secs(30), |s| s.queued == 0).await;
    // 300 → 413, 150 → 413, then 75 at a time.
    let refused = |seen: &[crate::support::proxy::Seen]| {
        seen.iter()
            .filter(|s| s.path == "/v1/sales" && s.status == 413)
            .count()
    };
    assert_eq!(refused(&proxy.seen()), 2, "{:?}", proxy.seen());

    // Later rounds, and a restart, keep the smaller size.
    agent.stop().await;
    files.prefill(200, 740_000);
    let agent = InProcessAgent::start(&files).await;
    let mut client = agent.client().await;
    sync_until(&mut client, Duration::from_secs(30), |s| s.queued == 0).await;
    let seen = proxy.seen();
    assert_eq!(refused(&seen), 2, "{seen:?}");
    assert!(
        seen.iter()
            .filter(|s| s.path == "/v1/sales")
            .all(|s| s.status == 413 || s.sales <= 75),
        "{seen:?}"
    );
    assert_eq!(server.sold().await, 500);
    drop(client);
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_stops_the_round_and_sets_nothing_aside() {
    let server = TestServer::start().await;
    let files = AgentFiles::new("outbox-token", &server.url(), "not-a-token");
    files.prefill(3, 750_000);
    let agent = InProcessAgent::start(&files).await;
    let error = mask_agent::drain_outbox(agent.core()).await.unwrap_err();
    assert!(error.is_token_refused(), "{error:?}");
    let journal = files.journal();
    assert_eq!(journal.sale_states().unwrap(), (3, 0, 0, 0));
    assert_eq!(journal.attention_count().unwrap(), 0);
    agent.stop().await;
}
