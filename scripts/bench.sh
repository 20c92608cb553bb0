#!/usr/bin/env bash
# Runs every benchmark of the workspace, each beside the baseline it measures itself against in
# the same run, and writes the raw output to ${BENCH_OUT:-$CARGO_TARGET_DIR/bench-results}/<name>.txt.
# BENCHMARKS.md quotes these results, with the command of each section.
#
# Usage: scripts/bench.sh [NAME ...]   (names: vpcd_read card_latency journal_commit drain load
#                                       insert_to_screen; default all)
#        scripts/bench.sh launch_day         2020-02-06 at 10× on SQLite then PostgreSQL (~3 h)
#        scripts/bench.sh launch_day_quick   the same day at 60× (~35 min for both backends)
#        scripts/bench.sh launch_day_headroom  08:00–10:00 at rising speeds until a p99 misses
# The launch-day runs are not in the default set (hours); each writes its JSON, Markdown and
# SVG chart to $out/launch-day/, and BENCHMARKS.md keeps the figures (charts in benchmarks/).
# Needs what the test command installs (scripts/install-deps.sh): pcscd + vpcd, tmux, nginx,
# PostgreSQL. Benchmarks are not timed tests: nothing here fails on a slow machine, and the test
# command does not run them.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/mask-target}"
export CARGO_TERM_COLOR=never
out="${BENCH_OUT:-$CARGO_TARGET_DIR/bench-results}"
mkdir -p "$out"

scripts/install-deps.sh >/dev/null
scripts/pcsc-stack.sh start >/dev/null
MASK_BENCH_POSTGRES_URL="$(scripts/postgres-test.sh start)"
export MASK_BENCH_POSTGRES_URL
# The terminal bench drives the release binaries of the demo.
cargo build --workspace --release --locked

run() {
    local name="$1"; shift
    printf '\n==> %s: %s\n' "$name" "$*"
    "$@" 2>&1 | tee "$out/$name.txt"
}

all=(vpcd_read card_latency journal_commit drain load insert_to_screen)
selected=("${@:-${all[@]}}")
for name in "${selected[@]}"; do
    case "$name" in
        vpcd_read) run "$name" cargo bench --locked -p nhi-fixtures --bench vpcd_read ;;
        card_latency) run "$name" cargo bench --locked -p nhi-card --bench card_latency ;;
        journal_commit) run "$name" cargo bench --locked -p mask-agent --bench journal_commit -- --dir /var/tmp ;;
        drain) run "$name" cargo bench --locked -p mask-agent --bench drain -- --sales 100000 ;;
        load) run "$name" cargo bench --locked -p mask-server-stub --bench load -- --secs 10 ;;
        insert_to_screen) run "$name" cargo bench --locked -p mask-demo --bench insert_to_screen ;;
        # 6,500 in-process agents keep a socket each, and so does the server per agent.
        launch_day) (ulimit -n 20000; run "$name" "$CARGO_TARGET_DIR/release/mask-launch-day" --speed 10 --out "$out/launch-day") ;;
        launch_day_quick) (ulimit -n 20000; run "$name" "$CARGO_TARGET_DIR/release/mask-launch-day" --speed 60 --out "$out/launch-day") ;;
        launch_day_headroom) (ulimit -n 20000; run "$name" "$CARGO_TARGET_DIR/release/mask-launch-day" --from 08:00 --to 10:00 --headroom 2,5,10,20,40 --out "$out/launch-day") ;;
        *) echo "bench.sh: unknown benchmark $name (one of: ${all[*]} launch_day launch_day_quick launch_day_headroom)" >&2; exit 2 ;;
    esac
done
printf '\nresults in %s\n' "$out"
