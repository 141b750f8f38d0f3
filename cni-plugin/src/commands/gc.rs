//! GC: releases leases of attachments missing from `cni.dev/valid-attachments`, or passes
//! GC on to the delegate IPAM plugin. Does file I/O.

use crate::commands::require_version;
use crate::config::NetConf;
use crate::env::Env;
use crate::error::CniResult;
use crate::ipam::{Ipam, delegate};

/// Runs GC.
pub fn run(env: &Env, conf: &NetConf, raw: &[u8]) -> CniResult<()> {
    require_version(conf, (1, 1, 0), "GC")?;
    if let Some(plugin) = conf.ipam_delegate() {
        return delegate::exec(plugin, &env.path, "GC", raw).map(|_| ());
    }
    let valid: Vec<(String, String)> = conf
        .valid_attachments
        .iter()
        .flatten()
        .map(|a| (a.container_id.clone(), a.ifname.clone()))
        .collect();
    let freed = Ipam::new(conf)?.gc(&valid)?;
    if !freed.is_empty() {
        eprintln!(
            "kilo-cni: gc released {} lease(s) of network {}",
            freed.len(),
            conf.name
        );
    }
    Ok(())
}
