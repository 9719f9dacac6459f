#!/usr/bin/env bash
# The pull-through cache's figures on this machine, on 127.0.0.1 only: an upstream Distribution 2.8.2 holds a
# random blob; Berth mirrors it (`proxy.remoteurl`) with an empty cache, and each round measures
#   - a cold pull through Berth against the same GET straight from the upstream,
#   - the warm pull that follows (served from Berth's storage) against a plain Berth serving the same bytes,
#   - many concurrent cold pulls of one smaller blob, through Berth and through Distribution 2.8.2 in proxy
#     mode: how many GETs reached the upstream, whether every client got the right bytes, the wall time.
# Every mirror starts each round on new, empty storage; the order of each pair alternates between rounds; the
# report holds the medians. See bench/README.md, "Pull-through cache".
#
#   bench/proxy.sh                                  # full: 3 rounds, 1 GiB blob, 32 clients on a 64 MiB blob
#   BENCH_BLOB_MIB=64 BENCH_ROUNDS=1 bench/proxy.sh  # smoke
#
# Writes the report to stdout and bench/results/proxy-latest.md (raw figures: proxy-latest.tsv).
set -euo pipefail
repo_root=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo_root"
# shellcheck source=SCRIPTDIR/lib.sh
. bench/lib.sh

rounds=${BENCH_ROUNDS:-3}
blob_mib=${BENCH_BLOB_MIB:-1024}
conc_mib=${BENCH_CONCURRENT_MIB:-64}
warmup_mib=${BENCH_WARMUP_MIB:-32}
clients=${BENCH_CLIENTS:-32}
pull_timeout=${BENCH_PULL_TIMEOUT:-600}
port_base=${BENCH_PORT_BASE:-5780}
verify=${BENCH_VERIFY:-1}
out=${BENCH_OUT:-bench/results/proxy-latest.md}
tmp_root=${BENCH_TMPDIR:-${TMPDIR:-/tmp}}

require_whole_numbers rounds blob_mib conc_mib warmup_mib clients pull_timeout port_base verify
(( rounds >= 1 && blob_mib >= 1 && conc_mib >= 1 && warmup_mib >= 1 && clients >= 1 && clients <= 256 && pull_timeout >= 10 )) ||
  { echo "bench: need rounds, blob sizes >= 1, 1-256 clients, a pull timeout >= 10 s" >&2; exit 2; }
require_tools "apt-get install docker-registry curl openssl" curl openssl docker-registry dotnet git xargs

upstream_port=$port_base berth_port=$((port_base + 1)) local_port=$((port_base + 2)) dist_port=$((port_base + 3))
require_free_ports "$upstream_port" "$berth_port" "$local_port" "$dist_port"

start_run proxy "$tmp_root/berth-bench-proxy"
clean_up_on_exit

# --- build -------------------------------------------------------------------------------------
if [[ -n ${BENCH_BERTH_DIR:-} ]]; then
  use_prebuilt_berth "$BENCH_BERTH_DIR"
else
  build_berth_working_tree "the working tree does not build; BENCH_BERTH_DIR can name a built server folder"
fi

# --- servers -----------------------------------------------------------------------------------
upstream_url="http://127.0.0.1:$upstream_port"
berth_url="http://127.0.0.1:$berth_port"
local_url="http://127.0.0.1:$local_port"
dist_url="http://127.0.0.1:$dist_port"
mkdir -p "$work/tmp" "$work/cwd"

