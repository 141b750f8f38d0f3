//! STATUS: ready when the lease store is usable and no range set is exhausted (else code
//! 50); delegates to an external IPAM plugin when configured. Does file I/O.

use crate::commands::require_version;
use crate::config::NetConf;
use crate::env::Env;
use crate::error::CniResult;
use crate::ipam::{Ipam, delegate};

/// Runs STATUS.
pub fn run(env: &Env, conf: &NetConf, raw: &[u8]) -> CniResult<()> {
    require_version(conf, (1, 1, 0), "STATUS")?;
    match conf.ipam_delegate() {
        Some(plugin) => delegate::exec(plugin, &env.path, "STATUS", raw).map(|_| ()),
        None => Ipam::new(conf)?.status(),
    }
}
