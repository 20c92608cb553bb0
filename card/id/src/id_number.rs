//! Taiwan national ID numbers (DOMAIN.md §4): normalisation of what people type, format and
//! checksum validation, and the masked form used everywhere except where the full number is
//! explicitly needed.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::mask::mask_id;

/// Why an ID number was rejected. Messages name the problem, never the number itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// Nothing was entered.
    #[error("ID number is empty")]
    Empty,
    /// Not ten characters after normalisation.
    #[error("ID number must have 10 characters, got {len}")]
    WrongLength {
        /// Characters found.
        len: usize,
    },
    /// The first character is not a letter A–Z.
    #[error("ID number must start with a letter A-Z")]
    BadFirstLetter,
    /// The second character is not 1, 2 (citizen), 8, 9 (new resident) or A–D (old resident).
    #[error("second character of an ID number must be 1, 2, 8, 9 or A-D")]
    BadSecondCharacter,
    /// A character in positions 3–10 is not a digit.
    #[error("character {position} of the ID number must be a digit")]
    NonDigit {
        /// 1-based position of the offending character.
        position: usize,
    },
    /// Format is right but the check digit does not match (a typing mistake).
    #[error("ID number check digit does not match (typing mistake?)")]
    Checksum,
    /// A masked number (`A12****789`) was given where a full one is required.
    #[error("ID number is masked, the full number is needed")]
    Masked,
}

/// A validated national ID number (citizen, new- or old-style resident certificate).
///
/// `Display` and `Debug` print the MASKED form; the full number is only available through
/// [`IdNumber::as_str`]. Serde uses the plain string; deserializing validates it. A value made by
/// [`IdNumber::masked_copy`] (used by `Identity::masked`) holds the masked text instead: it
/// serializes masked, and deserializing accepts such masked text back (see [`IdNumber::is_masked`])
/// so masked identities can cross process boundaries for display.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdNumber {
    text: String,
    masked: bool,
}

impl IdNumber {
    /// Normalises (trim, full-width → ASCII, upper-case) and validates format and checksum.
    pub fn parse(input: &str) -> Result<IdNumber, IdError> {
        let normalised = normalise(input);
        validate(&normalised)?;
        Ok(IdNumber {
            text: normalised,
            masked: false,
        })
    }

    /// The full number (or the masked text for a masked copy).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The masked form, e.g. `A12****789`.
    pub fn masked(&self) -> String {
        mask_id(&self.text)
    }

    /// A copy that holds only the masked form (for display and logs).
    pub fn masked_copy(&self) -> IdNumber {
        IdNumber {
            text: self.masked(),
            masked: true,
        }
    }

    /// True for a copy made by [`IdNumber::masked_copy`]: not usable for a sale.
    pub fn is_masked(&self) -> bool {
        self.masked
    }

    /// The last digit (the odd/even weekday rule of 2020 keys on it).
    pub fn last_digit(&self) -> u8 {
        self.text
            .bytes()
            .last()
            .filter(u8::is_ascii_digit)
            .map_or(0, |b| b - b'0')
    }
}

impl fmt::Display for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdNumber({})", self.masked())
    }
}

impl std::str::FromStr for IdNumber {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        IdNumber::parse(s)
    }
}

impl Serialize for IdNumber {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for IdNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if is_masked_form(&text) {
            return Ok(IdNumber { text, masked: true });
        }
        IdNumber::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Maps what an input method may produce to plain ASCII: full-width letters and digits
/// (U+FF01..U+FF5E) to ASCII, ideographic spaces trimmed, lower case to upper case.
fn normalise(input: &str) -> String {
    input
        .trim_matches(|c: char| c.is_whitespace() || c == '\u{3000}')
        .chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
            other => other,
        })
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Letter values from DOMAIN.md §4 (not alphabetical: I, O, W, X, Y, Z were added later).
fn letter_value(letter: u8) -> Option<u32> {
    const VALUES: [u32; 26] = [
        10, 11, 12, 13, 14, 15, 16, 17, 34, 18, 19, 20, 21, 22, 35, 23, 24, 25, 26, 27, 28, 29, 32,
        30, 31, 33,
    ];
    letter
        .is_ascii_uppercase()
        .then(|| VALUES[usize::from(letter - b'A')])
}

