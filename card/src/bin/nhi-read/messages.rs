//! Every user-facing text of `nhi-read`, in Traditional Chinese (default) and English.
//! Each failure says what went wrong, then what to do.

use std::io::Write;

use nhi_card::{CardErrorKind, Identity, ReadError, Sex};

/// Output language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// 繁體中文
    #[value(name = "zh-TW", alias = "zh")]
    ZhTw,
    /// English
    #[value(name = "en")]
    En,
}

impl Lang {
    /// From `LANG` / `LC_ALL` / `LC_MESSAGES`: English when they ask for it, else zh-TW.
    pub fn from_env() -> Lang {
        ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .filter_map(|k| std::env::var(k).ok())
            .find(|v| !v.is_empty())
            .map_or(Lang::ZhTw, |v| {
                if v.starts_with("en") {
                    Lang::En
                } else {
                    Lang::ZhTw
                }
            })
    }
}

/// A message in both languages.
struct Text {
    zh: &'static str,
    en: &'static str,
}

impl Text {
    fn pick(&self, lang: Lang) -> &'static str {
        match lang {
            Lang::ZhTw => self.zh,
            Lang::En => self.en,
        }
    }
}

macro_rules! text {
    ($zh:expr, $en:expr) => {
        Text { zh: $zh, en: $en }
    };
}

/// Shown on stderr while waiting (human mode only).
pub fn waiting(lang: Lang) -> &'static str {
    text!(
        "請將健保卡插入讀卡機……",
        "Insert an NHI card into the reader…"
    )
    .pick(lang)
}

/// Field labels of the readable summary.
pub fn labels(lang: Lang) -> [&'static str; 6] {
    match lang {
        Lang::ZhTw => ["卡號", "姓名", "身分證號", "出生日期", "性別", "發卡日期"],
        Lang::En => [
            "Card number",
            "Name",
            "ID number",
            "Birth date",
            "Sex",
            "Issue date",
        ],
    }
}

/// Sex as a word.
pub fn sex(lang: Lang, sex: Sex) -> &'static str {
    match sex {
        Sex::Male => text!("男", "male").pick(lang),
        Sex::Female => text!("女", "female").pick(lang),
    }
}

/// Prints a read card holder: one JSON object, or one `label: value` line a field. Every
/// personal field is masked (card number `0000****5678`, name `王○明`, ID number `A12****789`,
/// birth date `1990-**-**`) unless `show_pii`. Shared by `nhi-read` and `mask-agent card read`
/// so both print the same bytes.
pub fn write_identity(
    out: &mut impl Write,
    identity: &Identity,
    show_pii: bool,
    json: bool,
    lang: Lang,
) -> std::io::Result<()> {
    let masked = identity.masked_view();
    if json {
        if show_pii {
            serde_json::to_writer(&mut *out, identity)?;
        } else {
            serde_json::to_writer(&mut *out, &masked)?;
        }
        return writeln!(out);
    }
    let values = if show_pii {
        [
            identity.card_no.clone(),
            identity.name.clone(),
            identity.id_no.as_str().to_owned(),
            identity.birth_date.to_string(),
        ]
    } else {
        [masked.card_no, masked.name, masked.id_no, masked.birth_date]
    };
    let [card_no, name, id_no, birth_date] = values;
    let values = [
        card_no,
        name,
        id_no,
        birth_date,
        sex(lang, identity.sex).to_owned(),
        identity.issue_date.to_string(),
    ];
    for (label, value) in labels(lang).iter().zip(values) {
        writeln!(out, "{label}: {value}")?;
    }
    Ok(())
}

