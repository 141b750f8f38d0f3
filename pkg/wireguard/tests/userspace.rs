//! The userspace backend against a real wireguard-go in a private network and mount namespace:
//! apply equals `wg show`, re-apply writes nothing, single-peer changes, daemon restarts.
//! Needs root, wireguard-go and wg (fails clearly otherwise).

#[cfg(test)]
mod common;

use common::{
    Netns, Recording, WgGo, assert_device_matches, assert_wg_show_matches, random_key,
    require_prerequisites,
};
use ipnet::IpNet;
use kilo_mesh::plan::wireguard::{PresharedKey, WgPeer, WireGuardPlan};
use kilo_wireguard::{Change, PrivateKey, Userspace, WgError, WireGuard};

#[cfg(test)]
struct Lab {
    backend: Userspace<Recording>,
    wg: WgGo,
    _dir: tempfile::TempDir,
    _ns: Netns,
}

#[cfg(test)]
fn lab() -> Lab {
    require_prerequisites();
    let ns = Netns::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let wg = WgGo::start(&ns, dir.path(), "kwg0");
    Lab {
        backend: Userspace::with_transport(Recording::new(dir.path())),
        wg,
        _dir: dir,
        _ns: ns,
    }
}

#[cfg(test)]
fn net(s: &str) -> IpNet {
    s.parse().expect("prefix")
}

#[cfg(test)]
fn three_peers() -> WireGuardPlan {
    let peer = |i: u8, endpoint: Option<&str>, ka: Option<u16>| WgPeer {
        name: format!("node:n{i}"),
        public_key: random_key(),
        endpoint: endpoint.map(|e| e.parse().expect("endpoint")),
        allowed_ips: vec![
            net(&format!("10.4.0.{i}/32")),
            net(&format!("10.42.{i}.0/24")),
        ],
        persistent_keepalive: ka,
        preshared_key: None,
    };
    let mut peers = vec![
        peer(1, Some("192.0.2.1:51820"), None),
        peer(2, Some("[2001:db8::2]:51821"), Some(25)),
        peer(3, None, None),
    ];
    peers[2].preshared_key = Some(PresharedKey(random_key()));
    peers[2].allowed_ips.push(net("fd00:42:3::/64"));
    peers.sort_by_key(|p| p.public_key);
    WireGuardPlan {
        interface: "kwg0".parse().expect("ifname"),
        listen_port: 51820,
        peers,
    }
}

/// The `set` requests among `log`, with the private key line blanked.
#[cfg(test)]
fn sets(log: &[String]) -> Vec<String> {
    log.iter()
        .filter(|r| r.starts_with("set=1"))
        .map(|r| {
            r.lines()
                .map(|l| {
                    if l.starts_with("private_key=") {
                        "private_key=…"
                    } else {
                        l
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect()
}

#[test]
fn three_peers_equal_wg_show_and_reapply_writes_nothing() {
    let mut lab = lab();
    let key = PrivateKey::generate();
    let plan = three_peers();
    let report = lab.backend.apply(&plan, &key).expect("apply");
    assert_eq!(report.changes.len(), 2 + 3, "{:?}", report.lines());
    let dev = lab.backend.read(&plan.interface).expect("read");
    assert_device_matches(&dev, &plan, key.public_key());
    assert_wg_show_matches(&lab.wg.wg_show_peers(), &plan);
    lab.backend.transport().take();

    let report = lab.backend.apply(&plan, &key).expect("re-apply");
    assert!(report.is_empty(), "{:?}", report.lines());
    assert_eq!(lab.backend.transport().take(), ["get=1\n\n"]);
}

#[test]
fn one_changed_peer_gets_only_its_changed_fields_and_removal_is_alone() {
    let mut lab = lab();
    let key = PrivateKey::generate();
    let mut plan = three_peers();
    lab.backend.apply(&plan, &key).expect("apply");
    lab.backend.transport().take();

    plan.peers[0].endpoint = Some("192.0.2.77:51899".parse().expect("endpoint"));
    let report = lab.backend.apply(&plan, &key).expect("endpoint change");
    assert_eq!(report.changes.len(), 1);
    let hex = plan.peers[0].public_key.to_hex();
    assert_eq!(
        sets(&lab.backend.transport().take()),
        [format!(
            "set=1\npublic_key={hex}\nendpoint=192.0.2.77:51899\n"
        )]
    );

    plan.peers[1].allowed_ips = vec![net("10.9.0.0/16")];
    lab.backend.apply(&plan, &key).expect("allowed ips change");
    let hex = plan.peers[1].public_key.to_hex();
    assert_eq!(
        sets(&lab.backend.transport().take()),
        [format!(
            "set=1\npublic_key={hex}\nreplace_allowed_ips=true\nallowed_ip=10.9.0.0/16\n"
        )]
    );

    let gone = plan.peers.remove(2);
    let report = lab.backend.apply(&plan, &key).expect("removal");
    assert_eq!(
        report.changes,
        [Change::RemovePeer {
            public_key: gone.public_key
        }]
    );
    assert_eq!(
        sets(&lab.backend.transport().take()),
        [format!(
            "set=1\npublic_key={}\nremove=true\n",
            gone.public_key.to_hex()
        )]
    );
    let dev = lab.backend.read(&plan.interface).expect("read");
    assert_device_matches(&dev, &plan, key.public_key());
    assert_wg_show_matches(&lab.wg.wg_show_peers(), &plan);
}

#[test]
fn a_restarted_daemon_is_repaired_by_the_next_apply() {
    let mut lab = lab();
    let key = PrivateKey::generate();
    let plan = three_peers();
    lab.backend.apply(&plan, &key).expect("apply");

    lab.wg.kill();
    let err = lab.backend.apply(&plan, &key).expect_err("daemon is gone");
    assert!(matches!(err, WgError::NoUserspaceDevice { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("no userspace WireGuard device kwg0: cannot connect to ")
    );

    lab.wg.restart();
    let report = lab.backend.apply(&plan, &key).expect("repair");
    assert_eq!(report.changes.len(), 2 + 3, "{:?}", report.lines());
    let dev = lab.backend.read(&plan.interface).expect("read");
    assert_device_matches(&dev, &plan, key.public_key());
    assert_wg_show_matches(&lab.wg.wg_show_peers(), &plan);
    assert!(lab.backend.apply(&plan, &key).expect("steady").is_empty());
}
