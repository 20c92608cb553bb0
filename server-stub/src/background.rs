//! Work the server does for itself rather than for a waiting request: rebuilding the open-data
//! snapshot and rendering its stock pages ahead, on one OS thread of its own, one job at a
//! time.
//!
//! Why not tokio's blocking pool: a refresh allocates tens of MB of pages, and on whichever
//! pool thread ran it that memory went to that thread's glibc arena, where it stayed
//! fragmented; the launch-day server grew to 2.1–2.6 GB in its first 15 minutes at 10× (two
//! runs; 2.8–3.4 GB in 30). On one thread the pages come from one arena: 0.9–1.1 GB over the
//! same 15 minutes in six runs (BENCHMARKS.md). Running this thread at a lower OS priority was
//! tried and did not help (the spread between identical runs was larger than any difference),
//! so it runs at the normal one.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;

use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

/// The background thread; it ends when this is dropped.
#[derive(Debug)]
pub(crate) struct Background {
    jobs: mpsc::Sender<Job>,
}

/// Why a background job gave no answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BackgroundError {
    #[error("the background thread could not start: {0}")]
    Start(#[from] std::io::Error),
    #[error("the background thread is gone")]
    Gone,
    #[error("a background job panicked")]
    Panicked,
}

impl Background {
    /// Starts the thread.
    pub(crate) fn start() -> Result<Background, BackgroundError> {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("background-render".into())
            .spawn(move || {
                for job in queue {
                    // A panicking job drops its answer channel (its caller sees `Panicked`);
                    // the thread stays for the next one.
                    let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
                }
            })?;
        Ok(Background { jobs })
    }

    /// Runs `work` on the background thread and waits for its answer (jobs run one at a time,
    /// in the order given).
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, BackgroundError> {
        let (answer, answered) = oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = answer.send(work());
            }))
            .map_err(|_| BackgroundError::Gone)?;
        answered.await.map_err(|_| BackgroundError::Panicked)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_jobs_in_order_and_survives_a_panicking_one() {
        let background = Background::start().unwrap();
        assert_eq!(background.run(|| 1 + 1).await.unwrap(), 2);
        let failed = background.run(|| -> u32 { panic!("job fails") }).await;
        assert!(
            matches!(failed, Err(BackgroundError::Panicked)),
            "{failed:?}"
        );
        let name = background
            .run(|| std::thread::current().name().map(str::to_owned))
            .await
            .unwrap();
        assert_eq!(name.as_deref(), Some("background-render"));
    }
}
