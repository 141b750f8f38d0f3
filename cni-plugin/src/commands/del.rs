//! DEL: releases IPAM (even when the netns is gone) and removes the container interface
//! (which removes its veth peer). Idempotent. Does netlink and file I/O.

use crate::commands::{host_veth_name, nl_err};
use crate::config::NetConf;
use crate::env::Env;
use crate::error::{CniError, CniResult, Code};
use crate::ipam::{Ipam, delegate};
use crate::netlink::Netlink;
use crate::netns;

/// Runs DEL: the leases are released (on a second thread) while the links are deleted (the
/// kernel's veth unregistration is most of DEL's time).
pub fn run(env: &Env, conf: &NetConf, raw: &[u8]) -> CniResult<()> {
    std::thread::scope(|s| {
        let released = s.spawn(|| release(env, conf, raw));
        let links = delete_attachment_links(env);
        let released = released
            .join()
            .unwrap_or_else(|_| Err(CniError::new(Code::Io, "lease worker thread failed", "")));
        released.and(links)
    })
}

/// Deletes the container interface (its netns entered once, for a socket, which also proves
/// it is one; a netns that is gone or is not one is skipped) and then the host veth if it is
/// still there.
fn delete_attachment_links(env: &Env) -> CniResult<()> {
    let mut pod = match netns::open_with(&env.netns, pod_socket) {
        Ok((_, pod)) => Some(pod),
        Err(e) if env.netns.is_empty() || e.code == Code::InvalidEnv as u32 => None,
        Err(e) => return Err(e),
    };
    delete_links(env, pod.as_mut())
}

/// A netlink socket in the namespace the calling thread is in (the pod's, inside
/// [`netns::open_with`]).
pub fn pod_socket() -> CniResult<Netlink> {
    Netlink::new().map_err(nl_err("opening netlink socket in the container netns"))
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

/// Deletes the container interface (through `pod`, a socket in its netns) and the host veth;
/// shared by DEL and a failed ADD that created them.
pub fn delete_links(env: &Env, pod: Option<&mut Netlink>) -> CniResult<()> {
    if let Some(pod) = pod {
        delete_link(pod, &env.ifname)?;
    }
    let mut nl = Netlink::new().map_err(nl_err("opening netlink socket"))?;
    delete_link(&mut nl, &host_veth_name(env))
}

/// Deletes a link by name in the socket's netns; absence is fine.
fn delete_link(nl: &mut Netlink, name: &str) -> CniResult<()> {
    nl.del_link_named(name)
        .map(|_| ())
        .map_err(nl_err(format!("deleting {name}")))
}
