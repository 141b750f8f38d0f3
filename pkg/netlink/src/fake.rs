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
            Some(kind) => {
                let dev = kind.device().to_string();
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
mod tests {
    use super::*;
    use kilo_mesh::plan::network::{AddressPlan, Link, RoutePlan, Table};

    fn plan() -> NetworkPlan {
        NetworkPlan {
            links: LinkNames {
                wireguard: "kilo0".parse().unwrap(),
                private: Some("eth0".parse().unwrap()),
                tunnel: "tunl0".parse().unwrap(),
            },
            wireguard_up: true,
            mtu: 1420,
            tunnel: None,
            tunnel_peers: vec![],
            addresses: vec![AddressPlan {
                link: Link::WireGuard,
                address: "10.4.0.1/16".parse().unwrap(),
            }],
            routes: vec![RoutePlan {
                dst: "10.42.1.0/24".parse().unwrap(),
                via: Some("10.4.0.2".parse().unwrap()),
                dev: Link::WireGuard,
                src: None,
                table: Table::Main,
                onlink: true,
            }],
            rules: vec![],
        }
    }

    #[tokio::test]
    async fn applies_reapplies_and_restores_a_deleted_route() {
        let mut fake = FakeNetwork::with_links(&[("kilo0", 1500), ("eth0", 1500)]);
        let mut events = fake.monitor().unwrap();
        let first = fake.apply(&plan()).await.unwrap();
        assert_eq!(
            first.lines(),
            [
                "set link kilo0 mtu 1420",
                "add address 10.4.0.1/16 dev kilo0",
                "add route 10.42.1.0/24 via 10.4.0.2 dev kilo0 onlink",
            ]
        );
        assert!(fake.apply(&plan()).await.unwrap().is_empty());
        let route = fake.routes.iter().next().unwrap().clone();
        fake.delete_route_by_hand(&route);
        assert_eq!(
            events.try_recv().unwrap(),
            NetworkEvent::RouteDeleted(route.dst)
        );
        let again = fake.apply(&plan()).await.unwrap();
        assert_eq!(
            again.lines(),
            ["add route 10.42.1.0/24 via 10.4.0.2 dev kilo0 onlink"]
        );
        let cleaned = fake.clean_up(&plan().links).await.unwrap();
        assert_eq!(cleaned.lines().len(), 2);
        assert!(fake.routes.is_empty() && fake.addresses.is_empty());
    }

    #[tokio::test]
    async fn injected_failures_are_returned_once() {
        let mut fake = FakeNetwork::with_links(&[("kilo0", 1500)]);
        fake.fail.clean_up = Some(NetlinkError::NoPrivateLink);
        fake.fail.delete_link = Some(NetlinkError::LinkNotFound("kilo0".into()));
        let err = fake.clean_up(&plan().links).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "the plan uses the private interface, but its name is unknown"
        );
        assert!(fake.clean_up(&plan().links).await.unwrap().is_empty());
        let err = fake.delete_link("kilo0").await.unwrap_err();
        assert_eq!(err.to_string(), "link kilo0 not found");
        assert!(fake.links.contains_key("kilo0"));
        assert!(fake.delete_link("kilo0").await.unwrap());
    }

    #[tokio::test]
    async fn a_missing_wireguard_link_is_an_error() {
        let err = FakeNetwork::default().apply(&plan()).await.unwrap_err();
        assert_eq!(err.to_string(), "link kilo0 not found");
    }
}
