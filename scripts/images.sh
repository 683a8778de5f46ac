#!/usr/bin/env bash
# Builds the server images for the test matrix from Debian's packages, with no
# container registry: mmdebstrap makes a root filesystem holding only the server
# packages plus the entrypoint from images/<engine>/entrypoint.sh, and
# `podman import` turns it into an image.
#
#   scripts/images.sh [all|postgres-15|postgres-17|mariadb-10.11|mariadb-11.8]...
#
# (an image may also be named as postgres:17 or localhost/cairn-postgres:17)
#
#   postgres-15    localhost/cairn-postgres:15     bookworm  postgresql-15
#   postgres-17    localhost/cairn-postgres:17     trixie    postgresql-17
#   mariadb-10.11  localhost/cairn-mariadb:10.11   bookworm  mariadb-server
#   mariadb-11.8   localhost/cairn-mariadb:11.8    trixie    mariadb-server
#
# An image that exists and was built from the same recipe (this script's build
# parameters and the entrypoint, recorded in the label cairn.recipe) is kept;
# one built from another recipe is rebuilt. FORCE=1 rebuilds all that are named.
# The Debian mirror is the one apt already uses (/etc/apt/sources.list.d/*.sources
# or /etc/apt/sources.list); CAIRN_DEBIAN_MIRROR overrides it. Downloaded .debs
# are cached in /var/cache/cairn-images/<suite> (CAIRN_IMAGE_CACHE overrides).
#
# Environment the images understand (same names as the official images):
#   cairn-postgres: POSTGRES_PASSWORD (default postgres) for user postgres,
#                   scram-sha-256 over TCP from any address, trust on the socket.
#   cairn-mariadb:  MARIADB_ROOT_PASSWORD (default empty) for root@'%'.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RECIPE_VERSION=1
CACHE_ROOT=${CAIRN_IMAGE_CACHE:-/var/cache/cairn-images}
TMPDIRS=()
trap 'rm -rf "${TMPDIRS[@]}"' EXIT

say() { echo "images.sh: $*" >&2; }

need_tools() {
    local missing=()
    command -v podman >/dev/null 2>&1 || missing+=(podman)
    command -v runc >/dev/null 2>&1 || missing+=(runc)
    command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
    if [ ${#missing[@]} -gt 0 ]; then
        if [ "$(id -u)" != 0 ]; then
            say "missing ${missing[*]} and not root: apt-get install podman runc mmdebstrap"
            exit 1
        fi
        say "installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq "${missing[@]}" >&2 ||
            { apt-get update -qq >&2 && apt-get install -y -qq "${missing[@]}" >&2; }
    fi
}

# The main Debian archive URI apt uses on this machine (not the security one).
debian_mirror() {
    if [ -n "${CAIRN_DEBIAN_MIRROR:-}" ]; then
        echo "$CAIRN_DEBIAN_MIRROR"
        return
    fi
    local uri
    uri=$(
        shopt -s nullglob
        for f in /etc/apt/sources.list.d/*.sources; do
            # deb822 stanzas: print the first URI of each stanza whose Types has deb.
            awk '
                function flush() { if (types ~ /(^|[ \t])deb([ \t]|$)/ && uri != "") print uri; types = ""; uri = "" }
                /^[ \t]*$/ { flush(); next }
                /^Types:/ { sub(/^Types:[ \t]*/, ""); types = $0 }
                /^URIs:/ { sub(/^URIs:[ \t]*/, ""); split($0, u, /[ \t]+/); uri = u[1] }
                END { flush() }
            ' "$f"
        done
        for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
            [ -f "$f" ] && awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) { print $i; break } }' "$f"
        done
    ) || true
    uri=$(printf '%s\n' "$uri" | grep -v -i 'security' | grep -E '^(https?|file|mirror\+[a-z]+)://' | head -n 1 || true)
    if [ -z "$uri" ]; then
        say "cannot find the Debian mirror apt uses; set CAIRN_DEBIAN_MIRROR"
        exit 1
    fi
    echo "${uri%/}"
}

