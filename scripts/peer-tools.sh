#!/usr/bin/env bash
# Installs the migration tools the `cairn adopt` suites run for real
# (cargo feature `peer-tools` of cairn-cli): sqlx-cli from crates.io; dbmate,
# Knex and TypeORM with the pg and mysql2 drivers from npm; all pinned, into
# one cache directory that CI keeps between runs.
#
#   $CAIRN_PEER_TOOLS (default: ~/.cache/cairn-peer-tools)
#     bin/sqlx                      sqlx-cli (rustls; postgres, mysql, sqlite)
#     bin/refinery                  refinery_cli (postgresql, mysql, sqlite-bundled)
#     npm/node_modules/.bin/dbmate  dbmate (its npm package ships the binary)
#     npm/node_modules/.bin/knex    Knex, npm/node_modules/.bin/typeorm TypeORM
#     venv/bin/alembic              Alembic with SQLAlchemy, psycopg2-binary, PyMySQL (PyPI)
#     liquibase-<version>/node_modules/liquibase/dist/liquibase/liquibase  Liquibase
#
# A tool already there at the pinned version is not installed again.
# Prints the line to evaluate, e.g.  eval "$(scripts/peer-tools.sh)"
#   export CAIRN_PEER_TOOLS=/root/.cache/cairn-peer-tools
# Progress goes to stderr, so stdout carries only that line. Safe to re-run.
set -euo pipefail

SQLX_VERSION=0.9.0
REFINERY_VERSION=0.9.2
DBMATE_VERSION=2.36.0
# The npm packages, as `npm install` takes them.
NPM_PACKAGES=(dbmate@2.36.0 knex@3.3.0 typeorm@0.3.31 pg@8.23.1 mysql2@3.24.6)
# The PyPI packages, as `pip install` takes them (Alembic's venv).
PIP_PACKAGES=(alembic==1.18.4 SQLAlchemy==2.0.44 psycopg2-binary==2.9.11 PyMySQL==1.1.2)
ROOT="${CAIRN_PEER_TOOLS:-$HOME/.cache/cairn-peer-tools}"

say() { echo "peer-tools.sh: $*" >&2; }
mkdir -p "$ROOT/bin" "$ROOT/npm"

if "$ROOT/bin/sqlx" --version 2>/dev/null | grep -qx "sqlx-cli $SQLX_VERSION"; then
    say "sqlx-cli $SQLX_VERSION already in $ROOT/bin"
else
    say "installing sqlx-cli $SQLX_VERSION into $ROOT (a few minutes of CPU, once)"
    CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}" cargo install sqlx-cli --version "$SQLX_VERSION" \
        --locked --no-default-features --features rustls,postgres,mysql,sqlite \
        --root "$ROOT" >&2
fi
if "$ROOT/bin/refinery" --version 2>/dev/null | grep -qx "refinery_cli $REFINERY_VERSION"; then
    say "refinery_cli $REFINERY_VERSION already in $ROOT/bin"
else
    say "installing refinery_cli $REFINERY_VERSION into $ROOT (a few minutes of CPU, once)"
    CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}" cargo install refinery_cli --version "$REFINERY_VERSION" \
        --locked --no-default-features --features postgresql,mysql,sqlite-bundled \
        --root "$ROOT" >&2
fi

