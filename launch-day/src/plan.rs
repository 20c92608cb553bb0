//! The day, planned up front from a seed: which sites exist, when each receives its delivery,
//! which buyers come when, who tries a second pharmacy, which sites lose the network, and who
//! posts a public note. The same seed gives the same day, so two backends or two speeds play
//! exactly the same sales.

use std::collections::BTreeMap;

use mask_protocol::StockInForm;
use mask_server_stub::region;
use mask_server_stub::sites::{Registry, Site};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use time::macros::{date, datetime};
use time::{Date, Duration, OffsetDateTime};

/// 2020-02-06, the first day of name-based rationing, 08:00 Taipei: the day's first sale.
pub const DAY_START: OffsetDateTime = datetime!(2020-02-06 08:00 +08:00);

/// Selling hours from [`DAY_START`].
pub const SELLING_HOURS: i64 = 14;

/// Share of the day's sales in each selling hour from 08:00: most between 08:00 and 12:00, as
/// queues formed before opening (DOMAIN.md; the NHI counted every 3 hours).
pub const HOURLY_PROFILE: [f64; SELLING_HOURS as usize] = [
    0.14, 0.17, 0.15, 0.12, 0.07, 0.06, 0.06, 0.05, 0.04, 0.04, 0.04, 0.03, 0.02, 0.01,
];

/// The per-pharmacy daily allocation at the start (DOMAIN.md §2): 200 adult, 50 child masks.
pub const DELIVERY_ADULT: u32 = 200;
/// See [`DELIVERY_ADULT`].
pub const DELIVERY_CHILD: u32 = 50;

/// What shapes the day. Defaults are the launch day of the issue.
#[derive(Clone, Debug)]
pub struct DayShape {
    /// Seed of everything random.
    pub seed: u64,
    /// Selling sites: the real registry's 5,600, plus simulated health centres above that.
    pub sites: usize,
    /// Buyers who come over the day (sales are fewer: sold-out sites turn people away).
    pub buyers: usize,
    /// Share of sites that lose the network for an hour.
    pub outage_share: f64,
    /// How long an outage lasts.
    pub outage: Duration,
    /// Share of adult buyers of two masks who later try a second pharmacy.
    pub second_try_share: f64,
    /// Share of sites that post a public note during the day (sold-out sites always do).
    pub note_share: f64,
    /// People a minute on the public stock page.
    pub page_views_per_minute: u32,
    /// Apps polling `/maskdata.csv`.
    pub apps: u32,
    /// How often each app polls.
    pub app_period: Duration,
}

impl Default for DayShape {
    fn default() -> Self {
        DayShape {
            seed: 20_200_206,
            sites: 6_500,
            buyers: 680_000,
            outage_share: 0.05,
            outage: Duration::hours(1),
            second_try_share: 0.01,
            note_share: 0.10,
            page_views_per_minute: 18_000,
            apps: 140,
            app_period: Duration::seconds(30),
        }
    }
}

/// One buyer at the counter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Buyer {
    /// Full national ID (synthetic; never printed).
    pub id_no: String,
    /// Birth date (decides adult or child).
    pub birth_date: Date,
    /// Child (born 2008 or later).
    pub child: bool,
    /// Masks asked for.
    pub quantity: u32,
    /// Will try a second pharmacy later in the day.
    pub tries_again: bool,
}

/// What happens at a site.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// The morning delivery is entered.
    StockIn(StockInForm),
    /// A buyer's first try of the day.
    Buy(Buyer),
    /// A buyer who already bought elsewhere tries here.
    SecondTry(Buyer),
    /// The pharmacist posts a public note.
    Note(String),
}

/// An action at a simulated instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// When (simulated time).
    pub at: OffsetDateTime,
    /// What.
    pub action: Action,
}

/// One selling site's day.
#[derive(Clone, Debug)]
pub struct SiteDay {
    /// Its code.
    pub code: String,
    /// County (for second tries and page filters).
    pub county: String,
    /// Events in time order.
    pub events: Vec<Event>,
    /// When it loses the network, and for how long.
    pub outage: Option<(OffsetDateTime, Duration)>,
}

