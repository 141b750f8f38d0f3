//! Member-only deltas written over nfnetlink (needs root, iptables, ipset, nft): the kernel ends
//! up holding exactly what the process path (`ipset restore`, `nft -f`) leaves for the same plan,
//! a later read-back finds nothing to rewrite, a member deleted behind kg's back is repaired by
//! the next resync, and a failed netlink write falls back to a read-back and the process path.

#[cfg(test)]
mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{NodeSpec, TestNs, node_plan};
use ipnet::IpNet;
use kilo_firewall::netlink::{Change, SetChanges, WriteError};
use kilo_firewall::{Firewall, NetlinkWriter, SetWriter, Settings};
use kilo_mesh::plan::firewall::{Family, FirewallPlan};

#[cfg(test)]
const TRUST: Duration = Duration::from_secs(3600);

#[cfg(test)]
fn writer(ns: &TestNs) -> NetlinkWriter {
    NetlinkWriter::in_netns(&PathBuf::from("/run/netns").join(&ns.name))
        .unwrap_or_else(|e| panic!("opening a netfilter socket in {}: {e}", ns.name))
}

#[cfg(test)]
fn nets(list: &[&str]) -> Vec<IpNet> {
    list.iter().map(|s| s.parse().unwrap()).collect()
}

/// node 0 of a 3-node mesh, with `v4` and `v6` added to its mesh sets.
#[cfg(test)]
fn plan(v4: &[&str], v6: &[&str]) -> FirewallPlan {
    let mut p = node_plan(&NodeSpec {
        nodes: 3,
        forward: true,
        ..NodeSpec::default()
    });
    p.v4.mesh.extend(nets(v4));
    p.v6.mesh.extend(nets(v6));
    p
}

/// The base plan, a join of hosts, prefixes, adjacent and top-of-space members, a replacement
/// by a wider (overlapping) prefix, and a default route (held as its two halves).
#[cfg(test)]
fn steps() -> Vec<FirewallPlan> {
    vec![
        plan(&["10.200.1.0/25"], &["fd99:0:0:1::/64"]),
        plan(
            &[
                "10.200.1.0/25",
                "10.200.0.0/24",
                "10.200.1.128/25",
                "10.201.0.7/32",
                "255.255.255.255/32",
            ],
            &[
                "fd99:0:0:1::/64",
                "fd99::/64",
                "fd98::1/128",
                "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128",
            ],
        ),
        plan(
            &["10.200.1.0/24", "10.200.0.0/24", "255.255.255.255/32"],
            &["fd99::/63", "fd98::1/128"],
        ),
        plan(&["0.0.0.0/1", "128.0.0.0/1"], &["::/1", "8000::/1"]),
        plan(&["10.200.1.0/25"], &["fd99:0:0:1::/64"]),
    ]
}

/// Everything of kg's sets a reader sees: `ipset save` entries, or nft's listed elements.
#[cfg(test)]
fn ipsets(ns: &TestNs) -> String {
    format!("{:?}", ns.sets())
}

#[cfg(test)]
fn nft_sets(ns: &TestNs) -> String {
    let mut out = String::new();
    for f in ["ip", "ip6"] {
        let t = ns.sh("nft", &["-j", "list", "table", f, "kilo"], None);
        let doc: serde_json::Value = serde_json::from_str(&t).unwrap();
        let mut sets = Vec::new();
        for set in doc["nftables"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|i| i.get("set"))
        {
            let elems = set["elem"].as_array().cloned().unwrap_or_default();
            let shown: Vec<String> = elems
                .iter()
                .map(|e| match e.get("prefix") {
                    Some(p) => format!("{}/{}", p["addr"].as_str().unwrap(), p["len"]),
                    None => e.as_str().unwrap().to_owned(),
                })
                .collect();
            sets.push((set["name"].as_str().unwrap().to_owned(), shown));
        }
        // the mesh set last, so the tests can pin it
        sets.sort_by_key(|(n, _)| n == "mesh");
        for (_, shown) in sets {
            out.push_str(&format!("{shown:?}"));
        }
    }
    out
}

/// Runs `steps` on a netlink-writing backend in `a` and a process-only one in `b` (both trusted),
/// checks after each step that the kernels agree and that a fresh read-back has nothing to write;
/// returns what each step's netlink side ran as processes.
#[cfg(test)]
fn compare(
    mut netlink: Box<dyn Firewall>,
    mut process: Box<dyn Firewall>,
    (a, b): (&TestNs, &TestNs),
    fresh: &dyn Fn() -> Box<dyn Firewall>,
    read: &dyn Fn(&TestNs) -> String,
) -> Vec<String> {
    let mut states = Vec::new();
    for (i, p) in steps().iter().enumerate() {
        let ra = netlink.apply(p).unwrap();
        let rb = process.apply(p).unwrap();
        assert_eq!(ra.operations, rb.operations, "step {i}: counted operations");
        assert_eq!(read(a), read(b), "step {i}: kernel state");
        assert_eq!(
            fresh().apply(p).unwrap().total(),
            0,
            "step {i}: read-back rewrote"
        );
        states.push(read(a));
    }
    states
}

