#!/usr/bin/env bash
# Builds every package that can be built on Linux into <repo>/target/packages/:
#   mask-agent_<version>-1_amd64.deb   (cargo-deb; metadata in agent/Cargo.toml, files in installers/debian/)
#   mask-agent-<version>-x64.msi       (wixl; installers/windows/mask-agent.wxs)
#   install.ps1                        (unattended Windows install helper, shipped beside the MSI)
# Installs what it needs first (apt packages, the Windows Rust target, cargo-deb), like the
# project's test command. Respects CARGO_TARGET_DIR; the packages still land in <repo>/target/packages.
#
# Usage: installers/build.sh [--skip-deps] [--only deb|msi]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
OUT="$ROOT/target/packages"
WIN_TRIPLE=x86_64-pc-windows-gnu
CARGO_DEB_VERSION="3.8.0"

SKIP_DEPS=0
ONLY=all
while [ $# -gt 0 ]; do
    case "$1" in
        --skip-deps) SKIP_DEPS=1 ;;
        --only) ONLY="$2"; shift ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
        *) echo "build.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

log() { printf '\n==> %s\n' "$*" >&2; }

install_deps() {
    local missing=()
    command -v dpkg-shlibdeps >/dev/null || missing+=(dpkg-dev)
    command -v wixl >/dev/null || missing+=(wixl)
    command -v msiinfo >/dev/null || missing+=(msitools)
    command -v msibuild >/dev/null || missing+=(msitools)
    command -v x86_64-w64-mingw32-gcc >/dev/null || missing+=(gcc-mingw-w64-x86-64)
    command -v pkg-config >/dev/null || missing+=(pkg-config)
    [ -e /usr/include/PCSC/winscard.h ] || missing+=(libpcsclite-dev)
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing system packages: ${missing[*]}"
        if [ "$(id -u)" -ne 0 ]; then
            echo "build.sh: need root to apt-get install ${missing[*]}" >&2
            exit 1
        fi
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
    if ! rustup target list --installed | grep -qx "$WIN_TRIPLE"; then
        log "adding Rust target $WIN_TRIPLE"
        rustup target add "$WIN_TRIPLE"
    fi
    if ! cargo deb --version >/dev/null 2>&1; then
        log "installing cargo-deb $CARGO_DEB_VERSION (crates.io)"
        cargo install --locked --version "$CARGO_DEB_VERSION" cargo-deb
    fi
}

# Version of the mask-agent package, e.g. 0.1.0 (from `cargo pkgid`: ...#mask-agent@0.1.0).
agent_version() {
    local id
    id="$(cd "$ROOT" && cargo pkgid -p mask-agent)"
    id="${id##*[@#]}"
    printf '%s\n' "$id"
}

# The whole workspace, not just the two packaged crates: `-p` would resolve a different feature
# set and rebuild what the test command's `cargo build --workspace --release` already built.
build_linux() {
    log "building Linux release binaries"
    (cd "$ROOT" && cargo build --release --locked --workspace --bins)
}

# Only the crates whose programs the MSI ships: the server stub and the test tools are not for
# Windows pharmacy PCs, and cross-building them doubled the test command's Windows step (their
# Windows code is still type-checked and linted by the test command's clippy step).
build_windows() {
    log "cross-building $WIN_TRIPLE release binaries (mask-agent, mask-terminal, nhi-read)"
    (cd "$ROOT" && cargo build --release --locked --target "$WIN_TRIPLE" \
        -p mask-agent -p mask-terminal -p nhi-card --bins)
}

package_deb() {
    log "packaging .deb with cargo-deb"
    mkdir -p "$OUT"
    rm -f "$OUT"/mask-agent_*.deb
    # --no-build: the binaries were just built above (with the same CARGO_TARGET_DIR).
    (cd "$ROOT" && cargo deb -p mask-agent --no-build --strip --output "$OUT/")
}

package_msi() {
    local version msi_version stage msi
    version="$(agent_version)"
    # MSI ProductVersion is numeric major.minor.build: drop any pre-release/build suffix.
    msi_version="${version%%[-+]*}"
    stage="$TARGET_DIR/packages-stage/windows"
    msi="$OUT/mask-agent-$version-x64.msi"
    log "packaging MSI $msi_version with wixl"
    rm -rf "$stage"
    mkdir -p "$stage" "$OUT"
    # Ship stripped copies (the release profile keeps line tables for Linux backtraces). Everything
    # goes into one directory with the .wxs: wixl resolves Source paths relative to the .wxs.
    for exe in mask-agent.exe mask-terminal.exe nhi-read.exe; do
        x86_64-w64-mingw32-strip -o "$stage/$exe" "$TARGET_DIR/$WIN_TRIPLE/release/$exe"
    done
    cp "$ROOT/installers/windows/mask-agent.wxs" "$ROOT/installers/windows/agent.toml" \
        "$ROOT/installers/README.md" "$stage/"
    rm -f "$OUT"/mask-agent-*.msi
    wixl -a x64 -D Version="$msi_version" -o "$msi" "$stage/mask-agent.wxs"
    patch_config_component "$msi"
    cp "$ROOT/installers/windows/install.ps1" "$OUT/install.ps1"
}

# wixl ignores Component/@Permanent and @NeverOverwrite. Set them in the Component table:
# msidbComponentAttributes64bit (256) | Permanent (16) | NeverOverwrite (128) = 400, so an upgrade
# keeps the pharmacy's edited agent.toml and an uninstall does not delete it.
patch_config_component() {
    local msi="$1"
    msibuild "$msi" -q "UPDATE \`Component\` SET \`Attributes\` = 400 WHERE \`Component\` = 'ConfigFile'"
    if ! msiinfo export "$msi" Component | grep -qP '^ConfigFile\t.*\t400\t'; then
        echo "build.sh: could not mark the config component Permanent/NeverOverwrite" >&2
        exit 1
    fi
}

[ "$SKIP_DEPS" -eq 1 ] || install_deps

case "$ONLY" in
    all) build_linux; package_deb; build_windows; package_msi ;;
    deb) build_linux; package_deb ;;
    msi) build_windows; package_msi ;;
    *) echo "build.sh: --only deb|msi" >&2; exit 2 ;;
esac

log "packages in $OUT:"
ls -l "$OUT"
