//! Every view and state, rendered at 80×24 with ratatui's TestBackend and pinned with insta,
//! in Traditional Chinese and English. Wide characters take two cells: the snapshots show the
//! columns line up.

use crossterm::event::KeyCode;
use mask_protocol::{
    AttentionRecord, BuyerKind, CardProblem, Connectivity, DecisionSource, EligibilityView, Event,
    ListingState, NoteState, RefusalReason, ResponseBody,
};
use mask_terminal::Lang;
use mask_terminal::{App, DemoCard, DemoNotice, Input};
use time::macros::date;

use crate::support::*;

const LANGS: [(Lang, &str); 2] = [(Lang::ZhTw, "zh"), (Lang::En, "en")];

/// Pins `app` in both languages as `<name>@zh` / `<name>@en`.
fn pin(name: &str, app: &App) {
    pin_size(name, app, 80, 24);
}

fn pin_size(name: &str, app: &App, w: u16, h: u16) {
    for (lang, tag) in LANGS {
        insta::assert_snapshot!(format!("{name}@{tag}"), render(app, lang, w, h));
    }
}

#[test]
fn counter_before_the_agent_answers() {
    pin("counter_disconnected", &App::new(false));
}

#[test]
fn counter_waiting_for_a_card() {
    pin("counter_waiting", &connected(false));
}

#[test]
fn counter_waiting_after_a_sale_shows_the_last_sale() {
    let mut app = connected(false);
    sold(&mut app);
    pin("counter_after_sale", &app);
}

#[test]
fn counter_reading_a_card() {
    let mut app = connected(false);
    app.handle(event(Event::Counter(
        mask_protocol::CounterState::Checking { reader: None },
    )));
    pin("counter_checking", &app);
}

#[test]
fn counter_adult_buyer_with_quantity_preset() {
    let mut app = connected(false);
    show_buyer(
        &mut app,
        1,
        card_buyer("王○明", "A12****789"),
        eligible(BuyerKind::Adult, 3, DecisionSource::Server),
    );
    pin("counter_buyer_adult", &app);
}

#[test]
fn counter_child_buyer_decided_offline() {
    let mut app = connected(false);
    app.handle(event(Event::Sync(sync(Connectivity::Offline, 2))));
    show_buyer(
        &mut app,
        2,
        card_buyer("吳○廷", "N12****525"),
        eligible(BuyerKind::Child, 5, DecisionSource::Local),
    );
    app.handle(key(KeyCode::Char('2')));
    pin("counter_buyer_child_offline", &app);
}

#[test]
fn counter_sale_in_flight() {
    let mut app = connected(false);
    show_buyer(
        &mut app,
        1,
        card_buyer("王○明", "A12****789"),
        eligible(BuyerKind::Adult, 3, DecisionSource::Server),
    );
    app.handle(key(KeyCode::Enter));
    pin("counter_selling", &app);
}

#[test]
fn counter_refused_wrong_weekday() {
    let mut app = connected(false);
    show_buyer(
        &mut app,
        3,
        card_buyer("林○華", "F22****786"),
        refused(RefusalReason::Weekday, date!(2020 - 03 - 10)),
    );
    pin("counter_refused_weekday", &app);
}

#[test]
fn counter_refused_window_not_over() {
    let mut app = connected(false);
    show_buyer(
        &mut app,
        4,
        card_buyer("王○明", "A12****789"),
        refused(RefusalReason::Window, date!(2020 - 03 - 16)),
    );
    pin("counter_refused_window", &app);
}

#[test]
fn counter_card_errors_say_what_to_do() {
    for (problem, name) in [
        (CardProblem::NotNhiCard, "not_nhi"),
        (CardProblem::HealthProfessionalCard, "hpc"),
        (CardProblem::RemovedTooEarly, "removed_too_early"),
        (CardProblem::Unreadable, "unreadable"),
        (CardProblem::ReaderUnplugged, "reader_unplugged"),
        (CardProblem::ServiceNotRunning, "service_not_running"),
    ] {
        let mut app = connected(false);
        card_error(&mut app, problem);
        pin(&format!("counter_card_error_{name}"), &app);
    }
}

