//! The in-memory object store: one monotonically increasing resourceVersion across all objects,
//! a bounded change history for watches, and a broadcast of every change (no network I/O).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::{Value, json};
use tokio::sync::{broadcast, watch};

use crate::error::{ApiError, ApiResult};
use crate::fields::Ownership;
use crate::persist::Persister;
use crate::resources::ResourceDef;

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeType {
    /// Created.
    Added,
    /// Updated.
    Modified,
    /// Deleted.
    Deleted,
}

/// One committed change, in storage form.
#[derive(Debug)]
pub struct Change {
    /// The resourceVersion the change produced.
    pub rv: u64,
    /// The storage bucket (see [`ResourceDef::storage`]).
    pub storage: &'static str,
    /// What happened.
    pub kind: ChangeType,
    /// The object after the change (for deletions: the last state, with the new resourceVersion).
    pub object: Value,
    /// The object before the change, for modifications.
    pub old: Option<Value>,
}

/// A stored object and its field ownership.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) object: Value,
    pub(crate) ownership: Ownership,
}

/// (namespace, name); the namespace is empty for cluster-scoped objects.
pub(crate) type Key = (String, String);

pub(crate) struct Inner {
    rv: u64,
    compacted: u64,
    history_cap: usize,
    history: VecDeque<Arc<Change>>,
    pub(crate) buckets: HashMap<&'static str, BTreeMap<Key, Entry>>,
    /// With a state file, changes are broadcast only once saved (see [`Store::persist`]).
    defer_broadcast: bool,
    /// Committed changes not yet broadcast, oldest first.
    pub(crate) pending: Vec<Arc<Change>>,
    /// Resources served from CRDs: (the CRD's spec, the resource), in CRD name order.
    custom: Vec<(Value, &'static ResourceDef)>,
}

/// What a new watch starts from.
pub struct Subscription {
    /// Changes to send first: replayed history or synthetic ADDED events.
    pub initial: Vec<Arc<Change>>,
    /// Later changes of every resource.
    pub rx: broadcast::Receiver<Arc<Change>>,
    /// The store's resourceVersion when the watch started.
    pub start_rv: u64,
    /// Changes when the server wants every open watch to end.
    pub closer: watch::Receiver<u64>,
    /// Set when the requested resourceVersion is older than the history kept.
    pub expired: Option<ApiError>,
}

/// The shared store.
pub struct Store {
    inner: Mutex<Inner>,
    tx: broadcast::Sender<Arc<Change>>,
    closer: watch::Sender<u64>,
    persister: Option<Persister>,
}

impl Inner {
    fn empty(history_cap: usize, rv: u64) -> Self {
        Self {
            rv,
            compacted: rv,
            history_cap: history_cap.max(1),
            history: VecDeque::new(),
            buckets: HashMap::new(),
            defer_broadcast: false,
            pending: Vec::new(),
            custom: Vec::new(),
        }
    }

    /// Serves (or stops serving) the resource of a CRD that was just written or deleted; a
    /// deleted CRD takes its objects with it (at once, without watch events).
    pub(crate) fn register_crd(&mut self, crd: &Value, deleted: bool) {
        let spec = crd.get("spec").cloned().unwrap_or(Value::Null);
        let (group, plural) = (
            spec.get("group")
                .and_then(Value::as_str)
                .unwrap_or_default(),
            spec.pointer("/names/plural")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        );
        let at = self
            .custom
            .iter()
            .position(|(_, r)| r.group == group && r.plural == plural);
        if deleted {
            if let Some(i) = at {
                let (_, res) = self.custom.remove(i);
                self.buckets.remove(res.storage);
            }
            return;
        }
        if at.is_some_and(|i| self.custom[i].0 == spec) {
            return;
        }
        let Some(res) = crate::crd::resource_def(crd) else {
            tracing::warn!(group, plural, "an accepted CRD serves no resource");
            return;
        };
        match at {
            Some(i) => self.custom[i] = (spec, res),
            None => self.custom.push((spec, res)),
        }
    }

    /// Every served resource: the built-in ones, then those of CRDs.
    pub(crate) fn resources(&self) -> Vec<&'static ResourceDef> {
        crate::resources::RESOURCES
            .iter()
            .chain(self.custom.iter().map(|(_, r)| *r))
            .collect()
    }

