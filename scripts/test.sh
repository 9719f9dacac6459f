#!/usr/bin/env bash
# Runs the test suite. Prints "N passed, M failed" as its last line, counted from the TRX results, and
# exits non-zero when anything failed (or could not run).
#
#   scripts/test.sh          every test project: unit tests, HTTP tests against a real Berth on 127.0.0.1,
#                            and the end-to-end tests with real clients. First installs the Debian packages
#                            those drive (root; not root, it names the missing ones and stops), starts an
#                            S3 store unless S3_ENDPOINT names one and Azurite (installed with npm into a cache
#                            directory) unless AZURITE_BLOB_ENDPOINT names one (scripts/test-prerequisites.sh).
#   scripts/test.sh --fast   only the test projects that need nothing outside .NET: no packages, no root.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

usage() {
  echo "usage: scripts/test.sh [--fast]"
}

# Stops the run; the closing line still counts it as a failure.
give_up() {
  echo "0 passed, 1 failed"
  exit 1
}

fast=""
case "$*" in
  "") ;;
  --fast) fast=yes ;;
  -h | --help) usage; exit 0 ;;
  *) usage >&2; give_up ;;
esac

results=TestResults
rm -rf "$results"
mkdir -p "$results"

filter=()
if [ -n "$fast" ]; then
  # The projects that need no package, service or root. Berth.Api.Tests' BlobDescriptorCacheTests start a
  # real redis-server, so they are left out, and said so.
  fast_projects=(Berth.Core.Tests Berth.Storage.Tests Berth.Auth.Tests Berth.Proxy.Tests Berth.Ui.Tests Berth.Api.Tests Berth.Server.Tests)
  target="$results/fast.slnf"
  {
    printf '{ "solution": { "path": "../Berth.slnx", "projects": [\n'
    for project in "${fast_projects[@]}"; do
      [ "$project" = "${fast_projects[0]}" ] || printf ',\n'
      printf '  "tests/%s/%s.csproj"' "$project" "$project"
    done
    printf '\n] } }\n'
  } >"$target"
  filter=(--filter "FullyQualifiedName!~Berth.Api.Tests.BlobDescriptorCacheTests")
  echo "fast: ${fast_projects[*]}; not Berth.Api.Tests.BlobDescriptorCacheTests (needs redis-server)"
else
  target=Berth.slnx
  # shellcheck source=scripts/test-prerequisites.sh
  . scripts/test-prerequisites.sh
  trap prerequisites_cleanup EXIT
  if ! prerequisites_s3_check || ! prerequisites_install || ! prerequisites_azurite_install; then
    give_up
  fi
fi

if ! dotnet build "$target" -c Release -warnaserror -nologo -v q; then
  echo "build failed"
  give_up
fi

if [ -z "$fast" ] && { ! prerequisites_s3_start || ! prerequisites_azurite_start; }; then
  give_up
fi

dotnet test "$target" -c Release --no-build --nologo "${filter[@]}" \
  --logger "trx" --results-directory "$results" -- RunConfiguration.TestSessionTimeout=2400000
test_status=$?

# The counts from the TRX files (bash and grep only: --fast needs nothing but .NET). A TRX without counters
# counts as a failure.
shopt -s globstar nullglob
passed=0
failed=0
for trx in "$results"/**/*.trx; do
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  if [ -z "$counters" ]; then
    failed=$((failed + 1))
    continue
  fi
  for name in passed failed error timeout aborted; do
    count=$(grep -o " $name=\"[0-9]*\"" <<<"$counters" | tr -dc '0-9')
    if [ "$name" = passed ]; then
      passed=$((passed + ${count:-0}))
    else
      failed=$((failed + ${count:-0}))
    fi
  done
done
if [ "$test_status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # dotnet test failed without a failed result (a crashed test host, a missing TRX): count it.
  failed=1
fi
echo "$passed passed, $failed failed"
[ "$test_status" -eq 0 ] && [ "$failed" -eq 0 ]
