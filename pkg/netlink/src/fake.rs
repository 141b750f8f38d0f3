//! An in-memory [`Network`] for tests of the daemon: it keeps kg's and foreign state in sets,
//! reconciles with the same diff as the kernel adapter and reports the same changes, and can be
//! told to fail. Built for this crate's tests and behind the `fake` feature. No I/O.

use std::collections::{BTreeMap, BTreeSet};

use kilo_mesh::plan::network::{LinkNames, NetworkPlan};
use kilo_mesh::types::TunnelKind;
use tokio::sync::mpsc;

use crate::diff::{diff, diff_sets};
use crate::model::{Address, Desired, Route, Rule, owned_links};
use crate::{ApplyReport, InterfaceAddress, NetlinkError, Network, NetworkEvent, Object, Op};

/// A link as the fake knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeLink {
    /// MTU.
    pub mtu: u32,
    /// Administrative state.
    pub up: bool,
}

/// The fake kernel.
#[derive(Debug, Default)]
pub struct FakeNetwork {
    /// Links by name; the WireGuard link must exist before `apply`, like in the kernel.
    pub links: BTreeMap<String, FakeLink>,
    /// Addresses on links (kg's and foreign).
    pub addresses: BTreeSet<Address>,
    /// kg's routes.
    pub routes: BTreeSet<Route>,
    /// kg's rules.
    pub rules: BTreeSet<Rule>,
    /// Routes with another protocol; never touched.
    pub foreign_routes: BTreeSet<Route>,
    /// VXLAN flood entries (peer IPs) on the tunnel.
    pub fdb: BTreeSet<std::net::IpAddr>,
    /// Errors the next mutating calls return instead of acting.
    pub fail: FakeFailures,
    events: Option<mpsc::Sender<NetworkEvent>>,
}

/// Errors a [`FakeNetwork`] returns, one per kind of mutating call; each is used once.
#[derive(Debug, Default)]
pub struct FakeFailures {
    /// Returned by the next `apply`.
    pub apply: Option<NetlinkError>,
    /// Returned by the next `clean_up`.
    pub clean_up: Option<NetlinkError>,
    /// Returned by the next `delete_link`.
    pub delete_link: Option<NetlinkError>,
}

/// `Err` with the injected failure, if there is one.
fn injected(failure: &mut Option<NetlinkError>) -> Result<(), NetlinkError> {
    failure.take().map_or(Ok(()), Err)
}

impl FakeNetwork {
    /// A fake with the given links (name, MTU), all up.
    #[must_use]
    pub fn with_links(links: &[(&str, u32)]) -> Self {
        Self {
            links: links
                .iter()
                .map(|(n, mtu)| {
                    (
                        (*n).to_owned(),
                        FakeLink {
                            mtu: *mtu,
                            up: true,
                        },
                    )
                })
                .collect(),
            ..Self::default()
        }
    }

    /// Deletes one of kg's routes behind its back, as an administrator would.
    pub fn delete_route_by_hand(&mut self, route: &Route) {
        if self.routes.remove(route) {
            self.emit(NetworkEvent::RouteDeleted(route.dst));
        }
    }

    fn emit(&self, event: NetworkEvent) {
        if let Some(tx) = &self.events {
            // A full or closed channel only means a re-apply is already pending or unwanted.
            let _ = tx.try_send(event);
        }
    }

    fn apply_links(
        &mut self,
        plan: &NetworkPlan,
        report: &mut ApplyReport,
    ) -> Result<(), NetlinkError> {
        let name = plan.links.wireguard.to_string();
        let link = self
            .links
            .get_mut(&name)
            .ok_or_else(|| NetlinkError::LinkNotFound(name.clone()))?;
        if link.mtu != plan.mtu {
            link.mtu = plan.mtu;
            report.push(Op::Set, Object::Link, format!("{name} mtu {}", plan.mtu));
        }
        if link.up != plan.wireguard_up {
            link.up = plan.wireguard_up;
            let state = if plan.wireguard_up { "up" } else { "down" };
            report.push(Op::Set, Object::Link, format!("{name} {state}"));
        }
        let vxlan = TunnelKind::Vxlan.device().to_string();
        match plan.tunnel {
            Some(TunnelKind::Flannel) => {
                let dev = plan.links.tunnel.to_string();
                if !self.links.contains_key(&dev) {
                    return Err(NetlinkError::AdoptedLinkMissing(dev));
                }
            }
            Some(_) => {
                let dev = plan.links.tunnel.to_string();
                if !self.links.contains_key(&dev) {
                    self.links.insert(
                        dev.clone(),
                        FakeLink {
                            mtu: 1450,
                            up: true,
                        },
                    );
                    report.push(Op::Add, Object::Link, &dev);
                }
            }
            None => {
                if self.links.remove(&vxlan).is_some() {
                    report.push(Op::Delete, Object::Link, &vxlan);
                }
            }
        }
        let want: Vec<_> = match plan.tunnel {
            Some(TunnelKind::Vxlan) => plan.tunnel_peers.clone(),
            _ => Vec::new(),
        };
        let have: Vec<_> = self.fdb.iter().copied().collect();
        let d = diff_sets(&have, &want);
        for ip in d.delete {
            self.fdb.remove(&ip);
            report.push(
                Op::Delete,
                Object::Fdb,
                format!("00:00:00:00:00:00 dst {ip}"),
            );
        }
        for ip in d.add {
            self.fdb.insert(ip);
            report.push(Op::Add, Object::Fdb, format!("00:00:00:00:00:00 dst {ip}"));
        }
        Ok(())
    }