// A foreign card is named on the counter ("VISA DEBIT", from its FCI), so the pharmacist can
// tell the buyer which card they handed over.
#[test]
fn counter_a_foreign_card_is_named() {
    let mut app = connected(false);
    card_error_named(&mut app, CardProblem::NotNhiCard, Some("VISA DEBIT"));
    pin("counter_card_error_not_nhi_named", &app);
    let zh = render(&app, Lang::ZhTw, 80, 24);
    assert!(
        zh.contains("這不是健保卡（插入的是「VISA DEBIT」）"),
        "{zh}"
    );
}

#[test]
fn counter_quantity_above_the_allowed_is_refused_with_a_message() {
    let mut app = connected(false);
    show_buyer(
        &mut app,
        1,
        card_buyer("王○明", "A12****789"),
        eligible(BuyerKind::Adult, 3, DecisionSource::Server),
    );
    app.handle(key(KeyCode::Char('7')));
    pin("counter_quantity_too_high", &app);
}

#[test]
fn manual_entry_states() {
    let mut app = connected(false);
    app.handle(key(KeyCode::Char('m')));
    pin("manual_empty", &app);
    typed(&mut app, "a12345");
    pin("manual_incomplete", &app);
    typed(&mut app, "6788");
    pin("manual_bad_checksum", &app);
    app.handle(key(KeyCode::Backspace));
    typed(&mut app, "9");
    pin("manual_valid", &app);
    app.handle(key(KeyCode::Tab));
    typed(&mut app, "20151301");
    app.handle(key(KeyCode::Enter));
    pin("manual_bad_birth_date", &app);
}

#[test]
fn manual_entry_wrong_second_character() {
    let mut app = connected(false);
    app.handle(key(KeyCode::Char('m')));
    typed(&mut app, "A3");
    pin("manual_bad_second_char", &app);
}

#[test]
fn manual_buyer_at_the_counter() {
    let mut app = connected(false);
    app.handle(key(KeyCode::Char('m')));
    typed(&mut app, "A123456789");
    let id = request_id(&app.handle(key(KeyCode::Enter)));
    app.handle(respond(
        id,
        ResponseBody::Eligibility(eligible(BuyerKind::Adult, 3, DecisionSource::Server)),
    ));
    pin("counter_buyer_manual", &app);
}

#[test]
fn stock_in_form_and_confirmation() {
    let mut app = connected(false);
    app.handle(key(KeyCode::Char('s')));
    pin("stock_empty", &app);
    typed(&mut app, "200");
    app.handle(key(KeyCode::Tab));
    typed(&mut app, "50");
    app.handle(key(KeyCode::Tab));
    typed(&mut app, "5");
    pin("stock_filled", &app);
    app.handle(key(KeyCode::Enter));
    pin("stock_confirm", &app);
}

#[test]
fn stock_in_with_nothing_entered() {
    let mut app = connected(false);
    app.handle(key(KeyCode::Char('s')));
    app.handle(key(KeyCode::Enter));
    pin("stock_empty_error", &app);
}

#[test]
fn inventory_loading_then_shown() {
    let mut app = connected(false);
    let id = request_id(&app.handle(key(KeyCode::Char('i'))));
    pin("inventory_loading", &app);
    app.handle(respond(id, ResponseBody::Inventory(inventory(false))));
    pin("inventory", &app);
}

#[test]
fn inventory_with_sales_cap_warning() {
    let mut app = connected(false);
    let id = request_id(&app.handle(key(KeyCode::Char('i'))));
    app.handle(respond(id, ResponseBody::Inventory(inventory(true))));
    pin("inventory_low_stock", &app);
}

#[test]
fn sold_out_confirmation_banner_and_relist() {
    let mut app = connected(false);
    app.handle(key(KeyCode::Char('x')));
    pin("delist_confirm", &app);
    let id = request_id(&app.handle(key(KeyCode::Char('x'))));
    app.handle(respond(
        id,
        ResponseBody::Listing(ListingState {
            listed: false,
            changed_at: None,
            synced: false,
        }),
    ));
    pin("delisted", &app);
    app.handle(key(KeyCode::Char('x')));
    pin("relist_confirm", &app);
}