/// The whole day.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Every site's day, in registry order.
    pub sites: Vec<SiteDay>,
    /// What people search for on the stock page (name or road fragments).
    pub search_terms: Vec<String>,
    /// Counties with their number of sites (the weight of each in page filters).
    pub counties: Vec<CountyWeight>,
}

/// One county's share of the sites, and its districts' shares.
#[derive(Clone, Debug)]
pub struct CountyWeight {
    /// County name as the registry spells it.
    pub name: String,
    /// Sites in the county.
    pub sites: u32,
    /// Districts with their number of sites.
    pub districts: Vec<(String, u32)>,
}

/// Notes pharmacists posted (real phrasings of号碼牌 practice).
const NOTES: [&str; 6] = [
    "號碼牌 08:00 開始發放",
    "下午 2 點再發號碼牌",
    "兒童口罩請帶兒童健保卡",
    "請排隊，一人一卡",
    "中午 12:00–13:30 休息",
    "代購最多再帶一張卡",
];

/// The note of a site that sold out.
pub const SOLD_OUT_NOTE: &str = "今日已售完，明早 8 點再發號碼牌";

/// The sites of the day: the embedded registry (5,600 pharmacies), thinned evenly when fewer
/// are asked for, plus simulated health centres (one per district in turn) above 5,600. Every
/// site starts the day with nothing on hand: the morning delivery is its stock. Deterministic
/// in `sites` alone, so the server process builds the same registry.
pub fn registry(sites: usize) -> Result<Registry, mask_server_stub::OpenDataError> {
    let embedded = Registry::embedded()?;
    let all = embedded.all();
    let mut chosen: Vec<Site> = if sites >= all.len() {
        all.to_vec()
    } else {
        let step = all.len() as f64 / sites.max(1) as f64;
        (0..sites)
            .map(|i| all[((i as f64 * step) as usize).min(all.len() - 1)].clone())
            .collect()
    };
    let mut districts: Vec<(String, String)> = all
        .iter()
        .filter(|s| !s.region.district.is_empty())
        .map(|s| (s.region.county.clone(), s.region.district.clone()))
        .collect();
    districts.sort();
    districts.dedup();
    for i in 0..sites.saturating_sub(chosen.len()) {
        let (county, district) = &districts[i % districts.len()];
        let n = i / districts.len() + 1;
        chosen.push(Site {
            code: format!("HC{i:08}"),
            name: format!(
                "{district}衛生所{}",
                if n > 1 {
                    format!("第{n}站")
                } else {
                    String::new()
                }
            ),
            address: format!("{county}{district}衛生路{n}號"),
            phone: "(02)23959825".into(),
            opening_adult: 0,
            opening_child: 0,
            region: region::Region {
                county: county.clone(),
                district: district.clone(),
            },
        });
    }
    let regions = region::regions(chosen.iter().map(|s| s.address.as_str()));
    for (site, region) in chosen.iter_mut().zip(regions) {
        site.opening_adult = 0;
        site.opening_child = 0;
        site.region = region;
    }
    Ok(Registry::new(chosen))
}

/// Buyer number `n`: a valid ID whose last digit is even (2020-02-06 was a Thursday: even last
/// digits bought on Tuesdays, Thursdays and Saturdays), adult or child by `child`.
fn buyer_id(n: &mut u32) -> String {
    loop {
        let seq = *n;
        *n += 1;
        let letter = char::from(b'A' + (seq / 5_000_000 % 26) as u8);
        let id = mask_chaos::buyers::valid_id(letter, 1 + (seq % 2) as u8, seq % 5_000_000);
        if id.ends_with(['0', '2', '4', '6', '8']) {
            return id;
        }
    }
}

/// A time in selling hour `hour` (0 = 08:00), uniform within it.
fn time_in_hour(rng: &mut ChaCha8Rng, hour: usize) -> OffsetDateTime {
    DAY_START
        + Duration::hours(hour as i64)
        + Duration::milliseconds(rng.random_range(0..3_600_000))
}

