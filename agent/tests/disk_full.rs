//! A full disk: the sale is not reported done, the pharmacist gets a clear error, and selling
//! resumes once space is freed.
//!
//! As root (CI runs the tests as root) the journal lives on a real 4 MiB tmpfs that the test
//! fills up; without the right to mount, SQLite's `max_page_count` caps the database instead
//! (SQLite then reports the same SQLITE_FULL) and the test says so.

use std::path::{Path, PathBuf};
use std::process::Command;

use mask_protocol::{ErrorCode, RequestBody, ResponseBody, SellBuyer, SellOutcome};

use crate::support::{AgentFiles, InProcessAgent, TestServer, ids};

struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let block = vec![0_u8; 4096];
    while file.write_all(&block).is_ok() {}
    let _ = file.sync_all();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_to_report_a_sale_done() {
    let mut server = TestServer::start().await;
    let files = AgentFiles::new("disk-full", &server.url(), &server.token);
    let data = files.data_dir();
    let tmpfs = Tmpfs::mount(&data);
    if tmpfs.is_none() {
        println!(
            "disk_full: cannot mount a tmpfs here; simulating a full disk with PRAGMA max_page_count"
        );
    }
    let agent = InProcessAgent::start(&files).await;
    let mut client = agent.client().await;
    server.stop().await; // offline: nothing leaves the queue, the journal only grows
    let filler = match &tmpfs {
        Some(_) => Some(fill(&data)),
        None => {
            let journal = files.journal();
            let pages: i64 = journal
                .connection()
                .query_row("PRAGMA page_count", [], |r| r.get(0))
                .unwrap();
            // max_page_count is per connection: set it on the agent's own connection.
            agent
                .core()
                .journal(move |j| {
                    j.connection()
                        .pragma_update(None, "max_page_count", pages)
                        .map_err(Into::into)
                })
                .await
                .unwrap();
            None
        }
    };

    let mut recorded = 0;
    let mut refused_error = None;
    for n in 0..5000 {
        let buyer = SellBuyer::Manual {
            id_no: ids::even_id(300_000 + n * 3),
            birth_date: None,
        };
        match client
            .request(RequestBody::Sell { buyer, quantity: 1 })
            .await
            .unwrap()
        {
            ResponseBody::Sell(SellOutcome::Recorded(_)) => recorded += 1,
            ResponseBody::Error(error) => {
                refused_error = Some(error);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let error = refused_error.expect("the disk never filled up");
    assert_eq!(error.code, ErrorCode::JournalUnavailable);
    assert!(
        error.message.contains("disk is full") && error.message.contains("NOT recorded"),
        "{}",
        error.message
    );
    // Exactly the sales reported done are in the journal.
    let count = agent.core().journal(|j| j.sale_count()).await.unwrap();
    assert_eq!(count, recorded);

    // Space is back: selling resumes.
    match filler {
        Some(path) => std::fs::remove_file(path).unwrap(),
        None => agent
            .core()
            .journal(|j| {
                j.connection()
                    .pragma_update(None, "max_page_count", 1_000_000)
                    .map_err(Into::into)
            })
            .await
            .unwrap(),
    }
    let buyer = SellBuyer::Manual {
        id_no: ids::even_id(299_000),
        birth_date: None,
    };
    assert!(matches!(
        client
            .request(RequestBody::Sell { buyer, quantity: 1 })
            .await
            .unwrap(),
        ResponseBody::Sell(SellOutcome::Recorded(_))
    ));
    drop(client);
    agent.stop().await;
    server.restart().await;
}
