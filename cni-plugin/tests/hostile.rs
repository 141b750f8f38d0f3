//! Hostile or broken environments (needs root and /usr/lib/cni): a `CNI_NETNS` that is no
//! network namespace is refused before anything is allocated, and an ADD whose `CNI_IFNAME` is
//! taken in the pod fails without touching the other attachment — side by side with the
//! reference bridge + host-local, which take no lease either (it does create its bridge first).

#[cfg(test)]
mod common;

use common::*;
use serde_json::Value;

impl Lab {
    fn conf(&self, plugin: &str) -> Value {
        let (v4, v6) = ("10.45.1.0/24", "fd00:10:45:1::/64");
        if plugin == KILO {
            kilo_conf("1.0.0", &self.bridge, self.data.str(), v4, v6)
        } else {
            ref_conf("1.0.0", &self.bridge, self.data.str(), v4, v6)
        }
    }
    fn bridge_exists(&self) -> bool {
        self.node.exec(&["ip", "link", "show", &self.bridge]).0
    }
}

fn eth0_addrs(pod: &Netns) -> Vec<String> {
    let (_, out) = pod.exec(&["ip", "-o", "addr", "show", "dev", "eth0", "scope", "global"]);
    out.lines()
        .filter_map(|l| l.split_whitespace().nth(3))
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_cni_netns_that_is_no_network_namespace_allocates_nothing() {
    let dir = TempDir::new();
    let file = dir.0.join("regular");
    std::fs::write(&file, b"").unwrap();
    let fifo = dir.0.join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let cases = [
        ("a regular file", file.to_str().unwrap().to_owned()),
        ("a FIFO", fifo.to_str().unwrap().to_owned()),
        ("a directory", dir.str().to_owned()),
        ("a UTS namespace", "/proc/self/ns/uts".to_owned()),
    ];
    for (what, path) in &cases {
        for plugin in [KILO, REF_BRIDGE] {
            let lab = Lab::new();
            let out = Call::new(plugin, &lab.node, "ADD", "c1", path).run(&lab.conf(plugin));
            assert!(!out.ok, "{plugin} ADD into {what} succeeded");
            if plugin == KILO {
                assert_eq!(out.code(), 4, "{what}: {}", out.stdout);
                let msg = out.json()["msg"].as_str().unwrap_or_default().to_owned();
                assert!(
                    msg.contains("is not a network namespace") || msg.contains("opening netns"),
                    "{what}: {msg}"
                );
            }
            assert!(
                leases(lab.data.str(), "kilo").is_empty(),
                "{plugin}, {what}: a lease"
            );
            // The reference bridge plugin creates its bridge before it opens the netns.
            if plugin == KILO {
                assert!(!lab.bridge_exists(), "{what}: the bridge was created");
            }
        }
    }
}

/// ADD `first` into a pod, then ADD another container with the same `CNI_IFNAME` into the same
/// pod: the second fails and the first's interface, addresses and leases stay as they were.
fn second_attachment_with_a_taken_ifname(plugin: &str) -> u64 {
    let lab = Lab::new();
    let pod = Netns::new("p");
    let conf = lab.conf(plugin);
    Call::new(plugin, &lab.node, "ADD", "first", &pod.path())
        .run(&conf)
        .assert_ok();
    let before = (eth0_addrs(&pod), leases(lab.data.str(), "kilo"));
    assert_eq!(
        before,
        (
            vec!["10.45.1.2/24".to_owned(), "fd00:10:45:1::2/64".to_owned()],
            vec!["10.45.1.2".to_owned(), "fd00:10:45:1::2".to_owned()]
        ),
        "{plugin}"
    );
    let second = Call::new(plugin, &lab.node, "ADD", "second", &pod.path()).run(&conf);
    assert!(!second.ok, "{plugin}: the second ADD succeeded");
    let after = (eth0_addrs(&pod), leases(lab.data.str(), "kilo"));
    assert_eq!(after, before, "{plugin}: the first attachment changed");
    Call::new(plugin, &lab.node, "DEL", "first", &pod.path())
        .run(&conf)
        .assert_ok();
    assert!(leases(lab.data.str(), "kilo").is_empty(), "{plugin}");
    second.json()["code"].as_u64().unwrap_or_default()
}

#[test]
fn a_taken_ifname_fails_without_touching_the_other_attachment() {
    second_attachment_with_a_taken_ifname(REF_BRIDGE);
    assert_eq!(second_attachment_with_a_taken_ifname(KILO), 103);
}

#[test]
fn a_foreign_interface_with_the_name_is_left_alone() {
    let lab = Lab::new();
    let pod = Netns::new("p");
    // No dummy driver on every kernel: a veth pair inside the pod stands in for it.
    for cmd in [
        &[
            "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "other0",
        ][..],
        &["ip", "addr", "add", "192.0.2.7/24", "dev", "eth0"],
    ] {
        assert!(pod.exec(cmd).0, "{cmd:?} failed in the pod");
    }
    let out = Call::new(KILO, &lab.node, "ADD", "c1", &pod.path()).run(&lab.conf(KILO));
    assert_eq!(out.code(), 103, "{}", out.stdout);
    assert_eq!(
        out.json()["msg"],
        "interface eth0 already exists in the container netns"
    );
    assert_eq!(eth0_addrs(&pod), ["192.0.2.7/24"]);
    assert!(leases(lab.data.str(), "kilo").is_empty());
    assert!(!lab.bridge_exists());
}