    fn apply_state(&mut self, plan: &NetworkPlan, want: &Desired, report: &mut ApplyReport) {
        let owned = owned_links(&plan.links, plan.tunnel);
        let have: Vec<_> = self
            .addresses
            .iter()
            .filter(|a| owned.contains(&a.link) || want.addresses.contains(a))
            .cloned()
            .collect();
        let d = diff_sets(&have, &want.addresses);
        for a in d.delete.into_iter().filter(|a| owned.contains(&a.link)) {
            self.addresses.remove(&a);
            report.push(Op::Delete, Object::Address, &a);
        }
        for a in d.add {
            report.push(Op::Add, Object::Address, &a);
            self.addresses.insert(a);
        }
        let have: Vec<_> = self.routes.iter().cloned().collect();
        let d = diff(&have, &want.routes, Route::slot);
        for r in d.delete {
            self.routes.remove(&r);
            report.push(Op::Delete, Object::Route, &r);
        }
        for (old, new) in d.replace {
            self.routes.remove(&old);
            report.push(Op::Replace, Object::Route, &new);
            self.routes.insert(new);
        }
        for r in d.add {
            report.push(Op::Add, Object::Route, &r);
            self.routes.insert(r);
        }
        let have: Vec<_> = self.rules.iter().cloned().collect();
        let d = diff_sets(&have, &want.rules);
        for r in d.delete {
            self.rules.remove(&r);
            report.push(Op::Delete, Object::Rule, &r);
        }
        for r in d.add {
            report.push(Op::Add, Object::Rule, &r);
            self.rules.insert(r);
        }
    }
}

impl Network for FakeNetwork {
    async fn apply(&mut self, plan: &NetworkPlan) -> Result<ApplyReport, NetlinkError> {
        injected(&mut self.fail.apply)?;
        let want = Desired::from_plan(plan)?;
        let mut report = ApplyReport::default();
        self.apply_links(plan, &mut report)?;
        self.apply_state(plan, &want, &mut report);
        Ok(report)
    }

    async fn clean_up(&mut self, links: &LinkNames) -> Result<ApplyReport, NetlinkError> {
        injected(&mut self.fail.clean_up)?;
        let mut report = ApplyReport::default();
        for r in std::mem::take(&mut self.routes) {
            report.push(Op::Delete, Object::Route, &r);
        }
        for r in std::mem::take(&mut self.rules) {
            report.push(Op::Delete, Object::Rule, &r);
        }
        let wg = links.wireguard.to_string();
        let (mine, rest): (BTreeSet<_>, BTreeSet<_>) = std::mem::take(&mut self.addresses)
            .into_iter()
            .partition(|a| a.link == wg);
        self.addresses = rest;
        for a in mine {
            report.push(Op::Delete, Object::Address, &a);
        }
        let vxlan = TunnelKind::Vxlan.device().to_string();
        if self.links.remove(&vxlan).is_some() {
            self.fdb.clear();
            report.push(Op::Delete, Object::Link, &vxlan);
        }
        Ok(report)
    }

    async fn delete_link(&mut self, name: &str) -> Result<bool, NetlinkError> {
        injected(&mut self.fail.delete_link)?;
        let existed = self.links.remove(name).is_some();
        self.addresses.retain(|a| a.link != name);
        Ok(existed)
    }

    async fn addresses(&mut self) -> Result<Vec<InterfaceAddress>, NetlinkError> {
        let index: BTreeMap<&String, u32> = self.links.keys().zip(1..).collect();
        Ok(self
            .addresses
            .iter()
            .map(|a| InterfaceAddress {
                interface: a.link.clone(),
                index: index.get(&a.link).copied().unwrap_or(0),
                address: a.address,
            })
            .collect())
    }

    async fn mtu(&mut self, interface: &str) -> Result<u32, NetlinkError> {
        self.links
            .get(interface)
            .map(|l| l.mtu)
            .ok_or_else(|| NetlinkError::LinkNotFound(interface.to_owned()))
    }

    fn monitor(&mut self) -> Result<mpsc::Receiver<NetworkEvent>, NetlinkError> {
        let (tx, rx) = mpsc::channel(64);
        self.events = Some(tx);
        Ok(rx)
    }
}

#[cfg(test)]
#[path = "fake_tests.rs"]
mod tests;
