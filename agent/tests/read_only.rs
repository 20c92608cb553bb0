//! `doctor` and `journal export` only look at the journal: run as the real binary on real
//! journal files, they change no byte, mode or timestamp, create no file (no `-wal`/`-shm`, no
//! journal where there was none), migrate no older schema, and read beside a writer that holds
//! a transaction open (the running service).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant, SystemTime};

use mask_agent::{Journal, NewSale};
use serde_json::Value;

use crate::support::{AS_OF, AgentFiles, agent_cmd, ids};

/// Nothing listens here: the server checks fail fast and do not matter to these tests.
const NO_SERVER: &str = "http://127.0.0.1:9";

fn files(name: &str) -> AgentFiles {
    AgentFiles::new(name, NO_SERVER, "token-not-used")
}

fn journal_path(files: &AgentFiles) -> PathBuf {
    files.config().journal_path()
}

/// A file as a reader could disturb it: name, length, SHA-256 of its bytes, mode,
/// modification time.
type FileState = (String, u64, String, u32, SystemTime);

/// The file's SHA-256, read by a child process: opening and closing a database file in this
/// process would drop the POSIX locks the "service" connection below holds on it (fcntl locks
/// belong to the process, and any close releases them), and the test would prove nothing.
fn digest(path: &Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()[..64].to_owned()
}

/// Every file of the data directory (metadata by stat, bytes by a child process).
fn on_disk(dir: &Path) -> Vec<FileState> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let meta = std::fs::metadata(&path).unwrap();
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                meta.len(),
                digest(&path),
                meta.permissions().mode() & 0o777,
                meta.modified().unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

/// Gives the journal the mode and age an installer or an older run may have left: a reader
/// that chmods or touches it shows.
fn age_and_widen(path: &Path) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(1_583_978_400))
        .unwrap();
}

fn doctor(files: &AgentFiles) -> (Output, Value) {
    let output = agent_cmd(&files.config_path, &["doctor", "--json"])
        .output()
        .unwrap();
    let value: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)));
    (output, value)
}

