//! Every word the terminal shows, in Traditional Chinese (default) and English.
//!
//! Views never hold strings: they ask this catalogue by key ([`Text`]) or by one of the
//! formatting functions below (for messages with numbers, dates or names in them). Keeping
//! the catalogue in one file makes it easy to check that both languages say the same thing.

use std::borrow::Cow;

use time::{Date, OffsetDateTime, UtcOffset, Weekday};

use mask_protocol::{BuyerKind, CardProblem, InventoryWarningCode, RefusalReason};

use crate::app::ReaderSummary;

/// Display language: the workspace's one type (`mask_cli::Language`), picked by its one rule.
pub use mask_cli::Language as Lang;

/// Fixed texts, looked up with [`Text::get`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)] // the variant names say what they hold; the texts are right below
pub enum Text {
    AppTitle,
    DemoBadge,
    DelistedBanner,
    // Counter
    InsertCard,
    InsertCardHint,
    Reading,
    Checking,
    LabelBuyer,
    LabelKind,
    LabelAllowed,
    LabelQuantity,
    LabelNextDate,
    LabelReason,
    LabelLastSale,
    LabelAmountDue,
    SourceCard,
    SourceManual,
    Adult,
    Child,
    Masks,
    QuantityHint,
    SellHint,
    ClearHint,
    RefusedTitle,
    OfflineDecision,
    Selling,
    NoNextDate,
    // Manual entry
    ManualTitle,
    ManualIdLabel,
    ManualBirthLabel,
    ManualBirthHint,
    ManualIdOk,
    ManualHelp,
    ManualChecking,
    // Stock-in
    StockTitle,
    StockReceivedAdult,
    StockReceivedChild,
    StockDamagedAdult,
    StockDamagedChild,
    StockHelp,
    StockConfirmTitle,
    StockConfirmHelp,
    StockSaving,
    StockSaved,
    // Inventory
    InventoryTitle,
    InventoryLoading,
    AttentionTitle,
    AttentionLoading,
    AttentionNone,
    AttentionHelp,
    ColKind,
    ColReceived,
    ColSold,
    ColDamaged,
    ColRemaining,
    ColCap,
    InventoryHelp,
    // Listing
    ConfirmDelistTitle,
    ConfirmDelistBody,
    ConfirmRelistTitle,
    ConfirmRelistBody,
    ConfirmListingHelp,
    Delisted,
    Relisted,
    ListingSaving,
    // Public note
    NoteTitle,
    NoteCurrent,
    NoteNone,
    NoteQueued,
    NoteSynced,
    NoteNeverSet,
    NoteNew,
    NotePublic,
    NoteHelp,
    NoteSaving,
    NoteSaved,
    NoteCleared,
    // Status bar
    AgentDisconnected,
    Online,
    Offline,
    TokenRefused,
    Connecting,
    Queued,
    LastSync,
    Never,
    Reader,
    Overruns,
    Attention,
    ClockSkew,
    // Help
    HelpTitle,
    HelpCounter,
    HelpForms,
    HelpDemo,
    HelpClose,
    KeySell,
    KeyClear,
    KeyQuantity,
    KeyManual,
    KeyStockIn,
    KeyInventory,
    KeySoldOut,
    KeyHelp,
    KeyQuit,
    KeyFormNext,
    KeyFormConfirm,
    KeyFormCancel,
    KeyDemoCard,
    KeyDemoOffline,
    // Short hints in the key bar
    HintSell,
    HintClear,
    HintManual,
    HintStock,
    HintInventory,
    HintAttention,
    HintSoldOut,
    HintRelist,
    HintNote,
    HintHelp,
    HintQuit,
    HintDemoCard,
    HintDemoOffline,
    HintBack,
    HintConfirm,
    HintNextField,
    // Errors not tied to a card
    ErrAgentUnavailable,
    ErrQuantityTooHigh,
    ErrQuantityZero,
    ErrBirthDate,
    ErrStockEmpty,
    ErrBusy,
}

