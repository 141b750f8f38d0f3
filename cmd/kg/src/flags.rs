//! kg's command line: Kilo's flag names and defaults, each also readable from a `KILO_*`
//! environment variable, validated once into the typed [`Config`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::{ArgAction, Parser, ValueEnum};
use ipnet::{IpNet, Ipv4Net};
use kilo_mesh::types::{Encapsulate, Granularity, IfName, NodeName, TunnelKind};

/// Where kg reads Nodes and Peers from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// The Kubernetes API.
    Kubernetes,
}

/// `--encapsulate`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum EncapsulateArg {
    /// Always encapsulate inside a location.
    Always,
    /// Only between subnets.
    Crosssubnet,
    /// Never.
    Never,
}

/// `--mesh-granularity`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum GranularityArg {
    /// One segment per location.
    Location,
    /// One segment per node.
    Full,
}

/// `--firewall-backend`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FirewallBackend {
    /// `iptables-restore` + `ipset`.
    Iptables,
    /// nftables: kg's own tables `ip kilo` and `ip6 kilo`, one `nft -f` transaction per family.
    Nftables,
}

/// `--wireguard-backend`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum WireGuardBackend {
    /// Kernel WireGuard over netlink.
    Kernel,
    /// wireguard-go / boringtun over the UAPI socket.
    Userspace,
}

/// `--tunnel`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum TunnelArg {
    /// IP-in-IP on tunl0 (Kilo's).
    Ipip,
    /// VXLAN on kilo.vxlan.
    Vxlan,
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

/// kg, the kilo-rs node daemon.
#[derive(Parser, Debug)]
#[command(name = "kg", version = env!("KILO_VERSION"), about)]
#[allow(clippy::struct_excessive_bools, reason = "one field per boolean flag")]
pub struct Flags {
    /// Where to read Nodes and Peers.
    #[arg(long, env = "KILO_BACKEND", value_enum, default_value = "kubernetes")]
    pub backend: Backend,
    /// Remove what kg wrote (annotations, firewall, routes) when it shuts down.
    #[arg(long, env = "KILO_CLEAN_UP", default_value_t = true, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub clean_up: bool,
    /// Also delete the WireGuard interface on shutdown.
    #[arg(long, env = "KILO_CLEAN_UP_INTERFACE", default_value_t = false, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub clean_up_interface: bool,
    /// Manage pod networking (NAT for local pods and the CNI config).
    #[arg(long, env = "KILO_CNI", default_value_t = true, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub cni: bool,
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
    /// Encapsulation inside a location.
    #[arg(long, env = "KILO_ENCAPSULATE", value_enum, default_value = "always")]
    pub encapsulate: EncapsulateArg,
    /// The tunnel used by encapsulation.
    #[arg(long, env = "KILO_TUNNEL", value_enum, default_value = "ipip")]
    pub tunnel: TunnelArg,
    /// This node's name [default: the host name].
    #[arg(long, env = "KILO_HOSTNAME")]
    pub hostname: Option<String>,
    /// The WireGuard interface.
    #[arg(long, env = "KILO_INTERFACE", default_value = "kilo0")]
    pub interface: String,
    /// Ranges in which to look for the private IP (repeatable).
    #[arg(
        long = "internal-cidr",
        env = "KILO_INTERNAL_CIDR",
        value_delimiter = ','
    )]
    pub internal_cidrs: Vec<IpNet>,
    /// Add FORWARD accept rules for the location's CIDRs.
    #[arg(long, env = "KILO_IPTABLES_FORWARD_RULES", default_value_t = false, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub iptables_forward_rules: bool,
    /// kubeconfig path [default: $KUBECONFIG, ~/.kube/config, else the in-cluster config].
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Address for /metrics, /healthz, /readyz, /graph.
    #[arg(long, env = "KILO_LISTEN", default_value = ":1107")]
    pub listen: String,
    /// Route inside a location over the private network.
    #[arg(long, env = "KILO_LOCAL", default_value_t = true, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub local: bool,
    /// Log level.
    #[arg(long, env = "KILO_LOG_LEVEL", value_enum, default_value = "info")]
    pub log_level: LogLevel,
    /// API server address (overrides the kubeconfig's).
    #[arg(long, env = "KILO_MASTER")]
    pub master: Option<String>,
    /// Mesh granularity.
    #[arg(
        long,
        env = "KILO_MESH_GRANULARITY",
        value_enum,
        default_value = "location"
    )]
    pub mesh_granularity: GranularityArg,
    /// WireGuard MTU, or `auto` (underlay MTU - 80, 1420 when unknown).
    #[arg(long, env = "KILO_MTU", default_value = "auto")]
    pub mtu: String,
    /// WireGuard listen port.
    #[arg(long, env = "KILO_PORT", default_value_t = 51820)]
    pub port: u16,
    /// Prefer the private address as the endpoint even when a public one exists.
    #[arg(long, env = "KILO_PRIORITISE_PRIVATE_ADDRESSES", default_value_t = false, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub prioritise_private_addresses: bool,
    /// Full reconcile period even without events.
    #[arg(long, env = "KILO_RESYNC_PERIOD", default_value = "30s", value_parser = kilo_mesh::types::parse_duration)]
    pub resync_period: Duration,
    /// Service CIDRs, never NATed (repeatable).
    #[arg(
        long = "service-cidr",
        env = "KILO_SERVICE_CIDR",
        value_delimiter = ','
    )]
    pub service_cidrs: Vec<IpNet>,
    /// WireGuard subnet.
    #[arg(long, env = "KILO_SUBNET", default_value = "10.4.0.0/16")]
    pub subnet: Ipv4Net,
    /// Label holding a node's location.
    #[arg(
        long,
        env = "KILO_TOPOLOGY_LABEL",
        default_value = "topology.kubernetes.io/region"
    )]
    pub topology_label: String,
    /// Firewall backend.
    #[arg(
        long,
        env = "KILO_FIREWALL_BACKEND",
        value_enum,
        default_value = "iptables"
    )]
    pub firewall_backend: FirewallBackend,
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

