//! kg's command line: Kilo's flag names and defaults, each also readable from a `KILO_*`
//! environment variable, validated once into the typed [`Config`].

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::{ArgAction, Parser, ValueEnum};
use kilo_mesh::flags::MeshFlags;
use kilo_mesh::types::{NodeName, WireGuardBackend};

use crate::listen::{Listen, parse_listen};

/// Where kg reads Nodes and Peers from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// The Kubernetes API.
    Kubernetes,
}

/// `--log-level`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LogLevel {
    /// Everything.
    All,
    /// Debug and above.
    Debug,
    /// Info and above.
    Info,
    /// Warnings and errors.
    Warn,
    /// Errors only.
    Error,
    /// Nothing.
    None,
}

/// `--log-format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (`timestamp`, `level`, `fields`, `target`, `span`).
    Json,
}

/// kg's subcommands; without one kg runs the node daemon.
#[derive(clap::Subcommand, Debug)]
pub enum KgCommand {
    /// Serve Kilo's validating admission webhook for Peers over HTTPS.
    Webhook(crate::webhook::WebhookArgs),
}

/// kg, the kilo-rs node daemon.
#[derive(Parser, Debug)]
#[command(name = "kg", version = env!("KILO_VERSION"), about)]
#[allow(clippy::struct_excessive_bools, reason = "one field per boolean flag")]
pub struct Flags {
    /// A subcommand instead of the daemon.
    #[command(subcommand)]
    pub command: Option<KgCommand>,
    /// The flags that decide the plan, shared with `kgctl plan`.
    #[command(flatten)]
    pub mesh: MeshFlags,
    /// The mesh health probes.
    #[command(flatten)]
    pub health: crate::health::HealthFlags,
    /// Where to read Nodes and Peers.
    #[arg(long, env = "KILO_BACKEND", value_enum, default_value = "kubernetes")]
    pub backend: Backend,
    /// Remove what kg wrote (annotations, firewall, routes) when it shuts down.
    #[arg(long, env = "KILO_CLEAN_UP", default_value_t = true, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub clean_up: bool,
    /// Also delete the WireGuard interface on shutdown.
    #[arg(long, env = "KILO_CLEAN_UP_INTERFACE", default_value_t = false, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub clean_up_interface: bool,
    /// Where to write the CNI conflist.
    #[arg(
        long,
        env = "KILO_CNI_PATH",
        default_value = "/etc/cni/net.d/10-kilo.conflist"
    )]
    pub cni_path: PathBuf,
    /// Where the CNI plugin binaries live (portmap is chained when present).
    #[arg(long, env = "KILO_CNI_BIN_DIR", default_value = "/opt/cni/bin")]
    pub cni_bin_dir: PathBuf,
    /// Create the WireGuard interface (kernel backend) instead of expecting it to exist.
    #[arg(long, env = "KILO_CREATE_INTERFACE", default_value_t = true, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub create_interface: bool,
    /// This node's name [default: the host name].
    #[arg(long, env = "KILO_HOSTNAME")]
    pub hostname: Option<String>,
    /// kubeconfig path [default: $KUBECONFIG, ~/.kube/config, else the in-cluster config].
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Address for /metrics, /health, /healthz, /readyz, /graph (`:PORT`: IPv6 and IPv4).
    #[arg(long, env = "KILO_LISTEN", default_value = ":1107")]
    pub listen: String,
    /// Log level.
    #[arg(
        long,
        env = "KILO_LOG_LEVEL",
        value_enum,
        default_value = "info",
        global = true
    )]
    pub log_level: LogLevel,
    /// Log format on stderr.
    #[arg(
        long,
        env = "KILO_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,
    /// API server address (overrides the kubeconfig's).
    #[arg(long, env = "KILO_MASTER")]
    pub master: Option<String>,
    /// Full reconcile period even without events: a Go duration (`1m30s`, `500ms`, `2h`) or
    /// plain seconds.
    #[arg(long, env = "KILO_RESYNC_PERIOD", default_value = "30s", value_parser = kilo_mesh::types::parse_duration)]
    pub resync_period: Duration,
    /// WireGuard backend.
    #[arg(
        long,
        env = "KILO_WIREGUARD_BACKEND",
        value_enum,
        default_value = "kernel"
    )]
    pub wireguard_backend: WireGuardBackend,
    /// Directory of userspace WireGuard UAPI sockets.
    #[arg(
        long,
        env = "KILO_WIREGUARD_SOCKET_DIR",
        default_value = "/var/run/wireguard"
    )]
    pub wireguard_socket_dir: PathBuf,
    /// The WireGuard private key file (created 0600 when absent).
    #[arg(long, env = "KILO_KEY_FILE", default_value = "/var/lib/kilo/key")]
    pub key_file: PathBuf,
}

/// Validated settings of the daemon beyond the mesh [`kilo_mesh::Settings`].
pub struct Config {
    /// The flags as given.
    pub flags: Flags,
    /// This node.
    pub hostname: NodeName,
    /// Mesh settings; the MTU is resolved again once the underlay's is known.
    pub mesh: kilo_mesh::Settings,
    /// HTTP address.
    pub listen: Listen,
}

impl Flags {
    /// Validates the flags.
    pub fn into_config(self) -> Result<Config> {
        let host = match &self.hostname {
            Some(h) => h.clone(),
            None => hostname()?,
        };
        let hostname: NodeName = host.parse().context("--hostname")?;
        let mesh = self.mesh.settings(hostname.clone(), None)?;
        let listen = parse_listen("--listen", &self.listen)?;
        Ok(Config {
            flags: self,
            hostname,
            mesh,
            listen,
        })
    }
}

fn hostname() -> Result<String> {
    let h =
        std::fs::read_to_string("/proc/sys/kernel/hostname").context("reading the host name")?;
    Ok(h.trim().to_lowercase())
}

#[cfg(test)]
#[path = "flags_tests.rs"]
mod tests;
