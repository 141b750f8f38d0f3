#!/usr/bin/env python3
"""A synthetic cluster for the benchmarks: NODES kilo-rs Nodes over LOCATIONS locations and
PEERS Peers, as the JSON `List` that `kubectl get nodes,peers -o json` prints (kgctl plan -f).

    python3 e2e/bench/lib/fixture.py NODES PEERS [LOCATIONS] > cluster.json

Node i (0-based) is `n<i>`: location `loc-<i % LOCATIONS>`, endpoint 198.18.<i/256>.<i%256>:51820
(the benchmarking range), internal IP 172.16.0.0/12 + i, pod CIDR the i-th /24 of 10.64.0.0/10,
a distinct key, last seen at 1700000000 (kgctl's default --now: the newest last-seen). Peer j is
`peer-<j>` with allowed IP the j-th /32 of 100.64.0.0/10 and a distinct key. The same layout is
built by pkg/mesh/benches/plan.rs for the criterion bench.
"""

import base64
import json
import sys

NOW = 1_700_000_000


def key(kind, i):
    """A distinct 32-byte key: kind byte, 4-byte index, then filler."""
    raw = bytes([kind]) + i.to_bytes(4, "big") + bytes([0x5A] * 27)
    return base64.b64encode(raw).decode()


def node(i, locations):
    name = f"n{i}"
    ann = {
        "kilo.squat.ai/key": key(1, i),
        "kilo.squat.ai/endpoint": f"198.18.{i >> 8 & 255}.{i & 255}:51820",
        "kilo.squat.ai/internal-ip": f"172.{16 + (i >> 16)}.{i >> 8 & 255}.{i & 255}/12",
        "kilo.squat.ai/last-seen": str(NOW),
        "kilo.squat.ai/implementation": f"kilo-rs; last-seen={NOW}",
    }
    pod = f"10.{64 + (i >> 8)}.{i & 255}.0/24"
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": ann,
            "labels": {
                "kubernetes.io/hostname": name,
                "topology.kubernetes.io/region": f"loc-{i % locations}",
            },
        },
        "spec": {"podCIDR": pod, "podCIDRs": [pod]},
        "status": {"addresses": [{"address": name, "type": "Hostname"}]},
    }


def peer(j):
    return {
        "apiVersion": "kilo.squat.ai/v1alpha1",
        "kind": "Peer",
        "metadata": {"name": f"peer-{j}"},
        "spec": {
            "allowedIPs": [f"100.{64 + (j >> 16)}.{j >> 8 & 255}.{j & 255}/32"],
            "publicKey": key(2, j),
        },
    }


def main(argv):
    if len(argv) not in (2, 3):
        raise SystemExit("usage: fixture.py NODES PEERS [LOCATIONS]")
    nodes, peers = int(argv[0]), int(argv[1])
    locations = int(argv[2]) if len(argv) == 3 else 50
    if not (0 < nodes <= 16384 and 0 <= peers <= 4_000_000 and locations > 0):
        raise SystemExit("fixture.py: NODES in 1..16384, PEERS in 0..4000000, LOCATIONS > 0")
    items = [node(i, locations) for i in range(nodes)] + [peer(j) for j in range(peers)]
    json.dump({"apiVersion": "v1", "kind": "List", "items": items}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1:])
