#!/usr/bin/env python3
"""kg-uses.py RENDERED.yaml - prints every --flag and KILO_* variable the kg containers of the
DaemonSets in a rendered manifest use, one a line (for check.sh to look up in kg --help).
kg-uses.py --webhook RENDERED.yaml - the same for the `kg webhook` containers of Deployments
(for check.sh to look up in kg webhook --help).
kg-uses.py --podmonitor RENDERED.yaml - exit 0 when every PodMonitor selects the pods of a kg
DaemonSet in the same namespace and scrapes a port the kg container declares. Needs PyYAML."""
import sys

import yaml


def docs(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def kg_containers(objects):
    for d in objects:
        if d["kind"] != "DaemonSet":
            continue
        for c in d["spec"]["template"]["spec"]["containers"]:
            if c.get("command", [""])[0].endswith("/kg"):
                yield d, c


def webhook_containers(objects):
    for d in objects:
        if d["kind"] != "Deployment":
            continue
        for c in d["spec"]["template"]["spec"]["containers"]:
            if c.get("command", [""])[0].endswith("/kg") and c.get("args", [""])[0] == "webhook":
                yield d, c


def uses(path, containers=kg_containers):
    for _, c in containers(docs(path)):
        for a in c.get("command", [])[1:] + c.get("args", []):
            if a.startswith("--"):
                print(a.split("=", 1)[0])
        for e in c.get("env", []):
            if e["name"].startswith("KILO_"):
                print(e["name"])


def podmonitor(path):
    objects = docs(path)
    monitors = [d for d in objects if d["kind"] == "PodMonitor"]
    if not monitors:
        print("no PodMonitor")
        return 1
    for m in monitors:
        want = m["spec"]["selector"]["matchLabels"]
        spaces = m["spec"].get("namespaceSelector", {}).get("matchNames", [m["metadata"]["namespace"]])
        hits = [(d, c) for d, c in kg_containers(objects)
                if d["metadata"]["namespace"] in spaces
                and want.items() <= d["spec"]["template"]["metadata"]["labels"].items()]
        if not hits:
            print(f"PodMonitor {m['metadata']['name']} selects no kg pod")
            return 1
        ports = {p.get("name") for _, c in hits for p in c.get("ports", [])}
        for ep in m["spec"]["podMetricsEndpoints"]:
            if ep.get("port") not in ports or ep.get("path", "/metrics") != "/metrics":
                print(f"endpoint {ep} is not a kg metrics port ({sorted(ports)})")
                return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--podmonitor":
        sys.exit(podmonitor(sys.argv[2]))
    if len(sys.argv) == 3 and sys.argv[1] == "--webhook":
        uses(sys.argv[2], webhook_containers)
        sys.exit(0)
    if len(sys.argv) == 2:
        uses(sys.argv[1])
        sys.exit(0)
    sys.stderr.write(__doc__)
    sys.exit(2)
