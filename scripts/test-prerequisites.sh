# shellcheck shell=bash
# Sourced by scripts/test.sh (from the repository root) before a full run: the Debian packages the
# end-to-end tests drive, the S3-compatible store the S3 tests write to, and the Azure Blob service (Azurite)
# the Azure tests write to. Each function prints what
# went wrong and returns non-zero; scripts/test.sh then closes with "0 passed, 1 failed".
# prerequisites_cleanup undoes what the others left running; scripts/test.sh calls it on exit.

# skopeo, buildah, podman: real registry clients (Debian bookworm: 1.9, 1.28, 4.3); golang-github-containers-common:
# /etc/containers/policy.json, which podman manifest push reads.
# docker-registry: Distribution 2.8.2, the reference the compatibility tests hand storage to and from.
# docker.io: the Docker engine (login/push/pull over TLS, manifest lists, building and running the Dockerfile).
# debootstrap, iproute2: the offline Debian base image and the test engine's private bridge.
# haproxy: the load balancer in front of the scale-out replicas. redis-server: the blob descriptor cache the
# replicas share (the tests start their own). umoci: OCI layouts without a daemon. strace: the durability
# test watches the server's renames and directory syncs. openssl: test certificates. python3: scripts/test.sh
# counts results with it. curl, jq: debugging by hand. chromium: the headless browser the web UI's end-to-end
# tests drive through Microsoft.Playwright (/usr/bin/chromium; Playwright's own browser download is never used).
# Installed with recommends: podman's network backend (netavark) and helpers come that way, as on the
# machines the tests were written on.
prerequisite_packages=(skopeo buildah podman golang-github-containers-common docker-registry docker.io debootstrap
  iproute2 haproxy redis-server umoci strace openssl python3 curl jq ca-certificates chromium)

# The S3 store these machines share, beside the repository (absent on a contributor's machine).
s3_start_script=../shared/tools/s3/start-s3.sh
s3_stop_script=../shared/tools/s3/stop-s3.sh
# What start-s3.sh installs when it is missing (without recommends, as it does). Listed here so that the
# one install line, and a refusal when not root, name everything.
s3_packages=(ceph-mon ceph-osd radosgw uuid-runtime)

# Azurite, Microsoft's Azure Storage emulator (the npm package azurite), serves the Blob API the Azure driver
# tests write to. Installed with npm into a cache directory outside the repository on first use (about 40 s),
# started on a free 127.0.0.1 port with its data in memory, stopped at the end. npm itself comes from Debian
# (nodejs, npm) when missing. AZURITE_BLOB_ENDPOINT (http://127.0.0.1:PORT/devstoreaccount1) names a running
# one instead.
azurite_cache="${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/berth-test/azurite"
azurite_program="$azurite_cache/node_modules/.bin/azurite-blob"
azurite_packages=(nodejs npm)

prerequisites_created_policy=""
prerequisites_s3_started=""
prerequisites_azurite_pid=""

# Exit status 0 when the Debian package is installed.
prerequisites_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

# Whether this run starts the shared S3 store (rather than using S3_ENDPOINT); fails when it can do neither.
prerequisites_s3_check() {
  [ -n "${S3_ENDPOINT:-}" ] && return 0
  [ -f "$s3_start_script" ] && return 0
  echo "no S3 store for the S3 tests: set S3_ENDPOINT, S3_ACCESS_KEY and S3_SECRET_KEY (S3_BUCKET, S3_REGION optional)" \
    "to a running S3-compatible store, or run scripts/test.sh --fast"
  return 1
}

