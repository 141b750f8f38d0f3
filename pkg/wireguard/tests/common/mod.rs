//! Test harness: uniquely named network namespaces, wireguard-go per namespace in a private
//! mount namespace (its UAPI socket in a private directory), a recording UAPI transport and
//! `wg show` cross-checks. Every guard cleans up in `Drop`; only processes started here are
//! killed, by PID.

#![allow(
    dead_code,
    reason = "each test binary uses a different subset of the helpers"
)]

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use kilo_mesh::plan::wireguard::WireGuardPlan;
use kilo_mesh::types::{IfName, WgKey};
use kilo_wireguard::diff::normalize;
use kilo_wireguard::{DeviceState, SocketTransport, UapiTransport, WgError};
use zeroize::Zeroizing;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Fails the test (never skips it) when root, wireguard-go or wg is missing.
pub fn require_prerequisites() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test needs root (network and mount namespaces); CI runs it as root"
    );
    for bin in ["wireguard-go", "wg", "ip", "unshare"] {
        let found = std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()));
        assert!(
            found,
            "{bin} is not installed (apt-get install wireguard-go wireguard-tools)"
        );
    }
    // The bind-mount target must exist in the shared filesystem (wireguard-go would create it).
    std::fs::create_dir_all("/run/wireguard").expect("creating /run/wireguard");
}

/// Runs a command and panics with its stderr when it fails; returns stdout.
pub fn run(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("running {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Polls `f` until it returns `Some` or `timeout` passes.
pub fn poll<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::yield_now();
        std::thread::park_timeout(Duration::from_millis(20));
    }
}

/// A network namespace named `kwg<pid>n<counter>`, deleted on drop.
pub struct Netns {
    /// Its name.
    pub name: String,
}

impl Netns {
    /// Creates the namespace with `lo` up.
    pub fn new() -> Self {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("kwg{}n{n}", std::process::id());
        run(&["ip", "netns", "add", &name]);
        let ns = Self { name };
        run(&["ip", "-n", &ns.name, "link", "set", "lo", "up"]);
        ns
    }

    /// `ip netns exec NAME args...`, returning whether it succeeded.
    pub fn exec_ok(&self, args: &[&str]) -> bool {
        Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// One wireguard-go daemon (`-f IFACE`) inside a namespace and a private mount namespace
/// whose /run/wireguard is a bind mount of `dir`. Killed by PID on drop.
pub struct WgGo {
    /// The device.
    pub iface: IfName,
    /// The socket directory (also visible from the host).
    pub dir: PathBuf,
    netns: String,
    child: Option<Child>,
}

impl WgGo {
    /// Starts wireguard-go and waits (with a deadline) until its UAPI socket accepts.
    pub fn start(ns: &Netns, dir: &Path, iface: &str) -> Self {
        let mut wg = Self {
            iface: iface.parse().expect("interface name"),
            dir: dir.to_path_buf(),
            netns: ns.name.clone(),
            child: None,
        };
        wg.restart();
        wg
    }

    /// (Re)starts the daemon; the previous one must have been killed.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "wireguard-go is still running");
        let script = format!(
            "mount --bind '{}' /run/wireguard && exec wireguard-go -f '{}'",
            self.dir.display(),
            self.iface
        );
        // ip, unshare and sh all exec in place: the child's PID is wireguard-go's.
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.netns,
                "unshare",
                "--mount",
                "--propagation",
            ])
            .args(["private", "sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawning wireguard-go");
        self.child = Some(child);
        let sock = self.socket();
        let up = poll(Duration::from_secs(15), || {
            UnixStream::connect(&sock).ok().map(|_| ())
        });
        assert!(up.is_some(), "wireguard-go did not open {}", sock.display());
    }

    /// The UAPI socket path.
    pub fn socket(&self) -> PathBuf {
        self.dir.join(format!("{}.sock", self.iface))
    }

