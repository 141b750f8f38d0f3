//! Builders shared by the kilo-mesh integration tests.

use std::collections::BTreeMap;

use kilo_mesh::annotations::{RawNode, parse_node};
use kilo_mesh::plan::{LocalFacts, NodePlan, Settings};
use kilo_mesh::types::{Encapsulate, Granularity, TunnelKind};
use kilo_mesh::{Node, Peer, Snapshot, Topology};

/// The time every fixture node was last seen.
pub const NOW: i64 = 1_700_000_000;

/// A base64 key made of one repeated byte.
pub fn key(b: u8) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode([b; 32])
}

/// A node builder over raw annotations, so tests exercise the real parser.
#[derive(Clone, Debug)]
pub struct N(pub RawNode);

impl N {
    /// A ready kilo-rs node: key from the last byte of its name, endpoint, internal IP, pod CIDR,
    /// and the `implementation` marker written with its `last-seen`.
    pub fn new(name: &str, location: &str, endpoint: &str, internal: &str, pods: &[&str]) -> Self {
        let mut a = BTreeMap::new();
        a.insert(
            "kilo.squat.ai/key".to_owned(),
            key(*name.as_bytes().last().unwrap()),
        );
        a.insert("kilo.squat.ai/endpoint".to_owned(), endpoint.to_owned());
        a.insert("kilo.squat.ai/internal-ip".to_owned(), internal.to_owned());
        a.insert("kilo.squat.ai/last-seen".to_owned(), NOW.to_string());
        a.insert(
            "kilo.squat.ai/implementation".to_owned(),
            format!("kilo-rs; last-seen={NOW}"),
        );
        let mut labels = BTreeMap::new();
        labels.insert(
            "topology.kubernetes.io/region".to_owned(),
            location.to_owned(),
        );
        Self(RawNode {
            name: name.to_owned(),
            annotations: a,
            labels,
            pod_cidrs: pods.iter().map(|s| (*s).to_owned()).collect(),
            internal_addresses: Vec::new(),
        })
    }

    /// Sets (or replaces) an annotation `kilo.squat.ai/<k>`. A new `last-seen` on a kilo-rs node
    /// rewrites its marker too, as kg writes both in one patch.
    pub fn ann(mut self, k: &str, v: &str) -> Self {
        let marker = "kilo.squat.ai/implementation";
        if k == "last-seen" && v.parse::<i64>().is_ok() && self.0.annotations.contains_key(marker) {
            self.0
                .annotations
                .insert(marker.to_owned(), format!("kilo-rs; last-seen={v}"));
        }
        self.0
            .annotations
            .insert(format!("kilo.squat.ai/{k}"), v.to_owned());
        self
    }

    /// The node publishes `wireguard-ip` = `ip` held since `since` (`wireguard-ip-since`).
    pub fn claims(self, ip: &str, since: &str) -> Self {
        self.ann("wireguard-ip", ip)
            .ann("wireguard-ip-since", since)
    }

    /// The same node run by Go Kilo: no `implementation` marker.
    pub fn go_kilo(mut self) -> Self {
        self.0.annotations.remove("kilo.squat.ai/implementation");
        self
    }

    /// Adds a status InternalIP.
    pub fn status_ip(mut self, ip: &str) -> Self {
        self.0.internal_addresses.push(ip.to_owned());
        self
    }

    /// Parses it, ignoring annotation problems (tests that check problems call `parse_node`).
    pub fn build(&self) -> Node {
        parse_node(&self.0, "topology.kubernetes.io/region")
            .unwrap()
            .0
    }
}

/// Node `n<i>` of the lab: reached at its private IP 192.168.77.1<i>, dual-stack pod CIDRs
/// 10.42.<i>.0/24 and fd00:10:42:<i>::/64.
pub fn lab_node(i: u8, location: &str) -> N {
    N::new(
        &format!("n{i}"),
        location,
        &format!("192.168.77.1{i}:51820"),
        &format!("192.168.77.1{i}/24"),
        &[&format!("10.42.{i}.0/24"), &format!("fd00:10:42:{i}::/64")],
    )
}

/// A peer with the given allowed IPs.
pub fn peer(name: &str, key_byte: u8, ips: &[&str]) -> Peer {
    Peer {
        name: name.to_owned(),
        allowed_ips: ips.iter().map(|s| s.parse().unwrap()).collect(),
        public_key: key(key_byte).parse().unwrap(),
        endpoint: None,
        persistent_keepalive: None,
        preshared_key: None,
    }
}

/// Default settings for `host` (Kilo's defaults, `--encapsulate never` unless changed).
pub fn settings(host: &str) -> Settings {
    Settings {
        hostname: host.parse().unwrap(),
        granularity: Granularity::Location,
        subnet: "10.4.0.0/16".parse().unwrap(),
        port: 51820,
        interface: "kilo0".parse().unwrap(),
        encapsulate: Encapsulate::Never,
        tunnel: TunnelKind::Ipip,
        service_cidrs: vec!["10.43.0.0/16".parse().unwrap()],
        forward_rules: false,
        cni: true,
        local: true,
        mtu: 1420,
    }
}

/// A snapshot at [`NOW`].
pub fn snap(nodes: &[&N], peers: Vec<Peer>) -> Snapshot {
    Snapshot {
        nodes: nodes.iter().map(|n| n.build()).collect(),
        peers,
        now: NOW,
    }
}

/// Plans `settings.hostname` with unknown local addresses.
pub fn plan(s: &Snapshot, settings: &Settings) -> NodePlan {
    kilo_mesh::plan::plan(s, settings, &LocalFacts::default()).unwrap()
}

/// Kilo's documented example: gcp (a, b) and aws (c), all with public endpoints.
pub fn kilo_example() -> Vec<N> {
    vec![
        N::new(
            "node-a",
            "gcp",
            "203.0.113.1:51820",
            "10.0.0.1/24",
            &["10.42.0.0/24"],
        ),
        N::new(
            "node-b",
            "gcp",
            "203.0.113.2:51820",
            "10.0.0.2/24",
            &["10.42.1.0/24"],
        ),
        N::new(
            "node-c",
            "aws",
            "198.51.100.3:51820",
            "172.31.0.3/24",
            &["10.42.2.0/24"],
        ),
    ]
}

/// The topology's warnings as `subject: message` lines, in order.
pub fn warning_lines(t: &Topology) -> Vec<String> {
    t.warnings
        .iter()
        .map(|w| format!("{}: {}", w.subject, w.message))
        .collect()
}

/// The topology of `nodes` (no Peers) seen from `local`, in `--subnet 10.4.0.0/16`.
pub fn topology_of(nodes: &[N], local: &str, g: Granularity) -> Topology {
    let refs: Vec<&N> = nodes.iter().collect();
    Topology::new(
        &snap(&refs, vec![]),
        &local.parse().unwrap(),
        g,
        "10.4.0.0/16".parse().unwrap(),
    )
    .unwrap()
}
