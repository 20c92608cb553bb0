#![allow(clippy::unwrap_used)]

use std::collections::HashSet;

use super::*;
use crate::sites::Site;

const AT: OffsetDateTime = time::macros::datetime!(2020-03-12 01:02:03 UTC);

/// A small registry: (code, name, address, adult, child, listed).
fn pages(rows: &[(&str, &str, &str, i64, i64, bool)]) -> (Registry, Pages) {
    let regions = crate::region::regions(rows.iter().map(|r| r.2));
    let sites = rows
        .iter()
        .zip(regions)
        .map(|(r, region)| Site {
            code: r.0.to_owned(),
            name: r.1.to_owned(),
            address: r.2.to_owned(),
            phone: "(02)27671757".to_owned(),
            opening_adult: r.3,
            opening_child: r.4,
            region,
        })
        .collect();
    let registry = Registry::new(sites);
    let stock: Vec<StockRow> = rows
        .iter()
        .map(|r| StockRow {
            code: r.0.to_owned(),
            adult: r.3,
            child: r.4,
            listed: r.5,
            public_note: None,
            note_changed_at: None,
        })
        .collect();
    let pages = Pages::build(&registry, &stock, AT);
    (registry, pages)
}

fn html(registry: &Registry, pages: &Pages, lang: Lang, params: PageParams) -> String {
    let page = match pages.lookup(lang, &params) {
        Lookup::Hit(p) => p,
        Lookup::Miss(m) => pages.render(registry, m, 30),
        Lookup::UnknownCounty(c) => panic!("unknown county {c}"),
    };
    String::from_utf8(page.plain.to_vec()).unwrap()
}

fn params(county: &str, district: &str, q: &str, kind: &str) -> PageParams {
    let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    PageParams {
        county: some(county),
        district: some(district),
        q: some(q),
        kind: some(kind),
    }
}

/// Site codes in the order the page lists them.
fn order(page: &str) -> Vec<String> {
    page.match_indices("<li class=\"s")
        .map(|(i, _)| {
            let rest = &page[i..];
            let id = rest.find("id=\"s").unwrap() + 5;
            rest[id..id + rest[id..].find('"').unwrap()].to_owned()
        })
        .collect()
}

const SMALL: &[(&str, &str, &str, i64, i64, bool)] = &[
    ("A000000001", "甲藥局", "臺北市中正區一路1號", 10, 200, true),
    ("A000000002", "乙藥局", "臺北市中正區二路2號", 300, 0, true),
    ("A000000003", "丙藥局", "台北市大安區三路3號", 120, 5, true),
    (
        "A000000004",
        "丁藥局",
        "臺北市大安區四路4號",
        900,
        900,
        false,
    ),
    ("B000000001", "戊藥局", "新北市板橋區五路5號", 0, 40, true),
];

#[test]
fn the_thresholds_of_plenty_few_and_none() {
    assert_eq!(Level::of(Kind::Adult, 0), Level::None);
    assert_eq!(Level::of(Kind::Adult, -4), Level::None);
    assert_eq!(Level::of(Kind::Adult, 1), Level::Few);
    assert_eq!(Level::of(Kind::Adult, 49), Level::Few);
    assert_eq!(Level::of(Kind::Adult, 50), Level::Plenty);
    assert_eq!(Level::of(Kind::Child, 12), Level::Few);
    assert_eq!(Level::of(Kind::Child, 13), Level::Plenty);
}

#[test]
fn a_county_lists_its_sites_by_what_remains_and_delisted_last() {
    let (reg, pages) = pages(SMALL);
    let adult = html(&reg, &pages, Lang::ZhTw, params("臺北市", "", "", ""));
    assert_eq!(
        order(&adult),
        ["A000000002", "A000000003", "A000000001", "A000000004"]
    );
    let child = html(&reg, &pages, Lang::ZhTw, params("臺北市", "", "", "child"));
    assert_eq!(
        order(&child),
        ["A000000001", "A000000003", "A000000002", "A000000004"]
    );
    // The delisted site shows the handed-out state and none of its counts.
    let delisted = &adult[adult.find("id=\"sA000000004\"").unwrap()..];
    let delisted = &delisted[..delisted.find("</li>").unwrap()];
    assert!(delisted.contains("今日號碼牌已發完"), "{delisted}");
    assert!(!delisted.contains("900"), "{delisted}");
    // States in words and classes.
    let few = &adult[adult.find("id=\"sA000000001\"").unwrap()..];
    assert!(few.starts_with("id=\"sA000000001\"><h3>甲藥局</h3>"));
    assert!(few.contains("<span class=\"m f k\">成人 <b>10</b> 少量</span>"));
    assert!(few.contains("<span class=\"m p\">兒童 <b>200</b> 充足</span>"));
    let none = &child[child.find("id=\"sA000000002\"").unwrap()..];
    assert!(none.contains("<span class=\"m n k\">兒童 <b>0</b> 已售完</span>"));
}

