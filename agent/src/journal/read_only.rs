//! Looking at the journal without changing it, for `doctor` and `journal export`. These run
//! beside the service, often as another user (root, IT staff), so they must not create, migrate,
//! chmod or checkpoint anything: a `-wal` or `-shm` file created by root would lock the service
//! out of its own journal.
//!
//! SQLite opens a WAL database read-only only through its `-wal` and `-shm` files, and creates
//! them when they are missing. So:
//! - both present (the service runs, or stopped without cleaning up): a plain read-only
//!   connection reads through them, sees every committed sale, and never blocks the writer;
//! - neither present (nobody has the journal open and everything is in the main file): the file
//!   is read with `immutable=1`, which touches no side file, and read again if its size or
//!   modification time changed meanwhile (the service started and checkpointed under us);
//! - anything else (a `-wal` without its index, a rollback journal): the service has to recover
//!   the journal first; nothing is read.
//!
//! A reader closing a read-only connection cannot checkpoint (it cannot take the write lock), so
//! the service's files are left as they were.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rusqlite::{Connection, OpenFlags};
use rusqlite_migration::{Migrations, SchemaVersion};

use super::{Journal, JournalError, MIGRATIONS, Result};

/// How the journal's schema compares with this build's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schema {
    /// The schema this build writes.
    Current,
    /// An older schema: the service migrates it when it starts.
    Older {
        /// The journal's version (`user_version`; 0 for a file never initialised).
        found: usize,
        /// This build's version.
        current: usize,
    },
    /// Written by a newer agent: this build must not use it.
    Newer {
        /// The journal's version.
        found: usize,
        /// This build's version.
        current: usize,
    },
}

impl Schema {
    /// `Ok` for the current schema, else the error that names the mismatch.
    pub fn require_current(self) -> Result<()> {
        match self {
            Schema::Current => Ok(()),
            other => Err(JournalError::Schema(other)),
        }
    }
}

/// How often an `immutable` read is repeated when the file changed under it.
const IMMUTABLE_ATTEMPTS: usize = 3;

/// What is on disk, compared before and after an `immutable` read.
#[derive(Debug, PartialEq, Eq)]
struct OnDisk {
    len: u64,
    modified: Option<SystemTime>,
    wal: bool,
    shm: bool,
    rollback: bool,
}

fn side_file(path: &Path, suffix: &str) -> PathBuf {
    let mut side = path.as_os_str().to_owned();
    side.push(suffix);
    PathBuf::from(side)
}

impl OnDisk {
    fn of(path: &Path) -> Result<OnDisk> {
        let meta = std::fs::metadata(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                JournalError::Missing {
                    path: path.to_path_buf(),
                }
            } else {
                JournalError::Io {
                    path: path.to_path_buf(),
                    source,
                }
            }
        })?;
        Ok(OnDisk {
            len: meta.len(),
            modified: meta.modified().ok(),
            wal: side_file(path, "-wal").exists(),
            shm: side_file(path, "-shm").exists(),
            rollback: side_file(path, "-journal").exists(),
        })
    }
}

impl Journal {
    /// Runs `read` on a read-only view of the journal at `path`, in one read transaction (one
    /// consistent snapshot even while the service writes). Creates, migrates and changes
    /// nothing; a missing journal is `JournalError::Missing`. `read` may run more than once
    /// (when the file changed under an `immutable` read), so it must only read.
    pub fn read_only<T>(path: &Path, mut read: impl FnMut(&Journal) -> Result<T>) -> Result<T> {
        for _ in 0..IMMUTABLE_ATTEMPTS {
            let before = OnDisk::of(path)?;
            if before.rollback || (before.wal && !before.shm) {
                return Err(JournalError::Unsettled);
            }
            if before.wal {
                return Self::open_shared(path)?.in_read_transaction(&mut read);
            }
            let out = Self::open_immutable(path)?.in_read_transaction(&mut read);
            if OnDisk::of(path)? == before {
                return out;
            }
        }
        Err(JournalError::Unsettled)
    }

