//! `mask-demo`'s command line pinned with trycmd: every case in `tests/cmd/mask-demo/` is a real
//! invocation (arguments, environment) with its exact stdout, stderr and exit code. After a
//! deliberate change of a help text or message, re-bless with
//! `TRYCMD=overwrite cargo test -p mask-demo --test tests cmd::` and review the diff.

#[test]
fn cli_cases() {
    trycmd::TestCases::new()
        .register_bin(
            "mask-demo",
            std::path::Path::new(env!("CARGO_BIN_EXE_mask-demo")),
        )
        .case("tests/cmd/mask-demo/*.toml");
}
