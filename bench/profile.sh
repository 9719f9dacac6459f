#!/usr/bin/env bash
# Profiles Berth under the three loads of bench/run.sh that are short of their goals, and draws each profile as a
# flame graph: manifest GET by tag (wrk), the pull of a large blob (curl, repeated), tiny-image pushes
# (berth-load push-images). For each load, dotnet-trace records the managed view (thread time, converted to
# Speedscope) and, when perf may record, perf records the CPU view of the server process with the kernel's frames
# (DOTNET_PerfMapEnabled=1 names JIT-compiled methods; DOTNET_EnableWriteXorExecute=0 keeps them at the addresses the
# map names, where the double mapping of W^X would show them as one anonymous memfd). `berth-load flame-graph` turns both into SVGs.
#
#   bench/profile.sh                       # all three, about 3 minutes with the builds
#   BENCH_PROFILES=manifest-get bench/profile.sh
#
# Output: bench/results/profiles/<load>.svg (dotnet-trace, idle waits dropped), <load>-perf.svg (perf, CPU samples
# of the server), <load>.txt (heaviest frames of both). Everything runs on 127.0.0.1; every load is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."

profiles=${BENCH_PROFILES:-"manifest-get blob-pull tiny-images"}
seconds=${BENCH_PROFILE_SECONDS:-10}
blob_mib=${BENCH_BLOB_MIB:-512}
port=${BENCH_PORT_BASE:-5590}
out_dir=${BENCH_PROFILE_OUT:-bench/results/profiles}
tools=${DOTNET_TRACE_DIR:-"${TMPDIR:-/tmp}/berth-profile-tools"}
work=$(mktemp -d "${TMPDIR:-/tmp}/berth-profile.XXXXXX")
server_pid=""
cleanup() {
  if [[ -n $server_pid ]]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
log() { printf '[profile %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [[ ! -x $tools/dotnet-trace ]]; then
  log "installing dotnet-trace into $tools"
  dotnet tool install dotnet-trace --tool-path "$tools" >/dev/null
fi
perf_ok=0
if command -v perf >/dev/null && perf record -o /dev/null -- true >/dev/null 2>&1; then perf_ok=1; fi

# BENCH_BERTH_DIR / BENCH_LOAD_DIR: prebuilt output folders (builds take minutes on a busy 2-core machine).
if [[ -n ${BENCH_BERTH_DIR:-} ]]; then cp -r "$BENCH_BERTH_DIR" "$work/berth"; else
  log "building Berth"
  dotnet build src/Berth.Server -c Release -nologo -v q >"$work/build.log" 2>&1 || { tail -20 "$work/build.log"; exit 1; }
  cp -r src/Berth.Server/bin/Release/net10.0 "$work/berth"
fi
if [[ -n ${BENCH_LOAD_DIR:-} ]]; then cp -r "$BENCH_LOAD_DIR" "$work/load"; else
  log "building the load client"
  dotnet build bench/Berth.LoadClient -c Release -nologo -v q >"$work/build-load.log" 2>&1 || { tail -20 "$work/build-load.log"; exit 1; }
  cp -r bench/Berth.LoadClient/bin/Release/net10.0 "$work/load"
fi
client() { timeout 600 dotnet "$work/load/berth-load.dll" "$@"; }
mkdir -p "$out_dir" "$work/data"
cat >"$work/berth.yml" <<YAML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
http: {addr: 127.0.0.1:$port, secret: bench-secret}
storage: {filesystem: {rootdirectory: $work/data}, delete: {enabled: true}}
YAML
(cd "$work" && DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 exec dotnet "$work/berth/berth.dll" serve "$work/berth.yml" >"$work/berth.log" 2>&1) &
server_pid=$!
for _ in $(seq 1 300); do curl -fsS --max-time 1 -o /dev/null "http://127.0.0.1:$port/v2/" 2>/dev/null && break; sleep 0.1; done
registry=http://127.0.0.1:$port

# The fill run.sh does: one image tagged (latest among them), and a large random blob pushed whole.
client populate-tags --registry "$registry" --repo bench/tags --count 10 >/dev/null
head -c $((blob_mib * 1048576)) /dev/urandom >"$work/blob"
blob_digest=$(client push-blob --registry "$registry" --repo bench/blob --file "$work/blob" --salt 1 | tr ' ' '\n' | sed -n 's/^digest=//p')
rm -f "$work/blob"

load() { # PROFILE SECONDS: runs that load for about SECONDS
  local until=$((SECONDS + $2)) salt=100
  case $1 in
    manifest-get) timeout $(($2 + 30)) wrk -t2 -c64 -d"$2s" -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
                    "$registry/v2/bench/tags/manifests/latest" >"$work/$1.load" ;;
    blob-pull) while (( SECONDS < until )); do
                 curl -sS --max-time 120 -o /dev/null -w '%{speed_download}\n' "$registry/v2/bench/blob/blobs/$blob_digest" >>"$work/$1.load"
               done ;;
    tiny-images) while (( SECONDS < until )); do
                   salt=$((salt + 1))
                   client push-images --registry "$registry" --repo bench/tiny --count 200 --concurrency 16 --salt "$salt" \
                     --tag-prefix "p$salt-" >>"$work/$1.load"
                 done ;;
  esac
}

for p in $profiles; do
  log "$p: warming up"
  load "$p" 3
  : >"$work/$p.load"
  log "$p: dotnet-trace for ${seconds}s"
  "$tools/dotnet-trace" collect -p "$server_pid" --duration "00:00:00:$(printf '%02d' "$seconds")" -o "$work/$p.nettrace" >"$work/$p.trace.log" 2>&1 &
  trace_pid=$!
  sleep 1
  load "$p" "$seconds"
  wait "$trace_pid" || true
  "$tools/dotnet-trace" convert --format Speedscope -o "$work/$p" "$work/$p.nettrace" >/dev/null
  # Thread time: drop what idle threads do (waiting for work, for a socket event, for a timer, for a file change) so what is left is
  # where requests spend their time, running or blocked in a system call.
  client flame-graph --in "$work/$p.speedscope.json" --out "$out_dir/$p.svg" --title "Berth, $p: dotnet-trace thread time (idle waits dropped)" \
    --drop 'FileSystemWatcher|LowLevelLifoSemaphore|WaitHandle\.Wait|Monitor\.Wait|SocketAsyncEngine\.EventLoop|TimerQueue|LowLevelMonitor|WaitForSignal|Thread\.Sleep|SemaphoreSlim\.Wait|PortableThreadPool\.GateThread|ManualResetEventSlim\.Wait' \
    >"$out_dir/$p.txt"
  tail -n +2 "$work/$p.load" | head -3 >>"$out_dir/$p.txt" || true
  if (( perf_ok )); then
    log "$p: perf for ${seconds}s"
    perf record -F 999 -g -p "$server_pid" -o "$work/$p.perf" -- sleep "$seconds" >/dev/null 2>&1 &
    perf_pid=$!
    load "$p" "$seconds"
    wait "$perf_pid" || true
    perf script -i "$work/$p.perf" >"$work/$p.perf.txt" 2>/dev/null
    { echo; echo "perf (CPU samples of the server process):"; } >>"$out_dir/$p.txt"
    client flame-graph --in "$work/$p.perf.txt" --out "$out_dir/$p-perf.svg" --title "Berth, $p: perf CPU samples of the server" >>"$out_dir/$p.txt"
  fi
  log "$p: done ($out_dir/$p.svg)"
done
