//! The counter's state machine as a specification: keys and agent frames in, state and
//! intents out.
#![allow(clippy::unwrap_used)]

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use mask_protocol::{
    AgentFrame, AgentHello, BuyerKind, BuyerView, Connectivity, CounterState, DecisionSource,
    EligibilityView, ErrorBody, ErrorCode, Event, Inventory, ListingState, NoteState, ReadRef,
    RefusalReason, Request, RequestBody, Response, ResponseBody, SaleReceipt, SaleSource,
    SaleSyncState, SellBuyer, SellOutcome, StatusReport, StockCounts, SyncStatus,
};
use time::macros::{date, datetime};

use super::*;

pub(crate) fn key(code: KeyCode) -> Input {
    Input::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

pub(crate) fn ch(c: char) -> Input {
    key(KeyCode::Char(c))
}

fn hello() -> AgentHello {
    AgentHello {
        protocol_version: mask_protocol::PROTOCOL_VERSION,
        accepted: true,
        agent_version: "0.1.0".into(),
        site_code: "5901012345".into(),
        refused: None,
    }
}

#[test]
fn an_account_outside_the_access_group_is_told_what_to_do_until_it_connects() {
    let mut app = App::new(false);
    let denied = mask_protocol::AccessDenied {
        group: "mask-counter".into(),
    };
    assert!(app.handle(Input::AccessDenied(denied.clone())).is_empty());
    assert!(!app.connected);
    assert_eq!(
        app.notice,
        Some(Notice::Problem(AgentProblem::AccessDenied(denied.clone())))
    );
    assert_eq!(app.access_denied(), Some(&denied));
    let (problem, action) = crate::i18n::access_denied(crate::i18n::Lang::ZhTw, &denied);
    assert!(problem.contains("不在 mask-counter 群組"), "{problem}");
    assert!(
        action.contains("sudo usermod -aG mask-counter <帳號>"),
        "{action}"
    );
    // Once IT added the account and it logged in again, the screen connects and the notice goes.
    app.handle(Input::Connected(hello()));
    assert!(app.connected);
    assert_eq!(app.notice, None);
}

fn report() -> StatusReport {
    StatusReport {
        agent_version: "0.1.0".into(),
        site_code: "5901012345".into(),
        site_name: None,
        sync: SyncStatus {
            connectivity: Connectivity::Online,
            queued: 0,
            queued_other: 0,
            last_sync: None,
            last_error: None,
            overruns: 0,
            attention: 0,
            clock_offset_s: None,
        },
        readers: vec![mask_protocol::ReaderState {
            name: "Virtual PCD 00 00".into(),
            card_present: false,
        }],
        listing: ListingState {
            listed: true,
            changed_at: None,
            synced: true,
        },
        note: NoteState::default(),
        counter: CounterState::Waiting,
        policy_cached: true,
    }
}

fn buyer() -> BuyerView {
    BuyerView {
        masked_name: "王○明".into(),
        masked_id: "A12****789".into(),
        source: SaleSource::Card,
        reader: Some("Virtual PCD 00 00".into()),
    }
}

fn allowed(n: u32) -> EligibilityView {
    EligibilityView {
        kind: BuyerKind::Adult,
        allowed: n,
        next_date: None,
        reason: None,
        decided: DecisionSource::Server,
        amounts_due: (1..=n).map(|q| 5 * q).collect(),
    }
}

fn event(e: Event) -> Input {
    Input::Frame(Box::new(AgentFrame::Event(e)))
}

fn respond(id: u64, body: ResponseBody) -> Input {
    Input::Frame(Box::new(AgentFrame::Response(Response { id, body })))
}

fn card_buyer(read: u64, e: EligibilityView) -> Input {
    event(Event::Counter(CounterState::Buyer {
        read: ReadRef(read),
        buyer: buyer(),
        eligibility: e,
    }))
}

/// A connected, subscribed app. Returns the app and the next request id.
fn connected() -> App {
    let mut app = App::new(false);
    let out = app.handle(Input::Connected(hello()));
    assert_eq!(
        out,
        vec![Intent::Send(Request {
            id: 1,
            body: RequestBody::Subscribe
        })]
    );
    let out = app.handle(respond(1, ResponseBody::Subscribed(report())));
    assert_eq!(sent(&out).1, RequestBody::Inventory);
    app
}

fn sent(out: &[Intent]) -> (u64, RequestBody) {
    match out {
        [Intent::Send(Request { id, body })] => (*id, body.clone()),
        other => panic!("expected one request, got {other:?}"),
    }
}

fn receipt(qty: u32) -> SaleReceipt {
    SaleReceipt {
        sale_id: uuid::Uuid::nil(),
        buyer: buyer(),
        kind: BuyerKind::Adult,
        quantity: qty,
        sold_at: datetime!(2020-03-09 02:00 UTC),
        offline: false,
        amount_due: Some(5 * qty),
        sync: SaleSyncState::Queued,
    }
}

#[test]
fn connecting_subscribes_and_takes_the_agents_snapshot() {
    let app = connected();
    assert!(app.connected);
    assert!(app.online());
    assert_eq!(app.site_code, "5901012345");
    assert_eq!(app.reader_summary(), ReaderSummary::Ready);
    assert!(!app.delisted());
}

// Issue #13: the header names the pharmacy as the registry does, from the agent's snapshot
// (kept in its journal, so also offline) or when the server tells the agent later.
#[test]
fn the_pharmacy_name_comes_from_the_snapshot_or_a_later_event() {
    let mut app = App::new(false);
    app.handle(Input::Connected(hello()));
    app.handle(respond(
        1,
        ResponseBody::Subscribed(StatusReport {
            site_name: Some("衛生福利部花蓮醫院豐濱原住民分院".into()),
            ..report()
        }),
    ));
    assert_eq!(
        app.site_name.as_deref(),
        Some("衛生福利部花蓮醫院豐濱原住民分院")
    );
    // A status from an agent that does not know it (yet) does not blank it.
    app.handle(respond(99, ResponseBody::Status(report())));
    assert!(app.site_name.is_some());

    let mut app = connected();
    assert_eq!(app.site_name, None);
    app.handle(event(Event::SiteName {
        name: "杏一藥局".into(),
    }));
    assert_eq!(app.site_name.as_deref(), Some("杏一藥局"));
}

// Issue #13: today's counts and warnings are on the counter screen from the start, so the
// app asks for today's inventory as soon as it is subscribed (see `connected`), and takes it.
#[test]
fn todays_inventory_is_asked_for_on_subscribing_and_kept() {
    let mut app = App::new(false);
    app.handle(Input::Connected(hello()));
    let (id, body) = sent(&app.handle(respond(1, ResponseBody::Subscribed(report()))));
    assert_eq!(body, RequestBody::Inventory);
    assert_eq!(app.screen, Screen::Counter);
    let inv = Inventory {
        date: date!(2020 - 03 - 09),
        adult: StockCounts {
            sold: 3,
            sales: 1,
            ..StockCounts::default()
        },
        child: StockCounts::default(),
        warnings: Vec::new(),
    };
    app.handle(respond(id, ResponseBody::Inventory(inv.clone())));
    assert_eq!(app.inventory, Some(inv));
    // Still the counter: the answer does not switch to the inventory view.
    assert_eq!(app.screen, Screen::Counter);
}

#[test]
fn a_card_read_shows_the_buyer_with_quantity_preset_to_the_maximum() {
    let mut app = connected();
    app.handle(event(Event::Counter(CounterState::Checking {
        reader: None,
    })));
    assert_eq!(app.counter, Counter::Checking);
    app.handle(card_buyer(7, allowed(3)));
    assert!(matches!(app.counter, Counter::Buyer { quantity: 3, .. }));
}

#[test]
fn enter_sells_the_buyer_on_screen_and_the_counter_returns_to_waiting() {
    let mut app = connected();
    app.handle(card_buyer(7, allowed(3)));
    let (id, body) = sent(&app.handle(key(KeyCode::Enter)));
    assert_eq!(
        body,
        RequestBody::Sell {
            buyer: SellBuyer::Card { read: ReadRef(7) },
            quantity: 3
        }
    );
    assert!(app.selling());
    // A second Enter while the sale is in flight sells nothing more.
    assert!(app.handle(key(KeyCode::Enter)).is_empty());
    let out = app.handle(respond(
        id,
        ResponseBody::Sell(SellOutcome::Recorded(receipt(3))),
    ));
    assert_eq!(app.counter, Counter::Waiting);
    assert_eq!(app.last_sale.as_ref().map(|s| s.quantity), Some(3));
    assert_eq!(sent(&out).1, RequestBody::ClearCounter);
    // The agent's late view of the sold read does not bring the buyer back.
    app.handle(card_buyer(7, allowed(0)));
    assert_eq!(app.counter, Counter::Waiting);
}

#[test]
fn digits_and_plus_minus_change_the_quantity_within_the_allowed_range() {
    let mut app = connected();
    app.handle(card_buyer(1, allowed(3)));
    app.handle(ch('2'));
    assert!(matches!(app.counter, Counter::Buyer { quantity: 2, .. }));
    app.handle(ch('9'));
    assert!(matches!(app.counter, Counter::Buyer { quantity: 2, .. }));
    assert_eq!(app.notice, Some(Notice::Error(Text::ErrQuantityTooHigh)));
    app.handle(ch('+'));
    app.handle(ch('+'));
    assert!(matches!(app.counter, Counter::Buyer { quantity: 3, .. }));
    app.handle(ch('-'));
    app.handle(ch('-'));
    app.handle(ch('-'));
    assert!(matches!(app.counter, Counter::Buyer { quantity: 1, .. }));
    assert_eq!(app.notice, Some(Notice::Error(Text::ErrQuantityZero)));
    let (_, body) = sent(&app.handle(key(KeyCode::Enter)));
    assert!(matches!(body, RequestBody::Sell { quantity: 1, .. }));
}

#[test]
fn a_refused_buyer_cannot_be_sold_to_and_esc_clears() {
    let mut app = connected();
    let refused = EligibilityView {
        allowed: 0,
        next_date: Some(date!(2020 - 03 - 10)),
        reason: Some(RefusalReason::Weekday),
        ..allowed(0)
    };
    app.handle(card_buyer(2, refused));
    assert!(app.handle(key(KeyCode::Enter)).is_empty());
    let (_, body) = sent(&app.handle(key(KeyCode::Esc)));
    assert_eq!(body, RequestBody::ClearCounter);
    assert_eq!(app.counter, Counter::Waiting);
}

#[test]
fn card_errors_are_shown_in_the_counter() {
    let mut app = connected();
    app.handle(event(Event::Counter(CounterState::CardError {
        reader: None,
        problem: CardProblem::HealthProfessionalCard,
        card_label: None,
    })));
    assert_eq!(
        app.counter,
        Counter::CardError {
            problem: CardProblem::HealthProfessionalCard,
            card_label: None
        }
    );
    // A foreign card's own name reaches the view.
    app.handle(event(Event::Counter(CounterState::CardError {
        reader: None,
        problem: CardProblem::NotNhiCard,
        card_label: Some("VISA DEBIT".into()),
    })));
    assert_eq!(
        app.counter,
        Counter::CardError {
            problem: CardProblem::NotNhiCard,
            card_label: Some("VISA DEBIT".into())
        }
    );
}

#[test]
fn manual_entry_validates_as_typed_and_checks_eligibility_with_the_agent() {
    let mut app = connected();
    app.handle(ch('m'));
    for c in "a123456788".chars() {
        app.handle(ch(c));
    }
    let Screen::Manual(form) = &app.screen else {
        panic!("manual form expected")
    };
    assert_eq!(form.id, "A123456788");
    assert_eq!(
        form.id_check(),
        IdCheck::Problem(crate::i18n::IdProblem::Checksum)
    );
    // Enter on a bad ID sends nothing.
    assert!(app.handle(key(KeyCode::Enter)).is_empty());
    app.handle(key(KeyCode::Backspace));
    app.handle(ch('9'));
    let (id, body) = sent(&app.handle(key(KeyCode::Enter)));
    assert_eq!(
        body,
        RequestBody::CheckEligibility {
            id_no: "A123456789".into(),
            birth_date: None
        }
    );
    app.handle(respond(id, ResponseBody::Eligibility(allowed(3))));
    assert_eq!(app.screen, Screen::Counter);
    let Counter::Buyer { buyer, .. } = &app.counter else {
        panic!("buyer expected")
    };
    assert_eq!(buyer.masked_id, "A12****789");
    assert_eq!(buyer.source, SaleSource::Manual);
    // The agent's "waiting" (no card) does not wipe a typed buyer.
    app.handle(event(Event::Counter(CounterState::Waiting)));
    assert!(matches!(app.counter, Counter::Buyer { .. }));
    let (_, body) = sent(&app.handle(key(KeyCode::Enter)));
    assert_eq!(
        body,
        RequestBody::Sell {
            buyer: SellBuyer::Manual {
                id_no: "A123456789".into(),
                birth_date: None
            },
            quantity: 3
        }
    );
}

#[test]
fn manual_entry_takes_a_birth_date_and_refuses_an_impossible_one() {
    let mut app = connected();
    app.handle(ch('m'));
    for c in "A123456789".chars() {
        app.handle(ch(c));
    }
    app.handle(key(KeyCode::Tab));
    for c in "20150231".chars() {
        app.handle(ch(c));
    }
    assert!(app.handle(key(KeyCode::Enter)).is_empty());
    assert!(matches!(&app.screen, Screen::Manual(f) if f.birth_error));
    app.handle(key(KeyCode::Backspace));
    app.handle(ch('1'));
    app.handle(key(KeyCode::Backspace));
    app.handle(key(KeyCode::Backspace));
    app.handle(ch('0'));
    app.handle(ch('1'));
    let (_, body) = sent(&app.handle(key(KeyCode::Enter)));
    assert_eq!(
        body,
        RequestBody::CheckEligibility {
            id_no: "A123456789".into(),
            birth_date: Some(date!(2015 - 02 - 01))
        }
    );
}

#[test]
fn letters_typed_in_manual_entry_are_not_commands() {
    let mut app = connected();
    app.handle(ch('m'));
    assert!(app.handle(ch('q')).is_empty());
    assert!(!app.quit);
    assert!(matches!(&app.screen, Screen::Manual(f) if f.id == "Q"));
    app.handle(key(KeyCode::Esc));
    assert_eq!(app.screen, Screen::Counter);
}

#[test]
fn stock_in_asks_for_confirmation_then_shows_the_inventory() {
    let mut app = connected();
    app.handle(ch('s'));
    assert!(app.handle(key(KeyCode::Enter)).is_empty());
    assert!(matches!(&app.screen, Screen::StockIn(f) if f.empty_error));
    for c in "200".chars() {
        app.handle(ch(c));
    }
    app.handle(key(KeyCode::Tab));
    app.handle(ch('5'));
    app.handle(ch('0'));
    app.handle(key(KeyCode::Tab));
    app.handle(ch('3'));
    assert!(app.handle(key(KeyCode::Enter)).is_empty());
    assert!(matches!(&app.screen, Screen::StockIn(f) if f.confirming));
    let (id, body) = sent(&app.handle(key(KeyCode::Enter)));
    assert_eq!(
        body,
        RequestBody::StockIn(mask_protocol::StockInForm {
            received_adult: 200,
            received_child: 50,
            damaged_adult: 3,
            damaged_child: 0
        })
    );
    let inv = Inventory {
        date: date!(2020 - 03 - 09),
        adult: StockCounts {
            received: 200,
            sold: 0,
            sales: 0,
            damaged: 3,
            remaining: 197,
            cap: 200,
        },
        child: StockCounts {
            received: 50,
            sold: 0,
            sales: 0,
            damaged: 0,
            remaining: 50,
            cap: 50,
        },
        warnings: Vec::new(),
    };
    app.handle(respond(id, ResponseBody::Inventory(inv.clone())));
    assert_eq!(app.screen, Screen::Inventory);
    assert_eq!(app.inventory, Some(inv));
    assert_eq!(app.notice, Some(Notice::Info(Text::StockSaved)));
}

#[test]
fn sold_out_needs_a_second_press_and_the_same_key_relists() {
    let mut app = connected();
    assert!(app.handle(ch('x')).is_empty());
    assert_eq!(app.overlay, Some(Overlay::ConfirmListing { listed: false }));
    let (id, body) = sent(&app.handle(ch('x')));
    assert_eq!(body, RequestBody::SetListing { listed: false });
    let delisted = ListingState {
        listed: false,
        changed_at: None,
        synced: false,
    };
    app.handle(respond(id, ResponseBody::Listing(delisted)));
    assert!(app.delisted());
    app.handle(ch('x'));
    assert_eq!(app.overlay, Some(Overlay::ConfirmListing { listed: true }));
    // Esc cancels.
    app.handle(key(KeyCode::Esc));
    assert_eq!(app.overlay, None);
    app.handle(ch('x'));
    let (_, body) = sent(&app.handle(ch('x')));
    assert_eq!(body, RequestBody::SetListing { listed: true });
}

/// Types `text` into whatever has the keyboard.
fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        assert!(app.handle(ch(c)).is_empty(), "typing {c:?} sent something");
    }
}

