//! Valid national ID numbers for tests, completed by `nhi_fixtures::generated_id`: the one
//! generator of test IDs, which also lists each one for `scripts/check-logs.sh` so the logs of
//! the run are scanned for it.

/// Completes a 9-character prefix (`A12345678`) with its check digit.
pub fn with_check_digit(prefix: &str) -> String {
    nhi_fixtures::generated_id(prefix)
        .unwrap_or_else(|| panic!("no check digit completes the test prefix {prefix}"))
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
