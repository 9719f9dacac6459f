#!/usr/bin/env bash
# berth scrub against coreutils sha256sum over the same blob data files: the question is whether re-hashing a
# registry costs more than hashing its files would anyway. See bench/README.md, "Scrub".
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
total_mib=${BENCH_SCRUB_MIB:-2048}
blob_mib=${BENCH_SCRUB_BLOB_MIB:-64}
rounds=${BENCH_ROUNDS:-3}
cold=${BENCH_SCRUB_COLD:-auto}
limited=${BENCH_SCRUB_LIMITED:-200MiB}
out=${BENCH_OUT:-$repo/bench/results/scrub-latest.md}
tmp=${BENCH_TMPDIR:-${TMPDIR:-/tmp}}

for n in total_mib blob_mib rounds; do
  [[ ${!n} =~ ^[0-9]+$ && ${!n} -gt 0 ]] || { echo "bench: $n must be a positive whole number, got '${!n}'" >&2; exit 2; }
done
for tool in dotnet openssl sha256sum jq; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is not installed" >&2; exit 2; }
done
if [[ $cold == auto ]]; then
  if [[ $(id -u) == 0 && -w /proc/sys/vm/drop_caches ]]; then cold=1; else cold=0; fi
fi

work=$(mktemp -d "$tmp/berth-bench-scrub-XXXXXX")
trap 'rm -rf "$work"' EXIT
started=$(date +%s)
log() { printf '[%4ss] %s\n' "$(( $(date +%s) - started ))" "$*" >&2; }

# --- build: a private copy, since other builds rewrite bin/ in place -----------------------------------
log "building src/Berth.Server (Release)"
dotnet build "$repo/src/Berth.Server/Berth.Server.csproj" -c Release -nologo -v q >/dev/null
cp -r "$repo/src/Berth.Server/bin/Release/net10.0" "$work/berth"

# --- fill: random blobs written once, hashed on the way in so each lands under its own digest -----------
# AES-CTR over /dev/zero gives incompressible bytes at several GB/s (far faster than /dev/urandom); tee writes the
# file while sha256sum names it, so the data is written exactly once.
root="$work/root"
v2="$root/docker/registry/v2"
mkdir -p "$v2/blobs/sha256" "$v2/repositories/bench/scrub/_layers/sha256"
count=$(( total_mib / blob_mib ))
log "filling $count blobs of $blob_mib MiB ($(( count * blob_mib )) MiB)"
files=()
# openssl dies of SIGPIPE when head has enough, which pipefail would report as a failure.
set +o pipefail
for (( i = 0; i < count; i++ )); do
  staging="$work/staging"
  hex=$(openssl enc -aes-128-ctr -nosalt -pass "pass:berth-scrub-bench-$i" -pbkdf2 </dev/zero 2>/dev/null \
    | head -c $(( blob_mib * 1024 * 1024 )) | tee "$staging" | sha256sum | cut -d' ' -f1)
  mkdir -p "$v2/blobs/sha256/${hex:0:2}/$hex" "$v2/repositories/bench/scrub/_layers/sha256/$hex"
  mv "$staging" "$v2/blobs/sha256/${hex:0:2}/$hex/data"
  printf 'sha256:%s' "$hex" >"$v2/repositories/bench/scrub/_layers/sha256/$hex/link"
  files+=("$v2/blobs/sha256/${hex:0:2}/$hex/data")
done
set -o pipefail
bytes=$(( count * blob_mib * 1024 * 1024 ))
sync
printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\n' "$root" >"$work/config.yml"

now() { date +%s.%N; }
mbps() { awk -v b="$bytes" -v s="$1" 'BEGIN { printf "%.0f", b / 1e6 / s }'; }
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }

# Each figure: wall seconds of the whole command (berth includes its process start-up and the layout walk).
time_berth() { # extra args...
  local t0 t1 json
  t0=$(now)
  json=$(dotnet "$work/berth/berth.dll" scrub --json "$@" "$work/config.yml") || { echo "bench: scrub reported problems: $json" >&2; exit 1; }
  t1=$(now)
  [[ $(jq -r .summary.bytesHashed <<<"$json") == "$bytes" ]] || { echo "bench: scrub hashed $(jq -r .summary.bytesHashed <<<"$json") bytes, expected $bytes" >&2; exit 1; }
  echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') $(jq -r .summary.megabytesPerSecond <<<"$json")"
}
time_sha256sum() {
  local t0 t1
  t0=$(now)
  sha256sum "${files[@]}" >/dev/null
  t1=$(now)
  awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

declare -A seconds
run_mode() { # warm|cold
  local mode=$1 r b s
  local berth_s=() berth_inner=() sha_s=()
  for (( r = 1; r <= rounds; r++ )); do
    [[ $mode == cold ]] && drop_caches || cat "${files[@]}" >/dev/null
    read -r b s < <(time_berth --rate 0)
    berth_s+=("$b"); berth_inner+=("$s")
    [[ $mode == cold ]] && drop_caches || true
    sha_s+=("$(time_sha256sum)")
    log "$mode round $r: berth scrub ${b}s (its own hashing figure $s MB/s), sha256sum ${sha_s[-1]}s"
  done
  seconds[$mode,berth]=$(printf '%s\n' "${berth_s[@]}" | median)
  seconds[$mode,inner]=$(printf '%s\n' "${berth_inner[@]}" | median)
  seconds[$mode,sha]=$(printf '%s\n' "${sha_s[@]}" | median)
}

run_mode warm
modes=(warm)
if [[ $cold == 1 ]]; then run_mode cold; modes+=(cold); fi

log "rate-limited scrub (--rate $limited, warm)"
cat "${files[@]}" >/dev/null
read -r limited_s limited_inner < <(time_berth --rate "$limited")

# --- report -------------------------------------------------------------------------------------------
mkdir -p "$(dirname "$out")"
{
  echo "# berth scrub vs sha256sum"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)."
  echo "$count blobs of $blob_mib MiB ($(( bytes / 1024 / 1024 )) MiB) on one filesystem; medians of $rounds rounds."
  echo "MB/s = 10^6 bytes per wall second of the whole command (berth: process start, layout walk and hashing)."
  echo
  echo "| page cache | berth scrub --rate 0 | sha256sum | berth / sha256sum | berth's own hashing figure |"
  echo "|---|---|---|---|---|"
  for m in "${modes[@]}"; do
    b=$(mbps "${seconds[$m,berth]}"); s=$(mbps "${seconds[$m,sha]}")
    echo "| $m | $b MB/s (${seconds[$m,berth]} s) | $s MB/s (${seconds[$m,sha]} s) | $(awk -v a="$b" -v b="$s" 'BEGIN { printf "%.2f", a / b }') | ${seconds[$m,inner]} MB/s |"
  done
  echo
  echo "Rate limit: \`--rate $limited\` (warm cache) read at ${limited_inner} MB/s (hashing phase; $(mbps "$limited_s") MB/s over the whole ${limited_s} s command)."
  [[ $cold == 1 ]] || echo "Cold-cache rows need root (to drop the page cache); this run had none."
} | tee "$out"
log "report written to $out"
