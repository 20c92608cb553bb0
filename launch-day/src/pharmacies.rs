//! The selling sites: each is the agent's own core ([`mask_agent::Core`]) with its journal,
//! its client of the server, and the agent's own sync and probe loops, driven by its planned
//! day. The counter does what the pharmacist does: enter the delivery, sell (the core checks
//! eligibility with the server first, else locally), delist and post a note when sold out.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use mask_agent::{Core, CoreSettings, Journal, Language, ServerClient};
use mask_api::Clock;
use mask_chaos::FaultProxy;
use mask_chaos::accounting::{Acked, JournalView, read_journal_from};
use mask_protocol::{SellBuyer, SellOutcome};
use tokio_util::sync::CancellationToken;

use crate::lock;
use crate::plan::{Action, SOLD_OUT_NOTE, SiteDay};
use crate::stats::{Outcome, Stats};
use crate::timeline::Timeline;

/// Counts of what happened at the counters.
#[derive(Debug, Default)]
pub struct Counters {
    /// Sales recorded (the screen said done).
    pub recorded: AtomicU64,
    /// Buyers turned away: the site had no masks of their kind left, or had delisted.
    pub turned_away: AtomicU64,
    /// Second tries recorded, whatever became of the first (a buyer turned away at a sold-out
    /// first pharmacy may buy at the second).
    pub second_recorded: AtomicU64,
    /// Second tries recorded after the buyer's first try was recorded too: each is an overrun
    /// (the first took the whole week's quota) that the server must flag once both arrive.
    pub second_after_first: AtomicU64,
    /// Buyers who will try again and whose first try was recorded.
    pub first_sold: Mutex<HashSet<String>>,
    /// Second tries refused (the server knew of the first sale).
    pub second_refused: AtomicU64,
    /// First tries refused: never expected on this day.
    pub refused_unexpected: AtomicU64,
    /// Sales that failed with an error at the counter.
    pub sell_errors: AtomicU64,
    /// Stock-ins, notes or listing changes that failed at the counter.
    pub other_errors: AtomicU64,
    /// Sites that sold out and delisted.
    pub delisted: AtomicU64,
    /// Notes posted.
    pub notes: AtomicU64,
}

impl Counters {
    /// Each count by its name, as the report keeps them.
    pub fn figures(&self) -> std::collections::BTreeMap<String, u64> {
        [
            ("recorded", &self.recorded),
            ("turned_away", &self.turned_away),
            ("second_recorded", &self.second_recorded),
            ("second_after_first", &self.second_after_first),
            ("second_refused", &self.second_refused),
            ("refused_unexpected", &self.refused_unexpected),
            ("sell_errors", &self.sell_errors),
            ("other_errors", &self.other_errors),
            ("delisted", &self.delisted),
            ("notes", &self.notes),
        ]
        .into_iter()
        .map(|(name, count)| (name.to_owned(), count.load(Ordering::Relaxed)))
        .collect()
    }
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// What a site did, for the accounting.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    /// Masks received minus damaged: adult, child.
    pub delivered: (i64, i64),
    /// Masks sold (recorded at the counter): adult, child.
    pub sold: (i64, i64),
    /// Delisted at sell-out.
    pub delisted: bool,
    /// The last note posted.
    pub note: Option<String>,
}

/// One running site.
pub struct Pharmacy {
    /// Index in the plan.
    pub index: usize,
    /// Its code.
    pub code: String,
    /// The agent's core.
    pub core: Arc<Core>,
    /// Its outage switch, for sites planned to lose the network.
    pub proxy: Option<FaultProxy>,
    /// What it did.
    pub ledger: Arc<Mutex<Ledger>>,
}

