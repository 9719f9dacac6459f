#!/usr/bin/env bash
# Berth over Azure Blob Storage (Azurite on 127.0.0.1, in memory) beside the Azure SDK on the same service: push and
# pull MB/s of one blob (1 GiB by default) through Berth, and the same bytes uploaded and downloaded directly with the
# SDK, the store's own ceiling on this machine. Each round takes every figure once; the report holds the medians and
# every round's figure.
#
#   bench/azure.sh                                   # 3 rounds, 1 GiB
#   BENCH_ROUNDS=1 BENCH_BLOB_MIB=64 bench/azure.sh  # smoke
#   AZURITE_BLOB_ENDPOINT=http://127.0.0.1:10000/devstoreaccount1 bench/azure.sh   # a running Azurite instead
#
# Berth figures:  push_put     POST, then one PUT with the body (staged blocks under the blob's final name, no copy)
#                 push_patch   POST, one PATCH with the body, empty PUT (Docker's way: upload data, then a server-side copy)
#                 pull         GET through Berth with storage.redirect.disable (bytes through the registry)
#                 pull_sas     GET with redirects on, followed to the SAS URL (bytes straight from the service)
# SDK figures:    sdk_put      BlockBlobClient upload, 8 MiB blocks one after another (how one Berth writer stages)
#                 sdk_put_par  the same with 4 blocks in flight (the SDK's parallel upload)
#                 sdk_get      one streamed GET of the whole blob (how Berth reads a blob it serves)
# Writes the report to stdout and bench/results/azure-latest.md (raw rows: azure-latest.tsv). Everything it started is
# stopped and its container deleted on exit.
set -euo pipefail
repo_root=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo_root"
# shellcheck source=SCRIPTDIR/lib.sh
. bench/lib.sh
# The test command's Azurite installer and launcher (npm package into a cache directory, a free port, in memory).
# shellcheck source=SCRIPTDIR/../scripts/test-prerequisites.sh
. scripts/test-prerequisites.sh

rounds=${BENCH_ROUNDS:-3}
blob_mib=${BENCH_BLOB_MIB:-1024}
port_base=${BENCH_PORT_BASE:-5690}
out=${BENCH_OUT:-bench/results/azure-latest.md}
tmp_root=${BENCH_TMPDIR:-${TMPDIR:-/tmp}}
client_timeout=900

require_whole_numbers rounds blob_mib port_base
(( rounds >= 1 && blob_mib >= 1 )) || { echo "bench: rounds and blob size must be >= 1" >&2; exit 2; }
require_tools "apt-get install curl python3" curl python3 dotnet git
berth_port=$port_base sas_port=$((port_base + 1))
require_free_ports "$berth_port" "$sas_port"

start_run azurebench "$tmp_root/berth-azurebench"
container="bench-$(date -u +%Y%m%d%H%M%S)-$RANDOM"
stop_store() { # an Azurite started here is already stopped (it is one of $pids), and its memory with it
  if [[ -z $prerequisites_azurite_pid && -n ${AZURITE_BLOB_ENDPOINT:-} && -f $work/load/berth-load.dll ]]; then
    client azure-delete --service-url "$AZURITE_BLOB_ENDPOINT" --container "$container" --container-too true >/dev/null || true
  fi
}
cleanup_also=stop_store
cleanup_also_words="stopping Azurite if started here, deleting container $container otherwise, "
clean_up_on_exit

build_berth_working_tree
build_load_client
prerequisites_azurite_install >&2 || exit 1
prerequisites_azurite_start >&2 || exit 1
# Stopped with the servers: lib.sh's clean-up waits for every child of this shell once it has signalled them.
if [[ -n $prerequisites_azurite_pid ]]; then pids+=("$prerequisites_azurite_pid"); fi
service=$AZURITE_BLOB_ENDPOINT

log "generating a $blob_mib MiB random file"
blob=$work/blob
head -c $(( blob_mib * 1024 * 1024 )) /dev/urandom >"$blob"
blob_bytes=$(( blob_mib * 1024 * 1024 ))