impl Text {
    /// The text in `lang`.
    pub fn get(self, lang: Lang) -> &'static str {
        let (zh, en) = self.pair();
        match lang {
            Lang::ZhTw => zh,
            Lang::En => en,
        }
    }

    fn pair(self) -> (&'static str, &'static str) {
        use Text::*;
        match self {
            AppTitle => ("口罩實名制 櫃檯", "Mask rationing counter"),
            DemoBadge => ("示範模式", "DEMO"),
            DelistedBanner => (
                "已下架：本藥局不在開放資料中，地圖不會再導人過來（按 x 重新上架）",
                "SOLD OUT: this pharmacy is delisted from the open data (press x to relist)",
            ),
            InsertCard => ("請插入健保卡", "Insert the NHI card"),
            InsertCardHint => (
                "讀不到卡時按 m 手動輸入身分證號",
                "If the card cannot be read, press m to type the ID number",
            ),
            Reading => ("讀卡中，請勿拔卡…", "Reading the card, do not remove it..."),
            Checking => ("查詢購買資格中…", "Checking eligibility..."),
            LabelBuyer => ("購買人", "Buyer"),
            LabelKind => ("身分", "Category"),
            LabelAllowed => ("可購買", "Allowed"),
            LabelQuantity => ("本次數量", "Quantity"),
            LabelNextDate => ("下次可購買", "Next purchase"),
            LabelReason => ("原因", "Reason"),
            LabelLastSale => ("上一筆：", "Last sale: "),
            LabelAmountDue => ("應收", "To collect"),
            SourceCard => ("健保卡", "NHI card"),
            SourceManual => ("手動輸入", "typed in"),
            Adult => ("成人", "adult"),
            Child => ("兒童", "child"),
            Masks => ("片", "masks"),
            QuantityHint => (
                "數字鍵直接輸入，+ / - 增減",
                "type a digit, or + / - to change",
            ),
            SellHint => ("Enter 售出", "Enter sell"),
            ClearHint => ("Esc 清除", "Esc clear"),
            RefusedTitle => ("不可購買", "Cannot buy now"),
            OfflineDecision => (
                "離線判斷：連不上中央系統，由本機依規則判斷，恢復連線後自動上傳",
                "Offline decision: server unreachable, decided locally; uploads when back online",
            ),
            Selling => ("記錄中…", "Recording the sale..."),
            NoNextDate => ("—", "-"),
            ManualTitle => ("手動輸入身分證號", "Manual ID entry"),
            ManualIdLabel => ("身分證號", "ID number"),
            ManualBirthLabel => ("出生日期", "Birth date"),
            ManualBirthHint => (
                "選填，西元年月日 8 碼，例 20150301（兒童須填）",
                "optional, 8 digits YYYYMMDD, e.g. 20150301 (needed for a child)",
            ),
            ManualIdOk => ("格式正確", "valid"),
            ManualHelp => (
                "Tab 切換欄位　Enter 查詢資格　Esc 取消",
                "Tab next field   Enter check   Esc cancel",
            ),
            ManualChecking => ("查詢購買資格中…", "Checking eligibility..."),
            StockTitle => ("進貨登錄（今日到貨）", "Stock-in (today's delivery)"),
            StockReceivedAdult => ("成人 到貨", "Adult received"),
            StockReceivedChild => ("兒童 到貨", "Child received"),
            StockDamagedAdult => ("成人 破損", "Adult damaged"),
            StockDamagedChild => ("兒童 破損", "Child damaged"),
            StockHelp => (
                "數字輸入　Tab/↓ 下一欄　↑ 上一欄　Enter 確認　Esc 取消",
                "digits   Tab/Down next   Up previous   Enter confirm   Esc cancel",
            ),
            StockConfirmTitle => ("確認進貨？", "Confirm stock-in?"),
            StockConfirmHelp => ("Enter 確認送出　Esc 返回修改", "Enter save   Esc go back"),
            StockSaving => ("儲存中…", "Saving..."),
            StockSaved => ("進貨已登錄", "Stock-in saved"),
            InventoryTitle => ("今日庫存", "Today's inventory"),
            InventoryLoading => ("讀取庫存中…", "Loading inventory..."),
            AttentionTitle => ("待處理紀錄", "Records that need attention"),
            AttentionLoading => ("讀取待處理紀錄中…", "Loading records..."),
            AttentionNone => ("沒有待處理紀錄。", "No record needs attention."),
            AttentionHelp => (
                "中央伺服器不接受這些紀錄：它們仍計入本店的購買紀錄與庫存，不會擋住其他紀錄上傳。請通知資訊人員處理（mask-agent journal export 可匯出）。",
                "The central server would not take these records: they still count in this pharmacy's purchases and stock and never hold back other records. Tell IT (mask-agent journal export lists them).",
            ),
            ColKind => ("類別", "Kind"),
            ColReceived => ("到貨", "Received"),
            ColSold => ("已售", "Sold"),
            ColDamaged => ("破損", "Damaged"),
            ColRemaining => ("剩餘", "Remaining"),
            ColCap => ("每日配額", "Daily cap"),
            InventoryHelp => ("Esc 返回櫃檯　s 進貨", "Esc back to counter   s stock-in"),
            ConfirmDelistTitle => ("一鍵下架", "Sold out: delist"),
            ConfirmDelistBody => (
                "號碼牌已發完？下架後本藥局從開放資料移除，地圖 App 不再導人過來。",
                "All queue tickets handed out? Delisting removes this pharmacy from the open data.",
            ),
            ConfirmRelistTitle => ("重新上架", "Relist"),
            ConfirmRelistBody => (
                "重新上架後本藥局會再出現在開放資料中。",
                "Relisting puts this pharmacy back into the open data.",
            ),
            ConfirmListingHelp => (
                "再按 x 確認　Esc 取消",
                "press x again to confirm   Esc cancel",
            ),
            Delisted => ("已下架", "Delisted"),
            Relisted => ("已重新上架", "Relisted"),
            ListingSaving => ("更新上架狀態中…", "Updating listing..."),
            NoteTitle => (
                "公開告示（口罩查詢網頁上顯示）",
                "Public note (shown on the stock page)",
            ),
            NoteCurrent => ("目前告示", "Now"),
            NoteNone => ("（沒有告示）", "(no note)"),
            NoteQueued => (
                "尚未上傳，連線後自動送出",
                "not uploaded yet; sent when online",
            ),
            NoteSynced => (
                "已上傳，下次更新時出現在網頁",
                "uploaded; on the page at the next refresh",
            ),
            NoteNeverSet => ("從未設定", "never set"),
            NoteNew => ("新告示", "New note"),
            NotePublic => (
                "例：號碼牌 09:00 發放。民眾在口罩查詢網頁上會看到，請勿寫個人資料。",
                "E.g. 號碼牌 09:00 發放 (tickets from 09:00). Anyone can read it on the stock page: no personal data.",
            ),
            NoteHelp => (
                "Enter 儲存（清空後儲存即移除告示）　Esc 取消",
                "Enter save (save it empty to remove the note)   Esc cancel",
            ),
            NoteSaving => ("儲存中…", "Saving..."),
            NoteSaved => ("告示已儲存", "Public note saved"),
            NoteCleared => ("告示已移除", "Public note removed"),
            AgentDisconnected => ("未連上本機服務", "agent not connected"),
            Online => ("連線", "online"),
            Offline => ("離線", "OFFLINE"),
            TokenRefused => (
                "憑證遭拒 請聯絡中央服務台",
                "TOKEN REFUSED: call the helpdesk",
            ),
            Connecting => ("連線確認中", "checking link"),
            Queued => ("待上傳", "queued"),
            LastSync => ("上次同步", "last sync"),
            Never => ("尚未", "never"),
            Reader => ("讀卡機", "reader"),
            Overruns => ("超量待查", "overruns"),
            Attention => ("待處理紀錄", "need attention"),
            ClockSkew => ("電腦時鐘誤差", "PC clock off by"),
            HelpTitle => ("按鍵說明", "Keys"),
            HelpCounter => ("櫃檯", "Counter"),
            HelpForms => ("表單（手動輸入、進貨）", "Forms (manual entry, stock-in)"),
            HelpDemo => ("示範模式", "Demo"),
            HelpClose => ("按 Esc 或 ? 關閉", "Esc or ? closes"),
            KeySell => (
                "售出（數量已預設為可購買上限）",
                "sell (quantity preset to the maximum)",
            ),
            KeyClear => ("清除，回到等待插卡", "clear, back to waiting"),
            KeyQuantity => ("設定數量（+ / - 增減）", "set quantity (+ / - to change)"),
            KeyManual => ("手動輸入身分證號", "manual ID entry"),
            KeyStockIn => ("進貨登錄", "stock-in"),
            KeyInventory => (
                "今日庫存 / 待處理紀錄",
                "today's inventory / records needing attention",
            ),
            KeySoldOut => (
                "一鍵下架／重新上架 / 公開告示",
                "sold out: delist / relist / public note",
            ),
            KeyHelp => ("顯示／關閉說明", "show / hide this help"),
            KeyQuit => ("離開", "quit"),
            KeyFormNext => ("下一欄／上一欄", "next / previous field"),
            KeyFormConfirm => ("送出", "submit"),
            KeyFormCancel => ("取消，回到櫃檯", "cancel, back to counter"),
            KeyDemoCard => (
                "插入下一張示範卡（成人、兒童、不可購買、故障卡…）",
                "insert the next demo card (adult, child, refused, faulty...)",
            ),
            KeyDemoOffline => (
                "切換離線／連線（真的中斷與伺服器的連線）",
                "toggle offline / online (really cuts the server link)",
            ),
            HintSell => ("售出", "sell"),
            HintClear => ("清除", "clear"),
            HintManual => ("手動", "manual"),
            HintStock => ("進貨", "stock"),
            HintInventory => ("庫存", "inventory"),
            HintAttention => ("待處理", "attention"),
            HintSoldOut => ("下架", "sold out"),
            HintRelist => ("上架", "relist"),
            HintNote => ("告示", "note"),
            HintHelp => ("說明", "help"),
            HintQuit => ("離開", "quit"),
            HintDemoCard => ("插卡", "card"),
            HintDemoOffline => ("斷線", "offline"),
            HintBack => ("返回", "back"),
            HintConfirm => ("確認", "confirm"),
            HintNextField => ("下一欄", "next"),
            ErrAgentUnavailable => (
                "連不上本機服務 mask-agent：請確認服務已啟動（mask-agent run），畫面會自動重連",
                "Cannot reach the local agent: check that mask-agent is running; reconnecting",
            ),
            ErrQuantityTooHigh => ("超過可購買數量", "More than the allowed quantity"),
            ErrQuantityZero => ("數量至少 1 片", "Quantity must be at least 1"),
            ErrBirthDate => (
                "出生日期不正確：請輸入西元年月日 8 碼，例 20150301",
                "Birth date is not valid: type 8 digits YYYYMMDD, e.g. 20150301",
            ),
            ErrStockEmpty => ("請至少輸入一個數量", "Enter at least one count"),
            ErrBusy => ("處理中，請稍候", "Busy, please wait"),
        }
    }
}

