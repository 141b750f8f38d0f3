//! `kgctl plan`: what kg would program on one node, computed offline from manifests or from
//! the API server's Nodes and Peers.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::Args;
use kilo_mesh::annotations::{AnnotationProblem, Severity};
use kilo_mesh::flags::MeshFlags;
use kilo_mesh::local::{self, HostFacts, NodeAddress};
use kilo_mesh::plan::firewall::{iptables, nftables};
use kilo_mesh::plan::{self, LocalFacts, NodePlan, Settings};
use kilo_mesh::{FirewallBackend, IfName, Node, Snapshot};
use serde_json::json;

use crate::manifests::{self, NodeProblem, Rejected};

pub use crate::output::Output;

/// Arguments of `kgctl plan`; topology flags have kg's names and defaults.
#[derive(Args)]
pub struct PlanArgs {
    /// Manifest files or directories: YAML (multi-document) or JSON, objects or Lists. Without
    /// `-f`, the Nodes and Peers come from the API server.
    #[arg(short = 'f', long = "filename")]
    files: Vec<PathBuf>,
    /// The global API server flags (set by `main` from the top-level ones).
    #[arg(skip)]
    pub api: crate::source::ApiArgs,
    /// The node to plan for.
    #[arg(long)]
    hostname: String,
    /// The flags that decide the plan: kg's own definitions, names, defaults and `KILO_*`
    /// environment variables.
    #[command(flatten)]
    mesh: MeshFlags,
    /// Judge `last-seen` freshness at this unix time [default: the newest `last-seen` found].
    #[arg(long)]
    now: Option<i64>,
    /// Addresses assigned on the node (repeatable); an egress IP not among them is not used.
    #[arg(long = "node-address")]
    node_addresses: Vec<IpAddr>,
    /// Name of the node's private interface, for display.
    #[arg(long)]
    private_iface: Option<String>,
    /// An address on one of the node's interfaces, `IFACE=ADDR/PREFIX` (repeatable): kgctl then
    /// discovers the private IPs and endpoint from them as kg does and overlays them on the Node.
    #[arg(long = "host-address", value_parser = parse_host_address)]
    host_addresses: Vec<NodeAddress>,
    /// The interface of the node's default route (with `--host-address`).
    #[arg(long)]
    default_iface: Option<IfName>,
    /// Chain the portmap plugin in the CNI config.
    #[arg(long)]
    portmap: bool,
    /// Cilium renamed `tunl0` to `cilium_tunl` on the node (`--compatibility=cilium` then
    /// encapsulates on it, as kg does when it finds it).
    #[arg(long)]
    cilium_tunl: bool,
    /// The MTU of the node's private interface, for `--mtu auto` (unknown: 1420 is used).
    #[arg(long)]
    underlay_mtu: Option<u32>,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    output: Output,
}

fn settings(a: &PlanArgs) -> Result<Settings> {
    let hostname = a.hostname.parse().context("--hostname")?;
    Ok(a.mesh.settings(hostname, a.underlay_mtu)?)
}

/// Everything `plan` and `graph` compute from the manifests.
struct Inputs {
    settings: Settings,
    snapshot: Snapshot,
    facts: LocalFacts,
    problems: Vec<NodeProblem>,
    rejected: Vec<Rejected>,
}

/// Runs `kgctl plan` and returns what to print.
pub fn run(a: &PlanArgs) -> Result<String> {
    let i = inputs(a)?;
    let plan = plan::plan(&i.snapshot, &i.settings, &i.facts)
        .with_context(|| format!("planning node {}", a.hostname))?;
    let nftables = a.mesh.firewall_backend == FirewallBackend::Nftables;
    Ok(match a.output {
        Output::Text => text(&plan, nftables, &i.problems, &i.rejected),
        Output::Json | Output::Yaml => crate::output::document(
            &json(&plan, nftables, &i.problems, &i.rejected)?,
            a.output == Output::Yaml,
        )?,
    })
}

fn parse_host_address(s: &str) -> Result<NodeAddress> {
    let (iface, net) = s
        .split_once('=')
        .with_context(|| format!("{s:?} is not IFACE=ADDR/PREFIX"))?;
    Ok(NodeAddress {
        iface: iface.parse()?,
        net: net
            .parse()
            .with_context(|| format!("{net:?} is not ADDR/PREFIX"))?,
    })
}