registry_yml() { # NAME PORT LOG_LEVEL [REMOTE_URL]: $work/NAME.yml on storage $work/NAME-data (made empty)
  rm -rf "$work/$1-data"
  mkdir -p "$work/$1-data"
  {
    echo "version: 0.1"
    echo "log: {level: $3, accesslog: {disabled: true}}"
    echo "http: {addr: 127.0.0.1:$2, secret: bench-secret}"
    echo "storage: {filesystem: {rootdirectory: $work/$1-data}, delete: {enabled: true}}"
    if [[ -n ${4:-} ]]; then echo "proxy: {remoteurl: $4}"; fi
  } >"$work/$1.yml"
}
start_berth() { # NAME: serves $work/NAME.yml; sets last_pid. Its spool (the system temp directory) goes to $work/tmp.
  # It runs in an empty directory, as the figures in bench/README.md were taken: Berth before 8294881 watched its
  # working directory and everything below it for appsettings changes (ASP.NET Core's default content root).
  (cd "$work/cwd" && TMPDIR=$work/tmp exec dotnet "$berth_dir/berth.dll" serve "$work/$1.yml") >"$work/$1.log" 2>&1 &
  last_pid=$!; pids+=("$last_pid")
}
start_distribution() { # NAME: the same for docker-registry (which crashes at start-up when AWS_CA_BUNDLE is set)
  env -u AWS_CA_BUNDLE docker-registry serve "$work/$1.yml" >"$work/$1.log" 2>&1 &
  last_pid=$!; pids+=("$last_pid")
}
stop_server() { # PID: TERM, up to 10 s to exit, then KILL; the exit cleanup forgets it
  local p=$1 q keep=()
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
  for q in "${pids[@]}"; do [[ $q == "$p" ]] || keep+=("$q"); done
  pids=("${keep[@]}")
}

