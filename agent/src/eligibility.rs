//! Eligibility: the central server when it answers within 2 s, else a local decision with the
//! very same `mask_api::decide` over the cached policy and this pharmacy's own journal.
//! Offline never blocks selling within the offline budget; the decision says who made it.

use mask_api::{Buyer, BuyerKind, Eligibility, EligibilityRequest, RefusalReason};
use mask_protocol::DecisionSource;
use nhi_card::IdNumber;
use time::Date;

use crate::core::{AgentError, Core, Exchange};

/// An eligibility answer and who gave it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Kind, allowed quantity, refusal: the rules' (`mask_api::decide`, or the server's), or the
    /// agent's own about the server itself (`token_refused`, `server_refused`).
    pub eligibility: Eligibility,
    /// Server or local.
    pub source: DecisionSource,
}

impl Decision {
    /// Whether at least one mask may be sold.
    pub fn is_allowed(&self) -> bool {
        self.eligibility.is_allowed()
    }

    /// A refusal the agent makes about the server itself (not a rule of `mask_api::decide`).
    fn refused(kind: BuyerKind, source: DecisionSource, reason: RefusalReason) -> Decision {
        Decision {
            eligibility: Eligibility {
                kind,
                allowed: 0,
                next_date: None,
                reason: Some(reason),
            },
            source,
        }
    }
}

/// Decides locally from the policy and the journal, within the offline budget: no local
/// decision once `offline_max_hours` passed since the server last answered, and no more
/// masks of a kind on local decisions per day than the site's daily allocation.
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
    let policy = core.policy();
    let now = core.now();
    let mut eligibility = mask_api::decide(&policy, &buyer, &history, now);
    if !eligibility.is_allowed() {
        return Ok(eligibility);
    }
    let day = mask_api::taipei_date(now);
    let Some(version) = policy.in_force_on(day) else {
        return Ok(eligibility);
    };
    let limit = Eligibility {
        kind: eligibility.kind,
        allowed: 0,
        next_date: None,
        reason: Some(RefusalReason::OfflineLimit),
    };
    let offline_for = now - core.last_contact();
    if offline_for > time::Duration::hours(i64::from(version.offline_max_hours)) {
        tracing::warn!(
            hours = offline_for.whole_hours(),
            max = version.offline_max_hours,
            "offline budget spent: no local decisions until the server answers"
        );
        return Ok(limit);
    }
    let cap = version.site_daily_cap(eligibility.kind);
    // 0 means the version sets no allocation; it is not a cap of nothing.
    if cap > 0 {
        let kind = eligibility.kind;
        let sold = core.journal(move |j| j.sold_offline_on(day, kind)).await?;
        if sold >= cap {
            tracing::warn!(
                sold,
                cap,
                ?kind,
                "the day's allocation is sold on local decisions"
            );
            return Ok(limit);
        }
        eligibility.allowed = eligibility.allowed.min(cap - sold);
    }
    Ok(eligibility)
}

/// Decides: the server first (≤ 2 s) unless an outage is already known, local otherwise.
pub async fn decide(
    core: &Core,
    id_no: &IdNumber,
    birth_date: Option<Date>,
) -> Result<Decision, AgentError> {
    let kind = core
        .policy()
        .in_force_on(mask_api::taipei_date(core.now()))
        .map_or(BuyerKind::Adult, |v| v.kind_of(birth_date));
    if let Some(server) = core.server()
        && core.should_ask_server()
    {
        let id = id_no.as_str().to_owned();
        let unsynced = core.journal(move |j| j.unsynced_of(&id)).await?;
        let request = EligibilityRequest {
            id_no: id_no.as_str().to_owned(),
            birth_date,
            unsynced,
        };
        let result = server.eligibility(&request).await;
        match (core.note_exchange(result.as_ref().map(|_| ())), result) {
            // The server counted this pharmacy's unsynced sales itself: its answer is final.
            (_, Ok(answer)) => {
                return Ok(Decision {
                    eligibility: answer,
                    source: DecisionSource::Server,
                });
            }
            (Exchange::TokenRefused, Err(_)) => {
                return Ok(Decision::refused(
                    kind,
                    DecisionSource::Server,
                    RefusalReason::TokenRefused,
                ));
            }
            (Exchange::Refused, Err(error)) => {
                // The problem's detail may quote the request: log its code only.
                let (status, code) = match &error {
                    crate::server::ServerError::Status { status, problem } => (
                        *status,
                        problem
                            .as_ref()
                            .map(|p| p.code.as_str().to_owned())
                            .unwrap_or_default(),
                    ),
                    _ => (0, String::new()),
                };
                tracing::warn!(status, %code, id = %id_no.masked(), "the server refused the eligibility check");
                return Ok(Decision::refused(
                    kind,
                    DecisionSource::Server,
                    RefusalReason::ServerRefused,
                ));
            }
            (_, Err(error)) => {
                tracing::info!(%error, id = %id_no.masked(), "eligibility decided locally");
            }
        }
    }
    // A revoked token must not sell on just because the server is also unreachable now.
    if core.token_refused() {
        return Ok(Decision::refused(
            kind,
            DecisionSource::Local,
            RefusalReason::TokenRefused,
        ));
    }
    Ok(Decision {
        eligibility: decide_locally(core, id_no, birth_date).await?,
        source: DecisionSource::Local,
    })
}
