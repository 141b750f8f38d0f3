#!/usr/bin/env python3
"""kgbench.py - helpers of the kg benchmarks (kg-scale.sh, reconcile.sh, churn.sh).

  inject STATE N LOCS             add N simulated Nodes (sim-00000.., spread over LOCS locations
                                  loc-01..) to an API server state file (the server is stopped)
  create KUBECONFIG FIRST COUNT LOCS [LOC]   POST simulated Nodes FIRST..FIRST+COUNT-1 (one in
                                  location LOC, else spread over LOCS); prints the seconds taken
  delete KUBECONFIG FIRST COUNT   DELETE them
  ready URL                       poll URL until it answers 200; prints time.time_ns() then
  wait-endpoint KUBECONFIG NODE SOCK ENDPOINT DEADLINE   set NODE's force-endpoint, then poll the
                                  UAPI socket SOCK until NODE's peer has ENDPOINT; prints ms from
                                  the write's return (and -1 on a timeout)
  timed KUBECONFIG WRITE CHECKS DEADLINE   one API write, then poll every check until each
                                  holds; prints the ms from the write's return to the last one
                                  holding (-1 on a timeout). WRITE: JSON {"method", "path",
                                  "body", "type"} (or {"sim": I, "location": L} to POST a simulated
                                  Node). CHECKS: JSON list of {"route": CIDR, "ns": NETNS},
                                  {"nat": TEXT, "ns": NETNS} (iptables-save -t nat), or {"peer":
                                  NAME, "sock": UAPI, "allowed": CIDR (optional)}; each with
                                  "present": false to wait for it to be gone
  pubkey NAME                     the hex public key a simulated Node publishes
  peers SOCK                      public keys (hex), endpoints and allowed IPs behind SOCK

Simulated Nodes look like a kubelet registered them and a kg runs there (managedFields of both,
kubelet's annotations, images and conditions, kg's kilo.squat.ai annotations), and their
last-seen is one day ahead, so they stay ready for the whole run without a heartbeat writer.
Keys are sha256(name): the peers are never reached (their endpoints are documentation
addresses). Standard library only.
"""
import base64
import hashlib
import json
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

KILO = "kilo.squat.ai/"


def key_of(name):
    return hashlib.sha256(name.encode()).digest()


def location_of(i, locs):
    return f"loc-{1 + i % locs:02d}"


def sim_name(i):
    return f"sim-{i:05d}"


def managed(manager, operation, fields, ts, subresource=None):
    m = {"manager": manager, "operation": operation, "apiVersion": "v1", "time": ts,
         "fieldsType": "FieldsV1", "fieldsV1": fields}
    if subresource:
        m["subresource"] = subresource
    return m


