//! Load benchmark of mask-server-stub on loopback (a bench binary, not a timed test).
//!
//! 1. Quota transactions: one person's eligibility check + sale (two requests), from many
//!    concurrent connections (one pharmacy each, from the real registry), every person new;
//!    transactions/s and latency percentiles.
//! 2. Open data: `GET /maskdata.csv` downloads/s, beside nginx serving the very same bytes as a
//!    static file, with the same client in the same run (ratio = ours / nginx).
//! 3. The stock page: `GET /?county=新北市` (the largest county) with `Accept-Encoding: gzip`,
//!    beside nginx serving the same compressed bytes; the first request's time is the render.
//!
//! Both on SQLite, and on PostgreSQL when `MASK_BENCH_POSTGRES_URL` (or
//! `MASK_TEST_POSTGRES_URL`) is set. Server and load generator each get their own tokio runtime
//! in this process (2 worker threads each), sharing the machine as they would anyway.
//!
//! ```text
//! cargo bench -p mask-server-stub --bench load -- [--secs 10] [--conns 64] [--no-nginx]
//!     [--quota-only] [--backend sqlite|postgres]
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use mask_server_stub::{Database, ServerConfig, spawn};
use serde_json::json;

struct Args {
    secs: u64,
    conns: usize,
    nginx: bool,
    /// Measure open data too (`--quota-only` leaves it out, for profiling).
    open_data: bool,
    /// Only this backend (`--backend sqlite|postgres`).
    backend: Option<String>,
    /// Only the page render cost (`--render-only`), for comparing encoders.
    render_only: bool,
}

fn args() -> Args {
    let mut a = Args {
        secs: 5,
        conns: 64,
        nginx: true,
        open_data: true,
        backend: None,
        render_only: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--secs" => a.secs = it.next().and_then(|v| v.parse().ok()).unwrap_or(a.secs),
            "--conns" => a.conns = it.next().and_then(|v| v.parse().ok()).unwrap_or(a.conns),
            "--no-nginx" => a.nginx = false,
            "--quota-only" => a.open_data = false,
            "--backend" => a.backend = it.next(),
            "--render-only" => a.render_only = true,
            _ => {} // `--bench` from cargo
        }
    }
    a
}

/// A valid citizen ID number for any `n < 10^8` (`A1`/`A2` + 7 digits; benches stay below),
/// completed by the one generator of test IDs.
fn valid_id(n: u32) -> String {
    let body = format!("A{}{:07}", 1 + (n / 10_000_000) % 2, n % 10_000_000);
    nhi_fixtures::generated_id(&body).unwrap()
}

/// Latency summary in milliseconds.
struct Stats {
    count: usize,
    per_sec: f64,
    p50: f64,
    p99: f64,
    max: f64,
}

fn stats(mut micros: Vec<u32>, elapsed: Duration) -> Stats {
    micros.sort_unstable();
    let pick = |q: f64| {
        if micros.is_empty() {
            return 0.0;
        }
        let i = ((micros.len() as f64 - 1.0) * q).round() as usize;
        f64::from(micros[i]) / 1000.0
    };
    Stats {
        count: micros.len(),
        per_sec: micros.len() as f64 / elapsed.as_secs_f64(),
        p50: pick(0.50),
        p99: pick(0.99),
        max: pick(1.0),
    }
}

