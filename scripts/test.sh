#!/usr/bin/env bash
# Runs the whole test suite: unit tests, HTTP tests against a real Berth on 127.0.0.1, and the
# end-to-end tests with real clients. Prints "N passed, M failed" as its last line, counted from
# the TRX results, and exits non-zero when anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."

results=TestResults
rm -rf "$results"
mkdir -p "$results"

dotnet build Berth.slnx -c Release -warnaserror -nologo -v q
build_status=$?
if [ $build_status -ne 0 ]; then
  echo "build failed"
  echo "0 passed, 1 failed"
  exit 1
fi

dotnet test Berth.slnx -c Release --no-build --nologo \
  --logger "trx" --results-directory "$results" -- RunConfiguration.TestSessionTimeout=2400000
test_status=$?

summary=$(python3 - "$results" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
passed = failed = 0
for path in glob.glob(sys.argv[1] + "/**/*.trx", recursive=True):
    counters = ET.parse(path).getroot().find("t:ResultSummary/t:Counters", ns)
    if counters is None:
        failed += 1
        continue
    passed += int(counters.get("passed", 0))
    failed += int(counters.get("failed", 0)) + int(counters.get("error", 0)) + int(counters.get("timeout", 0)) + int(counters.get("aborted", 0))
print(f"{passed} passed, {failed} failed")
PY
)
[ -n "$summary" ] || summary="0 passed, 1 failed"
passed=${summary%% passed*}
failed=${summary##*, }; failed=${failed%% failed}
if [ "$test_status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # dotnet test failed without a failed result (a crashed test host, a missing TRX): count it.
  failed=1
fi
echo "$passed passed, $failed failed"
[ "$test_status" -eq 0 ] && [ "$failed" -eq 0 ]
