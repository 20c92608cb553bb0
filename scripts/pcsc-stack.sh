#!/usr/bin/env bash
# pcsc-stack.sh — start/stop the PC/SC stack (pcscd + vsmartcard-vpcd virtual readers) used by the
# end-to-end tests, the benchmarks and the demo.
#
# Usage: scripts/pcsc-stack.sh start|stop|restart|status
#
#   start    idempotent: if pcscd is not running, start it in the background (logs to
#            $PCSCD_LOG, default /tmp/pcscd.log); then wait until every vpcd reader port is
#            listening and pcscd answers on its socket (and, when pcsc-tools is installed, lists
#            the "Virtual PCD" readers). Exit 0 when ready, non-zero with a reason otherwise.
#   stop     stop pcscd (SIGTERM via its pid file, then SIGKILL after a timeout).
#   restart  stop then start (tests use it to exercise "PC/SC service restarted").
#   status   print whether pcscd runs, the vpcd ports and the readers; exit 0 when ready, 3 if not.
#
# Why not systemd: Debian socket-activates pcscd under systemd, but containers and CI machines
# have no systemd as PID 1, so this script runs `pcscd --foreground` itself, detached with setsid.
# Works as root on a fresh Debian 12 after
#   apt-get install pcscd vsmartcard-vpcd libpcsclite-dev pkg-config   (pcsc-tools optional)
#
# Environment:
#   PCSCD_LOG            log file of a pcscd started by this script (default /tmp/pcscd.log)
#   PCSCD_ARGS           extra pcscd arguments (e.g. "--debug --apdu")
#   PCSC_READER_CONF_DIR reader config dir to scan for vpcd readers (default /etc/reader.conf.d)
#   PCSC_STACK_TIMEOUT   seconds to wait for readiness/stop (default 15)
set -euo pipefail

PCSCD_LOG=${PCSCD_LOG:-/tmp/pcscd.log}
READER_CONF_DIR=${PCSC_READER_CONF_DIR:-/etc/reader.conf.d}
TIMEOUT=${PCSC_STACK_TIMEOUT:-15}
PCSCD_SOCKET=/run/pcscd/pcscd.comm
PCSCD_PIDFILE=/run/pcscd/pcscd.pid

say() { echo "pcsc-stack: $*" >&2; }
die() { say "error: $*"; exit 1; }

pcscd_pids() { pgrep -x pcscd || true; }

# The TCP ports the vpcd driver listens on: each config file with the vpcd driver declares a
# CHANNELID (or DEVICENAME /dev/null:0xPORT); the driver opens two slots, on PORT and PORT+1.
vpcd_ports() {
    local f ch
    [ -d "$READER_CONF_DIR" ] || return 0
    for f in "$READER_CONF_DIR"/*; do
        [ -f "$f" ] || continue
        grep -q 'libifdvpcd' "$f" || continue
        ch=$(awk '$1 == "CHANNELID" { print $2; exit }' "$f")
        if [ -z "$ch" ]; then
            ch=$(awk '$1 == "DEVICENAME" { n = split($2, a, ":"); if (n > 1) print a[2]; exit }' "$f")
        fi
        [ -n "$ch" ] || ch=35963
        echo $((ch))
        echo $((ch + 1))
    done
}

# True when something listens on TCP port $1 (read from /proc: no ss/netstat needed, and
# connecting to the port would look like a card insertion to vpcd).
port_listening() {
    local hex
    hex=$(printf '%04X' "$1")
    awk -v p=":$hex" '$2 ~ p"$" && $4 == "0A" { found = 1 } END { exit !found }' \
        /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

ready() {
    [ -n "$(pcscd_pids)" ] || return 1
    [ -S "$PCSCD_SOCKET" ] || return 1
    local p any=0
    for p in $(vpcd_ports); do
        any=1
        port_listening "$p" || return 1
    done
    [ "$any" = 1 ] || return 1
    if command -v pcsc_scan >/dev/null 2>&1; then
        timeout 5 pcsc_scan -r 2>/dev/null | grep -q 'Virtual PCD' || return 1
    fi
    return 0
}

wait_ready() {
    local deadline=$((SECONDS + TIMEOUT))
    while ! ready; do
        if [ -z "$(pcscd_pids)" ]; then
            say "pcscd exited during start-up; last log lines ($PCSCD_LOG):"
            tail -n 20 "$PCSCD_LOG" >&2 2>/dev/null || true
            return 1
        fi
        if [ $SECONDS -ge $deadline ]; then
            say "pcscd runs but the vpcd readers are not ready after ${TIMEOUT}s"
            return 1
        fi
        sleep 0.1
    done
}

start() {
    command -v pcscd >/dev/null 2>&1 || die "pcscd not found: apt-get install pcscd"
    [ -n "$(vpcd_ports)" ] ||
        die "no vpcd reader in $READER_CONF_DIR: apt-get install vsmartcard-vpcd"
    if [ -z "$(pcscd_pids)" ]; then
        [ "$(id -u)" = 0 ] || die "pcscd is not running and starting it needs root"
        say "starting pcscd (log: $PCSCD_LOG)"
        # A pid file left by a killed pcscd makes the next one refuse to start.
        rm -f "$PCSCD_PIDFILE"
        (
            # pcscd must not inherit our open files: a caller's lock file (e.g. a vpcd port lock
            # taken with flock(1)) would otherwise stay locked for pcscd's whole life.
            for fd in /proc/$BASHPID/fd/*; do
                fd=${fd##*/}
                if [ "$fd" -gt 2 ] 2>/dev/null; then eval "exec $fd>&-"; fi
            done
            # shellcheck disable=SC2086 # PCSCD_ARGS is a word list on purpose
            exec setsid -f pcscd --foreground ${PCSCD_ARGS:-} </dev/null >>"$PCSCD_LOG" 2>&1
        )
    fi
    wait_ready || exit 1
    say "ready: pcscd $(pcscd_pids | tr '\n' ' '); vpcd ports $(vpcd_ports | tr '\n' ' ')"
}

stop() {
    local pids deadline
    pids=$(pcscd_pids)
    if [ -z "$pids" ]; then
        say "pcscd is not running"
        return 0
    fi
    say "stopping pcscd ($(echo $pids))"
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null || true
    deadline=$((SECONDS + TIMEOUT))
    while [ -n "$(pcscd_pids)" ]; do
        if [ $SECONDS -ge $deadline ]; then
            say "pcscd did not stop after ${TIMEOUT}s: SIGKILL"
            # shellcheck disable=SC2046
            kill -KILL $(pcscd_pids) 2>/dev/null || true
            rm -f "$PCSCD_PIDFILE" "$PCSCD_SOCKET"
        fi
        sleep 0.1
    done
}

status() {
    local pids p
    pids=$(pcscd_pids)
    if [ -z "$pids" ]; then
        echo "pcscd: not running"
    else
        echo "pcscd: running (pid $(echo $pids))"
    fi
    for p in $(vpcd_ports); do
        if port_listening "$p"; then echo "vpcd port $p: listening"; else echo "vpcd port $p: closed"; fi
    done
    if [ -n "$pids" ] && command -v pcsc_scan >/dev/null 2>&1; then
        echo "readers:"
        timeout 5 pcsc_scan -r 2>/dev/null | sed -n 's/^ *[0-9]*: /  /p' || true
    fi
    ready || exit 3
}

case "${1:-}" in
start) start ;;
stop) stop ;;
restart) stop; start ;;
status) status ;;
*)
    echo "usage: $0 start|stop|restart|status" >&2
    exit 64
    ;;
esac
