//! Round trips and pinned JSON shapes: the terminal and the agent are built separately, so the
//! wire form is the contract.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use serde_json::json;
use time::macros::{date, datetime};
use uuid::Uuid;

use crate::*;

fn round_trip_client(frame: ClientFrame) {
    let line = encode_frame(&frame).unwrap();
    assert!(line.ends_with('\n') && !line[..line.len() - 1].contains('\n'));
    assert_eq!(decode_frame::<ClientFrame>(&line).unwrap(), frame);
}

fn round_trip_agent(frame: AgentFrame) {
    let line = encode_frame(&frame).unwrap();
    assert!(line.ends_with('\n') && !line[..line.len() - 1].contains('\n'));
    assert_eq!(decode_frame::<AgentFrame>(&line).unwrap(), frame);
}

fn buyer() -> BuyerView {
    BuyerView {
        masked_name: "王○明".into(),
        masked_id: "A12****789".into(),
        source: SaleSource::Card,
        reader: Some("Virtual PCD 00 00".into()),
    }
}

fn eligibility() -> EligibilityView {
    EligibilityView {
        kind: BuyerKind::Adult,
        allowed: 3,
        next_date: Some(date!(2020 - 03 - 19)),
        reason: None,
        decided: DecisionSource::Local,
        amounts_due: vec![5, 10, 15],
    }
}

fn receipt() -> SaleReceipt {
    SaleReceipt {
        sale_id: Uuid::now_v7(),
        buyer: buyer(),
        kind: BuyerKind::Adult,
        quantity: 3,
        sold_at: datetime!(2020-03-12 01:00:00 UTC),
        offline: true,
        amount_due: Some(15),
        sync: SaleSyncState::Queued,
    }
}

fn sync_status() -> SyncStatus {
    SyncStatus {
        connectivity: Connectivity::Offline,
        queued: 4,
        queued_other: 1,
        last_sync: Some(datetime!(2020-03-12 00:59:00 UTC)),
        last_error: Some("server unreachable".into()),
        overruns: 1,
        attention: 0,
        clock_offset_s: None,
    }
}

fn inventory() -> Inventory {
    let counts = StockCounts {
        received: 200,
        sold: 10,
        sales: 4,
        damaged: 2,
        remaining: 188,
        cap: 200,
    };
    Inventory {
        date: date!(2020 - 03 - 12),
        adult: counts,
        child: StockCounts {
            remaining: 3,
            ..counts
        },
        warnings: vec![InventoryWarning {
            kind: BuyerKind::Child,
            code: InventoryWarningCode::StockLow,
        }],
    }
}

fn listing() -> ListingState {
    ListingState {
        listed: false,
        changed_at: Some(datetime!(2020-03-12 02:00:00 UTC)),
        synced: false,
    }
}

fn note() -> NoteState {
    NoteState {
        text: Some("號碼牌 09:00 發放".into()),
        changed_at: Some(datetime!(2020-03-12 00:30:00 UTC)),
        synced: false,
    }
}

fn status() -> StatusReport {
    StatusReport {
        agent_version: "0.1.0".into(),
        site_code: "5901012345".into(),
        site_name: Some("台北市立聯合醫院".into()),
        sync: sync_status(),
        readers: vec![ReaderState {
            name: "Virtual PCD 00 00".into(),
            card_present: true,
        }],
        listing: listing(),
        note: note(),
        counter: CounterState::Buyer {
            read: ReadRef(7),
            buyer: buyer(),
            eligibility: eligibility(),
        },
        policy_cached: true,
    }
}

#[test]
fn every_client_frame_round_trips() {
    round_trip_client(ClientFrame::Hello(ClientHello {
        protocol_version: PROTOCOL_VERSION,
        client: "mask-terminal".into(),
    }));
    let bodies = vec![
        RequestBody::Status,
        RequestBody::CheckEligibility {
            id_no: "A123456789".into(),
            birth_date: None,
        },
        RequestBody::CheckEligibility {
            id_no: "a123456789".into(),
            birth_date: Some(date!(1990 - 01 - 01)),
        },
        RequestBody::Sell {
            buyer: SellBuyer::Card { read: ReadRef(3) },
            quantity: 2,
        },
        RequestBody::Sell {
            buyer: SellBuyer::Manual {
                id_no: "A123456789".into(),
                birth_date: None,
            },
            quantity: 1,
        },
        RequestBody::StockIn(StockInForm {
            received_adult: 200,
            received_child: 50,
            damaged_adult: 1,
            damaged_child: 0,
        }),
        RequestBody::Inventory,
        RequestBody::SetListing { listed: false },
        RequestBody::SetNote {
            text: "號碼牌 09:00 發放".into(),
        },
        RequestBody::SetNote {
            text: String::new(),
        },
        RequestBody::SyncNow,
        RequestBody::Subscribe,
        RequestBody::ClearCounter,
        RequestBody::Attention,
    ];
    for (id, body) in bodies.into_iter().enumerate() {
        round_trip_client(ClientFrame::Request(Request {
            id: id as u64,
            body,
        }));
    }
}

