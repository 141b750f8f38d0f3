//! Shared test support: starts kilo-test-apiserver on a free loopback port and kills it (by PID,
//! through `Child`) when dropped; runs the real kubectl against it; private temp directories.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// The kubectl binary the tests drive.
pub const KUBECTL: &str = "/usr/bin/kubectl";

/// A valid Peer manifest (name `p1`, one allowed IP, keepalive 10) for kubectl to apply.
pub const PEER: &str = "\
apiVersion: kilo.squat.ai/v1alpha1
kind: Peer
metadata:
  name: p1
spec:
  allowedIPs:
  - 10.5.0.1/32
  publicKey: GDW8CKOm8v1G5Q3Y1lYHxrz1ynCkSHUTGBhPFlCmx20=
  persistentKeepalive: 10
";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A new, empty directory private to this test process.
fn unique_dir(kind: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "kilo-test-apiserver-{kind}-{}-{n}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creating the test directory");
    dir
}

/// A temporary directory that outlives servers (e.g. for a state file); removed on drop.
pub struct Scratch {
    /// The directory.
    pub dir: PathBuf,
}

impl Scratch {
    /// Creates the directory.
    pub fn new() -> Self {
        Self {
            dir: unique_dir("scratch"),
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A running server; killed and its directory removed on drop.
pub struct Server {
    child: Child,
    /// `127.0.0.1:port`.
    pub addr: String,
    /// Private directory: kubeconfig, HOME and kubectl cache.
    pub dir: PathBuf,
}

impl Server {
    /// Starts the server with extra flags and waits for it to print its address.
    pub fn start(extra: &[&str]) -> Self {
        let dir = unique_dir("server");
        let mut child = Command::new(env!("CARGO_BIN_EXE_kilo-test-apiserver"))
            .args([
                "--listen",
                "127.0.0.1:0",
                "--log-level",
                "warn",
                "--kubeconfig-out",
            ])
            .arg(dir.join("kubeconfig"))
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .expect("starting kilo-test-apiserver");
        let stdout = child.stdout.take();
        // Built first, so the process is killed and the directory removed if a check fails.
        let mut server = Self {
            child,
            addr: String::new(),
            dir,
        };
        let mut line = String::new();
        BufReader::new(stdout.expect("piped stdout"))
            .read_line(&mut line)
            .expect("reading the server address");
        server.addr = line.trim().to_string();
        assert!(
            !server.addr.is_empty(),
            "kilo-test-apiserver exited without printing its address"
        );
        server
    }

    /// The kubeconfig the server wrote.
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }

    /// A kube-rs client for this server.
    pub async fn client(&self) -> kube::Client {
        let kc =
            kube::config::Kubeconfig::read_from(self.kubeconfig()).expect("reading the kubeconfig");
        let config =
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .expect("building a client config");
        kube::Client::try_from(config).expect("building a client")
    }

    /// Runs kubectl against this server; fails the test when kubectl is not installed.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        assert!(
            Path::new(KUBECTL).exists(),
            "{KUBECTL} is required by this test (install kubectl); it is not there"
        );
        Command::new(KUBECTL)
            .env("HOME", &self.dir)
            .env("KUBECONFIG", self.kubeconfig())
            .arg("--cache-dir")
            .arg(self.dir.join("cache"))
            .args(args)
            .output()
            .expect("running kubectl")
    }

    /// Runs kubectl, asserts success and returns stdout.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {stderr}\n{stdout}"
        );
        stdout.into_owned()
    }

    /// Runs kubectl, asserts failure and returns stderr.
    pub fn kubectl_err(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            !out.status.success(),
            "kubectl {args:?} unexpectedly succeeded"
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Applies `manifests/crds.yaml` with kubectl, as the lab and a user do: Peers are served
    /// from then on.
    pub fn apply_crds(&self) {
        let crds = concat!(env!("CARGO_MANIFEST_DIR"), "/../../manifests/crds.yaml");
        let out = self.kubectl_ok(&["apply", "-f", crds]);
        assert!(
            out.contains("customresourcedefinition.apiextensions.k8s.io/peers.kilo.squat.ai"),
            "{out}"
        );
    }

    /// Writes a file in the server's directory and returns its path as a string.
    pub fn file(&self, name: &str, contents: &str) -> String {
        let path = self.dir.join(name);
        std::fs::write(&path, contents).expect("writing a test file");
        path.display().to_string()
    }

    /// A POST with an empty JSON body through kubectl (for the test hooks); returns the
    /// response body.
    pub fn post_raw(&self, path: &str) -> String {
        let body = self.file("empty.json", "{}");
        self.kubectl_ok(&["create", "--raw", path, "-f", &body])
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