    /// The current resourceVersion.
    pub(crate) fn rv(&self) -> u64 {
        self.rv
    }

    pub(crate) fn bucket(&mut self, res: &ResourceDef) -> &mut BTreeMap<Key, Entry> {
        self.buckets.entry(res.storage).or_default()
    }

    /// Stamps the next resourceVersion and managedFields, stores (or removes) the object, records
    /// and broadcasts the change; returns the object in storage form.
    pub(crate) fn commit(
        &mut self,
        tx: &broadcast::Sender<Arc<Change>>,
        res: &ResourceDef,
        key: Key,
        mut entry: Entry,
        kind: ChangeType,
        old: Option<Value>,
    ) -> Value {
        self.rv += 1;
        let rv = self.rv;
        if let Some(meta) = entry
            .object
            .get_mut("metadata")
            .and_then(Value::as_object_mut)
        {
            meta.insert("resourceVersion".into(), Value::String(rv.to_string()));
            match entry.ownership.render() {
                Value::Array(a) if a.is_empty() => meta.remove("managedFields"),
                fields => meta.insert("managedFields".into(), fields),
            };
        }
        let object = entry.object.clone();
        if res.storage == crate::crd::CRD_STORAGE {
            self.register_crd(&object, kind == ChangeType::Deleted);
        }
        if kind == ChangeType::Deleted {
            self.bucket(res).remove(&key);
        } else {
            self.bucket(res).insert(key, entry);
        }
        let change = Arc::new(Change {
            rv,
            storage: res.storage,
            kind,
            object: object.clone(),
            old,
        });
        self.history.push_back(Arc::clone(&change));
        while self.history.len() > self.history_cap {
            if let Some(evicted) = self.history.pop_front() {
                self.compacted = evicted.rv;
            }
        }
        if self.defer_broadcast {
            self.pending.push(change);
        } else {
            // No receivers is fine: nobody watches yet.
            let _ = tx.send(change);
        }
        object
    }
}

/// The key of an object at `ns`/`name` of `res`.
pub(crate) fn key(res: &ResourceDef, ns: Option<&str>, name: &str) -> Key {
    let ns = if res.namespaced {
        ns.unwrap_or_default()
    } else {
        ""
    };
    (ns.to_string(), name.to_string())
}

