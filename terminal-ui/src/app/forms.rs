//! The forms of the counter screen: manual ID entry, stock-in and the public note. Pure data +
//! key handling; validation of the ID number is `nhi_id::IdNumber::parse` (the one ID rule).

use nhi_id::{IdError, IdNumber};
use time::{Date, Month};

use crate::i18n::IdProblem;

/// Longest ID input kept (anything longer is refused as typed: an ID has 10 characters).
const MAX_ID_INPUT: usize = 12;
/// Digits of a birth date typed as YYYYMMDD.
const BIRTH_DIGITS: usize = 8;
/// Digits per stock count (up to 999,999 masks).
const MAX_COUNT_DIGITS: usize = 6;

/// The birth date typed is not a real calendar date (or not 8 digits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadBirthDate;

/// What the ID field currently holds, as the card crate judges it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdCheck {
    /// A valid number (normalised by the card crate).
    Valid(IdNumber),
    /// Not valid (yet): why.
    Problem(IdProblem),
}

/// Checks an ID number as typed. A correct prefix of a possible ID shows how many characters
/// are missing instead of an error, so the pharmacist is not scolded while typing.
pub fn check_id(input: &str) -> IdCheck {
    match IdNumber::parse(input) {
        Ok(id) => IdCheck::Valid(id),
        Err(err) => IdCheck::Problem(problem_of(input, err)),
    }
}

fn problem_of(input: &str, err: IdError) -> IdProblem {
    match err {
        IdError::Empty => IdProblem::Empty,
        IdError::WrongLength { len } if len > 10 => IdProblem::TooLong,
        IdError::WrongLength { len } => {
            // Judge the prefix by completing it to a full-length candidate (letter, `1`, digits):
            // if the candidate only fails on the checksum, the prefix is fine so far.
            let typed: Vec<char> = input.trim().chars().collect();
            let padded: String = (0..10)
                .map(|i| match (typed.get(i), i) {
                    (Some(c), _) => *c,
                    (None, 0) => 'A',
                    (None, 1) => '1',
                    (None, _) => '0',
                })
                .collect();
            match IdNumber::parse(&padded) {
                Ok(_) | Err(IdError::Checksum) | Err(IdError::WrongLength { .. }) => {
                    IdProblem::Incomplete(10 - len)
                }
                Err(other) => problem_of(&padded, other),
            }
        }
        IdError::BadFirstLetter => IdProblem::FirstLetter,
        IdError::BadSecondCharacter => IdProblem::SecondChar,
        IdError::NonDigit { .. } => IdProblem::NotDigits,
        IdError::Checksum => IdProblem::Checksum,
        // Masked input (with `*`) or a future variant: the characters are wrong.
        _ => IdProblem::NotDigits,
    }
}

/// Which field of the manual form has the cursor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ManualField {
    /// National ID number.
    Id,
    /// Birth date (YYYYMMDD digits).
    Birth,
}

/// The manual ID entry form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManualForm {
    /// The ID as typed (upper-cased for display).
    pub id: String,
    /// Birth date digits as typed (YYYYMMDD, shown as YYYY-MM-DD).
    pub birth: String,
    /// Focused field.
    pub focus: ManualField,
    /// Set when Enter was pressed with a bad birth date.
    pub birth_error: bool,
    /// Waiting for the agent's eligibility answer.
    pub checking: bool,
}

impl Default for ManualForm {
    fn default() -> Self {
        ManualForm {
            id: String::new(),
            birth: String::new(),
            focus: ManualField::Id,
            birth_error: false,
            checking: false,
        }
    }
}

impl ManualForm {
    /// The live verdict on the ID field.
    pub fn id_check(&self) -> IdCheck {
        check_id(&self.id)
    }

    /// Types one character into the focused field.
    pub fn type_char(&mut self, c: char) {
        match self.focus {
            ManualField::Id => {
                if self.id.chars().count() < MAX_ID_INPUT && !c.is_control() {
                    self.id.extend(c.to_uppercase());
                }
            }
            ManualField::Birth => {
                if c.is_ascii_digit() && self.birth.len() < BIRTH_DIGITS {
                    self.birth.push(c);
                    self.birth_error = false;
                }
            }
        }
    }

    /// Deletes the last character of the focused field.
    pub fn backspace(&mut self) {
        match self.focus {
            ManualField::Id => {
                self.id.pop();
            }
            ManualField::Birth => {
                self.birth.pop();
                self.birth_error = false;
            }
        }
    }

