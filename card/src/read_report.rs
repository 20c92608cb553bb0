//! What `nhi-read` and `mask-agent card read` do and say, in one place: wait for one card,
//! print the card holder (masked unless asked), say what went wrong and what to do, in Traditional
//! Chinese (default) or English, and return the exit code ([`mask_cli::exit`]). Both commands
//! parse [`ReadArgs`] and call [`ReadArgs::run`], so they print the same bytes and exit with the
//! same codes.

use std::io::Write;
use std::time::Duration;

use mask_cli::Language;
use mask_cli::exit;
use mask_cli::help::{BadValue, ZhHelp};

use crate::{CardErrorKind, Identity, ReadError, ReadOnceOptions, Sex, read_once};

/// What to print of the card holder.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Format {
    /// One JSON object instead of one `label: value` line a field.
    json: bool,
    /// The full card number, name, ID number and birth date (masked by default).
    show_pii: bool,
}

/// The command line of a card read, shared by `nhi-read` and `mask-agent card read` (flattened
/// into each one's clap parser).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ReadArgs {
    /// Print one JSON object instead of a readable summary.
    #[arg(long)]
    pub json: bool,
    /// Print the full card number, name, ID number and birth date (masked by default).
    #[arg(long)]
    pub show_pii: bool,
    /// Use only this reader (exact name, or text contained in its name).
    #[arg(long, value_name = "NAME")]
    pub reader: Option<String>,
    /// Give up after this many seconds without a card (default: wait indefinitely).
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub timeout: Option<Duration>,
}

impl ReadArgs {
    /// [`run`] with these arguments.
    pub fn run(&self, lang: Language) -> u8 {
        let options = ReadOnceOptions {
            reader: self.reader.clone(),
            timeout: self.timeout,
        };
        let format = Format {
            json: self.json,
            show_pii: self.show_pii,
        };
        run(&options, format, lang)
    }
}

/// Waits for one card as `options` say, prints the card holder on stdout as `format` says (and
/// while waiting, in readable mode, a prompt on stderr), or the failure on stderr: problem, what
/// to do, detail. Returns the exit code: [`exit::SUCCESS`], [`exit::CARD_REFUSED`] for a card
/// that is refused (not an NHI card, a health-professional card, removed too early,
/// unreadable), [`exit::FAILURE`] for anything else (no reader, timeout, PC/SC service down,
/// stdout closed).
fn run(options: &ReadOnceOptions, format: Format, lang: Language) -> u8 {
    if !format.json {
        eprintln!("{}", waiting(lang));
    }
    match read_once(options) {
        Ok(identity) => {
            let mut out = std::io::stdout().lock();
            match write_identity(&mut out, &identity, format, lang).and_then(|()| out.flush()) {
                Ok(()) => exit::SUCCESS,
                Err(_) => {
                    eprintln!("{}", output_failed(lang));
                    exit::FAILURE
                }
            }
        }
        Err(err) => {
            eprintln!("{}", failure(lang, &err));
            if err.is_card_refused() {
                exit::CARD_REFUSED
            } else {
                exit::FAILURE
            }
        }
    }
}

/// Parses `--timeout`: seconds, fractions allowed.
fn parse_secs(text: &str) -> Result<Duration, BadValue> {
    text.parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| BadValue {
            en: format!("not a number of seconds: {text}"),
            zh: "請填秒數，例如 30".to_owned(),
        })
}

/// [`ReadArgs`]' help in zh-TW (the English is on the fields), for `nhi-read` and
/// `mask-agent card read` ([`mask_cli::help`]).
pub const READ_ARGS_ZH: &ZhHelp = &[
    (":json", "輸出一個 JSON 物件，而不是易讀的摘要"),
    (
        ":show_pii",
        "顯示完整的卡號、姓名、身分證號與出生日期（預設遮蔽）",
    ),
    (
        ":reader",
        "只使用這台讀卡機（完整名稱，或名稱中的一段文字）",
    ),
    (":timeout", "等這麼多秒仍沒有插卡就放棄（預設：一直等）"),
];

/// A message in both languages.
struct Text {
    zh: &'static str,
    en: &'static str,
}

impl Text {
    fn pick(&self, lang: Language) -> &'static str {
        match lang {
            Language::ZhTw => self.zh,
            Language::En => self.en,
        }
    }
}

macro_rules! text {
    ($zh:expr, $en:expr) => {
        Text { zh: $zh, en: $en }
    };
}

/// Shown on stderr while waiting (human mode only).
fn waiting(lang: Language) -> &'static str {
    text!(
        "請將健保卡插入讀卡機……",
        "Insert an NHI card into the reader…"
    )
    .pick(lang)
}

