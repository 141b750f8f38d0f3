//! DEL: releases IPAM (even when the netns is gone) and removes the container interface
//! (which removes its veth peer). Idempotent. Does netlink and file I/O.

use std::fs::File;

use crate::commands::{host_veth_name, nl_err};
use crate::config::NetConf;
use crate::env::Env;
use crate::error::{CniError, CniResult, Code};
use crate::ipam::{Ipam, delegate};
use crate::netlink::Netlink;
use crate::netns;

/// Runs DEL: the leases are released while the links are deleted (the kernel's veth
/// unregistration is most of DEL's time).
pub fn run(env: &Env, conf: &NetConf, raw: &[u8]) -> CniResult<()> {
    std::thread::scope(|s| {
        let links = s.spawn(|| delete_attachment_links(env));
        let released = release(env, conf, raw);
        let links = links
            .join()
            .unwrap_or_else(|_| Err(CniError::new(Code::Io, "link worker thread failed", "")));
        released.and(links)
    })
}

/// Deletes the container interface (entering the netns once, which also proves it is one; a
/// netns that is gone or is not one is skipped) and then the host veth if it is still there.
fn delete_attachment_links(env: &Env) -> CniResult<()> {
    match netns::open_with(&env.netns, || delete_link(&env.ifname)) {
        Ok(_) => {}
        Err(e) if env.netns.is_empty() || e.code == Code::InvalidEnv as u32 => {}
        Err(e) => return Err(e),
    }
    delete_link(&host_veth_name(env))
}

/// Releases the attachment's leases (this container ID and interface only); shared by DEL and
/// a failed ADD.
pub fn release(env: &Env, conf: &NetConf, raw: &[u8]) -> CniResult<()> {
    match conf.ipam_delegate() {
        Some(plugin) => {
            delegate::exec(plugin, &env.path, "DEL", raw)?;
        }
        None => Ipam::new(conf)?.release(&env.container_id, &env.ifname)?,
    }
    Ok(())
}

/// Deletes the container interface (in `ns`) and the host veth; shared by DEL and a failed ADD
/// that created them.
pub fn delete_links(env: &Env, ns: Option<&File>) -> CniResult<()> {
    if let Some(ns) = ns {
        netns::run_in(ns, || delete_link(&env.ifname))?;
    }
    delete_link(&host_veth_name(env))
}

/// Deletes a link by name in the calling thread's netns; absence is fine.
fn delete_link(name: &str) -> CniResult<()> {
    let mut nl = Netlink::new().map_err(nl_err("opening netlink socket"))?;
    if let Some(link) = nl
        .link(name)
        .map_err(nl_err(format!("looking up {name}")))?
    {
        match nl.del_link(link.index) {
            Ok(()) | Err(crate::netlink::NlError::Kernel(nix::errno::Errno::ENODEV)) => {}
            Err(e) => return Err(nl_err(format!("deleting {name}"))(e)),
        }
    }
    Ok(())
}