/// Runs `conns` workers for `secs`, each looping `one(worker, n)` (n counts every call of all
/// workers) and recording its latency.
async fn drive<F, Fut>(conns: usize, secs: u64, one: F) -> (Stats, u64)
where
    F: Fn(usize, u32) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let one = Arc::new(one);
    let counter = Arc::new(AtomicU32::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..conns {
        let (one, counter) = (one.clone(), counter.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            while Instant::now() < deadline {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                if one(worker, n).await {
                    lat.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
                } else {
                    errors += 1;
                }
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (lat, e) = t.await.unwrap();
        all.extend(lat);
        errors += e;
    }
    (stats(all, start.elapsed()), errors)
}

fn client(conns: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(conns)
        .http1_only()
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// nginx serving a directory on 127.0.0.1 (its own config, killed on drop).
struct Nginx {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The one file nginx serves.
const NGINX_FILE: &str = "body";

fn start_nginx(body: &[u8]) -> Nginx {
    let dir = tempfile::Builder::new()
        .prefix("mask-bench-nginx")
        .tempdir_in("/var/tmp")
        .unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("www")).unwrap();
    std::fs::create_dir_all(root.join("tmp")).unwrap();
    std::fs::write(root.join("www").join(NGINX_FILE), body).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for p in [root.to_path_buf(), root.join("www")] {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::fs::set_permissions(
            root.join("www").join(NGINX_FILE),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let r = root.display();
    let conf = format!(
        "worker_processes 2;
daemon off;
pid {r}/nginx.pid;
error_log {r}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on; tcp_nopush on; tcp_nodelay on;
    keepalive_requests 1000000;
    client_body_temp_path {r}/tmp; proxy_temp_path {r}/tmp; fastcgi_temp_path {r}/tmp;
    uwsgi_temp_path {r}/tmp; scgi_temp_path {r}/tmp;
    default_type application/octet-stream;
    server {{ listen 127.0.0.1:{port}; root {r}/www; }}
}}
"
    );
    std::fs::write(root.join("nginx.conf"), conf).unwrap();
    let child = Command::new("nginx")
        .arg("-c")
        .arg(root.join("nginx.conf"))
        .arg("-p")
        .arg(root)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("nginx installed (apt-get install nginx)");
    // Wait until it accepts connections (bounded), not a fixed sleep.
    let until = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < until,
            "nginx did not start; see {r}/error.log"
        );
        std::thread::yield_now();
    }
    Nginx {
        child,
        port,
        _dir: dir,
    }
}

async fn download(http: &reqwest::Client, url: &str, gzip: bool, len: usize) -> bool {
    let mut request = http.get(url);
    if gzip {
        request = request.header("accept-encoding", "gzip");
    }
    match request.send().await {
        // A refresh during the run changes the bytes (data time, counts): about the same size.
        Ok(r) if r.status().is_success() => r.bytes().await.is_ok_and(|b| b.len() * 2 > len),
        _ => false,
    }
}

/// One URL of ours measured, then nginx serving the same bytes, with the same client.
struct Beside<'a> {
    name: &'a str,
    http: &'a reqwest::Client,
    rt: &'a tokio::runtime::Runtime,
    conns: usize,
    secs: u64,
    nginx: bool,
}

impl Beside<'_> {
    fn measure(&self, label: &str, url: &str, gzip: bool, rows: &mut Vec<String>) {
        let (name, http) = (self.name, self.http);
        let started = Instant::now();
        let body = self.rt.block_on(async {
            let mut request = http.get(url);
            if gzip {
                request = request.header("accept-encoding", "gzip");
            }
            request.send().await.unwrap().bytes().await.unwrap()
        });
        let first = started.elapsed();
        let len = body.len();
        let (ours, errors) = self.rt.block_on({
            let (http, url) = (http.clone(), url.to_owned());
            drive(self.conns, self.secs, move |_, _| {
                let (http, url) = (http.clone(), url.clone());
                async move { download(&http, &url, gzip, len).await }
            })
        });
        rows.push(format!(
            "| {name} | {label} ({len} bytes; first request {:.1} ms) | {:.0}/s | {:.2} ms | {:.2} ms | {:.2} ms | {} ok, {errors} failed | |",
            first.as_secs_f64() * 1000.0,
            ours.per_sec,
            ours.p50,
            ours.p99,
            ours.max,
            ours.count
        ));
        if !self.nginx {
            return;
        }
        let nginx = start_nginx(&body);
        let url = format!("http://127.0.0.1:{}/{NGINX_FILE}", nginx.port);
        let check = self
            .rt
            .block_on(async { http.get(&url).send().await.unwrap().bytes().await.unwrap() });
        assert_eq!(check, body, "nginx serves the same bytes");
        let (theirs, errors) = self.rt.block_on({
            let http = http.clone();
            drive(self.conns, self.secs, move |_, _| {
                let (http, url) = (http.clone(), url.clone());
                async move { download(&http, &url, false, len).await }
            })
        });
        rows.push(format!(
            "| {name} | nginx static file, same bytes | {:.0}/s | {:.2} ms | {:.2} ms | {:.2} ms | {} ok, {errors} failed | ratio ours/nginx = **{:.2}** (target ≥ 0.5) |",
            theirs.per_sec,
            theirs.p50,
            theirs.p99,
            theirs.max,
            theirs.count,
            ours.per_sec / theirs.per_sec.max(f64::MIN_POSITIVE)
        ));
    }
}

