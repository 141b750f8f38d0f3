//! `kgctl showconf node|peer NAME`: a leader's WireGuard device (no private key), a segment as
//! one peer (wg text or a Peer manifest for another cluster), or what a Peer configures to join
//! the mesh; read from the API server or from manifests (`-f`).

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use ipnet::IpNet;
use kilo_k8s::peer::{DnsOrIp, Peer, PeerEndpoint, PeerSpec};
use kilo_mesh::plan::Settings;
use kilo_mesh::plan::wireguard::WgPeer;
use kilo_mesh::types::{Encapsulate, Host, TunnelKind};
use kilo_mesh::views::showconf::{node_as_peer, node_conf, peer_conf, render_setconf};

use crate::source::{Cluster, SourceArgs};

/// Arguments of `kgctl showconf`.
#[derive(Args)]
pub struct ShowconfArgs {
    #[command(subcommand)]
    what: What,
}

#[derive(Subcommand)]
enum What {
    /// A leader node's WireGuard device as kg programs it, or (--as-peer) its segment as one peer.
    Node(NodeArgs),
    /// What a Peer configures to join the mesh: one [Peer] per segment and per other Peer.
    Peer(PeerArgs),
}

/// `-o` of `showconf node`.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ConfFormat {
    /// Text for `wg setconf` / `wg addconf`.
    Wireguard,
    /// With --as-peer: a Peer manifest (YAML) for another cluster.
    Yaml,
    /// With --as-peer: a Peer manifest (JSON).
    Json,
}

#[derive(Args)]
struct NodeArgs {
    /// The node (a segment leader).
    name: String,
    /// Print the node's segment as one peer, for another cluster, instead of its device.
    #[arg(long)]
    as_peer: bool,
    /// With --as-peer: also route these CIDRs to the segment (comma-separated or repeated),
    /// e.g. the cluster's service CIDR.
    #[arg(long = "allowed-ips", value_delimiter = ',', requires = "as_peer")]
    allowed_ips: Vec<IpNet>,
    /// Output format; yaml and json need --as-peer.
    #[arg(short = 'o', long, value_enum, default_value = "wireguard")]
    output: ConfFormat,
    /// WireGuard listen port kg runs with (a node's `force-endpoint` port overrides it).
    #[arg(long, default_value_t = 51820)]
    port: u16,
    #[command(flatten)]
    source: SourceArgs,
}

#[derive(Args)]
struct PeerArgs {
    /// The Peer resource's name.
    name: String,
    #[command(flatten)]
    source: SourceArgs,
}

impl ShowconfArgs {
    /// Sets the global API server flags.
    pub fn set_api(&mut self, api: &crate::source::ApiArgs) {
        let source = match &mut self.what {
            What::Node(n) => &mut n.source,
            What::Peer(p) => &mut p.source,
        };
        source.api = api.clone();
    }
}

/// Runs `kgctl showconf` and returns what to print.
pub fn run(a: &ShowconfArgs) -> Result<String> {
    match &a.what {
        What::Node(n) => node(n),
        What::Peer(p) => {
            let c = p.source.load()?;
            let peers = peer_conf(&c.snapshot, c.granularity, c.subnet, &p.name)?;
            Ok(render_setconf(None, &peers))
        }
    }
}

fn node(a: &NodeArgs) -> Result<String> {
    if !a.as_peer && a.output != ConfFormat::Wireguard {
        bail!("-o yaml and -o json describe a node as a Peer: add --as-peer");
    }
    let c = a.source.load()?;
    let settings = wg_settings(&a.name, &c, a.port)?;
    if !a.as_peer {
        let plan = node_conf(&c.snapshot, &settings)?;
        return Ok(render_setconf(Some(plan.listen_port), &plan.peers));
    }
    let peer = node_as_peer(&c.snapshot, &settings, &a.allowed_ips)?;
    Ok(match a.output {
        ConfFormat::Wireguard => render_setconf(None, std::slice::from_ref(&peer)),
        ConfFormat::Yaml => serde_saphyr::to_string(&manifest(&a.name, &peer))?,
        ConfFormat::Json => {
            let mut s = serde_json::to_string_pretty(&manifest(&a.name, &peer))?;
            s.push('\n');
            s
        }
    })
}

/// kg's settings for node `name` as far as its WireGuard device depends on them.
pub(crate) fn wg_settings(name: &str, c: &Cluster, port: u16) -> Result<Settings> {
    Ok(Settings {
        hostname: name
            .parse()
            .with_context(|| format!("node name {name:?}"))?,
        granularity: c.granularity,
        subnet: c.subnet,
        port,
        interface: "kilo0".parse()?,
        encapsulate: Encapsulate::Never,
        tunnel: TunnelKind::Ipip,
        service_cidrs: Vec::new(),
        forward_rules: false,
        cni: false,
        local: true,
        mtu: 1420,
    })
}

/// The segment as a `Peer` resource named after its leader.
fn manifest(name: &str, p: &WgPeer) -> Peer {
    Peer::new(
        name,
        PeerSpec {
            allowed_ips: p.allowed_ips.iter().map(ToString::to_string).collect(),
            endpoint: p.endpoint.as_ref().map(|e| PeerEndpoint {
                dns_or_ip: match &e.host {
                    Host::Ip(ip) => DnsOrIp {
                        dns: None,
                        ip: Some(ip.to_string()),
                    },
                    Host::Dns(d) => DnsOrIp {
                        dns: Some(d.clone()),
                        ip: None,
                    },
                },
                port: i32::from(e.port),
            }),
            persistent_keepalive: p.persistent_keepalive.map(i64::from),
            preshared_key: None,
            public_key: p.public_key.to_base64(),
        },
    )
}
