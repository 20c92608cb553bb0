//! The counter screen as a pure state machine: `App::handle(input) -> Vec<Intent>`.
//!
//! It holds what the screen shows and which requests are in flight, and turns keys and agent
//! frames into new state plus intents (requests to send, quit, demo actions). It decides no
//! rationing rule: eligibility, quantities, amounts and warnings all come from the agent. No I/O here, so
//! every transition is a unit test away.

pub mod forms;

use std::collections::{BTreeMap, HashMap};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use mask_protocol::{
    AgentFrame, AgentHello, BuyerView, CardNotice, CardProblem, Connectivity, CounterState,
    DecisionSource, EligibilityView, ErrorCode, Event, Inventory, ListingState, NoteState, ReadRef,
    Request, RequestBody, ResponseBody, SaleReceipt, SaleSource, SellBuyer, SellOutcome,
    StatusReport, SyncStatus,
};
use time::Date;

use crate::i18n::{AgentProblem, Text};
use forms::{IdCheck, ManualForm, NoteForm, StockForm};

/// Something that happened: a key, the agent, the demo, or time passing.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// A key press.
    Key(KeyEvent),
    /// The agent accepted our hello.
    Connected(AgentHello),
    /// The connection to the agent is gone (the client reconnects by itself).
    Disconnected,
    /// This account may not use the agent (not in its access group).
    AccessDenied(mask_protocol::AccessDenied),
    /// Windows: the agent's pipe is held by a process that is not the installed agent; nothing
    /// was sent to it (the client keeps retrying).
    NotTheAgent(mask_pipe_guard::NotTheAgent),
    /// A response or event from the agent.
    Frame(Box<AgentFrame>),
    /// Result of a demo action.
    Demo(DemoNotice),
    /// The terminal was resized (or anything else that only needs a redraw).
    Redraw,
    /// A termination signal: quit like `q`.
    Terminate,
}

/// What the app wants done by the outside world.
#[derive(Clone, Debug, PartialEq)]
pub enum Intent {
    /// Send this request to the agent.
    Send(Request),
    /// Leave the program.
    Quit,
    /// A demo-only action (insert a card, cut the server link).
    Demo(DemoAction),
}

/// Demo-only actions (the key bindings exist only with `--demo`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DemoAction {
    /// Insert the next virtual card of the cycle.
    NextCard,
    /// Cut or restore the link between agent and server.
    ToggleOnline,
}

/// The demo's virtual cards, as the notice line names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DemoCard {
    /// Adult, ID ending odd: may buy on the demo's Monday.
    AdultOdd,
    /// A second adult with an odd ID.
    AdultOdd2,
    /// Adult, ID ending even: refused on a Monday (odd/even rule).
    AdultEven,
    /// A child (exempt from the odd/even rule).
    Child,
    /// A health-professional card.
    HealthProfessional,
    /// A card pulled out mid-read.
    Pulled,
    /// A bank card.
    Bank,
    /// A profile chosen with `--demo-cards`.
    Other,
}

/// What a demo action did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DemoNotice {
    /// A virtual card was inserted.
    CardInserted(DemoCard),
    /// The server link is now up (true) or cut (false).
    Link(bool),
    /// The demo action failed.
    Failed(String),
}

/// Which screen is shown under the overlays.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Screen {
    /// The counter (default).
    Counter,
    /// Manual ID entry.
    Manual(ManualForm),
    /// Stock-in form.
    StockIn(StockForm),
    /// The public note form.
    Note(NoteForm),
    /// Today's inventory.
    Inventory,
    /// The records that need attention.
    Attention,
}

/// A pop-up over the screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overlay {
    /// The key help.
    Help,
    /// "Press x again" to delist (`listed: false`) or relist (`listed: true`).
    ConfirmListing {
        /// The state asked for.
        listed: bool,
    },
}

/// Who is being served: a card read on screen or a typed ID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BuyerRef {
    /// The agent's card read.
    Card(ReadRef),
    /// Typed by the pharmacist (kept only in memory until the next buyer).
    Manual {
        /// The ID number as typed (normalised by the card crate).
        id_no: String,
        /// Birth date when typed.
        birth_date: Option<Date>,
    },
}