fn validate(id: &str) -> Result<(), IdError> {
    if id.is_empty() {
        return Err(IdError::Empty);
    }
    let len = id.chars().count();
    if len != 10 || id.len() != 10 {
        return Err(IdError::WrongLength { len });
    }
    if is_masked_form(id) {
        return Err(IdError::Masked);
    }
    let bytes = id.as_bytes();
    let first = letter_value(bytes[0]).ok_or(IdError::BadFirstLetter)?;
    let second = match bytes[1] {
        b'1' | b'2' | b'8' | b'9' => u32::from(bytes[1] - b'0'),
        b'A'..=b'D' => letter_value(bytes[1]).map_or(0, |v| v % 10),
        _ => return Err(IdError::BadSecondCharacter),
    };
    let mut digits = [0u32; 8];
    for (i, b) in bytes[2..].iter().enumerate() {
        if !b.is_ascii_digit() {
            return Err(IdError::NonDigit { position: i + 3 });
        }
        digits[i] = u32::from(b - b'0');
    }
    // Weights: letter tens ×1, letter units ×9, then 8,7,…,1 for characters 2–9, check ×1.
    let mut sum = first / 10 + (first % 10) * 9 + second * 8;
    for (i, d) in digits[..7].iter().enumerate() {
        sum += d * (7 - u32::try_from(i).unwrap_or(0));
    }
    sum += digits[7];
    if sum % 10 == 0 {
        Ok(())
    } else {
        Err(IdError::Checksum)
    }
}

/// `A12****789`: the shape [`mask_id`] produces for a ten-character number.
fn is_masked_form(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 10
        && b[0].is_ascii_uppercase()
        && b[3..7].iter().all(|&c| c == b'*')
        && b[7..].iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_valid_numbers_parse() {
        for id in ["A123456789", "A800000014", "AC01234567", "AA00000009"] {
            assert_eq!(IdNumber::parse(id).unwrap().as_str(), id);
        }
    }

    #[test]
    fn a_wrong_check_digit_is_a_checksum_error() {
        assert_eq!(IdNumber::parse("A123456788"), Err(IdError::Checksum));
    }

    #[test]
    fn typed_input_is_normalised() {
        for typed in [
            " a123456789 ",
            "\tA123456789\n",
            "Ａ１２３４５６７８９",
            "ａ１２３４５６７８９",
            "\u{3000}A123456789\u{3000}",
        ] {
            assert_eq!(IdNumber::parse(typed).unwrap().as_str(), "A123456789");
        }
    }

    #[test]
    fn each_format_error_is_named() {
        assert_eq!(IdNumber::parse("  "), Err(IdError::Empty));
        assert_eq!(
            IdNumber::parse("A12345678"),
            Err(IdError::WrongLength { len: 9 })
        );
        assert_eq!(IdNumber::parse("1123456789"), Err(IdError::BadFirstLetter));
        assert_eq!(
            IdNumber::parse("A323456789"),
            Err(IdError::BadSecondCharacter)
        );
        assert_eq!(
            IdNumber::parse("A1234X6789"),
            Err(IdError::NonDigit { position: 6 })
        );
        assert_eq!(IdNumber::parse("A12****789"), Err(IdError::Masked));
        assert_eq!(
            IdNumber::parse("王小明王小明王小明王"),
            Err(IdError::WrongLength { len: 10 })
        );
    }

    #[test]
    fn display_and_debug_are_masked() {
        let id = IdNumber::parse("A123456789").unwrap();
        assert_eq!(id.to_string(), "A12****789");
        assert!(!format!("{id:?}").contains("A123456789"));
        assert_eq!(id.last_digit(), 9);
    }

    #[test]
    fn serde_is_the_plain_string_and_validates() {
        let id = IdNumber::parse("A123456789").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"A123456789\"");
        assert_eq!(
            serde_json::from_str::<IdNumber>("\"A123456789\"").unwrap(),
            id
        );
        assert!(serde_json::from_str::<IdNumber>("\"A123456788\"").is_err());
        let masked: IdNumber = serde_json::from_str("\"A12****789\"").unwrap();
        assert!(masked.is_masked());
        assert_eq!(masked, id.masked_copy());
        assert_eq!(masked.last_digit(), 9);
    }

    /// A valid number from its first letter, second character and seven body digits.
    fn with_check_digit(prefix: &str) -> String {
        (0..10)
            .map(|d| format!("{prefix}{d}"))
            .find(|c| validate(c).is_ok())
            .unwrap()
    }

    proptest! {
        #[test]
        fn any_input_is_accepted_or_rejected_without_panic(s in "\\PC{0,20}") {
            let _ = IdNumber::parse(&s);
        }

        #[test]
        fn exactly_one_check_digit_is_valid(
            letter in "[A-Z]",
            second in "[1289A-D]",
            body in "[0-9]{7}",
        ) {
            let prefix = format!("{letter}{second}{body}");
            let valid: Vec<_> = (0..10)
                .filter(|d| validate(&format!("{prefix}{d}")).is_ok())
                .collect();
            prop_assert_eq!(valid.len(), 1);
            let id = with_check_digit(&prefix);
            let typed = format!("  {}  ", id.to_lowercase());
            let parsed = IdNumber::parse(&typed).unwrap();
            prop_assert_eq!(parsed.as_str(), id.as_str());
        }
    }
}
