//! Side by side with the reference bridge + host-local on the same config, bridge and lease
//! directory: same addresses, routes and result fields; pods of both reach each other; the
//! leases of one are understood by the other (needs root and /usr/lib/cni).

#[cfg(test)]
mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// The shape of a result: keys per entry, with MACs and names blanked.
fn shape(v: &Value) -> Value {
    let mut v = v.clone();
    for i in v["interfaces"].as_array_mut().into_iter().flatten() {
        for k in ["mac", "name", "sandbox"] {
            if i.get(k).is_some() {
                i[k] = "*".into();
            }
        }
    }
    for ip in v["ips"].as_array_mut().into_iter().flatten() {
        ip["address"] = "*".into();
    }
    v
}

/// Whether `ns` gets an ICMPv6 echo reply from `addr` before `deadline` (one `ping -6` per
/// second, polled).
fn pings6(ns: &Netns, addr: &str, deadline: Duration) -> bool {
    let end = Instant::now() + deadline;
    loop {
        if ns
            .exec(&["ping", "-6", "-n", "-q", "-c", "1", "-W", "1", addr])
            .0
        {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
    }
}

fn pod_state(pod: &Netns) -> (String, String) {
    let (_, addrs) = pod.exec(&["ip", "-o", "addr", "show", "dev", "eth0", "scope", "global"]);
    let addrs: Vec<String> = addrs
        .lines()
        .filter_map(|l| l.split_whitespace().nth(3))
        .map(|a| a.to_owned())
        .collect();
    let (_, r4) = pod.exec(&["ip", "route", "show", "default"]);
    let (_, r6) = pod.exec(&["ip", "-6", "route", "show", "default"]);
    (addrs.join(" "), format!("{r4}{r6}"))
}

#[test]
fn same_results_and_connectivity_as_bridge_host_local() {
    require_prereqs();
    let node = Netns::new("n");
    let data = TempDir::new();
    let bridge = unique("b");
    let (v4, v6) = ("10.44.1.0/24", "fd00:10:44:1::/64");
    let kconf = kilo_conf("1.0.0", &bridge, data.str(), v4, v6);
    let rconf = ref_conf("1.0.0", &bridge, data.str(), v4, v6);
    let (rpod, kpod) = (Netns::new("r"), Netns::new("k"));
    let (rid, kid) = (unique("c"), unique("c"));

    let rres = Call::new(REF_BRIDGE, &node, "ADD", &rid, &rpod.path())
        .run(&rconf)
        .assert_ok()
        .json();
    let kres = Call::new(KILO, &node, "ADD", &kid, &kpod.path())
        .run(&kconf)
        .assert_ok()
        .json();
    assert_eq!(result_addrs(&rres), ["10.44.1.2", "fd00:10:44:1::2"]);
    assert_eq!(
        result_addrs(&kres),
        ["10.44.1.3", "fd00:10:44:1::3"],
        "kilo-cni continues host-local's round robin"
    );
    assert_eq!(shape(&kres), shape(&rres));
    assert_eq!(kres["routes"], rres["routes"]);

    let (raddrs, rroutes) = pod_state(&rpod);
    let (kaddrs, kroutes) = pod_state(&kpod);
    assert_eq!(
        raddrs.replace("::2/", "::X/").replace(".2/", ".X/"),
        kaddrs.replace("::3/", "::X/").replace(".3/", ".X/")
    );
    assert_eq!(rroutes, kroutes);
    // kilo-cni asks for one queue each way at creation (the reference gets one per CPU, cut
    // down to one by the kernel): the queues in use are the same.
    for pod in [&rpod, &kpod] {
        let (ok, queues) = pod.exec(&["ls", "/sys/class/net/eth0/queues"]);
        assert!(ok, "listing the queues of eth0 in {}", pod.name);
        assert_eq!(
            queues.split_whitespace().collect::<Vec<_>>(),
            ["rx-0", "tx-0"],
            "queues of eth0 in {}",
            pod.name
        );
    }

    let r_addrs = result_addrs(&rres);
    let k_addrs = result_addrs(&kres);
    let missing = unreachable(&rpod, &k_addrs[..1], Duration::from_secs(10));
    assert!(
        missing.is_empty(),
        "reference pod cannot reach kilo-cni pod: {missing:?}"
    );
    let missing = unreachable(&kpod, &r_addrs[..1], Duration::from_secs(10));
    assert!(
        missing.is_empty(),
        "kilo-cni pod cannot reach reference pod: {missing:?}"
    );
    // IPv6 too, across kilo-cni's bridge port, which has no IPv6 address of its own.
    assert!(
        pings6(&kpod, &r_addrs[1], Duration::from_secs(10)),
        "kilo-cni pod cannot reach reference pod over IPv6"
    );
    assert!(
        pings6(&rpod, &k_addrs[1], Duration::from_secs(10)),
        "reference pod cannot reach kilo-cni pod over IPv6"
    );
    let host = kres["interfaces"][1]["name"].as_str().unwrap_or("");
    let (ok, v6) = node.exec(&["ip", "-6", "-o", "addr", "show", "dev", host]);
    assert!(ok, "listing the IPv6 addresses of {host}");
    assert_eq!(v6.trim(), "", "IPv6 addresses on the bridge port {host}");
    let (ok, details) = node.exec(&["ip", "-d", "link", "show", "dev", host]);
    assert!(ok, "showing {host}");
    assert!(
        details.contains("addrgenmode none"),
        "addrgenmode of {host}: {details}"
    );

    // Leases are shared: kilo-cni releases the reference pod's leases, host-local kilo-cni's.
    Call::new(KILO, &node, "DEL", &rid, &rpod.path())
        .run(&kconf)
        .assert_ok();
    Call::new(REF_BRIDGE, &node, "DEL", &kid, &kpod.path())
        .run(&rconf)
        .assert_ok();
    assert!(leases(data.str(), rconf["name"].as_str().unwrap_or("kilo")).is_empty());
}
