//! [`SlimNode`]: a Node as kg keeps it, decoded straight from the API server's JSON with only what
//! the mesh reads. Everything else of each object (managedFields, images, conditions, other
//! annotations such as a `last-applied-configuration`) is skipped while parsing and never
//! allocated, so neither the reflector's store nor a list or re-list holds whole Nodes. Pure.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kilo_mesh::Node;
use kilo_mesh::annotations::{self, AnnotationProblem, RawNode};
use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};

/// The annotation prefix of everything kg reads from a Node.
pub const KILO_PREFIX: &str = "kilo.squat.ai/";

/// A Node reduced to what the mesh and an Event's object reference read: the name, uid and
/// resourceVersion, the labels (cut to the topology label by [`SlimNode::keep_label`]), the
/// `kilo.squat.ai/*` annotations, the pod CIDRs and the `InternalIP` addresses. The labels and
/// annotations are sorted vectors rather than maps: a `BTreeMap` allocates room for eleven
/// entries however few it holds, which at thousands of Nodes was most of the store.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(from = "NodeIn")]
pub struct SlimNode {
    /// name, uid and resourceVersion; nothing else.
    pub metadata: ObjectMeta,
    /// `metadata.labels`, sorted by key.
    pub labels: Vec<(String, String)>,
    /// The `kilo.squat.ai/*` entries of `metadata.annotations`, sorted by key.
    pub annotations: Vec<(String, String)>,
    /// `spec.podCIDR`.
    pub pod_cidr: Option<String>,
    /// `spec.podCIDRs`.
    pub pod_cidrs: Vec<String>,
    /// The `InternalIP` entries of `status.addresses`, in order.
    pub internal_ips: Vec<String>,
}

impl SlimNode {
    /// Drops every label but `topology_label` (the only one the mesh reads).
    pub fn keep_label(&mut self, topology_label: &str) {
        self.labels.retain(|(k, _)| k == topology_label);
        self.labels.shrink_to_fit();
    }

    /// The value of annotation `key` (a `kilo.squat.ai/*` one: the others are not kept).
    #[must_use]
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
            .ok()
            .map(|i| self.annotations[i].1.as_str())
    }

    /// Translates the Node, as [`crate::node_from_k8s`] translates a full one. The error case is
    /// a Node without a valid name.
    pub fn to_mesh(
        &self,
        topology_label: &str,
    ) -> Result<(Node, Vec<AnnotationProblem>), AnnotationProblem> {
        annotations::parse_node(&self.raw(), topology_label)
    }

    /// The fields the mesh parses, as [`crate::raw_node`] extracts them from a full Node.
    #[must_use]
    pub fn raw(&self) -> RawNode {
        let mut pod_cidrs = self.pod_cidrs.clone();
        if pod_cidrs.is_empty() {
            pod_cidrs.extend(self.pod_cidr.clone());
        }
        RawNode {
            name: self.metadata.name.clone().unwrap_or_default(),
            annotations: self.annotations.iter().cloned().collect(),
            labels: self.labels.iter().cloned().collect(),
            pod_cidrs,
            internal_addresses: self.internal_ips.clone(),
        }
    }
}

impl kube::Resource for SlimNode {
    type DynamicType = ();
    type Scope = k8s_openapi::ClusterResourceScope;

    fn kind(&(): &()) -> Cow<'_, str> {
        Cow::Borrowed("Node")
    }
    fn group(&(): &()) -> Cow<'_, str> {
        Cow::Borrowed("")
    }
    fn version(&(): &()) -> Cow<'_, str> {
        Cow::Borrowed("v1")
    }
    fn plural(&(): &()) -> Cow<'_, str> {
        Cow::Borrowed("nodes")
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// The wire shape, with every field the mesh does not read left out (serde skips them).
#[derive(Deserialize)]
struct NodeIn {
    #[serde(default)]
    metadata: MetaIn,
    #[serde(default)]
    spec: Option<SpecIn>,
    #[serde(default)]
    status: Option<StatusIn>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MetaIn {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    uid: Option<String>,
    #[serde(default)]
    resource_version: Option<String>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "kilo_annotations")]
    annotations: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
struct SpecIn {
    #[serde(default, rename = "podCIDR")]
    pod_cidr: Option<String>,
    #[serde(default, rename = "podCIDRs")]
    pod_cidrs: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct StatusIn {
    #[serde(default)]
    addresses: Option<Vec<AddressIn>>,
}

#[derive(Deserialize)]
struct AddressIn {
    #[serde(rename = "type")]
    type_: String,
    address: String,
}

impl From<NodeIn> for SlimNode {
    fn from(n: NodeIn) -> Self {
        let (pod_cidr, pod_cidrs) = n
            .spec
            .map(|s| (s.pod_cidr, s.pod_cidrs.unwrap_or_default()))
            .unwrap_or_default();
        let internal_ips = n
            .status
            .and_then(|s| s.addresses)
            .unwrap_or_default()
            .into_iter()
            .filter(|a| a.type_ == "InternalIP")
            .map(|a| a.address)
            .collect();
        Self {
            metadata: ObjectMeta {
                name: n.metadata.name,
                uid: n.metadata.uid,
                resource_version: n.metadata.resource_version,
                ..ObjectMeta::default()
            },
            // a map's entries come sorted and unique, and collect sizes the vector exactly
            labels: n.metadata.labels.into_iter().flatten().collect(),
            annotations: n.metadata.annotations.into_iter().flatten().collect(),
            pod_cidr,
            pod_cidrs,
            internal_ips,
        }
    }
}

/// `metadata.annotations`, keeping only the `kilo.squat.ai/*` entries; the values of the others
/// are skipped unread.
fn kilo_annotations<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<BTreeMap<String, String>>, D::Error> {
    struct Kilo;
    impl<'de> Visitor<'de> for Kilo {
        type Value = Option<BTreeMap<String, String>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map of annotations or null")
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_map(self)
        }
        fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
            let mut kept = BTreeMap::new();
            while let Some(key) = map.next_key::<String>()? {
                if key.starts_with(KILO_PREFIX) {
                    kept.insert(key, map.next_value::<String>()?);
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(Some(kept))
        }
    }
    d.deserialize_option(Kilo)
}
