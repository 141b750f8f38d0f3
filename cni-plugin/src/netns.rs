//! Network namespaces: opening a `CNI_NETNS` path, running work inside it (the calling thread
//! enters it and comes back), and /proc/sys writes. Does I/O (setns, procfs).

use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sched::{CloneFlags, setns};

use crate::error::{CniError, CniResult, Code};

/// Opens a netns path and makes sure it is a network namespace before anything is allocated:
/// code 4 when it does not exist or is something else (a regular file, a directory, a FIFO —
/// opened without blocking — or another kind of namespace), 5 on other I/O errors.
pub fn open(path: &str) -> CniResult<File> {
    open_with(path, || Ok(())).map(|(file, ())| file)
}

/// [`open`], then runs `f` inside the namespace, entered once (which also proves it is one);
/// `f`'s own errors are returned as they are.
pub fn open_with<T, F>(path: &str, f: F) -> CniResult<(File, T)>
where
    F: FnOnce() -> CniResult<T>,
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
    let out = enter(&file, f).map_err(|e| match e {
        Entered::Refused(e) => CniError::new(
            Code::InvalidEnv,
            format!("CNI_NETNS {path:?} is not a network namespace"),
            e.to_string(),
        ),
        Entered::Failed(e) => e,
    })?;
    Ok((file, out))
}

/// Runs `f` inside the namespace `ns` on the calling thread, which then returns to its own
/// namespace (a netlink socket opened by `f` stays bound to `ns`).
pub fn run_in<T, F>(ns: &File, f: F) -> CniResult<T>
where
    F: FnOnce() -> CniResult<T>,
{
    enter(ns, f).map_err(|e| match e {
        Entered::Refused(e) => {
            CniError::new(Code::Io, "entering the container netns", e.to_string())
        }
        Entered::Failed(e) => e,
    })
}

/// Why [`enter`] failed: the namespace refused (`setns` into it), or the work or the way back
/// failed.
enum Entered {
    Refused(Errno),
    Failed(CniError),
}

/// Enters `ns` on the calling thread (only network namespaces are per thread, and only this
/// one changes), runs `f` and goes back to the namespace the thread came from. A thread
/// that cannot go back must not go on: that is an error whatever `f` returned.
fn enter<T, F>(ns: &File, f: F) -> Result<T, Entered>
where
    F: FnOnce() -> CniResult<T>,
{
    let home = File::open("/proc/thread-self/ns/net").map_err(|e| {
        Entered::Failed(CniError::new(
            Code::Io,
            "opening the current netns (/proc/thread-self/ns/net)",
            e.to_string(),
        ))
    })?;
    setns(ns, CloneFlags::CLONE_NEWNET).map_err(Entered::Refused)?;
    let out = f();
    setns(&home, CloneFlags::CLONE_NEWNET).map_err(|e| {
        Entered::Failed(CniError::new(
            Code::Io,
            "returning from the container netns",
            e.to_string(),
        ))
    })?;
    out.map_err(Entered::Failed)
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
