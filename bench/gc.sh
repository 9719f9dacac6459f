#!/usr/bin/env bash
# Garbage-collection cost curve: time and peak memory of one collection at growing blob counts, Berth ONLINE (its
# scheduled collector inside `berth serve`, with clients pulling kept images meanwhile) against Distribution 2.8.2's
# OFFLINE `docker-registry garbage-collect`, on the filesystem and on S3. See bench/README.md ("Garbage collection").
#
#   bench/gc.sh                                     # filesystem 10k and 100k blobs; S3 10k when S3_* is set
#   BENCH_GC_MAX=1000000 bench/gc.sh                # adds 1M blobs on the filesystem (under an hour on 2 cores)
#   BENCH_GC_FS_SIZES=1000 BENCH_GC_S3_SIZES=1000 bench/gc.sh   # smoke, about 2 minutes
#
# The data is written straight into registry:2's storage layout (bench/Berth.LoadClient gc-fill), once per registry
# and size, with identical digests: N blobs of tiny images (manifest, config, three layers), half of the images
# tagged, half deleted (revision and tag links gone, blobs and layer links left, as a manifest DELETE leaves them).
# Both registries must delete exactly the deleted images' blobs; gc-count checks every blob left against that set.
#
# Writes bench/results/gc-latest.md and gc-latest.tsv (curve rows for the plotter). Everything it started is stopped
# and everything it wrote (temp directories, its S3 prefix) is deleted on exit, including Ctrl-C.
set -euo pipefail
repo_root=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo_root"
# shellcheck source=SCRIPTDIR/lib.sh
. bench/lib.sh

max=${BENCH_GC_MAX:-100000}
s3_max=${BENCH_GC_S3_MAX:-10000}
sizes_up_to() { local s; for s in 1000 10000 100000 1000000; do (( s <= $1 )) && printf '%s ' "$s"; done; return 0; }
fs_sizes=${BENCH_GC_FS_SIZES-$(sizes_up_to "$max")}
s3_sizes=${BENCH_GC_S3_SIZES-$(sizes_up_to "$s3_max")}
gc_delay=${BENCH_GC_DELAY:-20}
pull_rate=${BENCH_GC_PULL_RATE:-50}
pullers=${BENCH_GC_PULLERS:-2}
fill_concurrency=${BENCH_GC_FILL_CONCURRENCY:-32}
gc_timeout=${BENCH_GC_TIMEOUT:-2400}
port_base=${BENCH_PORT_BASE:-5870}
out=${BENCH_OUT:-bench/results/gc-latest.md}
tmp_root=${BENCH_TMPDIR:-${TMPDIR:-/tmp}}
prefix_base=${BENCH_S3_PREFIX:-berth-bench-gc}

require_whole_numbers max s3_max gc_delay pull_rate pullers fill_concurrency gc_timeout port_base
for n in $fs_sizes $s3_sizes; do
  [[ $n =~ ^[0-9]+$ ]] && (( n >= 10 && n % 10 == 0 )) || { echo "bench: blob counts must be multiples of 10, got '$n'" >&2; exit 2; }
done
(( gc_delay >= 10 )) || { echo "bench: BENCH_GC_DELAY must be at least 10 s (start-up, warm-up and the baseline come first)" >&2; exit 2; }
require_tools "apt-get install docker-registry curl" curl docker-registry dotnet git /usr/bin/time
if [[ -n $s3_sizes && -z ${S3_ENDPOINT:-} ]]; then
  echo "bench: S3_ENDPOINT is not set; skipping S3 (start ../shared/tools/s3/start-s3.sh and source its s3.env to include it)" >&2
  s3_sizes=""
fi
if [[ -n $s3_sizes ]]; then
  for v in S3_BUCKET S3_ACCESS_KEY S3_SECRET_KEY; do
    [[ -n ${!v:-} ]] || { echo "bench: $v is not set (S3_ENDPOINT S3_REGION S3_BUCKET S3_ACCESS_KEY S3_SECRET_KEY)" >&2; exit 2; }
  done
  curl -sS --max-time 5 -o /dev/null "$S3_ENDPOINT" || { echo "bench: the object store at $S3_ENDPOINT does not answer" >&2; exit 2; }
