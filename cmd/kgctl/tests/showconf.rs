//! Black-box tests of `kgctl showconf` over `e2e/fixtures/status.yaml` (loc-a led by n1, loc-b
//! led by n3, one valid Peer `laptop`, one rejected Peer `broken`). Expected output is literal.

#[cfg(test)]
mod support;

use support::{kgctl, kgctl_fails};

const NOW: &str = "1700000010";

#[test]
fn a_leader_shows_its_device() {
    assert_eq!(
        kgctl(&["showconf", "node", "n1", "-f", "status.yaml", "--now", NOW]),
        "[Interface]
ListenPort = 51820

[Peer]
# location:loc-b
PublicKey = MzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzM=
Endpoint = 192.168.77.13:51820
AllowedIPs = 10.4.253.74/32, 10.42.3.0/24, 192.168.77.13/32, fd00:10:42:3::/64

[Peer]
# peer:laptop
PublicKey = cHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHA=
Endpoint = 198.51.100.50:51820
AllowedIPs = 10.5.0.1/32
"
    );
}

#[test]
fn a_peer_gets_one_entry_per_location() {
    assert_eq!(
        kgctl(&["showconf", "peer", "laptop", "-f", "status.yaml", "--now", NOW]),
        "[Peer]
# location:loc-a
PublicKey = MTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTE=
Endpoint = 192.168.77.11:51820
AllowedIPs = 10.4.236.49/32, 10.42.1.0/24, 10.42.2.0/24, 192.168.77.11/32, 192.168.77.12/32, fd00:10:42:1::/64, fd00:10:42:2::/64

[Peer]
# location:loc-b
PublicKey = MzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzM=
Endpoint = 192.168.77.13:51820
AllowedIPs = 10.4.253.74/32, 10.42.3.0/24, 192.168.77.13/32, fd00:10:42:3::/64
"
    );
}

#[test]
fn a_segment_as_a_peer_manifest_is_a_valid_peer() {
    let yaml = kgctl(&[
        "showconf",
        "node",
        "n3",
        "--as-peer",
        "-o",
        "yaml",
        "--allowed-ips",
        "10.43.0.0/16",
        "-f",
        "status.yaml",
        "--now",
        NOW,
    ]);
    assert_eq!(
        yaml,
        "apiVersion: kilo.squat.ai/v1alpha1
kind: Peer
metadata:
  name: n3
spec:
  allowedIPs:
  - 10.4.253.74/32
  - 10.42.3.0/24
  - 10.43.0.0/16
  - 192.168.77.13/32
  - fd00:10:42:3::/64
  endpoint:
    dnsOrIP:
      ip: \"192.168.77.13\"
    port: 51820
  publicKey: MzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzM=
"
    );
    let peer: kilo_k8s::Peer = serde_saphyr::from_str(&yaml).unwrap();
    let mesh = peer.to_mesh().unwrap();
    assert_eq!(mesh.name, "n3");
    assert_eq!(mesh.endpoint.unwrap().to_string(), "192.168.77.13:51820");
    let json = kgctl(&[
        "showconf",
        "node",
        "n3",
        "--as-peer",
        "-o",
        "json",
        "-f",
        "status.yaml",
        "--now",
        NOW,
    ]);
    let peer: kilo_k8s::Peer = serde_json::from_str(&json).unwrap();
    assert_eq!(peer.spec.allowed_ips.len(), 4);
}

#[test]
fn refusals_name_the_reason() {
    let f = ["-f", "status.yaml", "--now", NOW];
    let run = |args: &[&str]| kgctl_fails(&[args, &f[..]].concat());
    assert_eq!(
        run(&["showconf", "node", "n2"]),
        "kgctl: node n2 is not a leader node: n1 leads its segment location:loc-a\n"
    );
    assert_eq!(
        run(&["showconf", "node", "n5"]),
        "kgctl: node n5 cannot take part in the mesh yet: it has no key\n"
    );
    assert_eq!(
        run(&["showconf", "peer", "broken"]),
        "kgctl: peer broken does not exist (or was rejected: see kgctl status)\n"
    );
    assert_eq!(
        run(&["showconf", "node", "n1", "-o", "yaml"]),
        "kgctl: -o yaml and -o json describe a node as a Peer: add --as-peer\n"
    );
}
