//! Valid national ID numbers for tests (DOMAIN.md §4 checksum).

const LETTERS: &[(char, u32)] = &[
    ('A', 10),
    ('B', 11),
    ('C', 12),
    ('D', 13),
    ('E', 14),
    ('F', 15),
    ('G', 16),
    ('H', 17),
    ('J', 18),
    ('K', 19),
    ('L', 20),
    ('M', 21),
    ('N', 22),
    ('P', 23),
    ('Q', 24),
    ('R', 25),
    ('S', 26),
    ('T', 27),
    ('U', 28),
    ('V', 29),
    ('X', 30),
    ('Y', 31),
    ('W', 32),
    ('Z', 33),
];

/// Completes a 9-character citizen ID prefix (`A12345678`) with its check digit.
pub fn with_check_digit(prefix: &str) -> String {
    let mut chars = prefix.chars();
    let letter = chars.next().unwrap();
    let value = LETTERS.iter().find(|(l, _)| *l == letter).unwrap().1;
    let digits: Vec<u32> = chars.map(|c| c.to_digit(10).unwrap()).collect();
    let weights = [8, 7, 6, 5, 4, 3, 2, 1];
    let sum =
        value / 10 + (value % 10) * 9 + digits.iter().zip(weights).map(|(d, w)| d * w).sum::<u32>();
    format!("{prefix}{}", (10 - sum % 10) % 10)
}

/// `n` distinct valid IDs whose last digit is even (adults may buy on Thursday), starting at
/// sequence number `first` (so different tests use different people).
pub fn even_ids(first: usize, n: usize) -> Vec<String> {
    (first..)
        .map(|i| with_check_digit(&format!("B1{:07}", i % 10_000_000)))
        .filter(|id| id.ends_with(['0', '2', '4', '6', '8']))
        .take(n)
        .collect()
}

/// One even-ending adult ID.
pub fn even_id(seq: usize) -> String {
    even_ids(seq, 1).remove(0)
}

/// One odd-ending adult ID (refused on Thursday by the weekday rule).
pub fn odd_id(seq: usize) -> String {
    (seq..)
        .map(|i| with_check_digit(&format!("C2{:07}", i % 10_000_000)))
        .find(|id| id.ends_with(['1', '3', '5', '7', '9']))
        .unwrap()
}

#[test]
fn known_ids_get_their_check_digit() {
    assert_eq!(with_check_digit("A12345678"), "A123456789");
    for id in even_ids(0, 50) {
        nhi_card::IdNumber::parse(&id).unwrap();
    }
}