#[test]
fn ipset_members_over_netlink_equal_the_process_path_and_read_back_clean() {
    let (a, b) = (TestNs::new(), TestNs::new());
    let settings = settings_trusting();
    let (fa, _) = a.firewall_with(settings.clone());
    let runner = fa.runner().clone();
    let fa = fa.with_writer(writer(&a));
    let (fb, _) = b.firewall_with(settings);
    let fresh = || -> Box<dyn Firewall> { Box::new(a.firewall().0) };
    runner.clear();
    let states = compare(Box::new(fa), Box::new(fb), (&a, &b), &fresh, &ipsets);
    let mutating: Vec<_> = runner
        .calls()
        .into_iter()
        .filter(|c| c.is_mutating() && c.args != ["--version"])
        .collect();
    // the first apply creates everything by process; every later step is members only
    assert_eq!(mutating.len(), 5, "{mutating:?}");
    let sets = a.sets();
    assert_eq!(
        sets["kilo-mesh-v4"]
            .1
            .iter()
            .filter(|e| e.starts_with("10.20"))
            .collect::<Vec<_>>(),
        ["10.200.1.0/25"]
    );
    assert!(states[1].contains("\"255.255.255.255\""), "{}", states[1]);
    assert!(states[1].contains("\"10.201.0.7\""), "{}", states[1]);
    assert!(states[1].contains("\"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff\""));
    assert!(states[2].contains("\"fd99::/63\""), "{}", states[2]);
    assert!(states[3].contains("\"0.0.0.0/1\"") && states[3].contains("\"128.0.0.0/1\""));

    // A raw /0 (never in a plan: plans hold its halves) fails on both paths alike.
    let mut fa = a
        .firewall_with(settings_trusting())
        .0
        .with_writer(writer(&a));
    let mut fb = b.firewall_with(settings_trusting()).0;
    let base = &steps()[0];
    fa.apply(base).unwrap();
    fb.apply(base).unwrap();
    let raw = plan(&["0.0.0.0/0"], &[]);
    let (ea, eb) = (fa.apply(&raw).unwrap_err(), fb.apply(&raw).unwrap_err());
    assert_eq!(ea.to_string(), eb.to_string());
    assert!(ea.to_string().contains("CIDR"), "{ea}");
}

#[cfg(test)]
fn settings_trusting() -> Settings {
    Settings {
        verify_every: TRUST,
        ..Settings::default()
    }
}

