//! Files only the server's user may read, private from the moment they exist: the SQLite
//! database (SQLite gives its `-wal` and `-shm` files the database file's mode), the TLS key
//! and certificate, the buyer-key secret. Setting the mode after writing would leave a window
//! in which another local user could open the file and keep the descriptor.

use std::fs::OpenOptions;
use std::io::Write;
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

/// Makes sure `path` exists and is 0600, keeping its content. A file made by an older version
/// (with the umask's mode) is tightened.
pub fn ensure(path: &Path) -> std::io::Result<()> {
    let file = private_options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if file.metadata()?.permissions().mode() & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
    }
    #[cfg(not(unix))]
    drop(file);
    Ok(())
}

/// Writes `contents` to a new 0600 file at `tmp` and fsyncs it; `create_new` refuses to follow
/// a planted symlink.
fn write_new(tmp: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut file = private_options().write(true).create_new(true).open(tmp)?;
    file.write_all(contents).and_then(|()| file.sync_all())
}

/// Fsyncs the directory holding `path`, so a rename or link into it survives a crash.
fn sync_parent(path: &Path) -> std::io::Result<()> {
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
pub fn write_atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
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
    sync_parent(path)?;
    Ok(())
}

/// Like [`write_atomic`], but never replaces a file that exists: the whole new file appears
/// under `path` only if none was there (`Ok(true)`); if another process created it first,
/// that file stays and `Ok(false)` is returned. Processes racing to create the same secret
/// (a server's first start and `token issue`) thus all end up with the one that won.
pub fn create_atomic(path: &Path, contents: &[u8]) -> std::io::Result<bool> {
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
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
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
    fn ensure_creates_private_and_tightens_old_files_without_touching_content() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("new.sqlite3");
        ensure(&new).unwrap();
        assert_eq!(mode(&new), 0o600);
        let old = dir.path().join("old.sqlite3");
        std::fs::write(&old, b"data").unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
        ensure(&old).unwrap();
        assert_eq!(mode(&old), 0o600);
        assert_eq!(std::fs::read(&old).unwrap(), b"data");
    }
}
