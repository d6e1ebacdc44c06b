#!/usr/bin/env bash
# Make PostgreSQL's server binaries available for the test suite (tests/postgres_cluster.py starts its own
# throwaway cluster from them). Idempotent: does nothing when initdb and the 'postgres' user already exist.
set -euo pipefail

installed() {
    compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null && getent passwd postgres >/dev/null
}

if installed; then
    echo "PostgreSQL: $(ls -d /usr/lib/postgresql/*/bin | tail -n 1)"
    exit 0
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends postgresql >/dev/null
installed || { echo "PostgreSQL install did not provide initdb and a 'postgres' user" >&2; exit 1; }
echo "PostgreSQL: $(ls -d /usr/lib/postgresql/*/bin | tail -n 1)"