/// "成人" / "adult".
pub fn kind(lang: Lang, kind: BuyerKind) -> &'static str {
    match kind {
        BuyerKind::Adult => Text::Adult.get(lang),
        BuyerKind::Child => Text::Child.get(lang),
    }
}

/// "（健保卡）" / "(NHI card)": full-width brackets belong to Chinese text only.
pub fn parenthesised(lang: Lang, s: &str) -> String {
    match lang {
        Lang::ZhTw => format!("（{s}）"),
        Lang::En => format!("({s})"),
    }
}

/// "3 片" / "3 masks".
pub fn masks(lang: Lang, n: impl std::fmt::Display) -> String {
    format!("{n} {}", Text::Masks.get(lang))
}

/// A clock offset for the status bar: `+3 h 5 min`, `-15 d`, `+10 min`.
pub fn offset(lang: Lang, seconds: i64) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.unsigned_abs();
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    let (du, hu, mu) = match lang {
        Lang::ZhTw => ("天", "時", "分"),
        Lang::En => (" d", " h", " min"),
    };
    if d > 0 {
        format!("{sign}{d}{du}")
    } else if h > 0 {
        format!("{sign}{h}{hu}{m}{mu}")
    } else {
        format!("{sign}{m}{mu}")
    }
}

/// A refusal reason in a pharmacist's words.
pub fn refusal(lang: Lang, r: &RefusalReason) -> String {
    let s = match (r, lang) {
        (RefusalReason::Weekday, Lang::ZhTw) => {
            "今天不是此身分證號尾數的購買日（單號一三五、雙號二四六）"
        }
        (RefusalReason::Weekday, Lang::En) => {
            "Not this ID's day (last digit odd: Mon/Wed/Fri, even: Tue/Thu/Sat)"
        }
        // The quantity of the window is used up (DOMAIN.md §2, `mask_api::RefusalReason::Window`),
        // in the same words as the agent's own catalogue: not "too few days since the last
        // purchase", which a buyer who bought less than the quantity would read wrongly.
        (RefusalReason::Window, Lang::ZhTw) => "本期已購買額度用完",
        (RefusalReason::Window, Lang::En) => "The quantity of this purchase window is used up",
        (RefusalReason::Closed, Lang::ZhTw) => "今天不販售口罩",
        (RefusalReason::Closed, Lang::En) => "No mask sales today",
        (RefusalReason::Hours, Lang::ZhTw) => "不在販售時段內",
        (RefusalReason::Hours, Lang::En) => "Outside the sales hours",
        (RefusalReason::NotStarted, Lang::ZhTw) => "實名制尚未開始，沒有生效的配售規則",
        (RefusalReason::NotStarted, Lang::En) => "Rationing has not started: no rule in force",
        (RefusalReason::Quota, Lang::ZhTw) => "數量超過可購買上限",
        (RefusalReason::Quota, Lang::En) => "More than the allowed quantity",
        (RefusalReason::OfflineLimit, Lang::ZhTw) => {
            "離線販售已達上限（離線時數或今日配額），請待恢復連線後再販售"
        }
        (RefusalReason::OfflineLimit, Lang::En) => {
            "Offline selling limit reached (hours offline or today's allocation); sell again once back online"
        }
        (RefusalReason::TokenRefused, Lang::ZhTw) => {
            "中央伺服器拒絕本藥局的憑證，請聯絡中央服務台（暫停販售）"
        }
        (RefusalReason::TokenRefused, Lang::En) => {
            "The central server refuses this pharmacy's token: call the central helpdesk (selling stopped)"
        }
        (RefusalReason::ServerRefused, Lang::ZhTw) => "中央伺服器拒絕此查詢，請檢查身分資料",
        (RefusalReason::ServerRefused, Lang::En) => {
            "The central server refused this check; verify the buyer's details"
        }
        (RefusalReason::Other(code), Lang::ZhTw) => return format!("不可購買（代碼 {code}）"),
        (RefusalReason::Other(code), Lang::En) => return format!("Refused (code {code})"),
    };
    s.to_owned()
}

