#!/usr/bin/env bash
# Measures that blob bodies are streamed, not buffered: pushes and pulls one large random blob
# (2 GiB by default) through Berth and through Distribution 2.8.2 on 127.0.0.1 and reports each
# server's peak RSS (VmHWM) and the throughput. A benchmark, not a test: it prints figures.
#
#   bench/streaming-memory.sh [SIZE_MIB]
set -euo pipefail
cd "$(dirname "$0")/.."

size_mib=${1:-2048}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

dotnet build src/Berth.Server -c Release -nologo -v q >/dev/null
# Run a copy: other builds rewrite bin/ in place.
cp -r src/Berth.Server/bin/Release/net10.0 "$work/berth"
berth_dll=$work/berth/berth.dll

echo "generating a ${size_mib} MiB random blob"
head -c $((size_mib * 1024 * 1024)) /dev/urandom > "$work/blob"
digest="sha256:$(sha256sum "$work/blob" | cut -d' ' -f1)"

write_config() { # name port
  mkdir -p "$work/$1-data"
  cat > "$work/$1.yml" <<YAML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
http: {addr: 127.0.0.1:$2, secret: bench}
storage: {filesystem: {rootdirectory: $work/$1-data}, delete: {enabled: true}}
YAML
}

wait_ready() { # port
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$1/v2/" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "server on port $1 did not start" >&2
  return 1
}

measure() { # name port
  local name=$1 port=$2 pid=$3 base="http://127.0.0.1:$2/v2/bench/blob"
  local location start end push_mbs pull_mbs
  location=$(curl -fsS -X POST -D - -o /dev/null "$base/blobs/uploads/" | tr -d '\r' | awk -F': ' 'tolower($1)=="location"{print $2}')
  case "$location" in http*) ;; *) location="http://127.0.0.1:$port$location" ;; esac
  case "$location" in *\?*) sep='&' ;; *) sep='?' ;; esac
  start=$(date +%s.%N)
  curl -fsS -X PUT -H 'Content-Type: application/octet-stream' -T "$work/blob" "${location}${sep}digest=$digest" -o /dev/null
  end=$(date +%s.%N)
  push_mbs=$(echo "$size_mib * 1.048576 / ($end - $start)" | bc -l)
  start=$(date +%s.%N)
  curl -fsS "$base/blobs/$digest" -o "$work/pulled"
  end=$(date +%s.%N)
  pull_mbs=$(echo "$size_mib * 1.048576 / ($end - $start)" | bc -l)
  cmp -s "$work/blob" "$work/pulled" || { echo "$name: pulled blob differs" >&2; exit 1; }
  rm -f "$work/pulled"
  local peak_kib
  peak_kib=$(awk '/VmHWM/{print $2}' "/proc/$pid/status")
  printf '%-14s push %8.1f MB/s   pull %8.1f MB/s   peak RSS %6.1f MiB\n' "$name" "$push_mbs" "$pull_mbs" "$(echo "$peak_kib / 1024" | bc -l)"
}

write_config berth 5301
dotnet "$berth_dll" serve "$work/berth.yml" >"$work/berth.log" 2>&1 &
berth_pid=$!
wait_ready 5301
measure berth 5301 "$berth_pid"
kill "$berth_pid"

if command -v docker-registry >/dev/null; then
  write_config distribution 5302
  env -u AWS_CA_BUNDLE docker-registry serve "$work/distribution.yml" >"$work/distribution.log" 2>&1 &
  dist_pid=$!
  wait_ready 5302
  measure distribution 5302 "$dist_pid"
  kill "$dist_pid"
else
  echo "docker-registry (Distribution) is not installed; apt-get install docker-registry to compare"
fi
