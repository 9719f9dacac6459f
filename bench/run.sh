#!/usr/bin/env bash
# Berth against Distribution 2.8.2 (Debian's docker-registry) on this machine, side by side on
# 127.0.0.1 with equivalent settings, plus the machine's own ceilings measured in the same run.
# Every figure is taken for both servers in each round, the order alternating between rounds;
# the report holds the medians. See bench/README.md for what each figure means.
#
#   bench/run.sh                                                 # full: 3 rounds, 1 GiB blob, 10 s loads (~12-15 min)
#   BENCH_BLOB_MIB=64 BENCH_ROUNDS=1 BENCH_DURATION=3 bench/run.sh  # smoke (~3 min)
#
# Writes the report to stdout and bench/results/latest.md (raw figures: latest.tsv).
set -euo pipefail
repo_root=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo_root"
# shellcheck source=SCRIPTDIR/lib.sh
. bench/lib.sh

rounds=${BENCH_ROUNDS:-3}
blob_mib=${BENCH_BLOB_MIB:-1024}
if [[ -n ${BENCH_CHUNK_MIB:-} ]]; then chunk_mib=$BENCH_CHUNK_MIB
elif (( blob_mib >= 256 )); then chunk_mib=64
else chunk_mib=$(( blob_mib / 4 > 0 ? blob_mib / 4 : 1 )); fi   # a small blob still goes in several chunks
range_mib=${BENCH_RANGE_MIB:-$(( blob_mib / 2 ))}
duration=${BENCH_DURATION:-10}
warmup=${BENCH_WARMUP:-1}
connections=${BENCH_CONNECTIONS:-64}
threads=${BENCH_THREADS:-2}
images=${BENCH_IMAGES:-500}
pushers=${BENCH_PUSHERS:-16}
tags=${BENCH_TAGS:-5000}
page=${BENCH_PAGE:-100}
repos=${BENCH_REPOS:-1000}
catalog_n=${BENCH_CATALOG_N:-1000}
list_repeat=${BENCH_LIST_REPEAT:-10}
list_max_seconds=60
port_base=${BENCH_PORT_BASE:-5480}
verify=${BENCH_VERIFY:-1}
out=${BENCH_OUT:-bench/results/latest.md}
tmp_root=${BENCH_TMPDIR:-${TMPDIR:-/tmp}}

require_whole_numbers rounds blob_mib chunk_mib range_mib duration warmup connections threads images pushers tags page repos catalog_n list_repeat port_base
(( rounds >= 1 && blob_mib >= 1 && chunk_mib >= 1 && range_mib >= 1 && range_mib <= blob_mib && duration >= 1 )) ||
  { echo "bench: need rounds, blob, chunk, range (<= blob) and duration >= 1" >&2; exit 2; }
require_tools "apt-get install wrk nginx-light docker-registry curl openssl" curl wrk nginx openssl docker-registry dotnet git

berth_port=$port_base dist_port=$((port_base + 1)) nginx_port=$((port_base + 2)) sink_port=$((port_base + 3)) kestrel_port=$((port_base + 4))
require_free_ports "$berth_port" "$dist_port" "$nginx_port" "$sink_port" "$kestrel_port"

start_run bench "$tmp_root/berth-bench"
chmod 755 "$work"   # nginx workers run as nobody and must reach www/
clean_up_on_exit

# --- build -------------------------------------------------------------------------------
if [[ -n ${BENCH_BERTH_DIR:-} ]]; then
  use_prebuilt_berth "$BENCH_BERTH_DIR"
elif [[ -n ${BENCH_BERTH_REF:-} ]]; then
  # Build a commit in isolation: others' edits in the working tree do not leak in.
  log "building Berth at $BENCH_BERTH_REF (git archive)"
  mkdir -p "$work/src"
  git archive "$BENCH_BERTH_REF" | tar -x -C "$work/src"
  timeout 900 dotnet build "$work/src/src/Berth.Server" -c Release -nologo -v q >"$work/build.log" 2>&1 ||
    { tail -20 "$work/build.log" >&2; exit 1; }
  cp -r "$work/src/src/Berth.Server/bin/Release/net10.0" "$berth_dir"
  rm -rf "$work/src"
  berth_desc="$(git rev-parse --short "$BENCH_BERTH_REF") ($BENCH_BERTH_REF)"
else
  build_berth_working_tree "the working tree does not build; try BENCH_BERTH_REF=HEAD"
fi
build_load_client

