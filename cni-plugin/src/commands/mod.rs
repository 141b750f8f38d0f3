//! The CNI commands; each returns the JSON to print (or nothing) or a [`CniError`].

pub mod add;
pub mod check;
pub mod del;
pub mod gc;
pub mod status;
pub mod version;

use crate::config::NetConf;
use crate::env::Env;
use crate::error::{CniError, CniResult, Code};
use crate::netlink::NlError;
use crate::result::CniResult as Res;

/// A netlink error with context, reported as an I/O failure (code 5).
pub fn nl_err(what: impl Into<String>) -> impl FnOnce(NlError) -> CniError {
    let what = what.into();
    move |e| CniError::new(Code::Io, what, e.to_string())
}

/// Fails with code 1 when the requested version is older than `min` for this command.
pub fn require_version(conf: &NetConf, min: (u32, u32, u32), cmd: &str) -> CniResult<()> {
    if conf.version() < min {
        return Err(CniError::new(
            Code::IncompatibleVersion,
            format!("config version {} does not allow {cmd}", conf.cni_version),
            format!("{cmd} needs {}.{}.{} or later", min.0, min.1, min.2),
        ));
    }
    Ok(())
}

/// The interface name of the host side of the veth: `veth` + 8 hex digits of a hash of
/// the attachment, so it is stable for a container and interface.
pub fn host_veth_name(env: &Env) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in env
        .container_id
        .bytes()
        .chain([0u8])
        .chain(env.ifname.bytes())
    {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("veth{h:08x}")
}

/// The previous result of a chain, if the config carries one.
pub fn prev_result(conf: &NetConf) -> CniResult<Option<Res>> {
    conf.prev_result
        .as_ref()
        .map(|v| {
            Res::from_value(v)
                .map_err(|e| CniError::new(Code::Decode, "decoding prevResult", e.to_string()))
        })
        .transpose()
}