#[test]
fn district_search_and_tai_spellings() {
    let (reg, pages) = pages(SMALL);
    let daan = html(&reg, &pages, Lang::ZhTw, params("台北市", "大安區", "", ""));
    assert_eq!(order(&daan), ["A000000003", "A000000004"]);
    // A district of another county (a form sent after changing the county) is ignored.
    let mixed = html(&reg, &pages, Lang::ZhTw, params("新北市", "大安區", "", ""));
    assert_eq!(order(&mixed), ["B000000001"]);
    // Search over name and address, everywhere or within a county; 台 finds 臺.
    let q = html(&reg, &pages, Lang::ZhTw, params("", "", "台北市中正", ""));
    assert_eq!(order(&q), ["A000000002", "A000000001"]);
    let q = html(&reg, &pages, Lang::ZhTw, params("新北市", "", "藥局", ""));
    assert_eq!(order(&q), ["B000000001"]);
    let none = html(&reg, &pages, Lang::ZhTw, params("", "", "沒有這家", ""));
    assert!(order(&none).is_empty());
    assert!(none.contains("沒有符合的藥局。"));
    assert!(matches!(
        pages.lookup(Lang::ZhTw, &params("火星市", "", "", "")),
        Lookup::UnknownCounty(c) if c == "火星市"
    ));
}

#[test]
fn names_notes_and_queries_from_data_are_inert() {
    let (reg, mut pages) = pages(&[(
        "A000000001",
        "<script>alert(1)</script>\"藥局'",
        "臺北市中正區<b>路1號",
        10,
        10,
        true,
    )]);
    pages.sites[0].as_mut().unwrap().note = Some("<img src=x onerror=alert(2)>".to_owned());
    let page = html(&reg, &pages, Lang::ZhTw, params("臺北市", "", "", ""));
    let searched = html(
        &reg,
        &pages,
        Lang::ZhTw,
        params("臺北市", "", "\"><script>alert(3)</script>", ""),
    );
    assert!(!searched.contains("<script"), "{searched}");
    assert!(searched.contains("value=\"&quot;&gt;&lt;script&gt;alert(3)&lt;/script&gt;\""));
    assert!(!page.contains("<script"), "{page}");
    assert!(!page.contains("<img"), "{page}");
    assert!(!page.contains("<b>路"), "{page}");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;藥局&#39;"));
    assert!(page.contains("藥局公告</strong> &lt;img src=x onerror=alert(2)&gt;"));
    let unknown = pages.unknown_county(Lang::ZhTw, "<script>", 30);
    assert!(unknown.contains("找不到這個縣市：&lt;script&gt;"));
}

#[test]
fn links_open_the_map_app_and_the_phone() {
    let (reg, pages) = pages(&[("A000000001", "甲", "臺北市中正區忠孝 東路1號#2", 1, 1, true)]);
    let page = html(&reg, &pages, Lang::ZhTw, params("臺北市", "", "", ""));
    assert!(
        page.contains("href=\"geo:0,0?q=臺北市中正區忠孝%20東路1號%232\""),
        "{page}"
    );
    assert!(page.contains(
        "href=\"https://www.google.com/maps/search/?api=1&amp;query=臺北市中正區忠孝%20東路1號%232\""
    ));
    assert!(page.contains("<a href=\"tel:0227671757\">(02)27671757</a>"));
}

#[test]
fn the_english_page_is_english_with_the_same_sites() {
    let (reg, pages) = pages(SMALL);
    let en = html(&reg, &pages, Lang::En, params("臺北市", "", "", "child"));
    assert!(en.starts_with("<!doctype html>\n<html lang=\"en\">"));
    assert!(en.contains("Taipei City 臺北市"));
    assert!(en.contains("<span class=\"m p k\">Child <b>200</b> plenty</span>"));
    assert!(
        en.contains("Today&#39;s queue tickets are all handed out")
            || en.contains("Today's queue tickets are all handed out")
    );
    assert!(
        en.contains("href=\"/?county=臺北市&amp;kind=child\""),
        "link to the zh-TW page"
    );
    assert_eq!(
        order(&en),
        ["A000000001", "A000000003", "A000000002", "A000000004"]
    );
    let zh = html(&reg, &pages, Lang::ZhTw, PageParams::default());
    assert!(zh.starts_with("<!doctype html>\n<html lang=\"zh-TW\">"));
}

