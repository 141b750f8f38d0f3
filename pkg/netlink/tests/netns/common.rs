//! Test helpers: uniquely named network namespaces removed on drop, `ip` in them, sockets
//! opened inside them, and a realistic leader plan.

use std::fs::File;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use ipnet::IpNet;
use kilo_mesh::plan::network::{
    AddressPlan, Link, LinkNames, NetworkPlan, RoutePlan, RulePlan, Table,
};
use kilo_mesh::types::IfName;
use nix::sched::{CloneFlags, setns};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Fails (never skips) when the test cannot run here.
pub fn require_prerequisites() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "these tests create network namespaces and must run as root (CI runs them as root)"
    );
    let ip = Command::new("ip").arg("-V").output();
    assert!(
        ip.is_ok_and(|o| o.status.success()),
        "the `ip` binary (iproute2) is required but was not found"
    );
}

/// A network namespace created for one test and deleted on drop, even on failure.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new() -> Self {
        require_prerequisites();
        let name = format!(
            "knl{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        run(&["ip", "netns", "add", &name]);
        let ns = Self { name };
        ns.ip("link set lo up");
        ns
    }

    pub fn path(&self) -> String {
        format!("/run/netns/{}", self.name)
    }

    /// Runs `ip -n <ns> <args>` and returns stdout; panics on failure.
    pub fn ip(&self, args: &str) -> String {
        let mut argv = vec!["ip", "-n", &self.name];
        argv.extend(args.split_whitespace());
        run(&argv)
    }

    /// Like [`Self::ip`], lines trimmed, empty lines dropped.
    pub fn ip_lines(&self, args: &str) -> Vec<String> {
        self.ip(args)
            .lines()
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
            .collect()
    }

    /// The `ip rule` lines other than the kernel's three defaults.
    pub fn rules(&self, family: &str) -> Vec<String> {
        self.ip_lines(&format!("{family} rule show"))
            .into_iter()
            .filter(|l| {
                !l.starts_with("0:") && !l.starts_with("32766:") && !l.starts_with("32767:")
            })
            .collect()
    }

    /// Global addresses of a link (`10.4.0.1/16`).
    pub fn addresses(&self, link: &str) -> Vec<String> {
        self.ip(&format!("-o addr show dev {link} scope global"))
            .lines()
            .filter_map(|l| l.split_whitespace().nth(3).map(str::to_owned))
            .collect()
    }

    /// A UDP socket bound inside this netns.
    pub fn udp_socket(&self, bind: SocketAddr) -> UdpSocket {
        let path = self.path();
        std::thread::spawn(move || {
            let f = File::open(&path).expect("open netns");
            setns(f, CloneFlags::CLONE_NEWNET).expect("setns");
            UdpSocket::bind(bind).expect("bind udp socket in netns")
        })
        .join()
        .expect("netns thread")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

pub fn run(argv: &[&str]) -> String {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .unwrap_or_else(|e| panic!("running {argv:?}: {e}"));
    assert!(
        out.status.success(),
        "{argv:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn net(s: &str) -> IpNet {
    s.parse().expect("test CIDR")
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().expect("test IP")
}

pub fn ifname(s: &str) -> IfName {
    s.parse().expect("test interface name")
}

pub fn route(
    dst: &str,
    via: Option<&str>,
    dev: Link,
    src: Option<&str>,
    table: Table,
    onlink: bool,
) -> RoutePlan {
    RoutePlan {
        dst: net(dst),
        via: via.map(ip),
        dev,
        src: src.map(ip),
        table,
        onlink,
    }
}

pub fn rule(src: Option<&str>, dst: Option<&str>, iif: Option<Link>) -> RulePlan {
    RulePlan {
        src: src.map(net),
        dst: dst.map(net),
        iif,
        table: Table::Kilo,
    }
}

/// Adds a link standing in for a real one: one end of a veth pair whose other end
/// (`<name>-p`) is up, so the link has carrier once up (the lab kernel has no dummy module).
pub fn stand_in(ns: &Netns, name: &str) {
    ns.ip(&format!("link add {name} type veth peer name {name}-p"));
    ns.ip(&format!("link set {name}-p up"));
}

/// Builds the underlay of a leader: `kilo0` (standing in for WireGuard, down) and `eth0`
/// (the private interface, up, 10.0.0.1/24 and fd00::1/64).
pub fn leader_links(ns: &Netns) {
    stand_in(ns, "kilo0");
    stand_in(ns, "eth0");
    ns.ip("link set eth0 up");
    ns.ip("addr add 10.0.0.1/24 dev eth0");
    ns.ip("addr add fd00::1/64 dev eth0 nodad");
}

/// A leader's plan: WireGuard address, routes to another segment via its WireGuard IP
/// (onlink, with src), IPv6 routes on kilo0, a same-location route via the private link, and
/// table-1107 routes and rules for both families.
pub fn leader_plan() -> NetworkPlan {
    use Link::{Private, WireGuard};
    use Table::{Kilo, Main};
    NetworkPlan {
        links: LinkNames {
            wireguard: ifname("kilo0"),
            private: Some(ifname("eth0")),
            tunnel: ifname("tunl0"),
        },
        wireguard_up: true,
        mtu: 1420,
        tunnel: None,
        tunnel_peers: vec![],
        addresses: vec![AddressPlan {
            link: WireGuard,
            address: net("10.4.0.1/16"),
        }],
        routes: vec![
            route(
                "10.42.1.0/24",
                Some("10.4.0.2"),
                WireGuard,
                Some("10.0.0.1"),
                Main,
                true,
            ),
            route(
                "10.1.0.5/32",
                Some("10.4.0.2"),
                WireGuard,
                Some("10.0.0.1"),
                Main,
                true,
            ),
            route("fd42:1::/64", None, WireGuard, None, Main, false),
            route("fd10::5/128", None, WireGuard, None, Main, false),
            route("10.42.2.0/24", Some("10.0.0.2"), Private, None, Main, false),
            route(
                "10.0.0.2/32",
                Some("10.0.0.2"),
                Private,
                Some("10.0.0.1"),
                Kilo,
                false,
            ),
            route("fd00::2/128", Some("fd00::2"), Private, None, Kilo, false),
        ],
        rules: vec![
            rule(Some("10.42.0.0/24"), Some("10.0.0.2/32"), None),
            rule(None, Some("10.0.0.2/32"), Some(WireGuard)),
            rule(Some("fd42::/64"), Some("fd00::2/128"), None),
        ],
    }
}

/// Polls `f` until it returns `Some` or the deadline passes.
pub fn poll<T>(deadline: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + deadline;
    while Instant::now() < end {
        if let Some(v) = f() {
            return Some(v);
        }
    }
    None
}