/// What the counter area shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Counter {
    /// Insert a card.
    Waiting,
    /// A card is being read and checked.
    Checking,
    /// A buyer with the agent's decision.
    Buyer {
        /// Whom a sale would go to.
        who: BuyerRef,
        /// Masked name and ID.
        buyer: BuyerView,
        /// The agent's decision.
        eligibility: EligibilityView,
        /// The quantity to sell (preset to the allowed maximum).
        quantity: u32,
        /// A sell request is in flight.
        selling: bool,
    },
    /// The card could not be used.
    CardError {
        /// What went wrong.
        problem: CardProblem,
        /// What a foreign card calls itself (e.g. `VISA DEBIT`), when it said.
        card_label: Option<String>,
    },
}

/// A one-line message under the screen; rendered in the current language.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// A fixed text (info).
    Info(Text),
    /// A fixed text (error).
    Error(Text),
    /// A failed request.
    Problem(AgentProblem),
    /// A demo action result.
    Demo(DemoNotice),
}

/// Summary of the readers for the status bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReaderSummary {
    /// No agent yet.
    Unknown,
    /// No reader connected.
    NoReader,
    /// Ready, no card.
    Ready,
    /// A card is in a reader.
    CardPresent,
    /// PC/SC service not running.
    ServiceDown,
}

/// What a request in flight was for.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Pending {
    Subscribe,
    Sell,
    CheckManual {
        id_no: String,
        birth_date: Option<Date>,
    },
    StockIn,
    Inventory,
    Attention,
    Listing,
    Note,
    Other,
}

/// The whole UI state.
#[derive(Clone, Debug, PartialEq)]
pub struct App {
    /// Demo mode (demo keys and help lines).
    pub demo: bool,
    /// Agent connection accepted.
    pub connected: bool,
    /// Pharmacy code from the agent.
    pub site_code: String,
    /// The pharmacy's registered name, once the agent knows it.
    pub site_name: Option<String>,
    /// Shown screen.
    pub screen: Screen,
    /// Pop-up, if any.
    pub overlay: Option<Overlay>,
    /// The counter area.
    pub counter: Counter,
    /// The last completed sale (shown while waiting).
    pub last_sale: Option<SaleReceipt>,
    /// Message line.
    pub notice: Option<Notice>,
    /// Sync state from the agent.
    pub sync: Option<SyncStatus>,
    /// Readers: name → card present.
    pub readers: BTreeMap<String, bool>,
    /// PC/SC service reported down.
    pub pcsc_down: bool,
    /// Listing state.
    pub listing: Option<ListingState>,
    /// The public note, as the agent journaled it (known offline too).
    pub note: Option<NoteState>,
    /// Today's inventory: fetched on subscribing (the counter shows today's counts and
    /// warnings from it), then kept fresh by events.
    pub inventory: Option<Inventory>,
    /// The records that need attention, as last fetched (the `a` screen).
    pub attention: Option<Vec<mask_protocol::AttentionRecord>>,
    /// Set when the user asked to quit.
    pub quit: bool,
    next_id: u64,
    pending: HashMap<u64, Pending>,
    /// The card read that was just sold: later counter events about it are stale.
    sold_read: Option<ReadRef>,
    /// Windows: the program found holding the agent's pipe at the last attempt (until the real
    /// agent connects): named instead of "agent unavailable" whenever that would be shown.
    not_the_agent: Option<mask_pipe_guard::NotTheAgent>,
}

impl App {
    /// A fresh app (not yet connected).
    pub fn new(demo: bool) -> App {
        App {
            demo,
            connected: false,
            site_code: String::new(),
            site_name: None,
            screen: Screen::Counter,
            overlay: None,
            counter: Counter::Waiting,
            last_sale: None,
            notice: None,
            sync: None,
            readers: BTreeMap::new(),
            pcsc_down: false,
            listing: None,
            note: None,
            inventory: None,
            attention: None,
            quit: false,
            next_id: 1,
            pending: HashMap::new(),
            sold_read: None,
            not_the_agent: None,
        }
    }

