//! The public stock page over HTTP: filters, search, sort, states, delisting, caching headers,
//! the English page, and data that must stay inert in HTML.

use std::io::Read;

use mask_server_stub::sites::Registry;
use mask_server_stub::{MaskKind, StockLevel};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::json;

use crate::on_both_backends;
use crate::support::*;

const NOW: &str = "2020-03-22T21:20:43+08:00";

struct Page {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

async fn page(s: &TestServer, path: &str, query: &[(&str, &str)]) -> Page {
    let r = s
        .http
        .get(format!("{}{path}", s.base))
        .query(query)
        .send()
        .await
        .unwrap();
    Page {
        status: r.status(),
        headers: r.headers().clone(),
        body: r.text().await.unwrap(),
    }
}

/// One listed site as the page shows it.
#[derive(Debug)]
struct Shown {
    code: String,
    /// The chosen kind's figure and state word, then the other's; `None` when delisted.
    figures: Option<[(i64, String); 2]>,
    handed_out: bool,
}

fn shown(body: &str) -> Vec<Shown> {
    body.split("<li class=\"s")
        .skip(1)
        .map(|item| {
            let item = &item[..item.find("</li>").unwrap()];
            let code_at = item.find("id=\"s").unwrap() + 5;
            let code = item[code_at..code_at + 10].to_owned();
            let figs: Vec<(i64, String)> = item
                .split("<b>")
                .skip(1)
                .map(|f| {
                    let (n, rest) = f.split_once("</b> ").unwrap();
                    let word = &rest[..rest.find("</span>").unwrap()];
                    (n.parse().unwrap(), word.to_owned())
                })
                .collect();
            Shown {
                code,
                handed_out: item.contains("今日號碼牌已發完"),
                figures: (figs.len() == 2).then(|| [figs[0].clone(), figs[1].clone()]),
            }
        })
        .collect()
}

fn codes_in(registry: &Registry, county: &str, district: Option<&str>) -> Vec<String> {
    let mut codes: Vec<String> = registry
        .all()
        .iter()
        .filter(|s| s.region.county == county && district.is_none_or(|d| s.region.district == d))
        .map(|s| s.code.clone())
        .collect();
    codes.sort();
    codes
}

fn sorted(list: &[Shown]) -> Vec<String> {
    let mut codes: Vec<String> = list.iter().map(|s| s.code.clone()).collect();
    codes.sort();
    codes
}

#[tokio::test]
async fn the_landing_page_is_a_small_county_chooser_with_a_labelled_form() {
    let s = TestServer::sqlite(NOW).await;
    let p = page(&s, "/", &[]).await;
    assert_eq!(p.status, StatusCode::OK);
    assert_eq!(p.headers["content-type"], "text/html; charset=utf-8");
    assert!(
        p.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("default-src 'none'; style-src 'self'")
    );
    let b = &p.body;
    assert!(b.starts_with("<!doctype html>\n<html lang=\"zh-TW\">"));
    assert!(b.contains("<h1><a href=\"/\">口罩庫存查詢</a></h1>"));
    for control in ["county", "q", "k-adult", "k-child"] {
        assert!(
            b.contains(&format!("<label for=\"{control}\">")),
            "{control}"
        );
        assert!(b.contains(&format!("id=\"{control}\"")), "{control}");
    }
    assert!(b.contains("<form method=\"get\" action=\"/\""));
    assert!(!b.contains("<script"), "no JavaScript");
    assert!(!b.contains("src=\"http"), "nothing loaded from elsewhere");
    assert_eq!(b.matches("<li><a href=\"/?county=").count(), 22);
    assert!(b.contains("<a href=\"/?county=新北市\">新北市</a>"));
    assert_eq!(shown(b).len(), 20, "a bounded list");
    assert!(b.len() < 40_000, "landing page is {} bytes", b.len());
}

#[tokio::test]
async fn county_and_district_pages_list_exactly_their_sites_by_what_remains() {
    let s = TestServer::sqlite(NOW).await;
    let registry = Registry::embedded().unwrap();
    let taipei = shown(&page(&s, "/", &[("county", "臺北市")]).await.body);
    assert_eq!(sorted(&taipei), codes_in(&registry, "臺北市", None));
    // 台 is the same county; a district narrows it.
    let daan = shown(
        &page(&s, "/", &[("county", "台北市"), ("district", "大安區")])
            .await
            .body,
    );
    assert_eq!(sorted(&daan), codes_in(&registry, "臺北市", Some("大安區")));
    assert!(daan.len() > 10);
    for (kind, list) in [
        (MaskKind::Adult, taipei),
        (
            MaskKind::Child,
            shown(
                &page(&s, "/", &[("county", "臺北市"), ("kind", "child")])
                    .await
                    .body,
            ),
        ),
    ] {
        let chosen: Vec<i64> = list
            .iter()
            .map(|s| s.figures.as_ref().unwrap()[0].0)
            .collect();
        assert!(
            chosen.windows(2).all(|w| w[0] >= w[1]),
            "{kind:?}: sorted by what remains"
        );
        // Every state word is the one StockLevel gives for the figure.
        for site in &list {
            let [(n, word), _] = site.figures.as_ref().unwrap();
            let expected = match StockLevel::of(kind, *n) {
                StockLevel::Plenty => "充足",
                StockLevel::Few => "少量",
                StockLevel::None => "已售完",
            };
            assert_eq!(word, expected, "{} {n}", site.code);
        }
        // The real data has all three states.
        for word in ["充足", "少量", "已售完"] {
            assert!(
                list.iter()
                    .any(|s| s.figures.as_ref().unwrap()[0].1 == word),
                "{kind:?} {word}"
            );
        }
    }
}

#[tokio::test]
async fn search_finds_names_and_addresses_and_is_bounded() {
    let s = TestServer::sqlite(NOW).await;
    // OTHER_SITE is 松山健康服務中心, 臺北市松山區八德路４段６９２號６樓.
    for q in [
        "松山健康",
        "八德路４段６９２",
        "台北市松山區八德路４段６９２",
    ] {
        let list = shown(&page(&s, "/", &[("q", q)]).await.body);
        assert!(list.iter().any(|x| x.code == OTHER_SITE), "{q}");
    }
    let within = shown(
        &page(&s, "/", &[("county", "新北市"), ("q", "松山健康")])
            .await
            .body,
    );
    assert!(within.is_empty());
    let p = page(&s, "/", &[("q", "藥局")]).await;
    assert_eq!(
        shown(&p.body).len(),
        200,
        "a search answers at most 200 sites"
    );
    assert!(p.body.contains("只列出前 200 家"));
}

#[tokio::test]
async fn names_and_queries_cannot_inject_markup() {
    let s = TestServer::sqlite(NOW).await;
    let evil = "\"><script>alert(1)</script>";
    for path in ["/", "/en/"] {
        let p = page(&s, path, &[("q", evil), ("county", "臺北市")]).await;
        assert_eq!(p.status, StatusCode::OK);
        assert!(!p.body.contains("<script"), "{path}");
        assert!(
            p.body
                .contains("value=\"&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\"")
        );
        let p = page(&s, path, &[("county", "<script>x")]).await;
        assert_eq!(p.status, StatusCode::NOT_FOUND);
        assert!(!p.body.contains("<script"), "{path}");
        assert!(p.body.contains("&lt;script&gt;x"));
    }
}

#[tokio::test]
async fn the_english_page_is_english() {
    let s = TestServer::sqlite(NOW).await;
    for path in ["/en/", "/en"] {
        let p = page(&s, path, &[("county", "臺北市"), ("kind", "child")]).await;
        assert_eq!(p.status, StatusCode::OK);
        let b = &p.body;
        assert!(b.starts_with("<!doctype html>\n<html lang=\"en\">"));
        assert!(b.contains("<h1><a href=\"/en/\">Mask stock finder</a></h1>"));
        assert!(b.contains("<label for=\"county\">County or city</label>"));
        assert!(b.contains("Taipei City 臺北市"));
        assert!(b.contains(" plenty</span>"));
        assert!(
            !b.contains("充足") && !b.contains("查詢"),
            "no Chinese words of ours"
        );
        assert!(b.contains("href=\"/?county=臺北市&amp;kind=child\""));
    }
    // ... and the zh-TW page links to the same view in English.
    let zh = page(&s, "/", &[("county", "臺北市")]).await.body;
    assert!(zh.contains("href=\"/en/?county=臺北市\">English</a>"));
}

on_both_backends!(
    a_sale_and_a_delisting_change_the_page_at_the_next_refresh,
    "2020-04-10T10:00:00+08:00",
    |s: TestServer| async move {
        // SITE (花蓮縣豐濱鄉) opens with 970 adult masks.
        let view = [("county", "花蓮縣"), ("district", "豐濱鄉")];
        let figure = |body: &str| {
            shown(body)
                .into_iter()
                .find(|x| x.code == SITE)
                .map(|x| (x.figures.map(|f| f[0].0), x.handed_out))
        };
        let before = page(&s, "/", &view).await;
        assert_eq!(figure(&before.body), Some((Some(970), false)));
        let sale = sale(&valid_id(7), 2, "2020-04-10T09:59:00+08:00");
        let (status, body) = s.post("/v1/sales", &json!({ "sales": [sale] })).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        // Same snapshot until the refresh: the same page.
        let same = page(&s, "/", &view).await;
        assert_eq!(same.headers["etag"], before.headers["etag"]);
        s.server.refresh_open_data().await.unwrap();
        let after = page(&s, "/", &view).await;
        assert_ne!(after.headers["etag"], before.headers["etag"]);
        assert_eq!(figure(&after.body), Some((Some(968), false)));
        // Delisted: tickets handed out, sorted last, gone from the open data.
        let (status, body) = s.post("/v1/listing", &json!({ "listed": false })).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(!s.maskdata().await.contains(SITE));
        let delisted = page(&s, "/", &view).await;
        assert_eq!(figure(&delisted.body), Some((None, true)));
        assert_eq!(shown(&delisted.body).last().unwrap().code, SITE);
    }
);

#[tokio::test]
async fn pages_are_cached_304_gzip_and_the_largest_county_is_under_100_kb() {
    let s = TestServer::start(Backend::Sqlite, NOW, |c| {
        c.refresh = std::time::Duration::from_secs(45);
    })
    .await;
    let url = format!("{}/", s.base);
    let get = |headers: &[(&str, &str)]| {
        let mut r = s.http.get(&url).query(&[("county", "新北市")]);
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        r.send()
    };
    let r = get(&[]).await.unwrap();
    assert_eq!(r.headers()["cache-control"], "public, max-age=45");
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let plain = r.bytes().await.unwrap();
    let r = get(&[("if-none-match", &etag)]).await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    let r = get(&[("accept-encoding", "gzip")]).await.unwrap();
    assert_eq!(r.headers()["content-encoding"], "gzip");
    assert_eq!(r.headers()["vary"], "Accept-Encoding");
    let gz_etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let gz = r.bytes().await.unwrap();
    assert!(gz.len() < 100_000, "新北市 is {} bytes gzipped", gz.len());
    let mut back = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut back)
        .unwrap();
    assert_eq!(back, plain);
    let r = get(&[("accept-encoding", "gzip"), ("if-none-match", &gz_etag)])
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    // The stylesheet too, and it is the only thing the page links to load.
    let body = String::from_utf8(plain.to_vec()).unwrap();
    let css_at = body.find("<link rel=\"stylesheet\" href=\"").unwrap() + 29;
    let css_path = &body[css_at..css_at + body[css_at..].find('"').unwrap()];
    assert!(css_path.starts_with("/style.css?v="));
    let r = s.get_public(css_path).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "text/css; charset=utf-8");
    assert!(r.headers().contains_key("etag"));
}

