#!/usr/bin/env bash
# Fails when any file under the given directories (the test logs) holds personal data in full:
#  - every ID number, card number, name and birth date the virtual cards define
#    (fixtures/cards/*.toml: id_no, card_no, name and the expected name, birth_roc as ROC
#    YYYMMDD and as YYYY-MM-DD);
#  - the ID numbers the tests generated, listed one a line in generated-ids.txt (in a scanned
#    directory or in $MASK_TEST_LOG_DIR);
#  - any other token shaped like a national ID number whose checksum is valid (so IDs made up
#    by tests that keep no list are caught too).
# Masked forms (A12****789, 0000****5678, 王○明, 1990-**-**) are fine. Hits are reported masked,
# so this script's own output leaks nothing.
# Usage: scripts/check-logs.sh DIR [DIR...]
set -euo pipefail
export LC_ALL=C.UTF-8
cd "$(dirname "$0")/.."

[ "$#" -gt 0 ] || { echo "usage: scripts/check-logs.sh DIR [DIR...]" >&2; exit 2; }

# Values with digit boundaries (IDs, card numbers, ROC dates) and plain substrings (names, ISO
# dates), each with its kind for the report.
declare -A kind_of=()
bounded=()
plain=()
add_bounded() { [ -n "$1" ] && [ -z "${kind_of[$1]+x}" ] && { kind_of[$1]=$2; bounded+=("$1"); } || true; }
add_plain() { [ -n "$1" ] && [ -z "${kind_of[$1]+x}" ] && { kind_of[$1]=$2; plain+=("$1"); } || true; }

while IFS= read -r line; do
  field=${line%%=*}; field=${field//[[:space:]]/}
  value=${line#*\"}; value=${value%\"*}
  case "$field" in
    id_no) add_bounded "$value" "ID number" ;;
    card_no) add_bounded "$value" "card number" ;;
    name) add_plain "$(printf '%b' "$value")" "name" ;;
    birth_roc)
      add_bounded "$value" "birth date"
      if [[ "$value" =~ ^[0-9]{7}$ ]]; then
        add_plain "$((10#${value:0:3} + 1911))-${value:3:2}-${value:5:2}" "birth date"
      fi ;;
  esac
done < <(grep -hE '^[[:space:]]*(id_no|card_no|name|birth_roc)[[:space:]]*=[[:space:]]*"' fixtures/cards/*.toml)
for id in A123456789 A800000014 AC01234567 AA00000009; do add_bounded "$id" "ID number"; done
fixture_count=${#kind_of[@]}

hits=$(mktemp)
generated_set=$(mktemp)
tokens=$(mktemp)
trap 'rm -f "$hits" "$generated_set" "$tokens"' EXIT

# The generated IDs can be thousands (a test run lists every one it made): too many for one
# regular expression (grep fails with "regular expression is too large"), so they are a set
# that every ID-shaped token of the logs is looked up in.
generated=0
for list in "${MASK_TEST_LOG_DIR:-/nonexistent}/generated-ids.txt" "${@/%//generated-ids.txt}"; do
  [ -f "$list" ] || continue
  while IFS= read -r id; do
    id=${id//[[:space:]]/}
    [ -n "$id" ] && [ -z "${kind_of[$id]+x}" ] || continue
    kind_of[$id]="generated ID number"
    generated=$((generated + 1))
    echo "$id" >>"$generated_set"
  done < "$list"
done

mask() {
  local value=$1 n=${#1}
  case "${kind_of[$value]:-ID number}" in
    name)
      if [ "$n" -le 2 ]; then echo "${value:0:1}○"
      else printf '%s%s%s\n' "${value:0:1}" "$(printf '○%.0s' $(seq 3 "$n"))" "${value: -1}"; fi ;;
    "card number") echo "${value:0:4}****${value: -4}" ;;
    "birth date")
      if [[ "$value" == *-* ]]; then echo "${value:0:4}-**-**"; else echo "${value:0:3}****"; fi ;;
    *) echo "${value:0:3}****${value: -3}" ;;
  esac
}

join_alt() { local IFS='|'; echo "$*"; }
# grep, where "no match" is fine but a failing grep (a bad pattern, an unreadable file) must not
# pass for a clean log.
scan() {
  local rc=0
  grep "$@" || rc=$?
  if [ "$rc" -gt 1 ]; then
    echo "check-logs: grep failed (exit $rc): the scan is incomplete" >&2
    exit 2
  fi
}
dirs=()
for dir in "$@"; do [ -e "$dir" ] && dirs+=("$dir"); done
if [ "${#dirs[@]}" -gt 0 ]; then
  grep_args=(-rIoHn --exclude=generated-ids.txt)
  # Fixture values.
  if [ "${#bounded[@]}" -gt 0 ]; then
    scan "${grep_args[@]}" -P "(?<![0-9A-Za-z])($(join_alt "${bounded[@]}"))(?![0-9])" "${dirs[@]}" >>"$hits"
  fi
  if [ "${#plain[@]}" -gt 0 ]; then
    scan "${grep_args[@]}" -F "$(printf '%s\n' "${plain[@]}")" "${dirs[@]}" >>"$hits"
  fi
  # Every token shaped like an ID number, for the generated list and the checksum test.
  scan "${grep_args[@]}" -P '(?<![0-9A-Za-z])[A-Z][0-9A-Z][0-9]{8}(?![0-9])' "${dirs[@]}" >"$tokens"
  # Generated IDs.
  awk -F: 'NR == FNR { want[$0] = 1; next } ($NF in want)' "$generated_set" "$tokens" >>"$hits"
  # Any checksum-valid ID number (DOMAIN.md §4), fixture or not.
  grep -E ':[A-Z][1289A-D][0-9]{8}$' "$tokens" |
    awk -F: '{
      id = $NF
      split("10 11 12 13 14 15 16 17 34 18 19 20 21 22 35 23 24 25 26 27 28 29 32 30 31 33", v, " ")
      letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
      first = v[index(letters, substr(id, 1, 1))]
      second = substr(id, 2, 1)
      d1 = (second ~ /[A-D]/) ? v[index(letters, second)] % 10 : second + 0
      sum = int(first / 10) + (first % 10) * 9 + d1 * 8
      for (i = 3; i <= 9; i++) sum += substr(id, i, 1) * (10 - i)
      sum += substr(id, 10, 1)
      if (sum % 10 == 0) print
    }' >>"$hits" || true
fi

if [ -s "$hits" ]; then
  echo "check-logs: unmasked personal data found (shown masked):" >&2
  sort -u "$hits" | while IFS= read -r hit; do
    value=${hit##*:}; where=${hit%:*}
    echo "  $where: ${kind_of[$value]:-ID number (valid checksum)} $(mask "$value")" >&2
  done
  exit 1
fi
echo "check-logs: $fixture_count fixture values, $generated generated IDs and any valid ID number: none unmasked in: $*"
