//! The server probe: a light `whoami` every few seconds, so the status bar follows the server
//! going away and coming back without waiting for a sale, and cards are decided locally at
//! once during an outage. It also keeps the clock offset, the last contact and the pharmacy's
//! registered name in the journal and fetches the day's opening stock.

use std::sync::Arc;
use std::time::Duration;

use mask_protocol::Connectivity;
use tokio_util::sync::CancellationToken;

use crate::core::{Core, Exchange};
use crate::server::ServerError;

/// Between probes while the server answers, on average (each wait is drawn from ±25 %, so that
/// 6,500 agents switched on together do not probe together). Every sale and sync exchange
/// also updates the status, so this only bounds how long an idle counter shows a server that
/// went away as online. It was 3 s: 6,500 agents then sent the server 2,200 `whoami`s a
/// second, more than the day's sales, checks and pages together (BENCHMARKS.md, launch day).
pub const ONLINE_EVERY: Duration = Duration::from_secs(10);

/// Between probes during an outage or while the token is refused.
pub const OFFLINE_EVERY: Duration = Duration::from_secs(2);

/// A probe slower than this counts as an outage (as an eligibility check would).
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Runs until `shutdown`.
pub async fn run(core: Arc<Core>, shutdown: CancellationToken) {
    let Some(server) = core.server().cloned() else {
        return;
    };
    let mut shown: Option<(Connectivity, time::Duration)> = None;
    let mut opening_day = None;
    loop {
        let answer = match tokio::time::timeout(PROBE_TIMEOUT, server.whoami()).await {
            Ok(answer) => answer,
            Err(_) => Err(ServerError::Timeout),
        };
        let exchange = core.note_exchange(answer.as_ref().map(drop));
        if let Ok(me) = &answer {
            core.keep_site_name(me).await;
        }
        if exchange == Exchange::Answered {
            let today = mask_api::taipei_date(core.now());
            if opening_day != Some(today) {
                match core.fetch_opening().await {
                    Ok(true) => opening_day = Some(today),
                    Ok(false) => {}
                    Err(error) => tracing::warn!(%error, "cannot keep the opening stock"),
                }
            }
        }
        core.persist_server_view().await;
        let now_shown = (core.connectivity(), core.clock_offset());
        if shown != Some(now_shown) {
            shown = Some(now_shown);
            core.emit_sync_status().await;
        }
        let every = if now_shown.0 == Connectivity::Online {
            jittered(ONLINE_EVERY)
        } else {
            OFFLINE_EVERY
        };
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}

/// `every` ± 25 %, uniformly.
fn jittered(every: Duration) -> Duration {
    use rand::Rng as _;
    every.mul_f64(rand::rng().random_range(0.75..=1.25))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn online_probes_spread_around_their_interval() {
        let waits: Vec<Duration> = (0..1_000).map(|_| jittered(ONLINE_EVERY)).collect();
        assert!(waits.iter().all(|w| *w >= ONLINE_EVERY.mul_f64(0.75)));
        assert!(waits.iter().all(|w| *w <= ONLINE_EVERY.mul_f64(1.25)));
        let (min, max) = (waits.iter().min(), waits.iter().max());
        assert!(
            max.zip(min)
                .is_some_and(|(max, min)| *max - *min > ONLINE_EVERY / 4)
        );
    }
}
