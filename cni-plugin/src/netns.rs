//! Network namespaces: opening a `CNI_NETNS` path, running work inside it on a dedicated
//! thread, and /proc/sys writes. Does I/O (setns, procfs).

use std::fs::File;
use std::io::ErrorKind;
use std::path::Path;

use nix::sched::{CloneFlags, setns};

use crate::error::{CniError, CniResult, Code};

/// Opens a netns path; code 4 when it does not exist (an invalid `CNI_NETNS`), 5 otherwise.
pub fn open(path: &str) -> CniResult<File> {
    File::open(path).map_err(|e| {
        let code = if e.kind() == ErrorKind::NotFound {
            Code::InvalidEnv
        } else {
            Code::Io
        };
        CniError::new(
            code,
            format!("opening netns {path:?} (CNI_NETNS)"),
            e.to_string(),
        )
    })
}

/// Runs `f` on a new thread that has entered the namespace `ns`; the calling thread and
/// the rest of the process stay where they are.
pub fn run_in<T, F>(ns: &File, f: F) -> CniResult<T>
where
    T: Send,
    F: FnOnce() -> CniResult<T> + Send,
{
    std::thread::scope(|s| {
        let handle = s.spawn(|| {
            setns(ns, CloneFlags::CLONE_NEWNET).map_err(|e| {
                CniError::new(Code::Io, "entering the container netns", e.to_string())
            })?;
            f()
        });
        handle
            .join()
            .unwrap_or_else(|_| Err(CniError::new(Code::Io, "netns worker thread failed", "")))
    })
}

/// Writes a /proc/sys value (`key` as a path, e.g. `net/ipv4/ip_forward`) unless it already
/// holds it; net/* keys are per netns.
pub fn sysctl(key: &str, value: &str) -> CniResult<()> {
    let path = Path::new("/proc/sys").join(key);
    if std::fs::read_to_string(&path)
        .map(|v| v.trim() == value)
        .unwrap_or(false)
    {
        return Ok(());
    }
    std::fs::write(&path, value).map_err(|e| {
        CniError::new(
            Code::Io,
            format!("setting sysctl {key}={value}"),
            e.to_string(),
        )
    })
}
