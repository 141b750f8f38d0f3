//! host-local's on-disk lease store: `<dataDir>/<network>/<ip>` files holding
//! `<containerID>\r\n<ifname>`, `last_reserved_ip.<set index>`, and an flock'd `lock` file.
//! Does file I/O.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use crate::error::{CniError, CniResult, Code, io_err};

/// The line break host-local writes between container ID and interface name.
const LINE_BREAK: &str = "\r\n";
const LAST_RESERVED: &str = "last_reserved_ip.";

/// A lease directory held under an exclusive flock for the store's lifetime.
pub struct Store {
    dir: PathBuf,
    _lock: Flock<File>,
}

/// One lease file.
#[derive(Debug, Clone, PartialEq)]
pub struct Lease {
    /// Leased address.
    pub ip: IpAddr,
    /// Owner container ID.
    pub container_id: String,
    /// Owner interface name (empty for leases written by old host-local versions).
    pub ifname: String,
}

impl Store {
    /// Opens (creating it if needed) and locks `<data_dir>/<network>`. The directory is created
    /// only when the lock file cannot be opened for its absence (a `mkdir` of an existing
    /// directory still takes the parent's lock).
    pub fn open(data_dir: &Path, network: &str) -> CniResult<Self> {
        let dir = data_dir.join(network);
        let lock_path = dir.join("lock");
        let file = match open_lock(&lock_path) {
            Err(e) if e.kind() == ErrorKind::NotFound => {
                fs::create_dir_all(&dir)
                    .map_err(|e| io_err(format!("creating {}", dir.display()), &e))?;
                open_lock(&lock_path)
            }
            other => other,
        }
        .map_err(|e| io_err(format!("opening {}", lock_path.display()), &e))?;
        let lock = Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, e)| {
            CniError::new(
                Code::Io,
                format!("locking {}", lock_path.display()),
                e.to_string(),
            )
        })?;
        Ok(Self { dir, _lock: lock })
    }

    /// The last address reserved from set `idx`, if recorded.
    pub fn last_reserved(&self, idx: usize) -> Option<IpAddr> {
        let raw = fs::read_to_string(self.dir.join(format!("{LAST_RESERVED}{idx}"))).ok()?;
        raw.trim().parse().ok()
    }

    /// Reserves `ip` for the owner; `Ok(false)` when it is already taken.
    pub fn reserve(&self, ip: IpAddr, id: &str, ifname: &str, idx: usize) -> CniResult<bool> {
        let path = self.dir.join(ip.to_string());
        let mut f = match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::AlreadyExists => return Ok(false),
            Err(e) => return Err(io_err(format!("creating lease {}", path.display()), &e)),
        };
        if let Err(e) = f.write_all(format!("{id}{LINE_BREAK}{ifname}").as_bytes()) {
            let _ = fs::remove_file(&path);
            return Err(io_err(format!("writing lease {}", path.display()), &e));
        }
        let last = self.dir.join(format!("{LAST_RESERVED}{idx}"));
        overwrite(&last, ip.to_string().as_bytes())
            .map_err(|e| io_err(format!("writing {}", last.display()), &e))?;
        Ok(true)
    }

    /// Every lease in the directory.
    pub fn leases(&self) -> CniResult<Vec<Lease>> {
        let rd = fs::read_dir(&self.dir)
            .map_err(|e| io_err(format!("reading {}", self.dir.display()), &e))?;
        let mut out = Vec::new();
        for entry in rd.flatten() {
            let name = entry.file_name();
            let Some(ip) = name.to_str().and_then(|n| n.parse::<IpAddr>().ok()) else {
                continue;
            };
            let Ok(raw) = fs::read_to_string(entry.path()) else {
                continue;
            };
            let raw = raw.trim();
            let (container_id, ifname) = match raw.split_once(LINE_BREAK) {
                Some((id, ifn)) => (id.trim().to_owned(), ifn.trim().to_owned()),
                None => (raw.to_owned(), String::new()),
            };
            out.push(Lease {
                ip,
                container_id,
                ifname,
            });
        }
        Ok(out)
    }

    /// Removes the lease file of `ip`.
    pub fn release(&self, ip: IpAddr) -> CniResult<()> {
        let path = self.dir.join(ip.to_string());
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(format!("removing lease {}", path.display()), &e)),
        }
    }
}

/// Opens (creating it) the flock file of a lease directory.
fn open_lock(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o750)
        .open(path)
}

/// Replaces a small file's content in place: written from offset 0, then cut to its length.
/// Unlike `fs::write` it never truncates to zero first, which on ext4 (`auto_da_alloc`) makes
/// the close start writeback of the file and wait behind whatever the disk is doing.
fn overwrite(path: &Path, content: &[u8]) -> std::io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .open(path)?;
    f.write_all(content)?;
    f.set_len(content.len() as u64)
}

impl Lease {
    /// Whether the lease belongs to this attachment (old leases without ifname match by ID).
    pub fn owned_by(&self, id: &str, ifname: &str) -> bool {
        self.container_id == id && (self.ifname == ifname || self.ifname.is_empty())
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
