//! The 2020 rules as specifications, on real dates of every version.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use time::macros::{date, datetime};
use time::{Date, Duration, OffsetDateTime, Time, Weekday};

use super::*;
use crate::policy::{BuyerKind, PolicyError};

const ODD: u8 = 9; // e.g. A123456789
const EVEN: u8 = 4;

fn set() -> PolicySet {
    PolicySet::builtin()
}

/// Noon (Asia/Taipei) of a day.
fn noon(day: Date) -> OffsetDateTime {
    day.with_time(Time::from_hms(12, 0, 0).unwrap())
        .assume_offset(TAIPEI)
}

fn adult(digit: u8) -> Buyer {
    Buyer {
        id_last_digit: digit,
        birth_date: Some(date!(1980 - 05 - 05)),
    }
}

fn child(digit: u8) -> Buyer {
    Buyer {
        id_last_digit: digit,
        birth_date: Some(date!(2010 - 01 - 01)),
    }
}

fn bought(day: Date, quantity: u32) -> Purchase {
    Purchase {
        sold_at: noon(day),
        quantity,
    }
}

fn allowed(quantity: u32, kind: BuyerKind) -> Eligibility {
    Eligibility {
        kind,
        allowed: quantity,
        next_date: None,
        reason: None,
    }
}

fn refused(reason: RefusalReason, next: Date, kind: BuyerKind) -> Eligibility {
    Eligibility {
        kind,
        allowed: 0,
        next_date: Some(next),
        reason: Some(reason),
    }
}