// Issue #15: the public note form (key `n`), Chinese typed as the terminal delivers it.
#[test]
fn public_note_form_typing_and_saved() {
    let mut app = connected(false);
    app.handle(key(KeyCode::Char('n')));
    pin("note_empty", &app);
    typed(&mut app, "號碼牌 09:00 發放");
    pin("note_typing", &app);
    let id = request_id(&app.handle(key(KeyCode::Enter)));
    pin("note_saving", &app);
    app.handle(respond(
        id,
        ResponseBody::Note(NoteState {
            text: Some("號碼牌 09:00 發放".into()),
            changed_at: Some(time::macros::datetime!(2020-03-09 00:30 UTC)),
            synced: false,
        }),
    ));
    pin("note_saved", &app);
}

#[test]
fn public_note_form_with_a_synced_note_and_a_full_line() {
    let mut app = connected(false);
    app.handle(event(Event::Note(NoteState {
        text: Some("號碼牌已發完，明天 08:30 再發".into()),
        changed_at: Some(time::macros::datetime!(2020-03-09 00:30 UTC)),
        synced: true,
    })));
    app.handle(key(KeyCode::Char('n')));
    for _ in 0..20 {
        app.handle(key(KeyCode::Backspace));
    }
    // 40 wide characters are 80 columns: the field shows the end being typed; the 41st is
    // refused (the count turns red).
    typed(&mut app, &"一二三四五六七八九十".repeat(4));
    typed(&mut app, "多");
    pin("note_full", &app);
}

#[test]
fn help_lists_every_key() {
    let mut app = connected(false);
    app.handle(key(KeyCode::Char('?')));
    pin("help", &app);
}

#[test]
fn help_in_the_demo_lists_the_demo_keys() {
    let mut app = connected(true);
    app.handle(Input::Demo(DemoNotice::CardInserted(DemoCard::AdultEven)));
    pin("demo_waiting", &app);
    app.handle(key(KeyCode::Char('?')));
    pin("help_demo", &app);
}

#[test]
fn offline_status_bar_with_queue_and_overruns() {
    let mut app = connected(true);
    let mut s = sync(Connectivity::Offline, 4);
    s.overruns = 1;
    app.handle(event(Event::Sync(s)));
    app.handle(Input::Demo(DemoNotice::Link(false)));
    pin("demo_offline", &app);
}

#[test]
fn losing_the_agent_mid_sale_is_reported() {
    let mut app = connected(false);
    show_buyer(
        &mut app,
        1,
        card_buyer("王○明", "A12****789"),
        eligible(BuyerKind::Adult, 3, DecisionSource::Server),
    );
    app.handle(key(KeyCode::Enter));
    app.handle(Input::Disconnected);
    pin("agent_lost_mid_sale", &app);
}

#[test]
fn an_account_outside_the_access_group_is_told_what_it_must_do() {
    let mut app = App::new(false);
    app.handle(Input::AccessDenied(mask_protocol::AccessDenied {
        group: "mask-counter".into(),
    }));
    pin("access_denied", &app);
}

#[test]
fn larger_terminal_keeps_the_layout() {
    let mut app = connected(true);
    show_buyer(
        &mut app,
        1,
        card_buyer("歐○○明", "A12****789"),
        eligible(BuyerKind::Adult, 3, DecisionSource::Server),
    );
    pin_size("counter_buyer_120x30", &app, 120, 30);
}

#[test]
fn token_refused_status_bar_with_records_needing_attention() {
    let mut app = connected(false);
    let mut s = sync(Connectivity::TokenRefused, 1);
    s.attention = 2;
    app.handle(event(Event::Sync(s)));
    show_buyer(
        &mut app,
        5,
        card_buyer("王○明", "A12****789"),
        EligibilityView {
            next_date: None,
            ..refused(RefusalReason::TokenRefused, date!(2020 - 03 - 12))
        },
    );
    pin("status_token_refused_attention", &app);
}