    /// Reader summary for the status bar.
    pub fn reader_summary(&self) -> ReaderSummary {
        if !self.connected {
            ReaderSummary::Unknown
        } else if self.pcsc_down {
            ReaderSummary::ServiceDown
        } else if self.readers.is_empty() {
            ReaderSummary::NoReader
        } else if self.readers.values().any(|present| *present) {
            ReaderSummary::CardPresent
        } else {
            ReaderSummary::Ready
        }
    }

    /// True when the server link is up (as last reported by the agent).
    pub fn online(&self) -> bool {
        self.connectivity() == Some(Connectivity::Online)
    }

    /// The agent's view of the server link (`None` while the agent itself is not connected).
    pub fn connectivity(&self) -> Option<Connectivity> {
        if !self.connected {
            return None;
        }
        Some(
            self.sync
                .as_ref()
                .map_or(Connectivity::Unknown, |s| s.connectivity),
        )
    }

    /// True when the pharmacy is delisted ("sold out").
    pub fn delisted(&self) -> bool {
        self.listing.as_ref().is_some_and(|l| !l.listed)
    }

    /// The access refusal on screen, if this account may not use the agent.
    pub fn access_denied(&self) -> Option<&mask_protocol::AccessDenied> {
        match &self.notice {
            Some(Notice::Problem(AgentProblem::AccessDenied(denied))) => Some(denied),
            _ => None,
        }
    }

    /// True while a sell request is in flight.
    pub fn selling(&self) -> bool {
        matches!(self.counter, Counter::Buyer { selling: true, .. })
    }

    /// Applies one input; returns what to do.
    pub fn handle(&mut self, input: Input) -> Vec<Intent> {
        match input {
            Input::Key(key) => self.on_key(key),
            Input::Connected(hello) => self.on_connected(hello),
            Input::Disconnected => {
                self.on_disconnected();
                Vec::new()
            }
            Input::AccessDenied(denied) => {
                self.connected = false;
                self.notice = Some(Notice::Problem(AgentProblem::AccessDenied(denied)));
                Vec::new()
            }
            Input::NotTheAgent(impostor) => {
                self.on_disconnected();
                self.not_the_agent = Some(impostor);
                self.notice = Some(self.unavailable_notice());
                Vec::new()
            }
            Input::Frame(frame) => self.on_frame(*frame),
            Input::Demo(notice) => {
                self.notice = Some(Notice::Demo(notice));
                Vec::new()
            }
            Input::Redraw => Vec::new(),
            Input::Terminate => {
                self.quit = true;
                vec![Intent::Quit]
            }
        }
    }

    fn request(&mut self, body: RequestBody, pending: Pending) -> Intent {
        let id = self.next_id;
        self.next_id += 1;
        self.pending.insert(id, pending);
        Intent::Send(Request { id, body })
    }

    // ----- connection -----

    fn on_connected(&mut self, hello: AgentHello) -> Vec<Intent> {
        self.connected = true;
        self.not_the_agent = None;
        self.site_code = hello.site_code;
        if matches!(
            self.notice,
            Some(
                Notice::Error(Text::ErrAgentUnavailable)
                    | Notice::Problem(AgentProblem::AccessDenied(_))
                    | Notice::Problem(AgentProblem::NotTheAgent(_))
            )
        ) {
            self.notice = None;
        }
        vec![self.request(RequestBody::Subscribe, Pending::Subscribe)]
    }

    fn on_disconnected(&mut self) {
        let was_selling = self.pending.values().any(|p| {
            matches!(
                p,
                Pending::Sell | Pending::StockIn | Pending::Listing | Pending::Note
            )
        });
        self.connected = false;
        self.pending.clear();
        self.readers.clear();
        if let Counter::Buyer { selling, .. } = &mut self.counter {
            *selling = false;
        }
        if let Screen::Manual(form) = &mut self.screen {
            form.checking = false;
        }
        if let Screen::StockIn(form) = &mut self.screen {
            form.saving = false;
        }
        if let Screen::Note(form) = &mut self.screen {
            form.saving = false;
        }
        self.notice = Some(if was_selling {
            Notice::Problem(AgentProblem::Disconnected)
        } else {
            self.unavailable_notice()
        });
    }