# --- data ----------------------------------------------------------------------------------
blob=$work/www/blob
mkdir -p "$work/www" "$work/sink" "$work/nginx/tmp"
log "generating a $blob_mib MiB random file"
head -c $(( blob_mib * 1024 * 1024 )) /dev/urandom >"$blob"
head -c 1024 /dev/urandom >"$work/www/small"
chmod 644 "$blob" "$work/www/small"
timeout 300 sync "$blob" || true   # its writeback must not compete with the first pushes
blob_bytes=$(( blob_mib * 1024 * 1024 ))
range_start=$(( blob_bytes / 4 )); (( range_start + range_mib * 1048576 <= blob_bytes )) || range_start=0
range_end=$(( range_start + range_mib * 1048576 - 1 ))

# --- servers -------------------------------------------------------------------------------
registry_config() { # name port
  mkdir -p "$work/$1-data"
  cat >"$work/$1.yml" <<YAML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
http: {addr: 127.0.0.1:$2, secret: bench-secret}
storage: {filesystem: {rootdirectory: $work/$1-data}, delete: {enabled: true}}
YAML
}

registry_config berth "$berth_port"
registry_config distribution "$dist_port"
start_registries

cat >"$work/nginx/nginx.conf" <<NGINX
daemon off;
worker_processes 2;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log error;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 10000000;
  keepalive_timeout 120s;
  default_type application/octet-stream;
  client_body_temp_path $work/nginx/tmp/body;
  proxy_temp_path $work/nginx/tmp/proxy;
  fastcgi_temp_path $work/nginx/tmp/fastcgi;
  uwsgi_temp_path $work/nginx/tmp/uwsgi;
  scgi_temp_path $work/nginx/tmp/scgi;
  server { listen 127.0.0.1:$nginx_port; root $work/www; }
}
NGINX
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" >"$work/nginx/stdout.log" 2>&1 &
pids+=("$!")
dotnet "$work/load/berth-load.dll" sink --listen "127.0.0.1:$sink_port" --dir "$work/sink" --max-seconds 3600 >"$work/sink.log" 2>&1 &
pids+=("$!")
# The framework's ceiling for a small GET, with Berth's runtime settings rather than the load client's.
DOTNET_gcServer=1 DOTNET_gcConcurrent=1 DOTNET_TieredCompilation=1 \
  dotnet "$work/load/berth-load.dll" static-file --listen "127.0.0.1:$kestrel_port" --file "$work/www/small" --max-seconds 3600 >"$work/kestrel.log" 2>&1 &
pids+=("$!")

declare -A root=([berth]="$work/berth-data" [distribution]="$work/distribution-data")
nginx_url="http://127.0.0.1:$nginx_port"
sink_url="http://127.0.0.1:$sink_port"
kestrel_url="http://127.0.0.1:$kestrel_port"
for u in "${url[berth]}/v2/" "${url[distribution]}/v2/" "$nginx_url/small" "$sink_url/" "$kestrel_url/small"; do wait_ready "$u"; done
log "servers up: berth :$berth_port (pid $berth_pid), distribution :$dist_port (pid $dist_pid), nginx :$nginx_port, sink :$sink_port, bare kestrel :$kestrel_port"

# --- metadata ------------------------------------------------------------------------------
meta date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
meta command "$(env | grep -E '^BENCH_' | sort | tr '\n' ' ')bench/run.sh"
meta machine "$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo), $(free -g | awk '/^Mem:/{print $2}') GiB RAM, $(df -h "$work" | awk 'NR==2{print $1}') for data"
meta cores "$(nproc)"
meta kernel "$(uname -r)"
meta berth_commit "$berth_desc"
meta distribution_version "$(docker-registry --version | awk '{print $3}')"
meta load_before "$(cut -d' ' -f1-3 /proc/loadavg)"
meta parameters "rounds=$rounds blob=${blob_mib}MiB chunk=${chunk_mib}MiB range=${range_mib}MiB@$range_start duration=${duration}s warmup=${warmup}s connections=$connections threads=$threads images=$images pushers=$pushers tags=$tags page=$page repos=$repos"
for k in rounds blob_mib chunk_mib range_mib connections threads images pushers tags page repos catalog_n; do meta "$k" "${!k}"; done