/// A card fault: (what happened, what to do). A foreign card that named itself (`label`, its
/// application label such as `VISA DEBIT`) is named, so the pharmacist can tell the buyer what
/// they handed over.
pub fn card_problem(
    lang: Lang,
    f: CardProblem,
    label: Option<&str>,
) -> (Cow<'static, str>, &'static str) {
    let (what, todo) = card_problem_words(lang, f);
    let what = match (f, label, lang) {
        (CardProblem::NotNhiCard, Some(label), Lang::ZhTw) => {
            Cow::Owned(format!("這不是健保卡（插入的是「{label}」）"))
        }
        (CardProblem::NotNhiCard, Some(label), Lang::En) => Cow::Owned(format!(
            "This is not an NHI card (the card inserted is \"{label}\")"
        )),
        _ => Cow::Borrowed(what),
    };
    (what, todo)
}

fn card_problem_words(lang: Lang, f: CardProblem) -> (&'static str, &'static str) {
    match (f, lang) {
        (CardProblem::NotNhiCard, Lang::ZhTw) => (
            "這不是健保卡",
            "請改插健保卡；沒有健保卡時按 m 手動輸入身分證號",
        ),
        (CardProblem::NotNhiCard, Lang::En) => (
            "This is not an NHI card",
            "Insert the buyer's NHI card, or press m to type the ID number",
        ),
        (CardProblem::HealthProfessionalCard, Lang::ZhTw) => (
            "這是醫事人員卡，不是民眾的健保卡",
            "請取出，改插購買人的健保卡",
        ),
        (CardProblem::HealthProfessionalCard, Lang::En) => (
            "This is a health-professional card, not a buyer's card",
            "Take it out and insert the buyer's NHI card",
        ),
        (CardProblem::RemovedTooEarly, Lang::ZhTw) => (
            "卡片太早拔出，沒有讀完",
            "請重新插入健保卡，待畫面顯示購買人後再拔卡",
        ),
        (CardProblem::RemovedTooEarly, Lang::En) => (
            "The card was removed before it was read",
            "Insert it again and wait until the buyer is shown",
        ),
        (CardProblem::Unreadable, Lang::ZhTw) => (
            "讀不到這張卡（晶片髒污或插反）",
            "請確認晶片朝上插好再試一次；仍不行時按 m 手動輸入身分證號",
        ),
        (CardProblem::Unreadable, Lang::En) => (
            "The card cannot be read (dirty chip or inserted upside down)",
            "Reinsert it chip up; if it still fails, press m to type the ID number",
        ),
        (CardProblem::ReaderUnplugged, Lang::ZhTw) => (
            "讀卡機已拔除",
            "請重新接上讀卡機；也可按 m 手動輸入身分證號",
        ),
        (CardProblem::ReaderUnplugged, Lang::En) => (
            "The card reader was unplugged",
            "Plug the reader back in, or press m to type the ID number",
        ),
        (CardProblem::ServiceNotRunning, Lang::ZhTw) => (
            "電腦的讀卡服務（PC/SC）沒有執行",
            "請通知資訊人員重新啟動讀卡服務；先按 m 手動輸入身分證號",
        ),
        (CardProblem::ServiceNotRunning, Lang::En) => (
            "The PC/SC smart-card service is not running",
            "Ask IT to restart the smart-card service; press m to type the ID number meanwhile",
        ),
        (CardProblem::Unknown, Lang::ZhTw) => (
            "無法使用這張卡",
            "請重新插卡；仍不行時按 m 手動輸入身分證號",
        ),
        (CardProblem::Unknown, Lang::En) => (
            "This card cannot be used",
            "Insert it again; if it still fails, press m to type the ID number",
        ),
    }
}