    /// Beside a running service: SQLite's own read-only access through the WAL index.
    fn open_shared(path: &Path) -> Result<Journal> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        Self::read_only_journal(conn, path)
    }

    /// Nobody has the journal open: the main file alone, no locks, no side files.
    fn open_immutable(path: &Path) -> Result<Journal> {
        let absolute = std::path::absolute(path).map_err(|source| JournalError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut uri = url::Url::from_file_path(&absolute).map_err(|()| JournalError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not expressible as a file URI",
            ),
        })?;
        uri.set_query(Some("immutable=1"));
        let conn = Connection::open_with_flags(
            uri.as_str(),
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_URI
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        Self::read_only_journal(conn, path)
    }

    fn read_only_journal(conn: Connection, path: &Path) -> Result<Journal> {
        // query_only: even a statement that could write is refused, whatever SQLite allows.
        conn.execute_batch("PRAGMA query_only = ON; PRAGMA busy_timeout = 5000;")?;
        Ok(Journal {
            conn,
            path: path.to_path_buf(),
        })
    }

    fn in_read_transaction<T>(&self, read: &mut impl FnMut(&Journal) -> Result<T>) -> Result<T> {
        self.conn.execute_batch("BEGIN DEFERRED")?;
        let out = read(self);
        // Ending a read transaction changes nothing; its failure cannot make the read wrong.
        let _ = self.conn.execute_batch("COMMIT");
        out
    }

    /// How this journal's schema compares with this build's (`PRAGMA user_version`, as
    /// `rusqlite_migration` keeps it).
    pub fn schema(&self) -> Result<Schema> {
        let current = MIGRATIONS.len();
        let version = Migrations::from_slice(MIGRATIONS).current_version(&self.conn)?;
        Ok(match version {
            SchemaVersion::Outside(found) => Schema::Newer {
                found: found.get(),
                current,
            },
            other => {
                let found = usize::from(&other);
                if found == current {
                    Schema::Current
                } else {
                    Schema::Older { found, current }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::time::Duration;

    use super::*;

    fn sale(id_no: &str) -> super::super::NewSale {
        super::super::NewSale {
            id: uuid::Uuid::now_v7(),
            id_no: id_no.into(),
            birth_date: None,
            kind: mask_api::BuyerKind::Adult,
            quantity: 1,
            sold_at: time::macros::datetime!(2020-03-12 01:00 UTC),
            source: mask_api::SaleSource::Manual,
            offline: true,
            pc_sold_at: None,
        }
    }

    #[test]
    fn a_wal_without_its_index_is_left_for_the_service() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.sqlite3");
        drop(Journal::open(&path).unwrap());
        std::fs::write(side_file(&path, "-wal"), b"").unwrap();
        let error = Journal::read_only(&path, |j| j.sale_count()).unwrap_err();
        assert!(matches!(error, JournalError::Unsettled), "{error}");
        assert!(!side_file(&path, "-shm").exists());
    }

    // The service may start, write and checkpoint while an `immutable` read is under way: that
    // read saw a file changing under it and must not be the answer.
    #[test]
    fn a_file_changed_under_an_immutable_read_is_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.sqlite3");
        Journal::open(&path)
            .unwrap()
            .record_sale(&sale("A123456789"))
            .unwrap();
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(1_583_978_400))
            .unwrap();
        let mut reads = Vec::new();
        let count = Journal::read_only(&path, |j| {
            let count = j.sale_count()?;
            if reads.is_empty() {
                // The service, between this read and its end: writes and closes (checkpoint).
                Journal::open(&path)?.record_sale(&sale("A800000014"))?;
            }
            reads.push(count);
            Ok(count)
        })
        .unwrap();
        assert_eq!((reads, count), (vec![1, 2], 2));
    }

    #[test]
    fn the_schema_is_compared_with_this_builds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.sqlite3");
        drop(Journal::open_at_version(&path, 1).unwrap());
        let schema = Journal::read_only(&path, Journal::schema).unwrap();
        let current = MIGRATIONS.len();
        assert_eq!(schema, Schema::Older { found: 1, current });
        assert!(matches!(
            schema.require_current(),
            Err(JournalError::Schema(Schema::Older { .. }))
        ));
        let journal = Journal::open(&path).unwrap();
        assert_eq!(journal.schema().unwrap(), Schema::Current);
        journal
            .connection()
            .execute_batch("PRAGMA user_version = 42")
            .unwrap();
        assert_eq!(
            journal.schema().unwrap(),
            Schema::Newer { found: 42, current }
        );
    }
}