/// An hour drawn from [`HOURLY_PROFILE`].
fn profile_hour(rng: &mut ChaCha8Rng) -> usize {
    let mut x: f64 = rng.random_range(0.0..1.0);
    for (hour, share) in HOURLY_PROFILE.iter().enumerate() {
        if x < *share {
            return hour;
        }
        x -= share;
    }
    HOURLY_PROFILE.len() - 1
}

/// Plans the day.
pub fn plan(shape: &DayShape) -> Result<Plan, mask_server_stub::OpenDataError> {
    let registry = registry(shape.sites)?;
    let sites = registry.all();
    let mut rng = ChaCha8Rng::seed_from_u64(shape.seed);
    let day_end = DAY_START + Duration::hours(SELLING_HOURS);
    let mut days: Vec<SiteDay> = sites
        .iter()
        .map(|site| {
            let delivered = DAY_START + Duration::seconds(rng.random_range(0..300));
            let damaged_adult = if rng.random_bool(0.2) {
                rng.random_range(1..=4)
            } else {
                0
            };
            let damaged_child = u32::from(rng.random_bool(0.05));
            let outage = rng.random_bool(shape.outage_share).then(|| {
                let latest = (SELLING_HOURS * 3600) - shape.outage.whole_seconds() - 1800;
                (
                    DAY_START + Duration::seconds(rng.random_range(0..latest.max(1))),
                    shape.outage,
                )
            });
            let mut events = vec![Event {
                at: delivered,
                action: Action::StockIn(StockInForm {
                    received_adult: DELIVERY_ADULT,
                    received_child: DELIVERY_CHILD,
                    damaged_adult,
                    damaged_child,
                }),
            }];
            if rng.random_bool(shape.note_share) {
                let hour = rng.random_range(0..12);
                events.push(Event {
                    at: time_in_hour(&mut rng, hour),
                    action: Action::Note((*NOTES.choose(&mut rng).unwrap_or(&NOTES[0])).into()),
                });
            }
            SiteDay {
                code: site.code.clone(),
                county: site.region.county.clone(),
                events,
                outage,
            }
        })
        .collect();

    // Demand per site varies (0.5 to 1.6 times the mean): busy sites sell out and delist.
    let weights: Vec<f64> = (0..days.len())
        .map(|_| rng.random_range(0.5..1.6))
        .collect();
    let total: f64 = weights.iter().sum();
    let mut by_county: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, site) in sites.iter().enumerate() {
        by_county
            .entry(site.region.county.as_str())
            .or_default()
            .push(i);
    }
    let mut next_id = 0u32;
    let mut second_tries = Vec::new();
    for (i, weight) in weights.iter().enumerate() {
        let demand = (shape.buyers as f64 * weight / total).round() as usize;
        let delivered = days[i].events[0].at;
        for _ in 0..demand {
            let child = rng.random_bool(0.2);
            let birth_date = if child {
                date!(2009 - 01 - 01) + Duration::days(rng.random_range(0..3000))
            } else {
                date!(1940 - 01 - 01) + Duration::days(rng.random_range(0..23_000))
            };
            let mut buyer = Buyer {
                id_no: buyer_id(&mut next_id),
                birth_date,
                child,
                quantity: if rng.random_bool(0.9) { 2 } else { 1 },
                tries_again: false,
            };
            let hour = profile_hour(&mut rng);
            let at = time_in_hour(&mut rng, hour).max(delivered + Duration::seconds(30));
            if !child && buyer.quantity == 2 && rng.random_bool(shape.second_try_share) {
                let later = at + Duration::minutes(rng.random_range(20..180));
                let others = &by_county[sites[i].region.county.as_str()];
                if let Some(&other) = others.choose(&mut rng)
                    && other != i
                    && later < day_end
                {
                    buyer.tries_again = true;
                    second_tries.push((other, later, buyer.clone()));
                }
            }
            days[i].events.push(Event {
                at,
                action: Action::Buy(buyer),
            });
        }
    }
    for (site, at, buyer) in second_tries {
        days[site].events.push(Event {
            at,
            action: Action::SecondTry(buyer),
        });
    }
    for day in &mut days {
        day.events.sort_by_key(|e| e.at);
    }

    let mut counties: BTreeMap<String, (u32, BTreeMap<String, u32>)> = BTreeMap::new();
    for site in sites {
        let county = counties.entry(site.region.county.clone()).or_default();
        county.0 += 1;
        if !site.region.district.is_empty() {
            *county.1.entry(site.region.district.clone()).or_default() += 1;
        }
    }
    let mut search_terms: Vec<String> = sites
        .iter()
        .filter_map(|s| {
            if rng.random_bool(0.5) {
                Some(s.name.chars().take(2).collect())
            } else {
                let rest = s.address.split(&s.region.district).nth(1)?;
                let end = rest.find(['路', '街'])?;
                Some(rest[..end + '路'.len_utf8()].to_owned())
            }
        })
        .filter(|t: &String| t.chars().count() >= 2)
        .collect();
    search_terms.sort();
    search_terms.dedup();
    Ok(Plan {
        sites: days,
        search_terms,
        counties: counties
            .into_iter()
            .map(|(name, (sites, d))| CountyWeight {
                name,
                sites,
                districts: d.into_iter().collect(),
            })
            .collect(),
    })
}

