#!/usr/bin/env bash
# Installer tests, run as root by the project's test command (scripts/test.sh):
#   - builds the packages with installers/build.sh (or reuses them: --no-build);
#   - .deb: dpkg-deb checks, then on THIS machine: dpkg -i, user/files/permissions,
#     systemd-analyze verify (no warnings) and offline security score, `mask-agent doctor` of the
#     installed binary as the service user against a local mask-server-stub, upgrade over itself
#     and to a newer revision keeping an edited config, dpkg -r keeps the journal, dpkg -P removes
#     everything including the user;
#   - .msi: msiinfo tables/rows (service, control, files, upgrade, custom action), files extracted
#     with msiextract and every .exe's imports checked against the DLLs Windows 10 ships;
#   - macOS: the launchd plist parsed (plutil -lint where available, else python3 plistlib),
#     maintainer/pkg scripts syntax-checked.
# Prints one line per check and closes with "N passed, M failed"; exit 1 when any failed.
#
# Usage: installers/test.sh [--no-build]     (env: CARGO_TARGET_DIR respected)
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
PKG="$ROOT/target/packages"
WORK="$(mktemp -d /tmp/installers-test.XXXXXX)"
LOG="$WORK/test.log"
CONFIG=/etc/mask-agent/agent.toml
UNIT=/usr/lib/systemd/system/mask-agent.service
NO_BUILD=0
[ "${1:-}" = "--no-build" ] && NO_BUILD=1

PASSED=0
FAILED=0
FAILED_NAMES=()
STUB_PID=""

pass() { PASSED=$((PASSED + 1)); printf 'ok    %s\n' "$1"; }
fail() {
    FAILED=$((FAILED + 1)); FAILED_NAMES+=("$1"); printf 'FAIL  %s\n' "$1"
    [ -n "${2:-}" ] && printf '      %s\n' "$2"
}
# check NAME COMMAND...: runs the command (output to the log), pass when it exits 0.
check() {
    local name="$1"; shift
    { echo "### $name"; echo "+ $*"; } >>"$LOG"
    if "$@" >>"$LOG" 2>&1; then pass "$name"; else fail "$name" "see $LOG"; fi
}

cleanup() {
    [ -n "$STUB_PID" ] && kill "$STUB_PID" 2>/dev/null && wait "$STUB_PID" 2>/dev/null
    # Never leave the package installed on the test machine.
    if dpkg-query -W -f='${Status}' mask-agent 2>/dev/null | grep -q 'install\|config-files'; then
        DEBIAN_FRONTEND=noninteractive dpkg -P mask-agent >>"$LOG" 2>&1 || true
    fi
}
trap cleanup EXIT

if [ "$(id -u)" -ne 0 ]; then
    echo "installers/test.sh: run as root (it installs the .deb on this machine)" >&2
    exit 2
fi

# Tools the checks use (a fresh Debian may lack some; build.sh installs the build tools).
need=()
command -v python3 >/dev/null || need+=(python3)
command -v curl >/dev/null || need+=(curl)
command -v msiextract >/dev/null || need+=(msitools)
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v runuser >/dev/null || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq >>"$LOG" 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >>"$LOG" 2>&1
fi

# --- build ------------------------------------------------------------------------------------
if [ "$NO_BUILD" -eq 0 ]; then
    check "build.sh builds the .deb and the .msi" "$ROOT/installers/build.sh"
fi
DEB="$(ls -t "$PKG"/mask-agent_*_amd64.deb 2>/dev/null | head -n1)"
MSI="$(ls -t "$PKG"/mask-agent-*-x64.msi 2>/dev/null | head -n1)"
VERSION="$(cd "$ROOT" && cargo pkgid -p mask-agent | sed 's/.*[@#]//')"
check "packages exist in target/packages" test -f "$DEB" -a -f "$MSI" -a -f "$PKG/install.ps1"