# --- fill each registry: one small image tagged $tags times, $repos repositories ----------
declare -A layer
for s in berth distribution; do
  log "$s: populating $tags tags and $repos repositories"
  line=$(client populate-tags --registry "${url[$s]}" --repo bench/tags --count "$tags" --concurrency "$pushers") ||
    { echo "bench: $s: populate-tags failed: $(client_err)" >&2; exit 1; }
  layer[$s]=$(kv layer <<<"$line")
  record "$s" populate_tags_s 0 "$(kv seconds <<<"$line")"
  line=$(client populate-repos --registry "${url[$s]}" --prefix cat/r --from bench/tags --count "$repos" --concurrency "$pushers") ||
    { echo "bench: $s: populate-repos failed: $(client_err)" >&2; exit 1; }
  record "$s" populate_repos_s 0 "$(kv seconds <<<"$line")"
done

# --- measurements --------------------------------------------------------------------------
oci_accept='Accept: application/vnd.oci.image.manifest.v1+json'
salt=0

push() { # subject round figure chunk_bytes -> sets last_digest
  salt=$((salt + 1))
  local line
  timeout 120 sync -f "$work" || true   # untimed: every push starts with nothing dirty on the filesystem
  if line=$(client push-blob --registry "${url[$1]}" --repo bench/blob --file "$blob" --chunk-bytes "$4" --salt "$salt" --timeout 600); then
    record "$1" "$3" "$2" "$(kv mbps <<<"$line")"
    last_digest=$(kv digest <<<"$line")
  else
    note "$1" "$3 round $2 failed: $(client_err)"; last_digest=""
  fi
}
sink_push() { # mode (uses $round)
  salt=$((salt + 1))
  local line
  timeout 120 sync -f "$work" || true
  if line=$(client push-raw --url "$sink_url/$1" --file "$blob" --salt "$salt" --timeout 600); then
    record ceiling "sink_${1}_mbps" "$round" "$(kv mbps <<<"$line")"
  else note ceiling "sink $1 round $round failed: $(client_err)"; fi
}
pull() { # subject round figure url [range]
  local args=(-sS --max-time 600 -o /dev/null -w '%{http_code} %{size_download} %{time_total}') line want=200 bytes=$blob_bytes code size secs
  if [[ -n ${5:-} ]]; then args+=(-H "Range: bytes=$5"); want=206; bytes=$(( range_end - range_start + 1 )); fi
  line=$(curl "${args[@]}" "$4") || { note "$1" "$3 round $2: curl failed"; return 0; }
  read -r code size secs <<<"$line"
  if [[ $code != "$want" || $size != "$bytes" ]]; then note "$1" "$3 round $2: HTTP $code, $size bytes (want $want, $bytes)"; return 0; fi
  record "$1" "$3" "$2" "$(awk -v b="$size" -v t="$secs" 'BEGIN{printf "%.1f", b / t / 1e6}')"
}
to_ms() { awk '{ v = $1; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 } printf "%.3f", v }'; }
wrk_run() { # subject round figure url [header]
  local args=(-t"$threads" -c"$connections" --timeout 10s --latency) text
  if [[ -n ${5:-} ]]; then args+=(-H "$5"); fi
  if (( warmup > 0 )); then timeout $((warmup + 30)) wrk "${args[@]}" -d"${warmup}s" "$4" >/dev/null 2>&1 || true; fi
  text=$(timeout $((duration + 30)) wrk "${args[@]}" -d"${duration}s" "$4") || { note "$1" "$3 round $2: wrk failed"; return 0; }
  local bad; bad=$(awk '/Non-2xx or 3xx responses:/{print $NF} /Socket errors:/{print "socket errors:" $0}' <<<"$text")
  [[ -z $bad ]] || note "$1" "$3 round $2: $bad"
  record "$1" "${3}_rps" "$2" "$(awk '/^Requests\/sec:/{print $2}' <<<"$text")"
  record "$1" "${3}_p99" "$2" "$(awk '$1 == "99%" {print $2}' <<<"$text" | to_ms)"
}
cs_run() { # subject round figure url method [header]
  local args=(--url "$4" --method "$5" --connections "$connections" --duration "$duration" --warmup "$warmup") line
  if [[ -n ${6:-} ]]; then args+=(--header "$6"); fi
  line=$(client load "${args[@]}") || note "$1" "$3 round $2: $(kv errors <<<"$line") errors, first $(kv first_error <<<"$line") $(client_err)"
  record "$1" "${3}_rps" "$2" "$(kv rps <<<"$line")"
  record "$1" "${3}_p99" "$2" "$(kv p99_ms <<<"$line")"
}
drop_blob() { # subject digest: free the disk between rounds (every push is of new content anyway)
  local hex=${2#sha256:}
  if [[ -n $hex ]]; then rm -rf "${root[$1]}/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex"; fi
}

for round in $(seq 1 "$rounds"); do
  begin_round "$round"

  log "  SHA-256 ceiling (openssl speed)"
  line=$(timeout 60 openssl speed -evp sha256 -bytes 16384 -seconds 3 -mr 2>/dev/null | awk -F: '/^\+F:/{print $NF}')
  record ceiling sha256_openssl_mbps "$round" "$(awk -v v="$line" 'BEGIN{ if (v != "") printf "%.1f", v / 1e6 }')"

  log "  push ${blob_mib} MiB monolithic / chunked (${chunk_mib} MiB), sink ceilings"
  declare -A pushed=()
  # The full sink is measured after each kind of push, under the same conditions.
  for s in "${order[@]}"; do push "$s" "$round" push_mono_mbps 0; pushed[$s-mono]=$last_digest; done
  sink_push full
  for s in "${order[@]}"; do push "$s" "$round" push_chunked_mbps $(( chunk_mib * 1048576 )); pushed[$s-chunked]=$last_digest; done
  sink_push full
  for mode in serial hash discard; do sink_push "$mode"; done

  log "  pull whole / range"
  for s in "${order[@]}"; do
    if [[ -n ${pushed[$s-mono]} ]]; then pull "$s" "$round" pull_whole_mbps "${url[$s]}/v2/bench/blob/blobs/${pushed[$s-mono]}"; fi
  done
  pull ceiling "$round" nginx_pull_mbps "$nginx_url/blob"
  for s in "${order[@]}"; do
    if [[ -n ${pushed[$s-mono]} ]]; then pull "$s" "$round" pull_range_mbps "${url[$s]}/v2/bench/blob/blobs/${pushed[$s-mono]}" "$range_start-$range_end"; fi
  done
  pull ceiling "$round" nginx_range_mbps "$nginx_url/blob" "$range_start-$range_end"

  if (( verify && round == 1 )); then
    log "  verifying pulled content (untimed)"
    verified=0
    for s in "${order[@]}"; do
      for kind in mono chunked; do
        d=${pushed[$s-$kind]}; [[ -n $d ]] || continue
        got=$(curl -fsS --max-time 600 "${url[$s]}/v2/bench/blob/blobs/$d" | openssl dgst -sha256 -r | cut -d' ' -f1)
        if [[ "sha256:$got" == "$d" ]]; then verified=$((verified + 1))
        else note "$s" "VERIFY FAILED: $kind push $d pulled back as sha256:$got"; fi
      done
    done
    log "  $verified of 4 pushed blobs pulled back intact"
  fi
  for s in "${order[@]}"; do drop_blob "$s" "${pushed[$s-mono]}"; drop_blob "$s" "${pushed[$s-chunked]}"; done

  log "  manifest GET / small blob GET (wrk), nginx and bare Kestrel GET ceilings"
  for s in "${order[@]}"; do wrk_run "$s" "$round" manifest_get "${url[$s]}/v2/bench/tags/manifests/latest" "$oci_accept"; done
  wrk_run ceiling "$round" nginx_get "$nginx_url/small"
  wrk_run ceiling "$round" kestrel_get "$kestrel_url/small"
  for s in "${order[@]}"; do wrk_run "$s" "$round" blob_get "${url[$s]}/v2/bench/tags/blobs/${layer[$s]}"; done

  log "  manifest HEAD / blob HEAD (C# client), nginx HEAD and GET with the same client"
  for s in "${order[@]}"; do cs_run "$s" "$round" manifest_head "${url[$s]}/v2/bench/tags/manifests/latest" HEAD "$oci_accept"; done
  cs_run ceiling "$round" nginx_head "$nginx_url/small" HEAD
  cs_run ceiling "$round" nginx_get_cs "$nginx_url/small" GET
  for s in "${order[@]}"; do cs_run "$s" "$round" blob_head "${url[$s]}/v2/bench/tags/blobs/${layer[$s]}" HEAD; done

  log "  $images tiny images with $pushers pushers"
  for s in "${order[@]}"; do
    if line=$(client push-images --registry "${url[$s]}" --repo bench/tiny --count "$images" --concurrency "$pushers" --salt "$round" --tag-prefix "r$round-"); then
      record "$s" tiny_ips "$round" "$(kv ips <<<"$line")"
    else note "$s" "tiny images round $round failed: $(client_err)"; fi
  done

  measure_listings "$round"
done

# --- whole-run resource use, report -------------------------------------------------------
record_resource_use
write_report
