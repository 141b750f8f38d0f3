//! DEL: releases IPAM (even when the netns is gone) and removes the container interface
//! (which removes its veth peer). Idempotent. Does netlink and file I/O.

use std::fs::File;

use crate::commands::{host_veth_name, nl_err};
use crate::config::NetConf;
use crate::env::Env;
use crate::error::{CniResult, Code};
use crate::ipam::{Ipam, delegate};
use crate::netlink::Netlink;
use crate::netns;

/// Runs DEL.
pub fn run(env: &Env, conf: &NetConf, raw: &[u8]) -> CniResult<()> {
    let ns = match netns::open(&env.netns) {
        Ok(ns) => Some(ns),
        Err(e) if env.netns.is_empty() || e.code == Code::InvalidEnv as u32 => None,
        Err(e) => return Err(e),
    };
    undo(env, conf, raw, ns.as_ref())
}

/// Releases the attachment's leases and links (DEL).
pub fn undo(env: &Env, conf: &NetConf, raw: &[u8], ns: Option<&File>) -> CniResult<()> {
    release(env, conf, raw)?;
    delete_links(env, ns)
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