    /// Moves to the other field.
    pub fn toggle_focus(&mut self) {
        self.focus = match self.focus {
            ManualField::Id => ManualField::Birth,
            ManualField::Birth => ManualField::Id,
        };
    }

    /// The birth date: `Ok(None)` when empty, an error when typed but not a real date.
    pub fn birth_date(&self) -> Result<Option<Date>, BadBirthDate> {
        parse_birth(&self.birth)
    }

    /// The birth field as shown: digits grouped as YYYY-MM-DD while typing.
    pub fn birth_display(&self) -> String {
        let d = &self.birth;
        match d.len() {
            0..=4 => d.clone(),
            5..=6 => format!("{}-{}", &d[..4], &d[4..]),
            _ => format!("{}-{}-{}", &d[..4], &d[4..6], &d[6..]),
        }
    }
}

fn parse_birth(digits: &str) -> Result<Option<Date>, BadBirthDate> {
    if digits.is_empty() {
        return Ok(None);
    }
    if digits.len() != BIRTH_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BadBirthDate);
    }
    let num = |r: std::ops::Range<usize>| digits[r].parse::<u16>().map_err(|_| BadBirthDate);
    let year = i32::from(num(0..4)?);
    let month = u8::try_from(num(4..6)?).map_err(|_| BadBirthDate)?;
    let month = Month::try_from(month).map_err(|_| BadBirthDate)?;
    let day = u8::try_from(num(6..8)?).map_err(|_| BadBirthDate)?;
    if year < 1900 {
        return Err(BadBirthDate);
    }
    Date::from_calendar_date(year, month, day)
        .map(Some)
        .map_err(|_| BadBirthDate)
}

/// The four counts of the stock-in form, in screen order.
pub const STOCK_FIELDS: usize = 4;

/// The stock-in form: received and damaged, adult and child.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct StockForm {
    /// Digits typed per field: received adult, received child, damaged adult, damaged child.
    pub fields: [String; STOCK_FIELDS],
    /// Focused field index.
    pub focus: usize,
    /// Showing the "confirm?" step.
    pub confirming: bool,
    /// Sent, waiting for the agent.
    pub saving: bool,
    /// Enter was pressed with every count zero.
    pub empty_error: bool,
}

impl StockForm {
    /// Types one digit into the focused field.
    pub fn type_digit(&mut self, c: char) {
        let field = &mut self.fields[self.focus];
        if c.is_ascii_digit() && field.len() < MAX_COUNT_DIGITS {
            if field == "0" {
                field.clear();
            }
            field.push(c);
            self.empty_error = false;
        }
    }

    /// Deletes the last digit of the focused field.
    pub fn backspace(&mut self) {
        self.fields[self.focus].pop();
    }

    /// Moves the cursor down (wrapping).
    pub fn next(&mut self) {
        self.focus = (self.focus + 1) % STOCK_FIELDS;
    }

    /// Moves the cursor up (wrapping).
    pub fn prev(&mut self) {
        self.focus = (self.focus + STOCK_FIELDS - 1) % STOCK_FIELDS;
    }

    /// The value of field `i` (empty = 0).
    pub fn value(&self, i: usize) -> u32 {
        self.fields[i].parse().unwrap_or(0)
    }

    /// The counts as the protocol's form.
    pub fn to_form(&self) -> mask_protocol::StockInForm {
        mask_protocol::StockInForm {
            received_adult: self.value(0),
            received_child: self.value(1),
            damaged_adult: self.value(2),
            damaged_child: self.value(3),
        }
    }

    /// True when every count is zero (nothing to record).
    pub fn is_empty(&self) -> bool {
        (0..STOCK_FIELDS).all(|i| self.value(i) == 0)
    }
}

/// The public note form (key `n`): one line the public stock page shows, e.g.
/// `號碼牌 09:00 發放`. Typing stops at [`mask_protocol::PUBLIC_NOTE_MAX_CHARS`] characters and
/// control characters are not taken; the agent checks the same rule again before journaling.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NoteForm {
    /// The text as typed (starts as the current note).
    pub text: String,
    /// Waiting for the agent's answer.
    pub saving: bool,
    /// The last key was refused (the limit reached, or a control character).
    pub refused_key: bool,
}