/// Problem and what to do, for a card error kind.
fn kind_text(kind: CardErrorKind) -> (Text, Text) {
    match kind {
        CardErrorKind::NotNhiCard => (
            text!("這不是健保卡。", "This is not an NHI card."),
            text!(
                "請改插購買人的健保卡（金融卡、信用卡不能使用）。",
                "Insert the buyer's NHI card (bank and credit cards cannot be used)."
            ),
        ),
        CardErrorKind::HealthProfessionalCard => (
            text!(
                "這是醫事人員卡，不是民眾的健保卡。",
                "This is a health-professional card, not a buyer's NHI card."
            ),
            text!(
                "請改插購買人自己的健保卡。",
                "Insert the buyer's own NHI card."
            ),
        ),
        CardErrorKind::RemovedTooEarly => (
            text!(
                "讀卡完成前健保卡被拔出。",
                "The card was removed before reading finished."
            ),
            text!(
                "請重新插入健保卡，讀取完成前不要拔出。",
                "Insert the card again and leave it in until it has been read."
            ),
        ),
        CardErrorKind::Unreadable => (
            text!(
                "無法讀取這張健保卡（卡片沒有回應或資料損壞）。",
                "This NHI card cannot be read (no answer or damaged data)."
            ),
            text!(
                "請確認晶片朝上插入；仍無法讀取時，請改用手動輸入身分證號。",
                "Check the chip faces up; if it still fails, enter the ID number manually."
            ),
        ),
        CardErrorKind::ReaderUnplugged => (
            text!("讀卡機已被拔除。", "The card reader was unplugged."),
            text!(
                "請重新接上讀卡機後再試一次。",
                "Plug the reader back in and try again."
            ),
        ),
        CardErrorKind::ServiceNotRunning => (
            text!(
                "智慧卡服務（PC/SC）沒有執行。",
                "The smart card service (PC/SC) is not running."
            ),
            text!(
                "請啟動 pcscd（Linux：sudo systemctl start pcscd）或 Windows 的「智慧卡」服務，接上讀卡機後再試。",
                "Start pcscd (Linux: sudo systemctl start pcscd) or the Windows \"Smart Card\" service, plug in a reader and try again."
            ),
        ),
        // CardErrorKind is non_exhaustive: a kind added later still gets a useful message.
        _ => (
            text!("讀卡失敗。", "Reading the card failed."),
            text!(
                "請重新插入健保卡，或改用手動輸入。",
                "Insert the card again, or use manual entry."
            ),
        ),
    }
}

/// The full stderr message for a failed read: problem, then what to do.
pub fn failure(lang: Lang, err: &ReadError) -> String {
    let (problem, hint) = match err.kind() {
        Some(kind) => {
            let (p, h) = kind_text(kind);
            let problem = match (err.card_label(), lang) {
                (Some(label), Lang::ZhTw) => format!("這不是健保卡（插入的是「{label}」）。"),
                (Some(label), Lang::En) => {
                    format!("This is not an NHI card (the card inserted is \"{label}\").")
                }
                (None, _) => p.pick(lang).to_owned(),
            };
            (problem, h.pick(lang))
        }
        None => other_failure(lang, err),
    };
    let detail = match lang {
        Lang::ZhTw => "詳細原因",
        Lang::En => "detail",
    };
    format!("{problem}\n{hint}\n({detail}: {err})")
}

fn other_failure(lang: Lang, err: &ReadError) -> (String, &'static str) {
    match err {
        ReadError::NoReader => (
            text!("找不到讀卡機。", "No card reader found.")
                .pick(lang)
                .to_owned(),
            text!(
                "請接上讀卡機；若已接上，請確認驅動程式已安裝、智慧卡服務正在執行。",
                "Plug in a card reader; if it is plugged in, check its driver and that the smart card service runs."
            )
            .pick(lang),
        ),
        ReadError::ReaderNotFound { name } => (
            match lang {
                Lang::ZhTw => format!("找不到名稱含「{name}」的讀卡機。"),
                Lang::En => format!("No card reader named \"{name}\"."),
            },
            text!(
                "請檢查 --reader 的名稱，或省略 --reader 使用任一台讀卡機。",
                "Check the --reader name, or leave --reader out to use any reader."
            )
            .pick(lang),
        ),
        ReadError::Timeout => (
            text!(
                "等待逾時，沒有插入健保卡。",
                "Timed out: no card was inserted."
            )
            .pick(lang)
            .to_owned(),
            text!(
                "請插入健保卡後再執行一次，或加長 --timeout。",
                "Insert a card and run again, or give a longer --timeout."
            )
            .pick(lang),
        ),
        _ => (
            text!("讀卡機發生錯誤。", "The card reader failed.")
                .pick(lang)
                .to_owned(),
            text!(
                "請重新插入健保卡；若持續發生，請重新接上讀卡機或重新啟動智慧卡服務。",
                "Insert the card again; if it keeps failing, replug the reader or restart the smart card service."
            )
            .pick(lang),
        ),
    }
}

/// A command-line mistake.
pub fn usage_error(lang: Lang, detail: &str) -> String {
    let hint = text!(
        "請執行 nhi-read --help 查看用法。",
        "Run nhi-read --help for usage."
    )
    .pick(lang);
    format!("{detail}\n{hint}")
}

/// Writing the result failed (e.g. stdout closed).
pub fn output_failed(lang: Lang) -> &'static str {
    text!("無法輸出讀卡結果。", "Cannot write the result.").pick(lang)
}
