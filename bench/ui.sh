#!/usr/bin/env bash
# The web UI's render times on this machine, on 127.0.0.1 only: a Berth on the filesystem is filled through the
# registry API with BENCH_UI_TAGS distinct tiny images in one repository (one tag each) and BENCH_UI_REPOS more
# repositories (blobs mounted from it, one tag each), then restarted so that every cache is empty, and each page is
#   - fetched once cold (the first view after the restart: the tag links are read, summaries computed), then
#   - fetched BENCH_UI_REQUESTS times one after another (warm: what a person clicking around gets).
# The repository list, a filtered list, a deep page, the big repository by name and by push time, a deep tag page,
# one image and the storage-use page. There is no Distribution column: registry:2 has no UI.
#
#   bench/ui.sh                                              # 10,000 repositories, 5,000 tags
#   BENCH_UI_REPOS=1000 BENCH_UI_TAGS=500 bench/ui.sh        # smoke
#
# Writes the report to stdout and bench/results/ui-latest.md (raw figures: ui-latest.tsv).
set -euo pipefail
repo_root=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo_root"
# shellcheck source=SCRIPTDIR/lib.sh
. bench/lib.sh

repos=${BENCH_UI_REPOS:-10000}
tags=${BENCH_UI_TAGS:-5000}
requests=${BENCH_UI_REQUESTS:-50}
pushers=${BENCH_PUSHERS:-16}
port=${BENCH_PORT_BASE:-5790}
client_timeout=${BENCH_CLIENT_TIMEOUT:-1800}
out=${BENCH_OUT:-bench/results/ui-latest.md}
tmp_root=${BENCH_TMPDIR:-${TMPDIR:-/tmp}}

require_whole_numbers repos tags requests pushers port client_timeout
(( repos >= 1 && tags >= 100 && requests >= 1 && requests <= 10000 && pushers >= 1 )) ||
  { echo "bench: need repos >= 1, tags >= 100, 1-10000 requests, pushers >= 1" >&2; exit 2; }
require_tools "apt-get install curl" curl dotnet git
require_free_ports "$port"

start_run ui "$tmp_root/berth-bench-ui"
clean_up_on_exit
record_machine_facts bench/ui.sh "$tmp_root"

if [[ -n ${BENCH_BERTH_DIR:-} ]]; then
  use_prebuilt_berth "$BENCH_BERTH_DIR"
else
  build_berth_working_tree "the working tree does not build; BENCH_BERTH_DIR can name a built server folder"
fi
build_load_client
meta berth "$berth_desc"

url="http://127.0.0.1:$port"
mkdir -p "$work/data"
cat >"$work/berth.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $work/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
  secret: bench-ui-secret
YAML

start_berth() {
  dotnet "$berth_dir/berth.dll" serve "$work/berth.yml" >>"$work/berth.log" 2>&1 &
  berth_pid=$!; pids+=("$berth_pid")
  declare -gA pid=([berth]=$berth_pid)
  wait_ready "$url/v2/"
}

start_berth
log "filling: $tags images in bench/tags, $repos repositories"
line=$(client push-images --registry "$url" --repo bench/tags --count "$tags" --concurrency "$pushers" --tag-prefix v) ||
  { echo "bench: push-images failed: $(client_err)" >&2; exit 1; }
record fill push_images_s 0 "$(kv seconds <<<"$line")"
line=$(client populate-repos --registry "$url" --prefix cat/r --from bench/tags --count "$repos" --concurrency "$pushers") ||
  { echo "bench: populate-repos failed: $(client_err)" >&2; exit 1; }
record fill populate_repos_s 0 "$(kv seconds <<<"$line")"

log "restarting Berth: every cache starts empty"
stop_servers
pids=()
start_berth
# The code's first run (JIT, the page templates) is paid on pages of a one-tag repository, so that "cold" below is the
# data's first read, not the runtime's.
for path in "/r/cat/r0000" "/r/cat/r0000:latest" "/?q=no-such-repository" "/sign-in"; do
  curl -fsS -o /dev/null "$url$path" || true
done

