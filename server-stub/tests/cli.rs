//! The binary's command line where a store is involved (tokens, private files). Usage errors and
//! help without a store are trycmd cases in `tests/cmd/mask-server-stub/`.

use std::process::{Command, Output};

use crate::support::get_with;

fn bin(lang: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mask-server-stub"))
        .args(args)
        .env_remove("LANG")
        .env_remove("LC_ALL")
        .env("MASK_LANG", lang)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn token_issue_prints_one_token_and_refuses_unknown_sites() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let o = bin(
        "en",
        &["token", "issue", "--data-dir", d, "--site", "592202A296"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    assert_eq!(out.lines().count(), 1);
    assert!(out.starts_with("mst_") && out.trim().len() == 68);
    let o = bin(
        "en",
        &["token", "issue", "--data-dir", d, "--site", "9999999999"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("is not in the registry"));
}

#[cfg(unix)]
#[test]
fn data_dir_and_database_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let o = bin(
        "en",
        &[
            "token",
            "issue",
            "--data-dir",
            data.to_str().unwrap(),
            "--site",
            "0145080011",
        ],
    );
    assert!(o.status.success());
    assert_eq!(
        std::fs::metadata(&data).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let db = data.join("mask-server.sqlite3");
    assert_eq!(
        std::fs::metadata(db).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[tokio::test]
async fn an_audit_token_from_the_command_line_reads_the_audit_list() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let neither = bin("en", &["token", "issue", "--data-dir", d]);
    assert_eq!(neither.status.code(), Some(2), "{}", stderr(&neither));
    let both = bin(
        "en",
        &[
            "token",
            "issue",
            "--data-dir",
            d,
            "--audit",
            "--site",
            "0145080011",
        ],
    );
    assert_eq!(both.status.code(), Some(2), "{}", stderr(&both));
    let issued = bin("en", &["token", "issue", "--data-dir", d, "--audit"]);
    assert_eq!(issued.status.code(), Some(0), "{}", stderr(&issued));
    assert!(
        stderr(&issued).contains("the central audit"),
        "{}",
        stderr(&issued)
    );
    let token = String::from_utf8(issued.stdout).unwrap().trim().to_owned();

    let mut config = mask_server_stub::ServerConfig::new(dir.path());
    config.rate_limit_per_sec = 0;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = mask_server_stub::spawn(config, listener).await.unwrap();
    let http = reqwest::Client::new();
    let audit = get_with(
        &http,
        &format!(
            "{}/v1/audit/sales?from=2020-03-01&to=2020-03-31",
            server.url()
        ),
        &token,
    )
    .await;
    assert_eq!(audit.status(), reqwest::StatusCode::OK);
    let pharmacy = get_with(&http, &format!("{}/v1/whoami", server.url()), &token).await;
    assert_eq!(pharmacy.status(), reqwest::StatusCode::FORBIDDEN);
    server.shutdown().await.unwrap();
}
