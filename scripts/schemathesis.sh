#!/usr/bin/env bash
# Runs schemathesis against mask-server-stub's generated OpenAPI document (/v1/openapi.json):
# a real server binary on 127.0.0.1 (plain HTTP, SQLite in a temp dir, clock at 2020-03-13),
# with a pharmacy token, every operation fuzzed from its schema.
#
# Needs: schemathesis 4 (scripts/install-deps.sh puts it in /var/tmp/mask-venv; one on PATH is
# used otherwise) and a built binary (MASK_SERVER_BIN, default
# $CARGO_TARGET_DIR/debug/mask-server-stub, built if missing).
# Extra arguments are passed to `schemathesis run` (e.g. --max-examples 200).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${MASK_VENV:-/var/tmp/mask-venv}
if [[ -x "$venv/bin/schemathesis" ]]; then
    export PATH="$venv/bin:$PATH"
fi
if ! command -v schemathesis >/dev/null; then
    echo "schemathesis.sh: schemathesis not installed (run scripts/install-deps.sh)" >&2
    exit 1
fi
target=${CARGO_TARGET_DIR:-target}
bin=${MASK_SERVER_BIN:-$target/debug/mask-server-stub}
if [[ ! -x "$bin" ]]; then
    cargo build -p mask-server-stub >&2
fi

work=$(mktemp -d /tmp/mask-schemathesis.XXXXXX)
server_pid=
cleanup() {
    if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

token=$("$bin" token issue --data-dir "$work/data" --site 0145080011 2>/dev/null)
mkfifo "$work/out"
MASK_LANG=en "$bin" --listen 127.0.0.1:0 --plain-http --data-dir "$work/data" \
    --as-of 2020-03-13T12:00:00+08:00 --rate-limit 0 >"$work/out" 2>"$work/server.log" &
server_pid=$!
# The first stdout line is "listening on http://127.0.0.1:PORT" once the server accepts.
read -r line <"$work/out"
base=${line#listening on }
cat "$work/out" >/dev/null &
echo "schemathesis.sh: server at $base" >&2

# positive_data_acceptance is left out on purpose: schema-valid bodies are often refused by the
# business rules (ID checksum, sale time window), which is correct behaviour.
schemathesis run "$base/v1/openapi.json" \
    --url "$base" \
    --header "Authorization: Bearer $token" \
    --checks all \
    --exclude-checks positive_data_acceptance \
    --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-60}" \
    --suppress-health-check all \
    "$@" || status=$?
status=${status:-0}
if grep -q "panicked" "$work/server.log"; then
    echo "schemathesis.sh: the server panicked:" >&2
    cat "$work/server.log" >&2
    exit 1
fi
exit $status
