//! The browser harness itself (`support::browser`): a headless Chromium loads a page of a real
//! server, reads its text, and saves a screenshot of the asked size.

use crate::support::browser::{Browser, png_size};
use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_headless_chromium_reads_a_page_of_the_server_and_takes_its_screenshot() {
    let s = TestServer::sqlite("2020-03-12T09:00:00+08:00").await;
    let Some(browser) = Browser::open(390, 844).await else {
        return;
    };
    browser.goto(&format!("{}/v1/health", s.base)).await;
    let text = browser.text().await;
    assert!(text.contains("\"status\":\"ok\""), "{text}");
    assert!(browser.no_horizontal_scroll().await);
    let path = browser.screenshot("harness-health-390x844").await;
    let png = std::fs::read(&path).unwrap();
    assert_eq!(png_size(&png), Some((390, 844)));
    browser.close().await;
}
