#!/usr/bin/env bash
# The cost of tracing: manifest GET through the same Berth build with tracing off, on (every request sampled) and
# on with 1% of traces sampled, each exporting over OTLP/HTTP to a local sink (nginx answering 200 to every POST,
# 127.0.0.1 only). Three Berth processes serve three copies of the same image; the variants take turns in every
# round, the order rotating between rounds; the report holds the medians and each traced variant's ratio to off.
#
#   bench/tracing.sh                                    # 3 rounds of 10 s per variant (~3 min with the build)
#   BENCH_ROUNDS=1 BENCH_DURATION=3 bench/tracing.sh    # smoke
#
# Writes the report to stdout and bench/results/tracing-latest.md (raw figures: tracing-latest.tsv).
set -euo pipefail
repo_root=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo_root"
# shellcheck source=SCRIPTDIR/lib.sh
. bench/lib.sh

rounds=${BENCH_ROUNDS:-3}
duration=${BENCH_DURATION:-10}
warmup=${BENCH_WARMUP:-2}
connections=${BENCH_CONNECTIONS:-64}
threads=${BENCH_THREADS:-2}
port_base=${BENCH_PORT_BASE:-5580}
out=${BENCH_OUT:-bench/results/tracing-latest.md}
tmp_root=${BENCH_TMPDIR:-${TMPDIR:-/tmp}}

require_whole_numbers rounds duration warmup connections threads port_base
(( rounds >= 1 && duration >= 1 )) || { echo "bench: need rounds and duration >= 1" >&2; exit 2; }
require_tools "apt-get install wrk nginx-light curl" curl wrk nginx dotnet git

variants=(off on sampled1pct)
declare -A port=([off]=$port_base [on]=$((port_base + 1)) [sampled1pct]=$((port_base + 2)))
sink_port=$((port_base + 3))
require_free_ports "${port[off]}" "${port[on]}" "${port[sampled1pct]}" "$sink_port"

start_run tracing "$tmp_root/berth-bench-tracing"
clean_up_on_exit

if [[ -n ${BENCH_BERTH_DIR:-} ]]; then use_prebuilt_berth "$BENCH_BERTH_DIR"
else build_berth_working_tree "the working tree does not build"; fi
build_load_client

# --- the OTLP sink: nginx discards each export's body and answers 200, as a collector that keeps nothing ------
mkdir -p "$work/nginx/tmp"
cat >"$work/nginx/nginx.conf" <<NGINX
daemon off;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log error;
events { worker_connections 1024; }
http {
  # One line per export, by path, so the report can show that the traced variants really exported.
  log_format export '\$uri \$content_length';
  access_log $work/nginx/exports.log export;
  keepalive_requests 10000000;
  client_max_body_size 64m;
  client_body_temp_path $work/nginx/tmp/body;
  proxy_temp_path $work/nginx/tmp/proxy;
  fastcgi_temp_path $work/nginx/tmp/fastcgi;
  uwsgi_temp_path $work/nginx/tmp/uwsgi;
  scgi_temp_path $work/nginx/tmp/scgi;
  server { listen 127.0.0.1:$sink_port; location / { return 200; } }
}
NGINX
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" >"$work/nginx/stdout.log" 2>&1 &
pids+=("$!")
sink_url="http://127.0.0.1:$sink_port"

# --- three Berths: the same build and settings, only the OTEL_* variables differ ---------------------------------
declare -A url pid
for v in "${variants[@]}"; do
  mkdir -p "$work/$v-data"
  cat >"$work/$v.yml" <<YAML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
http: {addr: 127.0.0.1:${port[$v]}, secret: bench-secret}
storage: {filesystem: {rootdirectory: $work/$v-data}}
YAML
  otel=()
  case $v in
    on) otel=(OTEL_EXPORTER_OTLP_ENDPOINT="$sink_url/$v" OTEL_SERVICE_NAME=berth-bench) ;;
    sampled1pct) otel=(OTEL_EXPORTER_OTLP_ENDPOINT="$sink_url/$v" OTEL_SERVICE_NAME=berth-bench
                       OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG=0.01) ;;
  esac
  env "${otel[@]}" dotnet "$berth_dir/berth.dll" serve "$work/$v.yml" >"$work/$v.log" 2>&1 &
  pid[$v]=$!; pids+=("${pid[$v]}")
  url[$v]="http://127.0.0.1:${port[$v]}"
done
for v in "${variants[@]}"; do wait_ready "${url[$v]}/v2/"; done
wait_ready "$sink_url/"
log "servers up: off :${port[off]}, on :${port[on]}, sampled1pct :${port[sampled1pct]}, OTLP sink :$sink_port"

for v in "${variants[@]}"; do
  client populate-tags --registry "${url[$v]}" --repo bench/tags --count 1 --concurrency 1 >/dev/null ||
    { echo "bench: $v: populate-tags failed: $(client_err)" >&2; exit 1; }
done

record_machine_facts bench/tracing.sh "$work"
meta berth_commit "$berth_desc (HEAD $(git rev-parse --short HEAD))"
meta parameters "rounds=$rounds duration=${duration}s warmup=${warmup}s connections=$connections threads=$threads"

