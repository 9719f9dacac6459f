#!/usr/bin/env bash
# Concurrency costs, Berth beside Distribution 2.8.2 in the same run, filesystem storage, 127.0.0.1 only:
#   1. manifest GET by tag (OCI Accept header) with 64 / 1,000 / 5,000 concurrent connections: req/s, p50 and p99
#      from wrk --latency, socket errors and non-2xx answers, and the connections each server really held mid-run;
#      nginx serving a static 1 KiB file at the same connection counts is the ceiling;
#   2. memory per upload in progress: 100 and then 1,000 uploads held open at once (POST, then a PATCH whose chunked
#      body trickles a few bytes per tick), each point on a freshly started server: (RSS while all are open - RSS
#      before) / uploads, and VmHWM. The load client checks that every upload was in progress and accepted.
# Every measurement is bounded in time; the order of the servers alternates between rounds; the report holds the
# medians. See bench/README.md, "Concurrency".
#
#   bench/concurrency.sh                                                  # full (~12 min on 2 cores)
#   BENCH_ROUNDS=1 BENCH_DURATION=3 BENCH_CONNECTIONS="64 1000" BENCH_UPLOADS="20 100" bench/concurrency.sh   # smoke
#
# Writes the report to stdout and bench/results/concurrency-latest.md, with curve rows (and the raw figures) in
# concurrency-latest.tsv.
#
# Globals set by lib.sh's functions (start_run, the builds, start_registries), which shellcheck cannot follow:
# shellcheck disable=SC2154
set -euo pipefail
repo_root=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo_root"
# shellcheck source=SCRIPTDIR/lib.sh
. bench/lib.sh

rounds=${BENCH_ROUNDS:-3}
duration=${BENCH_DURATION:-8}
warmup=${BENCH_WARMUP:-2}
threads=${BENCH_THREADS:-2}
read -r -a connection_counts <<<"${BENCH_CONNECTIONS:-64 1000 5000}"
read -r -a upload_counts <<<"${BENCH_UPLOADS:-100 1000}"
# 512 B/s per upload: above Kestrel's default minimum request body rate (240 B/s after a 5 s grace), under which
# Berth answers 408; the slow-rate check below (BENCH_FLOOR_UPLOADS uploads at 8 B/s) shows that floor.
tick_bytes=${BENCH_TICK_BYTES:-128}
tick_ms=${BENCH_TICK_MS:-250}
hold=${BENCH_HOLD:-40}
settle=${BENCH_SETTLE:-4}
floor_uploads=${BENCH_FLOOR_UPLOADS:-100}
port_base=${BENCH_PORT_BASE:-5880}
out=${BENCH_OUT:-bench/results/concurrency-latest.md}
tmp_root=${BENCH_TMPDIR:-${TMPDIR:-/tmp}}

require_whole_numbers rounds duration warmup threads tick_bytes tick_ms hold settle floor_uploads port_base
for c in "${connection_counts[@]}" "${upload_counts[@]}"; do [[ $c =~ ^[0-9]+$ && $c -ge 1 ]] || { echo "bench: bad count '$c'" >&2; exit 2; }; done
(( rounds >= 1 && duration >= 1 && hold > settle )) || { echo "bench: need rounds, duration >= 1 and hold > settle" >&2; exit 2; }
require_tools "apt-get install wrk nginx-light docker-registry curl iproute2" curl wrk nginx docker-registry dotnet git ss

# 5,000 connections need 5,000 descriptors in wrk and in each server (Go raises its own soft limit; dotnet and nginx
# inherit ours). Two per connection on the client side would be wrk's and the load client's, never both at once.
ulimit -n "$(ulimit -Hn)"
max_needed=0
for c in "${connection_counts[@]}" "${upload_counts[@]}"; do (( c > max_needed )) && max_needed=$c; done
(( $(ulimit -n) > max_needed + 512 )) || { echo "bench: ulimit -n is $(ulimit -n), need more than $((max_needed + 512))" >&2; exit 2; }

berth_port=$port_base dist_port=$((port_base + 1)) nginx_port=$((port_base + 2))
require_free_ports "$berth_port" "$dist_port" "$nginx_port"

