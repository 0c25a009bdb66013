#!/usr/bin/env bash
# Long fuzz run (issue 12): every property of the fuzz suite (the tests in */Fuzz/, which CI runs with a few hundred
# to a few thousand cases each) with MONITOR_FUZZ_ITERATIONS cases, default 1,000,000. Properties that write files
# and run a whole source or collector per case take a documented share of that (their parsers have a pure property
# that runs the full count). Prints one table row per property: cases, accepted inputs, seconds, the most bytes one
# case allocated and the most per unit of input, the largest input, the slowest case.
#
#   bench/fuzz.sh [iterations] [test filter]        e.g. bench/fuzz.sh 1000000 'FullyQualifiedName~TextParser'
#
# A failure prints CsCheck's seed; replay it with CsCheck_Seed=<seed> and a filter naming that one test
# (docs/testing.md). Inputs and the rule are the CI ones: only documented exceptions, bounded allocation, no hang.
set -euo pipefail

iterations="${1:-1000000}"
filter="${2:-FullyQualifiedName~.Fuzz.|FullyQualifiedName~SpoolReaderFuzzTests|FullyQualifiedName~RecordQueueTests}"
root="$(cd "$(dirname "$0")/.." && pwd)"
report="$(mktemp -d /tmp/monitor-fuzz.XXXXXX)"

# Cases that write files (sources, collectors) go to a tmpfs when there is one, so the disk is not the bottleneck.
if [[ -d /dev/shm && -w /dev/shm ]]; then
    export TMPDIR=/dev/shm
fi

cd "$root"
dotnet build Monitor.sln -c Release -v q -nologo
start=$(date +%s)
status=0
for project in tests/Monitor.Core.Tests tests/Monitor.Agent.Tests; do
    MONITOR_FUZZ_ITERATIONS="$iterations" MONITOR_FUZZ_REPORT="$report" \
        dotnet test "$project" -c Release --no-build --filter "$filter" --logger "console;verbosity=minimal" || status=$?
done
end=$(date +%s)

echo
echo "Fuzz run: MONITOR_FUZZ_ITERATIONS=$iterations, $(nproc) cores, $((end - start)) s in all; figures in $report"
echo
echo "| property | cases | accepted | seconds | max bytes/case | max bytes/input unit | largest input | slowest case ms |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
sort "$report"/*.tsv | while IFS=$'\t' read -r name cases _ accepted seconds max_bytes per_unit max_units slowest; do
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$cases" "$accepted" "$seconds" "$max_bytes" "$per_unit" "$max_units" "$slowest"
done
exit "$status"
