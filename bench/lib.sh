# shellcheck shell=bash
# Plumbing shared by bench/run.sh and bench/s3.sh, sourced by both (not run on its own): input checks,
# the timed log, the work directory and its results file, the servers' lifetime, the load client, and the
# figures both scripts take the same way. It only defines functions and empty state; each script still
# decides what runs when, so the order of every log line and result row stays the script's own.
#
# The functions read the scripts' settings as globals (page, tags, repos, catalog_n, list_repeat,
# list_max_seconds, rounds, out, berth_port, dist_port), and set globals the scripts go on using (started,
# work, results, berth_dir, berth_desc, berth_pid, dist_pid, url, pid, order). Checked alone, this file
# cannot show where the settings come from nor who reads what it sets:
# shellcheck disable=SC2154,SC2034

# Processes to stop on exit; every server or helper a script starts in the background goes here.
pids=()
# Seconds a load client call may take before it is killed; a caller may raise it for one call
# (client_timeout=N client ...), as filling a registry over S3 can take longer.
client_timeout=900
# The picture drawer beside this file (bench/Berth.Plots), found the same way whichever script sourced this one.
plots_project=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/Berth.Plots

# --- input checks (each exits 2, the scripts' "bad usage" status) -------------------------------------

require_whole_numbers() { # NAME... (names of variables)
  local n
  for n in "$@"; do
    [[ ${!n} =~ ^[0-9]+$ ]] || { echo "bench: $n must be a whole number, got '${!n}'" >&2; exit 2; }
  done
}

require_tools() { # INSTALL_HINT TOOL...
  local hint=$1 tool
  shift
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is not installed ($hint)" >&2; exit 2; }
  done
}

require_free_ports() { # PORT...
  local p
  for p in "$@"; do
    # A connection that succeeds means something listens there already: our server would fail to bind,
    # or worse, the run would measure someone else's.
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "bench: port $p is in use; set BENCH_PORT_BASE" >&2; exit 2; fi
  done
}

# --- run: log, work directory, results ----------------------------------------------------------------

start_run() { # LOG_TAG WORK_DIR_PREFIX: starts the elapsed-seconds clock, makes $work and an empty $results
  started=$(date +%s)
  log_tag=$1
  work=$(mktemp -d "$2.XXXXXX")
  berth_dir=$work/berth
  results=$work/results.tsv
  : >"$results"
}
log() { printf '[%s %4ds] %s\n' "$log_tag" "$(( $(date +%s) - started ))" "$*" >&2; }

# What a script's exit must undo besides the servers and $work (s3.sh: its bucket prefix): a function run once
# the servers are down, and the words naming it in the first cleanup log line ("deleting ..., ").
cleanup_also=""
cleanup_also_words=""

cleanup() {
  log "stopping servers, ${cleanup_also_words}removing $work"
  stop_servers
  if [[ -n $cleanup_also ]]; then "$cleanup_also"; fi
  rm -rf "$work"
  log "cleaned up"
}
clean_up_on_exit() { # also on Ctrl-C or TERM, which exit 130 and so run the EXIT trap
  trap cleanup EXIT
  trap 'exit 130' INT TERM
}

stop_servers() { # TERM everything in $pids, give it 5 s to exit, then KILL what is left
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for _ in $(seq 1 50); do
    local alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    (( alive )) || break
    sleep 0.1
  done
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}

# Rows of $results, read by `berth-load report`: meta KEY VALUE, note SUBJECT TEXT, SUBJECT FIGURE ROUND VALUE.
meta() { printf 'meta\t%s\t%s\n' "$1" "$2" >>"$results"; }
note() { printf 'note\t%s\t%s\n' "$1" "$2" >>"$results"; log "NOTE $1: $2"; }
record() { # subject figure round value
  [[ -n $4 ]] || { note "$1" "$2 round $3: no value"; return 0; }
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$results"
}
record_machine_facts() { # SCRIPT [DATA_DIR]: meta rows for the run's date, command line, machine, kernel and load
  local disk=""
  if [[ -n ${2:-} ]]; then disk=", $(df -h "$2" | awk 'NR==2{print $1}') for data"; fi
  meta date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  meta command "$(env | grep -E '^BENCH_' | sort | tr '\n' ' ')$1"
  meta machine "$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo), $(free -g | awk '/^Mem:/{print $2}') GiB RAM$disk"
  meta cores "$(nproc)"
  meta kernel "$(uname -r)"
  meta load_before "$(cut -d' ' -f1-3 /proc/loadavg)"
}
kv() { # KEY <<< "k=v k=v"
  awk -v k="$1" '{ for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) { print substr($i, length(k) + 2); exit } }'
}

# --- build: copies of the output in $work, since other builds rewrite bin/ in place while we run -------

use_prebuilt_berth() { # DIR
  log "using the prebuilt server in $1"
  cp -r "$1" "$berth_dir"
  berth_desc="prebuilt $1"
}