/// The first `n` site codes of the registry the server loads (the real 2020 open-data file).
fn registry_sites(n: usize) -> Vec<String> {
    mask_server_stub::sites::REGISTRY_CSV
        .lines()
        .skip(1)
        .filter_map(|line| line.split(',').next().map(str::to_owned))
        .take(n)
        .collect()
}

fn run_backend(name: &str, database: Database, a: &Args, rows: &mut Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut config = ServerConfig::new(dir.path().join("data"));
    config.database = database;
    config.rate_limit_per_sec = 0;
    // Each connection's pharmacy asks about ~150 new people a second, far beyond any counter:
    // the distinct-ID limit (a map lookup per question when on) would refuse nearly all.
    config.eligibility_ids_per_minute = 0;
    // 2020-04-10: odd/even abolished, so every new person may buy.
    config.as_of = Some(time::macros::datetime!(2020-04-10 09:00 +08:00));
    let (server, tokens) = server_rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = spawn(config, listener).await.unwrap();
        // One pharmacy per connection, as on a launch day: each pharmacy's agent sends its
        // own sales one after another, thousands of pharmacies at once.
        let mut tokens = Vec::new();
        for s in registry_sites(a.conns) {
            tokens.push(server.issue_token(&s, None).await.unwrap());
        }
        (server, tokens)
    });
    let base = server.url();
    let tokens = Arc::new(tokens);
    let conns = a.conns;

    // Quota transactions.
    let http = client(conns);
    let (quota, errors) = client_rt.block_on({
        let (http, base, tokens) = (http.clone(), base.clone(), tokens.clone());
        drive(conns, a.secs, move |worker, n| {
            let (http, base, tokens) = (http.clone(), base.clone(), tokens.clone());
            async move {
                let token = &tokens[worker % tokens.len()];
                let id = valid_id(n);
                let e = http
                    .post(format!("{base}/v1/eligibility"))
                    .bearer_auth(token)
                    .json(&json!({"id_no": id}))
                    .send()
                    .await;
                let Ok(e) = e else { return false };
                let Ok(e) = e.json::<serde_json::Value>().await else {
                    return false;
                };
                if e["allowed"].as_u64().unwrap_or(0) == 0 {
                    return false;
                }
                let sale = json!({"sales": [{
                    "id": uuid::Uuid::now_v7(), "id_no": id, "kind": "adult", "quantity": 1,
                    "sold_at": "2020-04-10T09:00:00+08:00", "source": "card", "offline": false,
                }]});
                let r = http
                    .post(format!("{base}/v1/sales"))
                    .bearer_auth(token)
                    .json(&sale)
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status().is_success() => r
                        .json::<serde_json::Value>()
                        .await
                        .is_ok_and(|v| v["results"][0]["status"] == "accepted"),
                    _ => false,
                }
            }
        })
    });
    rows.push(format!(
        "| {name} | quota transaction (eligibility + sale) | {:.0}/s | {:.2} ms | {:.2} ms | {:.2} ms | {} ok, {errors} failed | target ≥ 5,000/s, p99 < 20 ms |",
        quota.per_sec, quota.p50, quota.p99, quota.max, quota.count
    ));

    if !a.open_data {
        drop(http);
        server_rt.block_on(async { server.shutdown().await.unwrap() });
        return;
    }
    // Open data beside nginx, then the stock page's largest county page (gzip, as browsers ask)
    // beside nginx serving the same compressed bytes.
    let bench = Beside {
        name,
        http: &http,
        rt: &client_rt,
        conns,
        secs: a.secs,
        nginx: a.nginx,
    };
    bench.measure(
        "GET /maskdata.csv",
        &format!("{base}/maskdata.csv"),
        false,
        rows,
    );
    bench.measure(
        "GET /?county=新北市 (stock page, gzip)",
        &format!("{base}/?county=新北市"),
        true,
        rows,
    );
    drop(http);
    server_rt.block_on(async { server.shutdown().await.unwrap() });
}

