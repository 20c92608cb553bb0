//! Selling while the server is away, and catching up exactly once.

use std::time::{Duration, Instant};

use mask_protocol::{
    Connectivity, DecisionSource, RefusalReason, RequestBody, ResponseBody, SellOutcome,
};

use crate::support::requests::{self, check, manual, sell};
use crate::support::{AgentFiles, InProcessAgent, TestServer, ids, sync_until_empty};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_sale_is_decided_locally_queued_and_synced_exactly_once() {
    let mut server = TestServer::start().await;
    let files = AgentFiles::new("offline-sale", &server.url(), &server.token);
    let agent = InProcessAgent::start(&files).await;
    let mut client = agent.client().await;
    server.stop().await;

    let buyer = ids::even_id(100);
    let started = Instant::now();
    let SellOutcome::Recorded(receipt) = sell(&mut client, manual(&buyer, None), 3).await else {
        panic!("offline must not block selling")
    };
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the counter waited {:?}",
        started.elapsed()
    );
    assert!(receipt.offline);

    // Local decisions use the journal: the same person cannot buy again this week.
    let SellOutcome::Refused(refused) = sell(&mut client, manual(&buyer, None), 1).await else {
        panic!("expected a local refusal")
    };
    assert_eq!(
        (refused.decided, refused.reason),
        (DecisionSource::Local, Some(RefusalReason::Window))
    );
    // And the weekday rule holds offline too.
    let odd = check(&mut client, &ids::odd_id(5), None).await;
    assert_eq!(
        (odd.decided, odd.reason),
        (DecisionSource::Local, Some(RefusalReason::Weekday))
    );

    let status = requests::status(&mut client).await;
    assert_eq!(
        (status.sync.connectivity, status.sync.queued),
        (Connectivity::Offline, 1)
    );

    server.restart().await;
    sync_until_empty(&mut client, Duration::from_secs(30)).await;
    assert_eq!(server.sold().await, 3);
    sync_until_empty(&mut client, Duration::from_secs(30)).await;
    assert_eq!(server.sold().await, 3);
    assert_eq!(files.journal().sale_states().unwrap(), (0, 1, 0, 0));
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pharmacies_selling_offline_to_one_person_yield_a_kept_overrun() {
    let mut server = TestServer::start().await;
    let here = AgentFiles::new("overrun-a", &server.url(), &server.token);
    let agent = InProcessAgent::start(&here).await;
    let mut client = agent.client().await;
    let buyer = ids::even_id(200);
    // The other pharmacy sold to the same person first (straight to the server).
    let other_sale = mask_api::SaleBatch {
        site: None,
        sales: vec![mask_api::Sale {
            id: uuid::Uuid::now_v7(),
            id_no: buyer.clone(),
            birth_date: None,
            kind: mask_api::BuyerKind::Adult,
            quantity: 3,
            sold_at: crate::support::AS_OF - time::Duration::minutes(20),
            source: mask_api::SaleSource::Card,
            offline: true,
        }],
    };
    server.stop().await;
    let SellOutcome::Recorded(receipt) = sell(&mut client, manual(&buyer, None), 3).await else {
        panic!()
    };
    assert!(receipt.offline);
    // This agent stops before the server is back, so the other pharmacy's sale lands first.
    drop(client);
    agent.stop().await;
    server.restart().await;
    let response = reqwest::Client::new()
        .post(format!("{}/v1/sales", server.url()))
        .bearer_auth(&server.token_2)
        .json(&other_sale)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap()
    );
    let agent = InProcessAgent::start(&here).await;
    let mut client = agent.client().await;
    let status = sync_until_empty(&mut client, Duration::from_secs(30)).await;
    assert_eq!(status.overruns, 1);
    assert_eq!(
        files_state(&here, receipt.sale_id),
        Some(mask_agent::SyncState::Overrun)
    );
    agent.stop().await;
}

fn files_state(files: &AgentFiles, id: uuid::Uuid) -> Option<mask_agent::SyncState> {
    files.journal().sale_state(id).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restarted_in_the_middle_of_a_drain_loses_and_doubles_nothing() {
    let mut server = TestServer::start().await;
    let files = AgentFiles::new("restart-mid-batch", &server.url(), &server.token);
    files.prefill(4000, 10_000);
    let agent = InProcessAgent::start(&files).await;
    let mut client = agent.client().await;
    // Stop the server as soon as the first batches have landed, then bring it back.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = requests::status(&mut client).await;
        if status.sync.queued < 4000 {
            break;
        }
        assert!(Instant::now() < deadline, "the drain never started");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.stop().await;
    let mid = requests::status(&mut client).await;
    server.restart().await;
    sync_until_empty(&mut client, Duration::from_secs(60)).await;
    assert_eq!(
        server.sold().await,
        4000,
        "stopped with {} queued",
        mid.sync.queued
    );
    assert_eq!(files.journal().sale_states().unwrap(), (0, 4000, 0, 0));
    agent.stop().await;
}

/// The name the registry gives [`crate::support::SITE`] (the real open-data file).
const SITE_NAME: &str = "衛生福利部花蓮醫院豐濱原住民分院";

/// The pharmacy's name as the agent reports it, waiting for the server's answer if needed:
/// the subscription's snapshot, else the `site_name` event (no polling).
async fn site_name_from_the_server(client: &mut mask_agent::LocalClient) -> String {
    let ResponseBody::Subscribed(snapshot) = client.request(RequestBody::Subscribe).await.unwrap()
    else {
        panic!("expected the subscription snapshot")
    };
    if let Some(name) = snapshot.site_name {
        return name;
    }
    let wait = async {
        loop {
            if let mask_protocol::Event::SiteName { name } = client.next_event().await.unwrap() {
                return name;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .expect("no site name from the server within 10 s")
}

// Issue #13: the counter's header names the pharmacy from the registry, also when the agent
// restarts while the server is down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pharmacy_name_from_the_server_survives_a_restart_offline() {
    let mut server = TestServer::start().await;
    let files = AgentFiles::new("site-name", &server.url(), &server.token);
    let agent = InProcessAgent::start(&files).await;
    let mut client = agent.client().await;
    assert_eq!(site_name_from_the_server(&mut client).await, SITE_NAME);
    drop(client);
    agent.stop().await;

    server.stop().await;
    let agent = InProcessAgent::start(&files).await;
    let mut client = agent.client().await;
    let status = requests::status(&mut client).await;
    assert_ne!(status.sync.connectivity, Connectivity::Online);
    assert_eq!(status.site_name.as_deref(), Some(SITE_NAME));

    // A screen that lagged behind the events gets the name again with the rest of the state.
    let mut events = agent.core().subscribe();
    agent.core().resend_state().await;
    let mut resent = Vec::new();
    while let Ok(event) = events.try_recv() {
        resent.push(event);
    }
    assert!(
        resent.contains(&mask_protocol::Event::SiteName {
            name: SITE_NAME.into()
        }),
        "{resent:?}"
    );
}