fi
region=${S3_REGION:-us-east-1}

berth_port=$port_base
require_free_ports "$berth_port"

start_run gcbench "$tmp_root/berth-gcbench"
run_prefix="$prefix_base/$(date -u +%Y%m%d-%H%M%S)-$(basename "$work" | sed 's/.*\.//')"
s3_delete() { # prefix below the bucket; needs the load client
  [[ -f $work/load/berth-load.dll ]] || return 0
  timeout --kill-after=5 1200 dotnet "$work/load/berth-load.dll" s3-delete-prefix --endpoint "$S3_ENDPOINT" --region "$region" \
    --bucket "$S3_BUCKET" --prefix "$1" --timeout 1180 2>>"$work/client.err"
}
delete_run_prefix() {
  [[ -n $s3_sizes ]] || return 0
  s3_delete "$run_prefix" >/dev/null || log "WARNING: could not delete s3://$S3_BUCKET/$run_prefix/"
}
cleanup_also=delete_run_prefix
[[ -z $s3_sizes ]] || cleanup_also_words="deleting s3://$S3_BUCKET/$run_prefix/, "
clean_up_on_exit

if [[ -n ${BENCH_BERTH_DIR:-} ]]; then
  use_prebuilt_berth "$BENCH_BERTH_DIR"
else
  # shellcheck disable=SC2119  # no hint needed
  build_berth_working_tree
fi
build_load_client
client_timeout=$gc_timeout

record_machine_facts bench/gc.sh "$tmp_root"
meta berth_commit "$berth_desc"
meta parameters "fs sizes: ${fs_sizes:-none}; S3 sizes: ${s3_sizes:-none}; online collection ${gc_delay}s after start-up, grace period 0s; pull loop $pullers clients at $pull_rate images/s"
[[ -z $s3_sizes ]] || meta storage_s3 "$S3_ENDPOINT bucket $S3_BUCKET, one prefix per fill"

# --- where a fill goes, and each registry's storage section ------------------------------------------------
target_args() { # backend name -> gc-fill/gc-count arguments
  if [[ $1 == fs ]]; then echo "--root $work/$2"
  else echo "--endpoint $S3_ENDPOINT --region $region --bucket $S3_BUCKET --prefix $run_prefix/$2"; fi
}
storage_section() { # backend name
  if [[ $1 == fs ]]; then
    printf '  filesystem: {rootdirectory: %s}\n' "$work/$2"
  else
    local secure=false; [[ $S3_ENDPOINT == https:* ]] && secure=true
    printf '  s3: {region: %s, regionendpoint: %s, bucket: %s, rootdirectory: /%s, forcepathstyle: true, secure: %s, v4auth: true, checksums: whenrequired}\n' \
      "$region" "$S3_ENDPOINT" "$S3_BUCKET" "$run_prefix/$2" "$secure"
  fi
}
drop_fill() { # backend name
  if [[ $1 == fs ]]; then rm -rf "${work:?}/$2"; else s3_delete "$run_prefix/$2" >/dev/null || log "WARNING: could not delete $run_prefix/$2"; fi
}
fill() { # backend name blobs [extra args]: fills and logs its rate
  local line
  # shellcheck disable=SC2046  # target_args is meant to split into words
  line=$(client gc-fill $(target_args "$1" "$2") --blobs "$3" --concurrency "$fill_concurrency" "${@:4}") ||
    { log "fill failed: $(client_err)"; exit 1; }
  log "  filled $2: $line"
  record "$1-$3" "${2%%-*}_fill_s" 0 "$(kv seconds <<<"$line")"
}
count_left() { # backend name blobs subject
  local line
  # shellcheck disable=SC2046
  line=$(client gc-count $(target_args "$1" "$2") --blobs "$3") || { note "$4" "count failed: $(client_err)"; return 0; }
  log "  after $4's collection: $line"
  local k; for k in left expected missing extra; do record "$1-$3" "${4}_$k" 0 "$(kv "$k" <<<"$line")"; done
}
# Keys reach the registries through the environment (both read these), never the config files, and only for S3: set at
# all, they make Distribution see an s3 storage section beside the filesystem one and refuse to start.
credentials() { # backend -> sets cred_env
  cred_env=()
  [[ $1 == s3 ]] && cred_env=("REGISTRY_STORAGE_S3_ACCESSKEY=$S3_ACCESS_KEY" "REGISTRY_STORAGE_S3_SECRETKEY=$S3_SECRET_KEY")
  return 0
}

