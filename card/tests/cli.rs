//! `nhi-read` as the acceptance checks drive it: real invocations of the built binary.

use std::process::{Command, Output};

use mask_cli::exit::CARD_REFUSED;
use nhi_fixtures::VPCD_PORT;
use serde_json::Value;

use crate::support::{VPCD_READER, insert, profile, reader_1, wait_empty};

pub fn nhi_read(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nhi-read"))
        .args(args)
        .env_remove("MASK_LANG")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env("LANG", "C.UTF-8")
        .output()
        .unwrap()
}

fn stdout_json(out: &Output) -> Value {
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(text.lines().count(), 1, "exactly one JSON line: {text}");
    serde_json::from_str(&text).unwrap()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const READ: [&str; 5] = ["--json", "--reader", VPCD_READER, "--timeout", "15"];

#[test]
fn json_with_show_pii_prints_the_full_identity() {
    let Some(_lock) = reader_1("json_with_show_pii_prints_the_full_identity") else {
        return;
    };
    wait_empty(VPCD_READER);
    let card = insert("adult", VPCD_PORT);
    let out = nhi_read(&[&READ[..], &["--show-pii"]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout_json(&out),
        serde_json::to_value(profile("adult").expected_identity().unwrap()).unwrap()
    );
    card.apdu_log().assert_read_only();
}

#[test]
fn without_show_pii_every_personal_field_is_masked() {
    let Some(_lock) = reader_1("without_show_pii_every_personal_field_is_masked") else {
        return;
    };
    wait_empty(VPCD_READER);
    let _card = insert("adult", VPCD_PORT);
    let out = nhi_read(&READ);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json = stdout_json(&out);
    assert_eq!(json["id_no"], "A12****789");
    assert_eq!(json["name"], "王○明");
    assert_eq!(json["card_no"], "0000****5678");
    assert_eq!(json["birth_date"], "1990-**-**");
    assert_eq!(json["sex"], "M");
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    for full in ["000012345678", "1990-01-01", "A123456789", "王小明"] {
        assert!(!text.contains(full), "{full} printed: {text}");
    }
}

#[test]
fn the_readable_summary_is_localised_and_masked() {
    let Some(_lock) = reader_1("the_readable_summary_is_localised_and_masked") else {
        return;
    };
    wait_empty(VPCD_READER);
    let _card = insert("adult", VPCD_PORT);
    let out = nhi_read(&["--reader", VPCD_READER, "--timeout", "15"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8(out.stdout.clone()).unwrap(),
        "卡號: 0000****5678\n姓名: 王○明\n身分證號: A12****789\n出生日期: 1990-**-**\n\
         性別: 男\n發卡日期: 2020-01-01\n"
    );
    assert_eq!(stderr(&out), "請將健保卡插入讀卡機……\n");
}

#[test]
fn a_refused_card_exits_5_with_the_reason_in_both_languages() {
    let Some(_lock) = reader_1("a_refused_card_exits_5_with_the_reason") else {
        return;
    };
    wait_empty(VPCD_READER);
    let _card = insert("hpc", VPCD_PORT);
    let out = nhi_read(&READ);
    assert_eq!(out.status.code(), Some(CARD_REFUSED.into()));
    assert!(out.stdout.is_empty());
    assert!(stderr(&out).contains("醫事人員卡"), "{}", stderr(&out));
    let out = nhi_read(&[&READ[..], &["--lang", "en"]].concat());
    assert_eq!(out.status.code(), Some(CARD_REFUSED.into()));
    assert!(
        stderr(&out).contains("health-professional card"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_bank_card_is_named_by_its_application_label() {
    let Some(_lock) = reader_1("a_bank_card_is_named_by_its_application_label") else {
        return;
    };
    wait_empty(VPCD_READER);
    let card = insert("bank", VPCD_PORT);
    let out = nhi_read(&[&READ[..], &["--lang", "en"]].concat());
    assert_eq!(
        out.status.code(),
        Some(CARD_REFUSED.into()),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).starts_with("This is not an NHI card (the card inserted is \"VISA DEBIT\")."),
        "{}",
        stderr(&out)
    );
    let out = nhi_read(&READ);
    assert_eq!(out.status.code(), Some(CARD_REFUSED.into()));
    assert!(
        stderr(&out).contains("這不是健保卡（插入的是「VISA DEBIT」）"),
        "{}",
        stderr(&out)
    );
    card.apdu_log().assert_read_only();
}

#[test]
fn no_card_before_the_timeout_exits_1_with_a_hint() {
    let Some(_lock) = reader_1("no_card_before_the_timeout_exits_1") else {
        return;
    };
    wait_empty(VPCD_READER);
    let out = nhi_read(&[
        "--json",
        "--reader",
        VPCD_READER,
        "--timeout",
        "0.5",
        "--lang",
        "en",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("Timed out"), "{}", stderr(&out));
    assert!(stderr(&out).contains("--timeout"), "{}", stderr(&out));
}

#[test]
fn an_unknown_reader_exits_1() {
    let Some(_lock) = reader_1("an_unknown_reader_exits_1") else {
        return;
    };
    let out = nhi_read(&["--json", "--reader", "No Such Reader", "--timeout", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "找不到名稱含「No Such Reader」的讀卡機。\n\
         請檢查 --reader 的名稱，或省略 --reader 使用任一台讀卡機。\n\
         (詳細原因: reader not found: No Such Reader)\n"
    );
    let out = nhi_read(&["--reader", "No Such Reader", "--lang", "en"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "Insert an NHI card into the reader…\n\
         No card reader named \"No Such Reader\".\n\
         Check the --reader name, or leave --reader out to use any reader.\n\
         (detail: reader not found: No Such Reader)\n"
    );
}