// Issue #15: one key opens the public note form with the current note; Chinese text is typed
// as the terminal delivers it, Enter saves through the agent, and the saved note is the app's.
#[test]
fn n_opens_the_note_form_and_enter_saves_the_typed_note() {
    let mut app = connected();
    assert!(app.handle(ch('n')).is_empty());
    assert_eq!(app.screen, Screen::Note(NoteForm::default()));
    // Letters that are keys elsewhere (q quits, ? helps, x delists) are text here.
    type_text(&mut app, "號碼牌 09:00 發放 q?x");
    for _ in 0..4 {
        app.handle(key(KeyCode::Backspace));
    }
    let (id, body) = sent(&app.handle(key(KeyCode::Enter)));
    assert_eq!(
        body,
        RequestBody::SetNote {
            text: "號碼牌 09:00 發放".into()
        }
    );
    assert!(matches!(&app.screen, Screen::Note(f) if f.saving));
    // Keys while saving do nothing (no second request).
    assert!(app.handle(key(KeyCode::Enter)).is_empty());
    let saved = NoteState {
        text: Some("號碼牌 09:00 發放".into()),
        changed_at: Some(datetime!(2020-03-09 00:30 UTC)),
        synced: false,
    };
    app.handle(respond(id, ResponseBody::Note(saved.clone())));
    assert_eq!(app.screen, Screen::Counter);
    assert_eq!(app.note, Some(saved));
    assert_eq!(app.notice, Some(Notice::Info(Text::NoteSaved)));
    // Opening it again starts from the current note; Esc leaves it unchanged.
    app.handle(ch('n'));
    assert!(matches!(&app.screen, Screen::Note(f) if f.text == "號碼牌 09:00 發放"));
    assert!(app.handle(key(KeyCode::Esc)).is_empty());
    assert_eq!(app.screen, Screen::Counter);
}

