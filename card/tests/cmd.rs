//! `nhi-read`'s command line pinned with trycmd: every case in `tests/cmd/nhi-read/` is a real
//! invocation (arguments, environment) with its exact stdout, stderr and exit code. After a
//! deliberate change of a help text or message, re-bless with
//! `TRYCMD=overwrite cargo test -p nhi-card --test tests cmd::` and review the diff.

#[test]
fn cli_cases() {
    trycmd::TestCases::new()
        .register_bin(
            "nhi-read",
            std::path::Path::new(env!("CARGO_BIN_EXE_nhi-read")),
        )
        .case("tests/cmd/nhi-read/*.toml");
}