start_run concurrency "$tmp_root/berth-bench-concurrency"
chmod 755 "$work"   # nginx workers run as nobody and must reach www/
clean_up_on_exit

if [[ -n ${BENCH_BERTH_DIR:-} ]]; then use_prebuilt_berth "$BENCH_BERTH_DIR"
else build_berth_working_tree "the working tree does not build; BENCH_BERTH_DIR can name a built server folder"; fi
build_load_client

# --- servers -----------------------------------------------------------------------------------------------
registry_config() { # name port: fresh, empty storage
  rm -rf "$work/$1-data"
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

mkdir -p "$work/www" "$work/nginx/tmp"
head -c 1024 /dev/urandom >"$work/www/small"
chmod 644 "$work/www/small"
cat >"$work/nginx/nginx.conf" <<NGINX
daemon off;
worker_processes 2;
worker_rlimit_nofile 20000;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log error;
events { worker_connections 8192; }
http {
  access_log off;
  sendfile on;
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
nginx_pid=$!; pids+=("$nginx_pid")
start_registries
declare -A port=([berth]=$berth_port [distribution]=$dist_port [nginx]=$nginx_port)
for s in berth distribution; do wait_ready "${url[$s]}/v2/"; done
wait_ready "http://127.0.0.1:$nginx_port/small"
log "servers up: berth :$berth_port (pid $berth_pid), distribution :$dist_port (pid $dist_pid), nginx :$nginx_port"

for s in berth distribution; do
  client populate-tags --registry "${url[$s]}" --repo bench/tags --count 1 --concurrency 1 >/dev/null ||
    { echo "bench: $s: populate-tags failed: $(client_err)" >&2; exit 1; }
done

record_machine_facts bench/concurrency.sh "$work"
meta berth_commit "$berth_desc (HEAD $(git rev-parse --short HEAD))"
meta distribution_version "$(docker-registry --version | awk '{print $3}')"
meta parameters "rounds=$rounds duration=${duration}s warmup=${warmup}s threads=$threads connections=${connection_counts[*]} uploads=${upload_counts[*]} tick=${tick_bytes}B/${tick_ms}ms hold<=${hold}s settle=${settle}s"
meta ulimit_n "$(ulimit -n)"
meta somaxconn "$(cat /proc/sys/net/core/somaxconn)"
# Kestrel's defaults apply: no connection limit (MaxConcurrentConnections unset), and Berth sets none of its own.
meta berth_connection_limit "none (Kestrel MaxConcurrentConnections unset; Berth has no option for it)"

# --- 1. manifest GET at each connection count ------------------------------------------------------------------
oci_accept='Accept: application/vnd.oci.image.manifest.v1+json'
to_ms() { awk 'NF { v = $1; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 } printf "%.3f", v }'; }
established() { ss -Htn state established "( sport = :$1 )" 2>/dev/null | wc -l; }
wrk_run() { # server connections round
  local s=$1 c=$2 r=$3 target text held
  if [[ $s == nginx ]]; then target="http://127.0.0.1:$nginx_port/small"; else target="${url[$s]}/v2/bench/tags/manifests/latest"; fi
  local args=(-t"$threads" -c"$c" --timeout 10s --latency -H "$oci_accept")
  # A server may still be working through the queue a previous 5,000-connection load left (Distribution took 10-17 s
  # in the committed run): wait up to 30 s for it to answer, so one load does not spill into the next measurement.
  local w
  for w in $(seq 1 30); do curl -fsS --max-time 1 -H "$oci_accept" -o /dev/null "$target" 2>/dev/null && break; sleep 1; done
  (( w < 30 )) || note "$s" "c=$c round $r: not answering 30 s before the measurement"
  if (( warmup > 0 )); then timeout $((warmup + 30)) wrk "${args[@]}" -d"${warmup}s" "$target" >/dev/null 2>&1 || true; fi
  timeout $((duration + 30)) wrk "${args[@]}" -d"${duration}s" "$target" >"$work/wrk.out" 2>&1 &
  local wrk_pid=$!
  # Halfway through, count the connections the server really holds: a refused or dropped connection shows here.
  sleep "$(awk -v d="$duration" 'BEGIN { print d / 2 }')"
  held=$(established "${port[$s]}")
  wait "$wrk_pid" || { note "$s" "c=$c round $r: wrk failed: $(tail -c 300 "$work/wrk.out" | tr '\n\t' '  ')"; return 0; }
  text=$(cat "$work/wrk.out")
  record "$s" "rps_c$c" "$r" "$(awk '/^Requests\/sec:/{print $2}' <<<"$text")"
  # With no request answered wrk still prints a distribution of zeros: no latency then (the note below says so).
  if awk '/^Requests\/sec:/ { exit !($2 > 0) }' <<<"$text"; then
    record "$s" "p50_ms_c$c" "$r" "$(awk '$1 == "50%" {print $2}' <<<"$text" | to_ms)"
    record "$s" "p99_ms_c$c" "$r" "$(awk '$1 == "99%" {print $2}' <<<"$text" | to_ms)"
  else
    note "$s" "c=$c round $r: no request answered within the ${duration} s measurement (wrk --timeout 10s counts no timeouts in a shorter run)"
  fi
  record "$s" "held_c$c" "$r" "$held"
  local errors non2xx
  errors=$(awk '/Socket errors:/ { gsub(/,/, ""); print $4 + $6 + $8 + $10 }' <<<"$text")
  non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' <<<"$text")
  record "$s" "errors_c$c" "$r" "${errors:-0}"
  record "$s" "non2xx_c$c" "$r" "${non2xx:-0}"
  if [[ -n $errors || -n $non2xx ]]; then
    note "$s" "c=$c round $r: $(grep -E 'Socket errors|Non-2xx' <<<"$text" | tr '\n' ' ')"
  fi
}

for round in $(seq 1 "$rounds"); do
  if (( round % 2 == 1 )); then order=(berth distribution nginx); else order=(nginx distribution berth); fi
  log "round $round/$rounds: ${order[*]}"
  for c in "${connection_counts[@]}"; do
    for s in "${order[@]}"; do
      log "  $s, $c connections"
      wrk_run "$s" "$c" "$round"
    done
  done
done
for s in berth distribution; do
  # After the 5,000-connection load a server may still be draining closed connections: give it 30 s to answer.
  answered=""
  for i in $(seq 1 30); do
    if curl -fsS --max-time 1 -o /dev/null "${url[$s]}/v2/" 2>/dev/null; then answered=$i; break; fi
    sleep 1
  done
  if [[ -z $answered ]]; then note "$s" "did not answer /v2/ within 30 s after the manifest GET loads; log: $(tail -c 300 "$work/$s.log" | tr '\n\t' '  ')"
  elif (( answered > 1 )); then note "$s" "answered /v2/ only after about $answered s once the manifest GET loads ended"; fi
done

# --- 2. memory per upload in progress: each point on a freshly started server ------------------------------------
stop_one() { # PID: TERM, up to 10 s, then KILL; dropped from $pids
  local p=$1 keep=() q
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
  for q in "${pids[@]}"; do [[ $q == "$p" ]] || keep+=("$q"); done
  pids=("${keep[@]}")
}
start_one() { # NAME: a fresh server on empty storage; sets pid[NAME]
  registry_config "$1" "${port[$1]}"
  if [[ $1 == berth ]]; then dotnet "$berth_dir/berth.dll" serve "$work/berth.yml" >"$work/berth.log" 2>&1 &
  else env -u AWS_CA_BUNDLE docker-registry serve "$work/distribution.yml" >"$work/distribution.log" 2>&1 &
  fi
  pid[$1]=$!; pids+=("${pid[$1]}")
  wait_ready "${url[$1]}/v2/"
}
slow_args=(--tick-bytes "$tick_bytes" --tick-ms "$tick_ms" --settle-seconds "$settle")

log "uploads in progress: stopping the servers of part 1"
stop_one "${pid[berth]}"; stop_one "${pid[distribution]}"; stop_one "$nginx_pid"
for n in "${upload_counts[@]}"; do
  for s in berth distribution; do
    log "  $s: $n uploads in progress (fresh server, $tick_bytes bytes per ${tick_ms} ms)"
    start_one "$s"
    # A short untimed warm-up, so the code paths are loaded and compiled before the idle figure is read.
    client slow-uploads --registry "${url[$s]}" --repo bench/warm --count 8 --hold-seconds 3 --settle-seconds 1 \
      --tick-bytes "$tick_bytes" --tick-ms 200 >/dev/null || note "$s" "uploads=$n: warm-up: $(client_err)"
    sleep 2
    line=$(client_timeout=$((hold + 120)) client slow-uploads --registry "${url[$s]}" --repo bench/slow --count "$n" \
      --pid "${pid[$s]}" --hold-seconds "$hold" "${slow_args[@]}") || note "$s" "uploads=$n: incomplete: $(client_err)"
    log "    $line"
    for k in started open_at_check known status_other accepted alive open_s held_s rss_idle_kib rss_during_kib rss_after_kib hwm_kib kib_per_upload first_error; do
      record "$s" "uploads_n${n}_$k" 1 "$(kv "$k" <<<"$line")"
    done
    stop_one "${pid[$s]}"
  done
done
# The slow-rate check: uploads trickling 8 B/s, checked 10 s in (past Kestrel's 5 s grace); the counts say how many
# each server still held and accepted. 0 uploads skips it.
if (( floor_uploads > 0 )); then
  for s in berth distribution; do
    log "  $s: slow-rate check, $floor_uploads uploads at 8 bytes per second"
    start_one "$s"
    line=$(client_timeout=150 client slow-uploads --registry "${url[$s]}" --repo bench/floor --count "$floor_uploads" \
      --pid "${pid[$s]}" --hold-seconds 20 --settle-seconds 10 --tick-bytes 8 --tick-ms 1000) || true
    log "    $line"
    for k in started open_at_check known accepted alive first_error; do record "$s" "floor_$k" 1 "$(kv "$k" <<<"$line")"; done
    stop_one "${pid[$s]}"
  done
fi
meta load_after "$(cut -d' ' -f1-3 /proc/loadavg)"
meta duration_total "$(( $(date +%s) - started )) s"

# --- report -------------------------------------------------------------------------------------------------------
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
figure() { awk -F'\t' -v s="$1" -v f="$2" '$1 == s && $2 == f { print $4 }' "$results" | median; }
total() { awk -F'\t' -v s="$1" -v f="$2" '$1 == s && $2 == f { t += $4 } END { print t + 0 }' "$results"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b != "" && b > 0) printf "%.2f", a / b; else print "-" }'; }
series_name() { case $1 in berth) echo Berth ;; distribution) echo Distribution ;; nginx) echo nginx ;; esac; }