/// What rendering every fixed view of the stock page at each refresh would cost, beside what a
/// refresh costs now (the open-data snapshot, pages left to render on demand).
fn stock_page_render_cost(rows: &mut Vec<String>) {
    use mask_server_stub::{Lookup, PageLang, PageParams, Snapshot, StockRow};
    let registry = mask_server_stub::sites::Registry::embedded().unwrap();
    let stock: Vec<StockRow> = registry.all().iter().map(StockRow::opening).collect();
    let started = Instant::now();
    let snap = Snapshot::build(&registry, &stock, time::OffsetDateTime::now_utc());
    let build = started.elapsed();
    let mut views: Vec<(Option<String>, Option<String>)> = vec![(None, None)];
    let mut seen = std::collections::BTreeSet::new();
    for site in registry.all() {
        let r = &site.region;
        if seen.insert((r.county.clone(), String::new())) {
            views.push((Some(r.county.clone()), None));
        }
        if seen.insert((r.county.clone(), r.district.clone())) {
            views.push((Some(r.county.clone()), Some(r.district.clone())));
        }
    }
    let started = Instant::now();
    let mut pages = 0;
    let (mut plain_bytes, mut gzip_bytes) = (0, 0);
    for lang in [PageLang::ZhTw, PageLang::En] {
        for kind in ["adult", "child"] {
            for (county, district) in &views {
                let params = PageParams {
                    county: county.clone(),
                    district: district.clone(),
                    q: None,
                    kind: Some(kind.to_owned()),
                };
                if let Lookup::Miss(m) = snap.pages.lookup(lang, &params) {
                    let page = snap.pages.render(&registry, m, 30);
                    plain_bytes += page.plain.len();
                    gzip_bytes += page.gzip.len();
                    pages += 1;
                }
            }
        }
    }
    let all = started.elapsed();
    rows.push(format!(
        "| — | one refresh now: snapshot (CSV, JSON, page state) | {:.1} ms | | | | | pages render on first request |",
        build.as_secs_f64() * 1000.0
    ));
    rows.push(format!(
        "| — | rendering all {pages} fixed page views once (with gzip) | {:.0} ms | | | | | what rendering all at each refresh would add; {} MB of HTML, {} MB gzip |",
        all.as_secs_f64() * 1000.0,
        plain_bytes / 1_000_000,
        gzip_bytes / 1_000_000,
    ));
}

fn main() {
    let a = args();
    let mut rows = Vec::new();
    stock_page_render_cost(&mut rows);
    if a.render_only {
        for row in &rows {
            println!("{row}");
        }
        return;
    }
    println!(
        "mask-server-stub load bench: {} s per measurement, {} connections, {} CPUs",
        a.secs,
        a.conns,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let wanted = |name: &str| a.backend.as_deref().is_none_or(|b| b == name);
    if wanted("sqlite") {
        run_backend("SQLite", Database::Sqlite, &a, &mut rows);
    }
    let pg = std::env::var("MASK_BENCH_POSTGRES_URL")
        .or_else(|_| std::env::var("MASK_TEST_POSTGRES_URL"))
        .ok()
        .filter(|_| wanted("postgres"));
    match pg {
        Some(url) => {
            // A fresh database so counts start from the registry.
            let name = format!("mask_bench_{}", uuid::Uuid::now_v7().simple());
            let rt = tokio::runtime::Runtime::new().unwrap();
            let db_url = rt.block_on(async {
                let (c, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                    .await
                    .unwrap();
                tokio::spawn(conn);
                c.batch_execute(&format!("CREATE DATABASE {name}"))
                    .await
                    .unwrap();
                format!("{}/{name}", url.rsplit_once('/').unwrap().0)
            });
            drop(rt);
            run_backend("PostgreSQL", Database::Postgres(db_url), &a, &mut rows);
        }
        None => {
            println!("(PostgreSQL skipped: set MASK_BENCH_POSTGRES_URL or MASK_TEST_POSTGRES_URL)")
        }
    }
    println!();
    println!("| storage | measurement | rate | p50 | p99 | max | requests | note |");
    println!("|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
}
