//! The netlink adapter: puts a [`NetworkPlan`] into the kernel (links, addresses, routes,
//! policy rules, the encapsulation tunnel), reconciling with the fewest changes and never
//! touching what is not kg's; watches for kg's state being changed behind its back; answers
//! questions about the node's addresses and MTUs. [`RtNetlink`] does I/O (rtnetlink, tokio);
//! `FakeNetwork` (feature `fake`, for tests) is an in-memory stand-in. See `docs/netlink.md`.

use std::future::Future;
use std::net::IpAddr;

use ipnet::IpNet;
use kilo_mesh::plan::network::{LinkNames, NetworkPlan};
use tokio::sync::mpsc;

pub mod diff;
mod error;
#[cfg(any(test, feature = "fake"))]
pub mod fake;
mod kernel;
pub mod model;
mod netns;
mod report;

pub use error::NetlinkError;
#[cfg(any(test, feature = "fake"))]
pub use fake::{FakeFailures, FakeNetwork};
pub use kernel::{RtNetlink, VXLAN_PORT, VXLAN_VNI};
pub use report::{ApplyReport, Change, Object, Op};

/// An address found on one of the node's interfaces.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InterfaceAddress {
    /// Interface name.
    pub interface: String,
    /// Interface index.
    pub index: u32,
    /// The address with its prefix length.
    pub address: IpNet,
}

/// Something changed in the kernel that may need a re-apply. The monitor only reports;
/// debouncing and re-applying are the daemon's job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetworkEvent {
    /// One of kg's routes (protocol 107) was deleted.
    RouteDeleted(IpNet),
    /// One of kg's policy rules (protocol 107) was deleted.
    RuleDeleted,
    /// An address appeared on an interface of the node.
    AddressAdded(IpAddr),
    /// An address disappeared from an interface of the node.
    AddressRemoved(IpAddr),
    /// A link appeared, disappeared or changed state; carries its name when known.
    LinkChanged(String),
}

/// The netlink side of kg, behind a trait so the daemon can run against a fake.
pub trait Network: Send {
    /// Makes the kernel match `plan`: the WireGuard link's MTU and state, the tunnel, kg's
    /// addresses, routes and rules. Entries that already match are not touched; nothing kg
    /// does not own is removed. Returns the changes made (empty when nothing differed).
    fn apply(
        &mut self,
        plan: &NetworkPlan,
    ) -> impl Future<Output = Result<ApplyReport, NetlinkError>> + Send;

    /// Removes everything of kg's: its routes and rules, the addresses on the WireGuard link
    /// and the VXLAN device. Foreign state, `tunl0`, `cilium_tunl` and flannel's `flannel.1`
    /// stay.
    fn clean_up(
        &mut self,
        links: &LinkNames,
    ) -> impl Future<Output = Result<ApplyReport, NetlinkError>> + Send;

    /// Deletes the link called `name` (`--clean-up-interface`); `false` when there is none.
    fn delete_link(
        &mut self,
        name: &str,
    ) -> impl Future<Output = Result<bool, NetlinkError>> + Send;

    /// Every address on every interface of the node (IPv6 link-local included).
    fn addresses(
        &mut self,
    ) -> impl Future<Output = Result<Vec<InterfaceAddress>, NetlinkError>> + Send;

    /// The MTU of an interface (for `--mtu auto`: the private interface's MTU − 80).
    fn mtu(&mut self, interface: &str) -> impl Future<Output = Result<u32, NetlinkError>> + Send;

    /// Whether a link called `name` exists.
    fn has_link(&mut self, name: &str) -> impl Future<Output = Result<bool, NetlinkError>> + Send {
        let name = name.to_owned();
        async move {
            match self.mtu(&name).await {
                Ok(_) => Ok(true),
                Err(NetlinkError::LinkNotFound(_)) => Ok(false),
                Err(e) => Err(e),
            }
        }
    }

    /// The interface of the main table's IPv4 default route with the lowest metric, if any (the
    /// interface kg prefers for the node's private IP). Implementations that cannot tell
    /// answer `None`.
    fn default_interface(
        &mut self,
    ) -> impl Future<Output = Result<Option<String>, NetlinkError>> + Send {
        async { Ok(None) }
    }

    /// Starts watching the kernel; events arrive on the returned channel until it is dropped.
    fn monitor(&mut self) -> Result<mpsc::Receiver<NetworkEvent>, NetlinkError>;

    /// The interface that holds `ip`, if any.
    fn interface_with(
        &mut self,
        ip: IpAddr,
    ) -> impl Future<Output = Result<Option<String>, NetlinkError>> + Send {
        async move {
            Ok(self
                .addresses()
                .await?
                .into_iter()
                .find(|a| a.address.addr() == ip)
                .map(|a| a.interface))
        }
    }
}