# build IMAGE SUITE PACKAGE ENGINE(postgres|mariadb) [PG_MAJOR]
build() {
    local image=$1 suite=$2 package=$3 engine=$4 major=${5:-}
    local entrypoint="$ROOT/images/$engine/entrypoint.sh"
    local cleanup essential=''
    case $engine in
        postgres)
            # The entrypoint makes its own cluster in $PGDATA on first start: ask
            # postgresql-common's postinst not to create one (initdb takes a
            # while), and remove whatever is left. Nor is JIT used (jit = off in
            # the entrypoint): postgresql-NN depends on libLLVM, which alone would
            # more than double the image's size.
            essential='mkdir -p "$1"/etc/postgresql-common/createcluster.d && echo "create_main_cluster = false" >"$1"/etc/postgresql-common/createcluster.d/cairn.conf'
            cleanup='rm -rf "$1"/var/lib/postgresql/* "$1"/etc/postgresql/*'
            cleanup+=' "$1"/usr/lib/*-linux-gnu/libLLVM* "$1"/usr/lib/*-linux-gnu/libz3.so*'
            cleanup+=' "$1"/usr/lib/postgresql/*/lib/llvmjit* "$1"/usr/lib/postgresql/*/lib/bitcode'
            ;;
        mariadb)
            cleanup='rm -rf "$1"/var/lib/mysql/* "$1"/var/log/mysql/*'
            ;;
    esac

    # What the image is made from: when any of it changes, the image is rebuilt.
    local recipe
    recipe=$(
        {
            echo "v$RECIPE_VERSION $suite $package $engine $major"
            echo "$essential"
            echo "$cleanup"
            cat "$entrypoint"
        } | sha256sum | cut -c1-16
    )

    if podman image exists "$image" && [ "${FORCE:-0}" != 1 ]; then
        local have
        have=$(podman image inspect --format '{{ index .Labels "cairn.recipe" }}' "$image" 2>/dev/null || true)
        if [ "$have" = "$recipe" ]; then
            say "$image exists (recipe $recipe): skipped"
            return
        fi
        say "$image exists but from recipe '${have:-?}', not $recipe: rebuilding"
    fi

    local mirror tmp started
    mirror=$(debian_mirror)
    tmp=$(mktemp -d /var/tmp/cairn-image.XXXXXX)
    TMPDIRS+=("$tmp")
    started=$SECONDS
    say "building $image: $package from $suite ($mirror)"

    # Downloaded packages are kept per suite, so a rebuild or a second image
    # from the same suite downloads only what it lacks.
    local cache="$CACHE_ROOT/$suite"
    mkdir -p "$cache"

    mmdebstrap --quiet --variant=apt --include="$package" \
        --skip=essential/unlink \
        --setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
        --setup-hook="sync-in '$cache' /var/cache/apt/archives/" \
        --customize-hook="sync-out /var/cache/apt/archives '$cache'" \
        --aptopt='Apt::Install-Recommends "false"' \
        --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/info/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        ${essential:+--essential-hook="$essential"} \
        --customize-hook="$cleanup" \
        --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/* "$1"/var/log/apt/* "$1"/var/log/*.log' \
        --customize-hook="upload '$entrypoint' /usr/local/bin/cairn-entrypoint" \
        --customize-hook='chmod 0755 "$1"/usr/local/bin/cairn-entrypoint' \
        "$suite" "$tmp/rootfs.tar" "deb $mirror $suite main" >&2
    local bootstrapped=$SECONDS

    local changes=(
        --change 'ENTRYPOINT ["/usr/local/bin/cairn-entrypoint"]'
        --change "LABEL cairn.recipe=$recipe"
        --change "LABEL org.opencontainers.image.description=Cairn test server: $package from Debian $suite"
    )
    case $engine in
        postgres)
            changes+=(
                --change "ENV PG_MAJOR=$major"
                --change "ENV PATH=/usr/lib/postgresql/$major/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
                --change 'ENV PGDATA=/var/lib/postgresql/data'
                --change 'EXPOSE 5432/tcp'
                --change 'STOPSIGNAL SIGINT'
            )
            ;;
        mariadb)
            changes+=(
                --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
                --change 'EXPOSE 3306/tcp'
            )
            ;;
    esac
    podman import --quiet "${changes[@]}" "$tmp/rootfs.tar" "$image" >/dev/null
    rm -rf "$tmp"
    local size
    size=$(podman image inspect --format '{{ .Size }}' "$image")
    say "built $image in $((SECONDS - started)) s (mmdebstrap $((bootstrapped - started)) s, import $((SECONDS - bootstrapped)) s), $((size / 1024 / 1024)) MiB"
}

main() {
    local targets=("$@")
    [ ${#targets[@]} -eq 0 ] && targets=(all)
    local expanded=()
    for t in "${targets[@]}"; do
        # Also accepted: postgres:17, cairn-postgres:17, localhost/cairn-postgres:17.
        t=${t#localhost/}
        t=${t#cairn-}
        t=${t/:/-}
        case $t in
            all) expanded+=(postgres-15 postgres-17 mariadb-10.11 mariadb-11.8) ;;
            postgres-15 | postgres-17 | mariadb-10.11 | mariadb-11.8) expanded+=("$t") ;;
            -h | --help)
                sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
                exit 0
                ;;
            *)
                say "unknown image '$t' (all, postgres-15, postgres-17, mariadb-10.11, mariadb-11.8)"
                exit 2
                ;;
        esac
    done

    need_tools
    # One build at a time on a machine: a second run waits, then finds the images.
    exec 9>/var/lock/cairn-images.lock
    flock 9
    local started=$SECONDS
    for t in "${expanded[@]}"; do
        case $t in
            postgres-15) build localhost/cairn-postgres:15 bookworm postgresql-15 postgres 15 ;;
            postgres-17) build localhost/cairn-postgres:17 trixie postgresql-17 postgres 17 ;;
            mariadb-10.11) build localhost/cairn-mariadb:10.11 bookworm mariadb-server mariadb ;;
            mariadb-11.8) build localhost/cairn-mariadb:11.8 trixie mariadb-server mariadb ;;
        esac
    done
    say "done in $((SECONDS - started)) s"
}

main "$@"
