#!/usr/bin/env bash
# Berth against Distribution 2.8.2 (Debian's docker-registry) over the SAME S3-compatible object store, side by
# side on 127.0.0.1 with equivalent configurations (each its own key prefix in one bucket, redirects off so blob
# bytes flow through the registry). Every figure is taken for both servers in each round, the order alternating
# between rounds; the report holds the medians and every round's figure. See bench/README.md ("S3").
#
#   set -a; . /path/to/s3.env; set +a        # S3_ENDPOINT S3_REGION S3_BUCKET S3_ACCESS_KEY S3_SECRET_KEY
#   bench/s3.sh                              # 3 rounds, 1 GiB blob, 5,000 tags, 300 repositories
#   BENCH_BLOB_MIB=512 bench/s3.sh           # a small RAM-backed store: each push holds about twice the blob for a while
#   BENCH_ROUNDS=1 BENCH_BLOB_MIB=64 BENCH_TAGS=500 BENCH_REPOS=50 BENCH_SETTLE=0 bench/s3.sh   # smoke
#
# Each round also measures the store's own ceiling: the AWS SDK (berth-load s3-put / s3-get) uploading the same file
# as a multipart upload with Berth's part size (chunksize) and Berth's part concurrency (one at a time), and reading
# it back in one streamed GET, as Berth does with redirects disabled; the report gives Berth/ceiling.
#
# Writes the report to stdout and bench/results/s3-latest.md (raw figures and curve rows for the plotter:
# s3-latest.tsv). Everything it started
# is stopped and everything it wrote below its bucket prefix is deleted on exit, including Ctrl-C.
set -euo pipefail
repo_root=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo_root"
# shellcheck source=SCRIPTDIR/lib.sh
. bench/lib.sh

rounds=${BENCH_ROUNDS:-3}
blob_mib=${BENCH_BLOB_MIB:-1024}
tags=${BENCH_TAGS:-5000}
page=${BENCH_PAGE:-100}
repos=${BENCH_REPOS:-300}
catalog_n=${BENCH_CATALOG_N:-1000}
fill_concurrency=${BENCH_FILL_CONCURRENCY:-64}
fill_timeout=${BENCH_FILL_TIMEOUT:-600}
list_repeat=${BENCH_LIST_REPEAT:-5}
list_max_seconds=120
settle=${BENCH_SETTLE:-120}
chunksize=${BENCH_S3_CHUNKSIZE:-10485760}
port_base=${BENCH_PORT_BASE:-5680}
verify=${BENCH_VERIFY:-1}
out=${BENCH_OUT:-bench/results/s3-latest.md}
tmp_root=${BENCH_TMPDIR:-${TMPDIR:-/tmp}}
prefix_base=${BENCH_S3_PREFIX:-berth-bench-s3}

require_whole_numbers rounds blob_mib tags page repos catalog_n fill_concurrency fill_timeout list_repeat settle chunksize port_base
(( rounds >= 1 && blob_mib >= 1 && tags >= 1 && page >= 1 && repos >= 1 && fill_concurrency >= 1 && list_repeat >= 1 )) ||
  { echo "bench: rounds, blob, tags, page, repos, fill concurrency and list repeat must be >= 1" >&2; exit 2; }
for v in S3_ENDPOINT S3_BUCKET S3_ACCESS_KEY S3_SECRET_KEY; do
  [[ -n ${!v:-} ]] || { echo "bench: $v is not set (S3_ENDPOINT S3_REGION S3_BUCKET S3_ACCESS_KEY S3_SECRET_KEY)" >&2; exit 2; }
done
region=${S3_REGION:-us-east-1}
[[ $prefix_base =~ ^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$ ]] || { echo "bench: BENCH_S3_PREFIX must be a plain key prefix" >&2; exit 2; }
require_tools "apt-get install docker-registry curl openssl" curl openssl docker-registry dotnet git
curl -sS --max-time 5 -o /dev/null "$S3_ENDPOINT" || { echo "bench: the object store at $S3_ENDPOINT does not answer" >&2; exit 2; }

berth_port=$port_base dist_port=$((port_base + 1))
require_free_ports "$berth_port" "$dist_port"

