//! `NodeDataplane` over the adapters' in-memory fakes: apply order, what `Applied` and
//! `Observed` report, clean-up collecting every adapter's error, followers never reading
//! WireGuard, netlink drift as an event.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, UNIX_EPOCH};

use clap::Parser as _;
use kilo_firewall::FakeFirewall;
use kilo_mesh::annotations::{RawNode, parse_node};
use kilo_mesh::node::Snapshot;
use kilo_mesh::plan::{LocalFacts, NodePlan};
use kilo_mesh::types::WgKey;
use kilo_netlink::model::Address;
use kilo_netlink::{FakeNetwork, NetlinkError};
use kilo_wireguard::{Fake, PrivateKey};

use super::NodeDataplane;
use crate::dataplane::{Applied, Dataplane as _, NodeAddress, NodeEvent, PeerStatus};
use crate::flags::Flags;

type FakeDataplane = NodeDataplane<Fake, FakeNetwork, FakeFirewall>;

const N2_KEY: [u8; 32] = [2; 32];

/// A node of location `location` with a key, an endpoint and one pod CIDR.
fn node(name: &str, location: &str, key: [u8; 32], ip: u8) -> kilo_mesh::node::Node {
    let ann = [
        ("location", location.to_owned()),
        ("key", WgKey::from_bytes(key).to_base64()),
        ("force-endpoint", format!("192.168.77.{ip}:51820")),
        ("internal-ip", format!("192.168.77.{ip}/24")),
        ("last-seen", "1700000000".to_owned()),
    ];
    let raw = RawNode {
        name: name.into(),
        annotations: ann
            .iter()
            .map(|(k, v)| (format!("kilo.squat.ai/{k}"), v.clone()))
            .collect(),
        labels: BTreeMap::new(),
        pod_cidrs: vec![format!("10.42.{ip}.0/24")],
        internal_addresses: vec![],
    };
    let (node, problems) = parse_node(&raw, "topology.kubernetes.io/region").unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    node
}

/// kg's plan for `me` in a cluster of n1 (location `a`) and n2 (location `n2_location`).
fn plan(me: &str, n2_location: &str) -> NodePlan {
    let snapshot = Snapshot {
        nodes: vec![
            node("n1", "a", [1; 32], 11),
            node("n2", n2_location, N2_KEY, 12),
        ],
        peers: vec![],
        now: 1_700_000_000,
    };
    let flags = Flags::try_parse_from(["kg", "--hostname", me, "--encapsulate", "never"]).unwrap();
    let settings = flags.into_config().unwrap().mesh;
    let facts = LocalFacts {
        private_iface: Some("eth0".parse().unwrap()),
        ..LocalFacts::default()
    };
    kilo_mesh::plan::plan(&snapshot, &settings, &facts).unwrap()
}

/// The leader n1 of a two-location mesh: it peers with n2.
fn leader_plan() -> NodePlan {
    let plan = plan("n1", "b");
    assert!(plan.is_leader && plan.wireguard.is_some());
    plan
}

/// n2, a follower in n1's location: no WireGuard device.
fn follower_plan() -> NodePlan {
    let plan = plan("n2", "a");
    assert!(!plan.is_leader && plan.wireguard.is_none());
    plan
}

/// A dataplane over fakes; the fake kernel has `kilo0` and `eth0` (MTU 1500) when `links`.
fn dataplane(links: bool) -> FakeDataplane {
    let network = if links {
        FakeNetwork::with_links(&[("kilo0", 1500), ("eth0", 1500)])
    } else {
        FakeNetwork::default()
    };
    NodeDataplane::from_parts(
        PrivateKey::generate(),
        "kilo0".parse().unwrap(),
        Box::new(Fake::new()),
        network,
        Box::new(FakeFirewall::default()),
    )
}

