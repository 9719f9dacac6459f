#!/usr/bin/env bash
# Listing cost curves: how the catalog (whole and paged) and one repository's tag list (whole and paged) grow with
# 1k / 10k / 100k repositories or tags, Berth beside Distribution 2.8.2 (Debian's docker-registry) in the same run, on
# the filesystem and on S3. See bench/README.md ("Listing cost curves").
#
#   bench/curves.sh                              # filesystem 1k and 10k, S3 1k when S3_* is set (~10-15 min)
#   BENCH_CURVE_MAX=100000 bench/curves.sh       # filesystem up to 100k (under an hour on 2 cores)
#   BENCH_CURVE_MAX=1000 BENCH_CURVE_S3_MAX=0 bench/curves.sh   # smoke
#   set -a; . "$S3_DATA/s3.env"; set +a          # S3_ENDPOINT S3_REGION S3_BUCKET S3_ACCESS_KEY S3_SECRET_KEY
#
# The data is written directly in registry:2's storage layout (berth-load fill-layout), not pushed: both servers
# read that layout, so the listings are those a pushed registry would give, and 100k repositories take minutes
# instead of hours. Both servers serve the SAME root in read-only mode (neither writes on a read then), restarted
# after each fill step so every point's first walk is the first listing a fresh process answers.
#
# Writes bench/results/curves-latest.md and curves-latest.tsv (curve rows for the plotter, raw rows after them).
set -euo pipefail
repo_root=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo_root"
# shellcheck source=SCRIPTDIR/lib.sh
. bench/lib.sh

curve_max=${BENCH_CURVE_MAX:-10000}
s3_max=${BENCH_CURVE_S3_MAX:-1000}
page=${BENCH_PAGE:-100}
list_repeat=${BENCH_LIST_REPEAT:-5}
list_max_seconds=${BENCH_LIST_MAX_SECONDS:-30}
walk_timeout=${BENCH_WALK_TIMEOUT:-180}
fill_concurrency=${BENCH_FILL_CONCURRENCY:-8}
s3_fill_concurrency=${BENCH_S3_FILL_CONCURRENCY:-64}
port_base=${BENCH_PORT_BASE:-5780}
out=${BENCH_OUT:-bench/results/curves-latest.md}
tmp_root=${BENCH_TMPDIR:-${TMPDIR:-/tmp}}
prefix_base=${BENCH_S3_PREFIX:-berth-bench-curves}

require_whole_numbers curve_max s3_max page list_repeat list_max_seconds walk_timeout fill_concurrency s3_fill_concurrency port_base
(( page >= 1 && list_repeat >= 1 && walk_timeout >= 1 && fill_concurrency >= 1 && s3_fill_concurrency >= 1 )) ||
  { echo "bench: page, list repeat, walk timeout and fill concurrency must be >= 1" >&2; exit 2; }
