#!/usr/bin/env bash
# The project's one test command (README "Run all tests"; .ci/run calls exactly this).
# It installs what it needs, starts the services it needs (pcscd with the vpcd virtual readers,
# a private PostgreSQL), and runs every check: format, lints, unit/integration/end-to-end tests,
# the Windows cross-build, the installer packages, and the API fuzzing against the OpenAPI spec.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

# A build cache outside the clone keeps repeated runs fast; a run from empty works the same.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/mask-target}"
export CARGO_TERM_COLOR=never
# Incremental caches only speed up rebuilds of a changed crate; a run from empty pays for them in
# disk, and a CI run ran out of disk ("No space left on device") while building the tests.
# Developers running cargo directly keep them.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
# End-to-end tests fail (instead of skipping) when the PC/SC stack, PostgreSQL or the browser
# (chromium + chromedriver) is missing.
export REQUIRE_PCSC=1
export REQUIRE_POSTGRES=1
export REQUIRE_BROWSER=1

started=$SECONDS
step() {
    printf '\n==> [%dm%02ds] %s' $(((SECONDS - started) / 60)) $(((SECONDS - started) % 60)) "$*"
    # The build cache's size and the disk's free space, so a full disk is seen coming in the log.
    if [ -d "$CARGO_TARGET_DIR" ]; then
        printf '   (build cache %s, %s free)' "$(du -sh "$CARGO_TARGET_DIR" 2>/dev/null | cut -f1)" \
            "$(df -h --output=avail "$CARGO_TARGET_DIR" | tail -1 | tr -d ' ')"
    fi
    printf '\n'
}

step "system packages and Rust targets"
scripts/install-deps.sh

step "PC/SC service with the virtual readers"
scripts/pcsc-stack.sh start

step "PostgreSQL for the server's second storage backend"
MASK_TEST_POSTGRES_URL="$(scripts/postgres-test.sh start)"
export MASK_TEST_POSTGRES_URL

step "format and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The Windows-only code paths too (the cross-build below does not fail on warnings).
cargo clippy --workspace --locked --target x86_64-pc-windows-gnu -- -D warnings

step "release build (the binaries the demo, the end-to-end tests and the packages use)"
cargo build --workspace --release --locked

step "tests"
# Logs of the whole run are collected here and checked for unmasked personal data at the end.
export MASK_TEST_LOG_DIR="${MASK_TEST_LOG_DIR:-$CARGO_TARGET_DIR/test-logs}"
rm -rf "$MASK_TEST_LOG_DIR" && mkdir -p "$MASK_TEST_LOG_DIR"
cargo test --workspace --locked 2>&1 | tee "$MASK_TEST_LOG_DIR/cargo-test.log"

step "Windows cross-build (x86_64-pc-windows-gnu)"
cargo build --workspace --release --locked --target x86_64-pc-windows-gnu

step "API fuzzing against /v1/openapi.json"
scripts/schemathesis.sh

step "installer packages (.deb, .msi, launchd)"
installers/test.sh

step "no unmasked ID number from the fixtures in any log"
scripts/check-logs.sh "$MASK_TEST_LOG_DIR"

echo
step "all checks passed"