installed() { # package@version -> whether that version is in $ROOT/npm
    local name=${1%@*} version=${1##*@}
    [ -f "$ROOT/npm/node_modules/$name/package.json" ] &&
        grep -q "\"version\": \"$version\"" "$ROOT/npm/node_modules/$name/package.json"
}
missing=()
for package in "${NPM_PACKAGES[@]}"; do
    installed "$package" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
    say "${NPM_PACKAGES[*]} already in $ROOT/npm"
else
    command -v npm >/dev/null 2>&1 || { say "npm is missing: apt-get install -y nodejs npm"; exit 1; }
    say "installing ${missing[*]} into $ROOT/npm"
    npm install --silent --no-audit --no-fund --prefix "$ROOT/npm" "${NPM_PACKAGES[@]}" >&2
fi
"$ROOT/npm/node_modules/.bin/dbmate" --version 2>/dev/null | grep -q "version $DBMATE_VERSION" ||
    { say "dbmate $DBMATE_VERSION does not run from $ROOT/npm"; exit 1; }

# Alembic: a venv of its own, installed again when a pinned version is missing.
pip_installed() { # whether every pinned PyPI package is in $ROOT/venv
    local frozen
    frozen=$("$ROOT/venv/bin/python" -m pip freeze 2>/dev/null) || return 1
    for package in "${PIP_PACKAGES[@]}"; do
        grep -qix "$package" <<<"$frozen" || return 1
    done
}
if pip_installed; then
    say "${PIP_PACKAGES[*]} already in $ROOT/venv"
else
    command -v python3 >/dev/null 2>&1 || { say "python3 is missing: apt-get install -y python3-venv"; exit 1; }
    say "installing ${PIP_PACKAGES[*]} into $ROOT/venv"
    python3 -m venv "$ROOT/venv" >&2
    "$ROOT/venv/bin/python" -m pip install --quiet --disable-pip-version-check "${PIP_PACKAGES[@]}" >&2
fi
"$ROOT/venv/bin/alembic" --version 2>/dev/null | grep -q "alembic ${PIP_PACKAGES[0]#alembic==}" ||
    { say "alembic ${PIP_PACKAGES[0]#alembic==} does not run from $ROOT/venv"; exit 1; }
# Liquibase from npm, each version in its own prefix: 4.28.1 (checksums `9:`)
# (whose bundled core is 4.28.0) and 4.4.0 (`8:`, the newest `8:` release on npm). Both run on Java 17. The
# SQLite JDBC driver (bundled by 4.28.1, copied into 4.4.0) needs slf4j, which
# Debian's libslf4j-java provides; Liquibase loads every jar of its lib/.
LIQUIBASE_VERSIONS=(4.28.1 4.4.0)
SLF4J=/usr/share/java
for version in "${LIQUIBASE_VERSIONS[@]}"; do
    prefix="$ROOT/liquibase-$version"
    if [ -f "$prefix/node_modules/liquibase/package.json" ] &&
        grep -q "\"version\": \"$version\"" "$prefix/node_modules/liquibase/package.json"; then
        say "liquibase $version already in $prefix"
    else
        say "installing liquibase $version into $prefix"
        mkdir -p "$prefix"
        npm install --silent --no-audit --no-fund --prefix "$prefix" "liquibase@$version" >&2
    fi
    [ -f "$SLF4J/slf4j-api.jar" ] || { say "slf4j is missing: apt-get install -y libslf4j-java"; exit 1; }
    cp "$SLF4J/slf4j-api.jar" "$SLF4J/slf4j-nop.jar" "$prefix/node_modules/liquibase/dist/liquibase/lib/"
done
# 4.4.0's lib/ holds no JDBC driver: its npm package's PostgreSQL and MariaDB
# drivers, and 4.28.1's SQLite driver, go there.
old_lib="$ROOT/liquibase-4.4.0/node_modules/liquibase/dist/liquibase/lib"
cp "$ROOT/liquibase-4.28.1/node_modules/liquibase/dist/liquibase/internal/lib/sqlite-jdbc.jar" "$old_lib/"
cp "$ROOT"/liquibase-4.4.0/node_modules/liquibase/dist/drivers/{postgresql,mariadb-java-client}-*.jar "$old_lib/"
command -v java >/dev/null 2>&1 || { say "java is missing (Liquibase needs it): apt-get install -y openjdk-17-jre-headless"; exit 1; }
"$ROOT/liquibase-4.28.1/node_modules/liquibase/dist/liquibase/liquibase" --version 2>/dev/null | grep -q "Liquibase Version: 4.28" ||
    { say "liquibase 4.28 does not run from $ROOT/liquibase-4.28.1"; exit 1; }

echo "export CAIRN_PEER_TOOLS=$ROOT"
