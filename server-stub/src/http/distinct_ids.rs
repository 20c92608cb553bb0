//! The limit on how many different people one token may ask eligibility about per minute.
//!
//! An eligibility answer is personal data (whether a person bought masks lately, and how many).
//! A pharmacy counter asks about the few buyers it serves a minute (each may bring several
//! cards); a stolen token used to walk through the ID space asks about thousands. Repeated asks
//! about one person within the window count once: the agent asks again at the sale, and a
//! pharmacist may re-scan a card.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::person_key::PersonKey;

/// The window the limit counts over.
const WINDOW: Duration = Duration::from_secs(60);

/// Distinct persons asked per token over the last minute.
pub struct DistinctIds {
    per_window: usize,
    window: Duration,
    tokens: Mutex<HashMap<String, Asked>>,
}

/// The persons one token asked about within the window, oldest first.
#[derive(Default)]
struct Asked {
    order: VecDeque<(Instant, PersonKey)>,
    persons: HashSet<PersonKey>,
}

impl DistinctIds {
    /// At most `per_minute` different persons per token per minute; 0 disables the limit.
    pub fn new(per_minute: u32) -> Self {
        Self::with_window(per_minute, WINDOW)
    }

    fn with_window(per_window: u32, window: Duration) -> Self {
        Self {
            per_window: usize::try_from(per_window).unwrap_or(usize::MAX),
            window,
            tokens: Mutex::new(HashMap::new()),
        }
    }

    /// Counts an ask of `token` about `person`: `Ok`, or the whole seconds until the oldest
    /// person asked leaves the window (what `Retry-After` says).
    pub fn check(&self, token: &str, person: PersonKey) -> Result<(), u64> {
        if self.per_window == 0 {
            return Ok(());
        }
        let Ok(mut tokens) = self.tokens.lock() else {
            return Ok(());
        };
        // Tokens that stopped asking would otherwise stay forever.
        if tokens.len() > 100_000 {
            tokens.clear();
        }
        let asked = tokens.entry(token.to_owned()).or_default();
        let now = Instant::now();
        while let Some(&(at, old)) = asked.order.front() {
            if now.duration_since(at) < self.window {
                break;
            }
            asked.order.pop_front();
            asked.persons.remove(&old);
        }
        if asked.persons.contains(&person) {
            return Ok(());
        }
        if asked.persons.len() >= self.per_window {
            let wait = asked.order.front().map_or(self.window, |&(at, _)| {
                self.window.saturating_sub(now.duration_since(at))
            });
            return Err(wait.as_secs() + u64::from(wait.subsec_nanos() > 0));
        }
        asked.order.push_back((now, person));
        asked.persons.insert(person);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn person(n: u8) -> PersonKey {
        PersonKey([n; 16])
    }

    #[test]
    fn the_limit_counts_distinct_persons_per_token() {
        let limit = DistinctIds::new(2);
        assert_eq!(limit.check("t", person(1)), Ok(()));
        assert_eq!(limit.check("t", person(2)), Ok(()));
        assert_eq!(limit.check("t", person(1)), Ok(()), "a repeat counts once");
        let wait = limit.check("t", person(3)).unwrap_err();
        assert!((59..=60).contains(&wait), "{wait}");
        assert_eq!(limit.check("other", person(3)), Ok(()), "per token");
    }

    #[test]
    fn persons_leave_the_window() {
        let limit = DistinctIds::with_window(1, Duration::from_millis(30));
        assert_eq!(limit.check("t", person(1)), Ok(()));
        assert_eq!(limit.check("t", person(2)), Err(1));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(limit.check("t", person(2)), Ok(()));
    }

    #[test]
    fn zero_means_no_limit() {
        let limit = DistinctIds::new(0);
        for n in 0..=255 {
            assert_eq!(limit.check("t", person(n)), Ok(()));
        }
    }
}
