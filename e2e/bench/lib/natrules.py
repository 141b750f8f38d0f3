#!/usr/bin/env python3
"""The two IPv4 NAT rule sets the packet-path benchmark compares, from one `kgctl plan -o json`.

    python3 e2e/bench/lib/natrules.py PLAN.json PREFIX  -> prints the number of known CIDRs

Writes
- PREFIX.ipset and PREFIX.iptables: kilo-rs's own rules, exactly `firewallText.v4` of the plan
  (`ipset restore` input and `iptables-restore --noflush` input);
- PREFIX.linear.iptables: the same decisions as Go Kilo 0.7 writes them, one rule per CIDR
  (reference/kilo-behaviour.md, the nat rules): `POSTROUTING -s <local pod CIDR> -j KILO-NAT`
  first (the best case for the pod's packets), one `POSTROUTING -s <peer allowed IP> -j KILO-NAT`
  per Peer IP, one `KILO-NAT -d <cidr> -j RETURN` per known CIDR (the members of the plan's
  mesh set), then the `MASQUERADE`.
"""

import json
import sys


def members(firewall, purpose):
    for s in firewall["sets"]:
        if s["purpose"] == purpose:
            return s["entries"]
    raise SystemExit(f"natrules: the plan has no {purpose!r} set")


def linear(sources, known):
    jump = '-m comment --comment "Kilo: jump to KILO-NAT chain" -j KILO-NAT'
    peer_jump = '-m comment --comment "Kilo: jump to NAT chain" -j KILO-NAT'
    ret = '-m comment --comment "Kilo: do not NAT packets destined for known IPs" -j RETURN'
    lines = ["*nat", ":KILO-NAT - [0:0]"]
    lines.append(f"-A POSTROUTING -s {sources[0]} {jump}")
    lines += [f"-A POSTROUTING -s {s} {peer_jump}" for s in sources[1:]]
    lines += [f"-A KILO-NAT -d {c} {ret}" for c in known]
    lines.append('-A KILO-NAT -m comment --comment "Kilo: NAT remaining packets" -j MASQUERADE')
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def main(argv):
    if len(argv) != 2:
        raise SystemExit(__doc__)
    with open(argv[0]) as f:
        doc = json.load(f)
    text = doc["firewallText"]["v4"]
    fw = doc["plan"]["firewall"]["v4"]
    known = members(fw, "mesh")
    local = doc["plan"]["cni"]["plugins"][0]["ipam"]["ranges"][0][0]["subnet"]
    sources = [local] + [s for s in members(fw, "nat-source") if s != local]
    with open(argv[1] + ".ipset", "w") as f:
        f.write(text["ipsetRestore"])
    with open(argv[1] + ".iptables", "w") as f:
        f.write(text["iptablesRestore"])
    with open(argv[1] + ".linear.iptables", "w") as f:
        f.write(linear(sources, known))
    print(len(known))


if __name__ == "__main__":
    main(sys.argv[1:])
