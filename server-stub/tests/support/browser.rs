//! A real browser for tests: Debian's headless Chromium driven through `chromedriver` with the
//! `fantoccini` WebDriver client.
//!
//! - One `chromedriver` per test binary, started on a free loopback port the first time a test
//!   asks for a browser, and stopped when the test binary exits (it runs under a small shell that
//!   kills its process group once the binary's end of a pipe closes — no `unsafe`, no leftovers).
//! - Each [`Browser`] is its own WebDriver session: a fresh Chromium with its own
//!   `--user-data-dir` (a temp dir) and a fixed window size. At most [`MAX_BROWSERS`] run at once
//!   (the machine has 2 cores); the others wait for a place.
//! - Missing Chromium or chromedriver: the test prints why and passes, unless `CI` or
//!   `REQUIRE_BROWSER=1` is set — then it fails saying what to install (as `REQUIRE_PCSC` does for
//!   the card stack). `scripts/install-deps.sh` installs `chromium`, `chromium-driver` and
//!   `fonts-noto-cjk`; `MASK_CHROMIUM` / `MASK_CHROMEDRIVER` name other binaries.
//! - Screenshots go to [`artifact_dir`]: `$MASK_TEST_ARTIFACT_DIR`, else
//!   `$CARGO_TARGET_DIR/test-artifacts`, else `target/test-artifacts` in the workspace.
//!
//! ```ignore
//! let Some(browser) = browser::Browser::open(390, 844).await else { return };
//! browser.goto(&format!("{}/", server.base)).await;
//! assert!(browser.text().await.contains("口罩"));
//! browser.screenshot("stock-page-phone").await;      // checked PNG of 390×844
//! assert!(browser.no_horizontal_scroll().await);
//! browser.close().await;
//! ```
#![allow(dead_code)]

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::{Semaphore, SemaphorePermit};

/// Browsers open at once in one test binary.
pub const MAX_BROWSERS: usize = 2;

/// Whether the environment demands a browser (`CI` or `REQUIRE_BROWSER=1`).
pub fn required() -> bool {
    std::env::var("REQUIRE_BROWSER").as_deref() == Ok("1")
        || std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// Where test artifacts (screenshots) are written; created on first use.
pub fn artifact_dir() -> PathBuf {
    let dir = std::env::var_os("MASK_TEST_ARTIFACT_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR").map(|t| PathBuf::from(t).join("test-artifacts"))
        })
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-artifacts"));
    std::fs::create_dir_all(&dir).expect("create the test artifact directory");
    dir
}

/// `name` found on `PATH` (or the path itself when it has a slash).
fn find_program(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        return Path::new(name).is_file().then(|| PathBuf::from(name));
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The running chromedriver of this test binary.
struct Driver {
    url: String,
    chromium: PathBuf,
    /// Closing this (at process exit) makes the wrapper shell stop chromedriver and its browsers.
    _stdin: Mutex<ChildStdin>,
    _child: Mutex<Child>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn start_driver() -> Result<Driver, String> {
    let chromium = std::env::var("MASK_CHROMIUM")
        .ok()
        .or_else(|| Some("chromium".to_owned()))
        .and_then(|n| find_program(&n))
        .ok_or("chromium not found (apt-get install chromium, or set MASK_CHROMIUM)")?;
    let driver = std::env::var("MASK_CHROMEDRIVER")
        .ok()
        .or_else(|| Some("chromedriver".to_owned()))
        .and_then(|n| find_program(&n))
        .ok_or(
            "chromedriver not found (apt-get install chromium-driver, or set MASK_CHROMEDRIVER)",
        )?;
    let port = free_port();
    // The shell runs chromedriver in its own process group (setsid) and waits on its stdin; when
    // this test binary exits the pipe closes, `read` returns and the whole group (chromedriver
    // and any browser it started) is stopped.
    let script = r#"set -m; "$0" --port="$1" --log-level=WARNING >/dev/null 2>&1 & pid=$!; read _; kill -TERM -"$pid" 2>/dev/null; kill -TERM "$pid" 2>/dev/null; wait"#;
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(&driver)
        .arg(port.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", driver.display()))?;
    let stdin = child
        .stdin
        .take()
        .ok_or("no stdin pipe to chromedriver's shell")?;
    let url = format!("http://127.0.0.1:{port}");
    // Ready when its /status answers `ready: true` (polled; it takes a few hundred ms).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = write!(
                stream,
                "GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
            );
            let mut answer = String::new();
            let _ = std::io::Read::read_to_string(&mut stream, &mut answer);
            if answer.contains("\"ready\":true") || answer.contains("\"ready\": true") {
                break;
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("chromedriver exited at start ({status})"));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "chromedriver did not get ready on {url} within 20 s"
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(Driver {
        url,
        chromium,
        _stdin: Mutex::new(stdin),
        _child: Mutex::new(child),
    })
}

fn driver() -> Result<&'static Driver, String> {
    static DRIVER: OnceLock<Result<Driver, String>> = OnceLock::new();
    DRIVER
        .get_or_init(start_driver)
        .as_ref()
        .map_err(Clone::clone)
}

fn places() -> &'static Semaphore {
    static PLACES: Semaphore = Semaphore::const_new(MAX_BROWSERS);
    &PLACES
}