start_run s3bench "$tmp_root/berth-s3bench"
# One prefix per run: <base>/<time>-<random>/{berth,distribution}. Deleted whole on exit.
run_prefix="$prefix_base/$(date -u +%Y%m%d-%H%M%S)-$(basename "$work" | sed 's/.*\.//')"
s3_delete() { # prefix (relative to the bucket); needs the load client
  [[ -f $work/load/berth-load.dll ]] || return 0
  timeout --kill-after=5 600 dotnet "$work/load/berth-load.dll" s3-delete-prefix --endpoint "$S3_ENDPOINT" --region "$region" \
    --bucket "$S3_BUCKET" --prefix "$1" --timeout 580 2>>"$work/client.err"
}
delete_run_prefix() {
  local line
  if line=$(s3_delete "$run_prefix"); then log "deleted from the store: $line"
  else log "WARNING: could not delete s3://$S3_BUCKET/$run_prefix/: $(tail -c 300 "$work/client.err" 2>/dev/null)"; fi
}
cleanup_also=delete_run_prefix
cleanup_also_words="deleting s3://$S3_BUCKET/$run_prefix/, "
clean_up_on_exit

# --- build (as run.sh, without BENCH_BERTH_REF) ----------------------------------------------------
if [[ -n ${BENCH_BERTH_DIR:-} ]]; then
  use_prebuilt_berth "$BENCH_BERTH_DIR"
else
  # shellcheck disable=SC2119  # no hint on failure: there is no BENCH_BERTH_REF here to suggest
  build_berth_working_tree
fi
build_load_client

# --- data ----------------------------------------------------------------------------------------
blob=$work/blob
log "generating a $blob_mib MiB random file"
head -c $(( blob_mib * 1024 * 1024 )) /dev/urandom >"$blob"
blob_bytes=$(( blob_mib * 1024 * 1024 ))

# --- servers: the same storage section, each its own rootdirectory ---------------------------------
# Keys go to the servers through REGISTRY_STORAGE_S3_ACCESSKEY/SECRETKEY (both read them), not the files.
# forcepathstyle and checksums are Berth's keys (Distribution 2.8.2 ignores them and uses path style
# whenever regionendpoint is set); the rest are registry:2's, with the same values for both.
secure=false; [[ $S3_ENDPOINT == https:* ]] && secure=true
registry_config() { # name port
  cat >"$work/$1.yml" <<YAML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
http: {addr: 127.0.0.1:$2, secret: bench-secret}
storage:
  s3:
    region: $region
    regionendpoint: $S3_ENDPOINT
    bucket: $S3_BUCKET
    rootdirectory: /$run_prefix/$1
    forcepathstyle: true
    secure: $secure
    v4auth: true
    chunksize: $chunksize
    checksums: whenrequired
  delete: {enabled: true}
  redirect: {disable: true}
  maintenance: {uploadpurging: {enabled: false}}
YAML
}

registry_config berth "$berth_port"
registry_config distribution "$dist_port"
export REGISTRY_STORAGE_S3_ACCESSKEY=$S3_ACCESS_KEY REGISTRY_STORAGE_S3_SECRETKEY=$S3_SECRET_KEY
start_registries
unset REGISTRY_STORAGE_S3_ACCESSKEY REGISTRY_STORAGE_S3_SECRETKEY

for s in berth distribution; do
  wait_ready "${url[$s]}/v2/" || { tail -20 "$work/$s.log" >&2; exit 1; }
done
log "servers up: berth :$berth_port (pid $berth_pid), distribution :$dist_port (pid $dist_pid), store $S3_ENDPOINT bucket $S3_BUCKET prefix $run_prefix/"

# --- metadata ------------------------------------------------------------------------------------
meta title "over S3 (same object store)"
meta show_rounds 1
meta date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
meta command "$(env | grep -E '^BENCH_' | sort | tr '\n' ' ')bench/s3.sh"
meta machine "$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo), $(free -g | awk '/^Mem:/{print $2}') GiB RAM"
meta cores "$(nproc)"
meta kernel "$(uname -r)"
meta storage "S3 at $S3_ENDPOINT, bucket $S3_BUCKET, one prefix per server; chunksize $chunksize; redirects disabled; no blob descriptor cache"
meta berth_commit "$berth_desc"
meta distribution_version "$(docker-registry --version | awk '{print $3}')"
meta load_before "$(cut -d' ' -f1-3 /proc/loadavg)"
meta parameters "rounds=$rounds blob=${blob_mib}MiB tags=$tags page=$page repos=$repos catalog_n=$catalog_n fill_concurrency=$fill_concurrency list_repeat=$list_repeat settle=${settle}s"
for k in rounds blob_mib tags page repos catalog_n chunksize; do meta "$k" "${!k}"; done

