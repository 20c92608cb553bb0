//! Fuzz targets for the local API's frame decoding: whatever bytes a peer writes on the agent's
//! socket, decoding every frame type ends in a value or a [`FrameError`], never a panic or a
//! hang; and whatever decodes encodes back to a line that decodes to the same value.
//!
//! A normal `cargo test` runs proptest's default case count; `scripts/fuzz.sh` runs them with
//! `PROPTEST_CASES` ≥ 1,000,000, `--release` and a fixed `PROPTEST_RNG_SEED`.
#![allow(clippy::unwrap_used, missing_docs)]

use std::time::{Duration, Instant};

use mask_protocol::{
    AgentFrame, ClientFrame, Event, FrameError, MAX_FRAME_LEN, Request, RequestBody, Response,
    ResponseBody, decode_frame, encode_frame,
};
use proptest::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Longest one case may take (decoding a few kilobytes), even in a debug build on 2 shared cores.
const CASE_LIMIT: Duration = Duration::from_millis(500);

/// Field names and variant names of the protocol's types, so generated JSON reaches past the
/// first "unknown field" / "unknown variant" check.
const FIELDS: &[&str] = &[
    "accepted",
    "adult",
    "agent_version",
    "allowed",
    "amount_due",
    "amounts_due",
    "at",
    "attention",
    "body",
    "buyer",
    "cap",
    "card_present",
    "changed_at",
    "child",
    "client",
    "clock_offset_s",
    "code",
    "connectivity",
    "counter",
    "damaged",
    "damaged_adult",
    "damaged_child",
    "date",
    "decided",
    "frame",
    "id",
    "id_masked",
    "id_no",
    "kind",
    "last_error",
    "last_sync",
    "listed",
    "listing",
    "masked_id",
    "masked_name",
    "message",
    "name",
    "next_date",
    "note",
    "offline",
    "outcome",
    "overruns",
    "policy_cached",
    "protocol_version",
    "quantity",
    "queued",
    "queued_other",
    "read",
    "reader",
    "readers",
    "reason",
    "received",
    "received_adult",
    "received_child",
    "records",
    "remaining",
    "sale_id",
    "sales",
    "site_code",
    "site_name",
    "sold",
    "sold_at",
    "source",
    "state",
    "sync",
    "synced",
    "text",
    "type",
    "warnings",
];
const VARIANTS: &[&str] = &[
    "Accepted",
    "Attention",
    "Adult",
    "BadRequest",
    "Buyer",
    "Card",
    "CardError",
    "CardInserted",
    "CardRemoved",
    "CheckEligibility",
    "Checking",
    "Child",
    "ClearCounter",
    "Closed",
    "Counter",
    "Eligibility",
    "Error",
    "Event",
    "HealthProfessionalCard",
    "Hello",
    "Hours",
    "Internal",
    "InvalidId",
    "InvalidNote",
    "InvalidQuantity",
    "Inventory",
    "JournalUnavailable",
    "Listing",
    "Local",
    "Manual",
    "NoPolicy",
    "Note",
    "NotNhiCard",
    "NotStarted",
    "Offline",
    "OfflineLimit",
    "Ok",
    "Online",
    "Other",
    "OutOfStock",
    "Overrun",
    "Queued",
    "Quota",
    "ReaderAdded",
    "ReaderRemoved",
    "ReaderUnplugged",
    "Recorded",
    "Refused",
    "Rejected",
    "RemovedTooEarly",
    "Request",
    "Response",
    "Sale",
    "SaleRecorded",
    "Sell",
    "Server",
    "ServerRefused",
    "ServiceNotRunning",
    "SetListing",
    "SetNote",
    "StaleBuyer",
    "Status",
    "StockIn",
    "StockLow",
    "Subscribe",
    "Subscribed",
    "Sync",
    "SyncNow",
    "TokenRefused",
    "TooLong",
    "Unknown",
    "Unreadable",
    "Waiting",
    "Weekday",
    "Window",
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

/// A line as a peer could send it: generated JSON, the same with bytes edited, or raw bytes.
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
    prop_oneof![
        json().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        edited,
        prop::collection::vec(any::<u8>(), 0..200),
    ]
}

/// Decodes `text` as `T`; what decodes must survive an encode/decode round trip unchanged.
fn check<T>(text: &str) -> Result<(), TestCaseError>
where
    T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug,
{
    match decode_frame::<T>(text) {
        Ok(value) => {
            let line = encode_frame(&value).unwrap();
            prop_assert!(line.ends_with('\n') && !line[..line.len() - 1].contains('\n'));
            let again: T = decode_frame(&line).unwrap();
            prop_assert_eq!(again, value);
        }
        Err(FrameError::TooLong { len }) => prop_assert!(len > MAX_FRAME_LEN),
        Err(err) => prop_assert!(!err.to_string().is_empty()),
    }
    Ok(())
}

fn every_type(text: &str) -> Result<(), TestCaseError> {
    let started = Instant::now();
    check::<ClientFrame>(text)?;
    check::<AgentFrame>(text)?;
    check::<Request>(text)?;
    check::<RequestBody>(text)?;
    check::<Response>(text)?;
    check::<ResponseBody>(text)?;
    check::<Event>(text)?;
    let took = started.elapsed();
    prop_assert!(took < CASE_LIMIT, "{took:?}");
    Ok(())
}

proptest! {
    #[test]
    fn fuzz_local_api_frames(bytes in line()) {
        every_type(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn fuzz_local_api_frames_in_their_envelopes(
        body in json(),
        frame in prop::sample::select(vec!["hello", "request", "response", "event", "x"]),
        id in any::<u64>(),
    ) {
        // Wrap generated bodies the way real frames are, so the inner types are reached.
        for value in [
            serde_json::json!({"frame": frame, "id": id, "body": body}),
            serde_json::json!({"frame": frame, "type": body}),
            {
                let mut v = body.clone();
                if let Value::Object(map) = &mut v {
                    map.insert("frame".into(), Value::from(frame));
                }
                v
            },
        ] {
            every_type(&value.to_string())?;
        }
    }
}

#[test]
fn an_over_long_line_is_refused_not_buffered() {
    let line = format!(
        "{{\"frame\":\"hello\",\"client\":\"{}\"}}",
        "x".repeat(MAX_FRAME_LEN)
    );
    assert!(matches!(
        decode_frame::<ClientFrame>(&line),
        Err(FrameError::TooLong { .. })
    ));
}