fn inputs(a: &PlanArgs) -> Result<Inputs> {
    let settings = settings(a)?;
    let manifests::Translated {
        mut nodes,
        peers,
        problems,
        rejected,
    } = manifests::translate(&a.api.objects(&a.files)?, &a.mesh.topology_label);
    let mut problems = problems;
    let now = match a.now {
        Some(now) => now,
        None => offline_now(&nodes, wall_clock(), &mut problems),
    };
    let mut facts = LocalFacts {
        private_iface: a
            .private_iface
            .as_deref()
            .map(str::parse)
            .transpose()
            .context("--private-iface")?,
        addresses: (!a.node_addresses.is_empty()).then(|| a.node_addresses.clone()),
        portmap: a.portmap,
        cilium_tunl: a.cilium_tunl,
    };
    if !a.host_addresses.is_empty() {
        replay_local(a, &settings, &mut nodes, &mut facts);
    }
    let snapshot = Snapshot { nodes, peers, now };
    Ok(Inputs {
        settings,
        snapshot,
        facts,
        problems,
        rejected,
    })
}

/// The current unix time.
pub fn wall_clock() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The time freshness is judged at without `--now`: the newest `last-seen` that is not after
/// the clock by more than the ready window. A later one is reported and not used, so one node's
/// clock (or a hostile value) cannot make every other node look stale.
pub fn offline_now(nodes: &[Node], wall: i64, problems: &mut Vec<NodeProblem>) -> i64 {
    let limit = wall.saturating_add(kilo_mesh::node::READY_WINDOW_SECS);
    let mut now = None;
    for n in nodes {
        let Some(seen) = n.last_seen else { continue };
        if seen > limit {
            problems.push(NodeProblem {
                node: n.name.to_string(),
                problem: AnnotationProblem {
                    annotation: kilo_mesh::annotations::keys::LAST_SEEN.to_owned(),
                    value: seen.to_string(),
                    reason: format!(
                        "{} s in the future of this machine's clock; not used to judge the \
                         other nodes' freshness (pass --now to choose)",
                        seen - wall
                    ),
                    severity: Severity::Warning,
                },
            });
        } else {
            now = now.max(Some(seen));
        }
    }
    now.unwrap_or(0)
}

/// What kg decides from its node's addresses: the discovered private IPs and endpoint overlaid
/// on the planned Node (its published key and heartbeat kept), the private interface, and the
/// node's addresses for the egress check.
fn replay_local(a: &PlanArgs, settings: &Settings, nodes: &mut [Node], facts: &mut LocalFacts) {
    let host = HostFacts {
        addresses: a.host_addresses.clone(),
        default_iface: a.default_iface.clone(),
    };
    let d = local::discover(&host, &a.mesh.discover_settings());
    if let Some(me) = nodes.iter_mut().find(|n| n.name == settings.hostname)
        && let Some(key) = me.key
    {
        let seen = me.last_seen.unwrap_or_default();
        local::overlay(me, key, &d, seen);
    }
    facts.private_iface = facts.private_iface.take().or(d.iface);
    let ips = a.host_addresses.iter().map(|h| h.net.addr());
    facts.addresses.get_or_insert_with(Vec::new).extend(ips);
}

fn text(
    plan: &NodePlan,
    nftables: bool,
    problems: &[NodeProblem],
    rejected: &[Rejected],
) -> String {
    let mut out = plan.render_text_for(nftables);
    if !problems.is_empty() || !rejected.is_empty() {
        out.push_str("\n== Annotation problems ==\n");
        manifests::render_problems(&mut out, problems, rejected);
    }
    out
}

fn json(
    plan: &NodePlan,
    nftables: bool,
    problems: &[NodeProblem],
    rejected: &[Rejected],
) -> Result<serde_json::Value> {
    // `plan.firewall` keeps its documented iptables form; the neutral intent is beside it
    let rulesets = plan.firewall.families().map(iptables::ruleset);
    let firewall_text: BTreeMap<&str, serde_json::Value> = plan
        .firewall
        .families()
        .into_iter()
        .zip(&rulesets)
        .map(|(f, rules)| {
            let text = if nftables {
                json!({ "nft": nftables::nft_table(f).render() })
            } else {
                json!({ "ipsetRestore": rules.render_ipset_restore(), "iptablesRestore": rules.render_iptables_restore() })
            };
            (f.family.as_str(), text)
        })
        .collect();
    let mut plan_doc = serde_json::to_value(plan)?;
    let [v4, v6] = &rulesets;
    plan_doc["firewall"] = json!({ "v4": v4, "v6": v6 });
    let doc = json!({
        "apiVersion": "kgctl.kilo.squat.ai/v1alpha1",
        "kind": "NodePlan",
        "plan": plan_doc,
        "firewallIntent": plan.firewall,
        "firewallText": firewall_text,
        "wireguardText": plan.wireguard.as_ref().map(kilo_mesh::plan::WireGuardPlan::render),
        "annotationProblems": problems,
        "rejectedPeers": rejected,
    });
    Ok(doc)
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