# Growth from the log-log slope between consecutive points: under 0.15 flat, up to 0.85 sublinear (log), up to 1.15
# linear, above superlinear; a falling curve is classed by the size of its fall and says so.
growth() { # id series x... -- y...
  local id=$1 series=$2; shift 2
  local xs=() ys=()
  while [[ $1 != -- ]]; do xs+=("$1"); shift; done; shift
  ys=("$@")
  awk -v id="$id" -v s="$series" -v xs="${xs[*]}" -v ys="${ys[*]}" 'BEGIN {
    n = split(xs, x, " "); split(ys, y, " "); worst = 0; text = ""
    for (i = 1; i < n; i++) {
      if (y[i] <= 0 || y[i + 1] <= 0) continue
      k = log(y[i + 1] / y[i]) / log(x[i + 1] / x[i]); a = k < 0 ? -k : k
      if (a > worst) worst = a
      text = text (text == "" ? "" : ", ") sprintf("slope %.2f from %s to %s", k, x[i], x[i + 1])
    }
    if (text == "") exit
    class = worst < 0.15 ? "flat" : worst < 0.85 ? "log" : worst < 1.15 ? "linear" : "superlinear"
    printf "growth\t%s\t%s\t%s\t%s on log-log\n", id, s, class, text
  }'
}

