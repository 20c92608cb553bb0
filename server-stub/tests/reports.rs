//! The agencies' sales report (`GET /v1/reports/sales`) and its page (`GET /reports`): sales
//! posted through the real API with pharmacy tokens, the report read with an audit token.

use std::collections::HashMap;

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::on_both_backends;
use crate::support::*;

const NOW: &str = "2020-03-13T20:00:00+08:00";

/// A sale JSON of `kind` with a new UUIDv7.
fn sale_of(kind: &str, id_no: &str, quantity: u32, sold_at: &str) -> Value {
    let mut s = sale(id_no, quantity, sold_at);
    s["kind"] = json!(kind);
    if kind == "child" {
        s["birth_date"] = json!("2015-01-01");
    }
    s
}

async fn post_sales(s: &TestServer, token: &str, sales: Vec<Value>) {
    let (status, body) = s
        .post_as(token, "/v1/sales", &json!({ "sales": sales }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for r in body["results"].as_array().unwrap() {
        assert!(
            r["status"] == "accepted" || r["status"] == "overrun",
            "{body}"
        );
    }
}

async fn remaining(s: &TestServer, token: &str, day: &str) -> (i64, i64) {
    let (status, inv) = s.get_as(token, &format!("/v1/inventory?date={day}")).await;
    assert_eq!(status, StatusCode::OK, "{inv}");
    (
        inv["remaining_adult"].as_i64().unwrap(),
        inv["remaining_child"].as_i64().unwrap(),
    )
}

async fn report_csv(s: &TestServer, audit: &str, query: &str) -> (StatusCode, String) {
    let r = s
        .http
        .get(format!("{}/v1/reports/sales?{query}", s.base))
        .bearer_auth(audit)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    let status = r.status();
    if status == StatusCode::OK {
        assert_eq!(
            r.headers()["content-type"].to_str().unwrap(),
            "text/csv; charset=utf-8"
        );
    }
    (status, r.text().await.unwrap())
}

/// The entry of `list` (`sites` or `counties`) whose `key` is `value`.
fn entry<'a>(report: &'a Value, list: &str, key: &str, value: &str) -> &'a Value {
    report[list]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e[key] == value)
        .unwrap_or_else(|| panic!("{value} not in the report's {list}"))
}

fn site_of<'a>(report: &'a Value, code: &str) -> &'a Value {
    entry(report, "sites", "site", code)
}

fn county_of<'a>(report: &'a Value, county: &str) -> &'a Value {
    entry(report, "counties", "county", county)
}