/// Reader state for the status bar.
pub fn reader_state(lang: Lang, r: ReaderSummary) -> &'static str {
    match (r, lang) {
        (ReaderSummary::Unknown, Lang::ZhTw) => "未知",
        (ReaderSummary::Unknown, Lang::En) => "unknown",
        (ReaderSummary::NoReader, Lang::ZhTw) => "未接上",
        (ReaderSummary::NoReader, Lang::En) => "none",
        (ReaderSummary::Ready, Lang::ZhTw) => "就緒",
        (ReaderSummary::Ready, Lang::En) => "ready",
        (ReaderSummary::CardPresent, Lang::ZhTw) => "有卡",
        (ReaderSummary::CardPresent, Lang::En) => "card in",
        (ReaderSummary::ServiceDown, Lang::ZhTw) => "服務停止",
        (ReaderSummary::ServiceDown, Lang::En) => "service down",
    }
}

/// Why a typed ID number is not (yet) valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdProblem {
    /// Nothing typed.
    Empty,
    /// Still too short; how many characters are missing.
    Incomplete(usize),
    /// More than 10 characters.
    TooLong,
    /// First character is not a letter A-Z.
    FirstLetter,
    /// Second character is not 1, 2, 8, 9 or A-D.
    SecondChar,
    /// Characters 3-10 must be digits.
    NotDigits,
    /// The check digit does not match: a typing mistake.
    Checksum,
}

/// The reason a typed ID is not valid, with what to do.
pub fn id_problem(lang: Lang, p: IdProblem) -> String {
    match (p, lang) {
        (IdProblem::Empty, Lang::ZhTw) => "請輸入身分證號（1 個英文字母 + 9 碼）".into(),
        (IdProblem::Empty, Lang::En) => "Type the ID number (1 letter + 9 characters)".into(),
        (IdProblem::Incomplete(n), Lang::ZhTw) => format!("還差 {n} 碼"),
        (IdProblem::Incomplete(n), Lang::En) => format!("{n} more to go"),
        (IdProblem::TooLong, Lang::ZhTw) => "太長：身分證號共 10 碼".into(),
        (IdProblem::TooLong, Lang::En) => "Too long: an ID number has 10 characters".into(),
        (IdProblem::FirstLetter, Lang::ZhTw) => "第 1 碼須為英文字母".into(),
        (IdProblem::FirstLetter, Lang::En) => "The first character must be a letter".into(),
        (IdProblem::SecondChar, Lang::ZhTw) => {
            "第 2 碼須為 1、2（國民）或 8、9、A–D（居留證）".into()
        }
        (IdProblem::SecondChar, Lang::En) => {
            "The second character must be 1 or 2 (citizen), 8, 9 or A-D (resident)".into()
        }
        (IdProblem::NotDigits, Lang::ZhTw) => "第 3 到 10 碼須為數字".into(),
        (IdProblem::NotDigits, Lang::En) => "Characters 3 to 10 must be digits".into(),
        (IdProblem::Checksum, Lang::ZhTw) => "檢查碼不符，可能打錯字，請對照證件重新輸入".into(),
        (IdProblem::Checksum, Lang::En) => {
            "Check digit does not match: probably a typo, compare with the card".into()
        }
    }
}

/// Errors the agent reports for a request, as the UI knows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgentProblem {
    /// The sale was refused (e.g. the quota changed since the check).
    Refused(RefusalReason),
    /// The journal could not be written (disk full, ...): the sale is NOT done.
    JournalFailed,
    /// The agent rejected the ID number.
    InvalidId,
    /// No buyer at the counter any more (card removed, cleared elsewhere).
    NoBuyer,
    /// The connection to the agent was lost while waiting.
    Disconnected,
    /// This account may not use the agent: what IT must do (wording shared with `mask-agent`).
    AccessDenied(mask_protocol::AccessDenied),
    /// Windows: the agent's pipe is held by another program; nothing was sent.
    NotTheAgent(mask_pipe_guard::NotTheAgent),
    /// Something else, with the agent's own (already localised or technical) detail.
    Other(String),
}

