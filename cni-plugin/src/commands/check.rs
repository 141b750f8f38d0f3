//! CHECK: verifies the attachment against prevResult: leases, bridge, container interface,
//! its addresses and routes. Does netlink and file I/O.

use std::net::IpAddr;

use crate::commands::add::family_gateway;
use crate::commands::{nl_err, prev_result, require_version};
use crate::config::NetConf;
use crate::env::Env;
use crate::error::{CniError, CniResult, Code};
use crate::ipam::{Ipam, delegate};
use crate::netlink::Netlink;
use crate::netns;
use crate::result::CniResult as Res;

fn failed(msg: String) -> CniError {
    CniError::new(Code::CheckFailed, msg, "")
}

/// Runs CHECK.
pub fn run(env: &Env, conf: &NetConf, raw: &[u8]) -> CniResult<()> {
    require_version(conf, (0, 4, 0), "CHECK")?;
    let prev = prev_result(conf)?
        .ok_or_else(|| CniError::new(Code::InvalidConfig, "CHECK needs prevResult", ""))?;
    let ns = netns::open(&env.netns)?;
    match conf.ipam_delegate() {
        Some(plugin) => {
            delegate::exec(plugin, &env.path, "CHECK", raw)?;
        }
        None => check_leases(env, conf, &prev)?,
    }
    let mut nl = Netlink::new().map_err(nl_err("opening netlink socket"))?;
    let br = conf.bridge_name();
    if nl
        .link(br)
        .map_err(nl_err(format!("looking up bridge {br}")))?
        .is_none()
    {
        return Err(failed(format!("bridge {br} does not exist")));
    }
    netns::run_in(&ns, || check_pod(env, &prev))
}

fn check_leases(env: &Env, conf: &NetConf, prev: &Res) -> CniResult<()> {
    let leased: Vec<IpAddr> = Ipam::new(conf)?.leased(&env.container_id, &env.ifname)?;
    for ip in &prev.ips {
        if !leased.contains(&ip.address.addr()) {
            return Err(failed(format!(
                "address {} is not leased to container {} interface {}",
                ip.address, env.container_id, env.ifname
            )));
        }
    }
    Ok(())
}

fn check_pod(env: &Env, prev: &Res) -> CniResult<()> {
    let ifname = &env.ifname;
    let mut nl = Netlink::new().map_err(nl_err("opening netlink socket in the container netns"))?;
    let link = nl
        .link(ifname)
        .map_err(nl_err(format!("looking up {ifname}")))?;
    let link = link.ok_or_else(|| {
        failed(format!(
            "interface {ifname} not found in netns {}",
            env.netns
        ))
    })?;
    let expected = prev
        .interfaces
        .iter()
        .find(|i| &i.name == ifname && !i.sandbox.is_empty());
    if let Some(i) =
        expected.filter(|i| !i.mac.is_empty() && !i.mac.eq_ignore_ascii_case(&link.mac))
    {
        return Err(failed(format!(
            "interface {ifname} has MAC {}, prevResult says {}",
            link.mac, i.mac
        )));
    }
    let addrs = nl
        .addrs(link.index)
        .map_err(nl_err(format!("listing addresses of {ifname}")))?;
    for ip in &prev.ips {
        if !addrs.contains(&ip.address) {
            return Err(failed(format!(
                "address {} missing on {ifname}",
                ip.address
            )));
        }
    }
    for (v4, routes) in [(true, nl.routes(true)), (false, nl.routes(false))] {
        let routes = routes.map_err(nl_err("listing routes"))?;
        for want in prev.routes.iter().filter(|r| r.dst.addr().is_ipv4() == v4) {
            let gw = want.gw.or_else(|| family_gateway(&prev.ips, &want.dst));
            if !routes
                .iter()
                .any(|r| r.dst == want.dst && r.gw == gw && r.oif == Some(link.index))
            {
                let via = gw.map(|g| format!(" via {g}")).unwrap_or_default();
                return Err(failed(format!(
                    "route {}{via} missing on {ifname}",
                    want.dst
                )));
            }
        }
    }
    Ok(())
}
