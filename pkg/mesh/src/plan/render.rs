//! Human-readable rendering of a [`NodePlan`] (`kgctl plan -o text`). Pure.

use std::fmt::{Display, Write as _};

use super::network::{RouteDisplay, RuleDisplay};
use super::{EgressState, NodePlan};

fn egress_line<A: Display>(family: &str, s: &EgressState<A>) -> String {
    format!("{family}: {}", s.describe())
}

fn section(out: &mut String, title: &str) {
    let _ = write!(out, "\n== {title} ==\n");
}

impl NodePlan {
    /// Renders the plan as text: WireGuard config, addresses, routes, rules, the exact firewall
    /// batches, the CNI config, the egress decision and the warnings.
    #[must_use]
    pub fn render_text(&self) -> String {
        self.render_text_for(false)
    }

    /// As [`Self::render_text`], with the firewall as `nft -f` scripts when `nftables` is set
    /// (kg's `--firewall-backend nftables`).
    #[must_use]
    pub fn render_text_for(&self, nftables: bool) -> String {
        let mut out = String::new();
        let role = if self.is_leader { "leader" } else { "follower" };
        let _ = writeln!(
            out,
            "node {} ({role} of segment {}, leader {})",
            self.node, self.segment, self.leader
        );
        if let Some(w) = self.wireguard_ip {
            let _ = writeln!(out, "segment WireGuard IP: {w}");
        }
        if let Some(line) = self.allocation.describe() {
            let _ = writeln!(out, "{line}");
        }
        section(&mut out, "WireGuard");
        match &self.wireguard {
            Some(wg) => out.push_str(&wg.render()),
            None => {
                let _ = writeln!(
                    out,
                    "{} is down: this node routes through its leader",
                    self.network.links.wireguard
                );
            }
        }
        self.render_network(&mut out);
        for fam in self.firewall.families() {
            let name = match fam.family {
                super::firewall::Family::V4 => "IPv4",
                super::firewall::Family::V6 => "IPv6",
            };
            if nftables {
                section(&mut out, &format!("Firewall {name}: nft -f"));
                out.push_str(&super::firewall::nftables::nft_table(fam).render());
                continue;
            }
            let rules = super::firewall::iptables::ruleset(fam);
            section(&mut out, &format!("Firewall {name}: ipset restore"));
            out.push_str(&rules.render_ipset_restore());
            section(
                &mut out,
                &format!("Firewall {name}: iptables-restore --noflush"),
            );
            out.push_str(&rules.render_iptables_restore());
        }
        if let Some(cni) = &self.cni {
            section(&mut out, "CNI conflist");
            let _ = writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(cni).unwrap_or_default()
            );
        }
        section(&mut out, "Egress");
        let _ = writeln!(out, "{}", egress_line("IPv4", &self.egress.v4));
        let _ = writeln!(out, "{}", egress_line("IPv6", &self.egress.v6));
        if !self.warnings.is_empty() {
            section(&mut out, "Warnings");
            for w in &self.warnings {
                let _ = writeln!(out, "{}: {}", w.subject, w.message);
            }
        }
        out
    }

    fn render_network(&self, out: &mut String) {
        let n = &self.network;
        section(out, "Links");
        let state = if n.wireguard_up { "up" } else { "down" };
        let _ = writeln!(out, "{} {state} mtu {}", n.links.wireguard, n.mtu);
        if let Some(kind) = n.tunnel {
            let peers: Vec<String> = n.tunnel_peers.iter().map(ToString::to_string).collect();
            let _ = writeln!(
                out,
                "{} ({kind:?}) towards {}",
                n.links.tunnel,
                peers.join(", ")
            );
        }
        section(out, "Addresses");
        for a in &n.addresses {
            let _ = writeln!(out, "{} dev {}", a.address, n.links.name(a.link));
        }
        section(out, "Routes");
        for r in &n.routes {
            let _ = writeln!(out, "{}", RouteDisplay(r, &n.links));
        }
        section(out, "Policy rules");
        for r in &n.rules {
            let _ = writeln!(out, "{}", RuleDisplay(r, &n.links));
        }
    }
}