middle_page=$(( (repos + 1 + 49) / 50 / 2 )); (( middle_page >= 1 )) || middle_page=1
deep_tag_page=$(( tags / 100 / 2 )); (( deep_tag_page >= 1 )) || deep_tag_page=1
first_tag=v0
# name|path: the pages, in the order a person would meet them
pages=(
  "repositories|/"
  "repositories_filtered|/?q=r00"
  "repositories_page_$middle_page|/?page=$middle_page"
  "repository_by_name|/r/bench/tags"
  "repository_newest|/r/bench/tags?sort=newest"
  "repository_page_$deep_tag_page|/r/bench/tags?sort=newest&page=$deep_tag_page"
  "image|/r/bench/tags:$first_tag"
  "usage|/usage"
)

for entry in "${pages[@]}"; do
  name=${entry%%|*} path=${entry#*|}
  cold=$(curl -fsS -o "$work/page.html" -w '%{time_total}' "$url$path") || { echo "bench: GET $path failed" >&2; exit 1; }
  record "$name" cold_ms 0 "$(awk -v t="$cold" 'BEGIN{printf "%.1f", t * 1000}')"
  record "$name" html_kib 0 "$(( $(stat -c %s "$work/page.html") / 1024 ))"
  if [[ $name == usage ]]; then
    # The repository list's first view started the walk; wait for it to end (0.1 s steps), then measure the page with figures.
    walk_started=$(date +%s%N)
    for _ in $(seq 1 6000); do grep -q 'being measured' "$work/page.html" || break; sleep 0.1; curl -fsS -o "$work/page.html" "$url$path"; done
    record usage walk_wait_ms 0 "$(( ($(date +%s%N) - walk_started) / 1000000 ))"
  fi
  line=$(client load --url "$url$path" --connections 1 --duration 60 --warmup 0 --max-requests "$requests") ||
    { echo "bench: load $path failed: $(client_err)" >&2; exit 1; }
  record "$name" warm_p50_ms 0 "$(kv p50_ms <<<"$line")"
  record "$name" warm_p99_ms 0 "$(kv p99_ms <<<"$line")"
  log "$name: cold $(awk -v t="$cold" 'BEGIN{printf "%.0f", t * 1000}') ms, warm p50 $(kv p50_ms <<<"$line") ms"
done
record berth rss_mib 0 "$(awk '/^VmHWM/{printf "%.1f", $2 / 1024}' "/proc/$berth_pid/status")"
meta load_after "$(cut -d' ' -f1-3 /proc/loadavg)"
meta duration_total "$(( $(date +%s) - started )) s"

# --- report --------------------------------------------------------------------------------------
value() { awk -F'\t' -v s="$1" -v f="$2" '$1 == s && $2 == f { print $4; exit }' "$results"; }
mkdir -p "$(dirname "$out")"
cp "$results" "${out%.md}.tsv"
{
  echo "# Web UI render times"
  echo
  awk -F'\t' '$1 == "meta" { printf "- %s: %s\n", $2, $3 }' "$results"
  echo "- data: $tags distinct images tagged in bench/tags (one tag each), $repos more repositories (one tag each), filesystem storage"
  echo "- fill through the API: push-images $(value fill push_images_s) s, populate-repos $(value fill populate_repos_s) s"
  echo
  echo "Server-side time to the last byte of the page over HTTP on 127.0.0.1 (curl for the cold view right after a"
  echo "restart, then $requests requests one after another for warm p50/p99). Goal: under 300 ms."
  echo
  echo "| page | path | cold ms | warm p50 ms | warm p99 ms | HTML KiB |"
  echo "| --- | --- | ---: | ---: | ---: | ---: |"
  for entry in "${pages[@]}"; do
    name=${entry%%|*} path=${entry#*|}
    echo "| $name | \`$path\` | $(value "$name" cold_ms) | $(value "$name" warm_p50_ms) | $(value "$name" warm_p99_ms) | $(value "$name" html_kib) |"
  done
  echo
  echo "The storage-use walk (every repository's links, each blob stat'ed once) runs in the background from the first view of"
  echo "the repository list; the usage page's first view came $(value usage walk_wait_ms) ms before its figures (0 when the walk had ended)."
  echo "Berth's peak RSS over the measurements: $(value berth rss_mib) MiB."
} | tee "$out"
log "report written to $out"
