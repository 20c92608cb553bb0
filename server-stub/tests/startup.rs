//! Start-up order of the real binary: the store is migrated and seeded before the port opens,
//! and `token issue` racing a first start (both migrating one new store) never fails.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{SITE, postgres_database};

fn server(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_mask-server-stub"))
        .args(args)
        .env("MASK_LANG", "en")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for the "listening on" line; the server's stderr if it exits instead.
fn wait_listening(child: &mut Child) -> Result<String, String> {
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    match lines.next() {
        Some(Ok(line)) if line.starts_with("listening on ") => Ok(line),
        other => {
            let _ = child.wait();
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            Err(format!("{other:?}: {err}"))
        }
    }
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// One race: the server's first start and two `token issue` on the same new store.
fn race_once(data_dir: &Path, database: &str) {
    let d = data_dir.to_str().unwrap();
    let mut srv = server(&[
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        d,
        "--plain-http",
        "--database",
        database,
    ]);
    let issuers: Vec<Child> = (0..2)
        .map(|_| {
            server(&[
                "token",
                "issue",
                "--data-dir",
                d,
                "--site",
                SITE,
                "--database",
                database,
            ])
        })
        .collect();
    for issuer in issuers {
        let out = issuer.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "token issue failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("mst_"));
    }
    let listening = wait_listening(&mut srv);
    stop(srv);
    if let Err(e) = listening {
        panic!("the server did not start: {e}");
    }
}

#[test]
fn token_issue_racing_the_first_start_never_fails_sqlite() {
    for _ in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        race_once(&dir.path().join("data"), "sqlite");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_issue_racing_the_first_start_never_fails_postgres() {
    for _ in 0..5 {
        let Some(url) = postgres_database().await else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        tokio::task::spawn_blocking(move || race_once(&data, &url))
            .await
            .unwrap();
    }
}

#[test]
fn the_port_accepts_connections_only_once_the_store_is_ready() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut srv = server(&[
        "--listen",
        &listen,
        "--data-dir",
        data.to_str().unwrap(),
        "--plain-http",
        // Limits beyond what the machine can have are taken as "no limit", not a crash.
        "--max-concurrent-requests",
        "18446744073709551615",
        "--request-timeout-secs",
        "18446744073709551615",
    ]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut conn = loop {
        if let Ok(conn) = TcpStream::connect(&listen) {
            break conn;
        }
        if let Some(status) = srv.try_wait().unwrap() {
            panic!("the server exited: {status}");
        }
        assert!(Instant::now() < deadline, "the port never opened");
        std::thread::sleep(Duration::from_millis(1));
    };
    // The moment the port accepts, the store must be migrated and seeded already.
    let db = rusqlite::Connection::open_with_flags(
        data.join("mask-server.sqlite3"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    );
    let sites = db.and_then(|db| db.query_row("SELECT COUNT(*) FROM sites", [], |r| r.get(0)));
    let sites: i64 = match sites {
        Ok(n) => n,
        Err(e) => {
            stop(srv);
            panic!("the port accepted before the store was ready: {e}");
        }
    };
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn.write_all(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    let _ = conn.read_to_string(&mut answer);
    stop(srv);
    assert!(sites > 5000, "{sites} sites seeded when the port opened");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}