impl Pharmacy {
    /// A site with an in-memory journal, talking to the server at `server` (through its own
    /// proxy, which the outage cuts, when it has one planned) with `token`; its sync and probe
    /// loops start at `switched_on`.
    pub async fn start(
        index: usize,
        day: &SiteDay,
        server: std::net::SocketAddr,
        token: &str,
        clock: Clock,
        switched_on: tokio::time::Instant,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Pharmacy> {
        let proxy = match day.outage {
            Some(_) => Some(FaultProxy::start(server, index as u64).await?),
            None => None,
        };
        let url = match &proxy {
            Some(proxy) => proxy.url(),
            None => format!("http://{server}"),
        };
        let client = ServerClient::new(&url, token, None)?;
        let journal = Journal::open_in_memory()?;
        let settings = CoreSettings {
            site_code: day.code.clone(),
            language: Language::ZhTw,
            clock,
        };
        let core = Core::new(settings, journal, Some(client));
        // The agent's own background loops, started when this pharmacy's PC is switched on.
        let (sync, probe) = (Arc::clone(&core), Arc::clone(&core));
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(switched_on).await;
            tokio::spawn(mask_agent::run_probe(probe, shutdown.clone()));
            mask_agent::run_sync(sync, shutdown).await;
        });
        Ok(Pharmacy {
            index,
            code: day.code.clone(),
            core,
            proxy,
            ledger: Arc::default(),
        })
    }

    /// The base URL its client uses (for telling its exchanges apart).
    pub fn server_url(&self) -> Option<String> {
        self.core.server().map(|s| s.base_url().to_owned())
    }

    /// Plays the site's day.
    pub async fn play(
        &self,
        day: &SiteDay,
        timeline: Timeline,
        stats: &Stats,
        counters: &Counters,
        acked: &Mutex<Vec<Acked>>,
    ) {
        let mut on_hand = (0i64, 0i64);
        let mut delisted = false;
        for event in &day.events {
            if !timeline.contains(event.at) && !matches!(event.action, Action::StockIn(_)) {
                continue;
            }
            timeline.sleep_until(event.at).await;
            match &event.action {
                Action::StockIn(form) => match self.core.stock_in(*form).await {
                    Ok(_) => {
                        let adult = i64::from(form.received_adult) - i64::from(form.damaged_adult);
                        let child = i64::from(form.received_child) - i64::from(form.damaged_child);
                        on_hand = (on_hand.0 + adult, on_hand.1 + child);
                        let mut ledger = self.lock_ledger();
                        ledger.delivered = (ledger.delivered.0 + adult, ledger.delivered.1 + child);
                    }
                    Err(error) => {
                        tracing::error!(site = %self.code, %error, "stock-in failed");
                        bump(&counters.other_errors);
                    }
                },
                Action::Buy(buyer) | Action::SecondTry(buyer) => {
                    let second = matches!(event.action, Action::SecondTry(_));
                    let have = if buyer.child { on_hand.1 } else { on_hand.0 };
                    if delisted || have < i64::from(buyer.quantity) {
                        bump(&counters.turned_away);
                        continue;
                    }
                    let started = Instant::now();
                    let outcome = self
                        .core
                        .sell(
                            SellBuyer::Manual {
                                id_no: buyer.id_no.clone(),
                                birth_date: Some(buyer.birth_date),
                            },
                            buyer.quantity,
                        )
                        .await;
                    let took = started.elapsed();
                    match outcome {
                        Ok(SellOutcome::Recorded(receipt)) => {
                            stats.record("counter: sell", timeline.slot(), took, Outcome::Ok);
                            bump(&counters.recorded);
                            if second {
                                bump(&counters.second_recorded);
                                if lock(&counters.first_sold).contains(&buyer.id_no) {
                                    bump(&counters.second_after_first);
                                }
                            } else if buyer.tries_again {
                                lock(&counters.first_sold).insert(buyer.id_no.clone());
                            }
                            acked
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner)
                                .push(Acked {
                                    sale_id: receipt.sale_id,
                                    agent: self.index,
                                    quantity: buyer.quantity,
                                });
                            let quantity = i64::from(buyer.quantity);
                            let mut ledger = self.lock_ledger();
                            if buyer.child {
                                on_hand.1 -= quantity;
                                ledger.sold.1 += quantity;
                            } else {
                                on_hand.0 -= quantity;
                                ledger.sold.0 += quantity;
                            }
                        }
                        Ok(SellOutcome::Refused(view)) => {
                            stats.record("counter: sell", timeline.slot(), took, Outcome::Ok);
                            if second {
                                bump(&counters.second_refused);
                            } else {
                                tracing::error!(site = %self.code, reason = ?view.reason, agent_now = %self.core.now(), sim_now = %timeline.now(), "a first try was refused");
                                bump(&counters.refused_unexpected);
                            }
                        }
                        Err(error) => {
                            stats.record(
                                "counter: sell",
                                timeline.slot(),
                                took,
                                Outcome::Failed("error"),
                            );
                            tracing::error!(site = %self.code, %error, "sale failed at the counter");
                            bump(&counters.sell_errors);
                        }
                    }
                    // Sold out: one key delists the site, and the note tells people when to
                    // come back.
                    if !delisted && on_hand.0 < 2 {
                        delisted = true;
                        self.delist(counters).await;
                    }
                }
                Action::Note(text) => self.note(text, counters).await,
            }
        }
    }

    async fn delist(&self, counters: &Counters) {
        match self.core.set_listing(false).await {
            Ok(_) => {
                bump(&counters.delisted);
                self.lock_ledger().delisted = true;
            }
            Err(error) => {
                tracing::error!(site = %self.code, %error, "delisting failed");
                bump(&counters.other_errors);
            }
        }
        self.note(SOLD_OUT_NOTE, counters).await;
    }

    async fn note(&self, text: &str, counters: &Counters) {
        match self.core.set_note(text).await {
            Ok(_) => {
                bump(&counters.notes);
                self.lock_ledger().note = Some(text.to_owned());
            }
            Err(error) => {
                tracing::error!(site = %self.code, %error, "note failed");
                bump(&counters.other_errors);
            }
        }
    }

    fn lock_ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records still queued in the journal (sales and the rest).
    pub async fn queued(&self) -> anyhow::Result<u64> {
        let code = self.code.clone();
        let view = self.journal_view_named(code).await?;
        Ok(view.other_queued
            + view
                .sales
                .iter()
                .filter(|s| s.sync_state == "queued")
                .count() as u64)
    }

    /// The journal as the accounting reads it.
    pub async fn journal_view(&self) -> anyhow::Result<JournalView> {
        self.journal_view_named(self.code.clone()).await
    }

    async fn journal_view_named(&self, code: String) -> anyhow::Result<JournalView> {
        let view = self
            .core
            .journal(move |j| Ok(read_journal_from(j.connection(), &code)))
            .await??;
        Ok(view)
    }
}
