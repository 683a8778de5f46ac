#!/usr/bin/env bash
# Installs the migration tools the `cairn adopt` suites run for real
# (cargo feature `peer-tools` of cairn-cli): sqlx-cli from crates.io and
# dbmate from npm, pinned, into one cache directory that CI keeps between runs.
#
#   $CAIRN_PEER_TOOLS (default: ~/.cache/cairn-peer-tools)
#     bin/sqlx                     sqlx-cli (rustls; postgres, mysql, sqlite)
#     npm/node_modules/.bin/dbmate dbmate (its npm package ships the binary)
#
# A tool already there at the pinned version is not installed again.
# Prints the line to evaluate, e.g.  eval "$(scripts/peer-tools.sh)"
#   export CAIRN_PEER_TOOLS=/root/.cache/cairn-peer-tools
# Progress goes to stderr, so stdout carries only that line. Safe to re-run.
set -euo pipefail

SQLX_VERSION=0.9.0
DBMATE_VERSION=2.36.0
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

if "$ROOT/npm/node_modules/.bin/dbmate" --version 2>/dev/null | grep -q "version $DBMATE_VERSION"; then
    say "dbmate $DBMATE_VERSION already in $ROOT/npm"
else
    command -v npm >/dev/null 2>&1 || { say "npm is missing: apt-get install -y npm"; exit 1; }
    say "installing dbmate $DBMATE_VERSION into $ROOT/npm"
    npm install --silent --no-audit --no-fund --prefix "$ROOT/npm" "dbmate@$DBMATE_VERSION" >&2
fi

echo "export CAIRN_PEER_TOOLS=$ROOT"
