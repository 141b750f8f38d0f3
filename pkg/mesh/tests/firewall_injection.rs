//! Nothing a Node or Peer says reaches an `iptables-restore`, `ipset restore` or `nft -f` batch
//! as text: the firewall intent holds only typed addresses and CIDRs, and every comment is one
//! of kg's constants. A hostile location, Peer name and egress value change no comment and leave
//! no trace in any batch.

#[cfg(test)]
#[allow(
    dead_code,
    reason = "shared by several test binaries; each uses a subset"
)]
mod common;

use std::collections::BTreeSet;

use common::*;
use kilo_mesh::plan::firewall::{iptables, nftables};

const HOSTILE: &str = "x\"\n-A INPUT -j ACCEPT\n# ' } flush ruleset";

/// Every batch of the plan of node-a, both families, both backends.
#[cfg(test)]
fn batches(hostile: bool) -> String {
    let mut nodes = kilo_example();
    nodes[0] = nodes[0].clone().ann("egress-ip", "192.0.2.10");
    let mut s = snap(&nodes.iter().collect::<Vec<_>>(), vec![]);
    if hostile {
        // Past the parser, straight into the plan.
        for n in &mut s.nodes {
            n.location = HOSTILE.to_owned();
        }
        s.peers.push(peer(HOSTILE, 0x70, &["10.99.0.0/16"]));
    }
    let mut settings = settings("node-a");
    settings.forward_rules = true;
    let p = plan(&s, &settings);
    let mut out = String::new();
    for ff in p.firewall.families() {
        let r = iptables::ruleset(ff);
        out.push_str(&r.render_ipset_restore());
        out.push_str(&r.render_iptables_restore());
        out.push_str(&nftables::nft_table(ff).render());
    }
    out
}

/// The text between the quotes after each `comment ` / `--comment `.
#[cfg(test)]
fn comments(text: &str) -> BTreeSet<String> {
    text.split("comment \"")
        .skip(1)
        .filter_map(|rest| rest.split_once('"').map(|(c, _)| c.to_owned()))
        .collect()
}

#[test]
fn hostile_values_never_reach_a_firewall_batch() {
    let benign = batches(false);
    let hostile = batches(true);
    let got = comments(&hostile);
    assert_eq!(got, comments(&benign), "the comments are kg's constants");
    assert!(got.len() >= 5, "comments were found: {got:?}");
    for c in &got {
        assert!(c.starts_with("Kilo: "), "{c:?}");
    }
    for marker in ["INPUT -j ACCEPT", "flush", "'", "peer", "x\""] {
        assert!(
            !hostile.contains(marker),
            "{marker:?} reached a batch:\n{hostile}"
        );
    }
}