# --- .deb: static checks --------------------------------------------------------------------------
deb_info() { dpkg-deb -I "$DEB"; }
deb_list() { dpkg-deb -c "$DEB"; }
check "deb: package name and version" sh -c "dpkg-deb -f '$DEB' Package | grep -qx mask-agent && dpkg-deb -f '$DEB' Version | grep -q '^$VERSION'"
check "deb: depends on pcscd" sh -c "dpkg-deb -f '$DEB' Depends | grep -qw pcscd"
check "deb: agent.toml is a conffile" sh -c "dpkg-deb -I '$DEB' conffiles | grep -qx /etc/mask-agent/agent.toml"
for path in ./usr/bin/mask-agent ./usr/bin/nhi-read ./usr/bin/mask-terminal \
    ./usr/share/applications/mask-terminal.desktop ./usr/lib/systemd/system/mask-agent.service \
    ./usr/lib/sysusers.d/mask-agent.conf ./usr/share/polkit-1/rules.d/60-mask-agent-pcsc.rules \
    ./usr/share/doc/mask-agent/README.md; do
    check "deb: contains ${path#.}" sh -c "dpkg-deb -c '$DEB' | awk '{print \$6}' | grep -qx '$path'"
done
check "deb: the counter's menu entry is a valid desktop file" sh -c "
    dpkg-deb --fsys-tarfile '$DEB' | tar -xO ./usr/share/applications/mask-terminal.desktop >'$WORK/mask-terminal.desktop' &&
    desktop-file-validate '$WORK/mask-terminal.desktop' && grep -qx 'Exec=mask-terminal' '$WORK/mask-terminal.desktop' &&
    grep -qx 'Terminal=true' '$WORK/mask-terminal.desktop'"
check "deb: config shipped 0640" sh -c "dpkg-deb -c '$DEB' | grep -E '^-rw-r----- .* \./etc/mask-agent/agent\.toml$'"
check "deb: maintainer scripts are valid sh" sh -c "
    d=\$(mktemp -d) && dpkg-deb -e '$DEB' \$d && for s in postinst prerm postrm; do sh -n \$d/\$s || exit 1; done"
check "deb: sysusers.conf creates group mask-counter with mask-agent a member" sh -c "
    f='$ROOT/installers/debian/sysusers.conf'
    grep -Eq '^g[[:space:]]+mask-counter[[:space:]]' \$f && grep -Eq '^m[[:space:]]+mask-agent[[:space:]]+mask-counter' \$f"
check "deb: polkit rule grants pcsc access to mask-agent only" sh -c "
    f='$ROOT/installers/debian/60-mask-agent-pcsc.rules'
    grep -q 'org.debian.pcsc-lite.access_pcsc' \$f && grep -q 'org.debian.pcsc-lite.access_card' \$f &&
    grep -q 'subject.user == \"mask-agent\"' \$f"

# --- .deb: install on this machine ----------------------------------------------------------------
export DEBIAN_FRONTEND=noninteractive
cleanup
if ! dpkg-query -W -f='${Status}' pcscd 2>/dev/null | grep -q 'ok installed'; then
    apt-get install -y -qq pcscd >>"$LOG" 2>&1