fn address(link: &str, net: &str) -> Address {
    Address {
        link: link.into(),
        address: net.parse().unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn applies_wireguard_then_routes_then_the_firewall_and_counts_changes() {
    let plan = leader_plan();
    let mut dp = dataplane(true);
    let applied = dp.apply(&plan).await.unwrap();
    // WireGuard: key, port, peer n2. Netlink: kilo0's MTU, its address, the route to n2's pods.
    // Firewall: both families, new.
    assert_eq!(
        applied,
        Applied {
            wireguard: 3,
            network: 3,
            firewall: 2,
        }
    );
    assert_eq!(dp.network.links["kilo0"].mtu, 1420);
    assert_eq!(dp.network.routes.len(), 1);
    assert_eq!(dp.wireguard.writes.len(), 1);
    assert_eq!(dp.firewall.applied, std::slice::from_ref(&plan.firewall));
    assert_eq!(dp.apply(&plan).await.unwrap(), Applied::default());

    // WireGuard fails first: neither routes nor the firewall are touched.
    let mut dp = dataplane(true);
    dp.wireguard.unsupported = true;
    let err = dp.apply(&plan).await.unwrap_err();
    assert!(
        format!("{err:#}")
            .starts_with("configuring WireGuard on kilo0: the kernel has no WireGuard support"),
        "{err:#}"
    );
    assert!(dp.network.addresses.is_empty() && dp.network.routes.is_empty());
    assert!(dp.firewall.applied.is_empty());

    // Routes fail (no kilo0 link) after WireGuard: the firewall is not touched.
    let mut dp = dataplane(false);
    let err = dp.apply(&plan).await.unwrap_err();
    assert_eq!(
        format!("{err:#}"),
        "applying addresses, routes and rules: link kilo0 not found"
    );
    assert_eq!(dp.wireguard.writes.len(), 1);
    assert!(dp.firewall.applied.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn clean_up_runs_every_step_and_reports_every_error() {
    let mut dp = dataplane(true);
    dp.apply(&leader_plan()).await.unwrap();
    dp.firewall.fail_next = Some("iptables: locked".into());
    dp.network.fail.clean_up = Some(NetlinkError::NoPrivateLink);
    dp.network.fail.delete_link = Some(NetlinkError::LinkNotFound("kilo0".into()));
    let err = dp.clean_up(true).await.unwrap_err();
    assert_eq!(
        format!("{err:#}"),
        "3 clean-up steps failed: \
         cleaning up the firewall: fake clean-up: fake exited with exit status: 1: \
         iptables: locked; \
         cleaning up routes and rules: the plan uses the private interface, but its name is \
         unknown; \
         deleting interface kilo0: link kilo0 not found"
    );

    // One failing step is reported as it is; the others still run.
    let mut dp = dataplane(true);
    dp.apply(&leader_plan()).await.unwrap();
    dp.firewall.fail_next = Some("iptables: locked".into());
    let err = dp.clean_up(true).await.unwrap_err();
    assert_eq!(
        format!("{err:#}"),
        "cleaning up the firewall: fake clean-up: fake exited with exit status: 1: \
         iptables: locked"
    );
    assert!(dp.network.routes.is_empty() && dp.network.addresses.is_empty());
    assert!(!dp.network.links.contains_key("kilo0"));

    // Without failures, everything goes; the interface only when asked.
    let mut dp = dataplane(true);
    dp.apply(&leader_plan()).await.unwrap();
    dp.clean_up(false).await.unwrap();
    assert_eq!(
        (dp.firewall.cleanups, dp.firewall.state.is_none()),
        (1, true)
    );
    assert!(dp.network.routes.is_empty() && dp.network.links.contains_key("kilo0"));
}

#[tokio::test(flavor = "multi_thread")]
async fn followers_never_read_wireguard_and_leaders_report_their_peers() {
    let mut dp = dataplane(true);
    dp.apply(&follower_plan()).await.unwrap();
    assert!(dp.observe().await.unwrap().peers.is_empty());
    assert_eq!(dp.wireguard.reads.load(Ordering::Relaxed), 0);

    dp.apply(&leader_plan()).await.unwrap();
    let device = dp
        .wireguard
        .devices
        .get_mut(&"kilo0".parse().unwrap())
        .unwrap();
    let peer = &mut device.peers[0];
    peer.last_handshake = Some(UNIX_EPOCH + Duration::from_secs(1_700_000_123));
    peer.rx_bytes = 10;
    peer.tx_bytes = 20;
    assert_eq!(
        dp.observe().await.unwrap().peers,
        [PeerStatus {
            key: WgKey::from_bytes(N2_KEY),
            endpoint: Some("192.168.77.12:51820".parse().unwrap()),
            last_handshake: Some(1_700_000_123),
            rx_bytes: 10,
            tx_bytes: 20,
        }]
    );
    assert_eq!(dp.wireguard.reads.load(Ordering::Relaxed), 1);

    // A leader that becomes a follower stops reading.
    dp.apply(&follower_plan()).await.unwrap();
    assert!(dp.observe().await.unwrap().peers.is_empty());
    assert_eq!(dp.wireguard.reads.load(Ordering::Relaxed), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn observes_the_nodes_own_addresses_and_the_private_mtu() {
    let mut dp = dataplane(true);
    dp.network.links.get_mut("eth0").unwrap().mtu = 9000;
    dp.network.addresses.extend([
        address("eth0", "192.168.77.11/24"),
        address("eth1", "2001:db8::11/64"),
        address("kilo0", "10.4.0.1/16"),
        address("lo", "127.0.0.1/8"),
        address("kube-bridge", "10.42.11.1/24"),
        address("veth1234abcd", "fe80::1/64"),
        address("kilo.vxlan", "10.5.0.1/16"),
    ]);
    let observed = dp.observe().await.unwrap();
    assert_eq!(
        observed.addresses,
        [
            NodeAddress {
                iface: "eth0".parse().unwrap(),
                net: "192.168.77.11/24".parse().unwrap(),
            },
            NodeAddress {
                iface: "eth1".parse().unwrap(),
                net: "2001:db8::11/64".parse().unwrap(),
            },
        ]
    );
    assert_eq!(observed.underlay_mtu, Some(9000));
    assert_eq!(observed.default_iface, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_route_deleted_behind_kgs_back_is_drift() {
    let mut dp = dataplane(true);
    dp.apply(&leader_plan()).await.unwrap();
    let route = dp.network.routes.iter().next().unwrap().clone();
    dp.network.delete_route_by_hand(&route);
    assert_eq!(dp.next_event().await, NodeEvent::Drift);
}

#[tokio::test(flavor = "multi_thread")]
async fn observes_cilium_host_and_cilium_tunl_but_never_takes_cni_addresses_as_the_nodes() {
    let mut dp = dataplane(true);
    assert_eq!(dp.observe().await.unwrap().cilium_host, None);
    assert!(!dp.observe().await.unwrap().cilium_tunl);
    dp.network.addresses.extend([
        address("eth0", "192.168.77.11/24"),
        address("cilium_host", "fd00:10:42:1::7/128"),
        address("cilium_host", "10.42.1.7/32"),
        address("cilium_host", "10.42.1.8/32"),
        address("flannel.1", "10.42.1.0/32"),
    ]);
    dp.network.links.insert(
        "cilium_tunl".to_owned(),
        kilo_netlink::fake::FakeLink {
            mtu: 1480,
            up: false,
        },
    );
    let observed = dp.observe().await.unwrap();
    assert_eq!(observed.cilium_host, Some("10.42.1.7/32".parse().unwrap()));
    assert!(observed.cilium_tunl);
    assert_eq!(
        observed.addresses,
        [NodeAddress {
            iface: "eth0".parse().unwrap(),
            net: "192.168.77.11/24".parse().unwrap(),
        }]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flannel_plan_waits_for_flannel_1_and_clean_up_never_deletes_it() {
    let snapshot = Snapshot {
        nodes: vec![node("n1", "a", [1; 32], 11), node("n2", "a", N2_KEY, 12)],
        peers: vec![],
        now: 1_700_000_000,
    };
    let flags = Flags::try_parse_from(["kg", "--hostname=n2", "--compatibility=flannel"]).unwrap();
    let settings = flags.into_config().unwrap().mesh;
    let plan = kilo_mesh::plan::plan(&snapshot, &settings, &LocalFacts::default()).unwrap();
    let mut dp = dataplane(true);
    let err = dp.apply(&plan).await.unwrap_err();
    assert_eq!(
        format!("{err:#}"),
        "applying addresses, routes and rules: link flannel.1 not found: it belongs to the CNI kg runs on top of (is it running?)"
    );
    dp.network.links.insert(
        "flannel.1".to_owned(),
        kilo_netlink::fake::FakeLink {
            mtu: 1450,
            up: true,
        },
    );
    dp.apply(&plan).await.unwrap();
    assert!(!dp.network.routes.is_empty());
    dp.clean_up(false).await.unwrap();
    assert!(dp.network.links.contains_key("flannel.1"));
    assert!(dp.network.routes.is_empty());
}