#[test]
fn every_fixed_view_of_the_real_registry_has_its_own_slot() {
    let registry = Registry::embedded().unwrap();
    let pages = Pages::build(&registry, &[], AT);
    assert_eq!(pages.fixed.len(), 4 * (1 + 22 + 367));
    let mut seen = HashSet::new();
    for lang in [Lang::ZhTw, Lang::En] {
        for kind in [Kind::Adult, Kind::Child] {
            let mut views = vec![(None, None)];
            for (c, county) in pages.dir.counties.iter().enumerate() {
                views.push((Some(c as u16), None));
                for d in 0..county.districts.len() {
                    views.push((Some(c as u16), Some(d as u16)));
                }
            }
            for (county, district) in views {
                let view = View {
                    lang,
                    kind,
                    county,
                    district,
                    query: None,
                    typed: String::new(),
                };
                let i = view.fixed_index(&pages.dir).unwrap();
                assert!(i < pages.fixed.len());
                assert!(seen.insert(i), "slot {i} twice");
                assert_eq!(View::of_fixed_index(&pages.dir, i), Some(view), "slot {i}");
            }
        }
    }
    assert_eq!(seen.len(), pages.fixed.len());
    assert_eq!(View::of_fixed_index(&pages.dir, pages.fixed.len()), None);
}

#[test]
fn a_page_is_rendered_once_per_snapshot_and_searches_are_bounded() {
    let (reg, pages) = pages(SMALL);
    let p = params("臺北市", "", "", "");
    let Lookup::Miss(m) = pages.lookup(Lang::ZhTw, &p) else {
        panic!("rendered before asked")
    };
    let first = pages.render(&reg, m, 30);
    let Lookup::Hit(again) = pages.lookup(Lang::ZhTw, &p) else {
        panic!("not kept")
    };
    assert!(Arc::ptr_eq(&first, &again));
    for n in 0..(SEARCH_CACHE + 10) {
        let p = params("", "", &format!("藥局{n}"), "");
        if let Lookup::Miss(m) = pages.lookup(Lang::ZhTw, &p) {
            pages.render(&reg, m, 30);
        }
    }
    assert_eq!(pages.searches.lock().unwrap().len(), SEARCH_CACHE);
}

#[test]
fn the_next_snapshot_renders_ahead_what_requests_asked_the_last_one_for() {
    let (reg, old) = pages(SMALL);
    let asked = [
        (Lang::ZhTw, params("臺北市", "", "", "")),
        (Lang::En, params("臺北市", "", "", "child")),
        (Lang::ZhTw, params("臺北市", "大安區", "", "")),
    ];
    for (lang, p) in &asked {
        html(&reg, &old, *lang, p.clone());
    }
    // A search is not carried over.
    html(&reg, &old, Lang::ZhTw, params("", "", "藥局", ""));
    let (_, unwarmed) = pages(SMALL);
    assert!(matches!(
        unwarmed.lookup(Lang::ZhTw, &asked[0].1),
        Lookup::Miss(_)
    ));
    let (_, next) = pages(SMALL);
    assert_eq!(next.warm_from(&old, &reg, 30), asked.len());
    for (lang, p) in &asked {
        assert!(
            matches!(next.lookup(*lang, p), Lookup::Hit(_)),
            "{p:?} not rendered ahead"
        );
    }
    for (lang, p) in [
        (Lang::ZhTw, PageParams::default()),
        (Lang::ZhTw, params("", "", "藥局", "")),
    ] {
        assert!(matches!(next.lookup(lang, &p), Lookup::Miss(_)), "{p:?}");
    }
    // Rendered ahead but not asked for again: the snapshot after does not render it.
    let (_, quiet) = pages(SMALL);
    quiet.warm_from(&old, &reg, 30);
    html(&reg, &quiet, Lang::ZhTw, asked[0].1.clone());
    let (_, third) = pages(SMALL);
    assert_eq!(
        third.warm_from(&quiet, &reg, 30),
        1,
        "only the view asked again"
    );
    // Another registry's views are not carried over.
    let (other_reg, other) = pages(&SMALL[..1]);
    assert_eq!(other.warm_from(&old, &other_reg, 30), 0);
}
