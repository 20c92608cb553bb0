//! Fuzz targets for the central API's bodies: whatever bytes arrive as a request body (or, on
//! the agent's side, as a response), decoding into every wire type ends in a value or a serde
//! error, never a panic or a hang; and whatever decodes serializes back to JSON that decodes to
//! the same value.
//!
//! A normal `cargo test` runs proptest's default case count; `scripts/fuzz.sh` runs them with
//! `PROPTEST_CASES` ≥ 1,000,000, `--release` and a fixed `PROPTEST_RNG_SEED`.
#![allow(clippy::unwrap_used, missing_docs)]

use std::time::{Duration, Instant};

use mask_api::{
    Eligibility, EligibilityAsks, EligibilityRequest, Health, Inventory, ListingRequest,
    ListingState, NoteRequest, NoteResult, PolicySet, Problem, SaleBatch, SaleBatchResult,
    SitesSnapshot, StockIn, StockInResult, WhoAmI,
};
use proptest::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Longest one case may take (decoding a few kilobytes), even in a debug build on 2 shared cores.
const CASE_LIMIT: Duration = Duration::from_millis(500);

/// Field names and variant names of the API's types, so generated JSON reaches past the first
/// "unknown field" / "unknown variant" check.
const FIELDS: &[&str] = &[
    "address",
    "adult_price_ntd",
    "adult_quantity",
    "adult_remaining",
    "allowed",
    "asked_at",
    "asks",
    "birth_date",
    "cap_adult",
    "cap_child",
    "changed_at",
    "child_born_on_or_after",
    "child_exempt_from_weekday_rule",
    "child_max_age",
    "child_price_ntd",
    "child_quantity",
    "child_remaining",
    "closes_at",
    "code",
    "current",
    "damaged_adult",
    "damaged_child",
    "data_time",
    "date",
    "detail",
    "effective_by",
    "effective_from",
    "errors",
    "flags",
    "id",
    "id_last_digit",
    "id_no",
    "index",
    "inventory",
    "kind",
    "listed",
    "name",
    "next_after",
    "next_date",
    "note",
    "note_changed_at",
    "offline",
    "offline_max_hours",
    "opening_adult",
    "opening_child",
    "opens_at",
    "overrun_reason",
    "person",
    "phone",
    "policy_in_force",
    "problem",
    "proxy_cards",
    "public_note",
    "quantity",
    "reason",
    "received_adult",
    "received_child",
    "recorded_at",
    "remaining_adult",
    "remaining_child",
    "replayed",
    "results",
    "sales",
    "server_time",
    "set_at",
    "site",
    "site_daily_adult",
    "site_daily_child",
    "sites",
    "sold_adult",
    "sold_at",
    "sold_child",
    "source",
    "status",
    "storage",
    "sunday",
    "title",
    "token_expires_at",
    "token_id",
    "type",
    "type_uri",
    "unsynced",
    "version",
    "versions",
    "warnings",
    "weekday_rule",
    "window_days",
];
const VARIANTS: &[&str] = &[
    "Accepted",
    "Adult",
    "BeforeRationing",
    "BirthDateInFuture",
    "CapNear",
    "CapReached",
    "Card",
    "Child",
    "Closed",
    "Conflict",
    "DistinctIdLimit",
    "DuplicateDate",
    "Forbidden",
    "Hours",
    "IdempotencyConflict",
    "Inconsistent",
    "Internal",
    "InvalidBody",
    "InvalidIdNumber",
    "InvalidQuantity",
    "InvalidQuery",
    "InvalidToken",
    "KindMismatch",
    "MalformedJson",
    "Manual",
    "MethodNotAllowed",
    "NotFound",
    "NotStarted",
    "OddEven",
    "OfflineLimit",
    "Ok",
    "OpenToAll",
    "OutOfStock",
    "Overrun",
    "PayloadTooLarge",
    "Quota",
    "RateLimited",
    "Rejected",
    "SaleTimeInFuture",
    "SaleTimeTooOld",
    "SoldInFuture",
    "SoldLongAgo",
    "StockLow",
    "TokenExpired",
    "TokenRevoked",
    "Unauthorized",
    "Unavailable",
    "Unknown",
    "UnknownSite",
    "UnsupportedMediaType",
    "Weekday",
    "Window",
    "Within",
];

