#!/usr/bin/env python3
"""Checks the rendered manifests (packaging/kubernetes/test.sh): the fields that make the agent and the aggregator work."""
import re
import shlex
import subprocess
import sys

import yaml

out, agent_help, aggregator_help = sys.argv[1], sys.argv[2], sys.argv[3]
problems = []


def check(condition, message):
    if not condition:
        problems.append(message)


def load(name):
    with open(f"{out}/{name}.yaml") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def one(docs, kind, name=None):
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    check(len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}")
    return found[0] if found else {}


def flags(help_command):
    text = subprocess.run(shlex.split(help_command), capture_output=True, text=True, check=False).stdout
    names = set(re.findall(r"--(?:\[no-\])?([a-z0-9][a-z0-9.-]*)", text))
    check(len(names) > 20, f"no flags read from `{help_command}`")
    return names


def check_args(args, known, who):
    for arg in args:
        name = arg[2:].split("=", 1)[0]
        name = name[3:] if name.startswith("no-") else name
        check(name in known, f"{who}: unknown flag {arg}")


def selects(selector, labels):
    return all(labels.get(k) == v for k, v in selector.items())


for overlay in ["agent", "aggregator", "examples-cluster"]:
    for doc in load(overlay):
        check(doc["metadata"].get("labels", {}).get("app.kubernetes.io/part-of") == "monitor", f"{overlay}: {doc['kind']} without part-of label")

cluster = load("examples-cluster")
for doc in cluster:
    check(doc["metadata"].get("namespace") == "monitoring", f"{doc['kind']} {doc['metadata']['name']} not in the overlay's namespace")

# The agent.
base = one(load("agent"), "DaemonSet", "monitor-agent")
check(base.get("spec", {}).get("template", {}).get("spec", {}).get("nodeSelector") == {"nvidia.com/gpu.present": "true"}, "base DaemonSet: GPU nodeSelector")
ds = one(cluster, "DaemonSet", "monitor-agent")
pod = ds["spec"]["template"]["spec"]
check(pod.get("hostPID") is True and pod.get("hostNetwork") is True, "agent: hostPID and hostNetwork")
check(pod.get("nodeSelector") == {"gpu": "true"}, f"agent: overlay nodeSelector replaced the base's: {pod.get('nodeSelector')}")
check(any(t.get("key") == "nvidia.com/gpu" and t.get("operator") == "Exists" for t in pod.get("tolerations", [])), "agent: tolerates the GPU taint")
check(pod["securityContext"].get("runAsNonRoot") is True, "agent: runs as non-root")
(container,) = pod["containers"]
check(container["image"] == "registry.example.org/monitor/monitor-agent:0.1.0", f"agent image {container['image']}")
check(container["securityContext"].get("readOnlyRootFilesystem") is True, "agent: read-only root filesystem")
check(container["securityContext"].get("capabilities", {}).get("drop") == ["ALL"], "agent: drops every capability")
env = {e["name"]: e.get("value") for e in container.get("env", [])}
check(env.get("NVIDIA_VISIBLE_DEVICES") == "all", "agent: NVIDIA_VISIBLE_DEVICES for the container toolkit's NVML")
check("resources" in container and "limits" in container["resources"], "agent: resource limits")
mounts = {m["name"]: m for m in container["volumeMounts"]}
volumes = {v["name"]: v for v in pod["volumes"]}
for name, host, path in [("proc", "/proc", "/host/proc"), ("sys", "/sys", "/host/sys"), ("root", "/", "/host/root"),
                         ("pod-resources", "/var/lib/kubelet/pod-resources", "/var/lib/kubelet/pod-resources")]:
    check(mounts.get(name, {}).get("mountPath") == path and mounts[name].get("readOnly") is True, f"agent: {name} mounted read-only at {path}")
    check(volumes.get(name, {}).get("hostPath", {}).get("path") == host, f"agent: {name} is the host's {host}")
check(mounts.get("state", {}).get("mountPath") == "/var/lib/monitor-agent" and mounts["state"].get("readOnly") is not True,
      "agent: the ledger's default directory is the host's, writable")
args = container["args"]
for expected in ["--path.procfs=/host/proc", "--path.sysfs=/host/sys", "--path.rootfs=/host/root", "--collector.jobs.kubernetes",
                 "--collector.jobs.kubelet-socket=/var/lib/kubelet/pod-resources/kubelet.sock"]:
    check(expected in args, f"agent: argument {expected}")
check_args(args, flags(agent_help), "agent")
port = {p["name"]: p["containerPort"] for p in container["ports"]}
check(port.get("metrics") == 9420, "agent: metrics port 9420")
svc = one(cluster, "Service", "monitor-agent")
check(selects(svc["spec"]["selector"], ds["spec"]["template"]["metadata"]["labels"]), "agent Service selects the DaemonSet's pods")
check(any(p["targetPort"] == "metrics" for p in svc["spec"]["ports"]), "agent Service targets the metrics port")
sm = one(cluster, "ServiceMonitor", "monitor-agent")
check(selects(sm["spec"]["selector"]["matchLabels"], svc["metadata"]["labels"]), "ServiceMonitor selects the agent Service")
check(all(e["port"] in {p["name"] for p in svc["spec"]["ports"]} for e in sm["spec"]["endpoints"]), "ServiceMonitor port is the Service's")

# The aggregator.
dep = one(cluster, "Deployment", "monitor-aggregator")
apod = dep["spec"]["template"]["spec"]
(agg,) = apod["containers"]
check(agg["image"] == "registry.example.org/monitor/monitor-aggregator:0.1.0", f"aggregator image {agg['image']}")
check_args(agg["args"], flags(aggregator_help), "aggregator")
check("--ha.standby" in agg["args"], "aggregator: standby replicas")
secret_ref = next((e["valueFrom"]["secretKeyRef"] for e in agg["env"] if e["name"] == "MONITOR_AGGREGATOR_POSTGRES"), None)
check(secret_ref is not None, "aggregator: PostgreSQL connection from a Secret")
if secret_ref:
    secret = one(cluster, "Secret", secret_ref["name"])
    check(secret_ref["key"] in secret.get("data", {}), f"Secret {secret_ref['name']} has key {secret_ref['key']}")
cm_name = next(v["configMap"]["name"] for v in apod["volumes"] if "configMap" in v)
cm = one(cluster, "ConfigMap", cm_name)
check(any(a == "--targets.file=/etc/monitor-aggregator/targets/" + k for k in cm["data"] for a in agg["args"]), "aggregator: --targets.file names the ConfigMap's file")
check(yaml.safe_load(next(iter(cm["data"].values()))) is not None, "targets file parses")
asvc = one(cluster, "Service", "monitor-aggregator")
check(selects(asvc["spec"]["selector"], dep["spec"]["template"]["metadata"]["labels"]), "aggregator Service selects its pods")
pm = one(cluster, "PodMonitor", "monitor-aggregator")
check(selects(pm["spec"]["selector"]["matchLabels"], dep["spec"]["template"]["metadata"]["labels"]), "PodMonitor selects the aggregator's pods")
check(all(e["port"] in {p["name"] for p in agg["ports"]} for e in pm["spec"]["podMetricsEndpoints"]), "PodMonitor port is the container's")

if problems:
    print("packaging/kubernetes: " + str(len(problems)) + " problems:\n  " + "\n  ".join(problems), file=sys.stderr)
    sys.exit(1)
