//! Masking of personal data for logs and shared screens.

/// Masks an ID number: `A123456789` → `A12****789`. Works on any input without panicking;
/// inputs too short to keep both ends are masked entirely.
pub fn mask_id(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    let n = chars.len();
    if n < 7 {
        return "*".repeat(n);
    }
    let mut out: String = chars[..3].iter().collect();
    out.push_str(&"*".repeat(n - 6));
    out.extend(&chars[n - 3..]);
    out
}

/// Masks a card number: `000012345678` → `0000****5678` (four digits kept each end, enough to
/// tell two cards apart at the counter). Inputs too short to keep both ends are masked entirely.
pub fn mask_card_no(card_no: &str) -> String {
    let chars: Vec<char> = card_no.chars().collect();
    let n = chars.len();
    if n < 10 {
        return "*".repeat(n);
    }
    let mut out: String = chars[..4].iter().collect();
    out.push_str(&"*".repeat(n - 8));
    out.extend(&chars[n - 4..]);
    out
}

/// Masks a birth date to its year: `1990-01-01` → `1990-**-**`. The year is kept because the
/// pharmacist checks child vs adult against it; the full date is a strong identifier.
pub fn mask_birth_date(date: time::Date) -> String {
    format!("{:04}-**-**", date.year())
}

/// Masks a name the way Taiwanese notices do: `王小明` → `王○明`, `王明` → `王○`,
/// `歐陽小明` → `歐○○明`.
pub fn mask_name(name: &str) -> String {
    let chars: Vec<char> = name.trim().chars().collect();
    match chars.as_slice() {
        [] => String::new(),
        [_] => "○".to_owned(),
        [first, _] => format!("{first}○"),
        [first, middle @ .., last] => {
            let mut out = String::new();
            out.push(*first);
            out.push_str(&"○".repeat(middle.len()));
            out.push(*last);
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids_keep_three_characters_each_end() {
        assert_eq!(mask_id("A123456789"), "A12****789");
        assert_eq!(mask_id("AB"), "**");
    }

    #[test]
    fn card_numbers_keep_four_digits_each_end() {
        assert_eq!(mask_card_no("000012345678"), "0000****5678");
        assert_eq!(mask_card_no("123"), "***");
        assert_eq!(mask_card_no(""), "");
    }

    #[test]
    fn birth_dates_keep_the_year_only() {
        assert_eq!(
            mask_birth_date(time::macros::date!(1990 - 01 - 01)),
            "1990-**-**"
        );
    }

    #[test]
    fn names_keep_first_and_last_character() {
        assert_eq!(mask_name("王小明"), "王○明");
        assert_eq!(mask_name("王明"), "王○");
        assert_eq!(mask_name("歐陽小明"), "歐○○明");
        assert_eq!(mask_name("王"), "○");
        assert_eq!(mask_name(""), "");
    }

    proptest! {
        #[test]
        fn masks_never_reveal_the_middle(s in "[^\\s]\\PC{5,28}[^\\s]") {
            let masked = mask_id(&s);
            prop_assert_eq!(masked.chars().count(), s.chars().count());
            let name = mask_name(&s);
            prop_assert!(name.contains('○'));
        }
    }
}
