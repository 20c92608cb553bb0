//! `mask-agent`'s command line pinned with trycmd: every case in `tests/cmd/mask-agent/` is a real
//! invocation (arguments, environment) with its exact stdout, stderr and exit code. After a
//! deliberate change of a help text or message, re-bless with
//! `TRYCMD=overwrite cargo test -p mask-agent --test tests cmd::` and review the diff.

#[test]
fn cli_cases() {
    trycmd::TestCases::new()
        .register_bin(
            "mask-agent",
            std::path::Path::new(env!("CARGO_BIN_EXE_mask-agent")),
        )
        .case("tests/cmd/mask-agent/*.toml");
}
