#!/usr/bin/env bash
# Starts (idempotently) a private PostgreSQL 15 cluster for the server-stub tests and prints its
# URL on stdout, e.g.:
#   export MASK_TEST_POSTGRES_URL=$(scripts/postgres-test.sh)
# The cluster lives under ${MASK_PG_DIR:-/var/tmp/mask-pg}, listens on 127.0.0.1:${MASK_PG_PORT:-55432}
# only, and has a role `mask` (password `mask`, CREATEDB: each test makes its own database) and a
# database `mask_test`. Needs the Debian `postgresql` package (initdb/pg_ctl of version 15+).
# Stop it with: scripts/postgres-test.sh stop
set -euo pipefail

dir=${MASK_PG_DIR:-/var/tmp/mask-pg}
port=${MASK_PG_PORT:-55432}
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [[ -z "$bindir" ]]; then
    echo "postgres-test.sh: PostgreSQL server binaries not found (apt-get install postgresql)" >&2
    exit 1
fi

# initdb and the server refuse to run as root: use the `postgres` account then.
if [[ $(id -u) -eq 0 ]]; then
    as_pg() { runuser -u postgres -- "$@"; }
    owner=postgres
else
    as_pg() { "$@"; }
    owner=$(id -un)
fi

if [[ "${1:-}" == "stop" ]]; then
    as_pg "$bindir/pg_ctl" -D "$dir/data" -m fast stop >&2 || true
    exit 0
fi

mkdir -p "$dir"
chown "$owner" "$dir"
if [[ ! -f "$dir/data/PG_VERSION" ]]; then
    as_pg "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >&2
fi
if ! as_pg "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300" start >&2
fi

psql() { as_pg "$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1 -qtA "$@"; }

if [[ -z "$(psql -c "SELECT 1 FROM pg_roles WHERE rolname = 'mask'")" ]]; then
    psql -c "CREATE ROLE mask LOGIN CREATEDB PASSWORD 'mask'" >&2
fi
if [[ -z "$(psql -c "SELECT 1 FROM pg_database WHERE datname = 'mask_test'")" ]]; then
    psql -c "CREATE DATABASE mask_test OWNER mask" >&2
fi
echo "postgres://mask:mask@127.0.0.1:$port/mask_test"
