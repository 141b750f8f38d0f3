//! `kgctl plan`: what kg would program on one node, computed offline from manifests.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::{ArgAction, Args, ValueEnum};
use ipnet::{IpNet, Ipv4Net};
use kilo_mesh::Snapshot;
use kilo_mesh::plan::firewall::{iptables, nftables};
use kilo_mesh::plan::{self, LocalFacts, NodePlan, Settings};
use kilo_mesh::types::{Encapsulate, Granularity, TunnelKind};
use serde_json::json;

use crate::manifests::{self, NodeProblem, Rejected};

/// `--mesh-granularity`.
#[derive(Clone, Copy, ValueEnum)]
pub enum GranularityArg {
    /// One segment per location.
    Location,
    /// One segment per node.
    Full,
}

/// `--encapsulate`.
#[derive(Clone, Copy, ValueEnum)]
pub enum EncapsulateArg {
    /// Always encapsulate inside a location.
    Always,
    /// Only across subnets.
    Crosssubnet,
    /// Never.
    Never,
}

/// `--tunnel`.
#[derive(Clone, Copy, ValueEnum)]
pub enum TunnelArg {
    /// IP-in-IP (`tunl0`).
    Ipip,
    /// VXLAN (`kilo.vxlan`).
    Vxlan,
}

/// `--firewall-backend`.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FirewallBackendArg {
    /// `ipset restore` + `iptables-restore` batches.
    Iptables,
    /// `nft -f` scripts for kg's tables `ip kilo` / `ip6 kilo`.
    Nftables,
}

/// Output format.
#[derive(Clone, Copy, ValueEnum)]
pub enum Output {
    /// Readable sections.
    Text,
    /// Stable JSON (docs/kgctl-plan.md).
    Json,
}

/// Arguments of `kgctl plan`; topology flags have kg's names and defaults.
#[derive(Args)]
pub struct PlanArgs {
    /// Manifest files or directories: YAML (multi-document) or JSON, objects or Lists. Without
    /// `-f`, the Nodes and Peers come from the API server.
    #[arg(short = 'f', long = "filename")]
    files: Vec<PathBuf>,
    #[command(flatten)]
    api: crate::source::ApiArgs,
    /// The node to plan for.
    #[arg(long)]
    hostname: String,
    /// WireGuard subnet.
    #[arg(long, default_value = "10.4.0.0/16")]
    subnet: Ipv4Net,
    /// Mesh granularity.
    #[arg(long, value_enum, default_value = "location")]
    mesh_granularity: GranularityArg,
    /// Service CIDRs (repeatable); never NATed.
    #[arg(long = "service-cidr")]
    service_cidrs: Vec<IpNet>,
    /// Encapsulation inside a location.
    #[arg(long, value_enum, default_value = "always")]
    encapsulate: EncapsulateArg,
    /// Tunnel used by encapsulation.
    #[arg(long, value_enum, default_value = "ipip")]
    tunnel: TunnelArg,
    /// Add FORWARD accept rules for the location's CIDRs.
    #[arg(long, default_value_t = false, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    iptables_forward_rules: bool,
    /// kg manages pod networking (NAT for local pods, CNI config).
    #[arg(long, default_value_t = true, action = ArgAction::Set)]
    cni: bool,
    /// Route inside a location over the private network.
    #[arg(long, default_value_t = true, action = ArgAction::Set)]
    local: bool,
    /// WireGuard listen port.
    #[arg(long, default_value_t = 51820)]
    port: u16,
    /// WireGuard interface.
    #[arg(long, default_value = "kilo0")]
    interface: String,
    /// WireGuard MTU.
    #[arg(long, default_value_t = 1420)]
    mtu: u32,
    /// Label holding a node's location.
    #[arg(long, default_value = "topology.kubernetes.io/region")]
    topology_label: String,
    /// Judge `last-seen` freshness at this unix time [default: the newest `last-seen` found].
    #[arg(long)]
    now: Option<i64>,
    /// Addresses assigned on the node (repeatable); an egress IP not among them is not used.
    #[arg(long = "node-address")]
    node_addresses: Vec<IpAddr>,
    /// Name of the node's private interface, for display.
    #[arg(long)]
    private_iface: Option<String>,
    /// Chain the portmap plugin in the CNI config.
    #[arg(long)]
    portmap: bool,
    /// The firewall backend kg runs with: how the firewall section is written.
    #[arg(long, value_enum, default_value = "iptables")]
    firewall_backend: FirewallBackendArg,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    output: Output,
}

