//! Network namespaces: opening a `CNI_NETNS` path, running work inside it on a dedicated
//! thread, and /proc/sys writes. Does I/O (setns, procfs).

use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use nix::fcntl::OFlag;
use nix::sched::{CloneFlags, setns};

use crate::error::{CniError, CniResult, Code};

/// Opens a netns path and makes sure it is a network namespace before anything is allocated:
/// code 4 when it does not exist or is something else (a regular file, a directory, a FIFO —
/// opened without blocking — or another kind of namespace), 5 on other I/O errors.
pub fn open(path: &str) -> CniResult<File> {
    open_with(path, || Ok(())).map(|(file, ())| file)
}

/// [`open`], then runs `f` inside the namespace on the same thread that proved it is one (one
/// entry instead of two); `f`'s own errors are returned as they are.
pub fn open_with<T, F>(path: &str, f: F) -> CniResult<(File, T)>
where
    T: Send,
    F: FnOnce() -> CniResult<T> + Send,
{
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(OFlag::O_NONBLOCK.bits())
        .open(path)
        .map_err(|e| {
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
        })?;
    let out = std::thread::scope(|s| {
        let handle = s.spawn(|| {
            setns(&file, CloneFlags::CLONE_NEWNET).map_err(|e| {
                CniError::new(
                    Code::InvalidEnv,
                    format!("CNI_NETNS {path:?} is not a network namespace"),
                    e.to_string(),
                )
            })?;
            f()
        });
        handle
            .join()
            .unwrap_or_else(|_| Err(CniError::new(Code::Io, "netns worker thread failed", "")))
    })?;
    Ok((file, out))
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
