//! `mask-terminal`'s command line pinned with trycmd: every case in `tests/cmd/mask-terminal/` is a real
//! invocation (arguments, environment) with its exact stdout, stderr and exit code. After a
//! deliberate change of a help text or message, re-bless with
//! `TRYCMD=overwrite cargo test -p mask-terminal --test tests cmd::` and review the diff.

#[test]
fn cli_cases() {
    trycmd::TestCases::new()
        .register_bin(
            "mask-terminal",
            std::path::Path::new(env!("CARGO_BIN_EXE_mask-terminal")),
        )
        .case("tests/cmd/mask-terminal/*.toml");
}
