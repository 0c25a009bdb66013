#!/usr/bin/env bash
# Runs the whole test suite: build (warnings are errors), unit and integration tests, script lint.
# On a bare Debian 12 machine with the .NET 10 SDK it first installs the real components the integration tests
# use (Prometheus and promtool, Alertmanager and amtool, node_exporter, jsonnet, kubectl and yamllint (through
# packaging/kubernetes/test.sh), shellcheck, curl, jq, gcc for the fake NVML
# library, PostgreSQL for the aggregator's store, Chromium for its web pages, Slurm and munge for the one-node Slurm of
# the jobs tests) when they are missing; that needs root. tests/slurm/start-slurm.sh installs mariadb-server and
# slurmdbd itself for the instance with accounting (MONITOR_SLURM_DBD=1).
set -euo pipefail
cd "$(dirname "$0")"

packages=()
need() { command -v "$1" >/dev/null 2>&1 || packages+=("$2"); }
need prometheus prometheus
need promtool prometheus
need prometheus-node-exporter prometheus-node-exporter
need shellcheck shellcheck
need curl curl
need jq jq
need gcc gcc
need prometheus-alertmanager prometheus-alertmanager
need amtool prometheus-alertmanager
# PostgreSQL for the aggregator's storage tests (they start their own server on loopback, tests/Monitor.Testing/PostgresServer.cs).
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || packages+=(postgresql)
need chromium chromium
# jsonnet and python3-yaml render the node-mixin's rules (alerts/node-mixin/render.sh), checked against the committed ones.
need jsonnet jsonnet
python3 -c 'import yaml' 2>/dev/null || packages+=(python3-yaml)
if ((${#packages[@]})); then
  echo "test.sh: installing ${packages[*]}" >&2
  if [[ $(id -u) -ne 0 ]]; then
    echo "test.sh: need root to apt-get install ${packages[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # The packages' services are not wanted here; the tests start their own servers on loopback.
  apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi

# Slurm as the jobs tests run it (tests/slurm/start-slurm.sh); installed with its recommends, as tested.
if ! command -v slurmd >/dev/null 2>&1 || ! command -v slurmctld >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
  echo "test.sh: installing slurm-wlm munge" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq slurm-wlm munge >/dev/null || { apt-get update -qq && apt-get install -y -qq slurm-wlm munge >/dev/null; }
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build Monitor.sln -c Release -warnaserror -v q -nologo
dotnet test Monitor.sln -c Release --no-build -v q -nologo --logger "console;verbosity=minimal"
# The integration tests that start the agent, again against the shipped Native AOT binary (published into out/aot,
# where packaging takes it from; about 3 minutes to publish and 4 to test on 2 cores).
tests/aot-integration.sh

# The Slurm prolog and epilog, run directly and under a real one-node Slurm.
tests/slurm/test-prolog-epilog.sh

# The Kubernetes manifests: rendered with kubectl kustomize, linted, their fields and arguments checked.
packaging/kubernetes/test.sh

# Alert rules: the node-mixin's as the mixin renders them today, syntax, then their unit tests (promtool is the real
# Prometheus rule engine).
rendered="$(mktemp)"
alerts/node-mixin/render.sh "$rendered"
diff -u alerts/node.rules.yml "$rendered" || { echo "test.sh: alerts/node.rules.yml differs from what alerts/node-mixin/render.sh renders" >&2; exit 1; }
rm -f "$rendered"
promtool check rules alerts/*.rules.yml
promtool test rules alerts/tests/*.yml

# Alertmanager: the example configuration, and the receiver each team and severity reaches (amtool is Alertmanager's).
amtool check-config alerts/alertmanager.example.yml >/dev/null
while read -r receiver labels; do
  [[ -z $receiver || $receiver == \#* ]] && continue
  # shellcheck disable=SC2086 # the labels are separate arguments
  amtool config routes test --config.file=alerts/alertmanager.example.yml --verify.receivers="$receiver" $labels >/dev/null 2>&1 ||
    { echo "test.sh: alerts/alertmanager.example.yml does not route '$labels' to $receiver" >&2; exit 1; }
done <alerts/tests/alertmanager-routes.txt

mapfile -t scripts < <(git ls-files '*.sh' .ci/run)
shellcheck "${scripts[@]}"
echo "test.sh: all tests passed"
