//! kill -9 of the agent at random points while it syncs and sells: after recovery the server
//! holds exactly the journal's sales (none lost, none doubled).

use std::time::Duration;

use mask_protocol::{RequestBody, ResponseBody, SellBuyer, SellOutcome};
use rand::Rng;

use crate::support::{AgentFiles, ChildAgent, TestServer, ids, sync_until_empty};

const PREFILLED: usize = 6000;
const KILLS: usize = 25;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_sync_loses_and_duplicates_nothing() {
    let server = TestServer::start().await;
    let files = AgentFiles::new("kill9", &server.url(), &server.token);
    files.prefill(PREFILLED, 100_000);
    let mut recorded = 0_u32;
    let mut rng = rand::rng();
    let mut next_child = 0_usize;
    for round in 0..KILLS {
        let mut agent = ChildAgent::start(&files).await;
        // A few counter sales (children: exempt from the weekday rule) right before the kill.
        let mut client = agent.client().await;
        for _ in 0..rng.random_range(0..3) {
            let id_no = ids::with_check_digit(&format!("D2{:07}", 500_000 + next_child));
            next_child += 1;
            let buyer = SellBuyer::Manual {
                id_no,
                birth_date: Some(time::macros::date!(2015 - 06 - 01)),
            };
            match client
                .request(RequestBody::Sell { buyer, quantity: 1 })
                .await
            {
                Ok(ResponseBody::Sell(SellOutcome::Recorded(_))) => recorded += 1,
                other => panic!("round {round}: {other:?}"),
            }
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..250))).await;
        agent.kill9();
    }
    let agent = ChildAgent::start(&files).await;
    let mut client = agent.client().await;
    sync_until_empty(&mut client, Duration::from_secs(120)).await;
    let total = PREFILLED as u32 + recorded;
    let (queued, accepted, overrun, rejected) = files.journal().sale_states().unwrap();
    assert_eq!((queued, overrun, rejected), (0, 0, 0));
    assert_eq!(accepted, u64::from(total));
    assert_eq!(files.journal().sale_count().unwrap(), u64::from(total));
    assert_eq!(
        server.sold().await,
        total,
        "server count must equal the journal count"
    );
}