fn snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn words() -> Vec<String> {
    FIELDS
        .iter()
        .map(|s| (*s).to_owned())
        .chain(VARIANTS.iter().map(|v| snake(v)))
        .collect()
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3i64..100).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        prop::sample::select(words()).prop_map(Value::String),
        "\\PC{0,16}".prop_map(Value::String),
        "20[0-9]{2}-[01][0-9]-[0-3][0-9]".prop_map(Value::String),
        "20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9](Z|\\+08:00)"
            .prop_map(Value::String),
        "[A-Z][12][0-9]{8}".prop_map(Value::String),
        any::<u128>().prop_map(|n| Value::String(uuid::Uuid::from_u128(n).to_string())),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 96, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(words()), inner), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// A body as a client (or, for the agent, the server) could send it: generated JSON, the same
/// with bytes edited, the real policy set with bytes edited, or raw bytes.
fn line() -> impl Strategy<Value = Vec<u8>> {
    let edited = (
        json(),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 0..4),
    )
        .prop_map(|(value, edits)| {
            let mut bytes = serde_json::to_vec(&value).unwrap();
            for (at, byte, how) in edits {
                if bytes.is_empty() {
                    break;
                }
                let at = at.index(bytes.len());
                match how {
                    0 => bytes[at] = byte,
                    1 => bytes.insert(at, byte),
                    _ => {
                        bytes.remove(at);
                    }
                }
            }
            bytes
        });
    let policy = serde_json::to_vec(&PolicySet::builtin()).unwrap();
    let policy_edited = (prop::collection::vec(
        (any::<prop::sample::Index>(), any::<u8>()),
        1..4,
    ),)
        .prop_map(move |(edits,)| {
            let mut bytes = policy.clone();
            for (at, byte) in edits {
                let at = at.index(bytes.len());
                bytes[at] = byte;
            }
            bytes
        });
    prop_oneof![
        json().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        edited,
        policy_edited,
        prop::collection::vec(any::<u8>(), 0..200),
    ]
}

/// Decodes `bytes` as `T`; what decodes must survive a serialize/decode round trip unchanged.
fn check<T>(bytes: &[u8]) -> Result<(), TestCaseError>
where
    T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug,
{
    if let Ok(value) = serde_json::from_slice::<T>(bytes) {
        let text = serde_json::to_vec(&value).unwrap();
        let again: T = serde_json::from_slice(&text).map_err(|e| {
            TestCaseError::fail(format!(
                "re-decoding {}: {e}",
                String::from_utf8_lossy(&text)
            ))
        })?;
        prop_assert_eq!(again, value);
    }
    Ok(())
}

fn every_type(bytes: &[u8]) -> Result<(), TestCaseError> {
    let started = Instant::now();
    // Request bodies of the /v1 routes.
    check::<EligibilityRequest>(bytes)?;
    check::<SaleBatch>(bytes)?;
    check::<StockIn>(bytes)?;
    check::<ListingRequest>(bytes)?;
    check::<NoteRequest>(bytes)?;
    // Response bodies the agent decodes from the server.
    check::<Eligibility>(bytes)?;
    check::<SaleBatchResult>(bytes)?;
    check::<StockInResult>(bytes)?;
    check::<Inventory>(bytes)?;
    check::<ListingState>(bytes)?;
    check::<NoteResult>(bytes)?;
    check::<SitesSnapshot>(bytes)?;
    check::<WhoAmI>(bytes)?;
    check::<Health>(bytes)?;
    check::<Problem>(bytes)?;
    check::<PolicySet>(bytes)?;
    // The audit lists (read by the central audit's tools).
    check::<EligibilityAsks>(bytes)?;
    let took = started.elapsed();
    prop_assert!(took < CASE_LIMIT, "{took:?}");
    Ok(())
}

proptest! {
    #[test]
    fn fuzz_api_bodies(bytes in line()) {
        every_type(&bytes)?;
    }

    #[test]
    fn fuzz_api_bodies_nested(body in json(), key in prop::sample::select(words())) {
        // Bodies one level down (sales[], unsynced[], versions[]) are where most fields live.
        for value in [
            serde_json::json!({ key.clone(): [body.clone()] }),
            serde_json::json!({ key: body.clone(), "versions": [body.clone()], "sales": [body] }),
        ] {
            every_type(value.to_string().as_bytes())?;
        }
    }
}
