//! The helper against the real kernel, in throwaway network namespaces: a dump, ACKed
//! requests, error replies with their errno, a truncated datagram and the stale replies it
//! leaves, refused by their sequence number. Needs root (fails clearly otherwise) and `ip`.

use kilo_nlsock::{Error, Route, Socket};
use netlink_packet_core::{NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL};
use netlink_packet_route::RouteNetlinkMessage as Msg;
use netlink_packet_route::link::LinkMessage;
use nix::errno::Errno;
use support::{Netns, get_link, names, new_bridge};

#[cfg(test)]
mod support {
    use std::fs::File;
    use std::process::Command;
    use std::sync::atomic::{AtomicU32, Ordering};

    use netlink_packet_route::RouteNetlinkMessage as Msg;
    use netlink_packet_route::link::{InfoKind, LinkAttribute, LinkInfo, LinkMessage};
    use nix::sched::{CloneFlags, setns};

    /// A network namespace deleted on drop.
    pub struct Netns(String);

    impl Netns {
        pub fn new() -> Self {
            assert!(
                nix::unistd::geteuid().is_root(),
                "these tests need root (network namespaces); run them as root"
            );
            static N: AtomicU32 = AtomicU32::new(0);
            let name = format!(
                "knls{}x{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            );
            let out = Command::new("ip")
                .args(["netns", "add", &name])
                .output()
                .expect("the `ip` tool (iproute2) is missing");
            assert!(
                out.status.success(),
                "ip netns add {name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            Self(name)
        }

        /// Runs `f` on a thread inside the namespace (netlink sockets belong to the namespace of
        /// the thread that opens them).
        pub fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
            let path = format!("/var/run/netns/{}", self.0);
            std::thread::spawn(move || {
                let fd = File::open(&path).expect("netns file");
                setns(&fd, CloneFlags::CLONE_NEWNET).expect("setns");
                f()
            })
            .join()
            .expect("test thread")
        }
    }

    impl Drop for Netns {
        fn drop(&mut self) {
            let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
        }
    }

    pub fn get_link(name: &str) -> Msg {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_owned()));
        Msg::GetLink(m)
    }

    pub fn new_bridge(name: &str) -> Msg {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_owned()));
        m.attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                InfoKind::Bridge,
            )]));
        Msg::NewLink(m)
    }

    pub fn names(replies: &[Msg]) -> Vec<String> {
        replies
            .iter()
            .filter_map(|r| match r {
                Msg::NewLink(l) => l.attributes.iter().find_map(|a| match a {
                    LinkAttribute::IfName(n) => Some(n.clone()),
                    _ => None,
                }),
                _ => None,
            })
            .collect()
    }
}

#[test]
fn acks_a_request_answers_a_get_and_dumps_every_link() {
    let ns = Netns::new();
    let (created, got, dumped) = ns.run(|| {
        let mut nl = Socket::<Route>::open().expect("socket");
        let created = nl
            .request(new_bridge("knl0"), NLM_F_CREATE | NLM_F_EXCL)
            .expect("create");
        let got = nl.request(get_link("knl0"), 0).expect("get");
        let dumped = nl
            .request(Msg::GetLink(LinkMessage::default()), NLM_F_DUMP)
            .expect("dump");
        (created.len(), names(&got), names(&dumped))
    });
    assert_eq!(created, 0, "an ACKed request has no replies");
    assert_eq!(got, ["knl0"]);
    assert!(
        dumped.starts_with(&["lo".to_owned()]) && dumped.contains(&"knl0".to_owned()),
        "{dumped:?}"
    );
}

#[test]
fn error_replies_keep_their_errno() {
    let ns = Netns::new();
    let (missing, duplicate) = ns.run(|| {
        let mut nl = Socket::<Route>::open().expect("socket");
        let missing = nl.request(get_link("nope0"), 0).unwrap_err();
        nl.request(new_bridge("knl0"), NLM_F_CREATE | NLM_F_EXCL)
            .expect("create");
        let duplicate = nl
            .request(new_bridge("knl0"), NLM_F_CREATE | NLM_F_EXCL)
            .unwrap_err();
        (missing, duplicate)
    });
    assert_eq!(missing.errno(), Some(Errno::ENODEV), "{missing}");
    assert_eq!(missing.to_string(), "kernel: ENODEV: No such device");
    assert_eq!(
        std::io::Error::from(missing).raw_os_error(),
        Some(Errno::ENODEV as i32)
    );
    assert_eq!(duplicate.errno(), Some(Errno::EEXIST), "{duplicate}");
}

#[test]
fn a_truncated_datagram_is_refused_and_so_are_the_stale_replies_after_it() {
    let ns = Netns::new();
    let (truncated, stale) = ns.run(|| {
        let mut nl = Socket::<Route>::open().expect("socket");
        // Enough links that the dump needs several datagrams.
        for i in 0..12 {
            nl.request(new_bridge(&format!("knl{i}")), NLM_F_CREATE | NLM_F_EXCL)
                .expect("create");
        }
        let mut small = Socket::<Route>::with_buffer(512).expect("socket");
        let truncated = small
            .request(Msg::GetLink(LinkMessage::default()), NLM_F_DUMP)
            .unwrap_err();
        let stale = small.request(get_link("lo"), 0).unwrap_err();
        (truncated, stale)
    });
    match truncated {
        Error::Truncated { size, capacity } => {
            assert_eq!(capacity, 512);
            assert!(size > 512, "{size}");
        }
        other => panic!("expected a truncated datagram, got {other:?}"),
    }
    assert_eq!(
        stale.to_string(),
        "netlink reply out of sequence (got 1, want 2)"
    );
}
