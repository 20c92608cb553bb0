//! Eligibility: the central server when it answers within 2 s, else a local decision with the
//! very same `mask_api::decide` over the cached policy and this pharmacy's own journal.
//! Offline never blocks selling; the decision says who made it.

use mask_api::{Buyer, Eligibility, EligibilityRequest};
use mask_protocol::DecisionSource;
use nhi_card::IdNumber;
use time::Date;

use crate::core::{AgentError, Core};

/// An eligibility answer and who gave it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Kind, allowed quantity, refusal.
    pub eligibility: Eligibility,
    /// Server or local.
    pub source: DecisionSource,
}

/// Decides locally from the policy and the journal.
pub async fn decide_locally(
    core: &Core,
    id_no: &IdNumber,
    birth_date: Option<Date>,
) -> Result<Eligibility, AgentError> {
    let id = id_no.as_str().to_owned();
    let history = core.journal(move |j| j.purchases_of(&id)).await?;
    let buyer = Buyer {
        id_last_digit: id_no.last_digit(),
        birth_date,
    };
    Ok(mask_api::decide(
        &core.policy(),
        &buyer,
        &history,
        core.now(),
    ))
}

/// The stricter of two answers for the same buyer (the server does not know this pharmacy's
/// unsynced sales; the local journal does not know other pharmacies').
fn stricter(server: Eligibility, local: Eligibility) -> Eligibility {
    if server.reason.is_some() {
        server
    } else if local.reason.is_some() || local.allowed < server.allowed {
        Eligibility {
            kind: server.kind,
            ..local
        }
    } else {
        server
    }
}

/// Decides: server first (≤ 2 s), local otherwise.
pub async fn decide(
    core: &Core,
    id_no: &IdNumber,
    birth_date: Option<Date>,
) -> Result<Decision, AgentError> {
    if let Some(server) = core.server() {
        let request = EligibilityRequest {
            id_no: id_no.as_str().to_owned(),
            birth_date,
            unsynced: Vec::new(),
        };
        match server.eligibility(&request).await {
            Ok(answer) => {
                core.note_server(true, None);
                let id = id_no.as_str().to_owned();
                let unsynced = core.journal(move |j| j.has_queued_sales_of(&id)).await?;
                let eligibility = if unsynced {
                    stricter(answer, decide_locally(core, id_no, birth_date).await?)
                } else {
                    answer
                };
                return Ok(Decision {
                    eligibility,
                    source: DecisionSource::Server,
                });
            }
            Err(error) => {
                tracing::info!(%error, id = %id_no.masked(), "eligibility decided locally");
                core.note_server(false, Some(error.to_string()));
            }
        }
    }
    Ok(Decision {
        eligibility: decide_locally(core, id_no, birth_date).await?,
        source: DecisionSource::Local,
    })
}
