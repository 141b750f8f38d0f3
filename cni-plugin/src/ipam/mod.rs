//! IPAM: the built-in host-local compatible allocator (ranges + lease store) and delegation
//! to an external IPAM plugin. Does file I/O (and process spawning when delegating).

pub mod delegate;
pub mod range;
pub mod store;

use std::net::IpAddr;
use std::path::PathBuf;

use ipnet::IpNet;

use crate::config::{DEFAULT_DATA_DIR, IpamConf, NetConf};
use crate::error::{CniError, CniResult, Code};
use crate::result::{CniResult as Res, IpConfig, Route};
use range::{RangeSet, candidates, range_sets};
use store::Store;

/// The built-in IPAM of one network.
pub struct Ipam {
    network: String,
    data_dir: PathBuf,
    sets: Vec<RangeSet>,
    routes: Vec<Route>,
}

impl Ipam {
    /// Builds the allocator from the `ipam` section (validated: code 7 on errors).
    pub fn new(conf: &NetConf) -> CniResult<Self> {
        let default = IpamConf::default();
        let ipam = conf.plugin.ipam.as_ref().unwrap_or(&default);
        let sets = range_sets(ipam)?;
        let routes = ipam
            .routes
            .iter()
            .map(|r| Route {
                dst: r.dst,
                gw: r.gw,
            })
            .collect();
        let data_dir = PathBuf::from(ipam.data_dir.as_deref().unwrap_or(DEFAULT_DATA_DIR));
        Ok(Self {
            network: conf.name.clone(),
            data_dir,
            sets,
            routes,
        })
    }

    fn store(&self) -> CniResult<Store> {
        Store::open(&self.data_dir, &self.network)
    }

    /// Allocates one address per range set for the attachment (host-local's ADD).
    pub fn allocate(&self, id: &str, ifname: &str) -> CniResult<Res> {
        let store = self.store()?;
        let leases = store.leases()?;
        let mut ips = Vec::with_capacity(self.sets.len());
        for (idx, set) in self.sets.iter().enumerate() {
            if let Some(l) = leases
                .iter()
                .find(|l| l.owned_by(id, ifname) && set.iter().any(|r| r.contains(l.ip)))
            {
                rollback(&store, &ips);
                return Err(CniError::new(
                    Code::AlreadyAllocated,
                    format!(
                        "{} has been allocated to {id}, duplicate allocation is not allowed",
                        l.ip
                    ),
                    format!("interface {ifname}"),
                ));
            }
            match self.reserve_in_set(&store, idx, set, id, ifname) {
                Ok(ip) => ips.push(ip),
                Err(e) => {
                    rollback(&store, &ips);
                    return Err(e);
                }
            }
        }
        Ok(Res {
            ips,
            routes: self.routes.clone(),
            ..Default::default()
        })
    }

    fn reserve_in_set(
        &self,
        store: &Store,
        idx: usize,
        set: &RangeSet,
        id: &str,
        ifname: &str,
    ) -> CniResult<IpConfig> {
        for ip in candidates(set, store.last_reserved(idx)) {
            if store.reserve(ip, id, ifname, idx)? {
                let Some(r) = set.iter().find(|r| r.contains(ip)) else {
                    continue;
                };
                let address = IpNet::new(ip, r.subnet.prefix_len()).map_err(|e| {
                    CniError::new(Code::InvalidConfig, "building address", e.to_string())
                })?;
                return Ok(IpConfig {
                    interface: None,
                    address,
                    gateway: Some(r.gateway),
                });
            }
        }
        let subnets: Vec<String> = set.iter().map(|r| r.subnet.to_string()).collect();
        Err(CniError::new(
            Code::TryAgainLater,
            format!(
                "no IP addresses available in range set {}",
                subnets.join(",")
            ),
            "",
        ))
    }

    /// Releases every lease of the attachment (host-local's DEL); missing leases are fine.
    pub fn release(&self, id: &str, ifname: &str) -> CniResult<()> {
        let store = self.store()?;
        for l in store.leases()?.iter().filter(|l| l.owned_by(id, ifname)) {
            store.release(l.ip)?;
        }
        Ok(())
    }

    /// The addresses currently leased to the attachment.
    pub fn leased(&self, id: &str, ifname: &str) -> CniResult<Vec<IpAddr>> {
        let store = self.store()?;
        Ok(store
            .leases()?
            .into_iter()
            .filter(|l| l.owned_by(id, ifname))
            .map(|l| l.ip)
            .collect())
    }

    /// Releases every lease whose attachment is not in `valid`; returns the freed addresses.
    pub fn gc(&self, valid: &[(String, String)]) -> CniResult<Vec<IpAddr>> {
        let store = self.store()?;
        let mut freed = Vec::new();
        for l in store.leases()? {
            if !valid.iter().any(|(id, ifn)| l.owned_by(id, ifn)) {
                store.release(l.ip)?;
                freed.push(l.ip);
            }
        }
        Ok(freed)
    }

    /// STATUS: the store must be usable and every range set must have a free address.
    pub fn status(&self) -> CniResult<()> {
        let store = self.store().map_err(|e| {
            CniError::new(Code::NotAvailable, "lease store unusable", e.to_string())
        })?;
        let leases = store.leases().map_err(|e| {
            CniError::new(Code::NotAvailable, "lease store unusable", e.to_string())
        })?;
        for set in &self.sets {
            let cap: u128 = set.iter().map(|r| r.capacity()).sum();
            let used = leases
                .iter()
                .filter(|l| set.iter().any(|r| r.contains(l.ip) && l.ip != r.gateway))
                .count();
            if u128::try_from(used).unwrap_or(u128::MAX) >= cap {
                let subnets: Vec<String> = set.iter().map(|r| r.subnet.to_string()).collect();
                return Err(CniError::new(
                    Code::NotAvailable,
                    format!("range set {} is exhausted", subnets.join(",")),
                    "",
                ));
            }
        }
        Ok(())
    }
}

fn rollback(store: &Store, ips: &[IpConfig]) {
    for ip in ips {
        let _ = store.release(ip.address.addr());
    }
}
