#!/usr/bin/env python3
"""pod.py - a kubelet for the netns lab: runs the pod template of a DaemonSet on one lab node
with podman (runc, cgroupfs), as the kubelet would run it on a real node.

  pod.py start MANIFEST NODE      init containers in order (each must exit 0), then the containers
  pod.py replace MANIFEST NODE C  stop container C (SIGTERM, the pod's grace period) and start a
                                  new one from the same template, the other containers untouched
  pod.py stop-container MANIFEST NODE C | start-container MANIFEST NODE C   the halves of replace
  pod.py stop MANIFEST NODE       stop and remove the pod's containers (SIGTERM first)
  pod.py ready MANIFEST NODE      exit 0 when every container's readinessProbe (httpGet) passes
  pod.py show MANIFEST NODE       print the podman command lines it would run

MANIFEST: kubectl kustomize output (the one DaemonSet in it is used). NODE: a JSON object
  {"name", "netns", "ip", "prefix", "host_paths": {host path: lab path}, "empty_dir_root"}.
What the kubelet does and this does too: `$(VAR)` in command and args from the container's env,
downward API env (spec.nodeName, status.hostIP, status.podIP, metadata.name, metadata.namespace),
hostPath volumes (types DirectoryOrCreate, Directory, FileOrCreate, File, CharDevice checked or
created), emptyDir, hostNetwork (the node's netns), privileged and added capabilities,
imagePullPolicy (IfNotPresent and Never use the loaded image), terminationGracePeriodSeconds.
Everything else in the pod spec that would change how the pod runs is refused, so a manifest
never passes here by a field being ignored. Resources, probes other than readiness, ports,
tolerations, priority and the ServiceAccount name do not change how a container runs here.
Needs root and PyYAML.
"""
import json
import os
import re
import stat
import subprocess
import sys
import urllib.request

import yaml

PODMAN = ["podman", "--runtime", "runc", "--cgroup-manager=cgroupfs"]
# podman's default rlimits need CAP_SYS_RESOURCE, which these machines do not have
LIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
# pod spec fields that do not change how the containers run in the lab
INERT_POD = {"serviceAccountName", "priorityClassName", "tolerations", "nodeSelector", "hostNetwork",
             "initContainers", "containers", "volumes", "terminationGracePeriodSeconds"}
INERT_CONTAINER = {"name", "image", "imagePullPolicy", "command", "args", "env", "resources", "ports",
                   "livenessProbe", "readinessProbe", "securityContext", "volumeMounts"}


class Refused(Exception):
    """A pod spec this lab cannot run faithfully."""


def daemon_set(path):
    with open(path, encoding="utf-8") as f:
        docs = [d for d in yaml.safe_load_all(f) if d and d.get("kind") == "DaemonSet"]
    if len(docs) != 1:
        raise Refused(f"{path}: expected one DaemonSet, found {len(docs)}")
    return docs[0]


def pod_spec(ds):
    spec = ds["spec"]["template"]["spec"]
    unknown = set(spec) - INERT_POD
    if unknown:
        raise Refused(f"pod spec fields the lab does not implement: {sorted(unknown)}")
    if spec.get("hostNetwork") is not True:
        raise Refused("only hostNetwork pods run in the lab (a node's netns is the host network)")
    return spec


def pod_name(ds, node):
    return f"{node['prefix']}{node['name']}-{ds['metadata']['name']}"


def field_value(path, ds, node):
    values = {
        "spec.nodeName": node["name"],
        "status.hostIP": node["ip"],
        "status.podIP": node["ip"],  # hostNetwork: the pod's IP is the node's
        "metadata.name": pod_name(ds, node),
        "metadata.namespace": ds["metadata"].get("namespace", "default"),
    }
    if path not in values:
        raise Refused(f"downward API field {path} is not implemented")
    return values[path]


def container_env(c, ds, node):
    env = {}
    for e in c.get("env", []):
        if "value" in e:
            env[e["name"]] = str(e["value"])
        elif "fieldRef" in e.get("valueFrom", {}):
            env[e["name"]] = field_value(e["valueFrom"]["fieldRef"]["fieldPath"], ds, node)
        else:
            raise Refused(f"env {e['name']}: only value and valueFrom.fieldRef are implemented")
    return env


def expand(arg, env):
    """$(VAR) as the kubelet expands it: defined names are replaced, $$ is a literal $, an
    undefined reference stays as written."""
    def one(m):
        if m.group(0).startswith("$$"):
            return m.group(0)[1:]
        return env.get(m.group(1), m.group(0))
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)", one, arg)


def host_source(vol, node):
    """The lab path behind a hostPath volume, checked or created as its type says."""
    path = os.path.normpath(vol["hostPath"]["path"])
    if path.startswith("/var/run/"):
        path = "/run/" + path[len("/var/run/"):]
    if path not in node["host_paths"]:
        raise Refused(f"volume {vol['name']}: host path {path} has no place in the lab node")
    src, kind = node["host_paths"][path], vol["hostPath"].get("type", "")
    if kind == "DirectoryOrCreate":
        os.makedirs(src, exist_ok=True)
    elif kind == "FileOrCreate" and not os.path.exists(src):
        open(src, "a", encoding="utf-8").close()
    checks = {"Directory": stat.S_ISDIR, "DirectoryOrCreate": stat.S_ISDIR, "File": stat.S_ISREG,
              "FileOrCreate": stat.S_ISREG, "CharDevice": stat.S_ISCHR}
    if kind in checks and not (os.path.exists(src) and checks[kind](os.stat(src).st_mode)):
        raise Refused(f"volume {vol['name']}: {src} is not a {kind}")
    if kind not in checks and kind != "":
        raise Refused(f"volume {vol['name']}: hostPath type {kind} is not implemented")
    return src


