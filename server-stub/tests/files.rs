//! The server's private files are 0600 from creation: the SQLite database with its `-wal` and
//! `-shm` files, the generated TLS key and certificate.

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_wal_shm_and_tls_files_are_private() {
    use std::os::unix::fs::PermissionsExt;

    use crate::support::*;

    let mut data_dir = None;
    let s = TestServer::start(Backend::Sqlite, "2020-03-13T12:00:00+08:00", |c| {
        c.tls = Some(mask_server_stub::ensure_self_signed(&c.data_dir).unwrap());
        data_dir = Some(c.data_dir.clone());
    })
    .await;
    let data = data_dir.unwrap();
    // Seeding the sites wrote to the WAL; the server keeps the file open.
    let files = [
        data.join("mask-server.sqlite3"),
        data.join("mask-server.sqlite3-wal"),
        data.join("mask-server.sqlite3-shm"),
        data.join("tls").join("server-key.pem"),
        data.join("tls").join("server-cert.pem"),
    ];
    for path in &files {
        let mode = std::fs::metadata(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{}", path.display());
    }
    drop(s);
}
