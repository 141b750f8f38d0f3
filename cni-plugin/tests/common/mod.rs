//! Shared helpers for the netns tests: prerequisites, namespace/dir guards, plugin runner.
#![allow(
    dead_code,
    reason = "each test binary uses a different subset of the helpers"
)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const KILO: &str = env!("CARGO_BIN_EXE_kilo-cni");
pub const REF_BRIDGE: &str = "/usr/lib/cni/bridge";
pub const REF_HOST_LOCAL: &str = "/usr/lib/cni/host-local";

/// How long one plugin run may take (`timeout` syntax).
pub const PLUGIN_DEADLINE: &str = "60s";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A unique name: `kcni` + pid + counter.
pub fn unique(tag: &str) -> String {
    format!(
        "kcni{}{tag}{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Fails (never skips) when root or the reference plugins are missing.
pub fn require_prereqs() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "these tests need root (network namespaces); run as root"
    );
    for p in [REF_BRIDGE, REF_HOST_LOCAL] {
        assert!(
            Path::new(p).is_file(),
            "{p} missing: install the Debian package containernetworking-plugins"
        );
    }
    let ip = Command::new("ip").arg("-V").output();
    assert!(
        ip.is_ok_and(|o| o.status.success()),
        "the `ip` tool (iproute2) is missing"
    );
}

/// A network namespace deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(tag: &str) -> Self {
        let name = unique(tag);
        sh(&["ip", "netns", "add", &name]);
        sh(&["ip", "-n", &name, "link", "set", "lo", "up"]);
        Self { name }
    }

    pub fn path(&self) -> String {
        format!("/var/run/netns/{}", self.name)
    }

    /// Runs a command inside the namespace, returning (success, stdout).
    pub fn exec(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(args)
            .output()
            .expect("spawn ip");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let p = std::env::temp_dir().join(unique("d"));
        std::fs::create_dir_all(&p).expect("mkdir");
        Self(p)
    }
    pub fn str(&self) -> &str {
        self.0.to_str().expect("utf8 path")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs a command, panicking with its stderr on failure.
pub fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect("spawn");
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The outcome of one plugin run.
#[derive(Debug)]
pub struct Outcome {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// stdout as JSON (panics when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {:?}", self.stdout))
    }
    /// The error code of an error outcome.
    pub fn code(&self) -> u64 {
        assert!(!self.ok, "expected a failure, got success: {}", self.stdout);
        self.json()["code"].as_u64().expect("error has a code")
    }
    pub fn assert_ok(&self) -> &Self {
        assert!(
            self.ok,
            "plugin failed: stdout={} stderr={}",
            self.stdout, self.stderr
        );
        self
    }
}

/// One invocation: plugin binary, command, env and config, run inside `node` (if any).
pub struct Call<'a> {
    pub plugin: &'a str,
    pub node: Option<&'a Netns>,
    pub command: Option<&'a str>,
    pub container: &'a str,
    pub netns: &'a str,
    pub ifname: &'a str,
}

impl<'a> Call<'a> {
    pub fn new(
        plugin: &'a str,
        node: &'a Netns,
        command: &'a str,
        container: &'a str,
        netns: &'a str,
    ) -> Self {
        Self {
            plugin,
            node: Some(node),
            command: Some(command),
            container,
            netns,
            ifname: "eth0",
        }
    }

    pub fn run(&self, conf: &Value) -> Outcome {
        self.run_raw(conf.to_string().as_bytes())
    }