/// An agent error in a pharmacist's words.
pub fn agent_problem(lang: Lang, p: &AgentProblem) -> String {
    match (p, lang) {
        (AgentProblem::Refused(r), _) => refusal(lang, r),
        (AgentProblem::JournalFailed, Lang::ZhTw) => {
            "未售出：無法寫入銷售紀錄（磁碟已滿？）請通知資訊人員".into()
        }
        (AgentProblem::JournalFailed, Lang::En) => {
            "NOT sold: the sale could not be saved (disk full?). Call IT".into()
        }
        (AgentProblem::InvalidId, Lang::ZhTw) => "身分證號不正確，請重新輸入".into(),
        (AgentProblem::InvalidId, Lang::En) => "The ID number is not valid, type it again".into(),
        (AgentProblem::NoBuyer, Lang::ZhTw) => "沒有待售的購買人，請重新插卡".into(),
        (AgentProblem::NoBuyer, Lang::En) => {
            "No buyer at the counter; insert the card again".into()
        }
        (AgentProblem::Disconnected, Lang::ZhTw) => {
            "與本機服務的連線中斷，結果未知：請按 i 查看庫存確認是否已售出".into()
        }
        (AgentProblem::Disconnected, Lang::En) => {
            "Lost the agent connection; result unknown: press i to check the inventory".into()
        }
        // The status line has room for the problem; the counter pane shows what to do.
        (AgentProblem::AccessDenied(denied), _) => access_denied(lang, denied).0,
        (AgentProblem::NotTheAgent(n), Lang::ZhTw) => format!(
            "已拒絕連線：本機服務的連線管道被其他程式佔用（{}，PID {}），不是已安裝的口罩代理服務，未傳送任何資料。請立即通知資訊人員檢查這台電腦",
            n.image.as_deref().unwrap_or("無法讀取程式路徑"),
            n.pid
        ),
        (AgentProblem::NotTheAgent(n), Lang::En) => format!(
            "Refused: the agent's pipe is held by another program ({}, PID {}), not the installed mask agent; nothing was sent. Call IT to check this PC now",
            n.image.as_deref().unwrap_or("path unreadable"),
            n.pid
        ),
        (AgentProblem::Other(detail), Lang::ZhTw) => format!("本機服務回報錯誤：{detail}"),
        (AgentProblem::Other(detail), Lang::En) => format!("Agent error: {detail}"),
    }
}

/// An account outside the access group: (the problem, what IT must do), worded in
/// `mask_protocol::AccessDenied` (shared with `mask-agent`'s commands).
pub fn access_denied(lang: Lang, denied: &mask_protocol::AccessDenied) -> (String, String) {
    match lang {
        Lang::ZhTw => denied.zh_tw_parts(),
        Lang::En => denied.en_parts(),
    }
}

/// "已售出 3 片（成人）給 王○明" / "Sold 3 adult masks to 王○明".
pub fn sold_line(lang: Lang, qty: u32, k: BuyerKind, who: &str, offline: bool) -> String {
    let base = match lang {
        Lang::ZhTw => format!("已售出 {qty} 片（{}）給 {who}", kind(lang, k)),
        Lang::En => format!("Sold {qty} {} masks to {who}", kind(lang, k)),
    };
    if offline {
        match lang {
            Lang::ZhTw => format!("{base}，離線記錄待上傳"),
            Lang::En => format!("{base}, recorded offline, queued"),
        }
    } else {
        base
    }
}

/// "售出 3 片" / "sell 3" for the sell key hint.
pub fn sell_action(lang: Lang, qty: u32) -> String {
    match lang {
        Lang::ZhTw => format!("Enter 售出 {qty} 片"),
        Lang::En => format!("Enter sell {qty}"),
    }
}

/// A date with its weekday, e.g. "2020-03-16（一）" / "Mon 2020-03-16".
pub fn date(lang: Lang, d: Date) -> String {
    let iso = format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day());
    match lang {
        Lang::ZhTw => {
            let w = match d.weekday() {
                Weekday::Monday => "一",
                Weekday::Tuesday => "二",
                Weekday::Wednesday => "三",
                Weekday::Thursday => "四",
                Weekday::Friday => "五",
                Weekday::Saturday => "六",
                Weekday::Sunday => "日",
            };
            format!("{iso}（{w}）")
        }
        Lang::En => {
            let w = match d.weekday() {
                Weekday::Monday => "Mon",
                Weekday::Tuesday => "Tue",
                Weekday::Wednesday => "Wed",
                Weekday::Thursday => "Thu",
                Weekday::Friday => "Fri",
                Weekday::Saturday => "Sat",
                Weekday::Sunday => "Sun",
            };
            format!("{w} {iso}")
        }
    }
}

/// "12 / 40 字" under the note field.
pub fn note_count(lang: Lang, chars: usize) -> String {
    let max = mask_protocol::PUBLIC_NOTE_MAX_CHARS;
    match lang {
        Lang::ZhTw => format!("{chars} / {max} 字"),
        Lang::En => format!("{chars} / {max} characters"),
    }
}