curves=$work/curves.tsv
{
  awk -F'\t' '$1 == "meta"' "$results"
  for fig in rps p50 p99; do
    case $fig in
      rps) printf 'curve\tmanifest-get-rps\tManifest GET by tag (nginx: static 1 KiB file)\tconcurrent connections\trequests/s\tlog\tlinear\n' ;;
      p50) printf 'curve\tmanifest-get-p50\tManifest GET median latency\tconcurrent connections\tp50 ms\tlog\tlog\n' ;;
      p99) printf 'curve\tmanifest-get-p99\tManifest GET 99th percentile latency\tconcurrent connections\tp99 ms\tlog\tlog\n' ;;
    esac
    for s in berth distribution nginx; do
      ys=()
      for c in "${connection_counts[@]}"; do
        if [[ $fig == rps ]]; then y=$(figure "$s" "rps_c$c"); else y=$(figure "$s" "${fig}_ms_c$c"); fi
        [[ -n $y ]] && printf 'point\tmanifest-get-%s\t%s\t%s\t%s\n' "$fig" "$(series_name "$s")" "$c" "$y"
        ys+=("${y:-0}")
      done
      growth "manifest-get-$fig" "$(series_name "$s")" "${connection_counts[@]}" -- "${ys[@]}"
    done
  done
  printf 'curve\tupload-memory\tServer memory per upload in progress\tuploads in progress\tKiB per upload\tlog\tlinear\n'
  for s in berth distribution; do
    ys=()
    for n in "${upload_counts[@]}"; do
      y=$(figure "$s" "uploads_n${n}_kib_per_upload")
      [[ -n $y ]] && printf 'point\tupload-memory\t%s\t%s\t%s\n' "$(series_name "$s")" "$n" "$y"
      ys+=("${y:-0}")
    done
    growth upload-memory "$(series_name "$s")" "${upload_counts[@]}" -- "${ys[@]}"
  done
  printf 'curve\tupload-memory-total\tServer RSS growth with uploads in progress\tuploads in progress\tMiB above idle\tlog\tlog\n'
  for s in berth distribution; do
    ys=()
    for n in "${upload_counts[@]}"; do
      idle=$(figure "$s" "uploads_n${n}_rss_idle_kib"); during=$(figure "$s" "uploads_n${n}_rss_during_kib")
      y=$(awk -v a="$during" -v b="$idle" 'BEGIN { if (a != "" && b != "") printf "%.1f", (a - b) / 1024 }')
      [[ -n $y ]] && printf 'point\tupload-memory-total\t%s\t%s\t%s\n' "$(series_name "$s")" "$n" "$y"
      ys+=("${y:-0}")
    done
    growth upload-memory-total "$(series_name "$s")" "${upload_counts[@]}" -- "${ys[@]}"
  done
  awk -F'\t' '$1 != "meta"' "$results"   # the raw figures (rows the plotter ignores)
} >"$curves"

