#!/bin/sh
# Entrypoint of localhost/cairn-mariadb:<version> (built by scripts/images.sh).
#
# On first start, initialises /var/lib/mysql and creates root@'%' with the
# password in $MARIADB_ROOT_PASSWORD (empty when unset); then runs the server in
# the foreground (as PID 1), listening on all addresses.
#
# Arguments: like the official image, options starting with `-` (optionally
# after `mariadbd`) are passed to the server.
set -eu

DATADIR=/var/lib/mysql

mkdir -p /run/mysqld "$DATADIR"
chown mysql:mysql /run/mysqld "$DATADIR"

if [ ! -d "$DATADIR/mysql" ]; then
    mariadb-install-db --user=mysql --datadir="$DATADIR" --skip-test-db \
        --auth-root-authentication-method=socket >/dev/null
    # Escape the password for a single-quoted SQL string.
    password=$(printf '%s' "${MARIADB_ROOT_PASSWORD:-}" | sed -e "s/\\\\/\\\\\\\\/g" -e "s/'/\\\\'/g")
    mariadbd --user=mysql --datadir="$DATADIR" --bootstrap --skip-networking --log-error=/tmp/bootstrap.log <<SQL
FLUSH PRIVILEGES;
DELETE FROM mysql.global_priv WHERE User = '';
CREATE USER 'root'@'%' IDENTIFIED BY '$password';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;
FLUSH PRIVILEGES;
SQL
    echo "cairn-mariadb: initialised $DATADIR" >&2
fi

if [ "${1:-}" = mariadbd ] || [ "${1:-}" = mysqld ]; then
    shift
fi
exec mariadbd --user=mysql --datadir="$DATADIR" --bind-address='*' --port=3306 \
    --skip-name-resolve "$@"
