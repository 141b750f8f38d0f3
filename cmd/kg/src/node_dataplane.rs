//! The real [`Dataplane`]: the WireGuard adapter (kernel or userspace), the netlink adapter and
//! the firewall adapter, composed. Generic over the three adapters so its tests run on the
//! adapters' fakes; [`NodeDataplane::new`] opens the real ones. Does I/O (through the adapters).

use std::time::UNIX_EPOCH;

use anyhow::{Context as _, Result, anyhow};
use kilo_firewall::{Firewall, FirewallMetrics};
use kilo_mesh::plan::NodePlan;
use kilo_mesh::plan::network::LinkNames;
use kilo_mesh::types::{CILIUM_HOST_DEVICE, CILIUM_TUNL_DEVICE, FirewallBackend, IfName, WgKey};
use kilo_netlink::{Network, NetworkEvent, RtNetlink};
use kilo_wireguard::{PrivateKey, WireGuard};
use prometheus_client::registry::Registry;
use tokio::sync::mpsc;

use crate::backend_override::{self, BackendSwitch, SwitchingFirewall};
use crate::dataplane::{Applied, Dataplane, NodeAddress, NodeEvent, Observed, PeerStatus};
use crate::flags::Config;

/// The node's dataplane over a WireGuard driver `W`, a netlink adapter `N` and a firewall `F`.
pub struct NodeDataplane<W: ?Sized, N, F: ?Sized> {
    key: PrivateKey,
    public: WgKey,
    interface: IfName,
    wireguard: Box<W>,
    network: N,
    firewall: Box<F>,
    events: Option<mpsc::Receiver<NetworkEvent>>,
    last_links: Option<LinkNames>,
    leader: bool,
}

impl NodeDataplane<dyn WireGuard + Send, RtNetlink, SwitchingFirewall> {
    /// Loads (or creates) the key and opens the adapters the flags select, in the current
    /// network namespace.
    pub async fn new(cfg: &Config, registry: &mut Registry) -> Result<Self> {
        let key = kilo_wireguard::load_or_create(&cfg.flags.key_file).with_context(|| {
            format!("loading the WireGuard key {}", cfg.flags.key_file.display())
        })?;
        let wireguard = kilo_wireguard::driver(
            cfg.flags.wireguard_backend,
            &cfg.flags.wireguard_socket_dir,
            cfg.flags.create_interface,
        );
        let network = RtNetlink::new().context("opening netlink")?;
        let metrics = FirewallMetrics::register(registry);
        // what an apply read back is trusted until the next resync
        let verify_every = cfg.flags.resync_period;
        let firewall = Box::new(SwitchingFirewall::new(
            cfg.flags.mesh.firewall_backend,
            Box::new(move |kind| backend_override::open(kind, metrics.clone(), verify_every)),
        ));
        Ok(Self::from_parts(
            key,
            cfg.mesh.interface.clone(),
            wireguard,
            network,
            firewall,
        ))
    }
}

impl<W, N, F> NodeDataplane<W, N, F>
where
    W: WireGuard + Send + ?Sized,
    N: Network,
    F: Firewall + ?Sized,
{
    /// Composes opened adapters for the WireGuard interface `interface` and starts watching
    /// the network (without a watch, kg relies on its resync period).
    pub fn from_parts(
        key: PrivateKey,
        interface: IfName,
        wireguard: Box<W>,
        mut network: N,
        firewall: Box<F>,
    ) -> Self {
        let events = match network.monitor() {
            Ok(rx) => Some(rx),
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch netlink; relying on the resync period");
                None
            }
        };
        Self {
            public: key.public_key(),
            key,
            interface,
            wireguard,
            network,
            firewall,
            events,
            last_links: None,
            leader: false,
        }
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

impl<W: ?Sized, N: Network, F: ?Sized> NodeDataplane<W, N, F> {
    /// `cilium_host`'s first IPv4 address among `all`, and whether `cilium_tunl` exists (what
    /// `--compatibility=cilium` publishes and encapsulates on).
    async fn cilium_facts(
        &mut self,
        all: &[kilo_netlink::InterfaceAddress],
    ) -> (Option<ipnet::Ipv4Net>, bool) {
        let host = all
            .iter()
            .filter(|a| a.interface == CILIUM_HOST_DEVICE)
            .find_map(|a| match a.address {
                ipnet::IpNet::V4(v4) => Some(v4),
                ipnet::IpNet::V6(_) => None,
            });
        let tunl = match self.network.has_link(CILIUM_TUNL_DEVICE).await {
            Ok(present) => present,
            Err(e) => {
                tracing::debug!(error = %e, "looking for cilium_tunl failed");
                false
            }
        };
        (host, tunl)
    }
}

/// Runs blocking adapter work (firewall processes, the UAPI socket) without stalling the async
/// workers: kg's runtime is multi-threaded, so the current worker hands its other tasks over.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

/// Every step's error: the one error as it is, several joined into one message.
fn all_of<const K: usize>(steps: [Result<()>; K]) -> Result<()> {
    let mut errors: Vec<anyhow::Error> = steps.into_iter().filter_map(Result::err).collect();
    if errors.len() <= 1 {
        return errors.pop().map_or(Ok(()), Err);
    }
    let all: Vec<String> = errors.iter().map(|e| format!("{e:#}")).collect();
    Err(anyhow!(
        "{} clean-up steps failed: {}",
        all.len(),
        all.join("; ")
    ))
}

impl<W, N, F> Dataplane for NodeDataplane<W, N, F>
where
    W: WireGuard + Send + ?Sized + 'static,
    N: Network + 'static,
    F: Firewall + BackendSwitch + ?Sized + 'static,
{
    fn public_key(&self) -> WgKey {
        self.public
    }

    async fn observe(&mut self) -> Result<Observed> {
        let wg = self.interface.as_str().to_owned();
        let all = self
            .network
            .addresses()
            .await
            .context("listing the node's addresses")?;
        let (cilium_host, cilium_tunl) = self.cilium_facts(&all).await;
        let addresses: Vec<NodeAddress> = all
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
            cilium_host,
            cilium_tunl,
        })
    }

    async fn peer_status(&mut self) -> Vec<PeerStatus> {
        self.peers()
    }

    async fn apply(&mut self, plan: &NodePlan) -> Result<Applied> {
        let mut applied = Applied::default();
        self.leader = plan.is_leader;
        if let Some(wg) = &plan.wireguard {
            let (wireguard, key) = (&mut self.wireguard, &self.key);
            let report = blocking(|| wireguard.apply(wg, key))
                .with_context(|| format!("configuring WireGuard on {}", wg.interface))?;
            for change in &report.changes {
                tracing::info!(change = %crate::change_log::summarize(change), "wireguard");
            }
            applied.wireguard = report.changes.len();
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
        all_of([fw, net, link])
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

#[cfg(test)]
#[path = "node_dataplane_tests.rs"]
mod tests;
