//! The NHI card's basic-data record (DOMAIN.md §3): 57 bytes → [`Identity`].

use std::fmt;

use serde::{Deserialize, Serialize};
use time::{Date, Month};

use nhi_id::{IdError, IdNumber, mask_birth_date, mask_card_no, mask_name};

/// Application identifier of the NHI applet.
pub const NHI_AID: [u8; 16] = [
    0xD1, 0x58, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x11, 0x00,
];

/// GET DATA parameters that read the basic-data record: `00 CA 11 00 02 00 00`.
pub(crate) const BASIC_DATA_P1: u8 = 0x11;
pub(crate) const BASIC_DATA_P2: u8 = 0x00;
pub(crate) const BASIC_DATA_BODY: [u8; 2] = [0x00, 0x00];

/// Length of the basic-data record.
pub const BASIC_DATA_LEN: usize = 57;

const CARD_NO: std::ops::Range<usize> = 0..12;
const NAME: std::ops::Range<usize> = 12..32;
const ID_NO: std::ops::Range<usize> = 32..42;
const BIRTH: std::ops::Range<usize> = 42..49;
const SEX: usize = 49;
const ISSUE: std::ops::Range<usize> = 50..57;

time::serde::format_description!(iso_date, Date, "[year]-[month]-[day]");

/// Sex as printed on the card.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Sex {
    /// `M`
    #[serde(rename = "M")]
    Male,
    /// `F`
    #[serde(rename = "F")]
    Female,
}

/// The card holder as read from the card's basic data.
///
/// `Debug` masks every personal field; use [`Identity::masked_view`] (or [`Identity::masked`])
/// before printing or sending anywhere the full data is not needed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Card number (12 digits).
    pub card_no: String,
    /// Name, decoded from Big5 with padding removed.
    pub name: String,
    /// National ID number.
    pub id_no: IdNumber,
    /// Date of birth.
    #[serde(with = "iso_date")]
    pub birth_date: Date,
    /// Sex.
    pub sex: Sex,
    /// Card issue date.
    #[serde(with = "iso_date")]
    pub issue_date: Date,
}

impl Identity {
    /// A copy with card number, ID number and name masked (`0000****5678`, `A12****789`,
    /// `王○明`). The birth date stays whole (a `Date` cannot be half hidden): for anything shown
    /// or printed use [`Identity::masked_view`], which masks it too.
    pub fn masked(&self) -> Identity {
        Identity {
            card_no: mask_card_no(&self.card_no),
            name: mask_name(&self.name),
            id_no: self.id_no.masked_copy(),
            ..self.clone()
        }
    }

    /// What may be shown without the holder's consent: the JSON shape of [`Identity`] with card
    /// number `0000****5678`, name `王○明`, ID number `A12****789` and birth date by year only
    /// (`1990-**-**`). Sex and issue date stay (they identify nobody).
    pub fn masked_view(&self) -> MaskedIdentity {
        MaskedIdentity {
            card_no: mask_card_no(&self.card_no),
            name: mask_name(&self.name),
            id_no: self.id_no.masked(),
            birth_date: mask_birth_date(self.birth_date),
            sex: self.sex,
            issue_date: self.issue_date,
        }
    }
}

/// An [`Identity`] with every personal field masked, from [`Identity::masked_view`]; serializes
/// with the same field names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MaskedIdentity {
    /// `0000****5678`.
    pub card_no: String,
    /// `王○明`.
    pub name: String,
    /// `A12****789`.
    pub id_no: String,
    /// `1990-**-**`.
    pub birth_date: String,
    /// Sex.
    pub sex: Sex,
    /// Card issue date.
    #[serde(with = "iso_date")]
    pub issue_date: Date,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let view = self.masked_view();
        f.debug_struct("Identity")
            .field("card_no", &view.card_no)
            .field("name", &view.name)
            .field("id_no", &view.id_no)
            .field("birth_date", &view.birth_date)
            .field("sex", &"*")
            .field("issue_date", &view.issue_date)
            .finish()
    }
}

