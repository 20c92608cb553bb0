//! The demo's card deck: one key inserts the next virtual card (played in-process to vpcd by
//! the fixtures crate's player), cycling through buyers and faulty cards so every counter flow
//! can be tried within a minute.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{self, Sender};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use nhi_fixtures::{Profile, VirtualCard};

use mask_terminal::DemoHooks;
use mask_terminal::{DemoAction, DemoCard, DemoNotice, Input};

use crate::proxy::LinkProxy;

/// The default cycle: (fixture profile, what it shows at the counter on the demo's Monday).
pub const DEFAULT_DECK: &[(&str, DemoCard)] = &[
    ("adult", DemoCard::AdultOdd),
    ("child", DemoCard::Child),
    ("adult-2", DemoCard::AdultEven),
    ("hpc", DemoCard::HealthProfessional),
    ("pulled", DemoCard::Pulled),
    ("bank", DemoCard::Bank),
    ("adult-3", DemoCard::AdultOdd2),
];

/// Resolves profile names (`--cards`) to profiles, labelling known ones.
pub fn deck(
    names: Option<&[String]>,
) -> Result<Vec<(Profile, DemoCard)>, nhi_fixtures::ProfileError> {
    let entries: Vec<(String, DemoCard)> = match names {
        None => DEFAULT_DECK
            .iter()
            .map(|(n, c)| ((*n).to_owned(), *c))
            .collect(),
        Some(list) => list
            .iter()
            .map(|n| {
                let card = DEFAULT_DECK
                    .iter()
                    .find(|(d, _)| d == n)
                    .map_or(DemoCard::Other, |(_, c)| *c);
                (n.clone(), card)
            })
            .collect(),
    };
    entries
        .into_iter()
        .map(|(name, card)| Ok((Profile::builtin(&name)?, card)))
        .collect()
}

enum Job {
    Act(DemoAction, Sender<Input>),
}

/// The demo hooks: a worker thread that owns the virtual card, and the link relay.
pub struct DemoDeck {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl DemoDeck {
    /// Starts the worker for `deck` on vpcd `port`; insert times go to `trace` when set.
    pub fn start(
        deck: Vec<(Profile, DemoCard)>,
        port: u16,
        link: Arc<LinkProxy>,
        trace: Option<PathBuf>,
    ) -> std::io::Result<DemoDeck> {
        let (jobs, rx) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("demo-cards".into())
            .spawn(move || {
                let mut card: Option<VirtualCard> = None;
                let mut next = 0usize;
                let mut inserted = 0u64;
                for Job::Act(action, inputs) in rx {
                    let notice = match action {
                        DemoAction::NextCard if deck.is_empty() => continue,
                        DemoAction::NextCard => {
                            let (profile, label) = &deck[next % deck.len()];
                            next += 1;
                            let result = match card.as_mut() {
                                Some(c) => c.swap(profile),
                                None => VirtualCard::insert(profile, port).map(|c| {
                                    card = Some(c);
                                }),
                            };
                            match result {
                                Ok(()) => {
                                    inserted += 1;
                                    trace_insert(trace.as_ref(), inserted);
                                    DemoNotice::CardInserted(*label)
                                }
                                Err(e) => DemoNotice::Failed(e.to_string()),
                            }
                        }
                        DemoAction::ToggleOnline => {
                            let up = !link.is_online();
                            link.set_online(up);
                            DemoNotice::Link(up)
                        }
                    };
                    let _ = inputs.send(Input::Demo(notice));
                }
                // Channel closed: the demo is stopping; take the card out.
                drop(card);
            })?;
        Ok(DemoDeck {
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }
}

fn trace_insert(trace: Option<&PathBuf>, n: u64) {
    let Some(path) = trace else { return };
    let ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(path) {
        let _ = writeln!(f, "inserted {n} {ns}");
    }
}

impl DemoHooks for DemoDeck {
    fn act(&mut self, action: DemoAction, inputs: Sender<Input>) {
        if let Some(jobs) = &self.jobs {
            let _ = jobs.send(Job::Act(action, inputs));
        }
    }
}

impl Drop for DemoDeck {
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
