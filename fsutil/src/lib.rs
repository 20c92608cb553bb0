//! Files only their owner may read, private from the moment they exist (the agent's journal and
//! logs, the server's database, TLS key and buyer-key secret). Setting the mode after creating
//! a file would leave a window in which another local user could open it and keep the
//! descriptor; SQLite gives its `-wal` and `-shm` files the database file's mode, so creating
//! the database 0600 before SQLite opens it makes those private too.
//!
//! Everything created or replaced is fsync'd together with its directory. On Windows there is
//! no mode: the data directories inherit their ACL from the installer.
#![forbid(unsafe_code)]
#![warn(missing_docs, clippy::unwrap_used)]

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::Path;

fn private_options() -> OpenOptions {
    // Only Unix has a mode to set (the Windows cross-build would flag `mut` as unused).
    #[cfg_attr(not(unix), allow(unused_mut))]
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// Creates `dir` (and its parents) 0700 from creation, and makes an existing one 0700.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Makes sure `path` exists and is 0600, keeping its content: a new file is created 0600
/// (`O_EXCL`, so a planted symlink is not followed) and made durable with its directory entry;
/// a file left wider by an older version or another tool is tightened.
pub fn create_private_file(path: &Path) -> io::Result<()> {
    match private_options().write(true).create_new(true).open(path) {
        Ok(file) => {
            file.sync_all()?;
            sync_parent(path)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => restrict_file(path),
        Err(e) => Err(e),
    }
}

/// Makes an existing file 0600 when its group or others may access it.
pub fn restrict_file(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if std::fs::metadata(path)?.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Writes `contents` to a new 0600 file at `tmp` and fsyncs it; `create_new` refuses to follow
/// a planted symlink.
fn write_new(tmp: &Path, contents: &[u8]) -> io::Result<()> {
    let mut file = private_options().write(true).create_new(true).open(tmp)?;
    file.write_all(contents).and_then(|()| file.sync_all())
}

/// Fsyncs the directory holding `path`, so a creation, rename or link in it survives a crash.
fn sync_parent(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        std::fs::File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Writes a whole file durably and privately: a 0600 temporary file beside it, fsync'd, renamed
/// into place, then the directory fsync'd, so a crash leaves either the old file or the whole
/// new one, never a torn or world-readable one.
pub fn write_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    // A leftover of a crash between create and rename; `create_new` below refuses to follow a
    // planted symlink.
    let _ = std::fs::remove_file(&tmp);
    let written = write_new(&tmp, contents);
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    sync_parent(path)
}

/// Like [`write_atomic`], but never replaces a file that exists: the whole new file appears
/// under `path` only if none was there (`Ok(true)`); if another process created it first,
/// that file stays and `Ok(false)` is returned. Processes racing to create the same secret
/// (a server's first start and `token issue`) thus all end up with the one that won.
pub fn create_atomic(path: &Path, contents: &[u8]) -> io::Result<bool> {
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    // Unique per process and call: a shared name would let one racer delete another's file.
    tmp_name.push(format!(
        ".{}.{:016x}.tmp",
        std::process::id(),
        rand::random::<u64>()
    ));
    let tmp = path.with_file_name(tmp_name);
    if let Err(e) = write_new(&tmp, contents) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    // A hard link is the atomic "create if absent" for a finished file (rename would replace).
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    let created = match linked {
        Ok(()) => true,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => false,
        Err(e) => return Err(e),
    };
    sync_parent(path)?;
    Ok(created)
}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn create_atomic_never_replaces_and_racers_agree() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        let racers: Vec<_> = (0..8u8)
            .map(|i| {
                let path = path.clone();
                std::thread::spawn(move || create_atomic(&path, &[i; 4]).unwrap())
            })
            .collect();
        let created = racers
            .into_iter()
            .map(|r| r.join().unwrap())
            .filter(|c| *c)
            .count();
        assert_eq!(created, 1);
        assert_eq!(mode(&path), 0o600);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
        let first = std::fs::read(&path).unwrap();
        assert!(!create_atomic(&path, b"other").unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), first);
    }

    #[test]
    fn written_files_are_private_and_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        write_atomic(&path, b"one").unwrap();
        assert_eq!(mode(&path), 0o600);
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn files_are_created_private_and_old_files_tightened_without_touching_content() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("new.sqlite3");
        create_private_file(&new).unwrap();
        assert_eq!(mode(&new), 0o600);
        let old = dir.path().join("old.sqlite3");
        std::fs::write(&old, b"data").unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
        create_private_file(&old).unwrap();
        assert_eq!(mode(&old), 0o600);
        assert_eq!(std::fs::read(&old).unwrap(), b"data");
    }

    #[test]
    fn a_planted_symlink_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        let link = dir.path().join("journal.sqlite3");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        // Refused (the link exists, its target does not): what matters is where nothing is made.
        let _ = create_private_file(&link);
        assert!(!target.exists(), "the symlink's target was created");
    }

    #[test]
    fn directories_are_private_from_creation() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("a").join("data");
        create_private_dir(&data).unwrap();
        assert_eq!(mode(&data), 0o700);
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
        create_private_dir(&data).unwrap();
        assert_eq!(mode(&data), 0o700);
    }
}