fn settings(a: &PlanArgs) -> Result<Settings> {
    Ok(Settings {
        hostname: a.hostname.parse().context("--hostname")?,
        granularity: match a.mesh_granularity {
            GranularityArg::Location => Granularity::Location,
            GranularityArg::Full => Granularity::Full,
        },
        subnet: a.subnet,
        port: a.port,
        interface: a.interface.parse().context("--interface")?,
        encapsulate: match a.encapsulate {
            EncapsulateArg::Always => Encapsulate::Always,
            EncapsulateArg::Crosssubnet => Encapsulate::CrossSubnet,
            EncapsulateArg::Never => Encapsulate::Never,
        },
        tunnel: match a.tunnel {
            TunnelArg::Ipip => TunnelKind::Ipip,
            TunnelArg::Vxlan => TunnelKind::Vxlan,
        },
        service_cidrs: a.service_cidrs.clone(),
        forward_rules: a.iptables_forward_rules,
        cni: a.cni,
        local: a.local,
        mtu: a.mtu,
    })
}

/// Everything `plan` and `graph` compute from the manifests.
struct Inputs {
    settings: Settings,
    snapshot: Snapshot,
    facts: LocalFacts,
    problems: Vec<NodeProblem>,
    rejected: Vec<Rejected>,
}

/// Runs `kgctl graph`: the topology seen from `--hostname` as DOT.
pub fn graph(a: &PlanArgs) -> Result<String> {
    let i = inputs(a)?;
    let topo = kilo_mesh::Topology::new(
        &i.snapshot,
        &i.settings.hostname,
        i.settings.granularity,
        i.settings.subnet,
    )
    .with_context(|| format!("computing the topology from node {}", a.hostname))?;
    Ok(kilo_mesh::graph::to_dot(&topo))
}

/// Runs `kgctl plan` and returns what to print.
pub fn run(a: &PlanArgs) -> Result<String> {
    let i = inputs(a)?;
    let plan = plan::plan(&i.snapshot, &i.settings, &i.facts)
        .with_context(|| format!("planning node {}", a.hostname))?;
    let nftables = a.firewall_backend == FirewallBackendArg::Nftables;
    Ok(match a.output {
        Output::Text => text(&plan, nftables, &i.problems, &i.rejected),
        Output::Json => json(&plan, nftables, &i.problems, &i.rejected)?,
    })
}

fn inputs(a: &PlanArgs) -> Result<Inputs> {
    let settings = settings(a)?;
    let manifests::Translated {
        nodes,
        peers,
        problems,
        rejected,
    } = manifests::translate(&a.api.objects(&a.files)?, &a.topology_label);
    let now = a
        .now
        .or_else(|| nodes.iter().filter_map(|n| n.last_seen).max())
        .unwrap_or(0);
    let snapshot = Snapshot { nodes, peers, now };
    let facts = LocalFacts {
        private_iface: a
            .private_iface
            .as_deref()
            .map(str::parse)
            .transpose()
            .context("--private-iface")?,
        addresses: (!a.node_addresses.is_empty()).then(|| a.node_addresses.clone()),
        portmap: a.portmap,
    };
    Ok(Inputs {
        settings,
        snapshot,
        facts,
        problems,
        rejected,
    })
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
) -> Result<String> {
    let firewall_text: BTreeMap<&str, serde_json::Value> = plan
        .firewall
        .families()
        .into_iter()
        .map(|f| {
            let text = if nftables {
                json!({ "nft": nftables::nft_table(f).render() })
            } else {
                let rules = iptables::ruleset(f);
                json!({ "ipsetRestore": rules.render_ipset_restore(), "iptablesRestore": rules.render_iptables_restore() })
            };
            (f.family.as_str(), text)
        })
        .collect();
    // `plan.firewall` keeps its documented iptables form; the neutral intent is beside it
    let mut plan_doc = serde_json::to_value(plan)?;
    plan_doc["firewall"] = json!({
        "v4": iptables::ruleset(&plan.firewall.v4),
        "v6": iptables::ruleset(&plan.firewall.v6),
    });
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
    let mut s = serde_json::to_string_pretty(&doc)?;
    s.push('\n');
    Ok(s)
}