# --- two Berths over one container: redirects off (bytes through Berth) and on (SAS) -------------------
berth_config() { # name port redirect_disable
  cat >"$work/$1.yml" <<YAML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
http: {addr: 127.0.0.1:$2, secret: bench-secret}
storage:
  azure:
    accountname: devstoreaccount1
    container: $container
    serviceurl: $service
  delete: {enabled: true}
  redirect: {disable: $3}
  maintenance: {uploadpurging: {enabled: false}}
YAML
}
berth_config berth "$berth_port" true
berth_config sas "$sas_port" false
# The key goes to the servers through the environment, not the files: Azurite's published development key.
export REGISTRY_STORAGE_AZURE_ACCOUNTKEY="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
dotnet "$berth_dir/berth.dll" serve "$work/berth.yml" >"$work/berth.log" 2>&1 &
berth_pid=$!; pids+=("$berth_pid")
wait_ready "http://127.0.0.1:$berth_port/v2/" || { tail -20 "$work/berth.log" >&2; exit 1; }
dotnet "$berth_dir/berth.dll" serve "$work/sas.yml" >"$work/sas.log" 2>&1 &
sas_pid=$!; pids+=("$sas_pid")
wait_ready "http://127.0.0.1:$sas_port/v2/" || { tail -20 "$work/sas.log" >&2; exit 1; }
unset REGISTRY_STORAGE_AZURE_ACCOUNTKEY
berth=http://127.0.0.1:$berth_port sas=http://127.0.0.1:$sas_port
log "Berth :$berth_port (redirects off, pid $berth_pid) and :$sas_port (SAS redirects, pid $sas_pid) over $service, container $container"

record_machine_facts bench/azure.sh
meta storage "Azurite $("$azurite_program" --version 2>/dev/null || echo '?') (npm), in memory, on 127.0.0.1; container $container"
meta berth_commit "$berth_desc"
meta parameters "rounds=$rounds blob=${blob_mib}MiB; Berth block size 8 MiB (two in flight per writer); SDK blocks 8 MiB"

mbps_of() { awk -v b="$1" -v t="$2" 'BEGIN{ if (t > 0) printf "%.1f", b / t / 1e6 }'; }
curl_pull() { # subject round url [extra curl args]
  local line code size secs
  line=$(curl -sS --max-time 900 "${@:4}" -o /dev/null -w '%{http_code} %{size_download} %{time_total}' "$3") ||
    { note "$1" "pull round $2: curl failed"; return 0; }
  read -r code size secs <<<"$line"
  if [[ $code != 200 || $size != "$blob_bytes" ]]; then note "$1" "round $2: HTTP $code, $size bytes (want 200, $blob_bytes)"; return 0; fi
  record "$1" mbps "$2" "$(mbps_of "$size" "$secs")"
}

# One figure from one client run; a failure is a note in the report (the first lines of the error), not the end of the run.
measure() { # figure round client-arguments...
  local figure=$1 round=$2 line
  shift 2
  if line=$(client "$@"); then record "$figure" mbps "$round" "$(kv mbps <<<"$line")"
  else note "$figure" "round $round failed: $(head -c 300 "$work/client.err" | tr '\n\t' '  ')"; fi
}

salt=0
for round in $(seq 1 "$rounds"); do
  log "round $round/$rounds"
  salt=$((salt + 1))
  digest=""
  if line=$(client push-blob --registry "$berth" --repo bench/blob --file "$blob" --chunk-bytes 0 --salt "$salt" --timeout 800); then
    record push_put mbps "$round" "$(kv mbps <<<"$line")"
    digest=$(kv digest <<<"$line")
  else
    note push_put "round $round failed: $(client_err)"
  fi

  salt=$((salt + 1))
  measure push_patch "$round" push-blob --registry "$berth" --repo bench/blob --file "$blob" --chunk-bytes "$blob_bytes" --salt "$salt" --timeout 800

  if [[ -n $digest ]]; then
    curl_pull pull "$round" "$berth/v2/bench/blob/blobs/$digest"
    curl_pull pull_sas "$round" "$sas/v2/bench/blob/blobs/$digest" -L
  fi
  if (( round == 1 )) && [[ -n $digest ]]; then
    got=$(curl -fsS --max-time 900 "$berth/v2/bench/blob/blobs/$digest" | sha256sum | cut -d' ' -f1)
    [[ "sha256:$got" == "$digest" ]] || note pull "VERIFY FAILED: $digest pulled back as sha256:$got"
    log "  round 1's blob pulled back and checked (untimed)"
  fi

  salt=$((salt + 1))
  measure sdk_put "$round" azure-put --service-url "$service" --container "$container" --blob "sdk/$round" --file "$blob" --salt "$salt" --concurrency 1
  measure sdk_get "$round" azure-get --service-url "$service" --container "$container" --blob "sdk/$round"
  salt=$((salt + 1))
  measure sdk_put_par "$round" azure-put --service-url "$service" --container "$container" --blob "sdk/$round-par" --file "$blob" --salt "$salt" --concurrency 4

  # Azurite keeps everything in memory: the round's blobs go before the next round.
  client azure-delete --service-url "$service" --container "$container" --prefix "docker/registry/v2/blobs/" >/dev/null || true
  client azure-delete --service-url "$service" --container "$container" --prefix "sdk/" >/dev/null || true