# Installs the missing packages when root (one line names them; apt's output is shown only on failure).
# Not root: one line names them and the command that installs them.
prerequisites_install() {
  if ! command -v dpkg-query >/dev/null; then
    echo "not a Debian or Ubuntu machine, packages not checked; the end-to-end tests drive:" \
      "${prerequisite_packages[*]}"
    return 0
  fi
  local package missing=() missing_s3=()
  for package in "${prerequisite_packages[@]}"; do
    prerequisites_installed "$package" || missing+=("$package")
  done
  if [ -z "${S3_ENDPOINT:-}" ]; then
    for package in "${s3_packages[@]}"; do
      prerequisites_installed "$package" || missing_s3+=("$package")
    done
  fi
  # Node and npm installed some other way (nodesource, nvm) serve as well as Debian's.
  if [ -z "${AZURITE_BLOB_ENDPOINT:-}" ] && [ ! -x "$azurite_program" ] && ! command -v npm >/dev/null; then
    for package in "${azurite_packages[@]}"; do
      prerequisites_installed "$package" || missing+=("$package")
    done
  fi
  local all=("${missing[@]}" "${missing_s3[@]}")
  [ ${#all[@]} -eq 0 ] && return 0

  if [ "$(id -u)" -ne 0 ]; then
    echo "missing: ${all[*]}; install them with: sudo scripts/test.sh (or run scripts/test.sh --fast, which needs none)"
    return 1
  fi

  echo "installing: ${all[*]}"
  # docker-registry's package starts a registry on :5000 when allowed to; the tests start their own.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    prerequisites_created_policy=yes
  fi
  local apt_log status=0
  apt_log=$(mktemp)
  (
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq &&
      if [ ${#missing[@]} -gt 0 ]; then apt-get install -y -qq "${missing[@]}"; fi &&
      if [ ${#missing_s3[@]} -gt 0 ]; then apt-get install -y -qq --no-install-recommends "${missing_s3[@]}"; fi
  ) </dev/null >"$apt_log" 2>&1 || status=$?
  prerequisites_remove_policy
  if [ $status -ne 0 ]; then
    cat "$apt_log"
    rm -f "$apt_log"
    echo "apt-get install failed"
    return 1
  fi
  rm -f "$apt_log"
}

# Installs Azurite with npm into its cache directory unless AZURITE_BLOB_ENDPOINT names one or it is there.
# Needs no root: the cache is the user's.
prerequisites_azurite_install() {
  [ -n "${AZURITE_BLOB_ENDPOINT:-}" ] && return 0
  [ -x "$azurite_program" ] && return 0
  if ! command -v npm >/dev/null; then
    echo "no npm to install Azurite with: install nodejs and npm (sudo scripts/test.sh does), or set AZURITE_BLOB_ENDPOINT" \
      "to a running azurite-blob, or run scripts/test.sh --fast"
    return 1
  fi
  echo "installing Azurite (npm package azurite) into $azurite_cache"
  local npm_log
  npm_log=$(mktemp)
  mkdir -p "$azurite_cache"
  if ! npm install --prefix "$azurite_cache" --no-audit --no-fund --loglevel=error azurite </dev/null >"$npm_log" 2>&1 ||
    [ ! -x "$azurite_program" ]; then
    cat "$npm_log"
    rm -f "$npm_log"
    echo "npm install azurite failed"
    return 1
  fi
  rm -f "$npm_log"
}

# Uses AZURITE_BLOB_ENDPOINT when set; otherwise starts azurite-blob on a free 127.0.0.1 port, in memory,
# and exports AZURITE_BLOB_ENDPOINT for the tests. Only the process started here is stopped at the end.
prerequisites_azurite_start() {
  if [ -n "${AZURITE_BLOB_ENDPOINT:-}" ]; then
    echo "Azure Blob service: $AZURITE_BLOB_ENDPOINT (AZURITE_BLOB_ENDPOINT)"
    return 0
  fi
  local port log
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
  log="${TMPDIR:-/tmp}/berth-test-azurite.log"
  "$azurite_program" --blobHost 127.0.0.1 --blobPort "$port" --inMemoryPersistence --skipApiVersionCheck --loose \
    --disableTelemetry </dev/null >"$log" 2>&1 &
  prerequisites_azurite_pid=$!
  local waited=0
  # Any HTTP answer (403 to an unsigned request) means it listens.
  until curl -s -o /dev/null "http://127.0.0.1:$port/devstoreaccount1?comp=list"; do
    if ! kill -0 "$prerequisites_azurite_pid" 2>/dev/null || [ $waited -ge 60 ]; then
      cat "$log"
      echo "azurite-blob did not start"
      return 1
    fi
    sleep 0.5
    waited=$((waited + 1))
  done
  export AZURITE_BLOB_ENDPOINT="http://127.0.0.1:$port/devstoreaccount1"
  echo "Azure Blob service: $AZURITE_BLOB_ENDPOINT (Azurite, in memory, stopped at the end)"
}

prerequisites_remove_policy() {
  [ -z "$prerequisites_created_policy" ] || rm -f /usr/sbin/policy-rc.d
  prerequisites_created_policy=""
}

# Uses S3_ENDPOINT when set; otherwise starts the shared store (Ceph RGW, RAM-backed) and exports its
# s3.env. Its data directory is this script's own: a store someone started by hand is never touched.
prerequisites_s3_start() {
  if [ -n "${S3_ENDPOINT:-}" ]; then
    echo "S3 store: $S3_ENDPOINT (S3_ENDPOINT)"
    return 0
  fi
  export S3_DATA="${TMPDIR:-/tmp}/berth-test-s3" S3_OBJECTSTORE=memstore
  local start_log
  start_log=$(mktemp)
  prerequisites_s3_started=yes
  if ! bash "$s3_start_script" </dev/null >"$start_log" 2>&1; then
    cat "$start_log"
    rm -f "$start_log"
    echo "start-s3.sh failed"
    return 1
  fi
  rm -f "$start_log"
  set -a
  # shellcheck disable=SC1091 # written by start-s3.sh
  . "$S3_DATA/s3.env"
  set +a
  echo "S3 store: $S3_ENDPOINT (Ceph RGW from start-s3.sh, stopped at the end)"
}

prerequisites_cleanup() {
  prerequisites_remove_policy
  if [ -n "$prerequisites_azurite_pid" ]; then
    kill "$prerequisites_azurite_pid" 2>/dev/null || true
    wait "$prerequisites_azurite_pid" 2>/dev/null || true
    prerequisites_azurite_pid=""
  fi
  if [ -n "$prerequisites_s3_started" ]; then
    bash "$s3_stop_script" --purge >/dev/null 2>&1 || true
    prerequisites_s3_started=""
  fi
}
