#!/usr/bin/env bash
# The integration tests that start the agent process ([Trait("Category", "AgentProcess")], about 100 tests), run
# against the Native AOT binary, the shipped form (docs/performance.md, "Native AOT"). The same tests run against the
# JIT build in the main `dotnet test`; here MONITOR_AGENT_EXECUTABLE points them at the AOT binary instead.
#
# Usage: tests/aot-integration.sh   (after `dotnet build Monitor.sln -c Release`; publishes the agent with Native AOT
#        into out/aot first, where packaging also takes it from, unless MONITOR_AOT_DIR names a directory that already
#        holds a published monitor-agent)
set -euo pipefail
cd "$(dirname "$0")/.."

aot_dir=${MONITOR_AOT_DIR:-}
if [[ -z $aot_dir ]]; then
  aot_dir=out/aot
  echo "aot-integration: publishing the agent with Native AOT into $aot_dir" >&2
  dotnet publish src/Monitor.Agent -c Release -r linux-x64 -p:MonitorAot=true -o "$aot_dir" -v q -nologo -warnaserror
fi
agent=$(realpath "$aot_dir/monitor-agent")
[[ -x $agent ]] || { echo "aot-integration: no executable $agent" >&2; exit 1; }

MONITOR_AGENT_EXECUTABLE=$agent dotnet test tests/Monitor.IntegrationTests -c Release --no-build -v q -nologo \
  --filter "Category=AgentProcess" --logger "console;verbosity=minimal"
