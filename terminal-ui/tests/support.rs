//! Builders for app states: the app is driven only through its public `handle`, with the
//! frames a real agent sends.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use mask_protocol::{
    AgentFrame, AgentHello, BuyerKind, BuyerView, CardProblem, Connectivity, CounterState,
    DecisionSource, EligibilityView, Event, Inventory, InventoryWarning, InventoryWarningCode,
    ListingState, NoteState, ReadRef, RefusalReason, Response, ResponseBody, SaleReceipt,
    SaleSource, SaleSyncState, SellOutcome, StatusReport, StockCounts, SyncStatus,
};
use mask_terminal::Lang;
use mask_terminal::{App, Input, Intent};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use time::macros::{date, datetime};

/// The screen as text, one line per row, wide characters once (their second cell skipped),
/// so the snapshot shows what a terminal shows.
pub fn render(app: &App, lang: Lang, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|f| mask_terminal::draw(f, app, lang))
        .unwrap();
    let buffer = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..height {
        let mut skip = 0usize;
        out.push('|');
        for x in 0..width {
            let symbol = buffer[(x, y)].symbol();
            if skip == 0 {
                out.push_str(symbol);
            }
            skip = skip
                .max(unicode_width::UnicodeWidthStr::width(symbol))
                .saturating_sub(1);
        }
        out.push_str("|\n");
    }
    out
}

pub fn key(code: KeyCode) -> Input {
    Input::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

pub fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        app.handle(key(KeyCode::Char(c)));
    }
}

pub fn event(e: Event) -> Input {
    Input::Frame(Box::new(AgentFrame::Event(e)))
}

pub fn respond(id: u64, body: ResponseBody) -> Input {
    Input::Frame(Box::new(AgentFrame::Response(Response { id, body })))
}

/// The id of the single request in `out`.
pub fn request_id(out: &[Intent]) -> u64 {
    match out {
        [Intent::Send(r)] => r.id,
        other => panic!("expected one request, got {other:?}"),
    }
}

pub fn sync(connectivity: Connectivity, queued: u64) -> SyncStatus {
    SyncStatus {
        connectivity,
        queued,
        queued_other: 0,
        last_sync: Some(datetime!(2020-03-09 02:03:04 UTC)),
        last_error: None,
        overruns: 0,
        attention: 0,
        clock_offset_s: None,
    }
}

/// Connected to an online agent for pharmacy 5901010058, listed, reader ready.
pub fn connected(demo: bool) -> App {
    let mut app = App::new(demo);
    let id = request_id(&app.handle(Input::Connected(AgentHello {
        protocol_version: mask_protocol::PROTOCOL_VERSION,
        accepted: true,
        agent_version: "0.1.0".into(),
        site_code: "5901010058".into(),
        refused: None,
    })));
    app.handle(respond(
        id,
        ResponseBody::Subscribed(StatusReport {
            agent_version: "0.1.0".into(),
            site_code: "5901010058".into(),
            site_name: None,
            sync: sync(Connectivity::Online, 0),
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
        }),
    ));
    app
}

pub fn card_buyer(name: &str, id: &str) -> BuyerView {
    BuyerView {
        masked_name: name.into(),
        masked_id: id.into(),
        source: SaleSource::Card,
        reader: Some("Virtual PCD 00 00".into()),
    }
}

/// Allowed to buy, with the amounts the agent sends (5 NTD a mask, the 2020 price).
pub fn eligible(kind: BuyerKind, allowed: u32, decided: DecisionSource) -> EligibilityView {
    EligibilityView {
        kind,
        allowed,
        next_date: None,
        reason: None,
        decided,
        amounts_due: (1..=allowed).map(|q| 5 * q).collect(),
    }
}

pub fn refused(reason: RefusalReason, next: time::Date) -> EligibilityView {
    EligibilityView {
        kind: BuyerKind::Adult,
        allowed: 0,
        next_date: Some(next),
        reason: Some(reason),
        decided: DecisionSource::Server,
        amounts_due: Vec::new(),
    }
}

pub fn show_buyer(app: &mut App, read: u64, buyer: BuyerView, e: EligibilityView) {
    app.handle(event(Event::Card(
        mask_protocol::CardNotice::CardInserted {
            reader: "Virtual PCD 00 00".into(),
        },
    )));
    app.handle(event(Event::Counter(CounterState::Buyer {
        read: ReadRef(read),
        buyer,
        eligibility: e,
    })));
}

pub fn card_error(app: &mut App, problem: CardProblem) {
    card_error_named(app, problem, None);
}

/// A card error as the agent sends it for a foreign card that named itself.
pub fn card_error_named(app: &mut App, problem: CardProblem, card_label: Option<&str>) {
    app.handle(event(Event::Counter(CounterState::CardError {
        reader: Some("Virtual PCD 00 00".into()),
        problem,
        card_label: card_label.map(str::to_owned),
    })));
}

pub fn sold(app: &mut App) {
    show_buyer(
        app,
        1,
        card_buyer("王○明", "A12****789"),
        eligible(BuyerKind::Adult, 3, DecisionSource::Server),
    );
    let id = request_id(&app.handle(key(KeyCode::Enter)));
    app.handle(respond(
        id,
        ResponseBody::Sell(SellOutcome::Recorded(SaleReceipt {
            sale_id: uuid::Uuid::nil(),
            buyer: card_buyer("王○明", "A12****789"),
            kind: BuyerKind::Adult,
            quantity: 3,
            sold_at: datetime!(2020-03-09 02:05 UTC),
            offline: false,
            amount_due: Some(15),
            sync: SaleSyncState::Queued,
        })),
    ));
}

pub fn inventory(low: bool) -> Inventory {
    Inventory {
        date: date!(2020 - 03 - 09),
        adult: StockCounts {
            received: 200,
            sold: if low { 185 } else { 3 },
            sales: if low { 62 } else { 1 },
            damaged: 5,
            remaining: if low { 10 } else { 192 },
            cap: 200,
        },
        child: StockCounts {
            received: 50,
            sold: 5,
            sales: 1,
            damaged: 0,
            remaining: 45,
            cap: 50,
        },
        warnings: if low {
            vec![
                InventoryWarning {
                    kind: BuyerKind::Adult,
                    code: InventoryWarningCode::CapNear,
                },
                InventoryWarning {
                    kind: BuyerKind::Adult,
                    code: InventoryWarningCode::StockLow,
                },
            ]
        } else {
            Vec::new()
        },
    }
}