#[test]
fn every_agent_frame_round_trips() {
    round_trip_agent(AgentFrame::Hello(AgentHello {
        protocol_version: PROTOCOL_VERSION,
        accepted: true,
        agent_version: "0.1.0".into(),
        site_code: "5901012345".into(),
        refused: None,
    }));
    round_trip_agent(AgentFrame::Hello(AgentHello {
        protocol_version: PROTOCOL_VERSION,
        accepted: false,
        agent_version: "0.1.0".into(),
        site_code: String::new(),
        refused: Some(AccessRefusal::NotInGroup {
            group: "mask-counter".into(),
        }),
    }));
    let refused = EligibilityView {
        allowed: 0,
        reason: Some(RefusalReason::Weekday),
        decided: DecisionSource::Server,
        amounts_due: Vec::new(),
        ..eligibility()
    };
    let bodies = vec![
        ResponseBody::Status(status()),
        ResponseBody::Status(StatusReport {
            site_name: None,
            ..status()
        }),
        ResponseBody::Eligibility(eligibility()),
        ResponseBody::Sell(SellOutcome::Recorded(receipt())),
        ResponseBody::Sell(SellOutcome::Refused(refused)),
        ResponseBody::Inventory(inventory()),
        ResponseBody::Listing(listing()),
        ResponseBody::Note(note()),
        ResponseBody::Note(NoteState::default()),
        ResponseBody::Sync(sync_status()),
        ResponseBody::Subscribed(status()),
        ResponseBody::Attention {
            records: vec![
                AttentionRecord {
                    kind: "sale".into(),
                    at: datetime!(2020-03-09 10:00 +08:00),
                    id_masked: Some("A12****789".into()),
                    quantity: Some(3),
                    reason: "sale_time_too_old".into(),
                },
                AttentionRecord {
                    kind: "listing".into(),
                    at: datetime!(2020-03-09 11:00 +08:00),
                    id_masked: None,
                    quantity: None,
                    reason: "unknown".into(),
                },
            ],
        },
        ResponseBody::Ok,
        ResponseBody::Error(ErrorBody {
            code: ErrorCode::InvalidId,
            message: "checksum".into(),
        }),
        ResponseBody::Error(ErrorBody {
            code: ErrorCode::InvalidNote,
            message: "too long".into(),
        }),
    ];
    for (id, body) in bodies.into_iter().enumerate() {
        round_trip_agent(AgentFrame::Response(Response {
            id: id as u64,
            body,
        }));
    }
    let events = vec![
        Event::Card(CardNotice::ReaderAdded { reader: "r".into() }),
        Event::Card(CardNotice::ReaderRemoved { reader: "r".into() }),
        Event::Card(CardNotice::CardInserted { reader: "r".into() }),
        Event::Card(CardNotice::CardRemoved { reader: "r".into() }),
        Event::Card(CardNotice::CardError {
            reader: None,
            problem: CardProblem::Unreadable,
            card_label: None,
        }),
        Event::Card(CardNotice::CardError {
            reader: Some("r".into()),
            problem: CardProblem::NotNhiCard,
            card_label: Some("VISA DEBIT".into()),
        }),
        Event::Counter(CounterState::Waiting),
        Event::Counter(CounterState::Checking {
            reader: Some("r".into()),
        }),
        Event::Counter(CounterState::Buyer {
            read: ReadRef(1),
            buyer: buyer(),
            eligibility: eligibility(),
        }),
        Event::Counter(CounterState::CardError {
            reader: Some("r".into()),
            problem: CardProblem::HealthProfessionalCard,
            card_label: None,
        }),
        Event::Counter(CounterState::CardError {
            reader: Some("r".into()),
            problem: CardProblem::NotNhiCard,
            card_label: Some("MAESTRO".into()),
        }),
        Event::SaleRecorded(receipt()),
        Event::Sale(SaleUpdate {
            sale_id: Uuid::now_v7(),
            sync: SaleSyncState::Overrun,
        }),
        Event::Sync(sync_status()),
        Event::Sync(SyncStatus {
            connectivity: Connectivity::Unknown,
            last_sync: None,
            last_error: None,
            ..sync_status()
        }),
        Event::Listing(ListingState {
            listed: true,
            changed_at: None,
            synced: true,
        }),
        Event::Counter(CounterState::Buyer {
            read: ReadRef(2),
            buyer: BuyerView {
                reader: None,
                source: SaleSource::Manual,
                ..buyer()
            },
            eligibility: EligibilityView {
                next_date: None,
                ..eligibility()
            },
        }),
        Event::Inventory(inventory()),
        Event::Listing(listing()),
        Event::Note(note()),
        Event::SiteName {
            name: "台北市立聯合醫院".into(),
        },
    ];
    for event in events {
        round_trip_agent(AgentFrame::Event(event));
    }
}