def sim_node(i, locs, location=None, rv=None):
    name = sim_name(i)
    loc = location or location_of(i, locs)
    hi, lo = divmod(i, 256)
    ts = "2026-01-01T00:00:00Z"
    internal = f"172.{16 + hi % 16}.{lo}.{10 + hi // 16}"
    kilo = {
        KILO + "key": base64.b64encode(key_of(name)).decode(),
        KILO + "endpoint": f"198.{18 + hi % 2}.{hi // 2 % 256}.{lo}:51820",
        KILO + "internal-ip": internal + "/16",
        KILO + "last-seen": str(int(time.time()) + 86400),
        KILO + "granularity": "location",
        KILO + "implementation": "kilo-rs",
        KILO + "discovered-endpoints": "{}",
    }
    ann = {
        "node.alpha.kubernetes.io/ttl": "0",
        "volumes.kubernetes.io/controller-managed-attach-detach": "true",
        "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///run/containerd/containerd.sock",
        **kilo,
    }
    labels = {
        "beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux",
        "kubernetes.io/hostname": name, "topology.kubernetes.io/region": loc,
        "node.kubernetes.io/instance-type": "m5.large",
    }
    kubelet_fields = {"f:metadata": {"f:annotations": {f"f:{k}": {} for k in ann if not k.startswith(KILO)},
                                     "f:labels": {f"f:{k}": {} for k in labels}},
                      "f:status": {"f:addresses": {}, "f:allocatable": {}, "f:capacity": {},
                                   "f:conditions": {}, "f:daemonEndpoints": {}, "f:images": {},
                                   "f:nodeInfo": {}}}
    kg_fields = {"f:metadata": {"f:annotations": {f"f:{k}": {} for k in kilo}}}
    conditions = [
        {"type": t, "status": s, "lastHeartbeatTime": ts, "lastTransitionTime": ts,
         "reason": r, "message": m}
        for t, s, r, m in [
            ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
        ]
    ]
    images = [{"names": [f"registry.k8s.io/{img}@sha256:{hashlib.sha256((img + name).encode()).hexdigest()}",
                         f"registry.k8s.io/{img}:v1.34.0"], "sizeBytes": 10_000_000 + 7919 * k}
              for k, img in enumerate(["kube-proxy", "pause", "coredns/coredns", "squat/kilo",
                                       "metrics-server", "csi-node-driver-registrar"])]
    meta = {"name": name, "uid": hashlib.md5(name.encode()).hexdigest(), "creationTimestamp": ts,
            "labels": labels, "annotations": ann,
            "managedFields": [managed("kubelet", "Update", kubelet_fields, ts),
                              managed("kubelet", "Update", {"f:status": {"f:conditions": {}}}, ts, "status"),
                              managed("kg", "Apply", kg_fields, ts)]}
    if rv is not None:
        meta["resourceVersion"] = str(rv)
    cidr = f"10.{100 + hi}.{lo}.0/24"
    return {
        "apiVersion": "v1", "kind": "Node", "metadata": meta,
        "spec": {"podCIDR": cidr, "podCIDRs": [cidr], "providerID": f"aws:///eu-west-1a/i-{i:017x}"},
        "status": {
            "addresses": [{"type": "InternalIP", "address": internal},
                          {"type": "Hostname", "address": name}],
            "allocatable": {"cpu": "2", "ephemeral-storage": "19316009748", "memory": "7910008Ki", "pods": "110"},
            "capacity": {"cpu": "2", "ephemeral-storage": "20959212Ki", "memory": "8012408Ki", "pods": "110"},
            "conditions": conditions,
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "images": images,
            "nodeInfo": {"architecture": "amd64", "bootID": meta["uid"], "containerRuntimeVersion": "containerd://2.1.0",
                         "kernelVersion": "6.12.0", "kubeProxyVersion": "", "kubeletVersion": "v1.34.0",
                         "machineID": meta["uid"], "operatingSystem": "linux", "osImage": "Debian GNU/Linux 13",
                         "systemUUID": meta["uid"]},
        },
    }


def inject(path, n, locs):
    with open(path) as f:
        state = json.load(f)
    rv = state["resourceVersion"]
    for i in range(n):
        rv += 1
        state["objects"].append({"storage": "nodes", "namespace": "", "name": sim_name(i),
                                 "object": sim_node(i, locs, rv=rv), "ownership": {"entries": []}})
    state["resourceVersion"] = rv
    with open(path, "w") as f:
        json.dump(state, f)
    return 0


class Api:
    """A minimal client: the server, CA and token of a JSON kubeconfig."""

    def __init__(self, kubeconfig):
        with open(kubeconfig) as f:
            kc = json.load(f)
        cluster = kc["clusters"][0]["cluster"]
        self.server = cluster["server"]
        self.ctx = ssl.create_default_context(
            cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
        self.token = kc["users"][0]["user"]["token"]

    def call(self, method, path, body=None, ctype="application/json"):
        req = urllib.request.Request(self.server + path, method=method,
                                     data=None if body is None else json.dumps(body).encode())
        req.add_header("Authorization", f"Bearer {self.token}")
        if body is not None:
            req.add_header("Content-Type", ctype)
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=10) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()


def create(kubeconfig, first, count, locs, location=None):
    api, t = Api(kubeconfig), time.monotonic()
    for i in range(first, first + count):
        code, body = api.call("POST", "/api/v1/nodes", sim_node(i, locs, location))
        if code not in (200, 201):
            sys.stderr.write(f"create {sim_name(i)}: {code} {body[:200]!r}\n")
            return 1
    print(f"{time.monotonic() - t:.3f}")
    return 0


def delete(kubeconfig, first, count):
    api, t = Api(kubeconfig), time.monotonic()
    for i in range(first, first + count):
        code, body = api.call("DELETE", f"/api/v1/nodes/{sim_name(i)}")
        if code not in (200, 404):
            sys.stderr.write(f"delete {sim_name(i)}: {code} {body[:200]!r}\n")
            return 1
    print(f"{time.monotonic() - t:.3f}")
    return 0


