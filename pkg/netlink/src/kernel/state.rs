//! Reconciling kg's addresses, routes and policy rules. Does I/O.

use std::collections::BTreeMap;

use kilo_mesh::plan::network::{LinkNames, NetworkPlan};
use rtnetlink::packet_core::{NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE};
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::packet_route::address::{AddressAttribute, AddressFlags, AddressHeaderFlags};

use super::RtNetlink;
use super::parse::{self, Links};
use crate::diff::{diff, diff_sets};
use crate::error::errno;
use crate::model::owned_links;
use crate::model::{Address, Desired, Route, Rule};
use crate::{ApplyReport, NetlinkError, Object, Op};

const EEXIST: i32 = 17;

impl RtNetlink {
    /// Addresses currently on links, with the messages needed to delete them.
    async fn current_addresses(
        &self,
        links: &Links,
    ) -> Result<BTreeMap<Address, rtnetlink::packet_route::address::AddressMessage>, NetlinkError>
    {
        Ok(self
            .dump_addresses()
            .await?
            .into_iter()
            .filter_map(|m| {
                let (index, address) = parse::address(&m)?;
                Some((
                    Address {
                        link: links.name(index),
                        address,
                    },
                    m,
                ))
            })
            .collect())
    }

    pub(super) async fn apply_addresses(
        &self,
        plan: &NetworkPlan,
        want: &Desired,
        links: &Links,
        report: &mut ApplyReport,
    ) -> Result<(), NetlinkError> {
        let owned = owned_links(&plan.links, plan.tunnel);
        let current = self.current_addresses(links).await?;
        // Only kg's links are reconciled both ways; elsewhere kg adds but never removes.
        let have: Vec<Address> = current
            .keys()
            .filter(|a| !parse::is_link_local(&a.address))
            .filter(|a| owned.contains(&a.link) || want.addresses.contains(a))
            .cloned()
            .collect();
        let d = diff_sets(&have, &want.addresses);
        for a in d.delete {
            if let Some(msg) = current.get(&a) {
                self.delete_address(&a, msg.clone(), report).await?;
            }
        }
        for a in d.add {
            let index = links
                .by_name(&a.link)
                .ok_or_else(|| NetlinkError::LinkNotFound(a.link.clone()))?
                .index;
            let mut req =
                self.handle
                    .address()
                    .add(index, a.address.addr(), a.address.prefix_len());
            if a.address.addr().is_ipv6() {
                // No duplicate-address detection: routes may use it as `src` at once.
                let msg = req.message_mut();
                msg.header.flags |= AddressHeaderFlags::Nodad;
                msg.attributes
                    .push(AddressAttribute::Flags(AddressFlags::Nodad));
            }
            req.execute()
                .await
                .map_err(|e| NetlinkError::kernel(format!("adding address {a}"), e))?;
            report.push(Op::Add, Object::Address, &a);
        }
        Ok(())
    }

    async fn delete_address(
        &self,
        a: &Address,
        msg: rtnetlink::packet_route::address::AddressMessage,
        report: &mut ApplyReport,
    ) -> Result<(), NetlinkError> {
        self.handle
            .address()
            .del(msg)
            .execute()
            .await
            .map_err(|e| NetlinkError::kernel(format!("deleting address {a}"), e))?;
        report.push(Op::Delete, Object::Address, a);
        Ok(())
    }

    /// Removes every address but IPv6 link-local ones from the WireGuard link.
    pub(super) async fn remove_owned_addresses(
        &self,
        names: &LinkNames,
        links: &Links,
        report: &mut ApplyReport,
    ) -> Result<(), NetlinkError> {
        let wg = names.wireguard.to_string();
        for (a, msg) in self.current_addresses(links).await? {
            if a.link == wg && !parse::is_link_local(&a.address) {
                self.delete_address(&a, msg, report).await?;
            }
        }
        Ok(())
    }