/// A basic-data field, for errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    /// Bytes 0–11.
    CardNumber,
    /// Bytes 12–31.
    Name,
    /// Bytes 32–41.
    IdNumber,
    /// Bytes 42–48.
    BirthDate,
    /// Byte 49.
    Sex,
    /// Bytes 50–56.
    IssueDate,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::CardNumber => "card number",
            Field::Name => "name",
            Field::IdNumber => "ID number",
            Field::BirthDate => "birth date",
            Field::Sex => "sex",
            Field::IssueDate => "issue date",
        })
    }
}

/// Why a basic-data record could not be parsed. Each variant names the field; none carries
/// personal data.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The record is not 57 bytes long (truncated or garbage).
    #[error("basic data must be {BASIC_DATA_LEN} bytes, got {len}")]
    Length {
        /// Bytes received.
        len: usize,
    },
    /// The card number is not 12 ASCII digits.
    #[error("card number is not 12 digits")]
    CardNumber,
    /// The name field holds only padding.
    #[error("name is empty")]
    EmptyName,
    /// The ID number is malformed.
    #[error("ID number on card is invalid: {0}")]
    IdNumber(#[source] IdError),
    /// A date field is not a valid ROC `YYYMMDD` date.
    #[error("{field} is not a valid ROC date (YYYMMDD)")]
    Date {
        /// Which date.
        field: Field,
    },
    /// The sex byte is neither `M` nor `F`.
    #[error("sex byte is {byte:#04x}, expected M or F")]
    Sex {
        /// The byte found.
        byte: u8,
    },
}

impl ParseError {
    /// The field that failed, when one did.
    pub fn field(&self) -> Option<Field> {
        match self {
            ParseError::Length { .. } => None,
            ParseError::CardNumber => Some(Field::CardNumber),
            ParseError::EmptyName => Some(Field::Name),
            ParseError::IdNumber(_) => Some(Field::IdNumber),
            ParseError::Date { field } => Some(*field),
            ParseError::Sex { .. } => Some(Field::Sex),
        }
    }
}

/// Parses the 57-byte basic-data record (without the status word).
pub fn parse_basic_data(bytes: &[u8]) -> Result<Identity, ParseError> {
    if bytes.len() != BASIC_DATA_LEN {
        return Err(ParseError::Length { len: bytes.len() });
    }
    let card_no = &bytes[CARD_NO];
    if !card_no.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::CardNumber);
    }
    let id_text: String = bytes[ID_NO].iter().map(|&b| char::from(b)).collect();
    let id_no = IdNumber::parse(&id_text).map_err(ParseError::IdNumber)?;
    let sex = match bytes[SEX] {
        b'M' => Sex::Male,
        b'F' => Sex::Female,
        byte => return Err(ParseError::Sex { byte }),
    };
    Ok(Identity {
        card_no: card_no.iter().map(|&b| char::from(b)).collect(),
        name: decode_name(&bytes[NAME])?,
        id_no,
        birth_date: roc_date(&bytes[BIRTH], Field::BirthDate)?,
        sex,
        issue_date: roc_date(&bytes[ISSUE], Field::IssueDate)?,
    })
}

/// Big5 name with trailing/leading padding (`00`, ASCII space, full-width space `A1 40`) removed.
/// Double-byte codes that are not Big5 (e.g. rare characters from the card issuer's private
/// range) become ONE visible replacement U+FFFD each; control characters likewise.
fn decode_name(field: &[u8]) -> Result<String, ParseError> {
    let is_padding = |c: char| matches!(c, '\0' | ' ' | '\u{3000}');
    let name: String = decode_big5_pairwise(field)
        .trim_matches(is_padding)
        .chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect();
    if name.is_empty() {
        return Err(ParseError::EmptyName);
    }
    Ok(name)
}

/// Decodes Big5 one character (1 or 2 bytes) at a time with encoding_rs. Hand-rolled framing
/// because the WHATWG decoder re-reads an ASCII trail byte after an unmapped lead byte
/// (`81 40` → `U+FFFD @`), which would put a stray `@` into a name: on a card every byte of
/// the name field at or above `0x80` starts a double-byte character.
fn decode_big5_pairwise(field: &[u8]) -> String {
    let mut out = String::with_capacity(field.len());
    let mut rest = field;
    while let Some((&first, tail)) = rest.split_first() {
        if first < 0x80 {
            out.push(char::from(first));
            rest = tail;
            continue;
        }
        let Some(pair) = rest.get(..2) else {
            out.push('\u{FFFD}');
            break;
        };
        let (text, had_errors) = encoding_rs::BIG5.decode_without_bom_handling(pair);
        if had_errors {
            out.push('\u{FFFD}');
        } else {
            out.push_str(&text);
        }
        rest = &rest[2..];
    }
    out
}

