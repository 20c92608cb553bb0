//! The rationing rules as data (DOMAIN.md §2) and the one pure function that applies them.
//!
//! Rules changed almost weekly in 2020, so they are [`PolicyVersion`] records with an effective
//! date, not constants: the server serves them at `GET /v1/policy`, the agent caches them and
//! runs the very same [`decide`] offline against its own journal. The records of 2020 ship
//! embedded ([`PolicySet::builtin`], from `policy/policy-2020.json`).

mod decide;

pub use decide::{Buyer, Purchase, SaleCheck, check_sale, decide};

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime, Time, Weekday};

use crate::code::{closed_codes, wire_codes};
use crate::time_fmt::{hh_mm, iso_date, taipei_date};

/// The policy records of 2020 as shipped (JSON, see [`PolicySet::from_json`]).
pub const POLICY_2020_JSON: &str = include_str!("../policy/policy-2020.json");

/// Adult or child buyer: decides the quantity and (from 2020-02-27) the weekday exemption.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum BuyerKind {
    /// Older than the child age limit, or birth date unknown.
    Adult,
    /// Born on or after the policy's `child_born_on_or_after`.
    Child,
}

closed_codes!(BuyerKind, "buyer kind", Adult = "adult", Child = "child");

wire_codes! {
    /// Why a buyer may not buy now. Stable snake_case codes: clients switch on them. The server
    /// decides the rule codes; the agent adds `offline_limit`, `token_refused` and
    /// `server_refused` for the counter. A code from a newer peer is kept as [`Self::Other`].
    pub enum RefusalReason {
        /// `"window"`: the quantity of the current window is used up; `next_date` is the window
        /// end.
        Window = "window",
        /// `"closed"`: no sales today at all (Sundays from 2020-04-19).
        Closed = "closed",
        /// `"weekday"`: the ID's last digit may not buy on this weekday (odd/even rule).
        Weekday = "weekday",
        /// `"hours"`: outside the opening hours of the sales channel (07:00–23:00 Asia/Taipei);
        /// `next_date` is today when before opening, else the next allowed day.
        Hours = "hours",
        /// `"not_started"`: before the first policy version (2020-02-06): no rationed sales yet.
        NotStarted = "not_started",
        /// `"quota"`: the requested quantity is more than still allowed (sales only; eligibility
        /// itself answers with the allowed quantity instead).
        Quota = "quota",
        /// `"offline_limit"`: the agent is past its offline budget (hours since the last contact
        /// with the server, or the day's allocation sold offline): no local decision until the
        /// server answers again. Decided by the agent only.
        OfflineLimit = "offline_limit",
        /// `"token_refused"`: the server refuses this pharmacy's token (401/403); call the
        /// central helpdesk. Decided by the agent only (the server answers with a problem).
        TokenRefused = "token_refused",
        /// `"server_refused"`: the server refused the eligibility request itself (another 4xx);
        /// the detail is in the agent's log. Decided by the agent only.
        ServerRefused = "server_refused",
    }
}

/// Which weekdays a buyer may buy on, by the last digit of the ID number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum WeekdayRule {
    /// Odd last digit: Mon/Wed/Fri; even: Tue/Thu/Sat; Sunday: everyone (when open).
    OddEven,
    /// Any day.
    None,
}

/// Whether sales happen on Sunday.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SundayRule {
    /// Sunday is open to every ID (the odd/even rule does not apply).
    OpenToAll,
    /// No sales on Sunday.
    Closed,
}

/// One version of the rationing rules, in force from `effective_from` (Asia/Taipei) until the
/// next version's date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PolicyVersion {
    /// First day (Asia/Taipei) this version applies.
    #[serde(with = "iso_date")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date, example = "2020-03-05"))]
    pub effective_from: Date,
    /// Masks per adult per window.
    pub adult_quantity: u32,
    /// Masks per child per window.
    pub child_quantity: u32,
    /// Window length in days, counted from the purchase day: next purchase on purchase date + window.
    pub window_days: u16,
    /// Odd/even weekday rule by the ID's last digit.
    pub weekday_rule: WeekdayRule,
    /// Child cards are exempt from the weekday rule (from 2020-02-27).
    pub child_exempt_from_weekday_rule: bool,
    /// Sunday sales.
    pub sunday: SundayRule,
    /// Highest age that counts as a child (informational; the cut-off below decides).
    pub child_max_age: u8,
    /// Buyers born on or after this day are children (ROC 97 = 2008 at first, ROC 93 = 2004
    /// from 2020-03-19: the rule was stated by birth year).
    #[serde(with = "iso_date")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date, example = "2008-01-01"))]
    pub child_born_on_or_after: Date,
    /// Sales open at (Asia/Taipei, `HH:MM`).
    #[serde(with = "hh_mm")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "07:00"))]
    pub opens_at: Time,
    /// Sales close at (Asia/Taipei, `HH:MM`, exclusive).
    #[serde(with = "hh_mm")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "23:00"))]
    pub closes_at: Time,
    /// Daily allocation per site, adult masks (the sales-cap warning threshold).
    pub site_daily_adult: u32,
    /// Daily allocation per site, child masks.
    pub site_daily_child: u32,
    /// Extra cards a proxy buyer may bring (informational: every card is its own sale).
    pub proxy_cards: u8,
    /// The offline budget: hours an agent may go on selling on local decisions since its last
    /// successful contact with the server. Beyond it the counter refuses (`offline_limit`).
    /// While offline a site also sells at most its daily allocation (`site_daily_*`) per kind
    /// and day. Anchors: Square's 24 h offline window, Stripe and Adyen offline limits.
    #[serde(default = "default_offline_max_hours")]
    pub offline_max_hours: u32,
    /// Price of one adult mask, NTD (5 from 2020-02-06, seed 002). `None` in records that
    /// predate prices in the policy data: then the counter shows no amount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adult_price_ntd: Option<u32>,
    /// Price of one child mask, NTD (the same as adult masks in 2020).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child_price_ntd: Option<u32>,
    /// Human note on what changed.
    #[serde(default)]
    pub note: String,
}

