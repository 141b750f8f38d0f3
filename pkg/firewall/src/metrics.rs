//! Operation counting: the per-apply [`OpCounts`] and the Prometheus counter families
//! `kilo_firewall_operations_total{backend,family,operation,target}` and, for Go Kilo's
//! dashboards, `kilo_iptables_operations_total{protocol,operation,table,chain}`. No I/O.

use std::collections::BTreeMap;

use kilo_mesh::plan::firewall::Family;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family as MetricFamily;
use prometheus_client::registry::Registry;

/// Which tool performed an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Backend {
    /// `iptables-restore` / `ip6tables-restore`.
    Iptables,
    /// `ipset restore`.
    Ipset,
    /// `nft -f`.
    Nftables,
}

impl Backend {
    /// The metric label value.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Iptables => "iptables",
            Self::Ipset => "ipset",
            Self::Nftables => "nftables",
        }
    }
}

/// One kind of mutating operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    /// `-I <chain> <pos>`.
    Insert,
    /// `-A <chain>`.
    Append,
    /// `-D <chain> <spec>`.
    Delete,
    /// `:<chain> - [0:0]`.
    NewChain,
    /// `-X <chain>`.
    DeleteChain,
    /// `-F <chain>`.
    FlushChain,
    /// `create <set>`.
    SetCreate,
    /// `add <set> <entry>`.
    SetAdd,
    /// `del <set> <entry>`.
    SetDel,
    /// `flush <set>`.
    SetFlush,
    /// `swap <tmp> <set>`.
    SetSwap,
    /// `destroy <set>`.
    SetDestroy,
    /// nftables `add table`.
    NewTable,
    /// nftables `delete table`.
    DeleteTable,
}

impl Operation {
    /// The metric label value.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Insert => "insert",
            Self::Append => "append",
            Self::Delete => "delete",
            Self::NewChain => "new-chain",
            Self::DeleteChain => "delete-chain",
            Self::FlushChain => "flush-chain",
            Self::SetCreate => "set-create",
            Self::SetAdd => "set-add",
            Self::SetDel => "set-del",
            Self::SetFlush => "set-flush",
            Self::SetSwap => "set-swap",
            Self::SetDestroy => "set-destroy",
            Self::NewTable => "new-table",
            Self::DeleteTable => "delete-table",
        }
    }
}

/// The labels of one counted operation.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OpKey {
    /// Tool.
    pub backend: Backend,
    /// Family.
    pub family: Family,
    /// Operation.
    pub operation: Operation,
    /// Chain or set name.
    pub target: String,
}

/// Mutating operations performed, by labels.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpCounts(pub BTreeMap<OpKey, u64>);

impl OpCounts {
    /// Counts `n` operations.
    pub fn add(
        &mut self,
        backend: Backend,
        family: Family,
        operation: Operation,
        target: &str,
        n: u64,
    ) {
        if n == 0 {
            return;
        }
        let key = OpKey {
            backend,
            family,
            operation,
            target: target.to_owned(),
        };
        *self.0.entry(key).or_default() += n;
    }

    /// Merges another count into this one.
    pub fn merge(&mut self, other: &Self) {
        for (k, v) in &other.0 {
            *self.0.entry(k.clone()).or_default() += v;
        }
    }

    /// All operations.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    /// Operations of one kind, over every backend, family and target.
    #[must_use]
    pub fn of(&self, operation: Operation) -> u64 {
        self.0
            .iter()
            .filter(|(k, _)| k.operation == operation)
            .map(|(_, v)| v)
            .sum()
    }

    /// Compact `backend/family/operation/target=n` lines, sorted, for assertions and logs.
    #[must_use]
    pub fn lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .0
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}/{}/{}/{}={v}",
                    k.backend.as_str(),
                    k.family.as_str(),
                    k.operation.as_str(),
                    k.target
                )
            })
            .collect();
        lines.sort();
        lines
    }
}

/// Label set of `kilo_firewall_operations_total`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct OpLabels {
    /// `iptables`, `ipset` or `nftables`.
    pub backend: &'static str,
    /// `v4` or `v6`.
    pub family: &'static str,
    /// See [`Operation::as_str`].
    pub operation: &'static str,
    /// Chain or set name.
    pub target: String,
}

/// Label set of `kilo_iptables_operations_total`, as Go Kilo's `pkg/iptables` names them.
#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct IptablesOpLabels {
    /// `IPv4` or `IPv6`.
    pub protocol: &'static str,
    /// Kilo's name of the operation (see [`Operation::kilo_name`]).
    pub operation: &'static str,
    /// `nat` or `filter`.
    pub table: &'static str,
    /// The chain.
    pub chain: String,
}

impl Operation {
    /// The name Go Kilo's iptables client gives the call that does this, for
    /// `kilo_iptables_operations_total`; `None` for set and nftables operations, which Kilo
    /// does not have.
    #[must_use]
    pub const fn kilo_name(self) -> Option<&'static str> {
        match self {
            Self::Insert => Some("InsertUnique"),
            Self::Append => Some("AppendUnique"),
            Self::Delete => Some("Delete"),
            Self::NewChain => Some("NewChain"),
            Self::DeleteChain => Some("DeleteChain"),
            Self::FlushChain => Some("ClearChain"),
            _ => None,
        }
    }
}

/// The firewall's metrics; clones share the counters.
#[derive(Clone, Debug, Default)]
pub struct FirewallMetrics {
    /// `kilo_firewall_operations_total`.
    pub operations: MetricFamily<OpLabels, Counter>,
    /// `kilo_iptables_operations_total` (the iptables backend's rule and chain operations).
    pub iptables_operations: MetricFamily<IptablesOpLabels, Counter>,
}

impl FirewallMetrics {
    /// Creates the metrics and registers them in kg's registry.
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        registry.register(
            "kilo_firewall_operations",
            "Mutating firewall operations performed by kg",
            m.operations.clone(),
        );
        registry.register(
            "kilo_iptables_operations",
            "Number of iptables operations",
            m.iptables_operations.clone(),
        );
        m
    }

    /// Adds the operations of one iptables table batch to `kilo_iptables_operations_total`.
    pub fn record_iptables(&self, table: &'static str, counts: &OpCounts) {
        for (k, v) in &counts.0 {
            let Some(operation) = k.operation.kilo_name() else {
                continue;
            };
            if k.backend != Backend::Iptables {
                continue;
            }
            let labels = IptablesOpLabels {
                protocol: match k.family {
                    Family::V4 => "IPv4",
                    Family::V6 => "IPv6",
                },
                operation,
                table,
                chain: k.target.clone(),
            };
            self.iptables_operations.get_or_create(&labels).inc_by(*v);
        }
    }

    /// Adds an apply's operations to the counters.
    pub fn record(&self, counts: &OpCounts) {
        for (k, v) in &counts.0 {
            let labels = OpLabels {
                backend: k.backend.as_str(),
                family: k.family.as_str(),
                operation: k.operation.as_str(),
                target: k.target.clone(),
            };
            self.operations.get_or_create(&labels).inc_by(*v);
        }
    }
}