/// ROC calendar `YYYMMDD` (three-digit year, so ROC 100+ = 2011+ is kept) → Gregorian date.
fn roc_date(field: &[u8], which: Field) -> Result<Date, ParseError> {
    let err = ParseError::Date { field: which };
    if !field.iter().all(u8::is_ascii_digit) {
        return Err(err);
    }
    let num = |r: std::ops::Range<usize>| {
        field[r]
            .iter()
            .fold(0u16, |acc, b| acc * 10 + u16::from(b - b'0'))
    };
    let (roc_year, month, day) = (num(0..3), num(3..5), num(5..7));
    if roc_year == 0 {
        return Err(err);
    }
    let month = u8::try_from(month)
        .ok()
        .and_then(|m| Month::try_from(m).ok())
        .ok_or_else(|| err.clone())?;
    let day = u8::try_from(day).map_err(|_| err.clone())?;
    Date::from_calendar_date(i32::from(roc_year) + 1911, month, day).map_err(|_| err)
}

/// How the name field is padded after the name (cards in the wild use all three).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NamePadding {
    /// `00` bytes.
    Zero,
    /// ASCII spaces.
    Space,
    /// Full-width spaces `A1 40` (a trailing odd byte is padded with an ASCII space).
    FullWidthSpace,
}

/// Why an [`Identity`] cannot be written as a basic-data record.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The name has a character Big5 cannot represent.
    #[error("name has a character outside Big5")]
    NameNotBig5,
    /// The Big5 name is longer than 20 bytes.
    #[error("name takes {len} bytes in Big5, at most 20 fit")]
    NameTooLong {
        /// Encoded length.
        len: usize,
    },
    /// The card number is not 12 digits.
    #[error("card number must be 12 digits")]
    CardNumber,
    /// A date outside ROC years 1–999.
    #[error("{field} is outside ROC years 1-999")]
    Date {
        /// Which date.
        field: Field,
    },
    /// The ID number is a masked copy.
    #[error("ID number is masked")]
    MaskedId,
}

/// Writes an identity as the card's 57-byte record: the inverse of [`parse_basic_data`].
/// Used to build test cards and fixtures.
pub fn encode_basic_data(
    identity: &Identity,
    padding: NamePadding,
) -> Result<[u8; BASIC_DATA_LEN], EncodeError> {
    let mut out = [0u8; BASIC_DATA_LEN];
    if identity.card_no.len() != 12 || !identity.card_no.bytes().all(|b| b.is_ascii_digit()) {
        return Err(EncodeError::CardNumber);
    }
    if identity.id_no.is_masked() {
        return Err(EncodeError::MaskedId);
    }
    out[CARD_NO].copy_from_slice(identity.card_no.as_bytes());
    let (name, _, unmappable) = encoding_rs::BIG5.encode(&identity.name);
    if unmappable {
        return Err(EncodeError::NameNotBig5);
    }
    if name.len() > NAME.len() {
        return Err(EncodeError::NameTooLong { len: name.len() });
    }
    let field = &mut out[NAME];
    field[..name.len()].copy_from_slice(&name);
    let pad = &mut field[name.len()..];
    match padding {
        NamePadding::Zero => pad.fill(0),
        NamePadding::Space => pad.fill(b' '),
        NamePadding::FullWidthSpace => {
            for (i, b) in pad.iter_mut().enumerate() {
                *b = if i % 2 == 0 { 0xA1 } else { 0x40 };
            }
            if pad.len() % 2 == 1
                && let Some(last) = pad.last_mut()
            {
                *last = b' ';
            }
        }
    }
    out[ID_NO].copy_from_slice(identity.id_no.as_str().as_bytes());
    out[BIRTH].copy_from_slice(&roc_bytes(identity.birth_date, Field::BirthDate)?);
    out[SEX] = match identity.sex {
        Sex::Male => b'M',
        Sex::Female => b'F',
    };
    out[ISSUE].copy_from_slice(&roc_bytes(identity.issue_date, Field::IssueDate)?);
    Ok(out)
}