fn default_offline_max_hours() -> u32 {
    24
}

impl PolicyVersion {
    /// Adult or child by birth date under this version. Unknown birth date → adult: the adult
    /// quantity is never larger and the weekday rule always applies to adults, so guessing
    /// "adult" can only refuse too much, never sell too much.
    pub fn kind_of(&self, birth_date: Option<Date>) -> BuyerKind {
        match birth_date {
            Some(born) if born >= self.child_born_on_or_after => BuyerKind::Child,
            _ => BuyerKind::Adult,
        }
    }

    /// Masks per window for this kind.
    pub fn quantity(&self, kind: BuyerKind) -> u32 {
        match kind {
            BuyerKind::Adult => self.adult_quantity,
            BuyerKind::Child => self.child_quantity,
        }
    }

    /// Daily per-site allocation (sales cap) for this kind.
    pub fn site_daily_cap(&self, kind: BuyerKind) -> u32 {
        match kind {
            BuyerKind::Adult => self.site_daily_adult,
            BuyerKind::Child => self.site_daily_child,
        }
    }

    /// Price of one mask of this kind, NTD, when this record carries prices.
    pub fn price_per_mask(&self, kind: BuyerKind) -> Option<u32> {
        match kind {
            BuyerKind::Adult => self.adult_price_ntd,
            BuyerKind::Child => self.child_price_ntd,
        }
    }

    /// The amount to collect for `quantity` masks of this kind, NTD: the one place the
    /// counter's 應收 is computed (the agent sends it, the screen only shows it). `None` when
    /// this record carries no price (or the product does not fit a `u32`).
    pub fn amount_due(&self, kind: BuyerKind, quantity: u32) -> Option<u32> {
        self.price_per_mask(kind)?.checked_mul(quantity)
    }

    /// Whether the day itself is open (Sunday rule), independent of the buyer.
    pub fn day_open(&self, weekday: Weekday) -> bool {
        !(weekday == Weekday::Sunday && self.sunday == SundayRule::Closed)
    }

    /// Whether a buyer with this ID last digit and kind may buy on this weekday.
    pub fn weekday_allows(&self, kind: BuyerKind, id_last_digit: u8, weekday: Weekday) -> bool {
        if self.weekday_rule == WeekdayRule::None
            || (kind == BuyerKind::Child && self.child_exempt_from_weekday_rule)
        {
            return true;
        }
        let odd = id_last_digit % 2 == 1;
        match weekday {
            Weekday::Sunday => true,
            Weekday::Monday | Weekday::Wednesday | Weekday::Friday => odd,
            Weekday::Tuesday | Weekday::Thursday | Weekday::Saturday => !odd,
        }
    }

    /// Whether the local clock time is within opening hours.
    pub fn within_hours(&self, local_time: Time) -> bool {
        local_time >= self.opens_at && local_time < self.closes_at
    }
}

/// Errors loading a policy set.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The JSON does not have the policy shape.
    #[error("policy data is not valid JSON of the expected shape: {0}")]
    Json(#[from] serde_json::Error),
    /// No versions at all.
    #[error("policy set has no versions")]
    Empty,
    /// Two versions share an effective date.
    #[error("two policy versions share the effective date {0}")]
    DuplicateDate(Date),
    /// A version has a zero window or opening hours that end before they start.
    #[error("policy version {0} is inconsistent (zero window or closes before it opens)")]
    Inconsistent(Date),
}

/// Serialized shape of a [`PolicySet`] (validated into one by `TryFrom`).
#[derive(Deserialize)]
struct PolicySetData {
    versions: Vec<PolicyVersion>,
}

/// All policy versions, sorted by effective date (validated: non-empty, unique dates).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(try_from = "PolicySetData")]
pub struct PolicySet {
    /// Versions in effective-date order.
    versions: Vec<PolicyVersion>,
}

