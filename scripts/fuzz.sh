#!/usr/bin/env bash
# Runs every fuzz target (proptest, see card/tests/fuzz.rs, agent/protocol/tests/fuzz.rs,
# server-stub/api/tests/fuzz.rs) with many cases in a release build and a fixed seed, and prints
# one line per target: cases, seconds, findings. Exit 1 when any target finds something (its
# minimal failing input is in the log and in the target's .proptest-regressions file).
#
# Usage: scripts/fuzz.sh [TARGET[=CASES]...]        (default: all, FUZZ_CASES each)
#   FUZZ_CASES  cases per target (default 1000000)
#   FUZZ_SEED   PROPTEST_RNG_SEED (default 20200206)
#   FUZZ_LOG    directory for per-target logs (default $CARGO_TARGET_DIR/fuzz-logs)
set -euo pipefail
cd "$(dirname "$0")/.."

cases="${FUZZ_CASES:-1000000}"
seed="${FUZZ_SEED:-20200206}"
target_dir="${CARGO_TARGET_DIR:-target}"
logs="${FUZZ_LOG:-$target_dir/fuzz-logs}"
mkdir -p "$logs"

# package:test-function
all=(
  nhi-card:fuzz_basic_data_record
  nhi-card:fuzz_valid_records_round_trip
  nhi-card:fuzz_status_words
  nhi-card:fuzz_fci_label
  nhi-card:fuzz_read_chaining
  mask-protocol:fuzz_local_api_frames
  mask-protocol:fuzz_local_api_frames_in_their_envelopes
  mask-api:fuzz_api_bodies
  mask-api:fuzz_api_bodies_nested
)
declare -A cases_of=()
if [ "$#" -gt 0 ]; then
  wanted=()
  for a in "$@"; do
    for t in "${all[@]}"; do
      if [ "${t#*:}" = "${a%%=*}" ]; then
        wanted+=("$t")
        [[ "$a" == *=* ]] && cases_of[$t]=${a#*=}
      fi
    done
  done
else
  wanted=("${all[@]}")
fi
[ "${#wanted[@]}" -gt 0 ] || { echo "fuzz.sh: no such target: $*" >&2; exit 2; }

echo "fuzz.sh: seed PROPTEST_RNG_SEED=$seed, $cases cases per target, logs in $logs"
# Always the same package set: building one package alone unifies features differently and
# rebuilds its dependencies.
packages=(-p nhi-card -p mask-protocol -p mask-api)
cargo test --release --locked "${packages[@]}" --test fuzz --no-run \
  >"$logs/build.log" 2>&1 || { cat "$logs/build.log" >&2; exit 2; }

printf '%-45s %10s %9s %s\n' target cases seconds findings
findings_total=0
for t in "${wanted[@]}"; do
  pkg="${t%%:*}" name="${t#*:}" n="${cases_of[$t]:-$cases}"
  log="$logs/$name.log"
  start=$(date +%s.%N)
  if PROPTEST_CASES="$n" PROPTEST_RNG_SEED="$seed" PROPTEST_MAX_SHRINK_ITERS=4096 \
     cargo test --release --locked -q "${packages[@]}" --test fuzz "$name" -- --exact >"$log" 2>&1; then
    found=0
  else
    found=1
  fi
  end=$(date +%s.%N)
  secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
  printf '%-45s %10s %9s %s\n' "$pkg::$name" "$n" "$secs" "$found"
  if [ "$found" -ne 0 ]; then
    grep -E "minimal failing input|Test failed" -A3 "$log" | head -20 >&2 || true
    findings_total=$((findings_total + 1))
  fi
done
echo "fuzz.sh: $findings_total target(s) with findings"
[ "$findings_total" -eq 0 ]