#[test]
fn wire_shapes_are_pinned() {
    let sell = ClientFrame::Request(Request {
        id: 9,
        body: RequestBody::Sell {
            buyer: SellBuyer::Card { read: ReadRef(4) },
            quantity: 3,
        },
    });
    assert_eq!(
        serde_json::to_value(&sell).unwrap(),
        json!({"frame": "request", "id": 9,
               "body": {"type": "sell", "buyer": {"source": "card", "read": 4}, "quantity": 3}})
    );
    let check = ClientFrame::Request(Request {
        id: 1,
        body: RequestBody::CheckEligibility {
            id_no: "A123456789".into(),
            birth_date: Some(date!(2016 - 05 - 01)),
        },
    });
    assert_eq!(
        serde_json::to_value(&check).unwrap(),
        json!({"frame": "request", "id": 1, "body": {"type": "check_eligibility",
               "id_no": "A123456789", "birth_date": "2016-05-01"}})
    );
    let waiting = AgentFrame::Event(Event::Counter(CounterState::Waiting));
    assert_eq!(
        serde_json::to_value(&waiting).unwrap(),
        json!({"frame": "event", "type": "counter", "state": "waiting"})
    );
    let refused = AgentFrame::Response(Response {
        id: 2,
        body: ResponseBody::Sell(SellOutcome::Refused(EligibilityView {
            kind: BuyerKind::Child,
            allowed: 0,
            next_date: Some(date!(2020 - 03 - 13)),
            reason: Some(RefusalReason::Window),
            decided: DecisionSource::Server,
            amounts_due: Vec::new(),
        })),
    });
    assert_eq!(
        serde_json::to_value(&refused).unwrap(),
        json!({"frame": "response", "id": 2, "body": {"type": "sell", "outcome": "refused",
               "kind": "child", "allowed": 0, "next_date": "2020-03-13", "reason": "window",
               "decided": "server"}})
    );
}

#[test]
fn amounts_are_looked_up_by_quantity_never_computed() {
    let e = eligibility();
    assert_eq!(e.amount_due(3), Some(15));
    assert_eq!(e.amount_due(1), Some(5));
    assert_eq!(e.amount_due(0), None);
    assert_eq!(e.amount_due(4), None);
    let pinned = serde_json::to_value(&e).unwrap();
    assert_eq!(pinned["amounts_due"], json!([5, 10, 15]));
}

#[test]
fn fields_added_for_the_counter_screen_may_be_omitted_by_an_older_agent() {
    let status: StatusReport = serde_json::from_value(json!({
        "agent_version": "0.1.0", "site_code": "5901012345",
        "sync": {"connectivity": "online", "queued": 0, "overruns": 0},
        "readers": [], "listing": {"listed": true, "synced": true},
        "counter": {"state": "waiting"}, "policy_cached": true
    }))
    .unwrap();
    assert_eq!(status.site_name, None);
    assert_eq!(
        status.note,
        NoteState::default(),
        "no note from an agent before notes"
    );
    let e: EligibilityView = serde_json::from_value(json!({
        "kind": "adult", "allowed": 3, "decided": "server"
    }))
    .unwrap();
    assert_eq!(e.amount_due(3), None);
    let counts: StockCounts =
        serde_json::from_value(json!({"received": 1, "sold": 2, "damaged": 0, "remaining": 5}))
            .unwrap();
    assert_eq!(counts.sales, 0);
    let receipt: SaleReceipt = serde_json::from_value(json!({
        "sale_id": Uuid::nil(), "buyer": {"masked_name": "", "masked_id": "A12****789",
        "source": "manual"}, "kind": "adult", "quantity": 3,
        "sold_at": "2020-03-12T01:00:00Z", "offline": false, "sync": "queued"
    }))
    .unwrap();
    assert_eq!(receipt.amount_due, None);
}

