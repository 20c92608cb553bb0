//! The pure eligibility decision: (policy set, buyer, purchase history, now) → [`Eligibility`].
//!
//! Used by the server for every check and sale, and by the agent offline with its cached policy
//! set and its own journal, so both sides always agree.

use time::{Date, Duration, OffsetDateTime};

use super::{PolicySet, PolicyVersion, RefusalReason};
use crate::eligibility::Eligibility;
use crate::time_fmt::{TAIPEI, taipei_date};

/// How far ahead [`decide`] looks for the next day a refused buyer may buy. Longer than any
/// window plus a week of weekday rules, so `None` means "no rule set allows it at all".
const NEXT_DATE_HORIZON_DAYS: i64 = 62;

/// The facts about a buyer the rules need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Buyer {
    /// Last digit of the national ID (odd/even weekday rule).
    pub id_last_digit: u8,
    /// Birth date when known (card, or typed); `None` decides as adult.
    pub birth_date: Option<Date>,
}

impl Buyer {
    /// A buyer from an ID number string: its last character must be a digit (every valid ID
    /// format ends in one). Validate the ID itself with `nhi_id::IdNumber` first.
    pub fn from_id_str(id_no: &str, birth_date: Option<Date>) -> Option<Self> {
        let last = id_no.trim().chars().last()?.to_digit(10)?;
        Some(Self {
            id_last_digit: u8::try_from(last).ok()?,
            birth_date,
        })
    }

    /// A buyer from a validated ID number.
    pub fn from_id(id_no: &nhi_id::IdNumber, birth_date: Option<Date>) -> Self {
        Self {
            id_last_digit: id_no.last_digit(),
            birth_date,
        }
    }
}

/// One earlier purchase by the same person (at any pharmacy).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Purchase {
    /// When it was sold.
    pub sold_at: OffsetDateTime,
    /// Masks sold.
    pub quantity: u32,
}

/// Decides what a buyer may buy at `now`.
///
/// - kind: adult/child from the birth date under the version in force today (unknown → adult);
/// - window: a purchase on day D opens a window of the version in force on D; all purchases
///   before D + window count against it; next purchase allowed on D + window. The quantity is the
///   one in force today minus what was bought in the open window (unused quota does not carry
///   over into a later window);
/// - refusal order: `window`, `closed` (Sunday), `weekday` (odd/even), `hours`;
/// - when refused, `next_date` is the first day on which every rule but the hours allows a sale
///   (today when refused only for being before opening time).
pub fn decide(
    policies: &PolicySet,
    buyer: &Buyer,
    history: &[Purchase],
    now: OffsetDateTime,
) -> Eligibility {
    let local = now.to_offset(TAIPEI);
    let today = local.date();
    let Some(policy) = policies.in_force_on(today) else {
        let first = policies.first();
        return Eligibility {
            kind: first.kind_of(buyer.birth_date),
            allowed: 0,
            next_date: next_allowed_day(policies, buyer, history, first.effective_from),
            reason: Some(RefusalReason::NotStarted),
        };
    };
    let kind = policy.kind_of(buyer.birth_date);
    let reason = match refusal_on_day(policies, policy, buyer, history, today) {
        Some(reason) => Some(reason),
        None if !policy.within_hours(local.time()) => Some(RefusalReason::Hours),
        None => None,
    };
    match reason {
        None => Eligibility {
            kind,
            allowed: remaining_on(policies, policy, buyer, history, today),
            next_date: None,
            reason: None,
        },
        Some(reason) => {
            let from = if reason == RefusalReason::Hours && local.time() < policy.opens_at {
                today
            } else {
                today.next_day().unwrap_or(today)
            };
            Eligibility {
                kind,
                allowed: 0,
                next_date: next_allowed_day(policies, buyer, history, from),
                reason: Some(reason),
            }
        }
    }
}

