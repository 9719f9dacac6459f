# shellcheck shell=bash
# Sourced by scripts/test.sh (from the repository root) before a full run: the Debian packages the
# end-to-end tests drive, and the S3-compatible store the S3 tests write to. Each function prints what
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

prerequisites_created_policy=""
prerequisites_s3_started=""

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
  if [ -n "$prerequisites_s3_started" ]; then
    bash "$s3_stop_script" --purge >/dev/null 2>&1 || true
    prerequisites_s3_started=""
  fi
}