mkdir -p "$(dirname "$out")"
cp "$curves" "${out%.md}.tsv"
{
  echo "# Concurrency: manifest GET at many connections, memory per upload in progress"
  echo
  echo "bench/concurrency.sh: Berth and Distribution $(docker-registry --version | awk '{print $3}') side by side on 127.0.0.1, filesystem storage,"
  echo "nginx serving a static 1 KiB file as the ceiling. wrk, $threads threads, ${duration} s per measurement after ${warmup} s of"
  echo "warm-up, --timeout 10s, medians of $rounds rounds (server order alternating). The machine's load before and after"
  echo "the run is below: on a shared machine compare the ratios of one run, not figures across runs."
  echo
  echo "## Manifest GET by tag (OCI Accept header)"
  echo
  echo "| connections | server | req/s | p50 ms | p99 ms | req/s vs Distribution | req/s vs nginx | p99 vs Distribution | held mid-run | socket errors | non-2xx |"
  echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for c in "${connection_counts[@]}"; do
    d_rps=$(figure distribution "rps_c$c"); n_rps=$(figure nginx "rps_c$c"); d_p99=$(figure distribution "p99_ms_c$c")
    for s in berth distribution nginx; do
      rps=$(figure "$s" "rps_c$c"); p99=$(figure "$s" "p99_ms_c$c")
      vs_d=-; vs_dp=-
      if [[ $s == berth ]]; then vs_d=$(ratio "$rps" "$d_rps"); vs_dp=$(ratio "$p99" "$d_p99"); fi
      vs_n=-; [[ $s == nginx ]] || vs_n=$(ratio "$rps" "$n_rps")
      printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$c" "$(series_name "$s")" "${rps:--}" \
        "$(figure "$s" "p50_ms_c$c")" "${p99:--}" "$vs_d" "$vs_n" "$vs_dp" "$(figure "$s" "held_c$c")" \
        "$(total "$s" "errors_c$c")" "$(total "$s" "non2xx_c$c")"
    done
  done
  echo
  echo "\"held mid-run\" is the established connections on the server's port halfway through one measurement (median"
  echo "over rounds); socket errors (connect, read, write, timeout) and non-2xx answers are summed over all rounds."
  echo
  echo "## Memory per upload in progress"
  echo
  echo "Each point on a freshly started server (after an untimed warm-up of 8 uploads): POST, then one PATCH per upload"
  echo "whose chunked body sends $tick_bytes bytes every $tick_ms ms; RSS is read from /proc before the POSTs (idle) and"
  echo "sampled for $settle s once every PATCH has sent its first bytes (during, the highest sample). Every upload is"
  echo "checked to be in progress (its PATCH unanswered and the upload known to a status GET), then its body ends and its"
  echo "PATCH must answer 202 with the right Range; the server must then still answer /v2/."
  echo
  echo "| uploads | server | KiB per upload | RSS idle MiB | RSS during MiB | VmHWM MiB | started / unanswered at check / known / accepted | answers after |"
  echo "|---:|---|---:|---:|---:|---:|---|---|"
  for n in "${upload_counts[@]}"; do
    for s in berth distribution; do
      f() { figure "$s" "uploads_n${n}_$1"; }
      mib() { awk -v k="$1" 'BEGIN { if (k != "") printf "%.1f", k / 1024; else print "-" }'; }
      printf '| %s | %s | %s | %s | %s | %s | %s / %s / %s / %s | %s |\n' "$n" "$(series_name "$s")" "$(f kib_per_upload)" \
        "$(mib "$(f rss_idle_kib)")" "$(mib "$(f rss_during_kib)")" "$(mib "$(f hwm_kib)")" \
        "$(f started)" "$(f open_at_check)" "$(f known)$( o=$(f status_other); [[ -z $o || $o == none ]] || echo " (other: $o)")" "$(f accepted)" \
        "$( [[ $(f alive) == 1 ]] && echo yes || echo no)"
    done
  done
  echo
  if (( floor_uploads > 0 )); then
    echo "Slow-rate check: $floor_uploads uploads on a fresh server, each PATCH body sending 8 bytes per second, checked 10 s"
    echo "in (past Kestrel's 5 s grace for its default minimum body rate of 240 B/s), then ended:"
    echo
    echo "| server | started | unanswered at check | known | accepted (202, right Range) | first failure |"
    echo "|---|---:|---:|---:|---:|---|"
    for s in berth distribution; do
      printf '| %s | %s | %s | %s | %s | %s |\n' "$(series_name "$s")" "$(figure "$s" floor_started)" "$(figure "$s" floor_open_at_check)" \
        "$(figure "$s" floor_known)" "$(figure "$s" floor_accepted)" "$(awk -F'\t' -v s="$s" '$1 == s && $2 == "floor_first_error" { gsub(/_/, " ", $4); print $4 }' "$results")"
    done
    echo
  fi
  echo "## Growth (log-log slope between consecutive points)"
  echo
  awk -F'\t' '$1 == "growth" { printf "- %s, %s: %s (%s)\n", $2, $3, $4, $5 }' "$curves"
  echo
  awk -F'\t' '$1 == "meta" { printf "- %s: %s\n", $2, $3 } $1 == "note" { printf "- note (%s): %s\n", $2, $3 }' "$results"
} | tee "$out"
log "report written to $out"
plot_results "${out%.md}.tsv"