impl NoteForm {
    /// A form holding the current note, ready to edit.
    pub fn new(current: Option<&str>) -> NoteForm {
        NoteForm {
            text: current.unwrap_or_default().to_owned(),
            ..NoteForm::default()
        }
    }

    /// Characters typed.
    pub fn chars(&self) -> usize {
        self.text.chars().count()
    }

    /// Types one character (any script: the terminal delivers what the input method composed).
    pub fn type_char(&mut self, c: char) {
        self.refused_key = mask_protocol::refused_in_note(c)
            || self.chars() >= mask_protocol::PUBLIC_NOTE_MAX_CHARS;
        if !self.refused_key {
            self.text.push(c);
        }
    }

    /// Deletes the last character.
    pub fn backspace(&mut self) {
        self.refused_key = false;
        self.text.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_id_is_recognised_as_typed_with_normalisation() {
        assert!(matches!(check_id("a123456789"), IdCheck::Valid(_)));
        assert!(matches!(
            check_id(" Ａ１２３４５６７８９ "),
            IdCheck::Valid(_)
        ));
    }

    #[test]
    fn a_good_prefix_only_counts_missing_characters() {
        assert_eq!(check_id(""), IdCheck::Problem(IdProblem::Empty));
        assert_eq!(check_id("A12"), IdCheck::Problem(IdProblem::Incomplete(7)));
        assert_eq!(check_id("A"), IdCheck::Problem(IdProblem::Incomplete(9)));
    }

    #[test]
    fn a_bad_prefix_says_what_is_wrong_before_the_id_is_complete() {
        assert_eq!(check_id("1"), IdCheck::Problem(IdProblem::FirstLetter));
        assert_eq!(check_id("A3"), IdCheck::Problem(IdProblem::SecondChar));
        assert_eq!(check_id("A12X"), IdCheck::Problem(IdProblem::NotDigits));
    }

    #[test]
    fn a_complete_id_with_a_typo_fails_the_checksum() {
        assert_eq!(
            check_id("A123456788"),
            IdCheck::Problem(IdProblem::Checksum)
        );
        assert_eq!(
            check_id("A1234567890"),
            IdCheck::Problem(IdProblem::TooLong)
        );
    }

    #[test]
    fn birth_dates_are_typed_as_eight_digits() {
        let mut f = ManualForm {
            focus: ManualField::Birth,
            ..ManualForm::default()
        };
        for c in "2015x0301".chars() {
            f.type_char(c);
        }
        assert_eq!(f.birth_display(), "2015-03-01");
        assert_eq!(
            f.birth_date(),
            Ok(Some(time::macros::date!(2015 - 03 - 01)))
        );
        f.backspace();
        assert_eq!(f.birth_date(), Err(BadBirthDate));
        assert_eq!(parse_birth("20150230"), Err(BadBirthDate));
        assert_eq!(parse_birth(""), Ok(None));
    }

    #[test]
    fn stock_fields_take_digits_and_wrap_focus() {
        let mut f = StockForm::default();
        assert!(f.is_empty());
        f.type_digit('0');
        f.type_digit('2');
        f.type_digit('0');
        f.prev();
        f.type_digit('5');
        assert_eq!(f.value(0), 20);
        assert_eq!(f.value(3), 5);
        assert!(!f.is_empty());
        assert_eq!(f.to_form().damaged_child, 5);
    }

    #[test]
    fn the_note_form_takes_chinese_stops_at_the_limit_and_refuses_control_characters() {
        let mut f = NoteForm::new(Some("號碼牌"));
        for c in " 09:00 發放".chars() {
            f.type_char(c);
        }
        assert_eq!(f.text, "號碼牌 09:00 發放");
        f.type_char('\n');
        f.type_char('\u{1b}');
        assert!(f.refused_key);
        // Invisible formatting (a right-to-left override, a zero-width space) is refused too.
        f.type_char('\u{202E}');
        assert!(f.refused_key);
        f.type_char('\u{200B}');
        assert!(f.refused_key);
        assert_eq!(f.text, "號碼牌 09:00 發放");
        f.backspace();
        assert_eq!(f.text, "號碼牌 09:00 發");
        let mut full = NoteForm::new(None);
        for _ in 0..mask_protocol::PUBLIC_NOTE_MAX_CHARS + 5 {
            full.type_char('口');
        }
        assert_eq!(full.chars(), mask_protocol::PUBLIC_NOTE_MAX_CHARS);
        assert!(full.refused_key);
    }
}