# --- fill each registry: one tiny image tagged $tags times (concurrent manifest PUTs), $repos repositories
for s in berth distribution; do
  log "$s: populating $tags tags ($fill_concurrency concurrent manifest PUTs) and $repos repositories"
  line=$(client_timeout=$((fill_timeout + 30)) client populate-tags --registry "${url[$s]}" --repo bench/tags --count "$tags" \
    --concurrency "$fill_concurrency" --timeout "$fill_timeout") ||
    { echo "bench: $s: populate-tags failed: $(client_err)" >&2; exit 1; }
  record "$s" populate_tags_s 0 "$(kv seconds <<<"$line")"
  line=$(client_timeout=$((fill_timeout + 30)) client populate-repos --registry "${url[$s]}" --prefix cat/r --from bench/tags --count "$repos" \
    --concurrency "$fill_concurrency" --timeout "$fill_timeout") ||
    { echo "bench: $s: populate-repos failed: $(client_err)" >&2; exit 1; }
  record "$s" populate_repos_s 0 "$(kv seconds <<<"$line")"
done

# --- measurements --------------------------------------------------------------------------------
salt=0
push() { # subject round -> sets last_digest
  salt=$((salt + 1))
  local line
  if line=$(client push-blob --registry "${url[$1]}" --repo bench/blob --file "$blob" --chunk-bytes 0 --salt "$salt" --timeout 600); then
    record "$1" push_mono_mbps "$2" "$(kv mbps <<<"$line")"
    last_digest=$(kv digest <<<"$line")
  else
    note "$1" "push round $2 failed: $(client_err)"; last_digest=""
  fi
}
pull() { # subject round url
  local line code size secs
  line=$(curl -sS --max-time 600 -o /dev/null -w '%{http_code} %{size_download} %{time_total}' "$3") || { note "$1" "pull round $2: curl failed"; return 0; }
  read -r code size secs <<<"$line"
  if [[ $code != 200 || $size != "$blob_bytes" ]]; then note "$1" "pull round $2: HTTP $code, $size bytes (want 200, $blob_bytes)"; return 0; fi
  record "$1" pull_whole_mbps "$2" "$(awk -v b="$size" -v t="$secs" 'BEGIN{ if (t > 0) printf "%.1f", b / t / 1e6 }')"
}
drop_blob() { # subject digest: the round's blob leaves the store (a RAM-backed store has little room)
  local hex=${2#sha256:}
  [[ -n $hex ]] || return 0
  s3_delete "$run_prefix/$1/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex" >/dev/null ||
    note "$1" "could not delete blob $2 from the store: $(client_err)"
}

sdk_put() { # round -> sets sdk_key (empty when the upload failed)
  local line
  sdk_key="$run_prefix/sdk/$1"
  if line=$(client s3-put --endpoint "$S3_ENDPOINT" --region "$region" --bucket "$S3_BUCKET" --key "$sdk_key" --file "$blob" \
      --part-bytes "$chunksize" --concurrency 1 --timeout 600); then
    record ceiling s3_put_mbps "$1" "$(kv mbps <<<"$line")"
  else
    note ceiling "AWS SDK upload round $1 failed: $(client_err)"; sdk_key=""
  fi
}
sdk_get() { # round
  local line
  [[ -n $sdk_key ]] || return 0
  if line=$(client s3-get --endpoint "$S3_ENDPOINT" --region "$region" --bucket "$S3_BUCKET" --key "$sdk_key" --timeout 600); then
    record ceiling s3_get_mbps "$1" "$(kv mbps <<<"$line")"
  else
    note ceiling "AWS SDK GET round $1 failed: $(client_err)"
  fi
}

# The push figures' ceiling is the SDK's upload, the pull figures' its GET (ReportCommand reads these meta rows).
meta push_ceiling s3_put_mbps
meta pull_ceiling s3_get_mbps

# Untimed warm-up of the blob path, as berth-load s3-put and s3-get warm the SDK before timing: each server pushes and
# pulls a blob of two parts once, so round 1 does not time Berth's first compilation of that path (about a second of
# CPU the first time a .NET process runs it). The warm-up blob then leaves the store.
warm_blob=$work/warm-blob
head -c $(( chunksize * 2 )) /dev/urandom >"$warm_blob"
for s in berth distribution; do
  if line=$(client push-blob --registry "${url[$s]}" --repo bench/warm --file "$warm_blob" --chunk-bytes 0 --timeout 600); then
    d=$(kv digest <<<"$line")
    curl -fsS --max-time 600 -o /dev/null "${url[$s]}/v2/bench/warm/blobs/$d" || note "$s" "warm-up pull failed"
    drop_blob "$s" "$d"
  else
    note "$s" "warm-up push failed: $(client_err)"
  fi
done
rm -f "$warm_blob"

for round in $(seq 1 "$rounds"); do
  begin_round "$round"

  # The SDK takes the middle turn, so neither server always follows it.
  log "  push ${blob_mib} MiB monolithic (and the AWS SDK's multipart upload), then pull it (and the SDK's GET)"
  declare -A pushed=()
  push "${order[0]}" "$round"; pushed[${order[0]}]=$last_digest
  sdk_put "$round"
  push "${order[1]}" "$round"; pushed[${order[1]}]=$last_digest
  if [[ -n ${pushed[${order[0]}]} ]]; then pull "${order[0]}" "$round" "${url[${order[0]}]}/v2/bench/blob/blobs/${pushed[${order[0]}]}"; fi
  sdk_get "$round"
  if [[ -n ${pushed[${order[1]}]} ]]; then pull "${order[1]}" "$round" "${url[${order[1]}]}/v2/bench/blob/blobs/${pushed[${order[1]}]}"; fi
  if [[ -n $sdk_key ]]; then
    s3_delete "$sdk_key" >/dev/null || note ceiling "could not delete $sdk_key from the store: $(client_err)"
  fi
  if (( verify && round == 1 )); then
    for s in "${order[@]}"; do
      d=${pushed[$s]}; [[ -n $d ]] || continue
      got=$(curl -fsS --max-time 600 "${url[$s]}/v2/bench/blob/blobs/$d" | openssl dgst -sha256 -r | cut -d' ' -f1)
      [[ "sha256:$got" == "$d" ]] || note "$s" "VERIFY FAILED: $d pulled back as sha256:$got"
    done
    log "  round 1's blobs pulled back and checked (untimed)"
  fi
  for s in "${order[@]}"; do drop_blob "$s" "${pushed[$s]}"; done

  measure_listings "$round"

  if (( round < rounds && settle > 0 )); then
    # Deleted objects' data is reclaimed by the store later (Ceph RGW's garbage collector); give it time
    # so the next round's pushes do not fill a small RAM-backed store.
    log "  settling ${settle}s for the store to reclaim deleted data"
    sleep "$settle"
  fi
done

# --- whole-run resource use, curve rows, report ---------------------------------------------------
record_resource_use

median_of() { # subject figure: the median of its rows in $results, empty when there are none
  awk -F'\t' -v s="$1" -v f="$2" '$1 == s && $2 == f { print $4 }' "$results" | sort -g |
    awk '{ v[NR] = $1 } END { if (NR > 0) printf "%.1f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# Curve rows for the plotter (bench/README.md): MB/s against the blob's size, one point per series at this run's size.
curve_rows() { # id title figure ceiling_figure
  printf 'curve\t%s\t%s\tblob size (MiB)\tMB/s\tlinear\tlinear\n' "$1" "$2" >>"$results"
  local series subject figure v
  for series in Berth Distribution "S3 SDK"; do
    case $series in
      Berth) subject=berth figure=$3 ;;
      Distribution) subject=distribution figure=$3 ;;
      *) subject=ceiling figure=$4 ;;
    esac
    v=$(median_of "$subject" "$figure")
    if [[ -n $v ]]; then printf 'point\t%s\t%s\t%s\t%s\n' "$1" "$series" "$blob_mib" "$v" >>"$results"; fi
  done
}
curve_rows s3-push "push over S3 (monolithic; S3 SDK: multipart, same part size, one part at a time)" push_mono_mbps s3_put_mbps
curve_rows s3-pull "pull over S3 (redirects off; S3 SDK: one streamed GET)" pull_whole_mbps s3_get_mbps
write_report
