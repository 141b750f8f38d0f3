//! The resources built into this server and where each one is stored; custom resources are
//! registered by the store from CRDs (no I/O).

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
    /// Discovery categories (`kubectl get kilo`).
    pub categories: &'static [&'static str],
    /// Storage bucket; two resources sharing one are views of the same objects.
    pub storage: &'static str,
    /// Whether the resource has a `status` subresource.
    pub has_status: bool,
    /// Whether writes bump `metadata.generation`.
    pub generation: bool,
    /// The schema custom resources are pruned, defaulted and validated with.
    pub schema: Option<&'static crate::schema::Schema>,
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
        categories: &[],
        has_status: false,
        generation: false,
        schema: None,
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
    def("", "v1", "secrets", "secret", "Secret", true, &[]),
    def(
        "",
        "v1",
        "serviceaccounts",
        "serviceaccount",
        "ServiceAccount",
        true,
        &["sa"],
    ),
    ResourceDef {
        has_status: true,
        ..def(
            "apiextensions.k8s.io",
            "v1",
            "customresourcedefinitions",
            "customresourcedefinition",
            "CustomResourceDefinition",
            false,
            &["crd", "crds"],
        )
    },
    def(
        RBAC,
        "v1",
        "clusterroles",
        "clusterrole",
        "ClusterRole",
        false,
        &[],
    ),
    def(
        RBAC,
        "v1",
        "clusterrolebindings",
        "clusterrolebinding",
        "ClusterRoleBinding",
        false,
        &[],
    ),
    def(RBAC, "v1", "roles", "role", "Role", true, &[]),
    def(
        RBAC,
        "v1",
        "rolebindings",
        "rolebinding",
        "RoleBinding",
        true,
        &[],
    ),
    ResourceDef {
        generation: true,
        ..def(
            ADMISSION,
            "v1",
            "validatingadmissionpolicies",
            "validatingadmissionpolicy",
            "ValidatingAdmissionPolicy",
            false,
            &[],
        )
    },
    ResourceDef {
        generation: true,
        ..def(
            ADMISSION,
            "v1",
            "validatingadmissionpolicybindings",
            "validatingadmissionpolicybinding",
            "ValidatingAdmissionPolicyBinding",
            false,
            &[],
        )
    },
];

/// The RBAC API group.
pub const RBAC: &str = "rbac.authorization.k8s.io";
/// The admission registration API group.
pub const ADMISSION: &str = "admissionregistration.k8s.io";

/// The built-in resource served at `group/version/plural`.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceDef> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// The resources of one group/version among `all`.
pub fn in_group_version(
    all: &[&'static ResourceDef],
    group: &str,
    version: &str,
) -> Vec<&'static ResourceDef> {
    all.iter()
        .copied()
        .filter(|r| r.group == group && r.version == version)
        .collect()
}

/// The non-core groups of `all`, each with its single version, in a stable order.
pub fn groups(all: &[&'static ResourceDef]) -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&'static str, &'static str)> = Vec::new();
    for r in all.iter().filter(|r| !r.group.is_empty()) {
        if !out.iter().any(|(g, _)| *g == r.group) {
            out.push((r.group, r.version));
        }
    }
    out
}