push_blob() { # REGISTRY REPO FILE DIGEST: monolithic POST + PUT ?digest=, as registry clients do
  local loc code
  loc=$(curl -fsS --max-time 30 -X POST -D - -o /dev/null "$1/v2/$2/blobs/uploads/" | tr -d '\r' |
    awk -F': ' 'tolower($1) == "location" { print $2 }')
  [[ -n $loc ]] || { echo "bench: POST $1/v2/$2/blobs/uploads/ gave no Location" >&2; return 1; }
  if [[ $loc == /* ]]; then loc=$1$loc; fi
  if [[ $loc == *\?* ]]; then loc+="&"; else loc+="?"; fi
  code=$(curl -sS --max-time "$pull_timeout" -X PUT -T "$3" -H 'Content-Type: application/octet-stream' -H 'Expect:' \
    -o /dev/null -w '%{http_code}' "${loc}digest=$4") || true
  [[ $code == 201 ]] || { echo "bench: PUT of $4 to $1/v2/$2 answered ${code:-nothing}" >&2; return 1; }
}
make_blob() { # FILE MIB: random content; prints its digest
  head -c $(( $2 * 1048576 )) /dev/urandom >"$1"
  echo "sha256:$(openssl dgst -sha256 -r "$1" | cut -d' ' -f1)"
}
wait_cached() { # ROOT REPO DIGEST: until the mirror has linked the blob into the repository (at most 300 s); prints the seconds waited
  local link=$1/docker/registry/v2/repositories/$2/_layers/sha256/${3#sha256:}/link t0
  t0=$(date +%s.%N)
  for _ in $(seq 1 3000); do [[ -e $link ]] && break; sleep 0.1; done
  [[ -e $link ]] || { echo "bench: $3 never appeared in $1" >&2; return 1; }
  awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'
}

blob_file() { # ROOT DIGEST: the data file of a blob in a registry's filesystem storage
  local hex=${2#sha256:}
  echo "$1/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex/data"
}
prime() { # FILE...: read into the page cache, untimed, so that the first GET of a pair pays for no disk reads the
  # second is spared (some machines reclaim page cache idle for a minute, which a round can leave the blob)
  local f
  for f in "$@"; do timeout 120 cat "$f" >/dev/null || note prime "could not read $f"; done
}

# CPU seconds: of processes (utime + stime, /proc/PID/stat) and of the whole machine (busy time of all cores, /proc/stat).
proc_ticks() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'; }
machine_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8; exit }' /proc/stat; }
ticks_s() { awk -v a="$1" -v b="$2" -v t="$(getconf CLK_TCK)" 'BEGIN { if (a != "" && b != "") printf "%.2f", (b - a) / t }'; }

registry_yml upstream "$upstream_port" info   # info: one "response completed" line per request, with method and URI
start_distribution upstream; upstream_pid=$last_pid
registry_yml local "$local_port" error
start_berth local; local_pid=$last_pid
wait_ready "$upstream_url/v2/"
wait_ready "$local_url/v2/"
log "servers up: upstream Distribution :$upstream_port (pid $upstream_pid), plain Berth :$local_port (pid $local_pid)"

# --- metadata ----------------------------------------------------------------------------------
meta title "pull-through cache"
record_machine_facts bench/proxy.sh "$work"
meta berth_commit "$berth_desc"
meta distribution_version "$(docker-registry --version | awk '{print $3}')"
meta parameters "rounds=$rounds blob=${blob_mib}MiB concurrent=${clients}x${conc_mib}MiB warmup=3x${warmup_mib}MiB"
for k in rounds blob_mib conc_mib warmup_mib clients; do meta "$k" "${!k}"; done

# --- data: the big blob, the blob of the concurrent pulls, and three warm-up blobs every server fetches first --
log "pushing random blobs of $blob_mib MiB, $conc_mib MiB and 3 x $warmup_mib MiB into the upstream (the big one and the warm-up ones into the plain Berth too)"
big=$(make_blob "$work/big" "$blob_mib")
mid=$(make_blob "$work/mid" "$conc_mib")
push_blob "$upstream_url" bench/proxy "$work/big" "$big"
push_blob "$upstream_url" bench/proxy "$work/mid" "$mid"
push_blob "$local_url" bench/local "$work/big" "$big"
warm=()
for i in 1 2 3; do
  warm+=("$(make_blob "$work/warm" "$warmup_mib")")
  push_blob "$upstream_url" bench/proxy "$work/warm" "${warm[-1]}"
  push_blob "$local_url" bench/local "$work/warm" "${warm[-1]}"
done
rm -f "$work/big" "$work/mid" "$work/warm"
blob_bytes=$(( blob_mib * 1048576 ))
# The plain Berth has taken pushes, not GETs: the warm-up blobs once, untimed, as every mirror gets below.
for w in "${warm[@]}"; do curl -fsS --max-time 60 -o /dev/null "$local_url/v2/bench/local/blobs/$w"; done

# --- measurements ------------------------------------------------------------------------------
# A mirror on new, empty storage that has fetched the three warm-up blobs (cold, then warm): its code compiled
# (a fresh .NET process keeps recompiling hot methods for a while; the third warm-up blob leaves it far fewer than
# the first) and its upstream connection open, as in a mirror that has served before. Nothing measured is cached.
# Sets mirror_pid and mirror_root.
start_mirror() { # KIND NAME PORT URL
  registry_yml "$2" "$3" error "$upstream_url"
  if [[ $1 == berth ]]; then start_berth "$2"; else start_distribution "$2"; fi
  mirror_pid=$last_pid mirror_root=$work/$2-data
  wait_ready "$4/v2/"
  local w
  for w in "${warm[@]}"; do
    curl -fsS --max-time 60 -o /dev/null "$4/v2/bench/proxy/blobs/$w"
    wait_cached "$mirror_root" bench/proxy "$w" >/dev/null
    curl -fsS --max-time 60 -o /dev/null "$4/v2/bench/proxy/blobs/$w"   # and once more, from the cache
    sleep 1   # Berth's runtime recompiles what just ran hot in the background
  done
}

get_out=/dev/null
timed_get() { # MEASURE ROUND URL NAME:PID...: one GET into $get_out after a sync; MB/s, time to first byte, CPU seconds
  local measure=$1 round=$2 u=$3 line code size secs ttfb m0 m1 w0 w1 np; shift 3
  local -A t0=()
  timeout 120 sync || true
  for np in "$@"; do t0[$np]=$(proc_ticks "${np#*:}"); done
  m0=$(machine_ticks) w0=$(date +%s.%N)
  line=$(curl -sS --max-time "$pull_timeout" -o "$get_out" -w '%{http_code} %{size_download} %{time_total} %{time_starttransfer}' "$u") ||
    { note "$measure" "round $round: curl failed ($line)"; return 0; }
  m1=$(machine_ticks) w1=$(date +%s.%N)
  read -r code size secs ttfb <<<"$line"
  if [[ $code != 200 || $size != "$blob_bytes" ]]; then note "$measure" "round $round: HTTP $code, $size bytes (want 200, $blob_bytes)"; return 0; fi
  record "$measure" mbps "$round" "$(awk -v b="$size" -v t="$secs" 'BEGIN { printf "%.1f", b / t / 1e6 }')"
  record "$measure" ttfb_ms "$round" "$(awk -v t="$ttfb" 'BEGIN { printf "%.1f", t * 1000 }')"
  for np in "$@"; do record "$measure" "cpu_${np%%:*}_s" "$round" "$(ticks_s "${t0[$np]}" "$(proc_ticks "${np#*:}")")"; done
  record "$measure" cpu_machine_s "$round" "$(ticks_s "$m0" "$m1")"
  record "$measure" machine_busy_pct "$round" "$(awk -v c="$(ticks_s "$m0" "$m1")" -v a="$w0" -v b="$w1" -v n="$(nproc)" 'BEGIN { printf "%.0f", c / ((b - a) * n) * 100 }')"
}

verify_get() { # MEASURE URL: untimed; the body's SHA-256 must be the big blob's digest
  local got
  got=$(curl -fsS --max-time "$pull_timeout" "$2" | openssl dgst -sha256 -r | cut -d' ' -f1) || true
  if [[ "sha256:$got" == "$big" ]]; then log "  $1: the pulled bytes hash to the blob's digest"
  else note "$1" "VERIFY FAILED: pulled bytes hash to sha256:$got, not $big"; fi
}

upstream_requests() { # FROM_LINE METHOD DIGEST: the upstream's completed requests of that blob after the line
  tail -n "+$(( $1 + 1 ))" "$work/upstream.log" | grep -F "http.request.method=$2 " | grep -cF "/blobs/$3" || true
}
upstream_bytes() { # FROM_LINE DIGEST: bytes the upstream's GETs of that blob sent (http.response.written)
  tail -n "+$(( $1 + 1 ))" "$work/upstream.log" | grep -F "http.request.method=GET " | grep -F "/blobs/$2" |
    grep -o 'http.response.written=[0-9]*' | awk -F= '{ s += $2 } END { printf "%.1f", s / 1048576 }'
}

concurrent_pulls() { # SUBJECT ROUND: $clients GETs of the mid blob at once from a fresh mirror
  local subject=$1 round=$2 kind port u dir from t0 t1 c0 c1 ok=0 i got lines
  if [[ $subject == berth ]]; then kind=berth port=$berth_port u=$berth_url; else kind=distribution port=$dist_port u=$dist_url; fi
  start_mirror "$kind" "$subject-c$round" "$port" "$u"
  dir=$work/concurrent
  rm -rf "$dir"; mkdir -p "$dir"
  prime "$(blob_file "$work/upstream-data" "$mid")"
  timeout 120 sync || true
  from=$(wc -l <"$work/upstream.log")
  c0=$(proc_ticks "$mirror_pid")
  t0=$(date +%s.%N)
  # Each client writes its body to a file of its own (hashed afterwards, untimed) and one status line.
  seq 1 "$clients" | timeout $(( pull_timeout + 60 )) xargs -P "$clients" -I{} \
    curl -sS --max-time "$pull_timeout" -o "$dir/{}" -w '%{http_code} %{size_download}\n' "$u/v2/bench/proxy/blobs/$mid" \
    >"$dir/status" 2>"$dir/errors" || true
  t1=$(date +%s.%N)
  c1=$(proc_ticks "$mirror_pid")
  # Settle: the mirror has linked the blob, then the upstream log stops growing for 2 s (at most 60 s).
  wait_cached "$mirror_root" bench/proxy "$mid" >/dev/null || note "$subject" "round $round: the blob was not cached"
  lines=-1
  for _ in $(seq 1 30); do
    [[ $(wc -l <"$work/upstream.log") == "$lines" ]] && break
    lines=$(wc -l <"$work/upstream.log"); sleep 2
  done
  for i in $(seq 1 "$clients"); do
    got=$(openssl dgst -sha256 -r "$dir/$i" 2>/dev/null | cut -d' ' -f1) || true
    if [[ "sha256:$got" == "$mid" ]]; then ok=$((ok + 1)); fi
  done
  record "$subject" conc_gets "$round" "$(upstream_requests "$from" GET "$mid")"
  record "$subject" conc_heads "$round" "$(upstream_requests "$from" HEAD "$mid")"
  record "$subject" conc_upstream_mib "$round" "$(upstream_bytes "$from" "$mid")"
  record "$subject" conc_ok "$round" "$ok"
  record "$subject" conc_wall_s "$round" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')"
  record "$subject" conc_cpu_s "$round" "$(ticks_s "$c0" "$c1")"
  if (( ok < clients )); then
    note "$subject" "round $round: $ok of $clients clients got the right bytes; statuses: $(sort "$dir/status" | uniq -c | tr -s ' \n' ' ')$(head -c 300 "$dir/errors" | tr '\n' ' ')"
  fi
  log "  $subject: $ok/$clients right, $(upstream_requests "$from" GET "$mid") upstream GET(s), $(upstream_requests "$from" HEAD "$mid") HEAD(s)"
  stop_server "$mirror_pid"
  rm -rf "$dir" "$mirror_root"
}

for round in $(seq 1 "$rounds"); do
  meta "load_round_$round" "$(cut -d' ' -f1-3 /proc/loadavg)"
  if (( round % 2 == 1 )); then first=direct pulls=(direct cold) warms=(warm local)
  else first=cold pulls=(cold direct) warms=(local warm); fi
  log "round $round/$rounds (load $(cut -d' ' -f1-3 /proc/loadavg)): $first first"

  start_mirror berth "berth-r$round" "$berth_port" "$berth_url"
  berth_pid=$mirror_pid berth_root=$mirror_root
  log "  cold pull through Berth / direct from the upstream"
  prime "$(blob_file "$work/upstream-data" "$big")"
  for m in "${pulls[@]}"; do
    if [[ $m == direct ]]; then timed_get direct "$round" "$upstream_url/v2/bench/proxy/blobs/$big" "upstream:$upstream_pid"
    else
      timed_get cold "$round" "$berth_url/v2/bench/proxy/blobs/$big" "berth:$berth_pid" "upstream:$upstream_pid"
      # Berth answers the last byte once the body is verified; storing it may take a little longer.
      record cold cached_after_s "$round" "$(wait_cached "$berth_root" bench/proxy "$big")"
    fi
  done

  log "  ceilings: the direct GET into a new file, SHA-256"
  get_out=$work/direct-file timed_get direct_file "$round" "$upstream_url/v2/bench/proxy/blobs/$big" "upstream:$upstream_pid"
  rm -f "$work/direct-file"
  line=$(timeout 60 openssl speed -evp sha256 -bytes 131072 -seconds 2 -mr 2>/dev/null | awk -F: '/^\+F:/ { print $NF }') || true
  record sha256 mbps "$round" "$(awk -v v="$line" 'BEGIN { if (v != "") printf "%.1f", v / 1e6 }')"

  log "  warm pull through Berth / plain Berth"
  prime "$(blob_file "$berth_root" "$big")" "$(blob_file "$work/local-data" "$big")"
  for m in "${warms[@]}"; do
    if [[ $m == warm ]]; then timed_get warm "$round" "$berth_url/v2/bench/proxy/blobs/$big" "berth:$berth_pid"
    else timed_get local "$round" "$local_url/v2/bench/local/blobs/$big" "berth:$local_pid"; fi
  done
  if (( verify && round == 1 )); then
    verify_get warm "$berth_url/v2/bench/proxy/blobs/$big"
    verify_get local "$local_url/v2/bench/local/blobs/$big"
  fi
  if [[ -n $(ls -A "$work/tmp/berth-proxy-spool" 2>/dev/null) ]]; then note cold "round $round: files left in Berth's spool"; fi
  stop_server "$berth_pid"
  rm -rf "$berth_root"

  log "  $clients concurrent cold pulls of the $conc_mib MiB blob"
  if [[ $first == direct ]]; then concurrent_pulls berth "$round"; concurrent_pulls distribution "$round"
  else concurrent_pulls distribution "$round"; concurrent_pulls berth "$round"; fi
done

meta load_after "$(cut -d' ' -f1-3 /proc/loadavg)"
meta duration_total "$(( $(date +%s) - started )) s"

# --- report ------------------------------------------------------------------------------------
report() { # results.tsv -> markdown
  awk -F'\t' '
    function mib(n) { return (n >= 1024 && n % 1024 == 0) ? (n / 1024) " GiB" : n " MiB" }
    function median(k,   c, i, j, t, a) {
      c = n[k]; if (!c) return ""
      for (i = 1; i <= c; i++) a[i] = v[k, i] + 0
      for (i = 2; i <= c; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
      return c % 2 ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2
    }
    function least(k,   c, i, m) { c = n[k]; if (!c) return ""; m = v[k, 1] + 0; for (i = 2; i <= c; i++) if (v[k, i] + 0 < m) m = v[k, i] + 0; return m }
    function fmt(x, f) { return x == "" ? "" : sprintf(f, x) }
    function pct(a, b) { return (a == "" || b == "" || b == 0) ? "" : sprintf("%.0f %%", a / b * 100) }
    function each(k, f,   i, s) { s = ""; for (i = 1; i <= n[k]; i++) s = s (i > 1 ? " / " : "") sprintf(f, v[k, i]); return s }
    $1 == "meta" { if (!($2 in m)) order[++nm] = $2; m[$2] = $3; next }
    $1 == "note" { notes[++nn] = $2 ": " $3; next }
    NF == 4 { k = $1 SUBSEP $2; n[k]++; v[k, n[k]] = $4 }
    END {
      big = mib(m["blob_mib"]); mid = mib(m["conc_mib"]); c = m["clients"]
      printf "# Berth vs Distribution %s: %s\n\n", m["distribution_version"], m["title"]
      for (i = 1; i <= nm; i++) if (order[i] ~ /^(date|command|machine|cores|kernel|berth_commit|parameters|load_before|load_round_[0-9]+|load_after|duration_total)$/)
        printf "- **%s**: %s\n", order[i], m[order[i]]
      printf "\nMedians of %s round(s). Each round starts every mirror on new, empty storage; the order of each pair alternates between rounds. MB = 10^6 bytes.\n\n", m["rounds"]
      printf "| figure | unit | Berth | compared with | that | Berth / that |\n|---|---|---:|---|---:|---:|\n"
      cold = median("cold" SUBSEP "mbps"); direct = median("direct" SUBSEP "mbps")
      warm = median("warm" SUBSEP "mbps"); loc = median("local" SUBSEP "mbps")
      printf "| cold pull of a %s blob through Berth (empty cache: fetched from the upstream while streaming) | MB/s | %s | the same GET straight from the upstream Distribution | %s | %s (goal >= 90 %%) |\n", big, fmt(cold, "%.0f"), fmt(direct, "%.0f"), pct(cold, direct)
      printf "| warm pull of it through Berth (from its cache) | MB/s | %s | the same bytes pushed into a plain Berth (no proxy section) | %s | %s |\n", fmt(warm, "%.0f"), fmt(loc, "%.0f"), pct(warm, loc)
      printf "| %s concurrent cold pulls of a %s blob: GETs of it that reached the upstream | count | %s | Distribution 2.8.2 as a pull-through cache | %s | |\n", c, mid, fmt(median("berth" SUBSEP "conc_gets"), "%.0f"), fmt(median("distribution" SUBSEP "conc_gets"), "%.0f")
      printf "|   HEADs of it that reached the upstream | count | %s | | %s | |\n", fmt(median("berth" SUBSEP "conc_heads"), "%.0f"), fmt(median("distribution" SUBSEP "conc_heads"), "%.0f")
      printf "|   bytes of it the upstream sent | MiB | %s | | %s | |\n", fmt(median("berth" SUBSEP "conc_upstream_mib"), "%.0f"), fmt(median("distribution" SUBSEP "conc_upstream_mib"), "%.0f")
      printf "|   clients that got the right bytes (SHA-256), worst round | of %s | %s | | %s | |\n", c, least("berth" SUBSEP "conc_ok"), least("distribution" SUBSEP "conc_ok")
      printf "|   wall time until every client is done | s | %s | | %s | %s |\n", fmt(median("berth" SUBSEP "conc_wall_s"), "%.2f"), fmt(median("distribution" SUBSEP "conc_wall_s"), "%.2f"), pct(median("berth" SUBSEP "conc_wall_s"), median("distribution" SUBSEP "conc_wall_s"))
      printf "|   CPU seconds of the mirror during the pulls | s | %s | | %s | |\n", fmt(median("berth" SUBSEP "conc_cpu_s"), "%.2f"), fmt(median("distribution" SUBSEP "conc_cpu_s"), "%.2f")

      printf "\n## Where the time goes (medians, one %s GET)\n\n", big
      printf "| pull | MB/s | time to first byte (ms) | CPU s: Berth | CPU s: upstream | CPU s: whole machine | machine busy |\n|---|---:|---:|---:|---:|---:|---:|\n"
      split("direct direct_file cold warm local", ms, " ")
      label["direct"] = "direct from the upstream"; label["direct_file"] = "direct from the upstream, written to a new file (`curl -o`)"
      label["cold"] = "cold, through Berth"; label["warm"] = "warm, through Berth"; label["local"] = "plain Berth"
      for (i = 1; i <= 5; i++) {
        x = ms[i]
        mb = median(x SUBSEP "mbps"); cpu = median(x SUBSEP "cpu_machine_s"); busy = median(x SUBSEP "machine_busy_pct")
        if (busy != "") busy = sprintf("%.0f %%", busy)
        printf "| %s | %s | %s | %s | %s | %s | %s |\n", label[x], fmt(mb, "%.0f"), fmt(median(x SUBSEP "ttfb_ms"), "%.1f"),
          fmt(median(x SUBSEP "cpu_berth_s"), "%.2f"), fmt(median(x SUBSEP "cpu_upstream_s"), "%.2f"), fmt(cpu, "%.2f"), busy
      }
      printf "\nCPU seconds are utime + stime of the process (`/proc/PID/stat`) over the GET; the whole machine'"'"'s are the busy time of all %s cores (`/proc/stat`), curl, the kernel'"'"'s writeback and anything else running included. \"Machine busy\" is that over the wall time (curl'"'"'s start-up included) times the cores: near 100 %% the pull was bound by CPU (the kernel counts in 10 ms ticks, so short pulls read coarsely).\n", m["cores"]
      printf "\nSHA-256 on one core (`openssl speed -evp sha256`, 128 KiB blocks): %s MB/s. After the cold pull ended, Berth had the blob stored and linked %s s later.\n", fmt(median("sha256" SUBSEP "mbps"), "%.0f"), fmt(median("cold" SUBSEP "cached_after_s"), "%.2f")

      printf "\n## Every round\n\n| figure | rounds 1.. |\n|---|---|\n"
      printf "| direct, MB/s | %s |\n| cold through Berth, MB/s | %s |\n", each("direct" SUBSEP "mbps", "%.0f"), each("cold" SUBSEP "mbps", "%.0f")
      printf "| direct into a new file, MB/s | %s |\n", each("direct_file" SUBSEP "mbps", "%.0f")
      printf "| warm through Berth, MB/s | %s |\n| plain Berth, MB/s | %s |\n", each("warm" SUBSEP "mbps", "%.0f"), each("local" SUBSEP "mbps", "%.0f")
      printf "| concurrent: upstream GETs, Berth | %s |\n| concurrent: upstream GETs, Distribution | %s |\n", each("berth" SUBSEP "conc_gets", "%d"), each("distribution" SUBSEP "conc_gets", "%d")
      printf "| concurrent: right downloads, Berth | %s |\n| concurrent: right downloads, Distribution | %s |\n", each("berth" SUBSEP "conc_ok", "%d"), each("distribution" SUBSEP "conc_ok", "%d")
      printf "| concurrent: wall s, Berth | %s |\n| concurrent: wall s, Distribution | %s |\n", each("berth" SUBSEP "conc_wall_s", "%.2f"), each("distribution" SUBSEP "conc_wall_s", "%.2f")

      if (nn) { printf "\n## Notes\n\n"; for (i = 1; i <= nn; i++) printf "- %s\n", notes[i] }
    }' "$results"
}
mkdir -p "$(dirname "$out")"
cp "$results" "${out%.md}.tsv"
report | tee "$out"
log "report written to $out"