/// Every figure of the JSON report keyed like a CSV row: (day, slot, level, name) → figures.
fn json_rows(report: &Value) -> HashMap<(String, String, String, String), Vec<String>> {
    let mut out = HashMap::new();
    let levels = report["counties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| ("county", c["county"].as_str().unwrap()))
        .chain(
            report["sites"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| ("site", s["site"].as_str().unwrap())),
        );
    let all: Vec<&Value> = report["counties"]
        .as_array()
        .unwrap()
        .iter()
        .chain(report["sites"].as_array().unwrap())
        .collect();
    for ((level, name), entry) in levels.zip(all) {
        for d in entry["days"].as_array().unwrap() {
            let day = d["day"].as_str().unwrap().to_owned();
            for s in d["slots"].as_array().unwrap() {
                let h = s["from_hour"].as_u64().unwrap();
                out.insert(
                    (
                        day.clone(),
                        format!("{h:02}-{:02}", h + 3),
                        level.to_owned(),
                        name.to_owned(),
                    ),
                    vec![
                        s["adult"].to_string(),
                        s["child"].to_string(),
                        String::new(),
                        String::new(),
                    ],
                );
            }
            out.insert(
                (day, "day".into(), level.to_owned(), name.to_owned()),
                vec![
                    d["sold_adult"].to_string(),
                    d["sold_child"].to_string(),
                    d["remaining_adult"].to_string(),
                    d["remaining_child"].to_string(),
                ],
            );
        }
    }
    out
}

on_both_backends!(
    report_figures_are_exact_and_csv_and_json_agree,
    NOW,
    |s: TestServer| async move {
        let audit = s.server.issue_audit_token(None).await.unwrap();
        let opening = remaining(&s, &s.token, "2020-03-11").await;
        let sales = vec![
            // The last instant of slot 00–03 and the first of 03–06 (Taipei).
            sale_of("adult", &valid_id(1), 2, "2020-03-12T02:59:59.999+08:00"),
            sale_of("adult", &valid_id(2), 3, "2020-03-12T03:00:00+08:00"),
            // 16:00 UTC on the 12th is midnight of the 13th in Taipei.
            sale_of("child", &valid_id(3), 1, "2020-03-12T16:00:00Z"),
            // The same buyer again within the window: an overrun, handed out all the same.
            sale_of("adult", &valid_id(2), 3, "2020-03-13T10:00:00+08:00"),
        ];
        post_sales(&s, &s.token, sales.clone()).await;
        // A replay of the batch changes nothing.
        post_sales(&s, &s.token, sales).await;
        post_sales(
            &s,
            &s.other_token,
            vec![sale_of(
                "adult",
                &valid_id(4),
                4,
                "2020-03-13T21:30:00+08:00",
            )],
        )
        .await;
        let delivery = json!({
            "id": Uuid::now_v7(),
            "received_adult": 100,
            "received_child": 20,
            "damaged_adult": 2,
            "damaged_child": 0,
            "recorded_at": "2020-03-13T08:00:00+08:00",
        });
        let (status, body) = s.post("/v1/stock", &delivery).await;
        assert_eq!(status, StatusCode::OK, "{body}");

        let (status, report) = s
            .get_as(&audit, "/v1/reports/sales?from=2020-03-12&to=2020-03-13")
            .await;
        assert_eq!(status, StatusCode::OK, "{report}");
        assert_eq!(report["from"], "2020-03-12");
        assert_eq!(report["counties"].as_array().unwrap().len(), 22);
        let codes: Vec<&str> = report["sites"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["site"].as_str().unwrap())
            .collect();
        assert_eq!(codes, [SITE, OTHER_SITE]);

        let mine = site_of(&report, SITE);
        let (d12, d13) = (&mine["days"][0], &mine["days"][1]);
        assert_eq!(d12["day"], "2020-03-12");
        assert_eq!(
            (
                d12["slots"][0]["adult"].clone(),
                d12["slots"][1]["adult"].clone()
            ),
            (json!(2), json!(3))
        );
        assert_eq!(
            (d12["sold_adult"].clone(), d12["sold_child"].clone()),
            (json!(5), json!(0))
        );
        assert_eq!(d13["slots"][0]["child"], 1, "Taipei midnight, not UTC");
        assert_eq!(d13["slots"][3]["adult"], 3, "the overrun counts as sold");
        assert_eq!(
            (d13["sold_adult"].clone(), d13["sold_child"].clone()),
            (json!(3), json!(1))
        );
        // End-of-day stock: opening − sold, then + received − damaged − sold; the same as the
        // pharmacy's own inventory says.
        assert_eq!(
            (
                d12["remaining_adult"].as_i64().unwrap(),
                d12["remaining_child"].as_i64().unwrap()
            ),
            (opening.0 - 5, opening.1)
        );
        assert_eq!(
            (
                d13["remaining_adult"].as_i64().unwrap(),
                d13["remaining_child"].as_i64().unwrap()
            ),
            (opening.0 - 5 + 98 - 3, opening.1 + 20 - 1)
        );
        for (n, day) in ["2020-03-12", "2020-03-13"].iter().enumerate() {
            let inv = remaining(&s, &s.token, day).await;
            let d = &mine["days"][n];
            assert_eq!(
                (
                    d["remaining_adult"].as_i64().unwrap(),
                    d["remaining_child"].as_i64().unwrap()
                ),
                inv
            );
        }
        let other = site_of(&report, OTHER_SITE);
        assert_eq!(other["days"][1]["slots"][7]["adult"], 4);

        // The county of each site has its sales (the two sites are in different counties).
        let county = county_of(&report, mine["county"].as_str().unwrap());
        assert_ne!(mine["county"], other["county"]);
        assert_eq!(county["days"][0]["slots"][0]["adult"], 2);
        assert_eq!(county["days"][1]["sold_adult"], 3);

        // The CSV says exactly what the JSON says.
        let (status, text) = report_csv(&s, &audit, "from=2020-03-12&to=2020-03-13").await;
        assert_eq!(status, StatusCode::OK, "{text}");
        let mut lines = text.lines();
        assert_eq!(
            lines.next().unwrap(),
            "day,slot,level,county,district,site,sold_adult,sold_child,remaining_adult,remaining_child"
        );
        let expected = json_rows(&report);
        let mut seen = 0;
        for line in lines {
            let f: Vec<&str> = line.split(',').collect();
            assert_eq!(f.len(), 10, "{line}");
            let name = if f[2] == "site" { f[5] } else { f[3] };
            let key = (
                f[0].to_owned(),
                f[1].to_owned(),
                f[2].to_owned(),
                name.to_owned(),
            );
            let figures: Vec<String> = f[6..].iter().map(|v| (*v).to_owned()).collect();
            assert_eq!(expected.get(&key), Some(&figures), "{line}");
            seen += 1;
        }
        assert_eq!(seen, expected.len());
        let (_, by_format) =
            report_csv(&s, &audit, "from=2020-03-12&to=2020-03-13&format=csv").await;
        assert_eq!(by_format, text);
    }
);

on_both_backends!(
    only_audit_tokens_read_the_report_and_the_range_is_bounded,
    NOW,
    |s: TestServer| async move {
        let audit = s.server.issue_audit_token(None).await.unwrap();
        let path = "/v1/reports/sales?from=2020-03-12&to=2020-03-13";
        let r = s.get_public(path).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let (status, body) = s.get(path).await;
        assert_eq!(
            (status, body["code"].clone()),
            (StatusCode::FORBIDDEN, json!("forbidden"))
        );
        for bad in [
            "from=2020-03-01&to=2020-04-01",
            "from=2020-03-13&to=2020-03-12",
            "from=2020-3-1&to=2020-03-02",
            "from=2020-03-12&to=2020-03-13&format=xml",
            "from=2020-03-12",
        ] {
            let r = s.get_raw(&audit, &format!("/v1/reports/sales?{bad}")).await;
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
            assert_eq!(
                r.headers()["content-type"].to_str().unwrap(),
                "application/problem+json",
                "{bad}"
            );
        }
        // 31 days is the most.
        let (status, body) = s
            .get_as(&audit, "/v1/reports/sales?from=2020-03-01&to=2020-03-31")
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["counties"][0]["days"].as_array().unwrap().len(), 31);
    }
);