#[test]
fn an_emptied_note_clears_it_and_the_agents_refusal_keeps_the_form_open() {
    let mut app = connected();
    app.handle(event(Event::Note(NoteState {
        text: Some("已發完".into()),
        changed_at: Some(datetime!(2020-03-09 00:30 UTC)),
        synced: true,
    })));
    app.handle(ch('n'));
    for _ in 0..3 {
        app.handle(key(KeyCode::Backspace));
    }
    let (id, body) = sent(&app.handle(key(KeyCode::Enter)));
    assert_eq!(
        body,
        RequestBody::SetNote {
            text: String::new()
        }
    );
    app.handle(respond(
        id,
        ResponseBody::Note(NoteState {
            text: None,
            changed_at: Some(datetime!(2020-03-09 01:00 UTC)),
            synced: false,
        }),
    ));
    assert_eq!(app.notice, Some(Notice::Info(Text::NoteCleared)));
    // A refusal (here: a journal failure) is shown and the text stays to try again.
    app.handle(ch('n'));
    type_text(&mut app, "下午再發");
    let (id, _) = sent(&app.handle(key(KeyCode::Enter)));
    app.handle(respond(
        id,
        ResponseBody::Error(ErrorBody {
            code: ErrorCode::JournalUnavailable,
            message: "disk full".into(),
        }),
    ));
    assert!(matches!(&app.screen, Screen::Note(f) if f.text == "下午再發" && !f.saving));
    assert_eq!(
        app.notice,
        Some(Notice::Problem(AgentProblem::JournalFailed))
    );
}