/// `:1107` means every address.
pub fn parse_listen(s: &str) -> Result<SocketAddr> {
    let full = if s.starts_with(':') {
        format!("0.0.0.0{s}")
    } else {
        s.to_owned()
    };
    full.parse().with_context(|| format!("--listen {s:?}"))
}

/// Validated settings of the daemon beyond the mesh [`kilo_mesh::Settings`].
pub struct Config {
    /// The flags as given.
    pub flags: Flags,
    /// This node.
    pub hostname: NodeName,
    /// Mesh settings without the MTU (resolved once the underlay is known).
    pub mesh: kilo_mesh::Settings,
    /// `--mtu` when not `auto`.
    pub mtu: Option<u32>,
    /// HTTP address.
    pub listen: SocketAddr,
}

impl Flags {
    /// Validates the flags.
    pub fn into_config(self) -> Result<Config> {
        let host = match &self.hostname {
            Some(h) => h.clone(),
            None => hostname()?,
        };
        let hostname: NodeName = host.parse().context("--hostname")?;
        let interface: IfName = self.interface.parse().context("--interface")?;
        let mtu = match self.mtu.as_str() {
            "auto" => None,
            m => Some(m.parse::<u32>().with_context(|| format!("--mtu {m:?}"))?),
        };
        let mesh = kilo_mesh::Settings {
            hostname: hostname.clone(),
            granularity: match self.mesh_granularity {
                GranularityArg::Location => Granularity::Location,
                GranularityArg::Full => Granularity::Full,
            },
            subnet: self.subnet,
            port: self.port,
            interface,
            encapsulate: match self.encapsulate {
                EncapsulateArg::Always => Encapsulate::Always,
                EncapsulateArg::Crosssubnet => Encapsulate::CrossSubnet,
                EncapsulateArg::Never => Encapsulate::Never,
            },
            tunnel: match self.tunnel {
                TunnelArg::Ipip => TunnelKind::Ipip,
                TunnelArg::Vxlan => TunnelKind::Vxlan,
            },
            service_cidrs: self.service_cidrs.clone(),
            forward_rules: self.iptables_forward_rules,
            cni: self.cni,
            local: self.local,
            mtu: mtu.unwrap_or(1420),
        };
        let listen = parse_listen(&self.listen)?;
        Ok(Config {
            flags: self,
            hostname,
            mesh,
            mtu,
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
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(
            kilo_mesh::types::parse_duration("30s"),
            Ok(Duration::from_secs(30))
        );
        assert_eq!(
            kilo_mesh::types::parse_duration("250ms"),
            Ok(Duration::from_millis(250))
        );
        assert_eq!(
            kilo_mesh::types::parse_duration("2m"),
            Ok(Duration::from_secs(120))
        );
        assert_eq!(
            kilo_mesh::types::parse_duration("45"),
            Ok(Duration::from_secs(45))
        );
        assert!(kilo_mesh::types::parse_duration("1d").is_err());
    }

    #[test]
    fn defaults_match_kilo() {
        let f = Flags::try_parse_from(["kg", "--hostname", "n1"]).unwrap();
        assert!(f.clean_up && f.cni && f.local && f.create_interface);
        assert!(!f.iptables_forward_rules && !f.clean_up_interface);
        assert_eq!(f.port, 51820);
        assert_eq!(f.listen, ":1107");
        assert_eq!(f.subnet.to_string(), "10.4.0.0/16");
        assert_eq!(f.resync_period, Duration::from_secs(30));
        let c = f.into_config().unwrap();
        assert_eq!(c.listen.to_string(), "0.0.0.0:1107");
        assert_eq!(c.mtu, None);
    }

    #[test]
    fn booleans_take_go_flag_forms() {
        let f = Flags::try_parse_from([
            "kg",
            "--hostname=n1",
            "--clean-up-interface",
            "--clean-up=false",
            "--iptables-forward-rules=true",
        ])
        .unwrap();
        assert!(f.clean_up_interface && !f.clean_up && f.iptables_forward_rules);
        assert!(Flags::try_parse_from(["kg", "--hostname=n1", "--cni=maybe"]).is_err());
    }
}
