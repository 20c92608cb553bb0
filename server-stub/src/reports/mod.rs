//! The agencies' sales report: the store's grouped rows ([`ReportRows`]) rolled up by site and by
//! county (through the registry's [`crate::region`]), with the stock on hand at the end of each
//! day; its CSV form; and the report page's charts ([`svg`], [`page`]).
//!
//! End-of-day stock comes from the `daily` table, which every sale (by its Asia/Taipei sale day)
//! and every stock-in (by its Asia/Taipei entry day, received and damaged) updates in the same
//! transaction that records it. The stock at the end of day D is the site's stock now less the
//! net change of every day after D, which equals opening + received − damaged − sold up to the
//! end of D. A stock-in counts for its whole day (the store keeps its day, not an hour): end of
//! day is exact, a figure within a day would not be, and the report gives none.

pub mod page;
pub mod svg;

use std::collections::{BTreeMap, HashMap};

use mask_api::reports::{SLOT_HOURS, SLOTS_PER_DAY};
use mask_api::{CountyReport, DayFigures, SalesReport, SiteReport, SlotSales};
use time::{Date, OffsetDateTime};

use crate::region::UNKNOWN_COUNTY;
use crate::sites::Registry;
use crate::store::ReportRows;

/// Which sites get a row of their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sites {
    /// Sites with a sale or a stock movement in the range (what the API answers).
    Active,
    /// Every site of the stock table.
    All,
}

/// Sold per slot and remaining at the end of each day, adult and child, of one site or county.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Figures {
    /// Per day, per slot: (adult, child).
    sold: Vec<[(i64, i64); SLOTS_PER_DAY]>,
    /// Per day: (adult, child) on hand at its end.
    remaining: Vec<(i64, i64)>,
}

impl Figures {
    fn zero(days: usize) -> Self {
        Self {
            sold: vec![[(0, 0); SLOTS_PER_DAY]; days],
            remaining: vec![(0, 0); days],
        }
    }

    fn add(&mut self, other: &Self) {
        for (mine, theirs) in self.sold.iter_mut().zip(&other.sold) {
            for (m, t) in mine.iter_mut().zip(theirs) {
                m.0 += t.0;
                m.1 += t.1;
            }
        }
        for (m, t) in self.remaining.iter_mut().zip(&other.remaining) {
            m.0 += t.0;
            m.1 += t.1;
        }
    }

    fn days(&self, first: Date) -> Vec<DayFigures> {
        let mut day = first;
        let mut out = Vec::with_capacity(self.sold.len());
        for (slots, &(remaining_adult, remaining_child)) in self.sold.iter().zip(&self.remaining) {
            let count = |n: i64| u64::try_from(n).unwrap_or(0);
            out.push(DayFigures {
                day,
                sold_adult: slots.iter().map(|s| count(s.0)).sum(),
                sold_child: slots.iter().map(|s| count(s.1)).sum(),
                remaining_adult,
                remaining_child,
                slots: slots
                    .iter()
                    .zip((0..).step_by(usize::from(SLOT_HOURS)))
                    .map(|(&(adult, child), from_hour)| SlotSales {
                        from_hour,
                        adult: count(adult),
                        child: count(child),
                    })
                    .collect(),
            });
            day = day.next_day().unwrap_or(day);
        }
        out
    }
}

/// Index of `day` in `from..=to`.
fn day_index(from: Date, to: Date, day: Date) -> Option<usize> {
    (from <= day && day <= to)
        .then(|| usize::try_from((day - from).whole_days()).ok())
        .flatten()
}