#[test]
fn records_needing_attention_are_listed_with_their_reason() {
    let mut app = connected(false);
    let mut s = sync(Connectivity::Online, 0);
    s.attention = 3;
    app.handle(event(Event::Sync(s)));
    pin("counter_with_records_needing_attention", &app);
    let id = request_id(&app.handle(key(KeyCode::Char('a'))));
    pin("attention_loading", &app);
    let at = |h: u8| {
        time::OffsetDateTime::new_in_offset(
            date!(2020 - 03 - 09),
            time::Time::from_hms(h, 5, 0).unwrap(),
            time::UtcOffset::from_hms(8, 0, 0).unwrap(),
        )
    };
    let record = |kind: &str, h, id_masked: Option<&str>, quantity, reason: &str| AttentionRecord {
        kind: kind.into(),
        at: at(h),
        id_masked: id_masked.map(Into::into),
        quantity,
        reason: reason.into(),
    };
    app.handle(respond(
        id,
        ResponseBody::Attention {
            records: vec![
                record("sale", 15, Some("A12****789"), Some(3), "kind_mismatch"),
                record("stock_in", 9, None, Some(250), "sale_time_in_future"),
                record("sale", 8, Some("F22****786"), Some(2), "something_new"),
            ],
        },
    ));
    pin("attention", &app);
    app.handle(key(KeyCode::Esc));
    pin("counter_with_records_needing_attention", &app);
}

#[test]
fn a_pc_clock_far_off_is_warned_in_the_status_bar() {
    let mut app = connected(false);
    let mut s = sync(Connectivity::Online, 0);
    // The server is 15 days ahead of this PC.
    s.clock_offset_s = Some(15 * 86_400);
    app.handle(event(Event::Sync(s)));
    pin("status_clock_skew", &app);
}

#[test]
fn a_small_clock_offset_is_not_warned() {
    let mut app = connected(false);
    let mut s = sync(Connectivity::Online, 0);
    s.clock_offset_s = Some(90);
    app.handle(event(Event::Sync(s)));
    for (lang, _) in LANGS {
        let screen = render(&app, lang, 80, 24);
        assert!(!screen.contains("clock off") && !screen.contains("時鐘誤差"));
    }
}

#[test]
fn counter_refused_offline_limit_and_server_refused() {
    for (reason, decided, name) in [
        (
            RefusalReason::OfflineLimit,
            DecisionSource::Local,
            "offline_limit",
        ),
        (
            RefusalReason::ServerRefused,
            DecisionSource::Server,
            "server_refused",
        ),
    ] {
        let mut app = connected(false);
        show_buyer(
            &mut app,
            6,
            card_buyer("王○明", "A12****789"),
            EligibilityView {
                next_date: None,
                decided,
                ..refused(reason, date!(2020 - 03 - 12))
            },
        );
        pin(&format!("counter_refused_{name}"), &app);
    }
}

// Issue #13: the counter itself names the pharmacy (from the registry, via the agent) and
// shows today's sales; the day's sales-cap and stock warnings are on it too, not only in the
// inventory view.
#[test]
fn counter_names_the_pharmacy_and_shows_todays_sales_and_warnings() {
    let mut app = connected(false);
    app.handle(event(Event::SiteName {
        name: "衛生福利部花蓮醫院豐濱原住民分院".into(),
    }));
    app.handle(event(Event::Inventory(inventory(false))));
    pin("counter_waiting_name_and_today", &app);
    app.handle(event(Event::Inventory(inventory(true))));
    pin("counter_waiting_warnings", &app);
    show_buyer(
        &mut app,
        1,
        card_buyer("王○明", "A12****789"),
        eligible(BuyerKind::Adult, 3, DecisionSource::Server),
    );
    pin("counter_buyer_warnings", &app);
}

// Issue #13: the amount to collect follows the quantity being sold (the agent sends the
// amount for each quantity; the screen only looks it up).
#[test]
fn the_amount_to_collect_follows_the_quantity() {
    let mut app = connected(false);
    show_buyer(
        &mut app,
        1,
        card_buyer("王○明", "A12****789"),
        eligible(BuyerKind::Adult, 3, DecisionSource::Server),
    );
    for (lang, _) in LANGS {
        assert!(render(&app, lang, 80, 24).contains("NT$15"));
    }
    app.handle(key(KeyCode::Char('2')));
    for (lang, _) in LANGS {
        let screen = render(&app, lang, 80, 24);
        assert!(
            screen.contains("NT$10") && !screen.contains("NT$15"),
            "{screen}"
        );
    }
}