fn roc_bytes(date: Date, field: Field) -> Result<[u8; 7], EncodeError> {
    let roc_year = date.year() - 1911;
    if !(1..=999).contains(&roc_year) {
        return Err(EncodeError::Date { field });
    }
    let text = format!(
        "{roc_year:03}{:02}{:02}",
        u8::from(date.month()),
        date.day()
    );
    let mut out = [0u8; 7];
    out.copy_from_slice(text.as_bytes());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::date;

    /// The example record of DOMAIN.md §3, one field a line.
    const DOMAIN_EXAMPLE: &str = concat!(
        "303030303132333435363738",
        "A4FDA470A9FA0000000000000000000000000000",
        "41313233343536373839",
        "30373930313031",
        "4D",
        "31303930313031",
    );

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn example() -> Vec<u8> {
        hex(DOMAIN_EXAMPLE)
    }

    #[test]
    fn domain_example_parses() {
        let id = parse_basic_data(&example()).unwrap();
        assert_eq!(id.card_no, "000012345678");
        assert_eq!(id.name, "王小明");
        assert_eq!(id.id_no.as_str(), "A123456789");
        assert_eq!(id.birth_date, date!(1990 - 01 - 01));
        assert_eq!(id.sex, Sex::Male);
        assert_eq!(id.issue_date, date!(2020 - 01 - 01));
    }

    #[test]
    fn json_shape_matches_the_contract() {
        let id = parse_basic_data(&example()).unwrap();
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            r#"{"card_no":"000012345678","name":"王小明","id_no":"A123456789","birth_date":"1990-01-01","sex":"M","issue_date":"2020-01-01"}"#
        );
        let back: Identity = serde_json::from_str(&serde_json::to_string(&id).unwrap()).unwrap();
        assert_eq!(back, id);
        assert_eq!(
            serde_json::to_value(id.masked()).unwrap()["id_no"],
            "A12****789"
        );
        assert_eq!(id.masked().name, "王○明");
    }

    #[test]
    fn debug_never_shows_a_personal_field() {
        let text = format!("{:?}", parse_basic_data(&example()).unwrap());
        for personal in ["A123456789", "王小明", "000012345678", "1990-01-01", "Male"] {
            assert!(!text.contains(personal), "{personal} in {text}");
        }
        assert!(text.contains("0000****5678"), "{text}");
        assert!(text.contains("1990-**-**"), "{text}");
    }

    #[test]
    fn the_masked_view_keeps_the_json_shape_and_masks_every_personal_field() {
        let id = parse_basic_data(&example()).unwrap();
        assert_eq!(
            serde_json::to_string(&id.masked_view()).unwrap(),
            r#"{"card_no":"0000****5678","name":"王○明","id_no":"A12****789","birth_date":"1990-**-**","sex":"M","issue_date":"2020-01-01"}"#
        );
        assert_eq!(id.masked().card_no, "0000****5678");
    }

    #[test]
    fn every_padding_variant_gives_the_same_name() {
        for pad in [
            "0000000000000000000000000000",
            "2020202020202020202020202020",
            "A140A140A140A140A140A140A140",
            "A140A1400000000000000000000020",
        ] {
            let mut bytes = example();
            let tail = hex(pad);
            bytes[18..18 + 14].copy_from_slice(&tail[..14]);
            assert_eq!(parse_basic_data(&bytes).unwrap().name, "王小明", "{pad}");
        }
    }

    #[test]
    fn a_name_filling_all_20_bytes_is_kept_whole() {
        // 10 characters, no padding at all: the "6-byte name" mistake of other readers.
        let name = "歐陽司馬諸葛上官東方";
        let mut id = parse_basic_data(&example()).unwrap();
        id.name = name.to_owned();
        let bytes = encode_basic_data(&id, NamePadding::Zero).unwrap();
        assert_eq!(parse_basic_data(&bytes).unwrap().name, name);
    }

    #[test]
    fn characters_outside_big5_become_a_visible_replacement() {
        let mut bytes = example();
        // 王 + a code without Big5/HKSCS mapping + 明, with a non-ASCII and an ASCII trail byte.
        for odd in ["81A1", "8140"] {
            bytes[12..18].copy_from_slice(&hex(&format!("A4FD{odd}A9FA")));
            assert_eq!(
                parse_basic_data(&bytes).unwrap().name,
                "王\u{FFFD}明",
                "{odd}"
            );
        }
    }

    #[test]
    fn roc_100_and_later_keeps_the_hundreds_digit() {
        let mut bytes = example();
        bytes[BIRTH].copy_from_slice(b"1050302");
        assert_eq!(
            parse_basic_data(&bytes).unwrap().birth_date,
            date!(2016 - 03 - 02)
        );
        bytes[BIRTH].copy_from_slice(b"1000101");
        assert_eq!(
            parse_basic_data(&bytes).unwrap().birth_date,
            date!(2011 - 01 - 01)
        );
    }

    #[test]
    fn each_malformed_field_is_named() {
        let cases: [(std::ops::Range<usize>, &[u8], Option<Field>); 7] = [
            (0..1, b"X", Some(Field::CardNumber)),
            (12..32, &[0u8; 20], Some(Field::Name)),
            (41..42, b"8", Some(Field::IdNumber)),
            (42..49, b"0791301", Some(Field::BirthDate)),
            (42..49, b"0000101", Some(Field::BirthDate)),
            (49..50, b"X", Some(Field::Sex)),
            (50..57, b"10902 0", Some(Field::IssueDate)),
        ];
        for (range, patch, field) in cases {
            let mut bytes = example();
            bytes[range].copy_from_slice(patch);
            let err = parse_basic_data(&bytes).unwrap_err();
            assert_eq!(err.field(), field, "{err}");
        }
        assert_eq!(
            parse_basic_data(&example()[..56]),
            Err(ParseError::Length { len: 56 })
        );
    }

    fn names() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop::sample::select(vec![
                '王', '小', '明', '陳', '林', '美', '華', '歐', '陽', '志',
            ]),
            1..=10,
        )
        .prop_map(|chars| chars.into_iter().collect())
    }

    fn dates() -> impl Strategy<Value = Date> {
        (1912i32..2900, 1u8..=12, 1u8..=28).prop_map(|(y, m, d)| {
            Date::from_calendar_date(y, Month::try_from(m).unwrap(), d).unwrap()
        })
    }

    fn id_numbers() -> impl Strategy<Value = IdNumber> {
        ("[A-Z][1289A-D][0-9]{7}").prop_map(|prefix| {
            (0..10)
                .find_map(|d| IdNumber::parse(&format!("{prefix}{d}")).ok())
                .unwrap()
        })
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..80)) {
            let _ = parse_basic_data(&bytes);
        }

        #[test]
        fn arbitrary_57_byte_records_never_panic(bytes in prop::collection::vec(any::<u8>(), 57)) {
            let _ = parse_basic_data(&bytes);
        }

        #[test]
        fn arbitrary_names_never_panic(name in prop::collection::vec(any::<u8>(), 20)) {
            let mut bytes = example();
            bytes[NAME].copy_from_slice(&name);
            let _ = parse_basic_data(&bytes);
        }

        #[test]
        fn valid_records_round_trip(
            card_no in "[0-9]{12}",
            name in names(),
            id_no in id_numbers(),
            birth_date in dates(),
            issue_date in dates(),
            male in any::<bool>(),
            padding in prop::sample::select(vec![NamePadding::Zero, NamePadding::Space, NamePadding::FullWidthSpace]),
        ) {
            let identity = Identity {
                card_no,
                name,
                id_no,
                birth_date,
                sex: if male { Sex::Male } else { Sex::Female },
                issue_date,
            };
            let bytes = encode_basic_data(&identity, padding).unwrap();
            prop_assert_eq!(parse_basic_data(&bytes).unwrap(), identity);
        }
    }
}