#[test]
fn nft_elements_over_netlink_equal_the_process_path_and_read_back_clean() {
    let (a, b) = (TestNs::new(), TestNs::new());
    let (fa, _) = a.nft_firewall();
    let runner = fa.runner().clone();
    let fa = fa.trusting(TRUST).with_writer(writer(&a));
    let fb = b.nft_firewall().0.trusting(TRUST);
    let fresh = || -> Box<dyn Firewall> { Box::new(a.nft_firewall().0) };
    runner.clear();
    let states = compare(Box::new(fa), Box::new(fb), (&a, &b), &fresh, &nft_sets);
    let mutating: Vec<_> = runner
        .calls()
        .into_iter()
        .filter(|c| c.is_mutating() && c.args != ["--version"])
        .collect();
    // creation (two families), the default route (its low half starts at the zero address:
    // nft's path, read back) and the step after it (its sets were all replaced: nft's path)
    let shown: Vec<_> = mutating
        .iter()
        .map(|c| c.stdin.clone().unwrap_or_default())
        .collect();
    assert_eq!(mutating.len(), 6, "{shown:#?}");
    let v4 = [
        "10.4.0.1",
        "10.4.0.2",
        "10.4.0.3",
        "10.5.0.1",
        "10.42.0.0/24",
        "10.42.1.0/24",
        "10.42.2.0/24",
        "10.43.0.0/16",
        "10.200.0.0/24",
        "10.200.1.0/25",
        "10.200.1.128/25",
        "10.201.0.7",
        "192.168.0.1",
        "192.168.0.2",
        "192.168.0.3",
        "255.255.255.255",
    ];
    let v6 = [
        "fd00::1",
        "fd00::1:1",
        "fd00::2:1",
        "fd05::1",
        "fd42::/64",
        "fd42:0:0:1::/64",
        "fd42:0:0:2::/64",
        "fd43::/112",
        "fd98::1",
        "fd99::/64",
        "fd99:0:0:1::/64",
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    ];
    // each family's mesh set is listed last
    assert!(states[1].contains(&format!("{v4:?}[")), "{}", states[1]);
    assert!(states[1].ends_with(&format!("{v6:?}")), "{}", states[1]);
    assert!(
        states[3].contains(r#"["0.0.0.0/1", "128.0.0.0/1"]["#),
        "{}",
        states[3]
    );
    assert!(
        states[3].ends_with(r#"["::/1", "8000::/1"]"#),
        "{}",
        states[3]
    );
    assert!(states[2].contains("fd99::/63"), "{}", states[2]);
}

#[test]
fn a_member_deleted_behind_kgs_back_is_repaired_by_the_next_resync() {
    let ns = TestNs::new();
    let settings = settings_trusting();
    let mut fw = ns.firewall_with(settings).0.with_writer(writer(&ns));
    let mut nft = ns.nft_firewall().0.trusting(TRUST).with_writer(writer(&ns));
    let [base, join, ..] = &steps()[..] else {
        unreachable!()
    };
    fw.apply(base).unwrap();
    nft.apply(base).unwrap();
    fw.apply(join).unwrap();
    nft.apply(join).unwrap();
    ns.sh("ipset", &["del", "kilo-mesh-v4", "10.201.0.7"], None);
    ns.sh(
        "nft",
        &["delete", "element", "ip", "kilo", "mesh", "{ 10.201.0.7 }"],
        None,
    );
    // within the trust nothing is read, so nothing is noticed
    assert_eq!(fw.apply(join).unwrap().total(), 0);
    assert_eq!(nft.apply(join).unwrap().total(), 0);
    fw.request_resync();
    nft.request_resync();
    assert!(fw.apply(join).unwrap().total() > 0);
    assert!(nft.apply(join).unwrap().total() > 0);
    assert!(ns.sets()["kilo-mesh-v4"].1.contains("10.201.0.7"));
    assert!(nft_sets(&ns).contains("10.201.0.7"));
}

/// A writer that always fails.
#[cfg(test)]
struct Broken;

#[cfg(test)]
impl SetWriter for Broken {
    fn ipset(&self, _: &[(&str, Change)]) -> Result<(), WriteError> {
        Err(WriteError::Reply("broken on purpose".to_owned()))
    }

    fn nft(&self, _: Family, _: &[SetChanges<'_>]) -> Result<(), WriteError> {
        Err(WriteError::Reply("broken on purpose".to_owned()))
    }
}

#[test]
fn a_failed_netlink_write_reads_the_kernel_back_and_writes_by_process() {
    let (ns, elsewhere) = (TestNs::new(), TestNs::new());
    let [base, join, ..] = &steps()[..] else {
        unreachable!()
    };
    let settings = settings_trusting();
    // a real kernel refusal: the socket is in a namespace that has no such set / table
    let iptables: Vec<Box<dyn Firewall>> = vec![
        Box::new(
            ns.firewall_with(settings.clone())
                .0
                .with_writer(writer(&elsewhere)),
        ),
        Box::new(ns.firewall_with(settings).0.with_writer(Broken)),
    ];
    for mut fw in iptables {
        fw.apply(base).unwrap();
        let report = fw.apply(join).unwrap();
        assert!(report.total() > 0);
        assert!(ns.sets()["kilo-mesh-v4"].1.contains("10.201.0.7"));
        assert_eq!(ns.firewall().0.apply(join).unwrap().total(), 0);
        fw.apply(base).unwrap();
        assert!(!ns.sets()["kilo-mesh-v4"].1.contains("10.201.0.7"));
    }
    let nft: Vec<Box<dyn Firewall>> = vec![
        Box::new(
            ns.nft_firewall()
                .0
                .trusting(TRUST)
                .with_writer(writer(&elsewhere)),
        ),
        Box::new(ns.nft_firewall().0.trusting(TRUST).with_writer(Broken)),
    ];
    for mut fw in nft {
        fw.apply(base).unwrap();
        assert!(fw.apply(join).unwrap().total() > 0);
        assert!(nft_sets(&ns).contains("10.201.0.7"));
        assert_eq!(ns.nft_firewall().0.apply(join).unwrap().total(), 0);
        fw.apply(base).unwrap();
        assert!(!nft_sets(&ns).contains("10.201.0.7"));
    }
}