    // ----- agent frames -----

    fn on_frame(&mut self, frame: AgentFrame) -> Vec<Intent> {
        match frame {
            AgentFrame::Response(resp) => {
                let pending = self.pending.remove(&resp.id).unwrap_or(Pending::Other);
                self.on_response(pending, resp.body)
            }
            AgentFrame::Event(event) => {
                self.on_event(event);
                Vec::new()
            }
            AgentFrame::Hello(_) | AgentFrame::Unknown => Vec::new(),
        }
    }

    fn apply_report(&mut self, report: StatusReport) {
        self.site_code = report.site_code;
        if report.site_name.is_some() {
            self.site_name = report.site_name;
        }
        self.sync = Some(report.sync);
        self.readers = report
            .readers
            .into_iter()
            .map(|r| (r.name, r.card_present))
            .collect();
        self.listing = Some(report.listing);
        self.note = Some(report.note);
        self.apply_counter(report.counter);
    }

    fn on_response(&mut self, pending: Pending, body: ResponseBody) -> Vec<Intent> {
        let mut out = Vec::new();
        match (pending, body) {
            (_, ResponseBody::Subscribed(report)) => {
                self.apply_report(report);
                // Today's counts and warnings belong on the counter from the start; events
                // keep them fresh afterwards.
                out.push(self.request(RequestBody::Inventory, Pending::Inventory));
            }
            (_, ResponseBody::Status(report)) => self.apply_report(report),
            (Pending::Sell, ResponseBody::Sell(SellOutcome::Recorded(receipt))) => {
                if let Counter::Buyer {
                    who: BuyerRef::Card(read),
                    ..
                } = &self.counter
                {
                    self.sold_read = Some(*read);
                    // Tell the agent the buyer is done so every client returns to waiting.
                    out.push(self.request(RequestBody::ClearCounter, Pending::Other));
                }
                self.counter = Counter::Waiting;
                self.last_sale = Some(receipt);
                self.notice = None;
            }
            (Pending::Sell, ResponseBody::Sell(SellOutcome::Refused(eligibility))) => {
                let reason = eligibility.reason.clone();
                if let Counter::Buyer {
                    eligibility: e,
                    quantity,
                    selling,
                    ..
                } = &mut self.counter
                {
                    *quantity = eligibility.allowed.min(*quantity);
                    *e = eligibility;
                    *selling = false;
                }
                if let Some(r) = reason {
                    self.notice = Some(Notice::Problem(AgentProblem::Refused(r)));
                }
            }
            (
                Pending::CheckManual { id_no, birth_date },
                ResponseBody::Eligibility(eligibility),
            ) => {
                let buyer = BuyerView {
                    masked_name: String::new(),
                    masked_id: nhi_id::mask_id(&id_no),
                    source: SaleSource::Manual,
                    reader: None,
                };
                let quantity = eligibility.allowed;
                self.counter = Counter::Buyer {
                    who: BuyerRef::Manual { id_no, birth_date },
                    buyer,
                    eligibility,
                    quantity,
                    selling: false,
                };
                self.screen = Screen::Counter;
                self.sold_read = None;
            }
            (Pending::StockIn, ResponseBody::Inventory(inv)) => {
                self.inventory = Some(inv);
                self.screen = Screen::Inventory;
                self.notice = Some(Notice::Info(Text::StockSaved));
            }
            (_, ResponseBody::Inventory(inv)) => self.inventory = Some(inv),
            (_, ResponseBody::Attention { records }) => self.attention = Some(records),
            (Pending::Listing, ResponseBody::Listing(state)) => {
                self.notice = Some(Notice::Info(if state.listed {
                    Text::Relisted
                } else {
                    Text::Delisted
                }));
                self.listing = Some(state);
            }
            (_, ResponseBody::Listing(state)) => self.listing = Some(state),
            (Pending::Note, ResponseBody::Note(state)) => {
                self.notice = Some(Notice::Info(if state.text.is_some() {
                    Text::NoteSaved
                } else {
                    Text::NoteCleared
                }));
                self.note = Some(state);
                if matches!(self.screen, Screen::Note(_)) {
                    self.screen = Screen::Counter;
                }
            }
            (_, ResponseBody::Note(state)) => self.note = Some(state),
            (_, ResponseBody::Sync(sync)) => self.sync = Some(sync),
            (pending, ResponseBody::Error(err)) => self.on_error(pending, err.code, err.message),
            (_, ResponseBody::Sell(_))
            | (_, ResponseBody::Eligibility(_))
            | (_, ResponseBody::Ok)
            | (_, ResponseBody::Unknown) => {}
        }
        out
    }

