#!/usr/bin/env bash
# Renders the kustomize bases and the example overlay with kubectl kustomize, lints the YAML (yamllint) and checks
# the fields that make the manifests work (check.py): no OpenAPI schema for Kubernetes objects ships in a Debian 12
# package, so this is the structural check. The agent's and aggregator's arguments are checked against their --help.
#
# Usage: packaging/kubernetes/test.sh   (needs the Release build: dotnet build Monitor.sln -c Release)
set -euo pipefail
cd "$(dirname "$0")"

missing=()
command -v kubectl >/dev/null 2>&1 || missing+=(kubernetes-client)
command -v yamllint >/dev/null 2>&1 || missing+=(yamllint)
python3 -c 'import yaml' 2>/dev/null || missing+=(python3-yaml)
if ((${#missing[@]})); then
  echo "packaging/kubernetes/test.sh: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for target in agent aggregator examples/cluster; do
  kubectl kustomize "$target" >"$out/${target//\//-}.yaml" 2>"$out/warnings"
done

yamllint -d '{extends: default, rules: {line-length: {max: 200}, document-start: disable, indentation: {indent-sequences: consistent}}}' \
  agent aggregator examples "$out"

bin=../../src
python3 check.py "$out" \
  "dotnet $bin/Monitor.Agent/bin/Release/net10.0/monitor-agent.dll --help" \
  "dotnet $bin/Monitor.Aggregator/bin/Release/net10.0/monitor-aggregator.dll --help"
echo "packaging/kubernetes: rendered and checked"