impl Plan {
    /// Buyers planned over the day (first tries).
    pub fn buyers(&self) -> usize {
        self.sites
            .iter()
            .flat_map(|s| &s.events)
            .filter(|e| matches!(e.action, Action::Buy(_)))
            .count()
    }

    /// Second tries planned.
    pub fn second_tries(&self) -> usize {
        self.sites
            .iter()
            .flat_map(|s| &s.events)
            .filter(|e| matches!(e.action, Action::SecondTry(_)))
            .count()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_hourly_profile_is_a_whole_day_with_its_peak_in_the_morning() {
        let sum: f64 = HOURLY_PROFILE.iter().sum();
        assert!((sum - 1.0).abs() < 1e-9, "{sum}");
        let morning: f64 = HOURLY_PROFILE[..4].iter().sum();
        assert!(
            morning > 0.5,
            "most sales between 08:00 and 12:00: {morning}"
        );
    }

    #[test]
    fn a_seed_gives_one_day_and_every_buyer_may_buy_on_a_thursday() {
        let shape = DayShape {
            sites: 40,
            buyers: 2_000,
            second_try_share: 0.2,
            ..DayShape::default()
        };
        let a = plan(&shape).unwrap();
        let b = plan(&shape).unwrap();
        assert_eq!(a.sites.len(), 40);
        assert_eq!(
            a.sites.iter().map(|s| s.events.clone()).collect::<Vec<_>>(),
            b.sites.iter().map(|s| s.events.clone()).collect::<Vec<_>>()
        );
        assert!(a.second_tries() > 0);
        let mut ids = Vec::new();
        for site in &a.sites {
            assert!(matches!(site.events[0].action, Action::StockIn(_)));
            assert!(site.events.windows(2).all(|w| w[0].at <= w[1].at));
            for event in &site.events {
                assert!(
                    event.at >= DAY_START && event.at < DAY_START + Duration::hours(SELLING_HOURS)
                );
                if let Action::Buy(buyer) = &event.action {
                    assert!(buyer.id_no.ends_with(['0', '2', '4', '6', '8']));
                    ids.push(buyer.id_no.clone());
                }
            }
        }
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n, "buyer IDs are distinct");
        assert!((1_900..=2_100).contains(&n), "{n}");
    }

    #[test]
    fn above_the_registry_health_centres_are_added_with_their_regions() {
        let registry = registry(5_700).unwrap();
        assert_eq!(registry.all().len(), 5_700);
        let centre = registry.get("HC00000000").unwrap();
        assert!(centre.name.contains("衛生所"));
        assert!(!centre.region.district.is_empty());
        assert!(
            registry
                .all()
                .iter()
                .all(|s| s.opening_adult == 0 && s.opening_child == 0)
        );
    }
}