oci_accept='Accept: application/vnd.oci.image.manifest.v1+json'
to_ms() { awk '{ v = $1; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 } printf "%.3f", v }'; }
wrk_run() { # variant round
  local args=(-t"$threads" -c"$connections" --timeout 10s --latency -H "$oci_accept") text target="${url[$1]}/v2/bench/tags/manifests/latest"
  if (( warmup > 0 )); then timeout $((warmup + 30)) wrk "${args[@]}" -d"${warmup}s" "$target" >/dev/null 2>&1 || true; fi
  text=$(timeout $((duration + 30)) wrk "${args[@]}" -d"${duration}s" "$target") || { note "$1" "round $2: wrk failed"; return 0; }
  local bad; bad=$(awk '/Non-2xx or 3xx responses:/{print $NF} /Socket errors:/{print "socket errors:" $0}' <<<"$text")
  [[ -z $bad ]] || note "$1" "round $2: $bad"
  record "$1" manifest_get_rps "$2" "$(awk '/^Requests\/sec:/{print $2}' <<<"$text")"
  record "$1" manifest_get_p99 "$2" "$(awk '$1 == "99%" {print $2}' <<<"$text" | to_ms)"
}

for round in $(seq 1 "$rounds"); do
  # Rotate the order so that no variant always runs first (or right after another's export backlog).
  shift_by=$(( (round - 1) % ${#variants[@]} ))
  order=("${variants[@]:$shift_by}" "${variants[@]:0:$shift_by}")
  log "round $round/$rounds: ${order[*]}"
  for v in "${order[@]}"; do wrk_run "$v" "$round"; done
done

# Exports that reached the sink, from nginx's log: proof that the traced variants really exported, and how much.
sleep 6   # the batch processor's 5 s schedule: let the last batch of the last round arrive
for v in on sampled1pct; do
  record "$v" otlp_exports 0 "$(awk -v p="/$v/v1/traces" '$1 == p { n++ } END { print n + 0 }' "$work/nginx/exports.log")"
  record "$v" otlp_export_mib 0 "$(awk -v p="/$v/v1/traces" '$1 == p { if ($2 ~ /^[0-9]+$/) b += $2 } END { printf "%.1f", b / 1048576 }' "$work/nginx/exports.log")"
  if grep -qi "export" "$work/$v.log"; then note "$v" "exporter messages in its log: $(grep -i export "$work/$v.log" | head -3 | tr '\n\t' '  ')"; fi
done
for v in "${variants[@]}"; do
  ticks=$(getconf CLK_TCK)
  record "$v" cpu_s 0 "$(sed 's/^.*) //' "/proc/${pid[$v]}/stat" | awk -v t="$ticks" '{printf "%.1f", ($12 + $13) / t}')"
  record "$v" rss_mib 0 "$(awk '/^VmHWM/{printf "%.1f", $2 / 1024}' "/proc/${pid[$v]}/status")"
done
meta load_after "$(cut -d' ' -f1-3 /proc/loadavg)"
meta duration_total "$(( $(date +%s) - started )) s"

# --- report: medians per variant, and each traced variant against off -----------------------------------------
mkdir -p "$(dirname "$out")"
cp "$results" "${out%.md}.tsv"
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
figure() { awk -F'\t' -v s="$1" -v f="$2" '$1 == s && $2 == f { print $4 }' "$results" | median; }
{
  echo "# Tracing cost: manifest GET"
  echo
  echo "bench/tracing.sh: the same Berth build three times, tracing off, on (parent-based, every trace sampled) and"
  echo "on with 1% of traces sampled (parentbased_traceidratio 0.01), exporting over OTLP/HTTP to a local sink."
  echo "wrk, $threads threads, $connections connections, ${duration} s per measurement after ${warmup} s of warm-up; medians of $rounds rounds."
  echo "The machine's load average before and after the run is below: on a busy machine, compare the ratios of one run, not figures across runs."
  echo
  echo "| variant | manifest GET req/s | p99 ms | req/s vs off | p99 vs off | CPU s (whole run) | peak RSS MiB | OTLP exports (MiB) |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  off_rps=$(figure off manifest_get_rps); off_p99=$(figure off manifest_get_p99)
  for v in "${variants[@]}"; do
    rps=$(figure "$v" manifest_get_rps); p99=$(figure "$v" manifest_get_p99)
    ratio_rps=$(awk -v a="$rps" -v b="$off_rps" 'BEGIN{ if (a != "" && b > 0) printf "%.2f", a / b }')
    ratio_p99=$(awk -v a="$p99" -v b="$off_p99" 'BEGIN{ if (a != "" && b > 0) printf "%.2f", a / b }')
    exports=$(figure "$v" otlp_exports); [[ -z $exports ]] || exports="$exports ($(figure "$v" otlp_export_mib))"
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$v" "$rps" "$p99" "$ratio_rps" "$ratio_p99" "$(figure "$v" cpu_s)" "$(figure "$v" rss_mib)" "${exports:--}"
  done
  echo
  echo "Per round (req/s, p99 ms):"
  echo
  awk -F'\t' '$2 == "manifest_get_rps" { r[$1 FS $3] = $4 } $2 == "manifest_get_p99" { p[$1 FS $3] = $4 }
    END { for (k in r) { split(k, a, FS); printf "- round %s, %s: %s req/s, p99 %s ms\n", a[2], a[1], r[k], p[k] } }' "$results" | sort
  echo
  awk -F'\t' '$1 == "meta" { printf "- %s: %s\n", $2, $3 } $1 == "note" { printf "- note (%s): %s\n", $2, $3 }' "$results"
} | tee "$out"
log "report written to $out"