/// A record that needs attention, as one line of the list: when (Taiwan time), what, whose
/// (masked ID), how many, and why the server would not take it.
pub fn attention_line(lang: Lang, r: &mask_protocol::AttentionRecord) -> String {
    let taipei = UtcOffset::from_hms(8, 0, 0).unwrap_or(UtcOffset::UTC);
    let t = r.at.to_offset(taipei);
    let when = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    );
    let what = match (lang, r.kind.as_str()) {
        (Lang::ZhTw, "sale") => "銷售",
        (Lang::ZhTw, "stock_in") => "進貨",
        (Lang::ZhTw, "note") => "公開告示",
        (Lang::ZhTw, _) => "上下架",
        (Lang::En, "sale") => "sale",
        (Lang::En, "stock_in") => "stock-in",
        (Lang::En, "note") => "public note",
        (Lang::En, _) => "listing",
    };
    let mut parts = vec![when, what.to_owned()];
    parts.extend(r.id_masked.clone());
    parts.extend(r.quantity.map(|q| match lang {
        Lang::ZhTw => format!("{q} 片"),
        Lang::En => format!("{q} masks"),
    }));
    parts.push(attention_reason(lang, &r.reason));
    parts.join("  ")
}

/// Why the server would not take a record, from its problem code (the code itself when unknown,
/// so IT can look it up).
pub fn attention_reason(lang: Lang, code: &str) -> String {
    let known = match code {
        "sale_time_too_old" => Some(("銷售時間過舊", "sale time too old")),
        "sale_time_in_future" => Some((
            "銷售時間在未來（電腦時鐘？）",
            "sale time in the future (PC clock?)",
        )),
        "kind_mismatch" => Some((
            "成人/兒童別與出生日期不符",
            "adult/child does not match the birth date",
        )),
        "idempotency_conflict" => Some((
            "同一編號的紀錄內容不同",
            "same record id, different content",
        )),
        "invalid_id_number" => Some(("身分證號無效", "invalid ID number")),
        "invalid_quantity" => Some(("數量無效", "invalid quantity")),
        "invalid_body" | "malformed_json" => Some(("資料格式錯誤", "malformed record")),
        "unknown_site" => Some(("藥局代碼未登記", "pharmacy code not registered")),
        _ => None,
    };
    match (known, lang) {
        (Some((zh, _)), Lang::ZhTw) => format!("{zh}（{code}）"),
        (Some((_, en)), Lang::En) => format!("{en} ({code})"),
        (None, Lang::ZhTw) => format!("伺服器拒收（{code}）"),
        (None, Lang::En) => format!("refused by the server ({code})"),
    }
}

/// A clock time in Taiwan (HH:MM:SS), for the status bar.
pub fn clock(t: OffsetDateTime) -> String {
    // Taiwan has used a fixed +08:00 offset since 1979; no tz database needed.
    let taipei = UtcOffset::from_hms(8, 0, 0).unwrap_or(UtcOffset::UTC);
    let t = t.to_offset(taipei);
    format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
}

/// An amount of money as the counter shows it: `NT$15` (the agent computes it).
pub fn ntd(amount: u32) -> String {
    format!("NT${amount}")
}

/// "應收 NT$15" / "To collect NT$15" (under the last sale).
pub fn amount_due(lang: Lang, amount: u32) -> String {
    format!("{} {}", Text::LabelAmountDue.get(lang), ntd(amount))
}

/// Today's sales at this pharmacy, for the counter's foot line.
pub fn today(lang: Lang, sales: u32, masks: u32) -> String {
    match lang {
        Lang::ZhTw => format!("今日已售 {sales} 筆，共 {masks} 片"),
        Lang::En => format!("Today: {sales} sales, {masks} masks"),
    }
}