# --- Distribution: offline garbage-collect, timed, peak RSS from /usr/bin/time -------------------------------
distribution_gc() { # backend blobs
  local name="dist-$2"
  fill "$1" "$name" "$2"
  { printf 'version: 0.1\nlog: {level: error}\nstorage:\n'; storage_section "$1" "$name"; printf '  delete: {enabled: true}\n'; } >"$work/$name.yml"
  log "  distribution: docker-registry garbage-collect"
  credentials "$1"
  # It prints one line per blob it marks or deletes; that output is part of its work, kept out of the terminal.
  if ! env -u AWS_CA_BUNDLE "${cred_env[@]}" timeout "$gc_timeout" /usr/bin/time -v docker-registry garbage-collect "$work/$name.yml" \
      >"$work/$name.gc.out" 2>"$work/$name.gc.err"; then
    note "distribution" "$1 $2 blobs: garbage-collect failed: $(grep -v '^\s' "$work/$name.gc.err" | tail -3 | tr '\n' ' ')"
  fi
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/{n=split($2,t,":"); s=0; for(i=1;i<=n;i++) s=s*60+t[i]; printf "%.1f", s}' "$work/$name.gc.err")
  rss=$(awk '/Maximum resident set size/{printf "%.1f", $NF/1024}' "$work/$name.gc.err")
  log "  distribution: ${wall}s, peak RSS ${rss} MiB"
  record "$1-$2" dist_s 0 "$wall"
  record "$1-$2" dist_rss_mib 0 "$rss"
  count_left "$1" "$name" "$2" dist
  drop_fill "$1" "$name"
}