    /// Reconciles kg's routes. `adopt` names the device of a CNI kg runs on top of (flannel's
    /// `flannel.1`): a foreign route there in the slot of one of kg's is taken over, as Kilo's
    /// route replace does (flannel routes every node's pod CIDR; kg's routes to other
    /// locations win).
    pub(super) async fn apply_routes(
        &self,
        want: &Desired,
        links: &Links,
        adopt: Option<&str>,
        report: &mut ApplyReport,
    ) -> Result<(), NetlinkError> {
        let have: Vec<Route> = self.dump_routes(|m| parse::route(m, links)).await?;
        let d = diff(&have, &want.routes, Route::slot);
        for r in d.delete {
            let msg = parse::route_message(&r, links.by_name(&r.dev).map(|l| l.index), true);
            self.request(RouteNetlinkMessage::DelRoute(msg), 0)
                .await
                .map_err(|e| NetlinkError::kernel(format!("deleting route {r}"), e))?;
            report.push(Op::Delete, Object::Route, &r);
        }
        for (old, new) in d.replace {
            let msg = parse::route_message(&new, Some(oif(links, &new)?), false);
            self.request(
                RouteNetlinkMessage::NewRoute(msg),
                NLM_F_CREATE | NLM_F_REPLACE,
            )
            .await
            .map_err(|e| NetlinkError::kernel(format!("replacing route {old} with {new}"), e))?;
            report.push(Op::Replace, Object::Route, &new);
        }
        for r in d.add {
            let msg = parse::route_message(&r, Some(oif(links, &r)?), false);
            match self
                .request(
                    RouteNetlinkMessage::NewRoute(msg),
                    NLM_F_CREATE | NLM_F_EXCL,
                )
                .await
            {
                Ok(()) => report.push(Op::Add, Object::Route, &r),
                Err(e) if errno(&e) == Some(EEXIST) => {
                    self.take_over(&r, links, adopt, report).await?;
                }
                Err(e) => return Err(NetlinkError::kernel(format!("adding route {r}"), e)),
            }
        }
        Ok(())
    }

    /// Replaces the foreign route in `r`'s slot when it is on the adopted device; any other
    /// owner's route is a [`NetlinkError::ForeignConflict`].
    async fn take_over(
        &self,
        r: &Route,
        links: &Links,
        adopt: Option<&str>,
        report: &mut ApplyReport,
    ) -> Result<(), NetlinkError> {
        let conflict = || NetlinkError::ForeignConflict {
            route: r.to_string(),
        };
        let Some(dev) = adopt else {
            return Err(conflict());
        };
        let theirs = self
            .dump_routes(|m| parse::foreign_route(m, links))
            .await?
            .into_iter()
            .find(|f| f.slot() == r.slot() && f.dev == dev);
        let Some(theirs) = theirs else {
            return Err(conflict());
        };
        let msg = parse::route_message(r, Some(oif(links, r)?), false);
        self.request(
            RouteNetlinkMessage::NewRoute(msg),
            NLM_F_CREATE | NLM_F_REPLACE,
        )
        .await
        .map_err(|e| NetlinkError::kernel(format!("replacing route {theirs} with {r}"), e))?;
        report.push(Op::Replace, Object::Route, r);
        Ok(())
    }

    pub(super) async fn apply_rules(
        &self,
        want: &Desired,
        report: &mut ApplyReport,
    ) -> Result<(), NetlinkError> {
        let dumped: Vec<(Rule, Option<u32>)> = self
            .dump_rules()
            .await?
            .iter()
            .filter_map(parse::rule)
            .collect();
        let have: Vec<Rule> = dumped.iter().map(|(r, _)| r.clone()).collect();
        let d = diff_sets(&have, &want.rules);
        for r in d.delete {
            for (_, prio) in dumped.iter().filter(|(h, _)| *h == r) {
                let msg = parse::rule_message(&r, *prio);
                self.request(RouteNetlinkMessage::DelRule(msg), 0)
                    .await
                    .map_err(|e| NetlinkError::kernel(format!("deleting rule {r}"), e))?;
            }
            report.push(Op::Delete, Object::Rule, &r);
        }
        for r in d.add {
            let msg = parse::rule_message(&r, None);
            self.request(RouteNetlinkMessage::NewRule(msg), NLM_F_CREATE | NLM_F_EXCL)
                .await
                .map_err(|e| NetlinkError::kernel(format!("adding rule {r}"), e))?;
            report.push(Op::Add, Object::Rule, &r);
        }
        Ok(())
    }
}

fn oif(links: &Links, r: &Route) -> Result<u32, NetlinkError> {
    links
        .by_name(&r.dev)
        .map(|l| l.index)
        .ok_or_else(|| NetlinkError::LinkNotFound(r.dev.clone()))
}