/// Builds the report of `from..=to` from the store's rows.
pub fn build(
    registry: &Registry,
    rows: &ReportRows,
    from: Date,
    to: Date,
    generated_at: OffsetDateTime,
    which: Sites,
) -> SalesReport {
    let days = day_index(from, to, to).map_or(0, |i| i + 1);
    // Per site: figures, and the net change of the days after the range.
    let mut sites: BTreeMap<&str, Figures> = BTreeMap::new();
    let mut active: std::collections::HashSet<&str> = std::collections::HashSet::new();
    let mut net_in_range: HashMap<&str, Vec<(i64, i64)>> = HashMap::new();
    let mut net_after: HashMap<&str, (i64, i64)> = HashMap::new();
    for s in &rows.sold {
        if let Some(d) = day_index(from, to, s.day) {
            let f = sites
                .entry(s.site.as_str())
                .or_insert_with(|| Figures::zero(days));
            let slot = &mut f.sold[d][usize::from(s.slot) % SLOTS_PER_DAY];
            slot.0 += s.adult;
            slot.1 += s.child;
            active.insert(s.site.as_str());
        }
    }
    for n in &rows.net {
        if let Some(d) = day_index(from, to, n.day) {
            let v = net_in_range
                .entry(n.site.as_str())
                .or_insert_with(|| vec![(0, 0); days]);
            v[d].0 += n.adult;
            v[d].1 += n.child;
            active.insert(n.site.as_str());
        } else if n.day > to {
            let v = net_after.entry(n.site.as_str()).or_default();
            v.0 += n.adult;
            v.1 += n.child;
        }
    }
    // End of `to` = now − changes after `to`; each earlier end = the next one − that day's change.
    for stock in &rows.stock {
        let f = sites
            .entry(stock.code.as_str())
            .or_insert_with(|| Figures::zero(days));
        let after = net_after
            .get(stock.code.as_str())
            .copied()
            .unwrap_or((0, 0));
        let mut end = (stock.adult - after.0, stock.child - after.1);
        let changes = net_in_range.get(stock.code.as_str());
        for d in (0..days).rev() {
            f.remaining[d] = end;
            if let Some(change) = changes.map(|c| c[d]) {
                end = (end.0 - change.0, end.1 - change.1);
            }
        }
    }
    let mut counties: BTreeMap<String, (u32, Figures)> = BTreeMap::new();
    for site in registry.all() {
        counties
            .entry(site.region.county.clone())
            .or_insert_with(|| (0, Figures::zero(days)))
            .0 += 1;
    }
    let mut site_reports = Vec::new();
    for (code, figures) in &sites {
        let region = registry.get(code).map(|s| &s.region);
        let county = region.map_or(UNKNOWN_COUNTY, |r| r.county.as_str());
        let entry = counties
            .entry(county.to_owned())
            .or_insert_with(|| (0, Figures::zero(days)));
        entry.1.add(figures);
        if which == Sites::All || active.contains(code) {
            site_reports.push(SiteReport {
                site: (*code).to_owned(),
                county: county.to_owned(),
                district: region.map(|r| r.district.clone()).unwrap_or_default(),
                days: figures.days(from),
            });
        }
    }
    SalesReport {
        from,
        to,
        generated_at,
        counties: counties
            .into_iter()
            .map(|(county, (sites, figures))| CountyReport {
                county,
                sites,
                days: figures.days(from),
            })
            .collect(),
        sites: site_reports,
    }
}

/// Slot label of a slot's first hour: `09-12`.
pub fn slot_label(from_hour: u8) -> String {
    format!("{:02}-{:02}", from_hour, from_hour + SLOT_HOURS)
}

/// The CSV columns, in order (documented in README.md).
pub const CSV_HEADER: [&str; 10] = [
    "day",
    "slot",
    "level",
    "county",
    "district",
    "site",
    "sold_adult",
    "sold_child",
    "remaining_adult",
    "remaining_child",
];

