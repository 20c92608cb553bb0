//! The counter binary's command line: the demo moved to `mask-demo`, and an old command line is
//! told so instead of starting anything.

use std::process::Command;

fn mask_terminal(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mask-terminal"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_old_demo_flag_points_at_mask_demo_in_the_chosen_language() {
    let (code, zh) = mask_terminal(&["--demo"]);
    assert_eq!(code, Some(2), "{zh}");
    assert!(
        zh.contains("示範模式已移到") && zh.contains("mask-demo"),
        "{zh}"
    );
    let (code, en) = mask_terminal(&["--lang", "en", "--demo", "--demo-cards", "adult"]);
    assert_eq!(code, Some(2), "{en}");
    assert!(en.contains("its own program now, mask-demo"), "{en}");
    let (code, en) = mask_terminal(&["--lang", "en", "--demo-as-of", "2020-03-09T10:00:00+08:00"]);
    assert_eq!(code, Some(2), "{en}");
    assert!(en.contains("mask-demo"), "{en}");
}

#[test]
fn help_no_longer_offers_the_demo() {
    let out = Command::new(env!("CARGO_BIN_EXE_mask-terminal"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(!help.contains("--demo"), "{help}");
    assert!(help.contains("--socket"), "{help}");
}