#[test]
fn the_note_key_needs_the_agent_and_control_keys_are_not_typed() {
    let mut app = App::new(false);
    app.handle(ch('n'));
    assert_eq!(
        app.screen,
        Screen::Counter,
        "no note known without the agent"
    );
    assert_eq!(app.notice, Some(Notice::Error(Text::ErrAgentUnavailable)));
    let mut app = connected();
    app.handle(ch('n'));
    app.handle(ch('\t'));
    app.handle(ch('\u{7}'));
    assert!(matches!(&app.screen, Screen::Note(f) if f.text.is_empty() && f.refused_key));
    // The agent goes away mid-form: Enter says so instead of sending into the void.
    app.handle(Input::Disconnected);
    type_text(&mut app, "a");
    assert!(app.handle(key(KeyCode::Enter)).is_empty());
    assert_eq!(app.notice, Some(Notice::Error(Text::ErrAgentUnavailable)));
}

fn squatter() -> mask_pipe_guard::NotTheAgent {
    mask_pipe_guard::NotTheAgent {
        pid: 4711,
        image: Some(r"C:\Users\Public\mask-agent.exe".into()),
    }
}

#[test]
fn a_pipe_held_by_another_program_is_named_on_screen_and_nothing_is_sent() {
    let mut app = connected();
    app.handle(card_buyer(3, allowed(2)));
    let intents = app.handle(Input::NotTheAgent(squatter()));
    assert!(intents.is_empty());
    assert!(!app.connected);
    assert!(!app.selling());
    assert_eq!(
        app.notice,
        Some(Notice::Problem(AgentProblem::NotTheAgent(squatter())))
    );
    // Selling is impossible while the pipe is not the agent's, and the warning stays.
    assert!(app.handle(key(KeyCode::Enter)).is_empty());
    assert_eq!(
        app.notice,
        Some(Notice::Problem(AgentProblem::NotTheAgent(squatter())))
    );
}