/// A sales-cap or stock warning for one kind of mask.
pub fn stock_warning(lang: Lang, k: BuyerKind, code: &InventoryWarningCode) -> String {
    let other;
    let what = match (code, lang) {
        (InventoryWarningCode::CapNear, Lang::ZhTw) => "今日已售接近每日配售上限",
        (InventoryWarningCode::CapNear, Lang::En) => "sales today are near the daily cap",
        (InventoryWarningCode::CapReached, Lang::ZhTw) => "今日已達每日配售上限",
        (InventoryWarningCode::CapReached, Lang::En) => "the daily sales cap is reached",
        (InventoryWarningCode::StockLow, Lang::ZhTw) => "庫存即將售完，請準備下架",
        (InventoryWarningCode::StockLow, Lang::En) => "stock is running low, prepare to delist",
        (InventoryWarningCode::OutOfStock, Lang::ZhTw) => "已無庫存，請按 x 下架",
        (InventoryWarningCode::OutOfStock, Lang::En) => "out of stock, press x to delist",
        // A code from a newer agent: shown as it came, so it is not lost.
        (InventoryWarningCode::Other(code), Lang::ZhTw) => {
            other = format!("庫存警示（代碼 {code}）");
            &other
        }
        (InventoryWarningCode::Other(code), Lang::En) => {
            other = format!("stock warning (code {code})");
            &other
        }
    };
    match lang {
        Lang::ZhTw => format!("⚠ {}：{what}", kind(lang, k)),
        Lang::En => format!("⚠ {}: {what}", capitalised(kind(lang, k))),
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// Demo notice: which virtual card went in.
pub fn demo_inserted(lang: Lang, card: crate::app::DemoCard) -> String {
    use crate::app::DemoCard;
    let label = match (card, lang) {
        (DemoCard::AdultOdd, Lang::ZhTw) => "成人 王○明，尾數單號：今天可購買",
        (DemoCard::AdultOdd, Lang::En) => "adult 王○明, odd ID: may buy today",
        (DemoCard::AdultOdd2, Lang::ZhTw) => "成人 陳○強，尾數單號：今天可購買",
        (DemoCard::AdultOdd2, Lang::En) => "adult 陳○強, odd ID: may buy today",
        (DemoCard::AdultEven, Lang::ZhTw) => "成人 林○華，尾數雙號：週一不可購買",
        (DemoCard::AdultEven, Lang::En) => "adult 林○華, even ID: not on a Monday",
        (DemoCard::Child, Lang::ZhTw) => "兒童 吳○廷：兒童不受單雙號限制",
        (DemoCard::Child, Lang::En) => "child 吳○廷: children are exempt from odd/even",
        (DemoCard::HealthProfessional, Lang::ZhTw) => "醫事人員卡",
        (DemoCard::HealthProfessional, Lang::En) => "a health-professional card",
        (DemoCard::Pulled, Lang::ZhTw) => "讀卡途中被拔出的卡",
        (DemoCard::Pulled, Lang::En) => "a card pulled out mid-read",
        (DemoCard::Bank, Lang::ZhTw) => "金融卡（不是健保卡）",
        (DemoCard::Bank, Lang::En) => "a bank card (not an NHI card)",
        (DemoCard::Other, Lang::ZhTw) => "指定的測試卡",
        (DemoCard::Other, Lang::En) => "the chosen test card",
    };
    match lang {
        Lang::ZhTw => format!("示範：已插入{label}"),
        Lang::En => format!("Demo: inserted {label}"),
    }
}

/// Demo notice when the server link changes.
pub fn demo_link(lang: Lang, online: bool) -> &'static str {
    match (online, lang) {
        (true, Lang::ZhTw) => "示範：已恢復與中央伺服器的連線",
        (true, Lang::En) => "Demo: server link restored",
        (false, Lang::ZhTw) => "示範：已切斷與中央伺服器的連線（離線販售仍可進行）",
        (false, Lang::En) => "Demo: server link cut (selling continues offline)",
    }
}

/// Demo notice when a demo action failed.
pub fn demo_failed(lang: Lang, detail: &str) -> String {
    match lang {
        Lang::ZhTw => format!("示範操作失敗：{detail}"),
        Lang::En => format!("Demo action failed: {detail}"),
    }
}

/// Title bar text for the pharmacy.
pub fn pharmacy(lang: Lang, code: &str, name: &str) -> String {
    match lang {
        Lang::ZhTw => format!("藥局 {code} {name}"),
        Lang::En => format!("Pharmacy {code} {name}"),
    }
}

/// The terminal loop failed (the terminal itself, not the agent).
pub fn run_error(lang: Lang, e: &crate::run::RunError) -> String {
    match lang {
        Lang::ZhTw => format!("畫面無法啟動：{e}。請在一般終端機視窗中執行"),
        Lang::En => format!("The screen could not start: {e}. Run it in a normal terminal window"),
    }
}

/// `mask-terminal --demo`: the demo is its own program now (the counter binary links no test
/// rig); where to find it.
pub fn demo_moved(lang: Lang) -> &'static str {
    match lang {
        Lang::ZhTw => {
            "示範模式已移到另一個程式 mask-demo：請執行 scripts/demo.sh，或 target/release/mask-demo \
             （選項 --lang、--state-file、--cards、--as-of）"
        }
        Lang::En => {
            "The demo is its own program now, mask-demo: run scripts/demo.sh, or \
             target/release/mask-demo (options --lang, --state-file, --cards, --as-of)"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pipe_squatter_is_named_with_path_and_pid_and_it_is_told_to_call_it() {
        let squatter = mask_pipe_guard::NotTheAgent {
            pid: 4711,
            image: Some(r"C:\Users\Public\mask-agent.exe".into()),
        };
        let zh = agent_problem(Lang::ZhTw, &AgentProblem::NotTheAgent(squatter.clone()));
        assert!(zh.contains(r"C:\Users\Public\mask-agent.exe"), "{zh}");
        assert!(zh.contains("PID 4711") && zh.contains("資訊人員"), "{zh}");
        let en = agent_problem(Lang::En, &AgentProblem::NotTheAgent(squatter));
        assert!(en.contains("PID 4711") && en.contains("IT"), "{en}");
        let unreadable = mask_pipe_guard::NotTheAgent {
            pid: 9,
            image: None,
        };
        let zh = agent_problem(Lang::ZhTw, &AgentProblem::NotTheAgent(unreadable));
        assert!(zh.contains("無法讀取程式路徑"), "{zh}");
    }

    #[test]
    fn date_shows_weekday_in_both_languages() {
        let d = time::macros::date!(2020 - 03 - 16);
        assert_eq!(date(Lang::ZhTw, d), "2020-03-16（一）");
        assert_eq!(date(Lang::En, d), "Mon 2020-03-16");
    }
}

#[cfg(test)]
mod offset_tests {
    use super::*;

    #[test]
    fn clock_offsets_read_in_the_largest_unit() {
        assert_eq!(offset(Lang::En, -15 * 86_400), "-15 d");
        assert_eq!(offset(Lang::ZhTw, 3 * 3600 + 5 * 60), "+3時5分");
        assert_eq!(offset(Lang::En, 600), "+10 min");
    }
}
