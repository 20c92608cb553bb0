//! The stock page in a real browser (headless Chromium, `support::browser`): the form by
//! keyboard, a sale and a delisting seen within one refresh, the English page, and screenshots
//! of the phone and desktop layouts.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::browser::Browser;
use crate::support::*;

const NOW: &str = "2020-03-22T21:20:43+08:00";
const ENTER: &str = "\u{e007}";
const TAB: &str = "\u{e004}";
const ARROW_RIGHT: &str = "\u{e014}";

/// The chosen kind's figure of a site on the page shown, or the handed-out text.
async fn state_of(browser: &Browser, code: &str) -> String {
    browser
        .eval(&format!(
            "const s = document.getElementById('s{code}'); \
             if (!s) return ''; const k = s.querySelector('.m.k b'); \
             return k ? k.textContent : s.querySelector('.m.x').textContent;"
        ))
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_form_works_from_the_keyboard() {
    let s = TestServer::sqlite(NOW).await;
    let Some(b) = Browser::open(390, 844).await else {
        return;
    };
    b.goto(&format!("{}/", s.base)).await;
    // County chosen, text typed, Enter in the text field submits the GET form.
    b.find("#county")
        .await
        .select_by_value("臺北市")
        .await
        .unwrap();
    b.find("#q")
        .await
        .send_keys(&format!("健康服務中心{ENTER}"))
        .await
        .unwrap();
    b.wait_for_url("q=%E5%81%A5").await;
    let url = b.url().await;
    assert!(url.contains("county=%E8%87%BA%E5%8C%97%E5%B8%82"), "{url}");
    assert!(url.contains("q=%E5%81%A5"), "{url}");
    let text = b.text().await;
    assert!(text.contains("松山健康服務中心"), "{text}");
    let addresses = b
        .eval(
            "return [...document.querySelectorAll('.s .a a:first-child')].map(a => a.textContent)",
        )
        .await;
    let addresses = addresses.as_array().unwrap();
    assert!(!addresses.is_empty());
    assert!(addresses.iter().all(|a| {
        a.as_str()
            .unwrap()
            .replace('台', "臺")
            .starts_with("臺北市")
    }));
    // From the text field, Tab goes on to the kind; an arrow key picks "child"; Tab to the
    // button and Enter submits: the list is now about child masks.
    b.find("#q").await.send_keys(TAB).await.unwrap();
    let focused = b.eval("return document.activeElement.id").await;
    assert_eq!(focused, "k-adult");
    b.type_keys(ARROW_RIGHT).await;
    b.type_keys(TAB).await;
    let focused = b.eval("return document.activeElement.tagName").await;
    assert_eq!(focused, "BUTTON");
    b.type_keys(ENTER).await;
    b.wait_for_url("kind=child").await;
    assert!(b.text().await.contains("依剩餘數排序：兒童"));
    // The district select appears with a county and narrows the list.
    b.find("#q").await.clear().await.unwrap();
    b.find("#district")
        .await
        .select_by_value("松山區")
        .await
        .unwrap();
    b.find("#q").await.send_keys(ENTER).await.unwrap();
    b.wait_for_url("district=%E6%9D%BE%E5%B1%B1%E5%8D%80").await;
    let addresses = b
        .eval(
            "return [...document.querySelectorAll('.s .a a:first-child')].map(a => a.textContent)",
        )
        .await;
    let addresses = addresses.as_array().unwrap();
    assert!(addresses.len() > 5);
    assert!(addresses.iter().all(|a| {
        a.as_str()
            .unwrap()
            .replace('台', "臺")
            .starts_with("臺北市松山區")
    }));
    b.close().await;
}

/// The data time the page shows (its header's `<time datetime>`).
async fn data_time(browser: &Browser) -> time::OffsetDateTime {
    let text = browser
        .eval("return document.querySelector('header time').getAttribute('datetime')")
        .await;
    time::OffsetDateTime::parse(
        text.as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sale_and_a_delisting_show_on_the_page_within_one_refresh() {
    let refresh = Duration::from_secs(2);
    let s = TestServer::start(Backend::Sqlite, "2020-04-10T10:00:00+08:00", |c| {
        c.refresh = refresh;
    })
    .await;
    let Some(b) = Browser::open(1280, 800).await else {
        return;
    };
    let url = format!("{}/?county=花蓮縣&district=豐濱鄉", s.base);
    b.goto(&url).await;
    assert_eq!(state_of(&b, SITE).await, "970");
    // Reloads until the page comes from a snapshot taken a second or more after the change
    // (the next refresh, whatever the machine's load): that page must show `expected`.
    let next_refresh_shows = |expected: &'static str| {
        let (b, url, server) = (&b, &url, &s.server);
        async move {
            let changed_at = server.now();
            let started = Instant::now();
            loop {
                b.goto(url).await;
                if data_time(b).await >= changed_at + time::Duration::seconds(1) {
                    assert_eq!(state_of(b, SITE).await, expected);
                    return started.elapsed();
                }
                assert!(
                    started.elapsed() < refresh * 10,
                    "no refresh in {:?}",
                    started.elapsed()
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    // A sale as the agent sends it, with the pharmacy's token.
    let sale = sale(&valid_id(11), 2, "2020-04-10T09:59:00+08:00");
    let (status, body) = s.post("/v1/sales", &json!({ "sales": [sale] })).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    let took = next_refresh_shows("968").await;
    eprintln!("sale shown by the next refresh, {took:?} after it");
    // One-click delisting, as the counter sends it.
    let (status, body) = s.post("/v1/listing", &json!({ "listed": false })).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    let took = next_refresh_shows("今日號碼牌已發完").await;
    eprintln!("delisting shown by the next refresh, {took:?} after it");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_english_page_is_english() {
    let s = TestServer::sqlite(NOW).await;
    let Some(b) = Browser::open(1280, 800).await else {
        return;
    };
    b.goto(&format!("{}/en/?county=臺北市", s.base)).await;
    assert_eq!(b.eval("return document.documentElement.lang").await, "en");
    let text = b.text().await;
    for words in [
        "Mask stock finder",
        "County or city",
        "Pharmacy name or address",
        "Sorted by remaining: Adult",
        "Taipei City 臺北市",
    ] {
        assert!(text.contains(words), "{words}");
    }
    for word in ["口罩庫存查詢", "查詢條件", "充足", "已售完"] {
        assert!(!text.contains(word), "{word}");
    }
    // The language link leads to the same view in zh-TW.
    b.find("header a[hreflang]").await.click().await.unwrap();
    b.wait_for_url(&format!("{}/?county=", s.base)).await;
    assert_eq!(
        b.eval("return document.documentElement.lang").await,
        "zh-TW"
    );
    assert!(b.text().await.contains("口罩庫存查詢"));
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screenshots_of_the_phone_and_desktop_layouts() {
    let s = TestServer::sqlite(NOW).await;
    // A delisted site in the shot too.
    let (status, _) = s
        .post_as(&s.other_token, "/v1/listing", &json!({ "listed": false }))
        .await;
    assert_eq!(status, reqwest::StatusCode::OK);
    s.server.refresh_open_data().await.unwrap();
    for (width, height, name) in [(390, 844, "phone"), (1280, 800, "desktop")] {
        let Some(b) = Browser::open(width, height).await else {
            return;
        };
        for (path, label, key_text) in [
            ("/", "landing", "選擇縣市"),
            (
                "/?county=臺北市&district=松山區",
                "taipei",
                "松山健康服務中心",
            ),
            (
                "/en/?county=臺北市&district=松山區",
                "taipei-en",
                "handed out",
            ),
        ] {
            b.goto(&format!("{}{path}", s.base)).await;
            let text = b.text().await;
            assert!(text.contains(key_text), "{label} {name}: {key_text}");
            assert!(
                text.contains("口罩庫存查詢") || text.contains("Mask stock finder"),
                "{label}"
            );
            b.screenshot(&format!("stock-page-{label}-{name}-{width}x{height}"))
                .await;
            assert!(
                b.no_horizontal_scroll().await,
                "{label} scrolls sideways at {width} px"
            );
        }
        b.close().await;
    }
}
