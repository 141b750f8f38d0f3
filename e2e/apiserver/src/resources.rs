//! The resources this server serves and where each one is stored (no I/O).

/// One served resource (a group/version/plural).
#[derive(Debug, PartialEq, Eq)]
pub struct ResourceDef {
    /// API group, empty for the core group.
    pub group: &'static str,
    /// API version.
    pub version: &'static str,
    /// Plural name used in paths.
    pub plural: &'static str,
    /// Singular name.
    pub singular: &'static str,
    /// Kind.
    pub kind: &'static str,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// kubectl short names.
    pub short_names: &'static [&'static str],
    /// Storage bucket; two resources sharing one are views of the same objects.
    pub storage: &'static str,
    /// Whether the resource has a `status` subresource.
    pub has_status: bool,
    /// Whether writes bump `metadata.generation`.
    pub generation: bool,
}

impl ResourceDef {
    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The `kind` of a list of this resource.
    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    /// Whether this is the `events.k8s.io` view of core events.
    pub fn is_events_v1(&self) -> bool {
        self.group == "events.k8s.io"
    }
}

const fn def(
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    singular: &'static str,
    kind: &'static str,
    namespaced: bool,
    short_names: &'static [&'static str],
) -> ResourceDef {
    ResourceDef {
        group,
        version,
        plural,
        singular,
        kind,
        namespaced,
        short_names,
        storage: plural,
        has_status: false,
        generation: false,
    }
}

/// Every served resource.
pub static RESOURCES: &[ResourceDef] = &[
    ResourceDef {
        has_status: true,
        ..def(
            "",
            "v1",
            "namespaces",
            "namespace",
            "Namespace",
            false,
            &["ns"],
        )
    },
    ResourceDef {
        has_status: true,
        generation: true,
        ..def("", "v1", "nodes", "node", "Node", false, &["no"])
    },
    def("", "v1", "events", "event", "Event", true, &["ev"]),
    def(
        "events.k8s.io",
        "v1",
        "events",
        "event",
        "Event",
        true,
        &["ev"],
    ),
    ResourceDef {
        generation: true,
        ..def(
            "kilo.squat.ai",
            "v1alpha1",
            "peers",
            "peer",
            "Peer",
            false,
            &["peer"],
        )
    },
];

/// The resource served at `group/version/plural`.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceDef> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// The resources of one group/version.
pub fn in_group_version(group: &str, version: &str) -> Vec<&'static ResourceDef> {
    RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .collect()
}

/// The non-core groups, each with its single version, in a stable order.
pub fn groups() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&'static str, &'static str)> = Vec::new();
    for r in RESOURCES.iter().filter(|r| !r.group.is_empty()) {
        if !out.iter().any(|(g, _)| *g == r.group) {
            out.push((r.group, r.version));
        }
    }
    out
}