#[tokio::test]
async fn the_html_routes_stay_out_of_the_openapi_document() {
    let s = TestServer::sqlite(NOW).await;
    let (status, doc) = s.get("/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.contains_key("/maskdata.csv"));
    for html in ["/", "/en/", "/en", "/style.css"] {
        assert!(!paths.contains_key(html), "{html}");
    }
}

on_both_backends!(
    the_pharmacys_note_shows_on_its_site_from_the_next_refresh_and_stays_inert,
    "2020-04-10T10:00:00+08:00",
    |s: TestServer| async move {
        // SITE is in 花蓮縣豐濱鄉; the note as the counter sends it (POST /v1/note).
        let view = [("county", "花蓮縣"), ("district", "豐濱鄉")];
        let note =
            |text: &str, at: &str| json!({"id": uuid::Uuid::now_v7(), "note": text, "set_at": at});
        let before = page(&s, "/", &view).await;
        assert!(!before.body.contains("09:00 發放"));
        let set = note("號碼牌 09:00 發放 <b>", "2020-04-10T09:00:00+08:00");
        let (status, body) = s.post("/v1/note", &set).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        s.server.refresh_open_data().await.unwrap();
        let zh = page(&s, "/", &view).await.body;
        assert!(
            zh.contains("藥局公告</strong> 號碼牌 09:00 發放 &lt;b&gt;"),
            "{zh}"
        );
        let en = page(&s, "/en/", &view).await.body;
        assert!(
            en.contains("Pharmacy note</strong> 號碼牌 09:00 發放 &lt;b&gt;"),
            "{en}"
        );
        // A delisted pharmacy keeps its note on the page (it says when tickets are handed out).
        let (status, body) = s.post("/v1/listing", &json!({ "listed": false })).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let delisted = page(&s, "/", &view).await.body;
        assert!(delisted.contains("號碼牌 09:00 發放"), "{delisted}");
        // An emptied note is gone at the next refresh.
        let clear = note("", "2020-04-10T09:30:00+08:00");
        let (status, body) = s.post("/v1/note", &clear).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        s.server.refresh_open_data().await.unwrap();
        assert!(!page(&s, "/", &view).await.body.contains("09:00 發放"));
    }
);
