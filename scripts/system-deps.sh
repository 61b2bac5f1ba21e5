#!/usr/bin/env bash
# Installs (as root, with apt) or checks the system tools the test suite
# drives as real peers: openssl (s_client/s_server), curl, wrk, redis-server,
# a PostgreSQL server, iproute2 (network namespaces for fault tests), and
# gcc (the C accelerator, tested both ways).
# Without root it only checks, and fails naming what is missing.
set -euo pipefail

# command -> Debian package
declare -A PKG=(
    [openssl]=openssl
    [curl]=curl
    [wrk]=wrk
    [redis-server]=redis-server
    [ip]=iproute2
    [pg_ctlcluster]=postgresql
    [gcc]=gcc             # builds the optional C accelerator (netpoll/_speedups.c)
)

missing_cmds() {
    local out=()
    for cmd in "${!PKG[@]}"; do
        command -v "$cmd" >/dev/null 2>&1 || out+=("$cmd")
    done
    echo "${out[@]:-}"
}

missing=$(missing_cmds)
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    pkgs=()
    for cmd in $missing; do pkgs+=("${PKG[$cmd]}"); done
    echo "system-deps: installing ${pkgs[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
    # Debian starts services on install; the tests start their own servers.
    for svc in redis-server postgresql; do
        service "$svc" stop >/dev/null 2>&1 || true
    done
    missing=$(missing_cmds)
    [ -z "$missing" ] && exit 0
fi

echo "system-deps: the tests need these commands, which are missing: $missing" >&2
echo "system-deps: install them (Debian/Ubuntu packages:" \
     "$(for c in $missing; do printf '%s ' "${PKG[$c]}"; done)) or run as root" >&2
exit 1
