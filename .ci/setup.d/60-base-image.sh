#!/usr/bin/env bash
# Build the local stand-in for python:3.12-slim that the end-to-end suite builds its images FROM.
#
# No container registry is reachable from CI, so `FROM python:3.12-slim` cannot be pulled. Instead this
# script bootstraps a minimal Debian bookworm with Python 3, pip and venv from the Debian mirror apt
# already uses, adds the machine's CA bundle and pip configuration (so `pip install` inside
# `docker build --network host` reaches the same package index as the host), and imports it as
# ${CDBCTL_BASE_IMAGE:-cdbctl-base:bookworm}. The image carries a label with the hash of this script:
# it is rebuilt only when the recipe changes, so a second run takes a fraction of a second.
# CDBCTL_E2E=skip turns this script (and the e2e suite) off.
set -euo pipefail

log() { printf '[60-base-image] %s\n' "$*" >&2; }
# Reported, not fatal to .ci/setup.sh: the e2e tests then fail saying the base image is missing.
fail() {
  log "ERROR: $*"
  log "the e2e tests will fail (set CDBCTL_E2E=skip to skip them)"
  exit 0
}

if [ "${CDBCTL_E2E:-}" = "skip" ]; then
  log "CDBCTL_E2E=skip: not building the base image"
  exit 0
fi

image="${CDBCTL_BASE_IMAGE:-cdbctl-base:bookworm}"
recipe="$(sha256sum "$0" | cut -c1-16)"
label=org.cdbctl.base-recipe

if ! docker info >/dev/null 2>&1; then
  fail "the Docker engine is not running (see .ci/setup.d/50-docker.sh); cannot build ${image}"
fi

have="$(docker image inspect --format "{{ index .Config.Labels \"${label}\" }}" "${image}" 2>/dev/null || true)"
if [ "${have}" = "${recipe}" ]; then
  log "${image} is current (recipe ${recipe})"
  exit 0
fi

# The Debian mirror apt uses on this machine (deb822 .sources first, then one-line .list files).
mirror="$(
  {
    awk '/^URIs:/ {print $2}' /etc/apt/sources.list.d/*.sources 2>/dev/null
    grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '{print $2}'
  } | grep -E '/debian/?$' | head -n1 || true
)"
mirror="${mirror:-http://deb.debian.org/debian}"

work="$(mktemp -d /var/tmp/cdbctl-base.XXXXXX)"
cleanup() { rm -rf --one-file-system "${work}"; }
trap cleanup EXIT
rootfs="${work}/rootfs"

log "bootstrapping Debian bookworm from ${mirror} (about a minute)"
debootstrap --variant=minbase \
  --include=python3,python3-venv,python3-pip,python-is-python3,ca-certificates \
  bookworm "${rootfs}" "${mirror}" >"${work}/debootstrap.log" 2>&1 || {
  log "last lines of the debootstrap log:"
  tail -n 30 "${work}/debootstrap.log" >&2
  fail "debootstrap of bookworm from ${mirror} failed"
}

# pip inside `docker build` must trust the same certificates as the host (a proxying index may use a
# private CA), and Debian's PEP 668 marker would make every `pip install` in a Dockerfile fail.
install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "${rootfs}/etc/ssl/certs/ca-certificates.crt"
rm -f "${rootfs}"/usr/lib/python3*/EXTERNALLY-MANAGED

# The host's package index (PIP_INDEX_URL, pip.conf): only http(s) indexes make sense inside a
# container; file:// indexes and find-links on the host's disk do not exist there.
pip_value() { python3 -m pip config get "$1" 2>/dev/null || true; }
index_url="${PIP_INDEX_URL:-$(pip_value global.index-url)}"
extra_urls="${PIP_EXTRA_INDEX_URL:-$(pip_value global.extra-index-url)}"
{
  echo "[global]"
  echo "cert = /etc/ssl/certs/ca-certificates.crt"
  echo "disable-pip-version-check = true"
  case "${index_url}" in http://* | https://*) echo "index-url = ${index_url}" ;; esac
  extras=""
  for u in ${extra_urls}; do
    case "${u}" in http://* | https://*) extras="${extras} ${u}" ;; esac
  done
  [ -z "${extras}" ] || echo "extra-index-url =${extras}"
  trusted="${PIP_TRUSTED_HOST:-$(pip_value global.trusted-host)}"
  [ -z "${trusted}" ] || echo "trusted-host = ${trusted}"
} >"${rootfs}/etc/pip.conf"
log "pip configuration inside the image: $(tr '\n' ' ' <"${rootfs}/etc/pip.conf")"

# Keep the image small: no downloaded .debs, no apt lists (Dockerfiles run apt-get update themselves).
rm -rf "${rootfs}"/var/cache/apt/archives/*.deb "${rootfs}"/var/lib/apt/lists/* "${rootfs}"/var/log/*.log

log "importing ${image}"
tar -C "${rootfs}" -c . | docker import \
  --change "LABEL ${label}=${recipe}" \
  --change "LABEL org.cdbctl.role=e2e-base" \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  - "${image}" >/dev/null
# The previous build of the base image, now untagged (only images this script made carry the label).
docker image prune -f --filter "label=org.cdbctl.role=e2e-base" >/dev/null
docker run --rm --network host "${image}" python -c 'import sys, venv, ensurepip; print(sys.version.split()[0])' \
  | sed 's/^/[60-base-image] python in the image: /' >&2
log "${image} ready"