/// The report as CSV (UTF-8, one header row): for each county, then each site, one row per
/// slot (`slot` = `00-03` … `21-24`, remaining empty) and one per day (`slot` = `day`, with the
/// day's sales and the stock at its end).
pub fn csv(report: &SalesReport) -> Result<Vec<u8>, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(CSV_HEADER)?;
    let levels = report
        .counties
        .iter()
        .map(|c| ("county", c.county.as_str(), "", "", &c.days))
        .chain(report.sites.iter().map(|s| {
            (
                "site",
                s.county.as_str(),
                s.district.as_str(),
                s.site.as_str(),
                &s.days,
            )
        }));
    for (level, county, district, site, days) in levels {
        for d in days {
            let day = crate::store::day_text(d.day);
            for s in &d.slots {
                out.write_record([
                    day.as_str(),
                    &slot_label(s.from_hour),
                    level,
                    county,
                    district,
                    site,
                    &s.adult.to_string(),
                    &s.child.to_string(),
                    "",
                    "",
                ])?;
            }
            out.write_record([
                day.as_str(),
                "day",
                level,
                county,
                district,
                site,
                &d.sold_adult.to_string(),
                &d.sold_child.to_string(),
                &d.remaining_adult.to_string(),
                &d.remaining_child.to_string(),
            ])?;
        }
    }
    out.into_inner().map_err(|e| e.into_error().into())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use proptest::prelude::*;
    use time::macros::{date, datetime};

    use super::*;
    use crate::open_data::StockRow;
    use crate::region::Region;
    use crate::sites::Site;
    use crate::store::{NetDay, SoldSlot, slot_of_ms, to_ms};

    fn site(code: &str, county: &str) -> Site {
        Site {
            code: code.into(),
            name: format!("藥局{code}"),
            address: format!("{county}某區"),
            phone: String::new(),
            opening_adult: 0,
            opening_child: 0,
            region: Region {
                county: county.into(),
                district: "某區".into(),
            },
        }
    }

    fn registry() -> Registry {
        Registry::new(vec![
            site("A000000001", "臺北市"),
            site("A000000002", "臺北市"),
            site("B000000001", "高雄市"),
        ])
    }

    fn stock(code: &str, adult: i64, child: i64) -> StockRow {
        StockRow {
            code: code.into(),
            adult,
            child,
            listed: true,
            public_note: None,
            note_changed_at: None,
        }
    }

    fn slot(at: OffsetDateTime) -> u8 {
        slot_of_ms(to_ms(at))
    }

    #[test]
    fn a_sale_just_before_three_is_in_the_first_slot_and_three_starts_the_second() {
        assert_eq!(slot(datetime!(2020-03-12 02:59:59.999 +08:00)), 0);
        assert_eq!(slot(datetime!(2020-03-12 03:00 +08:00)), 1);
        assert_eq!(slot(datetime!(2020-03-12 23:59:59.999 +08:00)), 7);
    }

    #[test]
    fn midnight_is_taipei_midnight_not_utc() {
        // 00:00 Taipei is 16:00 UTC the day before: slot 0 of the Taipei day.
        assert_eq!(slot(datetime!(2020-03-11 16:00 UTC)), 0);
        assert_eq!(
            mask_api::taipei_date(datetime!(2020-03-11 16:00 UTC)),
            date!(2020 - 03 - 12)
        );
        // 00:00 UTC is 08:00 Taipei: slot 2, not slot 0.
        assert_eq!(slot(datetime!(2020-03-12 00:00 UTC)), 2);
        assert_eq!(slot(datetime!(2020-03-11 15:59:59.999 UTC)), 7);
    }

    #[test]
    fn counties_add_up_their_sites_and_stock_ends_each_day() {
        let rows = ReportRows {
            sold: vec![
                SoldSlot {
                    site: "A000000001".into(),
                    day: date!(2020 - 03 - 12),
                    slot: 3,
                    adult: 6,
                    child: 2,
                },
                SoldSlot {
                    site: "A000000002".into(),
                    day: date!(2020 - 03 - 13),
                    slot: 7,
                    adult: 3,
                    child: 0,
                },
            ],
            net: vec![
                NetDay {
                    site: "A000000001".into(),
                    day: date!(2020 - 03 - 12),
                    adult: 100 - 6,
                    child: -2,
                },
                NetDay {
                    site: "A000000002".into(),
                    day: date!(2020 - 03 - 13),
                    adult: -3,
                    child: 0,
                },
                // After the range: not in any figure but the stock at the range's end.
                NetDay {
                    site: "A000000001".into(),
                    day: date!(2020 - 03 - 14),
                    adult: -10,
                    child: 0,
                },
            ],
            stock: vec![
                stock("A000000001", 184, 48),
                stock("A000000002", 97, 20),
                stock("B000000001", 50, 5),
            ],
        };
        let r = build(
            &registry(),
            &rows,
            date!(2020 - 03 - 12),
            date!(2020 - 03 - 13),
            datetime!(2020-03-14 12:00 +08:00),
            Sites::Active,
        );
        let names: Vec<&str> = r.counties.iter().map(|c| c.county.as_str()).collect();
        assert_eq!(names, ["臺北市", "高雄市"]);
        let taipei = &r.counties[0];
        assert_eq!(taipei.sites, 2);
        assert_eq!(taipei.days[0].sold_adult, 6);
        assert_eq!(taipei.days[0].slots[3].from_hour, 9);
        assert_eq!(taipei.days[0].slots[3].adult, 6);
        assert_eq!(taipei.days[1].slots[7].adult, 3);
        // A000000001: 184 now, 194 at the end of 13th (−10 on the 14th), 194 at the end of
        // the 12th (no change on the 13th). A000000002: 97 now, 97 end of 13th, 100 end of 12th.
        assert_eq!(
            taipei
                .days
                .iter()
                .map(|d| d.remaining_adult)
                .collect::<Vec<_>>(),
            [194 + 100, 194 + 97]
        );
        // Only the sites that moved are listed; the quiet one still counts in its county.
        let codes: Vec<&str> = r.sites.iter().map(|s| s.site.as_str()).collect();
        assert_eq!(codes, ["A000000001", "A000000002"]);
        assert_eq!(r.counties[1].days[1].remaining_adult, 50);
        assert_eq!(r.sites[0].district, "某區");
    }

    #[test]
    fn the_csv_has_one_header_and_a_row_per_slot_and_day() {
        let rows = ReportRows {
            sold: vec![SoldSlot {
                site: "A000000001".into(),
                day: date!(2020 - 03 - 12),
                slot: 0,
                adult: 2,
                child: 1,
            }],
            net: vec![],
            stock: vec![stock("A000000001", 10, 5)],
        };
        let day = date!(2020 - 03 - 12);
        let r = build(
            &registry(),
            &rows,
            day,
            day,
            datetime!(2020-03-12 12:00 +08:00),
            Sites::Active,
        );
        let text = String::from_utf8(csv(&r).unwrap()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], CSV_HEADER.join(","));
        assert!(lines.contains(&"2020-03-12,00-03,county,臺北市,,,2,1,,"));
        assert!(lines.contains(&"2020-03-12,day,site,臺北市,某區,A000000001,2,1,10,5"));
        // 2 counties and 1 site, 9 rows a day each.
        assert_eq!(lines.len(), 1 + 3 * 9);
    }

    #[test]
    fn an_empty_range_has_every_county_at_zero() {
        let day = date!(2020 - 03 - 12);
        let r = build(
            &registry(),
            &ReportRows::default(),
            day,
            day,
            datetime!(2020-03-12 12:00 +08:00),
            Sites::Active,
        );
        assert_eq!(r.counties.len(), 2);
        assert!(r.sites.is_empty());
        assert_eq!(r.counties[0].days[0].slots.len(), 8);
    }

    proptest! {
        #[test]
        fn county_figures_are_the_sums_of_their_sites(
            sold in prop::collection::vec((0usize..3, 0i64..3, 0u8..8, 0i64..50, 0i64..50), 0..40),
            net in prop::collection::vec((0usize..3, 0i64..5, -50i64..50, -50i64..50), 0..20),
            now in prop::collection::vec((-100i64..500, -100i64..500), 3),
        ) {
            let codes = ["A000000001", "A000000002", "B000000001"];
            let first = date!(2020 - 03 - 12);
            let on = |d: i64| first + time::Duration::days(d);
            let rows = ReportRows {
                sold: sold.iter().map(|&(s, d, slot, adult, child)| SoldSlot {
                    site: codes[s].into(), day: on(d), slot, adult, child,
                }).collect(),
                net: net.iter().map(|&(s, d, adult, child)| NetDay {
                    site: codes[s].into(), day: on(d), adult, child,
                }).collect(),
                stock: codes.iter().zip(&now).map(|(c, &(a, k))| stock(c, a, k)).collect(),
            };
            let r = build(&registry(), &rows, first, on(2), datetime!(2020-03-15 12:00 +08:00), Sites::All);
            prop_assert_eq!(r.sites.len(), 3);
            for county in &r.counties {
                let members: Vec<&SiteReport> =
                    r.sites.iter().filter(|s| s.county == county.county).collect();
                for (d, day) in county.days.iter().enumerate() {
                    let sum = |f: &dyn Fn(&DayFigures) -> i64| -> i64 {
                        members.iter().map(|s| f(&s.days[d])).sum()
                    };
                    prop_assert_eq!(i64::try_from(day.sold_adult).unwrap(), sum(&|x| i64::try_from(x.sold_adult).unwrap()));
                    prop_assert_eq!(i64::try_from(day.sold_child).unwrap(), sum(&|x| i64::try_from(x.sold_child).unwrap()));
                    prop_assert_eq!(day.remaining_adult, sum(&|x| x.remaining_adult));
                    prop_assert_eq!(day.remaining_child, sum(&|x| x.remaining_child));
                    for k in 0..SLOTS_PER_DAY {
                        prop_assert_eq!(
                            i64::try_from(day.slots[k].adult).unwrap(),
                            sum(&|x| i64::try_from(x.slots[k].adult).unwrap())
                        );
                        prop_assert_eq!(
                            i64::try_from(day.slots[k].child).unwrap(),
                            sum(&|x| i64::try_from(x.slots[k].child).unwrap())
                        );
                    }
                }
            }
        }
    }
}