fn doctor_check(value: &Value, name: &str) -> Option<Value> {
    value["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .cloned()
}

/// Doctor's journal check, asserted to have `verdict` and `words` in its detail.
fn journal_check(value: &Value, verdict: &str, words: &str) -> Value {
    let journal = doctor_check(value, "journal").unwrap();
    assert_eq!(journal["verdict"], verdict, "{journal}");
    assert!(
        journal["detail"].as_str().unwrap().contains(words),
        "{journal}"
    );
    journal
}

/// `journal export` refused: exit 4, no CSV, each of `words` on stderr.
fn export_refused(files: &AgentFiles, words: &[&str]) {
    let exported = export(files);
    assert_eq!(exported.status.code(), Some(4), "{exported:?}");
    assert!(exported.stdout.is_empty(), "{exported:?}");
    let stderr = String::from_utf8_lossy(&exported.stderr);
    for word in words {
        assert!(stderr.contains(word), "{word}: {stderr}");
    }
}

fn export(files: &AgentFiles) -> Output {
    agent_cmd(
        &files.config_path,
        &["journal", "export", "--date", "2020-03-12"],
    )
    .output()
    .unwrap()
}

#[test]
fn doctor_and_export_leave_the_journal_as_they_found_it() {
    let files = files("ro-untouched");
    files.prefill(3, 700_000);
    let path = journal_path(&files);
    age_and_widen(&path);
    let before = on_disk(&files.data_dir());
    assert_eq!(before.len(), 1, "only the journal file: {before:?}");

    let (_, value) = doctor(&files);
    journal_check(&value, "ok", "3 sales, 3 queued");
    assert_eq!(doctor_check(&value, "attention").unwrap()["verdict"], "ok");

    let exported = export(&files);
    assert!(exported.status.success(), "{exported:?}");
    assert_eq!(
        String::from_utf8(exported.stdout).unwrap().lines().count(),
        4
    );

    assert_eq!(
        on_disk(&files.data_dir()),
        before,
        "a reader changed the data directory"
    );
}

#[test]
fn an_old_schema_journal_is_reported_and_not_migrated() {
    let files = files("ro-old-schema");
    let path = journal_path(&files);
    drop(Journal::open_at_version(&path, 1).unwrap());
    age_and_widen(&path);
    let before = on_disk(&files.data_dir());

    let (_, value) = doctor(&files);
    let journal = journal_check(&value, "warn", "schema version 1, older");
    assert!(
        journal["hint"].as_str().unwrap().contains("restart"),
        "{journal}"
    );
    export_refused(
        &files,
        &[
            "older than this agent's",
            "Start the mask-agent service once",
        ],
    );

    assert_eq!(
        on_disk(&files.data_dir()),
        before,
        "the old journal was changed"
    );
}

#[test]
fn a_journal_from_a_newer_agent_is_named_and_left_alone() {
    let files = files("ro-new-schema");
    let path = journal_path(&files);
    {
        let journal = Journal::open(&path).unwrap();
        journal
            .connection()
            .execute_batch("PRAGMA user_version = 99")
            .unwrap();
    }
    let before = on_disk(&files.data_dir());

    let (output, value) = doctor(&files);
    assert_eq!(output.status.code(), Some(1));
    journal_check(
        &value,
        "fail",
        "schema version 99 was written by a newer mask-agent",
    );
    export_refused(
        &files,
        &["newer than this agent's", "Use the newer mask-agent"],
    );
    assert_eq!(on_disk(&files.data_dir()), before);
}

#[test]
fn a_missing_journal_is_reported_and_not_created() {
    let files = files("ro-missing");
    let (_, value) = doctor(&files);
    journal_check(&value, "warn", "no journal at");
    assert!(doctor_check(&value, "attention").is_none());
    export_refused(&files, &["no journal at", "data_dir"]);
    assert!(
        !files.data_dir().exists(),
        "a reader created the data directory"
    );
}

#[test]
fn doctor_and_export_read_beside_a_writer_holding_a_transaction() {
    let files = files("ro-busy");
    files.prefill(2, 710_000);
    // The service: its connection stays open (so its -wal and -shm exist), a third sale is
    // committed in its WAL and not checkpointed (a reader of the main file alone would miss
    // it), and it is in the middle of a write transaction that holds the write lock.
    // (Only through the service's own connection: another Journal::open in this process would
    // open and close the file outside SQLite, and POSIX drops this process's locks on any close.)
    let mut service = files.journal();
    service
        .record_sale(&NewSale {
            id: uuid::Uuid::now_v7(),
            id_no: ids::even_id(710_100),
            birth_date: None,
            kind: mask_api::BuyerKind::Adult,
            quantity: 1,
            sold_at: NewSale::truncate_time(AS_OF),
            source: mask_api::SaleSource::Manual,
            offline: true,
            pc_sold_at: None,
        })
        .unwrap();
    service
        .connection()
        .execute_batch(
            "BEGIN IMMEDIATE; \
             UPDATE sales SET sync_state = 'accepted' WHERE sync_state = 'queued';",
        )
        .unwrap();
    // Modes IT may have widened (group-readable): a reader must not change them under the
    // service. chmod opens nothing, so the service keeps its locks.
    for name in [
        "journal.sqlite3",
        "journal.sqlite3-wal",
        "journal.sqlite3-shm",
    ] {
        let path = files.data_dir().join(name);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    }
    // The -shm is the readers' and writers' shared index: a reader marks its snapshot there,
    // as SQLite's protocol wants. Its existence and mode count, not its bytes.
    let service_files = || {
        on_disk(&files.data_dir())
            .into_iter()
            .map(|(name, len, hash, mode, modified)| {
                if name.ends_with("-shm") {
                    (name, len, String::new(), mode, SystemTime::UNIX_EPOCH)
                } else {
                    (name, len, hash, mode, modified)
                }
            })
            .collect::<Vec<_>>()
    };
    let before = service_files();
    assert!(
        before
            .iter()
            .any(|(name, len, ..)| name.ends_with("-wal") && *len > 0),
        "the third sale is only in the WAL: {before:?}"
    );

    let started = Instant::now();
    let (_, value) = doctor(&files);
    // The committed state: the writer's update is not visible until it commits.
    journal_check(&value, "ok", "3 sales, 3 queued");
    let exported = export(&files);
    assert!(exported.status.success(), "{exported:?}");
    let csv = String::from_utf8(exported.stdout).unwrap();
    assert_eq!(csv.matches(",queued,").count(), 3, "{csv}");
    // No wait for the writer's lock (its busy timeout is 5 s).
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        service_files(),
        before,
        "a reader disturbed the service's files"
    );

    // The writer still holds the write lock: nobody took it from under the service.
    let other = rusqlite::Connection::open(journal_path(&files)).unwrap();
    other.busy_timeout(Duration::ZERO).unwrap();
    let busy = other.execute_batch("BEGIN IMMEDIATE").unwrap_err();
    assert_eq!(
        busy.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy),
        "{busy}"
    );
    drop(other);

    // The service goes on as if nobody had looked.
    service.connection().execute_batch("COMMIT").unwrap();
    assert_eq!(service.sale_states().unwrap(), (0, 3, 0, 0));
}