#[test]
fn optional_fields_may_be_omitted_by_older_peers() {
    let frame: ClientFrame = decode_frame(
        r#"{"frame":"request","id":1,"body":{"type":"check_eligibility","id_no":"A123456789"}}"#,
    )
    .unwrap();
    assert_eq!(
        frame,
        ClientFrame::Request(Request {
            id: 1,
            body: RequestBody::CheckEligibility {
                id_no: "A123456789".into(),
                birth_date: None
            },
        })
    );
}

// The label of a foreign card was added within protocol version 1: an older agent omits it,
// and the agent leaves it out when the card said nothing, so frames stay as they were.
#[test]
fn a_card_label_is_optional_on_the_wire() {
    let older: AgentFrame = decode_frame(
        r#"{"frame":"event","type":"counter","state":"card_error","reader":"r","problem":"not_nhi_card"}"#,
    )
    .unwrap();
    assert_eq!(
        older,
        AgentFrame::Event(Event::Counter(CounterState::CardError {
            reader: Some("r".into()),
            problem: CardProblem::NotNhiCard,
            card_label: None,
        }))
    );
    let unnamed = AgentFrame::Event(Event::Counter(CounterState::CardError {
        reader: None,
        problem: CardProblem::Unreadable,
        card_label: None,
    }));
    assert_eq!(
        serde_json::to_value(&unnamed).unwrap(),
        json!({"frame": "event", "type": "counter", "state": "card_error", "reader": null,
               "problem": "unreadable"})
    );
    let named = AgentFrame::Event(Event::Card(CardNotice::CardError {
        reader: Some("r".into()),
        problem: CardProblem::NotNhiCard,
        card_label: Some("VISA DEBIT".into()),
    }));
    assert_eq!(
        serde_json::to_value(&named).unwrap(),
        json!({"frame": "event", "type": "card", "kind": "card_error", "reader": "r",
               "problem": "not_nhi_card", "card_label": "VISA DEBIT"})
    );
}