require_tools "apt-get install docker-registry curl" curl docker-registry dotnet git sha256sum
points_up_to() { local x; for x in 1000 10000 100000; do (( x <= $1 )) && echo "$x"; done; return 0; }
mapfile -t fs_points < <(points_up_to "$curve_max")
(( ${#fs_points[@]} > 0 || curve_max == 0 )) || { echo "bench: BENCH_CURVE_MAX must be 0 (no filesystem points) or at least 1000" >&2; exit 2; }
use_s3=0
if (( s3_max >= 1000 )) && [[ -n ${S3_ENDPOINT:-} ]]; then
  for v in S3_BUCKET S3_ACCESS_KEY S3_SECRET_KEY; do
    [[ -n ${!v:-} ]] || { echo "bench: $v is not set (S3_ENDPOINT S3_REGION S3_BUCKET S3_ACCESS_KEY S3_SECRET_KEY)" >&2; exit 2; }
  done
  curl -sS --max-time 5 -o /dev/null "$S3_ENDPOINT" || { echo "bench: the object store at $S3_ENDPOINT does not answer" >&2; exit 2; }
  use_s3=1
fi
mapfile -t s3_points < <(points_up_to "$s3_max")
(( ${#fs_points[@]} > 0 || use_s3 )) || { echo "bench: nothing to measure: BENCH_CURVE_MAX=0 needs the S3 points (S3_* set, BENCH_CURVE_S3_MAX >= 1000)" >&2; exit 2; }
region=${S3_REGION:-us-east-1}
[[ $prefix_base =~ ^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$ ]] || { echo "bench: BENCH_S3_PREFIX must be a plain key prefix" >&2; exit 2; }

berth_port=$port_base dist_port=$((port_base + 1))
require_free_ports "$berth_port" "$dist_port"

start_run curves "$tmp_root/berth-curves"
run_prefix="$prefix_base/$(date -u +%Y%m%d-%H%M%S)-$(basename "$work" | sed 's/.*\.//')"
delete_run_prefix() {
  (( use_s3 )) && [[ -f $work/load/berth-load.dll ]] || return 0
  local line
  if line=$(timeout --kill-after=5 900 dotnet "$work/load/berth-load.dll" s3-delete-prefix --endpoint "$S3_ENDPOINT" --region "$region" \
      --bucket "$S3_BUCKET" --prefix "$run_prefix" --timeout 880 2>>"$work/client.err"); then log "deleted from the store: $line"
  else log "WARNING: could not delete s3://$S3_BUCKET/$run_prefix/: $(tail -c 300 "$work/client.err" 2>/dev/null)"; fi
}
cleanup_also=delete_run_prefix
(( use_s3 )) && cleanup_also_words="deleting s3://$S3_BUCKET/$run_prefix/, "
clean_up_on_exit

# --- build ---------------------------------------------------------------------------------------
if [[ -n ${BENCH_BERTH_DIR:-} ]]; then
  use_prebuilt_berth "$BENCH_BERTH_DIR"
else
  # shellcheck disable=SC2119  # no hint on failure
  build_berth_working_tree
fi
build_load_client

# --- metadata ------------------------------------------------------------------------------------
record_machine_facts bench/curves.sh "$work"
meta berth_commit "$berth_desc"
meta distribution_version "$(docker-registry --version | awk '{print $3}')"
meta parameters "fs_points=${fs_points[*]:-none} s3_points=$( (( use_s3 )) && echo "${s3_points[*]}" || echo none) page=$page list_repeat=$list_repeat list_max_seconds=$list_max_seconds walk_timeout=${walk_timeout}s"
meta data "written directly in registry:2's layout (berth-load fill-layout): one tiny schema2 image, blobs stored once; repositories cat/rNNNNNN with tag latest; tags tNNNNNN in bench/tags (so the catalog lists N + 1 repositories); both servers serve the same root, read-only"
(( use_s3 )) && meta s3 "$S3_ENDPOINT bucket $S3_BUCKET (Ceph RGW from ../shared/tools/s3), both servers on one rootdirectory"

# --- servers -------------------------------------------------------------------------------------
# Read-only: neither server writes anything (no upload purging, no catalog or tag-list version tokens), so one filled
# root serves both, and what one does cannot change what the other lists. maxentries lets the whole catalog be one page.
registry_config() { # name port storage-yaml
  cat >"$work/$1.yml" <<YAML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
http: {addr: 127.0.0.1:$2, secret: bench-secret}
catalog: {maxentries: 1000000}
storage:
$3
  redirect: {disable: true}
  maintenance: {readonly: {enabled: true}, uploadpurging: {enabled: false}}
YAML
}
configure_fs() {
  local storage="  filesystem: {rootdirectory: $work/fs-data}"
  registry_config berth "$berth_port" "$storage"
  registry_config distribution "$dist_port" "$storage"
}
configure_s3() {
  local secure=false storage
  [[ $S3_ENDPOINT == https:* ]] && secure=true
  # forcepathstyle and checksums are Berth's keys (Distribution 2.8.2 ignores them, as in bench/s3.sh).
  storage="  s3: {region: $region, regionendpoint: $S3_ENDPOINT, bucket: $S3_BUCKET, rootdirectory: /$run_prefix/layout, forcepathstyle: true, secure: $secure, v4auth: true, checksums: whenrequired}"
  registry_config berth "$berth_port" "$storage"
  registry_config distribution "$dist_port" "$storage"
}
up() {
  if [[ $store == s3 ]]; then export REGISTRY_STORAGE_S3_ACCESSKEY=$S3_ACCESS_KEY REGISTRY_STORAGE_S3_SECRETKEY=$S3_SECRET_KEY; fi
  start_registries
  unset REGISTRY_STORAGE_S3_ACCESSKEY REGISTRY_STORAGE_S3_SECRETKEY
  local s
  for s in berth distribution; do wait_ready "${url[$s]}/v2/" || { tail -20 "$work/$s.log" >&2; exit 1; }; done
}
down() { # stops this point's servers, keeping their peak RSS and CPU for the raw rows
  local s ticks
  ticks=$(getconf CLK_TCK)
  for s in berth distribution; do
    printf 'resources\t%s\t%s\t%s\t%s\t%s\n' "$store" "$s" "$x" \
      "$(sed 's/^.*) //' "/proc/${pid[$s]}/stat" | awk -v t="$ticks" '{printf "%.1f", ($12 + $13) / t}')" \
      "$(awk '/^VmHWM/{printf "%.1f", $2 / 1024}' "/proc/${pid[$s]}/status")" >>"$results"
  done
  stop_servers
  pids=()
}

fill() { # from to: repositories and tags [from, to)
  local target line
  if [[ $store == fs ]]; then target=(--dir "$work/fs-data") conc=$fill_concurrency
  else target=(--s3-endpoint "$S3_ENDPOINT" --region "$region" --bucket "$S3_BUCKET" --prefix "$run_prefix/layout") conc=$s3_fill_concurrency; fi
  log "$store: writing the layout for repositories and tags $1..$2 ($conc at once)"
  line=$(client_timeout=3300 client fill-layout "${target[@]}" --repos-from "$1" --repos-to "$2" --tags-from "$1" --tags-to "$2" \
    --blobs "$( (( $1 == 0 )) && echo true || echo false)" --concurrency "$conc" --timeout 3200) ||
    { echo "bench: $store: fill-layout failed: $(client_err)" >&2; exit 1; }
  log "  $line"
  manifest_digest=$(kv manifest_digest <<<"$line")
  printf 'fill\t%s\t%s\t%s\t%s\n' "$store" "$2" "$(kv files <<<"$line")" "$(kv seconds <<<"$line")" >>"$results"
}

check_pull() { # the filled image pulls from each server by tag, with the digest the fill wrote
  local s ref got
  for s in berth distribution; do
    for ref in cat/r000000/manifests/latest bench/tags/manifests/t000000; do
      got=$(curl -fsS --max-time 30 -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' "${url[$s]}/v2/$ref" | sha256sum | cut -d' ' -f1) ||
        got="(failed)"
      [[ "sha256:$got" == "$manifest_digest" ]] || { echo "bench: $store: $s answered $ref with sha256:$got, want $manifest_digest" >&2; exit 1; }
    done
  done
  log "  $store: both servers serve the filled image by tag ($manifest_digest)"
}

walk() { # listing server url expect
  local line subject
  subject="${1} $store $x"
  line=$(client_timeout=$((list_max_seconds + 2 * walk_timeout + 60)) client list-curve --url "$3" --repeat "$list_repeat" \
    --max-seconds "$list_max_seconds" --walk-timeout "$walk_timeout" --expect-items "$4") ||
    { note "$2" "$subject failed: $(client_err)"; return 0; }
  if [[ $line == timed_out_s=* ]]; then
    printf 'timeout\t%s\t%s\t%s\t%s\t%s\n' "$store" "$1" "${name[$2]}" "$x" "$walk_timeout" >>"$results"
    log "    ${name[$2]} $1: gave up after ${walk_timeout}s"
    return 0
  fi
  printf 'walk\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$store" "$1" "${name[$2]}" "$x" "$(kv first_ms <<<"$line")" "$(kv median_ms <<<"$line")" \
    "$(kv walks <<<"$line")" "$(kv pages <<<"$line")" "$(kv items <<<"$line")" >>"$results"
  log "    ${name[$2]} $1: $line"
}
declare -A name=([berth]=Berth [distribution]=Distribution)

# --- the curves ----------------------------------------------------------------------------------
stores=(); (( ${#fs_points[@]} > 0 )) && stores+=(fs); (( use_s3 )) && stores+=(s3)
turn=0
for store in "${stores[@]}"; do
  if [[ $store == fs ]]; then configure_fs; points=("${fs_points[@]}"); else configure_s3; points=("${s3_points[@]}"); fi
  filled=0
  for x in "${points[@]}"; do
    fill "$filled" "$x"
    filled=$x
    up
    (( x == points[0] )) && check_pull
    # The catalog lists the tag repository too; the order alternates so neither server always goes first.
    turn=$((turn + 1))
    if (( turn % 2 == 1 )); then order=(berth distribution); else order=(distribution berth); fi
    log "$store at $x: ${order[*]}"
    for s in "${order[@]}"; do
      walk catalog-whole "$s" "${url[$s]}/v2/_catalog?n=1000000" $((x + 1))
      walk catalog-paged "$s" "${url[$s]}/v2/_catalog?n=$page" $((x + 1))
      walk tags-whole "$s" "${url[$s]}/v2/bench/tags/tags/list" "$x"
      walk tags-paged "$s" "${url[$s]}/v2/bench/tags/tags/list?n=$page" "$x"
    done
    down
  done
done

meta load_after "$(cut -d' ' -f1-3 /proc/loadavg)"
meta duration_total "$(( $(date +%s) - started )) s"
mkdir -p "$(dirname "$out")"
client curve-report --results "$results" --out "$out"
log "report written to $out and ${out%.md}.tsv"
plot_results "${out%.md}.tsv"
