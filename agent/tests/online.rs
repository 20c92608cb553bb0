//! Selling while the server answers.

use std::time::Duration;

use mask_protocol::{
    DecisionSource, RefusalReason, RequestBody, ResponseBody, SellOutcome, StockInForm,
};

use crate::support::requests::{self, check, inventory, manual, sell};
use crate::support::{AgentFiles, InProcessAgent, TestServer, ids, sync_until_empty};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_online_sale_is_decided_by_the_server_and_reaches_it_once() {
    let server = TestServer::start().await;
    let files = AgentFiles::new("online-sale", &server.url(), &server.token);
    let agent = InProcessAgent::start(&files).await;
    let mut client = agent.client().await;
    let buyer = ids::even_id(10);

    let eligibility = check(&mut client, &buyer, None).await;
    assert_eq!(
        (eligibility.allowed, eligibility.decided),
        (3, DecisionSource::Server)
    );

    let SellOutcome::Recorded(receipt) = sell(&mut client, manual(&buyer, None), 3).await else {
        panic!("expected a recorded sale")
    };
    assert!(!receipt.offline);
    assert_eq!(receipt.buyer.masked_id, nhi_card::mask_id(&buyer));

    let status = sync_until_empty(&mut client, Duration::from_secs(20)).await;
    assert_eq!(status.connectivity, mask_protocol::Connectivity::Online);
    assert_eq!(server.sold().await, 3);
    // Asking again sends nothing twice.
    sync_until_empty(&mut client, Duration::from_secs(20)).await;
    assert_eq!(server.sold().await, 3);
    assert_eq!(files.journal().sale_states().unwrap(), (0, 1, 0, 0));

    // The window is used up now: refused, with the next date.
    let SellOutcome::Refused(refused) = sell(&mut client, manual(&buyer, None), 1).await else {
        panic!("expected a refusal")
    };
    assert_eq!(refused.reason, Some(RefusalReason::Window));
    assert_eq!(refused.next_date, Some(time::macros::date!(2020 - 03 - 19)));
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_counts_its_own_unsynced_sales_even_when_the_server_answers() {
    let mut server = TestServer::start().await;
    let files = AgentFiles::new("unsynced", &server.url(), &server.token);
    let agent = InProcessAgent::start(&files).await;
    let mut client = agent.client().await;
    let buyer = ids::even_id(40);
    server.stop().await;
    let SellOutcome::Recorded(first) = sell(&mut client, manual(&buyer, None), 2).await else {
        panic!("expected a recorded sale")
    };
    assert!(first.offline);
    server.restart().await;
    // The server has not seen the offline sale yet (sync backs off), but the agent has.
    let outcome = sell(&mut client, manual(&buyer, None), 2).await;
    match outcome {
        SellOutcome::Refused(e) => assert_eq!(e.reason, Some(RefusalReason::Quota)),
        SellOutcome::Recorded(r) => panic!("sold beyond the quota: {r:?}"),
    }
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_in_and_delisting_are_journaled_and_reach_the_server() {
    let server = TestServer::start().await;
    let files = AgentFiles::new("stock", &server.url(), &server.token);
    let agent = InProcessAgent::start(&files).await;
    let mut client = agent.client().await;
    let before = server.inventory().await;
    // The agent starts from the server's opening stock of the day (fetched at start).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let inventory = inventory(&mut client).await;
        if inventory.adult.remaining == before.remaining_adult {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "opening stock not fetched: {inventory:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let form = StockInForm {
        received_adult: 200,
        received_child: 50,
        damaged_adult: 2,
        damaged_child: 1,
    };
    let ResponseBody::Inventory(inventory) =
        client.request(RequestBody::StockIn(form)).await.unwrap()
    else {
        panic!("expected inventory")
    };
    assert_eq!(
        (
            inventory.adult.received,
            inventory.adult.damaged,
            inventory.adult.remaining
        ),
        (200, 2, before.remaining_adult + 198)
    );
    assert_eq!(inventory.adult.cap, 200);

    let ResponseBody::Listing(listing) = client
        .request(RequestBody::SetListing { listed: false })
        .await
        .unwrap()
    else {
        panic!("expected listing")
    };
    assert!(!listing.listed);
    sync_until_empty(&mut client, Duration::from_secs(20)).await;
    let after = server.inventory().await;
    assert_eq!(after.received_adult, before.received_adult + 200);
    assert_eq!(after.damaged_child, before.damaged_child + 1);
    let status = requests::status(&mut client).await;
    assert!(!status.listing.listed && status.listing.synced);
    agent.stop().await;
}

// Issue #13: the counter shows the amount to collect (from the dated price in the policy,
// computed by the agent through mask-api, never by the screen) before and after the sale, and
// today's sales and masks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_amount_to_collect_and_todays_counts_come_from_the_agent() {
    let server = TestServer::start().await;
    let files = AgentFiles::new("amount", &server.url(), &server.token);
    let agent = InProcessAgent::start(&files).await;
    let mut client = agent.client().await;
    let buyer = ids::even_id(20);

    let eligibility = check(&mut client, &buyer, None).await;
    assert_eq!(eligibility.allowed, 3);
    assert_eq!(eligibility.amounts_due, vec![5, 10, 15]);

    let SellOutcome::Recorded(receipt) = sell(&mut client, manual(&buyer, None), 3).await else {
        panic!("expected a recorded sale")
    };
    assert_eq!(receipt.amount_due, Some(15));

    // Refused now: nothing to collect.
    let again = check(&mut client, &buyer, None).await;
    assert_eq!((again.allowed, again.amounts_due.len()), (0, 0));

    let inventory = inventory(&mut client).await;
    assert_eq!((inventory.adult.sales, inventory.adult.sold), (1, 3));
    assert_eq!((inventory.child.sales, inventory.child.sold), (0, 0));
}

// Issue #14: the agent's copy of the warning rule gave at most one warning per kind and
// warned about stock only on a day with a delivery; it now uses the server's rule
// (mask_api::StockLevel), so a low stock shows without a delivery today.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_low_stock_is_warned_without_a_delivery_today() {
    let mut server = TestServer::start().await;
    let files = AgentFiles::new("low-stock", &server.url(), &server.token);
    // Offline, so the server's opening stock does not replace this one: 10 adult masks at the
    // start of the day (below 10 % of the 200 cap), nothing received today.
    server.stop().await;
    let mut journal = files.journal();
    journal
        .store_opening(mask_agent::OpeningStock {
            day: time::macros::date!(2020 - 03 - 12),
            adult: 10,
            child: 45,
        })
        .unwrap();
    drop(journal);
    let agent = InProcessAgent::start(&files).await;
    let mut client = agent.client().await;
    let inventory = inventory(&mut client).await;
    assert!(
        inventory
            .warnings
            .contains(&mask_protocol::InventoryWarning {
                kind: mask_protocol::BuyerKind::Adult,
                code: mask_protocol::InventoryWarningCode::StockLow,
            }),
        "{inventory:?}"
    );
}