# --- Berth: the scheduled online collection inside `berth serve`, with a pull loop running ---------------------
hwm_mib() { awk '/^VmHWM/{printf "%.1f", $2 / 1024}' "/proc/$1/status"; }
berth_gc() { # backend blobs
  local name="berth-$2"
  fill "$1" "$name" "$2" --pull-list "$work/$name.pull" --pull-images 200
  {
    printf 'version: 0.1\nlog: {level: info, accesslog: {disabled: true}}\nhttp: {addr: 127.0.0.1:%s, secret: bench-secret}\nstorage:\n' "$berth_port"
    storage_section "$1" "$name"
    # Redirects off, as in bench/s3.sh: the pull loop's blob bytes come through Berth, not straight from the store.
    printf '  delete: {enabled: true}\n  redirect: {disable: true}\n'
    # The first scheduled run starts one interval after start-up: that is the deterministic trigger. Grace period 0,
    # because the fill is seconds old (the default 1h would rightly keep everything).
    printf '  maintenance:\n    uploadpurging: {enabled: false}\n    garbagecollection: {enabled: true, interval: %ss, graceperiod: 0s}\n' "$gc_delay"
  } >"$work/$name.yml"
  local launched; launched=$(date +%s)
  credentials "$1"
  env "${cred_env[@]}" dotnet "$berth_dir/berth.dll" serve "$work/$name.yml" >"$work/$name.log" 2>&1 &
  local server=$!; pids+=("$server")
  wait_ready "http://127.0.0.1:$berth_port/v2/" || { tail -20 "$work/$name.log" >&2; exit 1; }
  rm -f "$work/stop-pulls"
  client gc-pull --registry "http://127.0.0.1:$berth_port" --list "$work/$name.pull" --stop-file "$work/stop-pulls" \
    --rate "$pull_rate" --concurrency "$pullers" --max-seconds "$gc_timeout" >"$work/$name.pulls" 2>"$work/$name.pulls.err" &
  local puller=$!; pids+=("$puller")
  # A few seconds of pulls before the baseline, so it holds what serving pulls costs and the growth is the collection's.
  sleep 4
  kill -0 "$server" 2>/dev/null || { tail -20 "$work/$name.log" >&2; exit 1; }
  local before; before=$(hwm_mib "$server")
  if grep -q 'Garbage collection started' "$work/$name.log"; then
    note "berth" "$1 $2 blobs: the collection started before the baseline was read; raise BENCH_GC_DELAY"
  fi
  log "  berth: serving, pulls running, VmHWM ${before} MiB; collection due $(( launched + gc_delay - $(date +%s) ))s from now"
  local line="" deadline=$(( launched + gc_delay + gc_timeout ))
  while (( $(date +%s) < deadline )); do
    line=$(grep -m1 'Garbage collection: ' "$work/$name.log" || true)
    [[ -n $line ]] && break
    kill -0 "$server" 2>/dev/null || { tail -20 "$work/$name.log" >&2; exit 1; }
    sleep 0.5
  done
  local after; after=$(hwm_mib "$server")
  touch "$work/stop-pulls"
  wait "$puller" || true
  local pulls; pulls=$(cat "$work/$name.pulls")
  kill -TERM "$server"; wait "$server" 2>/dev/null || true
  [[ -n $line ]] || { note "berth" "$1 $2 blobs: no collection finished within ${gc_timeout}s"; return 0; }
  local seconds; seconds=$(sed -E 's/.* in ([0-9.]+)s \(dry run.*/\1/' <<<"$line")
  log "  berth: ${seconds}s ($(sed -E 's/.*Garbage collection: ([^,]*), ([^,]*),.*/\1, \2/' <<<"$line")), VmHWM ${before} -> ${after} MiB; pulls: $pulls"
  record "$1-$2" berth_s 0 "$seconds"
  record "$1-$2" berth_hwm_before_mib 0 "$before"
  record "$1-$2" berth_hwm_mib 0 "$after"
  record "$1-$2" berth_growth_mib 0 "$(awk -v a="$after" -v b="$before" 'BEGIN{printf "%.1f", a - b}')"
  record "$1-$2" pulls 0 "$(kv pulls <<<"$pulls")"
  record "$1-$2" pull_failures 0 "$(kv failures <<<"$pulls")"
  record "$1-$2" pull_p99_ms 0 "$(kv p99_ms <<<"$pulls")"
  [[ $(kv failures <<<"$pulls") == 0 ]] || note "berth" "$1 $2 blobs: pull failures during the collection: $(kv first_error <<<"$pulls")"
  count_left "$1" "$name" "$2" berth
  drop_fill "$1" "$name"
}

turn=0
for backend in fs s3; do
  sizes=$fs_sizes; [[ $backend == s3 ]] && sizes=$s3_sizes
  for n in $sizes; do
    log "$backend, $n blobs"
    # Alternate who goes first, so neither always meets the same moment of a busy machine.
    if (( turn++ % 2 == 0 )); then distribution_gc "$backend" "$n"; berth_gc "$backend" "$n"
    else berth_gc "$backend" "$n"; distribution_gc "$backend" "$n"; fi
  done
done
meta load_after "$(cut -d' ' -f1-3 /proc/loadavg)"
meta duration_total "$(( $(date +%s) - started )) s"

# --- report: curve rows for the plotter, and the markdown tables ------------------------------------------------
mkdir -p "$(dirname "$out")"
tsv=${out%.md}.tsv
awk -F'\t' -v fs_sizes="$fs_sizes" -v s3_sizes="$s3_sizes" -v tsv="$tsv" -v md="$out" -f bench/gc-report.awk "$results"
log "report written to $out (curves in $tsv)"
plot_results "$tsv"
cat "$out"
