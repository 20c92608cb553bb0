//! Purchase histories for eligibility checks, read in groups.
//!
//! Every eligibility request needs one person's history. Concurrent requests queue here and
//! two reader tasks each take every request waiting and answer them with one statement (the
//! sales batches' own history lookup), so PostgreSQL's per-statement work is shared out as the
//! sales writer shares it (`sales`). Reads need no locks: eligibility is advice, and the sale
//! itself is judged again when it is written.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use crate::store::HeldSale;
use deadpool_postgres::Pool;
use futures::FutureExt;
use tokio::sync::{Mutex, mpsc, oneshot};

use super::sales::{HISTORY, histories_of};
use crate::person_key::PersonKey;
use crate::store::StoreError;

/// Most requests answered by one statement.
const MAX_GROUP: usize = 256;
/// Reader tasks (statements in flight at once).
const READERS: usize = 2;

type Reply = oneshot::Sender<Result<Vec<HeldSale>, StoreError>>;

/// The queue to the reader tasks; they end when this is dropped.
pub(super) struct GroupReader {
    requests: mpsc::UnboundedSender<(PersonKey, Reply)>,
}

impl GroupReader {
    /// Starts the reader tasks on the current runtime.
    pub(super) fn spawn(pool: Pool) -> Self {
        let (requests, queue) = mpsc::unbounded_channel();
        let queue = Arc::new(Mutex::new(queue));
        for _ in 0..READERS {
            tokio::spawn(reader_loop(pool.clone(), Arc::clone(&queue)));
        }
        Self { requests }
    }

    /// Every purchase of `person`, read with the next group.
    pub(super) async fn history(&self, person: PersonKey) -> Result<Vec<HeldSale>, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send((person, reply))
            .map_err(|_| StoreError::WorkerGone)?;
        answer.await.map_err(|_| StoreError::WorkerGone)?
    }
}

async fn reader_loop(pool: Pool, queue: Arc<Mutex<mpsc::UnboundedReceiver<(PersonKey, Reply)>>>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    loop {
        // Holding the lock only while taking a group lets the other reader take the next one
        // while this one's statement runs.
        let taken = queue.lock().await.recv_many(&mut group, MAX_GROUP).await;
        if taken == 0 {
            return;
        }
        let read = AssertUnwindSafe(read_group(&pool, &group))
            .catch_unwind()
            .await
            .unwrap_or_else(|_| Err(StoreError::Commit("a history reader panicked".into())));
        match read {
            Ok(by_person) => {
                for (person, reply) in group.drain(..) {
                    // Cloned: one person may be asked for twice in a group.
                    let history = by_person.get(&person).cloned().unwrap_or_default();
                    let _ = reply.send(Ok(history));
                }
            }
            Err(e) => {
                let message = e.to_string();
                for (_, reply) in group.drain(..) {
                    // A corrupt row stays that error for every reader; the rest, whose causes
                    // cannot be cloned, keep their text.
                    let error = match &e {
                        StoreError::CorruptRow { column, value } => StoreError::CorruptRow {
                            column,
                            value: value.clone(),
                        },
                        _ => StoreError::Commit(message.clone()),
                    };
                    let _ = reply.send(Err(error));
                }
            }
        }
    }
}

async fn read_group(
    pool: &Pool,
    group: &[(PersonKey, Reply)],
) -> Result<HashMap<PersonKey, Vec<HeldSale>>, StoreError> {
    let client = pool.get().await?;
    let statement = client.prepare_cached(HISTORY).await?;
    let mut persons: Vec<&[u8]> = group.iter().map(|(p, _)| &p.as_bytes()[..]).collect();
    persons.sort_unstable();
    persons.dedup();
    let rows = client.query(&statement, &[&persons]).await?;
    histories_of(&rows)
}
