//! County (縣市) and district (鄉鎮市區) of a site, derived from its registry address.
//!
//! The 2020 registry has no region columns, only addresses such as `臺南市新市區中興街１號`. A
//! county is always the first three characters (`…市` or `…縣`). A district is the next two to four
//! characters ending in 鄉, 鎮, 市 or 區 — but that suffix rule alone is ambiguous: `新市區` starts
//! with `新市`, `平鎮區` with `平鎮`, and `前鎮區鎮中路` continues with `鎮`. The ambiguity is
//! settled by the registry itself: among an address's candidates, the one shared by the most
//! addresses of the same county wins (every `新市區…` address also has the candidate `新市`, so the
//! two tie, and a tie goes to the longer); a street that happens to end a candidate is rare. Over
//! the real registry this yields the 22 counties and 367 districts (Taiwan has 368; one has no
//! site), checked by the tests below.
//!
//! Written here rather than with a gazetteer crate: none covers Taiwan's districts, and the rule
//! is a few lines over data we already embed.

use std::collections::HashMap;

/// Where a site is, for the public page's filters and the agencies' reports.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Region {
    /// County or special municipality, e.g. `臺北市`; `其他` when the address names none.
    pub county: String,
    /// District, e.g. `中正區`; empty when the address names none.
    pub district: String,
}

/// The county given to an address that does not start with one.
pub const UNKNOWN_COUNTY: &str = "其他";

/// Official names write 臺, addresses often 台 (`台北市`, `霧台鄉`): one spelling per region.
fn official(name: &str) -> String {
    name.replace('台', "臺")
}

fn county_and_rest(address: &str) -> Option<(String, &str)> {
    let address = address.trim();
    let (end, third) = address.char_indices().nth(2)?;
    if !matches!(third, '市' | '縣') {
        return None;
    }
    let split = end + third.len_utf8();
    Some((official(&address[..split]), &address[split..]))
}

/// District candidates: the prefixes of 2 to 4 characters ending in a district suffix.
fn candidates(rest: &str) -> impl Iterator<Item = &str> {
    rest.char_indices()
        .take(4)
        .enumerate()
        .filter(|&(n, (_, c))| n >= 1 && matches!(c, '鄉' | '鎮' | '市' | '區'))
        .map(move |(_, (i, c))| &rest[..i + c.len_utf8()])
}

/// The region of each address, in order, judged against all of them (see the module doc).
pub fn regions<'a>(addresses: impl IntoIterator<Item = &'a str> + Clone) -> Vec<Region> {
    let mut shared: HashMap<(String, &str), usize> = HashMap::new();
    for address in addresses.clone() {
        if let Some((county, rest)) = county_and_rest(address) {
            for candidate in candidates(rest) {
                *shared.entry((county.clone(), candidate)).or_default() += 1;
            }
        }
    }
    addresses
        .into_iter()
        .map(|address| match county_and_rest(address) {
            None => Region {
                county: UNKNOWN_COUNTY.to_owned(),
                district: String::new(),
            },
            Some((county, rest)) => {
                let district = candidates(rest)
                    .max_by_key(|c| (shared.get(&(county.clone(), *c)).copied(), c.len()))
                    .map(official)
                    .unwrap_or_default();
                Region { county, district }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn one(addresses: &[&str]) -> Vec<(String, String)> {
        regions(addresses.iter().copied())
            .into_iter()
            .map(|r| (r.county, r.district))
            .collect()
    }

    fn pair(county: &str, district: &str) -> (String, String) {
        (county.to_owned(), district.to_owned())
    }

    #[test]
    fn a_district_whose_name_holds_a_suffix_is_whole() {
        let got = one(&["臺南市新市區中興街１號", "桃園市平鎮區中豐路２號"]);
        assert_eq!(got, [pair("臺南市", "新市區"), pair("桃園市", "平鎮區")]);
    }

    #[test]
    fn a_street_starting_with_a_suffix_is_not_part_of_the_district() {
        let got = one(&["高雄市前鎮區鎮中路１號", "高雄市前鎮區中山二路２號"]);
        assert_eq!(got, [pair("高雄市", "前鎮區"), pair("高雄市", "前鎮區")]);
    }

    #[test]
    fn spellings_with_tai_are_one_region() {
        let got = one(&["台北市中正區1號", "臺北市中正區2號", "屏東縣霧台鄉3號"]);
        assert_eq!(
            got,
            [
                pair("臺北市", "中正區"),
                pair("臺北市", "中正區"),
                pair("屏東縣", "霧臺鄉")
            ]
        );
    }

    #[test]
    fn short_and_long_district_names() {
        let got = one(&["臺中市西區民權路１號", "嘉義縣阿里山鄉樂野村９７號"]);
        assert_eq!(got, [pair("臺中市", "西區"), pair("嘉義縣", "阿里山鄉")]);
    }

    #[test]
    fn an_address_without_a_county_is_other() {
        assert_eq!(
            one(&["中正路1號", ""]),
            [pair("其他", ""), pair("其他", "")]
        );
    }

    #[test]
    fn the_real_registry_has_22_counties_and_367_districts() {
        let registry = crate::sites::Registry::embedded().expect("embedded registry");
        let regions: Vec<&Region> = registry.all().iter().map(|s| &s.region).collect();
        let counties: BTreeSet<&str> = regions.iter().map(|r| r.county.as_str()).collect();
        let districts: BTreeSet<(&str, &str)> = regions
            .iter()
            .map(|r| (r.county.as_str(), r.district.as_str()))
            .collect();
        assert_eq!(counties.len(), 22, "{counties:?}");
        assert_eq!(districts.len(), 367);
        assert!(
            regions
                .iter()
                .all(|r| (2..=4).contains(&r.district.chars().count()))
        );
        assert!(!counties.contains(UNKNOWN_COUNTY));
    }
}
