#!/usr/bin/env bash
# Fails when any log written during the test run holds a full ID number of a fixture card.
# The IDs come from the virtual card profiles (fixtures/cards/*.toml) and the well-known test IDs
# of DOMAIN.md; masked forms such as A12****789 are fine.
# Usage: scripts/check-logs.sh DIR [DIR...]
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t ids < <(
  { grep -rhoE '\b[A-Z][0-9A-D][0-9]{8}\b' fixtures/cards 2>/dev/null
    printf '%s\n' A123456789 A800000014 AC01234567 AA00000009; } | sort -u
)
pattern=$(IFS='|'; echo "${ids[*]}")

status=0
for dir in "$@"; do
  [ -e "$dir" ] || continue
  if hits=$(grep -rIlE "$pattern" "$dir" 2>/dev/null); then
    echo "check-logs: unmasked ID numbers found in:" >&2
    echo "$hits" >&2
    status=1
  fi
done
if [ "$status" -eq 0 ]; then
  echo "check-logs: ${#ids[@]} fixture IDs, none unmasked in: $*"
fi
exit "$status"
