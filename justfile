# Cairn's tasks. `just --list` shows them; CI runs `just test-all`.

set shell := ["bash", "-euo", "pipefail", "-c"]

# The engine matrix, defined once. Each entry is `name=how`:
#   url:<URL>      a running server (the ones every dev/CI machine starts)
#   image:<IMAGE>  a container started through testcontainers
# Override any entry from the environment, e.g. on a machine with Docker and
# a registry: CAIRN_MATRIX_POSTGRES_17=image:postgres:17
pg15     := env_var_or_default("CAIRN_MATRIX_POSTGRES_15", "url:postgres://postgres@127.0.0.1:5432/postgres")
pg17     := env_var_or_default("CAIRN_MATRIX_POSTGRES_17", "image:localhost/cairn-postgres:17")
maria10  := env_var_or_default("CAIRN_MATRIX_MARIADB_10_11", "url:mysql://root@127.0.0.1:3306/test")
maria11  := env_var_or_default("CAIRN_MATRIX_MARIADB_11_8", "image:localhost/cairn-mariadb:11.8")
mysql8   := env_var_or_default("CAIRN_MATRIX_MYSQL_8", "")

# Tests that need a container even when the matrix entry is a URL (a
# PostgreSQL that checks passwords, for the wrong-password test) use this image.
pg_container := env_var_or_default("CAIRN_CONTAINER_POSTGRES_IMAGE", "localhost/cairn-postgres:17")

# Crates whose tests talk to PostgreSQL / MySQL servers. Their server suites
# are compiled only with the `servers` feature, which every recipe here sets;
# a plain `cargo test` (the fast loop) runs core, SQLite and the CLI on SQLite.
pg_crates    := "-p cairn-postgres -p cairn-cli -p cairn-testkit -p cairn -p cairn-sqlx"
mysql_crates := "-p cairn-mysql -p cairn-cli -p cairn-testkit -p cairn -p cairn-sqlx"

default:
    @just --list

# The fast loop, as a fresh clone runs it: `cargo test` with no server URL and
# no container engine (core, SQLite and the CLI on SQLite).
test-fast *args:
    env -u CAIRN_TEST_POSTGRES_URL -u CAIRN_TEST_MYSQL_URL DOCKER_HOST=unix:///nonexistent cargo test {{args}}

# Run the whole test suite once, server suites included (feature `servers`),
# against the servers in CAIRN_TEST_*_URL (defaults: the PostgreSQL 15 and
# MariaDB 10.11 of this machine).
test *args: containers
    eval "$(scripts/podman.sh | grep '^export ' || true)"; \
    CAIRN_TEST_POSTGRES_IMAGE="${CAIRN_TEST_POSTGRES_IMAGE:-{{pg_container}}}" \
    CAIRN_TEST_POSTGRES_URL="${CAIRN_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}" \
    CAIRN_TEST_MYSQL_URL="${CAIRN_TEST_MYSQL_URL:-mysql://root@127.0.0.1:3306/test}" \
    cargo test --workspace --features servers {{args}}

# Formatting, lints (with and without the server suites) and API docs, as CI checks them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    cargo clippy --workspace --all-targets --features servers -- -D warnings
    just doc

# The examples in the docs are doctests, run by `cargo test`.
# API docs (target/doc) as docs.rs builds them, warnings as errors.
doc *args:
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features {{args}}

# The crates that are published (cairn-bench and the workspace's tests are not).
publishable := "-p cairn-core -p cairn-sqlite -p cairn-postgres -p cairn-mysql -p cairn-testkit -p cairn-macros -p cairn-build -p cairn -p cairn-sqlx -p cairn-cli"

# Cargo orders them by their dependencies (docs/cli.md).
# Pack the publishable crates into target/package/.
package *args:
    cargo package --no-verify {{publishable}} {{args}}

# Needs crates.io for the dependencies, and takes minutes.
# Pack the publishable crates and build each from its .crate, as crates.io would.
package-verify *args:
    cargo package {{publishable}} {{args}}

# Everything CI checks: lint, then every test on every engine of the matrix.
test-all: lint test-fast containers
    just matrix-entry postgres "{{pg15}}" mysql "{{maria10}}" all
    just matrix-entry postgres "{{pg17}}" mysql "{{maria11}}" servers
    @if [ -n "{{mysql8}}" ]; then just matrix-entry postgres "{{pg15}}" mysql "{{mysql8}}" mysql-only; fi
    @echo "test-all: every entry of the matrix passed"

# One run of the suite: `which` is all (every crate), servers (the crates that
# talk to servers) or mysql-only.
matrix-entry pg_kind pg mysql_kind my which:
    #!/usr/bin/env bash
    set -euo pipefail
    env_for() { # engine spec -> exports
      local var=$1 spec=$2
      case "$spec" in
        url:*)   echo "export CAIRN_TEST_${var}_URL='${spec#url:}'" ;;
        image:*) echo "unset CAIRN_TEST_${var}_URL; export CAIRN_TEST_${var}_IMAGE='${spec#image:}'" ;;
        *) echo "echo 'bad matrix entry: $spec' >&2; exit 2" ;;
      esac
    }
    # Containers are used by image entries, and by the few tests that need a
    # server configured in a way the machine's own servers are not.
    eval "$(scripts/podman.sh | grep '^export ' || true)"
    # The real sqlx-cli and dbmate for the `cairn adopt` suites (feature
    # cairn-cli/peer-tools, entry `all`); cached in $CAIRN_PEER_TOOLS.
    if [ "{{which}}" = all ]; then eval "$(scripts/peer-tools.sh | grep '^export ' || true)"; fi
    for spec in "{{pg}}" "{{my}}"; do
      case "$spec" in image:localhost/*) scripts/images.sh "${spec#image:localhost/cairn-}" ;; esac
    done
    unset CAIRN_TEST_POSTGRES_URL CAIRN_TEST_MYSQL_URL
    export CAIRN_TEST_POSTGRES_IMAGE='{{pg_container}}'
    eval "$(env_for POSTGRES '{{pg}}')"
    eval "$(env_for MYSQL '{{my}}')"
    echo "== matrix entry: postgres {{pg}} / mysql {{my}} ({{which}})"
    case "{{which}}" in
      all) cargo test --workspace --features servers,cairn-cli/peer-tools ;;
      servers) cargo test {{pg_crates}} -p cairn-mysql --features servers ;;
      mysql-only) cargo test {{mysql_crates}} --features servers ;;
    esac

# A container engine for the tests, and the offline image the URL entries need.
containers:
    scripts/podman.sh >/dev/null
    @case "{{pg_container}}" in localhost/cairn-*) scripts/images.sh "{{pg_container}}" ;; esac

# Build the offline test images (PostgreSQL 15/17, MariaDB 10.11/11.8) from Debian's packages.
images *which="all":
    scripts/images.sh {{which}}

# Start a Podman API socket for testcontainers when there is no Docker daemon.
podman:
    scripts/podman.sh

# Benchmarks; figures go to docs/benchmarks.md.
bench *args:
    cargo run --release -p cairn-bench -- --out docs/benchmarks.md {{args}}

# Try Cairn on the example migrations against a throwaway SQLite file.
demo:
    #!/usr/bin/env bash
    set -euo pipefail
    db=$(mktemp -d)/demo.db
    cargo build -q -p cairn-cli
    cairn=target/debug/cairn
    export CAIRN_DATABASE_URL="sqlite://$db"
    $cairn status
    $cairn up
    $cairn status
    $cairn down --all
    $cairn up
    echo "demo database: $db"