    pub fn run_raw(&self, stdin: &[u8]) -> Outcome {
        // coreutils `timeout` ends a plugin that hangs (a FIFO as CNI_NETNS once did), so a
        // hang is a failed test, not a stuck one.
        let mut cmd = Command::new("timeout");
        cmd.arg(PLUGIN_DEADLINE);
        if let Some(n) = self.node {
            cmd.args(["ip", "netns", "exec", &n.name]);
        }
        cmd.arg(self.plugin);
        cmd.env_remove("CNI_COMMAND");
        if let Some(c) = self.command {
            cmd.env("CNI_COMMAND", c);
        }
        cmd.env("CNI_CONTAINERID", self.container)
            .env("CNI_NETNS", self.netns)
            .env("CNI_IFNAME", self.ifname)
            .env("CNI_PATH", "/usr/lib/cni")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn plugin");
        if let Some(mut i) = child.stdin.take() {
            let _ = i.write_all(stdin);
        }
        let out = child.wait_with_output().expect("wait plugin");
        Outcome {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// Kilo's conflist entry as kg renders it (`kilo_mesh::plan::cni::conflist`, MTU 1420), with
/// name/cniVersion injected as the runtime does, and the test's own bridge and dataDir.
pub fn kilo_conf(version: &str, bridge: &str, data_dir: &str, v4: &str, v6: &str) -> Value {
    let list = kilo_mesh::plan::cni::conflist(&kilo_mesh::plan::cni::CniInputs {
        pod_cidrs: vec![
            v4.parse().expect("v4 subnet"),
            v6.parse().expect("v6 subnet"),
        ],
        mtu: 1420,
        portmap: false,
    });
    let mut c = list["plugins"][0].clone();
    c["cniVersion"] = version.into();
    c["name"] = list["name"].clone();
    c["bridge"] = bridge.into();
    c["ipam"]["dataDir"] = data_dir.into();
    c
}

/// The same network for the reference bridge + host-local.
pub fn ref_conf(version: &str, bridge: &str, data_dir: &str, v4: &str, v6: &str) -> Value {
    let mut c = kilo_conf(version, bridge, data_dir, v4, v6);
    c["type"] = "bridge".into();
    c["ipam"]["type"] = "host-local".into();
    c
}

/// `conf` with `prevResult`.
pub fn with_prev(conf: &Value, prev: &Value) -> Value {
    let mut c = conf.clone();
    c["prevResult"] = prev.clone();
    c
}

/// Lease files (addresses) in `<dir>/<network>`.
pub fn leases(dir: &str, network: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(Path::new(dir).join(network))
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.parse::<std::net::IpAddr>().is_ok())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// ICMP echo from inside `ns` to every address until all answered or the deadline passes;
/// returns the addresses that never answered. Uses python3 raw sockets (no ping binary).
pub fn unreachable(ns: &Netns, addrs: &[String], deadline: Duration) -> Vec<String> {
    const PY: &str = r#"
import socket, struct, sys, time, select
targets = set(sys.argv[2:]); deadline = time.time() + float(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
def csum(b):
    s = sum(struct.unpack('!%dH' % (len(b)//2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return (~s) & 0xffff
def pkt(seq):
    h = struct.pack('!BBHHH', 8, 0, 0, 0x4b43, seq); d = b'kilo-cni-test'
    return struct.pack('!BBHHH', 8, 0, csum(h + d + b'\0'), 0x4b43, seq) + d
seen = set(); seq = 0
while targets - seen and time.time() < deadline:
    seq += 1
    for t in targets - seen:
        try: s.sendto(pkt(seq), (t, 0))
        except OSError: pass
    end = time.time() + 0.2
    while time.time() < end:
        r, _, _ = select.select([s], [], [], max(0, end - time.time()))
        if not r: break
        data, (src, _) = s.recvfrom(2048)
        ihl = (data[0] & 15) * 4
        if data[ihl] == 0: seen.add(src)
print(" ".join(sorted(targets - seen)))
"#;
    let secs = deadline.as_secs_f64().to_string();
    let mut args = vec!["python3", "-c", PY, &secs];
    args.extend(addrs.iter().map(String::as_str));
    let (ok, out) = ns.exec(&args);
    assert!(ok, "python3 pinger failed in {}", ns.name);
    out.split_whitespace().map(str::to_owned).collect()
}

/// Polls `f` until it returns true or `timeout` passes.
pub fn poll(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        std::thread::yield_now();
    }
}

/// Address strings (without prefix) of a result's `ips`.
pub fn result_addrs(res: &Value) -> Vec<String> {
    res["ips"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|i| i["address"].as_str())
                .map(|s| s.split('/').next().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// A node namespace, a lease directory and a bridge name of the test's own; each test binary
/// adds the configurations it needs.
pub struct Lab {
    pub node: Netns,
    pub data: TempDir,
    pub bridge: String,
}

impl Lab {
    /// Checks the prerequisites, then makes the namespace and directory.
    pub fn new() -> Self {
        require_prereqs();
        Self {
            node: Netns::new("n"),
            data: TempDir::new(),
            bridge: unique("b"),
        }
    }
}
