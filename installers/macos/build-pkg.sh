#!/bin/sh
# Builds mask-agent-<version>.pkg on a Mac (pkgbuild is macOS-only; this cannot run on Linux).
# Usage: installers/macos/build-pkg.sh [BIN_DIR]
#   BIN_DIR holds release binaries mask-agent, mask-terminal and nhi-read (default: target/release; for a universal
#   build: cargo build --release --target aarch64-apple-darwin and x86_64-apple-darwin, then lipo).
set -eu

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/installers/macos"
BIN_DIR="${1:-${CARGO_TARGET_DIR:-$ROOT/target}/release}"
LABEL=tw.mask-rationing.mask-agent
VERSION="$(cd "$ROOT" && cargo pkgid -p mask-agent | sed 's/.*[@#]//')"
OUT="$ROOT/target/packages"
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT

plutil -lint "$HERE/$LABEL.plist"

install -d "$STAGE/root/usr/local/bin" "$STAGE/root/Library/LaunchDaemons" "$STAGE/root/private/etc/mask-agent" \
    "$STAGE/root/Applications"
install -m 0755 "$BIN_DIR/mask-agent" "$BIN_DIR/mask-terminal" "$BIN_DIR/nhi-read" "$STAGE/root/usr/local/bin/"
# The pharmacist's launcher: double-clicked in Finder, it opens the counter screen in Terminal.
install -m 0755 "$HERE/mask-counter.command" "$STAGE/root/Applications/Mask Counter.command"
install -m 0644 "$HERE/$LABEL.plist" "$STAGE/root/Library/LaunchDaemons/"
# Shipped as a template: postinstall copies it to agent.toml only when there is none, so a
# reinstall or upgrade never replaces the pharmacy's config.
install -m 0640 "$HERE/agent.toml" "$STAGE/root/private/etc/mask-agent/agent.toml.example"
install -d "$STAGE/scripts"
install -m 0755 "$HERE/scripts/preinstall" "$HERE/scripts/postinstall" "$STAGE/scripts/"

mkdir -p "$OUT"
pkgbuild --root "$STAGE/root" --scripts "$STAGE/scripts" \
    --identifier "$LABEL" --version "$VERSION" --install-location / \
    "$OUT/mask-agent-$VERSION.pkg"
echo "$OUT/mask-agent-$VERSION.pkg"
