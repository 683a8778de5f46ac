#!/bin/sh
# Entrypoint of localhost/cairn-postgres:<major> (built by scripts/images.sh).
#
# On first start, initialises $PGDATA with superuser `postgres`, password
# $POSTGRES_PASSWORD (default `postgres`), scram-sha-256 for TCP connections from
# any address and trust on the local socket; then runs the server in the
# foreground (as PID 1), listening on all addresses.
#
# Arguments: like the official image, `postgres -c name=value ...` (or just
# `-c name=value ...`) passes settings to the server.
set -eu

PGBIN=/usr/lib/postgresql/${PG_MAJOR}/bin
PGDATA=${PGDATA:-/var/lib/postgresql/data}
export PGDATA

as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; }

mkdir -p /var/run/postgresql "$PGDATA"
chown postgres:postgres /var/run/postgresql "$PGDATA"
chmod 2775 /var/run/postgresql
chmod 700 "$PGDATA"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    pwfile=$(mktemp)
    printf '%s\n' "${POSTGRES_PASSWORD:-postgres}" >"$pwfile"
    chown postgres:postgres "$pwfile"
    as_postgres "$PGBIN/initdb" --pgdata="$PGDATA" --username=postgres --pwfile="$pwfile" \
        --encoding=UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    rm -f "$pwfile"
    cat >"$PGDATA/pg_hba.conf" <<'HBA'
# TYPE  DATABASE  USER  ADDRESS  METHOD
local   all       all            trust
host    all       all   all      scram-sha-256
HBA
    cat >>"$PGDATA/postgresql.conf" <<'CONF'
listen_addresses = '*'
unix_socket_directories = '/var/run/postgresql'
password_encryption = 'scram-sha-256'
# The image leaves out LLVM (see scripts/images.sh).
jit = off
CONF
    echo "cairn-postgres: initialised $PGDATA (PostgreSQL $PG_MAJOR)" >&2
fi

if [ "${1:-}" = postgres ]; then
    shift
fi
exec setpriv --reuid=postgres --regid=postgres --init-groups -- "$PGBIN/postgres" -D "$PGDATA" "$@"