#[test]
fn builtin_policy_parses_with_every_2020_version() {
    let set = set();
    let rows: Vec<_> = set
        .versions()
        .iter()
        .map(|v| {
            (
                v.effective_from,
                v.adult_quantity,
                v.child_quantity,
                v.window_days,
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            (date!(2020 - 02 - 06), 2, 2, 7),
            (date!(2020 - 02 - 20), 2, 4, 7),
            (date!(2020 - 02 - 27), 2, 4, 7),
            (date!(2020 - 03 - 05), 3, 5, 7),
            (date!(2020 - 03 - 19), 3, 5, 7),
            (date!(2020 - 04 - 09), 9, 10, 14),
            (date!(2020 - 04 - 19), 9, 10, 14),
        ]
    );
}

#[test]
fn policy_set_round_trips_through_json() {
    let json = serde_json::to_string(&set()).unwrap();
    assert_eq!(PolicySet::from_json(&json).unwrap(), set());
    assert!(json.contains(r#""effective_from":"2020-02-06""#), "{json}");
    assert!(json.contains(r#""opens_at":"07:00""#), "{json}");
}

#[test]
fn empty_or_duplicate_policy_sets_are_refused() {
    assert!(matches!(PolicySet::new(vec![]), Err(PolicyError::Empty)));
    assert!(PolicySet::from_json(r#"{"versions":[]}"#).is_err());
    let one = set().versions()[0].clone();
    assert!(matches!(
        PolicySet::new(vec![one.clone(), one]),
        Err(PolicyError::DuplicateDate(_))
    ));
}

#[test]
fn version_is_chosen_by_the_taipei_date_of_the_sale() {
    // 2020-03-04 16:30 UTC is 2020-03-05 00:30 in Taipei: the 3-mask version.
    let at = datetime!(2020-03-04 16:30 UTC);
    assert_eq!(set().in_force(at).unwrap().adult_quantity, 3);
    assert_eq!(
        set()
            .in_force(datetime!(2020-03-04 15:59 UTC))
            .unwrap()
            .adult_quantity,
        2
    );
    assert!(set().in_force(datetime!(2020-02-05 12:00 +08:00)).is_none());
}

#[test]
fn odd_last_digit_buys_on_monday_and_even_is_sent_to_tuesday() {
    let monday = date!(2020 - 02 - 10);
    assert_eq!(
        decide(&set(), &adult(ODD), &[], noon(monday)),
        allowed(2, BuyerKind::Adult)
    );
    assert_eq!(
        decide(&set(), &adult(EVEN), &[], noon(monday)),
        refused(
            RefusalReason::Weekday,
            date!(2020 - 02 - 11),
            BuyerKind::Adult
        )
    );
}

#[test]
fn sunday_is_open_to_all_until_it_closes_on_2020_04_19() {
    let sunday = date!(2020 - 02 - 09);
    assert!(decide(&set(), &adult(ODD), &[], noon(sunday)).is_allowed());
    assert!(decide(&set(), &adult(EVEN), &[], noon(sunday)).is_allowed());
    assert_eq!(
        decide(&set(), &adult(EVEN), &[], noon(date!(2020 - 04 - 19))),
        refused(
            RefusalReason::Closed,
            date!(2020 - 04 - 20),
            BuyerKind::Adult
        )
    );
}

#[test]
fn child_cards_are_exempt_from_odd_even_from_2020_02_27() {
    assert_eq!(
        decide(&set(), &child(EVEN), &[], noon(date!(2020 - 02 - 24))).reason,
        Some(RefusalReason::Weekday)
    );
    assert_eq!(
        decide(&set(), &child(EVEN), &[], noon(date!(2020 - 03 - 02))),
        allowed(4, BuyerKind::Child)
    );
    // Adults still follow it.
    assert_eq!(
        decide(&set(), &adult(EVEN), &[], noon(date!(2020 - 03 - 02))).reason,
        Some(RefusalReason::Weekday)
    );
}

#[test]
fn odd_even_rule_is_abolished_from_2020_04_09() {
    assert_eq!(
        decide(&set(), &adult(EVEN), &[], noon(date!(2020 - 04 - 10))),
        allowed(9, BuyerKind::Adult)
    );
}

#[test]
fn window_counts_from_the_purchase_day() {
    let history = [bought(date!(2020 - 02 - 10), 2)];
    assert_eq!(
        decide(&set(), &adult(ODD), &history, noon(date!(2020 - 02 - 12))),
        refused(
            RefusalReason::Window,
            date!(2020 - 02 - 17),
            BuyerKind::Adult
        )
    );
    assert!(decide(&set(), &adult(ODD), &history, noon(date!(2020 - 02 - 17))).is_allowed());
}

#[test]
fn fourteen_day_window_from_2020_04_09() {
    let history = [bought(date!(2020 - 04 - 10), 9)];
    assert_eq!(
        decide(&set(), &adult(EVEN), &history, noon(date!(2020 - 04 - 20))),
        refused(
            RefusalReason::Window,
            date!(2020 - 04 - 24),
            BuyerKind::Adult
        )
    );
}

#[test]
fn the_rest_of_a_window_quantity_may_be_bought_later_in_the_window() {
    let history = [bought(date!(2020 - 03 - 09), 1)];
    assert_eq!(
        decide(&set(), &adult(ODD), &history, noon(date!(2020 - 03 - 11))),
        allowed(2, BuyerKind::Adult)
    );
}

#[test]
fn unused_quota_does_not_carry_over_into_the_next_window() {
    let history = [bought(date!(2020 - 04 - 10), 1)];
    assert_eq!(
        decide(&set(), &adult(ODD), &history, noon(date!(2020 - 04 - 24))),
        allowed(9, BuyerKind::Adult)
    );
}

#[test]
fn child_age_limit_rises_to_16_on_2020_03_19() {
    let teen = Buyer {
        id_last_digit: ODD,
        birth_date: Some(date!(2005 - 06 - 01)),
    };
    assert_eq!(
        decide(&set(), &teen, &[], noon(date!(2020 - 03 - 18))).kind,
        BuyerKind::Adult
    );
    assert_eq!(
        decide(&set(), &teen, &[], noon(date!(2020 - 03 - 19))).kind,
        BuyerKind::Child
    );
    let born = |d| Buyer {
        id_last_digit: ODD,
        birth_date: Some(d),
    };
    let feb = noon(date!(2020 - 02 - 06));
    assert_eq!(
        decide(&set(), &born(date!(2008 - 01 - 01)), &[], feb).kind,
        BuyerKind::Child
    );
    assert_eq!(
        decide(&set(), &born(date!(2007 - 12 - 31)), &[], feb).kind,
        BuyerKind::Adult
    );
}

#[test]
fn unknown_birth_date_decides_as_adult() {
    let buyer = Buyer {
        id_last_digit: EVEN,
        birth_date: None,
    };
    assert_eq!(
        decide(&set(), &buyer, &[], noon(date!(2020 - 03 - 02))).reason,
        Some(RefusalReason::Weekday)
    );
    assert_eq!(
        decide(&set(), &buyer, &[], noon(date!(2020 - 03 - 03))),
        allowed(2, BuyerKind::Adult)
    );
}

#[test]
fn outside_opening_hours_is_refused_with_the_next_open_day() {
    let early = datetime!(2020-03-09 06:59 +08:00);
    assert_eq!(
        decide(&set(), &adult(ODD), &[], early),
        refused(
            RefusalReason::Hours,
            date!(2020 - 03 - 09),
            BuyerKind::Adult
        )
    );
    let late = datetime!(2020-03-09 23:00 +08:00);
    assert_eq!(
        decide(&set(), &adult(ODD), &[], late),
        refused(
            RefusalReason::Hours,
            date!(2020 - 03 - 11),
            BuyerKind::Adult
        )
    );
    assert!(decide(&set(), &adult(ODD), &[], datetime!(2020-03-09 07:00 +08:00)).is_allowed());
}

#[test]
fn before_rationing_began_is_not_started() {
    // 2020-02-06 is a Thursday (even digits); an odd digit's first day is Friday 2020-02-07.
    assert_eq!(
        decide(&set(), &adult(ODD), &[], noon(date!(2020 - 02 - 01))),
        refused(
            RefusalReason::NotStarted,
            date!(2020 - 02 - 07),
            BuyerKind::Adult
        )
    );
}

#[test]
fn sale_check_names_the_rule_broken() {
    let monday = noon(date!(2020 - 03 - 09));
    assert_eq!(
        check_sale(&set(), &adult(ODD), &[], 3, monday),
        SaleCheck::Within
    );
    assert_eq!(
        check_sale(&set(), &adult(ODD), &[], 4, monday),
        SaleCheck::Overrun(RefusalReason::Quota)
    );
    assert_eq!(
        check_sale(&set(), &adult(EVEN), &[], 1, monday),
        SaleCheck::Overrun(RefusalReason::Weekday)
    );
    let history = [bought(date!(2020 - 03 - 09), 3)];
    assert_eq!(
        check_sale(&set(), &adult(ODD), &history, 1, monday),
        SaleCheck::Overrun(RefusalReason::Window)
    );
}

#[test]
fn eligibility_json_has_the_contract_shape() {
    let yes = serde_json::to_value(allowed(3, BuyerKind::Adult)).unwrap();
    assert_eq!(
        yes,
        serde_json::json!({"kind": "adult", "allowed": 3, "next_date": null, "reason": null})
    );
    let no = serde_json::to_value(refused(
        RefusalReason::Weekday,
        date!(2020 - 03 - 10),
        BuyerKind::Child,
    ))
    .unwrap();
    assert_eq!(
        no,
        serde_json::json!({"kind": "child", "allowed": 0, "next_date": "2020-03-10", "reason": "weekday"})
    );
}

// Regression (issue 14): an unknown code became `Unknown` and was sent on as `"unknown"`, so a
// screen or agent older than the server lost the code it could at least have shown.
#[test]
fn an_unknown_refusal_code_is_kept_and_sent_on_as_it_came() {
    let unknown: RefusalReason = serde_json::from_str(r#""some_new_rule""#).unwrap();
    assert_eq!(unknown, RefusalReason::Other("some_new_rule".into()));
    assert_eq!(unknown.as_str(), "some_new_rule");
    assert_eq!(
        serde_json::to_string(&unknown).unwrap(),
        r#""some_new_rule""#
    );
    // Known codes keep today's wire text, both ways, and parse the same from storage.
    for code in RefusalReason::KNOWN {
        let reason: RefusalReason = serde_json::from_value(serde_json::json!(code)).unwrap();
        assert!(!matches!(reason, RefusalReason::Other(_)), "{code}");
        assert_eq!(
            serde_json::to_value(&reason).unwrap(),
            serde_json::json!(code)
        );
        assert_eq!(code.parse::<RefusalReason>(), Ok(reason));
    }
}

#[test]
fn closed_codes_are_the_serde_names_and_nothing_else_parses() {
    for kind in [BuyerKind::Adult, BuyerKind::Child] {
        assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        assert_eq!(kind.as_str().parse::<BuyerKind>(), Ok(kind));
    }
    for source in [crate::SaleSource::Card, crate::SaleSource::Manual] {
        assert_eq!(serde_json::to_value(source).unwrap(), source.as_str());
        assert_eq!(source.as_str().parse::<crate::SaleSource>(), Ok(source));
    }
    let err = "elder".parse::<BuyerKind>().unwrap_err();
    assert_eq!(err.to_string(), r#"unknown buyer kind code "elder""#);
}

#[test]
fn buyer_digit_comes_from_the_last_character() {
    assert_eq!(
        Buyer::from_id_str("A123456789", None)
            .unwrap()
            .id_last_digit,
        9
    );
    assert!(Buyer::from_id_str("", None).is_none());
    assert!(Buyer::from_id_str("A12345678X", None).is_none());
}

// ---- properties over every day of the rationing period ----

fn any_instant() -> impl Strategy<Value = OffsetDateTime> {
    // 2020-01-20 .. 2020-07-31, any minute.
    (0i64..(194 * 24 * 60))
        .prop_map(|minutes| datetime!(2020-01-20 00:00 +08:00) + Duration::minutes(minutes))
}

fn any_buyer() -> impl Strategy<Value = Buyer> {
    (
        0u8..10,
        prop::option::of(
            (0i64..(80 * 365)).prop_map(|d| date!(1940 - 01 - 01) + Duration::days(d)),
        ),
    )
        .prop_map(|(digit, birth)| Buyer {
            id_last_digit: digit,
            birth_date: birth,
        })
}

/// Purchases in the 40 days before `now`.
fn history_before(now: OffsetDateTime) -> impl Strategy<Value = Vec<Purchase>> {
    prop::collection::vec((1i64..(40 * 24 * 60), 1u32..12), 0..6).prop_map(move |items| {
        items
            .into_iter()
            .map(|(ago, quantity)| Purchase {
                sold_at: now - Duration::minutes(ago),
                quantity,
            })
            .collect()
    })
}

fn case() -> impl Strategy<Value = (OffsetDateTime, Buyer, Vec<Purchase>)> {
    (any_instant(), any_buyer())
        .prop_flat_map(|(now, buyer)| (Just(now), Just(buyer), history_before(now)))
}

proptest! {
    #[test]
    fn allowed_never_exceeds_the_quantity_in_force((now, buyer, history) in case()) {
        let e = decide(&set(), &buyer, &history, now);
        let limit = set().in_force(now).map_or(0, |p| p.quantity(e.kind));
        prop_assert!(e.allowed <= limit);
        prop_assert_eq!(e.reason.is_none(), e.allowed > 0);
    }

    #[test]
    fn a_refusal_names_a_next_date_on_which_the_buyer_may_buy((now, buyer, history) in case()) {
        let e = decide(&set(), &buyer, &history, now);
        if e.reason.is_some() {
            let next = e.next_date.expect("every refusal in 2020 has a next date");
            prop_assert!(next >= taipei_date(now));
            if e.reason != Some(RefusalReason::Hours) {
                prop_assert!(next > taipei_date(now));
            }
            prop_assert!(decide(&set(), &buyer, &history, noon(next)).is_allowed(),
                "refused {:?} but next date {} not allowed", e.reason, next);
        }
    }

    #[test]
    fn buying_everything_allowed_closes_the_window((now, buyer, mut history) in case()) {
        let e = decide(&set(), &buyer, &history, now);
        if e.is_allowed() {
            history.push(Purchase { sold_at: now, quantity: e.allowed });
            let after = decide(&set(), &buyer, &history, now);
            prop_assert_eq!(after.reason, Some(RefusalReason::Window));
            prop_assert!(after.next_date.is_some_and(|d| d > taipei_date(now)));
        }
    }

    #[test]
    fn history_order_does_not_matter((now, buyer, history) in case()) {
        let mut reversed = history.clone();
        reversed.reverse();
        prop_assert_eq!(decide(&set(), &buyer, &history, now), decide(&set(), &buyer, &reversed, now));
    }

    #[test]
    fn adults_never_buy_on_the_wrong_weekday_before_2020_04_09((now, buyer, history) in case()) {
        let day = taipei_date(now);
        let e = decide(&set(), &buyer, &history, now);
        if e.kind == BuyerKind::Adult && day < date!(2020 - 04 - 09) {
            let odd = buyer.id_last_digit % 2 == 1;
            let wrong = match day.weekday() {
                Weekday::Sunday => false,
                Weekday::Monday | Weekday::Wednesday | Weekday::Friday => !odd,
                _ => odd,
            };
            prop_assert!(!(wrong && e.is_allowed()));
        }
    }

    #[test]
    fn nobody_buys_on_sunday_from_2020_04_19((now, buyer, history) in case()) {
        let day = taipei_date(now);
        if day >= date!(2020 - 04 - 19) && day.weekday() == Weekday::Sunday {
            prop_assert!(!decide(&set(), &buyer, &history, now).is_allowed());
        }
    }

    #[test]
    fn nobody_buys_outside_opening_hours((now, buyer, history) in case()) {
        let t = now.to_offset(TAIPEI).time();
        if t < Time::from_hms(7, 0, 0).unwrap() || t >= Time::from_hms(23, 0, 0).unwrap() {
            prop_assert!(!decide(&set(), &buyer, &history, now).is_allowed());
        }
    }
}