#[test]
fn the_squatter_notice_goes_when_the_real_agent_connects() {
    let mut app = App::new(false);
    app.handle(Input::NotTheAgent(squatter()));
    app.handle(Input::Connected(hello()));
    assert!(app.connected);
    assert_eq!(app.notice, None);
    // Forgotten once the agent answered: a later disconnect is an ordinary one.
    app.handle(Input::Disconnected);
    assert_eq!(app.notice, Some(Notice::Error(Text::ErrAgentUnavailable)));
}

#[test]
fn losing_the_agent_during_a_sale_says_the_result_is_unknown() {
    let mut app = connected();
    app.handle(card_buyer(3, allowed(2)));
    app.handle(key(KeyCode::Enter));
    app.handle(Input::Disconnected);
    assert!(!app.connected);
    assert!(!app.selling());
    assert_eq!(
        app.notice,
        Some(Notice::Problem(AgentProblem::Disconnected))
    );
    assert_eq!(app.reader_summary(), ReaderSummary::Unknown);
}

#[test]
fn a_journal_failure_is_reported_and_the_buyer_stays() {
    let mut app = connected();
    app.handle(card_buyer(3, allowed(2)));
    let (id, _) = sent(&app.handle(key(KeyCode::Enter)));
    app.handle(respond(
        id,
        ResponseBody::Error(ErrorBody {
            code: ErrorCode::JournalUnavailable,
            message: "disk full".into(),
        }),
    ));
    assert!(matches!(app.counter, Counter::Buyer { selling: false, .. }));
    assert_eq!(
        app.notice,
        Some(Notice::Problem(AgentProblem::JournalFailed))
    );
}