done

ticks=$(getconf CLK_TCK)
for s in berth sas; do
  p=${s}_pid
  record "$s" cpu_s 0 "$(sed 's/^.*) //' "/proc/${!p}/stat" | awk -v t="$ticks" '{printf "%.1f", ($12 + $13) / t}')"
  record "$s" rss_mib 0 "$(awk '/^VmHWM/{printf "%.1f", $2 / 1024}' "/proc/${!p}/status")"
done
meta load_after "$(cut -d' ' -f1-3 /proc/loadavg)"
meta duration_total "$(( $(date +%s) - started )) s"

mkdir -p "$(dirname "$out")"
cp "$results" "${out%.md}.tsv"
python3 - "$results" "$out" "$blob_mib" <<'PY'
import statistics, sys
rows, meta, notes = {}, {}, []
for line in open(sys.argv[1]):
    f = line.rstrip("\n").split("\t")
    if f[0] == "meta": meta[f[1]] = f[2]
    elif f[0] == "note": notes.append(f"{f[1]}: {f[2]}")
    else: rows.setdefault((f[0], f[1]), []).append(float(f[3]))
def med(s, k="mbps"): v = rows.get((s, k)); return f"{statistics.median(v):,.0f}" if v else "–"
def each(s, k="mbps"): return ", ".join(f"{x:,.0f}" for x in rows.get((s, k), [])) or "–"
blob = f"{int(sys.argv[3]) // 1024} GiB" if int(sys.argv[3]) % 1024 == 0 else f"{sys.argv[3]} MiB"
md = [f"# Berth on Azure Blob Storage (Azurite) beside the Azure SDK: a {blob} blob", ""]
for k in ("date", "command", "machine", "cores", "kernel", "storage", "parameters", "berth_commit", "load_before", "load_after", "duration_total"):
    if k in meta: md.append(f"- {k}: {meta[k]}")
md += ["", "Medians of the rounds (MB/s, 10^6 bytes per second); every round's figure beside them.", "",
       "| operation | through Berth | directly with the Azure SDK |", "| --- | --- | --- |",
       f"| push | {med('push_put')} (POST + PUT with the body; rounds: {each('push_put')}) | {med('sdk_put')} (8 MiB blocks one at a time; rounds: {each('sdk_put')}) |",
       f"| push, Docker's way | {med('push_patch')} (POST, one PATCH, PUT: upload data then a server-side copy; rounds: {each('push_patch')}) | {med('sdk_put_par')} (8 MiB blocks, 4 in flight; rounds: {each('sdk_put_par')}) |",
       f"| pull | {med('pull')} (redirects off: bytes through Berth; rounds: {each('pull')}) | {med('sdk_get')} (one streamed GET; rounds: {each('sdk_get')}) |",
       f"| pull, redirected | {med('pull_sas')} (307 to a SAS URL, followed: bytes from the service; rounds: {each('pull_sas')}) | |",
       "", "| Berth process | CPU seconds (whole run) | peak RSS MiB |", "| --- | --- | --- |",
       f"| redirects off (pushes, pulls) | {med('berth', 'cpu_s')} | {med('berth', 'rss_mib')} |",
       f"| SAS redirects (redirected pulls) | {med('sas', 'cpu_s')} | {med('sas', 'rss_mib')} |"]
if notes: md += ["", "Notes:", ""] + [f"- {n}" for n in notes]
text = "\n".join(md) + "\n"
open(sys.argv[2], "w").write(text)
print(text)
PY
log "report written to $out"