    /// Kills exactly this daemon (SIGKILL by PID) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// `wg show IFACE dump` run in the daemon's namespaces, without the interface line
    /// (which holds the private key): one line per peer.
    pub fn wg_show_peers(&self) -> Vec<String> {
        let script = format!(
            "mount --bind '{}' /run/wireguard && exec wg show '{}' dump",
            self.dir.display(),
            self.iface
        );
        let out = run(&[
            "ip",
            "netns",
            "exec",
            &self.netns,
            "unshare",
            "--mount",
            "sh",
            "-c",
            &script,
        ]);
        let out = Zeroizing::new(out);
        out.lines().skip(1).map(str::to_owned).collect()
    }
}

impl Drop for WgGo {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A UAPI transport that records every request (tests only: requests may hold keys).
pub struct Recording {
    inner: SocketTransport,
    /// Requests in order.
    pub log: Mutex<Vec<String>>,
}

impl Recording {
    /// Records requests sent to sockets in `dir`.
    pub fn new(dir: &Path) -> Self {
        Self {
            inner: SocketTransport::new(dir),
            log: Mutex::new(Vec::new()),
        }
    }

    /// Takes the recorded requests.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.log.lock().expect("lock"))
    }
}

impl UapiTransport for Recording {
    fn exchange(&self, interface: &IfName, request: &[u8]) -> Result<Zeroizing<Vec<u8>>, WgError> {
        self.log
            .lock()
            .expect("lock")
            .push(String::from_utf8_lossy(request).into_owned());
        self.inner.exchange(interface, request)
    }
}

/// A fresh random public key.
pub fn random_key() -> WgKey {
    kilo_wireguard::PrivateKey::generate().public_key()
}

/// Asserts that a device read back equals the plan (key, port and every peer's config).
pub fn assert_device_matches(dev: &DeviceState, plan: &WireGuardPlan, key: WgKey) {
    assert_eq!(dev.public_key, Some(key), "device private key");
    assert_eq!(dev.listen_port, plan.listen_port, "listen port");
    let got: Vec<WgKey> = dev.peers.iter().map(|p| p.public_key).collect();
    let mut want: Vec<WgKey> = plan.peers.iter().map(|p| p.public_key).collect();
    want.sort();
    assert_eq!(got, want, "peer keys");
    for p in &plan.peers {
        let d = dev.peer(&p.public_key).expect("peer present");
        assert_eq!(
            d.allowed_ips,
            normalize(&p.allowed_ips),
            "allowed ips of {}",
            p.name
        );
        if let Some(e) = p.endpoint.as_ref().and_then(|e| e.socket_addr()) {
            assert_eq!(d.endpoint, Some(e), "endpoint of {}", p.name);
        }
        assert_eq!(
            d.persistent_keepalive,
            p.persistent_keepalive.filter(|k| *k != 0)
        );
        assert_eq!(
            d.preshared_key, p.preshared_key,
            "preshared key of {}",
            p.name
        );
    }
}

/// Asserts that `wg show dump` peer lines equal the plan.
pub fn assert_wg_show_matches(lines: &[String], plan: &WireGuardPlan) {
    let mut got: Vec<String> = lines
        .iter()
        .map(|l| {
            // public-key psk endpoint allowed-ips handshake rx tx keepalive
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 8, "wg dump peer line has 8 fields");
            let psk = if f[1] == "(none)" { "none" } else { "set" };
            format!("{} {psk} {} {} {}", f[0], f[2], f[3], f[7])
        })
        .collect();
    got.sort();
    let mut want: Vec<String> = plan
        .peers
        .iter()
        .map(|p| {
            let ips: Vec<String> = normalize(&p.allowed_ips)
                .iter()
                .map(ToString::to_string)
                .collect();
            let ep = p
                .endpoint
                .as_ref()
                .map_or("(none)".to_owned(), ToString::to_string);
            let ka = p
                .persistent_keepalive
                .filter(|k| *k != 0)
                .map_or("off".to_owned(), |k| k.to_string());
            let psk = if p.preshared_key.is_some() {
                "set"
            } else {
                "none"
            };
            let ips = if ips.is_empty() {
                "(none)".to_owned()
            } else {
                ips.join(",")
            };
            format!("{} {psk} {ep} {ips} {ka}", p.public_key.to_base64())
        })
        .collect();
    want.sort();
    assert_eq!(got, want, "wg show dump vs plan");
}