/// Field labels of the readable summary.
fn labels(lang: Language) -> [&'static str; 6] {
    match lang {
        Language::ZhTw => ["卡號", "姓名", "身分證號", "出生日期", "性別", "發卡日期"],
        Language::En => [
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
fn sex(lang: Language, sex: Sex) -> &'static str {
    match sex {
        Sex::Male => text!("男", "male").pick(lang),
        Sex::Female => text!("女", "female").pick(lang),
    }
}

/// Prints a read card holder: one JSON object, or one `label: value` line a field. Every
/// personal field is masked (card number `0000****5678`, name `王○明`, ID number `A12****789`,
/// birth date `1990-**-**`) unless `show_pii`.
fn write_identity(
    out: &mut impl Write,
    identity: &Identity,
    Format { json, show_pii }: Format,
    lang: Language,
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
        // No `_` arm: inside this crate the match is exhaustive, so a kind added later does not
        // compile until it has its own message here.
    }
}

/// The full stderr message for a failed read: problem, then what to do.
fn failure(lang: Language, err: &ReadError) -> String {
    let (problem, hint) = match err.kind() {
        Some(kind) => {
            let (p, h) = kind_text(kind);
            let problem = match (err.card_label(), lang) {
                (Some(label), Language::ZhTw) => format!("這不是健保卡（插入的是「{label}」）。"),
                (Some(label), Language::En) => {
                    format!("This is not an NHI card (the card inserted is \"{label}\").")
                }
                (None, _) => p.pick(lang).to_owned(),
            };
            (problem, h.pick(lang))
        }
        None => other_failure(lang, err),
    };
    let detail = match lang {
        Language::ZhTw => "詳細原因",
        Language::En => "detail",
    };
    format!("{problem}\n{hint}\n({detail}: {err})")
}

fn other_failure(lang: Language, err: &ReadError) -> (String, &'static str) {
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
                Language::ZhTw => format!("找不到名稱含「{name}」的讀卡機。"),
                Language::En => format!("No card reader named \"{name}\"."),
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

/// Writing the result failed (e.g. stdout closed).
fn output_failed(lang: Language) -> &'static str {
    text!("無法輸出讀卡結果。", "Cannot write the result.").pick(lang)
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;
    use crate::IdNumber;

    fn identity() -> Identity {
        Identity {
            card_no: "000012345678".into(),
            name: "王小明".into(),
            id_no: IdNumber::parse("A123456789").unwrap(),
            birth_date: date!(1990 - 01 - 01),
            sex: Sex::Male,
            issue_date: date!(2020 - 01 - 01),
        }
    }

    fn printed(format: Format, lang: Language) -> String {
        let mut out = Vec::new();
        write_identity(&mut out, &identity(), format, lang).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_summary_is_masked_unless_asked_in_both_languages() {
        assert_eq!(
            printed(Format::default(), Language::ZhTw),
            "卡號: 0000****5678\n姓名: 王○明\n身分證號: A12****789\n出生日期: 1990-**-**\n\
             性別: 男\n發卡日期: 2020-01-01\n"
        );
        assert_eq!(
            printed(Format::default(), Language::En),
            "Card number: 0000****5678\nName: 王○明\nID number: A12****789\n\
             Birth date: 1990-**-**\nSex: male\nIssue date: 2020-01-01\n"
        );
        let full = Format {
            json: false,
            show_pii: true,
        };
        assert!(printed(full, Language::En).contains("ID number: A123456789\n"));
    }

    #[test]
    fn json_is_one_masked_line_unless_asked() {
        let json = Format {
            json: true,
            show_pii: false,
        };
        let masked = printed(json, Language::ZhTw);
        assert_eq!(masked.lines().count(), 1, "{masked}");
        assert!(masked.contains("\"A12****789\"") && !masked.contains("A123456789"));
        let full = printed(
            Format {
                show_pii: true,
                ..json
            },
            Language::ZhTw,
        );
        assert!(full.contains("\"A123456789\""), "{full}");
    }

    #[test]
    fn a_refused_card_says_what_it_is_and_what_to_do() {
        let err = ReadError::HealthProfessionalCard;
        assert!(err.is_card_refused());
        assert_eq!(
            failure(Language::En, &err),
            format!(
                "This is a health-professional card, not a buyer's NHI card.\n\
                 Insert the buyer's own NHI card.\n(detail: {err})"
            )
        );
        assert!(failure(Language::ZhTw, &err).starts_with("這是醫事人員卡"));
    }
}