/// One headless Chromium (a WebDriver session) with a fixed window size.
pub struct Browser {
    client: Client,
    width: u32,
    height: u32,
    _profile: TempDir,
    _place: SemaphorePermit<'static>,
}

impl Browser {
    /// A fresh browser with a `width`×`height` viewport, or `None` (the test prints why and
    /// should return) when no browser is installed and none is required ([`required`]).
    pub async fn open(width: u32, height: u32) -> Option<Self> {
        let driver = match tokio::task::spawn_blocking(driver)
            .await
            .expect("driver start")
        {
            Ok(d) => d,
            Err(why) => {
                assert!(
                    !required(),
                    "CI/REQUIRE_BROWSER=1 but no browser: {why} (scripts/install-deps.sh installs chromium, chromium-driver, fonts-noto-cjk)"
                );
                eprintln!("skipped: {why}");
                return None;
            }
        };
        let place = places().acquire().await.expect("semaphore never closed");
        let profile = tempfile::tempdir().expect("browser profile dir");
        let args = [
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--hide-scrollbars".to_owned(),
            "--lang=zh-TW".to_owned(),
            // The window only has to hold the viewport; headless windows are at least 500 px wide,
            // so the viewport itself is set by device metrics below.
            format!("--window-size={},{}", width.max(1280), height + 200),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".to_owned(),
            json!({
                "binary": driver.chromium,
                "args": args,
                // Exactly this viewport, as a phone (touch, `<meta name=viewport>` honoured) below
                // 600 px and as a desktop above.
                "mobileEmulation": { "deviceMetrics": {
                    "width": width, "height": height, "pixelRatio": 1.0,
                    "mobile": width < 600, "touch": width < 600,
                } },
            }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&driver.url)
            .await
            .expect("a Chromium session from chromedriver");
        Some(Self {
            client,
            width,
            height,
            _profile: profile,
            _place: place,
        })
    }

    /// The WebDriver client, for anything the helpers below do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Loads `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
    }

    /// The URL shown now.
    pub async fn url(&self) -> String {
        self.client
            .current_url()
            .await
            .expect("current URL")
            .to_string()
    }

    /// Waits (at most 20 s) until the page shown is a loaded page whose URL contains `part`:
    /// after a form is submitted by a key press, which returns before the next page is there.
    pub async fn wait_for_url(&self, part: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if self.url().await.contains(part)
                && self.eval("return document.readyState").await == "complete"
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no page with {part} in its URL after 20 s (still at {})",
                self.url().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The page's visible text (`document.body.innerText`).
    pub async fn text(&self) -> String {
        self.eval("return document.body ? document.body.innerText : ''")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Runs `script` (a function body; `return` its value) in the page.
    pub async fn eval(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.expect("script")
    }

    /// The element for a CSS selector.
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"))
    }

    /// Types `keys` into the focused element (e.g. `"\u{e007}"` for Enter, `"\u{e004}"` Tab).
    pub async fn type_keys(&self, keys: &str) {
        let active = self.client.active_element().await.expect("focused element");
        active.send_keys(keys).await.expect("send keys");
    }

    /// Whether the page is no wider than the window (`scrollWidth <= clientWidth`).
    pub async fn no_horizontal_scroll(&self) -> bool {
        let v = self
            .eval(
                "const e = document.documentElement; \
                 return [e.scrollWidth, e.clientWidth, document.body.scrollWidth];",
            )
            .await;
        let n = |i: usize| v[i].as_u64().unwrap_or(u64::MAX);
        n(0) <= n(1) && n(2) <= n(1)
    }

    /// Saves a screenshot as `<artifact_dir>/<name>.png`, checks it is a PNG of the window's
    /// size, and returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("screenshot");
        let (w, h) = png_size(&png).expect("the screenshot is a PNG");
        assert_eq!(
            (w, h),
            (self.width, self.height),
            "screenshot size is the window size"
        );
        let path = artifact_dir().join(format!("{name}.png"));
        std::fs::write(&path, &png).expect("write the screenshot");
        eprintln!("screenshot: {}", path.display());
        path
    }

    /// Ends the session (Chromium exits, the profile dir is removed).
    pub async fn close(self) {
        let Self { client, .. } = self;
        let _ = client.close().await;
    }
}

/// Width and height from a PNG's IHDR chunk.
pub fn png_size(png: &[u8]) -> Option<(u32, u32)> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if !png.starts_with(SIGNATURE) || png.get(12..16) != Some(b"IHDR") {
        return None;
    }
    let word = |at: usize| {
        png.get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_be_bytes)
    };
    Some((word(16)?, word(20)?))
}
