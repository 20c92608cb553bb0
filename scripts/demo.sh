#!/usr/bin/env bash
# The README's demo command: installs what the demo needs, starts the PC/SC service with the
# virtual readers, builds the release binaries and starts the full demo (server stub, agent,
# virtual cards, terminal UI). Quitting the UI with q stops everything the demo started.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh >&2
scripts/pcsc-stack.sh start >&2
cargo build --release --workspace --locked >&2
target_dir="${CARGO_TARGET_DIR:-target}"
exec "$target_dir/release/mask-demo" "$@"