    fn on_error(&mut self, pending: Pending, code: ErrorCode, message: String) {
        let problem = match code {
            ErrorCode::InvalidId => AgentProblem::InvalidId,
            ErrorCode::StaleBuyer => AgentProblem::NoBuyer,
            ErrorCode::JournalUnavailable => AgentProblem::JournalFailed,
            // The agent's own words: how long the note is, or that it has a control character.
            _ => AgentProblem::Other(message),
        };
        match pending {
            Pending::Sell => {
                if let Counter::Buyer { selling, .. } = &mut self.counter {
                    *selling = false;
                }
                if code == ErrorCode::StaleBuyer {
                    self.counter = Counter::Waiting;
                }
            }
            Pending::CheckManual { .. } => {
                if let Screen::Manual(form) = &mut self.screen {
                    form.checking = false;
                }
            }
            Pending::StockIn => {
                if let Screen::StockIn(form) = &mut self.screen {
                    form.saving = false;
                    form.confirming = false;
                }
            }
            // The form stays open with the text, to fix it and save again.
            Pending::Note => {
                if let Screen::Note(form) = &mut self.screen {
                    form.saving = false;
                }
            }
            _ => {}
        }
        self.notice = Some(Notice::Problem(problem));
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Counter(state) => self.apply_counter(state),
            Event::Card(notice) => self.apply_card_notice(notice),
            Event::Sync(sync) => self.sync = Some(sync),
            Event::Inventory(inv) => self.inventory = Some(inv),
            Event::Listing(state) => self.listing = Some(state),
            Event::Note(state) => self.note = Some(state),
            Event::SiteName { name } => self.site_name = Some(name),
            Event::SaleRecorded(_) | Event::Sale(_) | Event::Unknown => {}
        }
    }

    fn apply_card_notice(&mut self, notice: CardNotice) {
        match notice {
            CardNotice::ReaderAdded { reader } => {
                self.pcsc_down = false;
                self.readers.entry(reader).or_insert(false);
            }
            CardNotice::ReaderRemoved { reader } => {
                self.readers.remove(&reader);
            }
            CardNotice::CardInserted { reader } => {
                self.pcsc_down = false;
                self.readers.insert(reader, true);
            }
            CardNotice::CardRemoved { reader } => {
                self.readers.insert(reader, false);
            }
            CardNotice::CardError { problem, .. } => {
                self.pcsc_down = problem == CardProblem::ServiceNotRunning;
            }
            CardNotice::Unknown => {}
        }
    }

    /// Mirrors the agent's counter state, keeping what only the UI knows (the quantity being
    /// edited, a manual buyer, a sale just completed).
    fn apply_counter(&mut self, state: CounterState) {
        // A sale in flight owns the counter until its response arrives.
        if self.selling() {
            return;
        }
        match state {
            CounterState::Waiting => {
                // A manual buyer is the UI's own: the agent's "waiting" does not clear it.
                if !matches!(
                    self.counter,
                    Counter::Buyer {
                        who: BuyerRef::Manual { .. },
                        ..
                    }
                ) {
                    self.counter = Counter::Waiting;
                }
            }
            CounterState::Checking { .. } => {
                self.counter = Counter::Checking;
                self.sold_read = None;
                self.leave_inventory();
            }
            CounterState::Buyer {
                read,
                buyer,
                eligibility,
            } => {
                if self.sold_read == Some(read) {
                    return;
                }
                let same_read = matches!(
                    &self.counter,
                    Counter::Buyer { who: BuyerRef::Card(r), .. } if *r == read
                );
                let quantity = match &self.counter {
                    Counter::Buyer { quantity, .. } if same_read => {
                        (*quantity).min(eligibility.allowed)
                    }
                    _ => eligibility.allowed,
                };
                self.counter = Counter::Buyer {
                    who: BuyerRef::Card(read),
                    buyer,
                    eligibility,
                    quantity,
                    selling: false,
                };
                if !same_read {
                    self.clear_notice_keeping_demo();
                    self.leave_inventory();
                }
            }
            CounterState::CardError {
                problem,
                card_label,
                ..
            } => {
                self.counter = Counter::CardError {
                    problem,
                    card_label,
                };
                self.leave_inventory();
            }
            CounterState::Unknown => {}
        }
    }

    /// A new buyer replaces old messages, but not the demo's note of which card went in.
    fn clear_notice_keeping_demo(&mut self) {
        if !matches!(self.notice, Some(Notice::Demo(_))) {
            self.notice = None;
        }
    }

    /// A card at the counter brings the counter back from the inventory (forms keep their input).
    fn leave_inventory(&mut self) {
        if matches!(self.screen, Screen::Inventory | Screen::Attention) {
            self.screen = Screen::Counter;
        }
    }

    // ----- keys -----

    fn on_key(&mut self, key: KeyEvent) -> Vec<Intent> {
        if key.kind == KeyEventKind::Release {
            return Vec::new();
        }
        if key.modifiers.contains(KeyModifiers::CONTROL)
            && matches!(key.code, KeyCode::Char('c') | KeyCode::Char('q'))
        {
            self.quit = true;
            return vec![Intent::Quit];
        }
        if let Some(overlay) = self.overlay {
            return self.on_overlay_key(overlay, key);
        }
        match self.screen.clone() {
            Screen::Manual(form) => self.on_manual_key(form, key),
            Screen::StockIn(form) => self.on_stock_key(form, key),
            Screen::Note(form) => self.on_note_key(form, key),
            Screen::Counter | Screen::Inventory | Screen::Attention => self.on_main_key(key),
        }
    }

    fn on_overlay_key(&mut self, overlay: Overlay, key: KeyEvent) -> Vec<Intent> {
        match (overlay, key.code) {
            (Overlay::Help, KeyCode::Esc | KeyCode::Char('?') | KeyCode::F(1)) => {
                self.overlay = None;
            }
            (Overlay::Help, KeyCode::Char('q')) => {
                self.quit = true;
                return vec![Intent::Quit];
            }
            (Overlay::ConfirmListing { listed }, KeyCode::Char('x') | KeyCode::Char('X')) => {
                self.overlay = None;
                self.notice = Some(Notice::Info(Text::ListingSaving));
                return vec![self.request(RequestBody::SetListing { listed }, Pending::Listing)];
            }
            (Overlay::ConfirmListing { .. }, KeyCode::Esc | KeyCode::Char('n')) => {
                self.overlay = None;
            }
            _ => {}
        }
        Vec::new()
    }

    /// Keys of the counter and inventory screens (single letters, nothing is being typed).
    fn on_main_key(&mut self, key: KeyEvent) -> Vec<Intent> {
        // Any key acknowledges the message line; demo keys put their own result there.
        let demo_key = self.demo && matches!(key.code, KeyCode::Char('c') | KeyCode::Char('o'));
        if !demo_key {
            self.notice = None;
        }
        match key.code {
            KeyCode::Char('q') => {
                self.quit = true;
                vec![Intent::Quit]
            }
            KeyCode::Char('?') | KeyCode::F(1) => {
                self.overlay = Some(Overlay::Help);
                Vec::new()
            }
            KeyCode::Char('m') => {
                self.screen = Screen::Manual(ManualForm::default());
                Vec::new()
            }
            KeyCode::Char('s') => {
                self.screen = Screen::StockIn(StockForm::default());
                Vec::new()
            }
            KeyCode::Char('i') => {
                if self.screen == Screen::Inventory {
                    self.screen = Screen::Counter;
                    Vec::new()
                } else {
                    self.screen = Screen::Inventory;
                    self.not_connected_notice();
                    vec![self.request(RequestBody::Inventory, Pending::Inventory)]
                }
            }
            KeyCode::Char('a') => {
                if self.screen == Screen::Attention {
                    self.screen = Screen::Counter;
                    Vec::new()
                } else {
                    self.screen = Screen::Attention;
                    self.attention = None;
                    self.not_connected_notice();
                    vec![self.request(RequestBody::Attention, Pending::Attention)]
                }
            }
            KeyCode::Char('x') => {
                match &self.listing {
                    Some(l) => self.overlay = Some(Overlay::ConfirmListing { listed: !l.listed }),
                    None => self.notice = Some(self.unavailable_notice()),
                }
                Vec::new()
            }
            KeyCode::Char('n') => {
                match &self.note {
                    Some(note) => self.screen = Screen::Note(NoteForm::new(note.text.as_deref())),
                    None => self.notice = Some(self.unavailable_notice()),
                }
                Vec::new()
            }
            KeyCode::Char('c') if self.demo => vec![Intent::Demo(DemoAction::NextCard)],
            KeyCode::Char('o') if self.demo => vec![Intent::Demo(DemoAction::ToggleOnline)],
            KeyCode::Esc if matches!(self.screen, Screen::Inventory | Screen::Attention) => {
                self.screen = Screen::Counter;
                Vec::new()
            }
            _ if self.screen == Screen::Counter => self.on_counter_key(key),
            _ => Vec::new(),
        }
    }

    fn on_counter_key(&mut self, key: KeyEvent) -> Vec<Intent> {
        match key.code {
            KeyCode::Esc => self.clear_counter(),
            KeyCode::Enter => self.sell(),
            KeyCode::Char(d @ '0'..='9') => {
                self.set_quantity(|_| d.to_digit(10).unwrap_or(0));
                Vec::new()
            }
            KeyCode::Char('+') | KeyCode::Char('=') | KeyCode::Up | KeyCode::Right => {
                self.set_quantity(|q| q.saturating_add(1));
                Vec::new()
            }
            KeyCode::Char('-') | KeyCode::Down | KeyCode::Left => {
                self.set_quantity(|q| q.saturating_sub(1));
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn set_quantity(&mut self, f: impl Fn(u32) -> u32) {
        if let Counter::Buyer {
            eligibility,
            quantity,
            selling: false,
            ..
        } = &mut self.counter
        {
            if eligibility.allowed == 0 {
                return;
            }
            let wanted = f(*quantity);
            if wanted == 0 {
                self.notice = Some(Notice::Error(Text::ErrQuantityZero));
            } else if wanted > eligibility.allowed {
                self.notice = Some(Notice::Error(Text::ErrQuantityTooHigh));
            } else {
                *quantity = wanted;
            }
        }
    }

    fn clear_counter(&mut self) -> Vec<Intent> {
        if self.selling() {
            return Vec::new();
        }
        let was_card = matches!(
            self.counter,
            Counter::Buyer {
                who: BuyerRef::Card(_),
                ..
            } | Counter::CardError { .. }
        );
        self.counter = Counter::Waiting;
        if was_card && self.connected {
            vec![self.request(RequestBody::ClearCounter, Pending::Other)]
        } else {
            Vec::new()
        }
    }

    fn sell(&mut self) -> Vec<Intent> {
        let Counter::Buyer {
            who,
            eligibility,
            quantity,
            selling,
            ..
        } = &mut self.counter
        else {
            return Vec::new();
        };
        if *selling || eligibility.allowed == 0 || *quantity == 0 {
            return Vec::new();
        }
        if !self.connected {
            self.not_connected_notice();
            return Vec::new();
        }
        *selling = true;
        let buyer = match who {
            BuyerRef::Card(read) => SellBuyer::Card { read: *read },
            BuyerRef::Manual { id_no, birth_date } => SellBuyer::Manual {
                id_no: id_no.clone(),
                birth_date: *birth_date,
            },
        };
        let quantity = *quantity;
        vec![self.request(RequestBody::Sell { buyer, quantity }, Pending::Sell)]
    }

    fn not_connected_notice(&mut self) {
        if !self.connected {
            self.notice = Some(self.unavailable_notice());
        }
    }

    /// "Agent unavailable", or, when a program squats on the agent's pipe, who it is.
    fn unavailable_notice(&self) -> Notice {
        match &self.not_the_agent {
            Some(impostor) => Notice::Problem(AgentProblem::NotTheAgent(impostor.clone())),
            None => Notice::Error(Text::ErrAgentUnavailable),
        }
    }

    fn on_manual_key(&mut self, mut form: ManualForm, key: KeyEvent) -> Vec<Intent> {
        self.notice = None;
        let mut out = Vec::new();
        match key.code {
            KeyCode::Esc => {
                self.screen = Screen::Counter;
                return out;
            }
            KeyCode::Tab | KeyCode::BackTab | KeyCode::Up | KeyCode::Down => form.toggle_focus(),
            KeyCode::Backspace => form.backspace(),
            KeyCode::Enter if !form.checking => match (form.id_check(), form.birth_date()) {
                (IdCheck::Valid(id), Ok(birth_date)) => {
                    if self.connected {
                        form.checking = true;
                        let id_no = id.as_str().to_owned();
                        out.push(self.request(
                            RequestBody::CheckEligibility {
                                id_no: id_no.clone(),
                                birth_date,
                            },
                            Pending::CheckManual { id_no, birth_date },
                        ));
                    } else {
                        self.notice = Some(self.unavailable_notice());
                    }
                }
                (IdCheck::Valid(_), Err(forms::BadBirthDate)) => {
                    form.birth_error = true;
                    form.focus = forms::ManualField::Birth;
                }
                // The live hint under the field already says what is wrong.
                (IdCheck::Problem(_), _) => form.focus = forms::ManualField::Id,
            },
            KeyCode::Char(c) if !form.checking => form.type_char(c),
            _ => {}
        }
        self.screen = Screen::Manual(form);
        out
    }

    /// The note form: every printable key is text (so `q`, `n`, `?` type themselves); Enter
    /// saves (an empty note clears it), Esc cancels.
    fn on_note_key(&mut self, mut form: NoteForm, key: KeyEvent) -> Vec<Intent> {
        self.notice = None;
        let mut out = Vec::new();
        if form.saving {
            return out;
        }
        match key.code {
            KeyCode::Esc => {
                self.screen = Screen::Counter;
                return out;
            }
            KeyCode::Backspace => form.backspace(),
            KeyCode::Enter => {
                if self.connected {
                    form.saving = true;
                    let text = form.text.clone();
                    out.push(self.request(RequestBody::SetNote { text }, Pending::Note));
                } else {
                    self.notice = Some(self.unavailable_notice());
                }
            }
            KeyCode::Char(c) => form.type_char(c),
            _ => {}
        }
        self.screen = Screen::Note(form);
        out
    }

    fn on_stock_key(&mut self, mut form: StockForm, key: KeyEvent) -> Vec<Intent> {
        self.notice = None;
        let mut out = Vec::new();
        if form.saving {
            return out;
        }
        if form.confirming {
            match key.code {
                KeyCode::Enter | KeyCode::Char('y') => {
                    form.saving = true;
                    self.not_connected_notice();
                    if self.connected {
                        out.push(
                            self.request(RequestBody::StockIn(form.to_form()), Pending::StockIn),
                        );
                    } else {
                        form.saving = false;
                        form.confirming = false;
                    }
                }
                KeyCode::Esc | KeyCode::Char('n') => form.confirming = false,
                _ => {}
            }
            self.screen = Screen::StockIn(form);
            return out;
        }
        match key.code {
            KeyCode::Esc => {
                self.screen = Screen::Counter;
                return out;
            }
            KeyCode::Tab | KeyCode::Down => form.next(),
            KeyCode::BackTab | KeyCode::Up => form.prev(),
            KeyCode::Backspace => form.backspace(),
            KeyCode::Enter => {
                if form.is_empty() {
                    form.empty_error = true;
                } else {
                    form.confirming = true;
                }
            }
            KeyCode::Char(c) => form.type_digit(c),
            _ => {}
        }
        self.screen = Screen::StockIn(form);
        out
    }
}

/// Helper for views: was this eligibility decided by the agent alone?
pub fn decided_offline(e: &EligibilityView) -> bool {
    e.decided == DecisionSource::Local
}

#[cfg(test)]
mod tests;