impl TryFrom<PolicySetData> for PolicySet {
    type Error = PolicyError;
    fn try_from(data: PolicySetData) -> Result<Self, Self::Error> {
        Self::new(data.versions)
    }
}

impl PolicySet {
    /// Builds a set from versions in any order.
    pub fn new(mut versions: Vec<PolicyVersion>) -> Result<Self, PolicyError> {
        if versions.is_empty() {
            return Err(PolicyError::Empty);
        }
        versions.sort_by_key(|v| v.effective_from);
        for pair in versions.windows(2) {
            if pair[0].effective_from == pair[1].effective_from {
                return Err(PolicyError::DuplicateDate(pair[0].effective_from));
            }
        }
        if let Some(bad) = versions
            .iter()
            .find(|v| v.window_days == 0 || v.closes_at <= v.opens_at)
        {
            return Err(PolicyError::Inconsistent(bad.effective_from));
        }
        Ok(Self { versions })
    }

    /// Parses the JSON shape served at `GET /v1/policy` (`{"versions": [...]}`).
    pub fn from_json(json: &str) -> Result<Self, PolicyError> {
        Ok(serde_json::from_str(json)?)
    }

    /// The 2020 versions of DOMAIN.md §2 (plus the 2020-03-19 child-age change as its own record).
    pub fn builtin() -> Self {
        // The embedded file is checked by the unit test `builtin_policy_parses`, so this cannot
        // fail at run time.
        #[allow(clippy::expect_used)]
        Self::from_json(POLICY_2020_JSON).expect("embedded policy-2020.json is valid")
    }

    /// All versions, oldest first.
    pub fn versions(&self) -> &[PolicyVersion] {
        &self.versions
    }

    /// The version in force on a calendar day (Asia/Taipei), or `None` before the first one.
    pub fn in_force_on(&self, day: Date) -> Option<&PolicyVersion> {
        self.versions.iter().rev().find(|v| v.effective_from <= day)
    }

    /// The version in force at an instant (its Asia/Taipei date decides).
    pub fn in_force(&self, at: OffsetDateTime) -> Option<&PolicyVersion> {
        self.in_force_on(taipei_date(at))
    }

    /// The first version (rules before it: none, no rationed sales).
    pub fn first(&self) -> &PolicyVersion {
        // Non-empty by construction.
        &self.versions[0]
    }
}

#[cfg(test)]
mod price_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use time::macros::date;

    #[test]
    fn the_price_is_5_ntd_a_mask_from_2020_02_06_for_adult_and_child_masks() {
        let set = PolicySet::builtin();
        let first = set.in_force_on(date!(2020 - 02 - 06)).unwrap();
        assert_eq!(first.price_per_mask(BuyerKind::Adult), Some(5));
        assert_eq!(first.price_per_mask(BuyerKind::Child), Some(5));
        assert_eq!(first.amount_due(BuyerKind::Adult, 3), Some(15));
        // Every 2020 record carries the price.
        for v in set.versions() {
            assert_eq!(
                (v.adult_price_ntd, v.child_price_ntd),
                (Some(5), Some(5)),
                "{}",
                v.effective_from
            );
        }
        // Before rationing there is no record, so no price either.
        assert!(set.in_force_on(date!(2020 - 02 - 05)).is_none());
    }

    #[test]
    fn the_price_is_dated_like_every_other_rule() {
        let mut versions = PolicySet::builtin().versions().to_vec();
        let mut dearer = versions.last().unwrap().clone();
        dearer.effective_from = date!(2020 - 05 - 01);
        dearer.adult_price_ntd = Some(6);
        dearer.child_price_ntd = Some(4);
        versions.push(dearer);
        let set = PolicySet::new(versions).unwrap();
        let before = set.in_force_on(date!(2020 - 04 - 30)).unwrap();
        let after = set.in_force_on(date!(2020 - 05 - 01)).unwrap();
        assert_eq!(before.amount_due(BuyerKind::Adult, 3), Some(15));
        assert_eq!(after.amount_due(BuyerKind::Adult, 3), Some(18));
        assert_eq!(after.amount_due(BuyerKind::Child, 3), Some(12));
    }

    #[test]
    fn a_record_without_a_price_gives_no_amount_and_old_json_still_parses() {
        let json = PolicySet::builtin()
            .versions()
            .iter()
            .map(|v| {
                let mut value = serde_json::to_value(v).unwrap();
                let object = value.as_object_mut().unwrap();
                object.remove("adult_price_ntd");
                object.remove("child_price_ntd");
                value
            })
            .collect::<Vec<_>>();
        let old = serde_json::json!({ "versions": json }).to_string();
        let set = PolicySet::from_json(&old).unwrap();
        let v = set.in_force_on(date!(2020 - 03 - 12)).unwrap();
        assert_eq!(v.amount_due(BuyerKind::Adult, 3), None);
        assert_eq!(v.amount_due(BuyerKind::Child, u32::MAX), None);
    }
}
