#!/usr/bin/env bash
# Makes a Docker-API socket available for testcontainers.
#
# - If DOCKER_HOST already answers, or /var/run/docker.sock does, nothing is done.
# - Otherwise Podman (with runc) is installed if missing, configured as
#   shared/ENGINES.md describes, and `podman system service` is started in the
#   background on unix:///run/podman/podman.sock (log: /tmp/podman-service.log).
#
# Prints the line to evaluate, e.g.  eval "$(scripts/podman.sh)"
#   export DOCKER_HOST=unix:///run/podman/podman.sock
# Progress goes to stderr, so stdout carries only that line. Safe to re-run.
set -euo pipefail

SOCKET=/run/podman/podman.sock
URL="unix://$SOCKET"
LOG=/tmp/podman-service.log

say() { echo "podman.sh: $*" >&2; }

# Answers when the Docker API at unix socket $1 responds to /_ping.
pings() {
    [ -S "$1" ] && curl -fsS --max-time 5 --unix-socket "$1" http://localhost/_ping >/dev/null 2>&1
}

if [ -n "${DOCKER_HOST:-}" ]; then
    case "$DOCKER_HOST" in
        unix://*)
            if pings "${DOCKER_HOST#unix://}"; then
                say "DOCKER_HOST=$DOCKER_HOST already answers"
                echo "export DOCKER_HOST=$DOCKER_HOST"
                exit 0
            fi
            ;;
        *)
            if curl -fsS --max-time 5 "${DOCKER_HOST/tcp:/http:}/_ping" >/dev/null 2>&1; then
                say "DOCKER_HOST=$DOCKER_HOST already answers"
                echo "export DOCKER_HOST=$DOCKER_HOST"
                exit 0
            fi
            ;;
    esac
    say "DOCKER_HOST=$DOCKER_HOST does not answer; falling back to Podman"
fi

if pings /var/run/docker.sock; then
    say "/var/run/docker.sock answers; nothing to do"
    exit 0
fi

if pings "$SOCKET"; then
    say "Podman service already answers on $SOCKET"
    echo "export DOCKER_HOST=$URL"
    exit 0
fi

if ! command -v podman >/dev/null 2>&1 || ! command -v runc >/dev/null 2>&1; then
    say "installing podman and runc"
    if [ "$(id -u)" != 0 ]; then
        say "not root: install podman and runc yourself (apt-get install podman runc)"
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq podman runc >&2 || { apt-get update -qq >&2 && apt-get install -y -qq podman runc >&2; }
fi

# crun fails on these machines ("cgroups in hybrid mode not supported") and raising
# RLIMIT_NPROC is not permitted: use runc and modest ulimits.
CONF=/etc/containers/containers.conf
if [ ! -f "$CONF" ] || ! grep -Eq '^[[:space:]]*runtime[[:space:]]*=[[:space:]]*"runc"' "$CONF"; then
    if [ -f "$CONF" ]; then
        cp "$CONF" "$CONF.cairn-backup.$(date +%s)"
        say "replacing $CONF (backup kept beside it)"
    else
        say "writing $CONF"
    fi
    mkdir -p /etc/containers
    cat >"$CONF" <<'CONF'
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]

[engine]
runtime = "runc"
CONF
fi

mkdir -p /run/podman
# A stale socket from a service that died would make the new one fail to bind.
rm -f "$SOCKET"
say "starting podman system service on $URL (log: $LOG)"
nohup podman system service --time=0 "$URL" >"$LOG" 2>&1 </dev/null &
disown || true

for _ in $(seq 1 100); do
    if pings "$SOCKET"; then
        say "Podman service answers on $SOCKET"
        echo "export DOCKER_HOST=$URL"
        exit 0
    fi
    sleep 0.2
done
say "Podman service did not answer within 20 s; see $LOG:"
tail -n 20 "$LOG" >&2 || true
exit 1
