//! The shared pool of buyers both pharmacies sell to: valid IDs (completed by the card crate's
//! own validator), a mix of even and odd last digits and some children with a birth date.

use rand::Rng;
use time::Date;
use time::macros::date;

/// One person of the pool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolBuyer {
    /// Full national ID (never printed: figures show the masked form).
    pub id_no: String,
    /// Set for children (decides the child quota and the weekday exemption).
    pub birth_date: Option<Date>,
}

/// A valid citizen ID from `letter`, `sex` (1 or 2) and a 7-digit sequence number, completed
/// by the one generator of test IDs (which lists it for `scripts/check-logs.sh` when the run's
/// logs are collected).
pub fn valid_id(letter: char, sex: u8, seq: u32) -> String {
    let prefix = format!("{letter}{sex}{:07}", seq % 10_000_000);
    nhi_fixtures::generated_id(&prefix).unwrap_or_else(|| format!("{prefix}0"))
}

/// Buyer `i` of run `run` (runs keep their people apart on one server).
pub fn buyer(run: u32, i: usize) -> PoolBuyer {
    let seq = run.wrapping_mul(1_000_000).wrapping_add(i as u32);
    let id_no = valid_id('E', if i.is_multiple_of(2) { 1 } else { 2 }, seq);
    // Every fifth buyer is a child (born 2012): exempt from the weekday rule from 2020-02-27
    // on, with a child quota.
    let birth_date = (i % 5 == 4).then_some(date!(2012 - 06 - 01));
    PoolBuyer { id_no, birth_date }
}

/// `size` distinct buyers.
pub fn pool(size: usize, run: u32) -> Vec<PoolBuyer> {
    (0..size).map(|i| buyer(run, i)).collect()
}

/// A buyer of the window `[offset, offset + size)` and a quantity (1–3 masks: sometimes more
/// than the rules allow, so the agent refuses and, offline at two pharmacies, overruns
/// happen). The window slides as the run goes on, so new people keep coming while the ones
/// in the window are shared by both pharmacies.
pub fn pick<R: Rng>(rng: &mut R, run: u32, offset: usize, size: usize) -> (PoolBuyer, u32) {
    let i = offset + rng.random_range(0..size.max(1));
    (buyer(run, i), rng.random_range(1..=3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_ids_are_valid_and_distinct() {
        let buyers = pool(200, 3);
        let mut ids: Vec<_> = buyers.iter().map(|b| b.id_no.clone()).collect();
        for id in &ids {
            assert!(nhi_card::IdNumber::parse(id).is_ok(), "{id}");
        }
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 200);
        assert!(buyers.iter().any(|b| b.birth_date.is_some()));
    }

    #[test]
    fn known_id_gets_its_check_digit() {
        assert_eq!(valid_id('A', 1, 2_345_678), "A123456789");
    }
}
