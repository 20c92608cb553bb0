//! One request to the running agent each, unwrapped to the answer the test expects (a test
//! that gets another answer panics with it).

use mask_agent::LocalClient;
use mask_protocol::{
    EligibilityView, Inventory, RequestBody, ResponseBody, SellBuyer, SellOutcome, StatusReport,
};

/// A typed-in buyer (no card), with the birth date when known.
pub fn manual(id_no: &str, birth_date: Option<time::Date>) -> SellBuyer {
    SellBuyer::Manual {
        id_no: id_no.into(),
        birth_date,
    }
}

/// Sells `quantity` to `buyer`.
pub async fn sell(client: &mut LocalClient, buyer: SellBuyer, quantity: u32) -> SellOutcome {
    match client
        .request(RequestBody::Sell { buyer, quantity })
        .await
        .unwrap()
    {
        ResponseBody::Sell(outcome) => outcome,
        other => panic!("expected a sale outcome, got {other:?}"),
    }
}

/// Asks whether `id_no` may buy.
pub async fn check(
    client: &mut LocalClient,
    id_no: &str,
    birth_date: Option<time::Date>,
) -> EligibilityView {
    match client
        .request(RequestBody::CheckEligibility {
            id_no: id_no.into(),
            birth_date,
        })
        .await
        .unwrap()
    {
        ResponseBody::Eligibility(view) => view,
        other => panic!("expected eligibility, got {other:?}"),
    }
}

/// The agent's status.
pub async fn status(client: &mut LocalClient) -> StatusReport {
    match client.request(RequestBody::Status).await.unwrap() {
        ResponseBody::Status(status) => status,
        other => panic!("expected status, got {other:?}"),
    }
}

/// The day's stock.
pub async fn inventory(client: &mut LocalClient) -> Inventory {
    match client.request(RequestBody::Inventory).await.unwrap() {
        ResponseBody::Inventory(inventory) => inventory,
        other => panic!("expected inventory, got {other:?}"),
    }
}