#[test]
fn help_opens_and_closes_and_q_quits() {
    let mut app = connected();
    app.handle(ch('?'));
    assert_eq!(app.overlay, Some(Overlay::Help));
    app.handle(key(KeyCode::Esc));
    assert_eq!(app.overlay, None);
    assert_eq!(app.handle(ch('q')), vec![Intent::Quit]);
    assert!(app.quit);
}

#[test]
fn demo_keys_exist_only_in_demo_mode() {
    let mut app = connected();
    assert!(app.handle(ch('c')).is_empty());
    let mut demo = App::new(true);
    assert_eq!(
        demo.handle(ch('c')),
        vec![Intent::Demo(DemoAction::NextCard)]
    );
    assert_eq!(
        demo.handle(ch('o')),
        vec![Intent::Demo(DemoAction::ToggleOnline)]
    );
}

#[test]
fn a_new_card_brings_the_counter_back_from_the_inventory() {
    let mut app = connected();
    app.handle(ch('i'));
    assert_eq!(app.screen, Screen::Inventory);
    app.handle(card_buyer(9, allowed(3)));
    assert_eq!(app.screen, Screen::Counter);
}

#[test]
fn reader_state_follows_card_notices() {
    let mut app = connected();
    let reader = "Virtual PCD 00 00".to_string();
    app.handle(event(Event::Card(
        mask_protocol::CardNotice::CardInserted {
            reader: reader.clone(),
        },
    )));
    assert_eq!(app.reader_summary(), ReaderSummary::CardPresent);
    app.handle(event(Event::Card(mask_protocol::CardNotice::CardRemoved {
        reader: reader.clone(),
    })));
    assert_eq!(app.reader_summary(), ReaderSummary::Ready);
    app.handle(event(Event::Card(
        mask_protocol::CardNotice::ReaderRemoved { reader },
    )));
    assert_eq!(app.reader_summary(), ReaderSummary::NoReader);
}