fi
check "dpkg -i installs the package" dpkg -i "$DEB"
check "user mask-agent is a system user with no login" sh -c "
    line=\$(getent passwd mask-agent) && uid=\$(echo \"\$line\" | cut -d: -f3) && [ \"\$uid\" -lt 1000 ] &&
    echo \"\$line\" | grep -q ':/var/lib/mask-agent:/usr/sbin/nologin$' && getent group mask-agent >/dev/null"
stat_is() { [ "$(stat -c '%a %U:%G' "$2")" = "$1" ] || { stat -c '%a %U:%G %n' "$2"; return 1; }; }
check "group mask-counter exists and mask-agent is a member" sh -c "
    getent group mask-counter >/dev/null && id -nG mask-agent | tr ' ' '\n' | grep -qx mask-counter"
check "config $CONFIG is 640 root:mask-agent" stat_is "640 root:mask-agent" "$CONFIG"
check "config dir /etc/mask-agent is 750 root:mask-agent" stat_is "750 root:mask-agent" /etc/mask-agent
check "data dir /var/lib/mask-agent is 700 mask-agent:mask-agent" stat_is "700 mask-agent:mask-agent" /var/lib/mask-agent
check "binaries installed 755 root:root" sh -c "
    [ \"\$(stat -c '%a %U' /usr/bin/mask-agent)\" = '755 root' ] && [ \"\$(stat -c '%a %U' /usr/bin/nhi-read)\" = '755 root' ]"
check "installed mask-agent reports version $VERSION" sh -c "/usr/bin/mask-agent --version | grep -q '$VERSION'"
check "installed nhi-read runs" sh -c "/usr/bin/nhi-read --help >/dev/null"
check "service enabled for boot (multi-user.target.wants)" \
    test -L /etc/systemd/system/multi-user.target.wants/mask-agent.service

verify_unit() {
    local out
    out="$(systemd-analyze verify "$UNIT" 2>&1)"; local rc=$?
    echo "$out"
    [ $rc -eq 0 ] && [ -z "$out" ]
}
check "systemd-analyze verify: no warnings" verify_unit
security_score() {
    local out score
    out="$(systemd-analyze security --offline=yes "$UNIT" 2>&1)"
    score="$(echo "$out" | sed -n 's/.*Overall exposure level for mask-agent.service: \([0-9.]*\).*/\1/p')"
    echo "exposure: ${score:-?}"
    [ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'
}
check "systemd-analyze security (offline): exposure <= 2.0" security_score
unit_has() { grep -qx "$1" "$UNIT" || { echo "missing: $1"; return 1; }; }
for line in "User=mask-agent" "ProtectSystem=strict" "ProtectHome=yes" "PrivateTmp=yes" "NoNewPrivileges=yes" \
    "StateDirectory=mask-agent" "StateDirectoryMode=0700" "UMask=0077" "Restart=on-failure" \
    "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6" \
    "SupplementaryGroups=mask-counter" "RuntimeDirectory=mask-agent" "RuntimeDirectoryMode=0755" \
    "SystemCallFilter=@chown" \
    "ExecStart=/usr/bin/mask-agent --config /etc/mask-agent/agent.toml run"; do
    check "unit: $line" unit_has "$line"
done

# --- the installed binary's doctor against a local server-stub ----------------------------------
STUB="$TARGET_DIR/release/mask-server-stub"
# The whole workspace, as build.sh does: `-p` would resolve another feature set and rebuild.
if [ ! -x "$STUB" ] || [ "$NO_BUILD" -eq 0 ]; then
    (cd "$ROOT" && cargo build --release --locked --workspace --bins) >>"$LOG" 2>&1
fi
SITE="$(sed -n '2p' "$ROOT/fixtures/data/maskdata-2020-03-22.csv" | cut -d, -f1)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
STUB_DATA="$WORK/stub-data"
start_stub() {
    # shellcheck disable=SC2086 # STUB_ARGS: extra words on purpose
    "$STUB" --listen "127.0.0.1:$PORT" --data-dir "$STUB_DATA" --plain-http ${STUB_ARGS:-} >>"$WORK/stub.log" 2>&1 &
    STUB_PID=$!
    # Bounded readiness poll (the stub's own listener; nothing else to hand over from a shell).
    for _ in $(seq 1 300); do
        if curl -fsS -o /dev/null "http://127.0.0.1:$PORT/v1/openapi.json" 2>/dev/null; then return 0; fi
        kill -0 "$STUB_PID" 2>/dev/null || { cat "$WORK/stub.log"; return 1; }
        sleep 0.1
    done
    return 1
}
check "mask-server-stub starts on 127.0.0.1:$PORT" start_stub
TOKEN="$("$STUB" token issue --data-dir "$STUB_DATA" --site "$SITE" 2>>"$LOG" | tail -n1)"
check "token issued for site $SITE" test -n "$TOKEN"
configure_agent() {
    cat >"$CONFIG" <<EOF
# edited by installers/test.sh
site_code = "$SITE"
server_url = "http://127.0.0.1:$PORT"
token = "$TOKEN"
data_dir = "/var/lib/mask-agent"
language = "en"
EOF
}
check "config edited (site, server, token)" configure_agent
as_service_user() { runuser -u mask-agent -- "$@"; }
doctor() {
    as_service_user /usr/bin/mask-agent --config "$CONFIG" doctor --json >"$WORK/doctor.json" 2>"$WORK/doctor.err"
    local rc=$?
    cat "$WORK/doctor.json" "$WORK/doctor.err"
    python3 "$ROOT/installers/doctor_check.py" "$WORK/doctor.json" "$rc"
}
check "installed mask-agent doctor (as user mask-agent) passes against the stub" doctor
# The installed agent, run as the service user the way the unit runs it (supplementary group
# mask-counter, /run/mask-agent as RuntimeDirectory= makes it): its default socket is 0660
# mask-agent:mask-counter, a member is served, an outsider is told to ask for the group.
serve_as_service_user() {
    install -d -m 0755 -o mask-agent -g mask-agent /run/mask-agent
    MASK_AGENT_READER_FILTER="no reader: installers test" \
        runuser -u mask-agent -- /usr/bin/mask-agent --config "$CONFIG" run >"$WORK/agent-run.log" 2>&1 &
    local pid=$! rc=1 gid
    for _ in $(seq 1 100); do
        [ -S /run/mask-agent/agent.sock ] && { rc=0; break; }
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    cat "$WORK/agent-run.log"
    gid="$(getent group mask-counter | cut -d: -f3)"
    if [ $rc -eq 0 ]; then
        stat_is "660 mask-agent:mask-counter" /run/mask-agent/agent.sock &&
        setpriv --reuid=65534 --regid="$gid" --clear-groups \
            /usr/bin/mask-agent --config /dev/null --lang en status &&
        ! setpriv --reuid=65534 --regid=65534 --clear-groups \
            /usr/bin/mask-agent --config /dev/null --lang en status 2>"$WORK/outsider.err" &&
        cat "$WORK/outsider.err" && grep -q 'not in the mask-counter group' "$WORK/outsider.err"
        rc=$?
    fi
    kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    rm -rf /run/mask-agent
    return $rc
}
check "installed agent as mask-agent: socket 660 mask-agent:mask-counter, member served, outsider told" serve_as_service_user

# The pharmacist's whole path on the installed package: the agent as the service unit runs it,
# the counter screen (/usr/bin/mask-terminal, what the menu entry opens) in tmux as an ordinary
# account in the group, one manual sale; an account outside the group is told what to ask for.
# The stub runs on a 2020 Monday for this (the agent takes the server's time), so the rules
# allow the sale whatever day the test runs.
PHARMACIST=mask-test-pharmacist
OUTSIDER=mask-test-outsider
screen_has() { # session text seconds
    for _ in $(seq 1 $(($3 * 5))); do
        tmux capture-pane -p -t "$1" >"$WORK/$1.txt" 2>/dev/null && grep -qF "$2" "$WORK/$1.txt" && return 0
        sleep 0.2
    done
    echo "--- $1: no '$2' on the screen:"; cat "$WORK/$1.txt"; return 1
}
counter_as_pharmacist() {
    local pid rc=1
    kill "$STUB_PID" 2>/dev/null; wait "$STUB_PID" 2>/dev/null
    STUB_ARGS="--as-of 2020-03-09T10:00:00+08:00" start_stub || return 1
    getent passwd "$PHARMACIST" >/dev/null || useradd --no-create-home --shell /bin/sh -G mask-counter "$PHARMACIST"
    getent passwd "$OUTSIDER" >/dev/null || useradd --no-create-home --shell /bin/sh "$OUTSIDER"
    install -d -m 0755 -o mask-agent -g mask-agent /run/mask-agent
    MASK_AGENT_READER_FILTER="no reader: installers test" \
        runuser -u mask-agent -- /usr/bin/mask-agent --config "$CONFIG" run >"$WORK/agent-counter.log" 2>&1 &
    pid=$!
    tmux kill-session -t counter 2>/dev/null; tmux kill-session -t outsider 2>/dev/null
    tmux new-session -d -s counter -x 100 -y 32 "runuser -u $PHARMACIST -- env LANG=C.UTF-8 /usr/bin/mask-terminal"
    tmux new-session -d -s outsider -x 100 -y 32 "runuser -u $OUTSIDER -- env LANG=C.UTF-8 /usr/bin/mask-terminal"
    if screen_has counter "請插入健保卡" 20 && screen_has counter "● 連線" 20 &&
        screen_has outsider "mask-counter" 20; then
        tmux send-keys -t counter m && sleep 0.5 &&
            tmux send-keys -t counter -l B220246819 && screen_has counter "格式正確" 10 &&
            tmux send-keys -t counter Enter && screen_has counter "手動輸入" 20 &&
            tmux send-keys -t counter Enter && screen_has counter "已售出" 20
        rc=$?
    fi
    echo "--- counter:"; cat "$WORK/counter.txt"; echo "--- outsider:"; cat "$WORK/outsider.txt"
    tmux kill-session -t counter 2>/dev/null; tmux kill-session -t outsider 2>/dev/null
    kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    cat "$WORK/agent-counter.log"
    rm -rf /run/mask-agent
    userdel "$PHARMACIST" 2>/dev/null; userdel "$OUTSIDER" 2>/dev/null
    kill "$STUB_PID" 2>/dev/null; wait "$STUB_PID" 2>/dev/null
    STUB_ARGS="" start_stub || rc=1
    return $rc
}
check "mask-terminal in tmux as a pharmacist in mask-counter: first screen, one manual sale; an outsider is told the group" counter_as_pharmacist
journal_present() { ls -la /var/lib/mask-agent; [ -n "$(find /var/lib/mask-agent -type f -name 'journal*')" ]; }
check "the service user's journal was created in /var/lib/mask-agent" journal_present
find /var/lib/mask-agent -type f -exec sha256sum {} + 2>/dev/null | sort >"$WORK/data.before"
sha256sum "$CONFIG" >"$WORK/config.sha"

# --- upgrade keeps the edited config ----------------------------------------------------------
config_kept() { sha256sum -c "$WORK/config.sha" && stat_is "640 root:mask-agent" "$CONFIG"; }
check "dpkg -i over itself (reinstall)" sh -c "dpkg -i '$DEB' </dev/null"
check "reinstall kept the edited config (content and 640 root:mask-agent)" config_kept
DEB2_DIR="$WORK/deb2"
mkdir -p "$DEB2_DIR"
(cd "$ROOT" && cargo deb -p mask-agent --no-build --strip --deb-revision 99 --output "$DEB2_DIR/") >>"$LOG" 2>&1
DEB2="$(ls "$DEB2_DIR"/*.deb 2>/dev/null | head -n1)"
check "dpkg -i upgrades to revision 99" sh -c "dpkg -i '$DEB2' </dev/null && dpkg-query -W -f='\${Version}' mask-agent | grep -q -- '-99$'"
check "upgrade kept the edited config (content and 640 root:mask-agent)" config_kept
check "upgrade kept the data dir 700 mask-agent:mask-agent" stat_is "700 mask-agent:mask-agent" /var/lib/mask-agent
check "doctor still passes after the upgrade" doctor

# --- remove keeps the journal, purge removes everything ------------------------------------------------
find /var/lib/mask-agent -type f -exec sha256sum {} + 2>/dev/null | sort >"$WORK/data.before"
check "dpkg -r removes the package" dpkg -r mask-agent
check "dpkg -r removed the binaries and the unit" sh -c "[ ! -e /usr/bin/mask-agent ] && [ ! -e '$UNIT' ]"
journal_kept() { sha256sum -c "$WORK/data.before" && [ -s "$WORK/data.before" ]; }
check "dpkg -r kept the journal (same files, same content)" journal_kept
check "dpkg -r kept the config and the user" sh -c "[ -f '$CONFIG' ] && getent passwd mask-agent >/dev/null"
check "dpkg -P purges the package" dpkg -P mask-agent
check "purge removed data, config and logs" sh -c "[ ! -e /var/lib/mask-agent ] && [ ! -e /etc/mask-agent ] && [ ! -e /var/log/mask-agent ]"
check "purge removed the user and the group" sh -c "! getent passwd mask-agent && ! getent group mask-agent"
check "purge removed the group mask-counter" sh -c "! getent group mask-counter"
check "purge removed the boot symlink" test ! -e /etc/systemd/system/multi-user.target.wants/mask-agent.service
check "dpkg no longer knows the package" sh -c "! dpkg-query -W mask-agent 2>/dev/null | grep -q ."

# --- .msi --------------------------------------------------------------------------------------------------
# msiinfo exports rows with CRLF line ends: drop the CR so the last column compares as a number.
msi_table() { msiinfo export "$MSI" "$1" | tr -d '\r'; }
check "msi: tables include ServiceInstall, ServiceControl, File, Upgrade, CustomAction" sh -c "
    t=\$(msiinfo tables '$MSI') && for n in ServiceInstall ServiceControl File Component Upgrade CustomAction; do
        echo \"\$t\" | grep -qx \$n || { echo missing \$n; exit 1; }; done"
# ServiceInstall: own process (16), automatic start (2), normal error control (1), the service
# entry point with the config, account property defaulting to LocalService.
check "msi: ServiceInstall registers MaskAgent (own process, auto start, service run)" sh -c "
    msiinfo export '$MSI' ServiceInstall | grep -P '^MaskAgentServiceInstall\tMaskAgent\t[^\t]+\t16\t2\t1\t' |
    grep -F -- '--config \"[DATADIR]agent.toml\" service run'"
check "msi: service account defaults to NT AUTHORITY\\LocalService" sh -c "
    msiinfo export '$MSI' ServiceInstall | grep -qF '[SERVICEACCOUNT]' &&
    msiinfo export '$MSI' Property | grep -qP '^SERVICEACCOUNT\tNT AUTHORITY\\\\LocalService\r?$'"
# ServiceControl event 163 = start on install (1) + stop on install (2) + stop on uninstall (32)
# + delete on uninstall (128).
check "msi: ServiceControl starts on install, stops and removes on uninstall" sh -c "
    msiinfo export '$MSI' ServiceControl | grep -P '^MaskAgentServiceControl\tMaskAgent\t163\t'"
check "msi: files mask-agent.exe, mask-terminal.exe, nhi-read.exe, agent.toml" sh -c "
    f=\$(msiinfo export '$MSI' File) && for n in mask-agent.exe mask-terminal.exe nhi-read.exe agent.toml agent.toml.example README.md; do
        echo \"\$f\" | grep -qP \"\\t([^|\\t]*\\|)?\$n\\t\" || { echo missing \$n; exit 1; }; done"
check "msi: Start menu shortcut 'Mask Counter' opens mask-terminal.exe" sh -c "
    msiinfo export '$MSI' Shortcut | tr -d '\r' |
        grep -qP '^CounterStartMenu\tProgramMenuDir\tMASKCNTR\|Mask Counter\tCounterShortcut\t\[INSTALLDIR\]mask-terminal\.exe\t' &&
    msiinfo export '$MSI' Directory | grep -qP '^ProgramMenuDir\tProgramMenuFolder\t'"
check "msi: binaries under Program Files\\MaskAgent, config under ProgramData\\mask-agent" sh -c "
    d=\$(msiinfo export '$MSI' Directory) &&
    echo \"\$d\" | grep -qP '^INSTALLDIR\tProgramFiles64Folder\tMaskAgent' &&
    echo \"\$d\" | grep -qP '^DATADIR\tCommonAppDataFolder\tmask-agent'"
check "msi: config component is Permanent + NeverOverwrite (64-bit)" sh -c "
    msiinfo export '$MSI' Component | grep -P '^ConfigFile\t[^\t]+\tDATADIR\t400\t'"
check "msi: MajorUpgrade with the fixed UpgradeCode" sh -c "
    msiinfo export '$MSI' Upgrade | grep -q '{8E4C2F3A-6B1D-4F0E-9A7C-2D5B8E1F4A60}' &&
    msiinfo export '$MSI' InstallExecuteSequence | grep -qP '^RemoveExistingProducts\t'"
check "msi: ProductVersion is the crate version ${VERSION%%[-+]*}" sh -c "
    msiinfo export '$MSI' Property | grep -qP '^ProductVersion\t${VERSION%%[-+]*}\r?$'"
check "msi: x64 package" sh -c "msiinfo suminfo '$MSI' | grep -q 'x64'"
configure_action_order() {
    local seq
    seq="$(msi_table InstallExecuteSequence)"
    local ca inst start
    ca="$(echo "$seq" | awk -F'\t' '$1=="ConfigureMaskAgentService"{print $3}')"
    inst="$(echo "$seq" | awk -F'\t' '$1=="InstallServices"{print $3}')"
    start="$(echo "$seq" | awk -F'\t' '$1=="StartServices"{print $3}')"
    echo "InstallServices=$inst ConfigureMaskAgentService=$ca StartServices=$start"
    msi_table CustomAction | grep -P '^ConfigureMaskAgentService\t3090\tMaskAgentExe\t.*service configure' &&
        [ -n "$ca" ] && [ "$ca" -gt "$inst" ] && [ "$ca" -lt "$start" ]
}
check "msi: 'service configure' (recovery, ACL, counter group) runs as SYSTEM between InstallServices and StartServices" configure_action_order

# Imports of every shipped .exe: only DLLs that ship with Windows 10 (no mingw runtime DLLs).
ALLOWED_DLLS="advapi32.dll bcrypt.dll bcryptprimitives.dll crypt32.dll dnsapi.dll gdi32.dll iphlpapi.dll
kernel32.dll msvcrt.dll ncrypt.dll ntdll.dll ole32.dll oleaut32.dll secur32.dll shell32.dll
shlwapi.dll combase.dll ucrtbase.dll user32.dll userenv.dll winscard.dll ws2_32.dll mswsock.dll api-ms-win-core-synch-l1-2-0.dll"
check "msi: files extract with msiextract" sh -c "mkdir -p '$WORK/msi' && cd '$WORK/msi' && msiextract '$MSI' >/dev/null"
imports_allowed() {
    local exe="$1" dll bad=0
    for dll in $(x86_64-w64-mingw32-objdump -p "$exe" | sed -n 's/^\s*DLL Name: //p' | tr 'A-Z' 'a-z'); do
        echo "$dll"
        case " $(echo $ALLOWED_DLLS) " in
            *" $dll "*) ;;
            *) echo "  not shipped with Windows 10: $dll"; bad=1 ;;
        esac
    done
    return $bad
}
for exe in $(find "$WORK/msi" -iname '*.exe' | sort); do
    check "imports of $(basename "$exe") are Windows 10 system DLLs only" imports_allowed "$exe"
done
check "install.ps1 adds -CounterUsers to the local group 'Mask Counter'" sh -c "
    grep -q \"net.exe localgroup \\\$group \\\$user /add\" '$PKG/install.ps1' &&
    grep -q \"group = 'Mask Counter'\" '$PKG/install.ps1'"
check "install.ps1 takes -PharmacyCode -Token -ServerUrl -CaCert -CounterUsers and runs msiexec /qn" sh -c "
    f='$PKG/install.ps1'; for p in PharmacyCode Token ServerUrl CaCert CounterUsers; do grep -q \"\\\$\$p\" \$f || exit 1; done;
    grep -q \"'/qn'\" \$f && grep -q 'msiexec.exe' \$f"

# --- macOS -------------------------------------------------------------------------------------------------
PLIST="$ROOT/installers/macos/tw.mask-rationing.mask-agent.plist"
if command -v plutil >/dev/null; then
    check "macos: plutil -lint" plutil -lint "$PLIST"
fi
check "macos: launchd plist parses and runs the daemon as _maskagent" python3 - "$PLIST" <<'EOF'
import plistlib, sys
with open(sys.argv[1], "rb") as f:
    p = plistlib.load(f)
assert p["Label"] == "tw.mask-rationing.mask-agent", p["Label"]
assert p["ProgramArguments"][0] == "/usr/local/bin/mask-agent"
assert p["ProgramArguments"][-1] == "run" and "--config" in p["ProgramArguments"]
assert p["RunAtLoad"] is True and p["KeepAlive"] is True
assert p["UserName"] == "_maskagent" and p["GroupName"] == "_maskagent"
assert p["StandardOutPath"].startswith("/Library/Logs/mask-agent/")
assert p["StandardErrorPath"].startswith("/Library/Logs/mask-agent/")
assert p["Umask"] == 0o077
EOF
check "macos: pkg scripts are valid sh" sh -c "
    for s in '$ROOT'/installers/macos/scripts/* '$ROOT'/installers/macos/build-pkg.sh '$ROOT'/installers/macos/uninstall.sh \
        '$ROOT'/installers/macos/mask-counter.command; do
        sh -n \"\$s\" || exit 1; done"
check "macos: the pkg ships mask-terminal and the 'Mask Counter' launcher in /Applications" sh -c "
    f='$ROOT/installers/macos/build-pkg.sh'
    grep -q 'BIN_DIR/mask-terminal' \$f && grep -q 'Applications/Mask Counter.command' \$f &&
    test -x '$ROOT/installers/macos/mask-counter.command' &&
    grep -q 'exec /usr/local/bin/mask-terminal' '$ROOT/installers/macos/mask-counter.command'"
check "macos: postinstall creates the _maskagent user and keeps an existing config" sh -c "
    f='$ROOT/installers/macos/scripts/postinstall'
    grep -q 'dscl . -create \"/Users/\$USER_NAME\"' \$f && grep -q 'if \[ ! -f \"\$CONFIG\" \]' \$f"
check "macos: postinstall creates group mask-counter and the agent's default socket directory" sh -c "
    f='$ROOT/installers/macos/scripts/postinstall'
    sock=\$(sed -n 's/^pub const MACOS_DEFAULT_SOCKET: &str = \"\(.*\)\";/\1/p' '$ROOT/agent/protocol/src/endpoint.rs')
    [ -n \"\$sock\" ] && grep -qx \"RUN_DIR=\$(dirname \"\$sock\")\" \$f &&
    grep -q 'ACCESS_GROUP=mask-counter' \$f && grep -q 'dseditgroup -o create' \$f &&
    grep -q 'dseditgroup -o edit -a \"\$USER_NAME\" -t user \"\$ACCESS_GROUP\"' \$f"

echo
echo "log: $LOG"
if [ "$FAILED" -gt 0 ]; then
    printf 'failed: %s\n' "${FAILED_NAMES[@]}"
fi
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