def ready(url, deadline=120):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    print(time.time_ns())
                    return 0
        except OSError:
            pass
        time.sleep(0.005)
    return 1


def uapi_read(sock):
    """{public key hex: {"endpoint": str, "allowed": [cidr]}} of the device behind a UAPI socket."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    s.connect(sock)
    s.sendall(b"get=1\n\n")
    data = b""
    while not data.endswith(b"\n\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    peers, cur = {}, None
    for line in data.decode().splitlines():
        k, _, v = line.partition("=")
        if k == "public_key":
            cur = peers[v] = {"endpoint": "", "allowed": []}
        elif k == "endpoint" and cur is not None:
            cur["endpoint"] = v
        elif k == "allowed_ip" and cur is not None:
            cur["allowed"].append(v)
    return peers


def wait_endpoint(kubeconfig, node, sock, endpoint, deadline):
    api, key = Api(kubeconfig), key_of(node).hex()
    patch = {"metadata": {"annotations": {KILO + "force-endpoint": endpoint}}}
    code, body = api.call("PATCH", f"/api/v1/nodes/{node}", patch, "application/merge-patch+json")
    if code != 200:
        sys.stderr.write(f"patch {node}: {code} {body[:200]!r}\n")
        return 1
    t = time.monotonic()
    while time.monotonic() < t + float(deadline):
        if uapi_read(sock).get(key, {}).get("endpoint") == endpoint:
            print(f"{(time.monotonic() - t) * 1000:.1f}")
            return 0
        time.sleep(0.002)
    print("-1")
    return 0


def holds(check):
    want = check.get("present", True)
    if "route" in check:
        out = subprocess.run(["ip", "-n", check["ns"], "route", "show", "table", "all"],
                             capture_output=True, text=True).stdout
        got = any(line.startswith(check["route"] + " ") for line in out.splitlines())
    elif "nat" in check:
        out = subprocess.run(["ip", "netns", "exec", check["ns"], "iptables-save", "-t", "nat"],
                             capture_output=True, text=True).stdout
        got = check["nat"] in out
    else:
        peer = uapi_read(check["sock"]).get(key_of(check["peer"]).hex())
        got = peer is not None and (not check.get("allowed") or check["allowed"] in peer["allowed"])
    return got == want


def timed(kubeconfig, write, checks, deadline):
    api, write, checks = Api(kubeconfig), json.loads(write), json.loads(checks)
    if "sim" in write:
        write = {"method": "POST", "path": "/api/v1/nodes",
                 "body": sim_node(int(write["sim"]), 1, write["location"])}
    code, body = api.call(write["method"], write["path"], write.get("body"),
                          write.get("type", "application/json"))
    if code not in (200, 201):
        sys.stderr.write(f"{write['method']} {write['path']}: {code} {body[:300]!r}\n")
        return 1
    t, pending, last = time.monotonic(), list(checks), 0.0
    while pending and time.monotonic() < t + float(deadline):
        pending = [c for c in pending if not holds(c)]
        last = time.monotonic() - t
        if pending:
            time.sleep(0.002)
    if pending:
        sys.stderr.write(f"still waiting for {pending}\n")
    print(f"{last * 1000:.1f}" if not pending else "-1")
    return 0


def main(argv):
    cmd, args = (argv[0], argv[1:]) if argv else ("", [])
    if cmd == "inject" and len(args) == 3:
        return inject(args[0], int(args[1]), int(args[2]))
    if cmd == "create" and len(args) in (4, 5):
        return create(args[0], int(args[1]), int(args[2]), int(args[3]), *args[4:])
    if cmd == "delete" and len(args) == 3:
        return delete(args[0], int(args[1]), int(args[2]))
    if cmd == "ready" and len(args) == 1:
        return ready(args[0])
    if cmd == "wait-endpoint" and len(args) == 5:
        return wait_endpoint(*args)
    if cmd == "timed" and len(args) == 4:
        return timed(*args)
    if cmd == "pubkey" and len(args) == 1:
        print(key_of(args[0]).hex())
        return 0
    if cmd == "peers" and len(args) == 1:
        for k, v in sorted(uapi_read(args[0]).items()):
            print(k, v["endpoint"] or "(none)", ",".join(v["allowed"]))
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
