#!/usr/bin/env bash
# Prepare a fresh Debian machine (as root) for the whole cdbctl test suite.
# Idempotent: a second run only checks what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*" >&2; }

apt_pkgs=(redis-server docker.io docker-compose debootstrap)
command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || apt_pkgs+=(postgresql)
# the risk engine's compiled evaluation is built at install (hatch_build.py): a C compiler and Python's headers
command -v cc >/dev/null 2>&1 || apt_pkgs+=(gcc libc6-dev)
python -c 'import sysconfig, os, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
  || apt_pkgs+=(python3-dev)
missing=()
for p in "${apt_pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

log "installing cdbctl with its dev dependencies"
python -m pip install -q --disable-pip-version-check -e '.[dev]'

# Each feature adds what its tests need as one numbered script (docker engine, base image, ...).
for step in .ci/setup.d/*.sh; do
  [ -e "$step" ] || continue
  log "running $step"
  bash "$step"
done
log "ready"