/// Whether a sale of `quantity` at `sold_at` keeps to the rules, given the earlier purchases.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SaleCheck {
    /// Within the rules.
    Within,
    /// Breaks them (the sale is still recorded, flagged for audit): the rule broken.
    Overrun(RefusalReason),
}

/// Checks one sale against the rules (the server flags an overrun; the agent refuses before
/// selling). The rule broken is the refusal reason, or `quota` when some but fewer masks were
/// still allowed.
pub fn check_sale(
    policies: &PolicySet,
    buyer: &Buyer,
    history: &[Purchase],
    quantity: u32,
    sold_at: OffsetDateTime,
) -> SaleCheck {
    let eligibility = decide(policies, buyer, history, sold_at);
    match eligibility.reason {
        Some(reason) => SaleCheck::Overrun(reason),
        None if quantity > eligibility.allowed => SaleCheck::Overrun(RefusalReason::Quota),
        None => SaleCheck::Within,
    }
}

/// The day-level refusal (everything but opening hours), or `None` when the day allows a sale.
fn refusal_on_day(
    policies: &PolicySet,
    policy: &PolicyVersion,
    buyer: &Buyer,
    history: &[Purchase],
    day: Date,
) -> Option<RefusalReason> {
    let kind = policy.kind_of(buyer.birth_date);
    if remaining_on(policies, policy, buyer, history, day) == 0 {
        Some(RefusalReason::Window)
    } else if !policy.day_open(day.weekday()) {
        Some(RefusalReason::Closed)
    } else if !policy.weekday_allows(kind, buyer.id_last_digit, day.weekday()) {
        Some(RefusalReason::Weekday)
    } else {
        None
    }
}

/// Masks still allowed on `day` under `policy` (the version in force that day).
fn remaining_on(
    policies: &PolicySet,
    policy: &PolicyVersion,
    buyer: &Buyer,
    history: &[Purchase],
    day: Date,
) -> u32 {
    let limit = policy.quantity(policy.kind_of(buyer.birth_date));
    limit.saturating_sub(used_in_open_window(policies, history, day))
}

/// Masks bought in the window still open on `day` (0 when none is open).
///
/// A purchase dated after `day` counts as bought on `day`: it was recorded already, so either
/// a clock was set back (the counter's, or the pharmacy that sold it) or `day` is in the past.
/// Ignoring it would let a clock set back a day reopen a quota.
fn used_in_open_window(policies: &PolicySet, history: &[Purchase], day: Date) -> u32 {
    let mut days: Vec<(Date, u32)> = history
        .iter()
        .map(|p| (taipei_date(p.sold_at).min(day), p.quantity))
        .collect();
    days.sort_unstable();
    let mut window: Option<(Date, u32)> = None; // (end exclusive, used)
    for (bought_on, quantity) in days {
        window = match window {
            Some((end, used)) if bought_on < end => Some((end, used.saturating_add(quantity))),
            _ => Some((window_end(policies, bought_on), quantity)),
        };
    }
    match window {
        Some((end, used)) if day < end => used,
        _ => 0,
    }
}

/// End (exclusive) of a window opened by a purchase on `opened_on`: the window length of the
/// version in force that day (the first version for earlier days).
fn window_end(policies: &PolicySet, opened_on: Date) -> Date {
    let policy = policies
        .in_force_on(opened_on)
        .unwrap_or_else(|| policies.first());
    opened_on
        .checked_add(Duration::days(i64::from(policy.window_days)))
        .unwrap_or(Date::MAX)
}

/// First day from `from` on which the day-level rules allow this buyer a sale.
fn next_allowed_day(
    policies: &PolicySet,
    buyer: &Buyer,
    history: &[Purchase],
    from: Date,
) -> Option<Date> {
    let mut day = from;
    for _ in 0..NEXT_DATE_HORIZON_DAYS {
        if let Some(policy) = policies.in_force_on(day)
            && refusal_on_day(policies, policy, buyer, history, day).is_none()
        {
            return Some(day);
        }
        day = day.next_day()?;
    }
    None
}

#[cfg(test)]
mod tests;