#[test]
fn unknown_variants_from_a_newer_agent_do_not_break_an_older_client() {
    let event: AgentFrame =
        decode_frame(r#"{"frame":"event","type":"printer_jammed","tray":2}"#).unwrap();
    assert_eq!(event, AgentFrame::Event(Event::Unknown));
    let frame: AgentFrame = decode_frame(r#"{"frame":"telemetry","x":1}"#).unwrap();
    assert_eq!(frame, AgentFrame::Unknown);
    let reason: RefusalReason = serde_json::from_str(r#""pregnant_exemption""#).unwrap();
    assert_eq!(reason, RefusalReason::Other("pregnant_exemption".into()));
    assert_eq!(
        serde_json::to_string(&reason).unwrap(),
        r#""pregnant_exemption""#
    );
    let code: ErrorCode = serde_json::from_str(r#""rate_limited""#).unwrap();
    assert_eq!(code, ErrorCode::Unknown);
}

// Regression (issue 14): the protocol's own copy of the warning codes mapped an unknown code to
// `Unknown` and sent it on as `"unknown"`; the one type (mask-api's) keeps the code it got.
#[test]
fn an_unknown_stock_warning_code_is_kept_and_sent_on_as_it_came() {
    let json = json!({"kind": "adult", "code": "recall_notice"});
    let warning: InventoryWarning = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(
        warning.code,
        InventoryWarningCode::Other("recall_notice".into())
    );
    assert_eq!(serde_json::to_value(&warning).unwrap(), json);
    for code in InventoryWarningCode::KNOWN {
        let known: InventoryWarningCode = serde_json::from_value(json!(code)).unwrap();
        assert!(!matches!(known, InventoryWarningCode::Other(_)), "{code}");
        assert_eq!(serde_json::to_value(&known).unwrap(), json!(code));
    }
}

#[test]
fn overlong_frames_are_refused() {
    let line = format!(
        r#"{{"frame":"hello","client":"{}"}}"#,
        "x".repeat(MAX_FRAME_LEN)
    );
    assert!(matches!(
        decode_frame::<ClientFrame>(&line),
        Err(FrameError::TooLong { .. })
    ));
}

proptest! {
    #[test]
    fn decoding_arbitrary_text_never_panics(line in ".{0,300}") {
        let _ = decode_frame::<ClientFrame>(&line);
        let _ = decode_frame::<AgentFrame>(&line);
    }

    #[test]
    fn refusal_codes_round_trip(code in "[a-z_]{1,20}") {
        let reason = RefusalReason::from(code.clone());
        prop_assert_eq!(String::from(reason), code);
    }
}

#[test]
fn an_access_refusal_is_pinned_and_optional() {
    let hello = AgentHello {
        protocol_version: 1,
        accepted: false,
        agent_version: "0.1.0".into(),
        site_code: String::new(),
        refused: Some(AccessRefusal::NotInGroup {
            group: "mask-counter".into(),
        }),
    };
    assert_eq!(
        serde_json::to_value(AgentFrame::Hello(hello)).unwrap(),
        json!({"frame": "hello", "protocol_version": 1, "accepted": false,
               "agent_version": "0.1.0", "site_code": "",
               "refused": {"reason": "not_in_group", "group": "mask-counter"}})
    );
    // An agent from before access control sends no `refused`; one from the future may send a
    // reason this build does not know.
    let old: AgentFrame = decode_frame(
        r#"{"frame":"hello","protocol_version":1,"accepted":true,"agent_version":"0.1.0","site_code":"x"}"#,
    )
    .unwrap();
    assert!(matches!(
        old,
        AgentFrame::Hello(AgentHello { refused: None, .. })
    ));
    let newer: AgentFrame = decode_frame(
        r#"{"frame":"hello","protocol_version":1,"accepted":false,"agent_version":"9","site_code":"","refused":{"reason":"outside_hours"}}"#,
    )
    .unwrap();
    assert!(matches!(
        newer,
        AgentFrame::Hello(AgentHello {
            refused: Some(AccessRefusal::Unknown),
            ..
        })
    ));
}

#[test]
fn the_access_message_names_the_group_and_the_command_in_both_languages() {
    let denied = AccessDenied::from_refusal(&AccessRefusal::NotInGroup {
        group: "mask-counter".into(),
    });
    let zh = denied.zh_tw();
    assert!(zh.contains("不在 mask-counter 群組"), "{zh}");
    assert!(zh.contains("登出後重新登入"), "{zh}");
    let en = denied.en();
    assert!(en.contains("not in the mask-counter group"), "{en}");
    assert!(!en.contains('帳'), "{en}");
    #[cfg(target_os = "linux")]
    assert!(zh.contains("sudo usermod -aG mask-counter <帳號>"), "{zh}");
    assert_eq!(
        AccessDenied::from_refusal(&AccessRefusal::Unknown).group,
        DEFAULT_ACCESS_GROUP
    );
}

#[test]
fn the_note_request_and_event_have_pinned_shapes_and_an_older_screen_ignores_the_event() {
    let set = ClientFrame::Request(Request {
        id: 5,
        body: RequestBody::SetNote {
            text: "號碼牌 09:00 發放".into(),
        },
    });
    assert_eq!(
        serde_json::to_value(&set).unwrap(),
        json!({"frame": "request", "id": 5, "body": {"type": "set_note", "text": "號碼牌 09:00 發放"}})
    );
    let event = AgentFrame::Event(Event::Note(note()));
    assert_eq!(
        serde_json::to_value(&event).unwrap(),
        json!({"frame": "event", "type": "note", "text": "號碼牌 09:00 發放",
               "changed_at": "2020-03-12T00:30:00Z", "synced": false})
    );
    // A cleared note carries no text.
    let cleared = serde_json::to_value(Event::Note(NoteState {
        text: None,
        changed_at: Some(datetime!(2020-03-12 01:00:00 UTC)),
        synced: true,
    }))
    .unwrap();
    assert!(cleared.get("text").is_none(), "{cleared}");
    // The limit the screen stops typing at is the agent's and the server's.
    assert_eq!(PUBLIC_NOTE_MAX_CHARS, 40);
}