/// A client that keeps no cookies and follows no redirects: the test handles both.
fn browser_like() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Logs in on the page with `token`; the answer.
async fn login(s: &TestServer, token: &str, lang: &str) -> reqwest::Response {
    browser_like()
        .post(format!("{}/reports/login", s.base))
        .form(&[("token", token), ("lang", lang)])
        .send()
        .await
        .unwrap()
}

/// The session cookie (`name=value`) a successful login set.
async fn session(s: &TestServer, audit: &str) -> String {
    let r = login(s, audit, "zh").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/reports");
    let set = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set.contains("HttpOnly"), "{set}");
    assert!(set.contains("SameSite=Strict"), "{set}");
    assert!(set.contains("Path=/reports"), "{set}");
    assert!(
        !set.contains(audit),
        "the token itself is never in the cookie"
    );
    set.split(';').next().unwrap().to_owned()
}

async fn page(s: &TestServer, cookie: Option<&str>, query: &str) -> (StatusCode, String) {
    let mut req = browser_like().get(format!("{}/reports{query}", s.base));
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let r = req.send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

/// A data point of a chart: its element (`circle` of the sales chart, `rect` of the stock chart)
/// and its `data-*` attributes (without the prefix).
#[derive(Debug)]
pub struct ChartPoint {
    pub element: String,
    pub data: HashMap<String, String>,
}

/// Every element of class `point` in the page's HTML as the server sent it.
pub fn chart_points(html: &str) -> Vec<ChartPoint> {
    let mut out = Vec::new();
    for element in ["circle", "rect"] {
        for rest in html.split(&format!("<{element} ")).skip(1) {
            let Some((tag, _)) = rest.split_once('>') else {
                continue;
            };
            if !tag.contains("class=\"point\"") {
                continue;
            }
            let data = tag
                .split(" data-")
                .skip(1)
                .filter_map(|a| {
                    let (name, value) = a.split_once("=\"")?;
                    Some((name.to_owned(), value.split('"').next()?.to_owned()))
                })
                .collect();
            out.push(ChartPoint {
                element: element.to_owned(),
                data,
            });
        }
    }
    out
}

/// Checks every data point of the report page against the API's report of the same days.
pub fn points_match_report(points: &[ChartPoint], report: &Value, other_counties: &str) {
    let counties = report["counties"].as_array().unwrap();
    let slot_value = |c: &Value, day: &str, hour: u64| -> i64 {
        let d = c["days"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["day"] == day)
            .unwrap();
        let s = &d["slots"][usize::try_from(hour / 3).unwrap()];
        s["adult"].as_i64().unwrap() + s["child"].as_i64().unwrap()
    };
    let get = |p: &ChartPoint, name: &str| -> String {
        p.data
            .get(name)
            .unwrap_or_else(|| panic!("{p:?} has no data-{name}"))
            .clone()
    };
    let circles: Vec<&ChartPoint> = points.iter().filter(|p| p.element == "circle").collect();
    let named: Vec<String> = circles
        .iter()
        .map(|p| get(p, "series"))
        .filter(|n| n != other_counties)
        .collect();
    let days = counties[0]["days"].as_array().unwrap().len();
    assert_eq!(
        circles.len(),
        6 * days * 8,
        "5 counties and the rest, 8 slots a day"
    );
    for p in &circles {
        let series = get(p, "series");
        let day = get(p, "day");
        let hour: u64 = get(p, "slot").parse().unwrap();
        let value: i64 = get(p, "value").parse().unwrap();
        let expected: i64 = if series == other_counties {
            counties
                .iter()
                .filter(|c| !named.iter().any(|n| c["county"] == n.as_str()))
                .map(|c| slot_value(c, &day, hour))
                .sum()
        } else {
            let c = counties.iter().find(|c| c["county"] == series).unwrap();
            slot_value(c, &day, hour)
        };
        assert_eq!(value, expected, "{p:?}");
    }
    let bars: Vec<&ChartPoint> = points.iter().filter(|p| p.element == "rect").collect();
    assert_eq!(bars.len(), counties.len() * 2, "adult and child per county");
    for p in &bars {
        let county = get(p, "category");
        let part = get(p, "part");
        let value: i64 = get(p, "value").parse().unwrap();
        let c = counties.iter().find(|c| c["county"] == county).unwrap();
        let last = c["days"].as_array().unwrap().last().unwrap();
        assert_eq!(
            value,
            last[format!("remaining_{part}")].as_i64().unwrap(),
            "{p:?}"
        );
    }
}

/// A few sales at two sites in two counties, for the page's tests.
async fn sales_for_the_page(s: &TestServer) {
    post_sales(
        s,
        &s.token,
        vec![
            sale_of("adult", &valid_id(1), 2, "2020-03-12T10:00:00+08:00"),
            sale_of("child", &valid_id(2), 1, "2020-03-13T18:00:00+08:00"),
        ],
    )
    .await;
    post_sales(
        s,
        &s.other_token,
        vec![sale_of(
            "adult",
            &valid_id(3),
            3,
            "2020-03-13T09:00:00+08:00",
        )],
    )
    .await;
}

on_both_backends!(
    the_report_page_needs_an_audit_session_and_its_charts_match_the_api,
    NOW,
    |s: TestServer| async move {
        let audit = s.server.issue_audit_token(None).await.unwrap();
        sales_for_the_page(&s).await;

        // No session: the login form, 401. A pharmacy token is refused (403), an unknown one 401.
        let (status, html) = page(&s, None, "").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(
            html.contains(r#"<form method="post" action="/reports/login">"#),
            "{html}"
        );
        assert!(!html.contains("<svg"));
        let r = login(&s, &s.token, "zh").await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(r.headers().get("set-cookie").is_none());
        assert!(r.text().await.unwrap().contains("藥局權杖"));
        let r = login(&s, "mst_not-a-token", "en").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(r.headers().get("set-cookie").is_none());
        // A forged or altered cookie is no session.
        let cookie = session(&s, &audit).await;
        let forged = format!("{}0", cookie);
        assert_eq!(
            page(&s, Some(&forged), "").await.0,
            StatusCode::UNAUTHORIZED
        );

        let (status, html) = page(&s, Some(&cookie), "").await;
        assert_eq!(status, StatusCode::OK, "{html}");
        assert!(html.starts_with("<!DOCTYPE html><html lang=\"zh-Hant-TW\">"));
        assert!(html.contains("id=\"sales-chart\"") && html.contains("id=\"stock-chart\""));
        // No script and nothing fetched from elsewhere.
        assert!(
            !html.contains("<script") && !html.contains("src=") && !html.contains("href=\"http")
        );
        let (_, report) = s
            .get_as(&audit, "/v1/reports/sales?from=2020-03-07&to=2020-03-13")
            .await;
        points_match_report(&chart_points(&html), &report, "其他縣市");

        let (status, english) = page(&s, Some(&cookie), "?lang=en").await;
        assert_eq!(status, StatusCode::OK);
        assert!(english.contains("<html lang=\"en\">") && english.contains("Mask sales report"));
        points_match_report(&chart_points(&english), &report, "Other counties");

        // Logging out clears the cookie.
        let r = browser_like()
            .post(format!("{}/reports/logout", s.base))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert!(
            r.headers()["set-cookie"]
                .to_str()
                .unwrap()
                .contains("Max-Age=0")
        );
    }
);

/// The report page in a real browser: log in through the form, the charts render as SVG, every
/// data point in the DOM equals the API's figure, the session cookie is out of the page's reach.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_browser_the_report_page_logs_in_and_its_charts_match_the_api() {
    use crate::support::browser::Browser;
    use fantoccini::Locator;

    let s = TestServer::sqlite(NOW).await;
    let Some(browser) = Browser::open(1280, 800).await else {
        return;
    };
    let audit = s.server.issue_audit_token(None).await.unwrap();
    sales_for_the_page(&s).await;

    browser.goto(&format!("{}/reports", s.base)).await;
    assert!(browser.text().await.contains("登入報表"));
    browser
        .find("#token")
        .await
        .send_keys(&audit)
        .await
        .unwrap();
    browser
        .find("form[action='/reports/login'] button")
        .await
        .click()
        .await
        .unwrap();
    browser
        .client()
        .wait()
        .for_element(Locator::Css("#stock-chart"))
        .await
        .expect("the report page after logging in");
    assert_eq!(browser.url().await, format!("{}/reports", s.base));
    let rendered = browser
        .eval(
            "return Array.from(document.querySelectorAll('svg.chart')).map(s => { \
                 const r = s.getBoundingClientRect(); return [s.id, r.width, r.height]; });",
        )
        .await;
    let rendered = rendered.as_array().unwrap();
    assert_eq!(rendered.len(), 2, "{rendered:?}");
    for chart in rendered {
        assert!(
            chart[1].as_f64().unwrap() > 600.0 && chart[2].as_f64().unwrap() > 200.0,
            "{chart}"
        );
    }
    assert_eq!(browser.eval("return document.cookie").await, "", "HttpOnly");
    let points = browser
        .eval(
            "return Array.from(document.querySelectorAll('svg.chart .point')).map(e => { \
                 const data = {}; \
                 for (const a of e.attributes) { \
                     if (a.name.startsWith('data-')) data[a.name.slice(5)] = a.value; \
                 } \
                 return [e.tagName.toLowerCase(), data]; });",
        )
        .await;
    let points: Vec<ChartPoint> = points
        .as_array()
        .unwrap()
        .iter()
        .map(|p| ChartPoint {
            element: p[0].as_str().unwrap().to_owned(),
            data: p[1]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                .collect(),
        })
        .collect();
    let (_, report) = s
        .get_as(&audit, "/v1/reports/sales?from=2020-03-07&to=2020-03-13")
        .await;
    points_match_report(&points, &report, "其他縣市");
    browser.screenshot("reports-page-1280x800").await;

    // The English page, same session.
    browser.goto(&format!("{}/reports?lang=en", s.base)).await;
    assert!(browser.text().await.contains("Sales per 3 hours by county"));
    browser.screenshot("reports-page-en-1280x800").await;
    browser.close().await;
}
