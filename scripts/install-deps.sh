#!/usr/bin/env bash
# Installs the system packages and Rust targets the demo, the tests and the installers need.
# Idempotent; runs as root on Debian 12 (or with sudo). Used by scripts/test.sh and scripts/demo.sh.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

packages=(
  # PC/SC stack and the virtual card reader driver
  pcscd libpcsclite-dev pkg-config vsmartcard-vpcd pcsc-tools
  # Windows cross-build and MSI packaging
  gcc-mingw-w64-x86-64 wixl msitools
  # Debian packaging checks
  dpkg-dev desktop-file-utils
  # Terminal end-to-end tests, PostgreSQL backend tests, benchmark peers
  tmux postgresql nginx curl ca-certificates
  python3-venv python3-pip
  # Browser tests: headless Chromium, its WebDriver, and CJK glyphs for the zh-TW pages
  chromium chromium-driver fonts-noto-cjk
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if command -v rustup >/dev/null 2>&1; then
  rustup target list --installed | grep -qx x86_64-pc-windows-gnu || rustup target add x86_64-pc-windows-gnu
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
fi

# schemathesis (API fuzzing against the server's OpenAPI document) in a venv outside the clone,
# pinned so a run is repeatable; scripts/schemathesis.sh looks for it there.
SCHEMATHESIS_VERSION=4.32.5
venv=${MASK_VENV:-/var/tmp/mask-venv}
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  echo "install-deps: installing schemathesis $SCHEMATHESIS_VERSION in $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
