//! The real [`Dataplane`]: the WireGuard adapter (kernel or userspace), the netlink adapter and
//! the firewall adapter, composed. Does I/O.

use std::time::UNIX_EPOCH;

use anyhow::{Context as _, Result};
use kilo_firewall::{Firewall, FirewallMetrics};
use kilo_mesh::plan::NodePlan;
use kilo_mesh::plan::network::LinkNames;
use kilo_mesh::types::{FirewallBackend, IfName, WgKey};
use kilo_netlink::{Network as _, NetworkEvent, RtNetlink};
use kilo_wireguard::{PrivateKey, WireGuard};
use prometheus_client::registry::Registry;
use tokio::sync::mpsc;

use crate::backend_override::{self, SwitchingFirewall};
use crate::dataplane::{Applied, Dataplane, NodeAddress, NodeEvent, Observed, PeerStatus};
use crate::flags::Config;

/// The node's dataplane.
pub struct NodeDataplane {
    key: PrivateKey,
    public: WgKey,
    interface: IfName,
    wireguard: Box<dyn WireGuard + Send>,
    network: RtNetlink,
    firewall: SwitchingFirewall,
    events: Option<mpsc::Receiver<NetworkEvent>>,
    last_links: Option<LinkNames>,
    leader: bool,
}

impl NodeDataplane {
    /// Loads (or creates) the key and opens the adapters in the current network namespace.
    pub async fn new(cfg: &Config, registry: &mut Registry) -> Result<Self> {
        let key = kilo_wireguard::load_or_create(&cfg.flags.key_file).with_context(|| {
            format!("loading the WireGuard key {}", cfg.flags.key_file.display())
        })?;
        let public = key.public_key();
        let wireguard = kilo_wireguard::driver(
            cfg.flags.wireguard_backend,
            &cfg.flags.wireguard_socket_dir,
            cfg.flags.create_interface,
        );
        let mut network = RtNetlink::new().context("opening netlink")?;
        let events = match network.monitor() {
            Ok(rx) => Some(rx),
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch netlink; relying on the resync period");
                None
            }
        };
        let metrics = FirewallMetrics::register(registry);
        let firewall = SwitchingFirewall::new(
            cfg.flags.mesh.firewall_backend,
            Box::new(move |kind| backend_override::open(kind, metrics.clone())),
        );
        Ok(Self {
            key,
            public,
            interface: cfg.mesh.interface.clone(),
            wireguard,
            network,
            firewall,
            events,
            last_links: None,
            leader: false,
        })
    }

    fn peers(&self) -> Vec<PeerStatus> {
        if !self.leader {
            return Vec::new();
        }
        let Ok(dev) = blocking(|| self.wireguard.read(&self.interface)) else {
            return Vec::new();
        };
        dev.peers
            .into_iter()
            .map(|p| PeerStatus {
                key: p.public_key,
                endpoint: p.endpoint,
                last_handshake: p
                    .last_handshake
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .and_then(|d| i64::try_from(d.as_secs()).ok()),
                rx_bytes: p.rx_bytes,
                tx_bytes: p.tx_bytes,
            })
            .collect()
    }
}

/// Runs blocking adapter work (firewall processes, the UAPI socket) without stalling the async
/// workers: kg's runtime is multi-threaded, so the current worker hands its other tasks over.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

impl Dataplane for NodeDataplane {
    fn public_key(&self) -> WgKey {
        self.public
    }

    async fn observe(&mut self) -> Result<Observed> {
        let wg = self.interface.as_str().to_owned();
        let addresses: Vec<NodeAddress> = self
            .network
            .addresses()
            .await
            .context("listing the node's addresses")?
            .into_iter()
            .filter(|a| kilo_mesh::local::is_node_interface(&a.interface, &wg))
            .filter_map(|a| {
                Some(NodeAddress {
                    iface: a.interface.parse().ok()?,
                    net: a.address,
                })
            })
            .collect();
        let default_iface = match self.network.default_interface().await {
            Ok(i) => i.and_then(|i| i.parse().ok()),
            Err(e) => {
                tracing::debug!(error = %e, "reading the default route failed");
                None
            }
        };
        let private = default_iface.clone().or_else(|| {
            addresses
                .iter()
                .find(|a| a.net.addr().is_ipv4())
                .map(|a| a.iface.clone())
        });
        let underlay_mtu = match &private {
            Some(i) => self.network.mtu(i.as_str()).await.ok(),
            None => None,
        };
        Ok(Observed {
            addresses,
            default_iface,
            underlay_mtu,
            peers: self.peers(),
        })
    }

    async fn apply(&mut self, plan: &NodePlan) -> Result<Applied> {
        let mut applied = Applied::default();
        self.leader = plan.is_leader;
        if let Some(wg) = &plan.wireguard {
            let (wireguard, key) = (&mut self.wireguard, &self.key);
            let report = blocking(|| wireguard.apply(wg, key))
                .with_context(|| format!("configuring WireGuard on {}", wg.interface))?;
            for line in report.lines() {
                tracing::info!(change = %line, "wireguard");
            }
            applied.wireguard = report.lines().len();
        }
        let net = self
            .network
            .apply(&plan.network)
            .await
            .context("applying addresses, routes and rules")?;
        applied.network = net.changes.len();
        self.last_links = Some(plan.network.links.clone());
        let firewall = &mut self.firewall;
        let fw = blocking(|| firewall.apply(&plan.firewall)).context("applying the firewall")?;
        applied.firewall = usize::try_from(fw.total()).unwrap_or(usize::MAX);
        Ok(applied)
    }

    async fn clean_up(&mut self, interface: bool) -> Result<()> {
        let firewall = &mut self.firewall;
        let fw = blocking(|| firewall.clean_up())
            .map(|_| ())
            .context("cleaning up the firewall");
        let links = self.last_links.clone();
        let net = match links {
            Some(l) => self
                .network
                .clean_up(&l)
                .await
                .map(|_| ())
                .context("cleaning up routes and rules"),
            None => Ok(()),
        };
        let link = if interface {
            let name = self.interface.as_str();
            match self.network.delete_link(name).await {
                Ok(deleted) => {
                    tracing::info!(interface = name, deleted, "--clean-up-interface");
                    Ok(())
                }
                Err(e) => Err(e).with_context(|| format!("deleting interface {name}")),
            }
        } else {
            Ok(())
        };
        fw?;
        net?;
        link
    }

    fn want_firewall(&mut self, backend: FirewallBackend) {
        self.firewall.want(backend);
    }

    async fn next_event(&mut self) -> NodeEvent {
        let Some(rx) = self.events.as_mut() else {
            return std::future::pending().await;
        };
        match rx.recv().await {
            Some(NetworkEvent::AddressAdded(_) | NetworkEvent::AddressRemoved(_)) => {
                NodeEvent::Addresses
            }
            Some(_) => NodeEvent::Drift,
            None => {
                self.events = None;
                std::future::pending().await
            }
        }
    }
}
