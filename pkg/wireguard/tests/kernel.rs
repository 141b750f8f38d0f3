//! The kernel backend in a fresh network namespace: it either configures the device (when the
//! module exists) or fails with the clear "no WireGuard support" error (this lab's kernels).
//! Needs root (fails clearly otherwise).

#[cfg(test)]
mod common;

use std::fs::File;

use common::{Netns, assert_device_matches, random_key};
use kilo_mesh::plan::wireguard::{WgPeer, WireGuardPlan};
use kilo_wireguard::{Kernel, PrivateKey, WgError, WireGuard};
use nix::sched::{CloneFlags, setns};

#[test]
fn kernel_backend_configures_or_explains_why_not() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test needs root (network namespaces); CI runs it as root"
    );
    let ns = Netns::new();
    let path = format!("/var/run/netns/{}", ns.name);
    let plan = WireGuardPlan {
        interface: "kwg0".parse().expect("ifname"),
        listen_port: 51820,
        peers: vec![WgPeer {
            name: "node:n2".into(),
            public_key: random_key(),
            endpoint: Some("192.0.2.2:51820".parse().expect("endpoint")),
            allowed_ips: vec!["10.4.0.2/32".parse().expect("prefix")],
            persistent_keepalive: Some(25),
            preshared_key: None,
        }],
    };
    let key = PrivateKey::generate();
    // Netlink sockets belong to the namespace of the thread that opens them.
    let (result, steady) = std::thread::spawn(move || {
        let fd = File::open(&path).expect("netns file");
        setns(&fd, CloneFlags::CLONE_NEWNET).expect("setns");
        let mut kernel = Kernel::new(true);
        let first = kernel
            .apply(&plan, &key)
            .map(|r| (r, kernel.read(&plan.interface)));
        let steady = kernel.apply(&plan, &key).map(|r| r.is_empty()).ok();
        (
            first.map(|(r, dev)| (r, dev, plan, key.public_key())),
            steady,
        )
    })
    .join()
    .expect("thread");
    match result {
        Ok((report, dev, plan, public)) => {
            assert!(report.created);
            assert_device_matches(&dev.expect("read back"), &plan, public);
            assert_eq!(steady, Some(true), "re-apply writes nothing");
        }
        Err(err) => {
            assert!(matches!(err, WgError::KernelUnsupported { .. }), "{err}");
            assert_eq!(
                err.to_string(),
                "the kernel has no WireGuard support (module wireguard not available) for \
                 kwg0; use --wireguard-backend userspace"
            );
        }
    }
}