build_berth_working_tree() { # [HINT printed when the build fails]
  log "building Berth (working tree, Release)"
  timeout 900 dotnet build src/Berth.Server -c Release -nologo -v q >"$work/build.log" 2>&1 ||
    { tail -20 "$work/build.log" >&2; if [[ -n ${1:-} ]]; then echo "bench: $1" >&2; fi; exit 1; }
  cp -r src/Berth.Server/bin/Release/net10.0 "$berth_dir"
  berth_desc="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src 2>/dev/null || echo ' + uncommitted changes in src/')"
}

build_load_client() {
  log "building the load client"
  timeout 600 dotnet build bench/Berth.LoadClient -c Release -nologo -v q >"$work/build-load.log" 2>&1 ||
    { tail -20 "$work/build-load.log" >&2; exit 1; }
  cp -r bench/Berth.LoadClient/bin/Release/net10.0 "$work/load"
}
client() { timeout --kill-after=5 "$client_timeout" dotnet "$work/load/berth-load.dll" "$@" 2>"$work/client.err"; }
client_err() { tail -c 400 "$work/client.err" 2>/dev/null | tr '\n\t' '  '; }

# --- servers ----------------------------------------------------------------------------------------

start_registries() { # serves $work/berth.yml and $work/distribution.yml; fills url and pid by server name
  dotnet "$berth_dir/berth.dll" serve "$work/berth.yml" >"$work/berth.log" 2>&1 &
  berth_pid=$!; pids+=("$berth_pid")
  # Distribution 2.8.2 crashes at start-up when AWS_CA_BUNDLE is set, as it is on some machines.
  env -u AWS_CA_BUNDLE docker-registry serve "$work/distribution.yml" >"$work/distribution.log" 2>&1 &
  dist_pid=$!; pids+=("$dist_pid")
  declare -gA url=([berth]="http://127.0.0.1:$berth_port" [distribution]="http://127.0.0.1:$dist_port")
  declare -gA pid=([berth]=$berth_pid [distribution]=$dist_pid)
}

wait_ready() { # url
  for _ in $(seq 1 300); do
    curl -fsS --max-time 1 -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "bench: $1 did not come up" >&2; return 1
}

# --- measurements both scripts take alike ---------------------------------------------------------------

begin_round() { # ROUND: sets order, the servers first/second alternating so neither always has the quieter turn
  if (( $1 % 2 == 1 )); then order=(berth distribution); else order=(distribution berth); fi
  log "round $1/$rounds: ${order[*]}"
}

list_run() { # subject round figure url expect
  local line
  line=$(client list --url "$4" --repeat "$list_repeat" --max-seconds "$list_max_seconds" --expect-items "$5") ||
    { note "$1" "$3 round $2 failed: $(client_err)"; return 0; }
  record "$1" "${3}_ms" "$2" "$(kv median_ms <<<"$line")"
  record "$1" "${3}_pages" "$2" "$(kv pages <<<"$line")"
  record "$1" "${3}_items" "$2" "$(kv items <<<"$line")"
}

measure_listings() { # ROUND: bench/tags' tag list whole and paged, and the catalog, for each server in $order
  log "  tags list (whole, pages of $page) and catalog"
  local s
  for s in "${order[@]}"; do
    list_run "$s" "$1" tags_list "${url[$s]}/v2/bench/tags/tags/list" "$tags"
    list_run "$s" "$1" tags_paged "${url[$s]}/v2/bench/tags/tags/list?n=$page" "$tags"
    list_run "$s" "$1" catalog "${url[$s]}/v2/_catalog?n=$catalog_n" "$repos"
  done
}

# --- end of the run --------------------------------------------------------------------------------------

record_resource_use() { # CPU seconds and peak RSS of each server over the whole run, then the run's end metadata
  local ticks s
  ticks=$(getconf CLK_TCK)
  for s in berth distribution; do
    # /proc/PID/stat: fields after "(comm) " start at state; utime and stime are the 12th and 13th.
    record "$s" cpu_s 0 "$(sed 's/^.*) //' "/proc/${pid[$s]}/stat" | awk -v t="$ticks" '{printf "%.1f", ($12 + $13) / t}')"
    record "$s" rss_mib 0 "$(awk '/^VmHWM/{printf "%.1f", $2 / 1024}' "/proc/${pid[$s]}/status")"
  done
  meta load_after "$(cut -d' ' -f1-3 /proc/loadavg)"
  meta duration_total "$(( $(date +%s) - started )) s"
}

write_report() { # to stdout and $out, the raw rows and the table's medians beside it as .tsv, pictures under plots/
  mkdir -p "$(dirname "$out")"
  client report --results "$results" --out "$out" --tsv-out "${out%.md}.tsv"
  log "report written to $out"
  plot_results "${out%.md}.tsv"
}

plot_results() { # draws every curve and summary table of the given .tsv files into plots/ beside them (bench/Berth.Plots)
  local first=$1
  if ! dotnet build "$plots_project" -c Release -nologo -v q -o "$work/plots-bin" >"$work/plots-build.log" 2>&1; then
    log "plots not drawn: bench/Berth.Plots did not build (see $work/plots-build.log)"
    return 0
  fi
  dotnet "$work/plots-bin/berth-plots.dll" --out "$(dirname "$first")/plots" "$@" | sed 's/^/  plot: /'
}
