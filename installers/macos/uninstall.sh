#!/bin/sh
# Removes the mask-agent daemon from a Mac. Keeps the journal, logs, config and user unless
# --purge is given (pkg installers have no uninstall step of their own).
set -e
LABEL=tw.mask-rationing.mask-agent
[ "$(id -u)" -eq 0 ] || { echo "uninstall.sh: run with sudo" >&2; exit 1; }

launchctl bootout "system/$LABEL" 2>/dev/null || true
rm -f "/Library/LaunchDaemons/$LABEL.plist" /usr/local/bin/mask-agent /usr/local/bin/nhi-read \
    /usr/local/bin/mask-terminal "/Applications/Mask Counter.command" /etc/mask-agent/agent.toml.example
pkgutil --forget "$LABEL" >/dev/null 2>&1 || true

if [ "${1:-}" = "--purge" ]; then
    rm -rf "/Library/Application Support/mask-agent" /Library/Logs/mask-agent /etc/mask-agent \
        /usr/local/var/run/mask-agent
    dseditgroup -o delete mask-counter 2>/dev/null || true
    dscl . -delete /Users/_maskagent 2>/dev/null || true
    dscl . -delete /Groups/_maskagent 2>/dev/null || true
    echo "mask-agent removed, including its journal, logs, config, user and the group mask-counter."
else
    echo "mask-agent removed. Journal kept in /Library/Application Support/mask-agent (use --purge to delete it)."
fi
