//! The audit of eligibility questions, written in groups off the request path.
//!
//! Every answered eligibility question is one row (who asked: token and site; about whom: the
//! masked ID and the keyed person key; when). A transaction per question would put a commit on
//! the hot path of every card inserted; instead the handler hands the row to a queue (no wait)
//! and one task writes what has gathered every `eligibility_audit_flush` (200 ms by default) or
//! 2,048 rows, whichever comes first, as one store call (one savepoint in SQLite's group
//! commit; one statement in PostgreSQL). A graceful stop writes what is left.
//!
//! The queue is bounded: when the store cannot keep up (or is down) and it fills, questions are
//! refused (503) rather than answered without a record. A crash (kill -9, power loss) loses the
//! rows of the last flush interval at most.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::store::{AskRecord, DynStore};

/// Most rows written in one store call.
const MAX_BATCH: usize = 2048;
/// Rows waiting at most (queue plus a group the store refused); beyond, questions get 503.
const MAX_WAITING: usize = 65_536;

enum Command {
    Ask(AskRecord),
    Flush(oneshot::Sender<()>),
}

/// The queue to the writer task (which ends once every handle is dropped, after a last write).
pub struct AskLog {
    queue: mpsc::Sender<Command>,
}

/// The queue is full: the store has not taken the rows for a while.
#[derive(Debug)]
pub struct Backlog;

impl AskLog {
    /// Starts the writer task on the current runtime; it writes at least every `every`.
    pub fn start(store: DynStore, every: Duration) -> Self {
        let (queue, commands) = mpsc::channel(MAX_WAITING);
        tokio::spawn(writer(store, every, commands));
        Self { queue }
    }

    /// Queues one row; never waits.
    pub fn record(&self, ask: AskRecord) -> Result<(), Backlog> {
        self.queue.try_send(Command::Ask(ask)).map_err(|_| Backlog)
    }

    /// Writes every row queued so far (graceful stop; tests read the audit right after).
    pub async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.queue.send(Command::Flush(done)).await.is_ok() {
            let _ = written.await;
        }
    }
}

async fn writer(store: DynStore, every: Duration, mut commands: mpsc::Receiver<Command>) {
    let mut pending: Vec<AskRecord> = Vec::new();
    let mut tick = tokio::time::interval(every.max(Duration::from_millis(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            // While a refused group waits, take no more: the queue fills and questions get 503.
            command = commands.recv(), if pending.len() < MAX_BATCH => match command {
                Some(Command::Ask(ask)) => {
                    pending.push(ask);
                    if pending.len() >= MAX_BATCH {
                        write(&store, &mut pending).await;
                    }
                }
                Some(Command::Flush(done)) => {
                    write(&store, &mut pending).await;
                    let _ = done.send(());
                }
                None => {
                    write(&store, &mut pending).await;
                    return;
                }
            },
            _ = tick.tick() => write(&store, &mut pending).await,
        }
    }
}

/// Writes `pending`; on failure keeps it for the next tick.
async fn write(store: &DynStore, pending: &mut Vec<AskRecord>) {
    if pending.is_empty() {
        return;
    }
    match store.record_asks(pending.clone()).await {
        Ok(()) => pending.clear(),
        Err(e) => {
            tracing::error!(error = %e, rows = pending.len(), "eligibility audit rows not written; retrying");
        }
    }
}