impl Store {
    /// An empty store keeping `history_cap` changes for watches, with the usual namespaces.
    pub fn new(history_cap: usize) -> Self {
        let store = Self::from_inner(Inner::empty(history_cap, 0));
        let namespaces = crate::resources::find("", "v1", "namespaces");
        for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
            if let Some(res) = namespaces {
                // Seeding an empty store cannot collide.
                let _ = store.create(
                    res,
                    None,
                    &ns,
                    crate::write::WriteCtx::by("kilo-test-apiserver"),
                );
            }
        }
        store
    }

    /// A store holding `buckets` at resourceVersion `rv`, without history: watches from an older
    /// resourceVersion get 410 Expired, as after [`Store::compact`].
    pub(crate) fn restored(
        history_cap: usize,
        rv: u64,
        buckets: HashMap<&'static str, BTreeMap<Key, Entry>>,
        crds: &[Value],
    ) -> Self {
        let mut inner = Inner {
            buckets,
            ..Inner::empty(history_cap, rv)
        };
        for crd in crds {
            inner.register_crd(crd, false);
        }
        Self::from_inner(inner)
    }

    fn from_inner(inner: Inner) -> Self {
        let (tx, _) = broadcast::channel(4096);
        let (closer, _) = watch::channel(0);
        Self {
            inner: Mutex::new(inner),
            tx,
            closer,
            persister: None,
        }
    }

    /// Saves to `persister` after every write from now on; changes reach watches once saved.
    pub(crate) fn with_persister(mut self, persister: Persister) -> Self {
        self.lock().defer_broadcast = true;
        self.persister = Some(persister);
        self
    }

    pub(crate) fn persister(&self) -> Option<&Persister> {
        self.persister.as_ref()
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn sender(&self) -> &broadcast::Sender<Arc<Change>> {
        &self.tx
    }

    /// The resource served at `group/version/plural`, built in or from a CRD.
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<&'static ResourceDef> {
        self.lock()
            .resources()
            .into_iter()
            .find(|r| r.group == group && r.version == version && r.plural == plural)
    }

    /// Every served resource.
    pub fn resources(&self) -> Vec<&'static ResourceDef> {
        self.lock().resources()
    }

    /// All objects of `res` (in `ns` when given), in storage form, and the list resourceVersion.
    pub fn list(&self, res: &ResourceDef, ns: Option<&str>) -> (Vec<Value>, u64) {
        self.scan(res, ns, |items, rv| (items.cloned().collect(), rv))
    }

    /// Runs `f` over the objects of `res` (in `ns` when given), in key order and storage form,
    /// with the list resourceVersion, under the store's lock: a page of a list is copied out
    /// without copying the rest.
    pub fn scan<R>(
        &self,
        res: &ResourceDef,
        ns: Option<&str>,
        f: impl FnOnce(&mut dyn Iterator<Item = &Value>, u64) -> R,
    ) -> R {
        let mut inner = self.lock();
        let rv = inner.rv;
        let mut items = inner
            .bucket(res)
            .iter()
            .filter(|((ons, _), _)| ns.is_none_or(|n| n == ons))
            .map(|(_, e)| &e.object);
        f(&mut items, rv)
    }

    /// One object in storage form.
    pub fn get(&self, res: &ResourceDef, ns: Option<&str>, name: &str) -> ApiResult<Value> {
        let mut inner = self.lock();
        inner
            .bucket(res)
            .get(&key(res, ns, name))
            .map(|e| e.object.clone())
            .ok_or_else(|| ApiError::not_found(res.plural, name))
    }

    /// Deletes an object immediately (no finalizers, no grace period); returns its last state.
    pub fn delete(&self, res: &ResourceDef, ns: Option<&str>, name: &str) -> ApiResult<Value> {
        self.delete_as(res, ns, name, None)
    }

    /// Deletes an object for `user` (admission policies see the request).
    pub fn delete_as(
        &self,
        res: &ResourceDef,
        ns: Option<&str>,
        name: &str,
        user: Option<&crate::auth::User>,
    ) -> ApiResult<Value> {
        let deleted = {
            let mut inner = self.lock();
            let k = key(res, ns, name);
            let entry = inner
                .bucket(res)
                .get(&k)
                .cloned()
                .ok_or_else(|| ApiError::not_found(res.plural, name))?;
            let request = ("DELETE", ns, name, None);
            crate::write::policies(&mut inner, res, user, request, (Some(&entry.object), None))?;
            inner.commit(&self.tx, res, k, entry, ChangeType::Deleted, None)
        };
        self.persist()?;
        Ok(deleted)
    }

    /// Starts a watch on `res` from `since` (None: synthetic ADDED for every current object).
    pub fn subscribe(
        &self,
        res: &ResourceDef,
        since: Option<u64>,
        send_initial: bool,
    ) -> Subscription {
        let mut inner = self.lock();
        let rx = self.tx.subscribe();
        let closer = self.closer.subscribe();
        let start_rv = inner.rv;
        let mut expired = None;
        let mut initial = Vec::new();
        if since.is_none() || send_initial {
            initial = inner
                .bucket(res)
                .values()
                .map(|e| {
                    let rv = e
                        .object
                        .pointer("/metadata/resourceVersion")
                        .and_then(Value::as_str);
                    let rv = rv.and_then(|r| r.parse().ok()).unwrap_or(start_rv);
                    Arc::new(Change {
                        rv,
                        storage: res.storage,
                        kind: ChangeType::Added,
                        object: e.object.clone(),
                        old: None,
                    })
                })
                .collect();
        } else if let Some(since) = since {
            if since < inner.compacted {
                expired = Some(ApiError::expired(since, inner.compacted));
            } else {
                initial = inner
                    .history
                    .iter()
                    .filter(|c| c.rv > since && c.storage == res.storage)
                    .cloned()
                    .collect();
            }
        }
        Subscription {
            initial,
            rx,
            start_rv,
            closer,
            expired,
        }
    }

    /// Test hook: forgets all history (bumping the resourceVersion past it) and ends every open
    /// watch, so clients must resume from a resourceVersion that is now too old.
    pub fn compact(&self) -> ApiResult<u64> {
        let rv = {
            let mut inner = self.lock();
            inner.rv += 1;
            inner.compacted = inner.rv;
            inner.history.clear();
            self.closer.send_modify(|g| *g += 1);
            inner.rv
        };
        self.persist()?;
        Ok(rv)
    }
}