def volume_sources(spec, ds, node):
    out = {}
    for vol in spec.get("volumes", []):
        if "hostPath" in vol:
            out[vol["name"]] = host_source(vol, node)
        elif "emptyDir" in vol:
            out[vol["name"]] = os.path.join(node["empty_dir_root"], pod_name(ds, node), vol["name"])
            os.makedirs(out[vol["name"]], exist_ok=True)
        else:
            raise Refused(f"volume {vol['name']}: only hostPath and emptyDir are implemented")
    return out


def security_args(c):
    sc = dict(c.get("securityContext", {}))
    args = []
    if sc.pop("privileged", False):
        args.append("--privileged")
    caps = sc.pop("capabilities", {})
    for cap in caps.pop("add", []):
        args += ["--cap-add", cap]
    if caps:
        raise Refused(f"container {c['name']}: capabilities fields not implemented: {sorted(caps)}")
    if sc:
        raise Refused(f"container {c['name']}: securityContext fields not implemented: {sorted(sc)}")
    return args


def run_args(c, spec, ds, node, detach):
    """The podman run command line of container c."""
    unknown = set(c) - INERT_CONTAINER
    if unknown:
        raise Refused(f"container {c['name']}: fields the lab does not implement: {sorted(unknown)}")
    if c.get("imagePullPolicy", "IfNotPresent") not in ("IfNotPresent", "Never"):
        raise Refused(f"container {c['name']}: imagePullPolicy {c['imagePullPolicy']} would pull")
    env = container_env(c, ds, node)
    sources = volume_sources(spec, ds, node)
    args = PODMAN + ["run", "--name", f"{pod_name(ds, node)}-{c['name']}", "--pull", "never",
                     "--network", f"ns:{node['netns']}", "--hostname", node["name"]] + LIMITS
    args += ["--detach"] if detach else ["--rm"]
    args += security_args(c)
    for k, v in env.items():
        args += ["--env", f"{k}={v}"]
    for m in c.get("volumeMounts", []):
        ro = ":ro" if m.get("readOnly") else ""
        args += ["--volume", f"{sources[m['name']]}:{m['mountPath']}{ro}"]
    command = [expand(a, env) for a in c.get("command", [])]
    if command:
        args += ["--entrypoint", json.dumps(command[:1])]
    args.append(c["image"])
    return args + command[1:] + [expand(a, env) for a in c.get("args", [])]


def podman(*args, check=True):
    return subprocess.run(PODMAN + list(args), check=check, capture_output=True, text=True)


def stop_container(name, grace):
    podman("stop", "--time", str(grace), name, check=False)
    podman("rm", "--force", name, check=False)


def start(ds, node):
    spec = pod_spec(ds)
    for c in spec.get("initContainers", []):
        run = subprocess.run(run_args(c, spec, ds, node, detach=False), capture_output=True, text=True)
        sys.stderr.write(run.stdout + run.stderr)
        if run.returncode != 0:
            raise Refused(f"init container {c['name']} exited {run.returncode}")
    for c in spec["containers"]:
        subprocess.run(run_args(c, spec, ds, node, detach=True), check=True, capture_output=True, text=True)


def container(spec, name):
    c = next((c for c in spec["containers"] if c["name"] == name), None)
    if c is None:
        raise Refused(f"no container {name}")
    return c


def stop_one(ds, node, name):
    spec = pod_spec(ds)
    container(spec, name)
    stop_container(f"{pod_name(ds, node)}-{name}", spec.get("terminationGracePeriodSeconds", 30))


def start_one(ds, node, name):
    spec = pod_spec(ds)
    run = run_args(container(spec, name), spec, ds, node, detach=True)
    subprocess.run(run, check=True, capture_output=True, text=True)


def stop(ds, node):
    spec = pod_spec(ds)
    for c in reversed(spec["containers"]):
        stop_container(f"{pod_name(ds, node)}-{c['name']}", spec.get("terminationGracePeriodSeconds", 30))


def probe_ok(probe, node):
    get = probe.get("httpGet")
    if get is None:
        raise Refused("only httpGet readiness probes are implemented")
    url = f"http://{get.get('host', node['ip'])}:{get['port']}{get.get('path', '/')}"
    try:
        with urllib.request.urlopen(url, timeout=probe.get("timeoutSeconds", 1)) as r:
            return 200 <= r.status < 400
    except OSError:
        return False


def ready(ds, node):
    probes = [c["readinessProbe"] for c in pod_spec(ds)["containers"] if "readinessProbe" in c]
    # the probes run from the node's netns, as the kubelet's do on the host network
    return all(probe_ok(p, node) for p in probes)


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    cmd, ds, node = argv[0], daemon_set(argv[1]), json.loads(argv[2])
    try:
        if cmd == "start":
            start(ds, node)
        elif cmd == "replace" and len(argv) == 4:
            stop_one(ds, node, argv[3])
            start_one(ds, node, argv[3])
        elif cmd == "stop-container" and len(argv) == 4:
            stop_one(ds, node, argv[3])
        elif cmd == "start-container" and len(argv) == 4:
            start_one(ds, node, argv[3])
        elif cmd == "stop":
            stop(ds, node)
        elif cmd == "ready":
            return 0 if ready(ds, node) else 1
        elif cmd == "show":
            spec = pod_spec(ds)
            for c in spec.get("initContainers", []) + spec["containers"]:
                print(" ".join(run_args(c, spec, ds, node, detach=c in spec["containers"])))
        else:
            sys.stderr.write(__doc__)
            return 2
    except Refused as e:
        sys.stderr.write(f"pod.py: {e}\n")
        return 1
    except subprocess.CalledProcessError as e:
        sys.stderr.write(f"pod.py: {' '.join(e.cmd)} exited {e.returncode}: {e.stderr}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
