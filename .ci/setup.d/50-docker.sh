#!/usr/bin/env bash
# Start the Docker engine for the end-to-end suite (tests/e2e), if it is not running already.
#
# The engine runs without a bridge and without iptables rules: every container of the suite uses host
# networking, so all traffic stays on 127.0.0.1. dockerd is detached (setsid + nohup) so that it outlives
# this script and the rest of .ci/setup.sh. Idempotent: a second run only checks the socket.
# CDBCTL_E2E=skip turns this script (and the e2e suite) off.
set -euo pipefail

log() { printf '[50-docker] %s\n' "$*" >&2; }
# Without an engine only the e2e stage can fail, with this message: the unit and integration tests still
# run. So a failure here is reported, not fatal to .ci/setup.sh.
fail() {
  log "ERROR: $*"
  log "the e2e tests will fail (set CDBCTL_E2E=skip to skip them)"
  exit 0
}

if [ "${CDBCTL_E2E:-}" = "skip" ]; then
  log "CDBCTL_E2E=skip: not starting the Docker engine"
  exit 0
fi

if docker info >/dev/null 2>&1; then
  log "Docker engine already running"
  exit 0
fi

if [ -n "${DOCKER_HOST:-}" ] && [ "${DOCKER_HOST#unix://}" = "${DOCKER_HOST}" ]; then
  fail "DOCKER_HOST=${DOCKER_HOST} points to a remote engine that does not answer; not starting a local one"
fi

if ! command -v dockerd >/dev/null 2>&1; then
  fail "dockerd not found: install the docker.io package (bash .ci/setup.sh does)"
fi

# A process that exists and is not a zombie (a killed dockerd whose parent never reaped it stays one).
alive() {
  local st
  st="$(ps -o stat= -p "$1" 2>/dev/null | tr -d ' ')"
  [ -n "${st}" ] && [ "${st#Z}" = "${st}" ]
}

socket=/var/run/docker.sock
logfile=/var/log/cdbctl-dockerd.log
# A pid file left by an engine that died (machine handed over, session ended) makes dockerd refuse to start.
if [ -f /var/run/docker.pid ]; then
  old="$(cat /var/run/docker.pid 2>/dev/null || true)"
  if [ -n "${old}" ] && alive "${old}"; then
    log "dockerd (pid ${old}) is running but does not answer on ${socket}; giving it 30 s"
    for _ in $(seq 1 60); do
      docker info >/dev/null 2>&1 && { log "Docker engine ready"; exit 0; }
      sleep 0.5
    done
    fail "dockerd (pid ${old}) does not answer; see /var/log/cdbctl-dockerd.log"
  fi
  log "removing the stale pid file of a dead dockerd (pid ${old:-?})"
  rm -f /var/run/docker.pid
fi

log "starting dockerd (log: ${logfile})"
setsid nohup dockerd --bridge=none --iptables=false --ip-masq=false --host="unix://${socket}" \
  >>"${logfile}" 2>&1 </dev/null &
pid=$!

for _ in $(seq 1 120); do
  if docker info >/dev/null 2>&1; then
    log "Docker engine ready ($(docker version --format '{{.Server.Version}}'), pid ${pid})"
    exit 0
  fi
  alive "${pid}" || break # it exited: no point in waiting
  sleep 0.5
done

log "last lines of ${logfile}:"
tail -n 20 "${logfile}" >&2 || true
fail "the Docker engine did not come up (log: ${logfile})"
