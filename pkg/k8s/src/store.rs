//! [`LiveStore`]: the objects of one cluster-scoped watch, kept by name and updated in place as
//! the watch's events arrive, a re-list included. No I/O: the watch task feeds it.
//!
//! kube's reflector store builds a second map during a re-list and swaps it in at the end, so
//! for the length of a re-list it holds every object twice, and the old copies, freed all at
//! once, leave the allocator's pages half used. Here a listed object replaces its old copy the
//! moment it arrives (the old one is freed at once and its room is what the next object takes),
//! and the end of the list only drops the objects it did not name.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use kube::Resource;
use kube::runtime::watcher::Event;
use tokio::sync::watch;

/// What a watch event did to the store, for the caller to decide whether to wake the mesh.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// The objects changed (an add, update or delete, or the end of a list).
    Objects,
    /// Part of a list in progress: the store is whole, but the list is not done.
    Listing,
}

#[derive(Debug)]
struct Entry<K> {
    object: Arc<K>,
    /// The list (or watch) generation that last wrote this object.
    generation: u64,
}

#[derive(Debug)]
struct Inner<K> {
    objects: HashMap<String, Entry<K>>,
    generation: u64,
}

/// The objects of one cluster-scoped watch by name; cheap to clone (one shared map).
#[derive(Debug)]
pub struct LiveStore<K> {
    inner: Arc<RwLock<Inner<K>>>,
    ready: watch::Sender<bool>,
}

impl<K> Clone for LiveStore<K> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            ready: self.ready.clone(),
        }
    }
}

impl<K> Default for LiveStore<K> {
    fn default() -> Self {
        Self {
            inner: Arc::new(RwLock::new(Inner {
                objects: HashMap::new(),
                generation: 0,
            })),
            ready: watch::Sender::new(false),
        }
    }
}

impl<K: Resource> LiveStore<K> {
    /// An empty store, not ready until its first list is done.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one watch event. An object without a name is ignored (the API server never sends
    /// one).
    pub fn apply(&self, event: Event<K>) -> Change {
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        match event {
            Event::Apply(object) => {
                let generation = inner.generation;
                inner.put(object, generation);
                Change::Objects
            }
            Event::Delete(object) => {
                if let Some(name) = object.meta().name.as_deref() {
                    inner.objects.remove(name);
                }
                Change::Objects
            }
            Event::Init => {
                inner.generation += 1;
                Change::Listing
            }
            Event::InitApply(object) => {
                let generation = inner.generation;
                inner.put(object, generation);
                Change::Listing
            }
            Event::InitDone => {
                let generation = inner.generation;
                inner.objects.retain(|_, e| e.generation == generation);
                drop(inner);
                self.ready.send_replace(true);
                Change::Objects
            }
        }
    }

    /// Every object, in no particular order.
    #[must_use]
    pub fn state(&self) -> Vec<Arc<K>> {
        let inner = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        inner.objects.values().map(|e| e.object.clone()).collect()
    }

    /// The object named `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<Arc<K>> {
        let inner = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        inner.objects.get(name).map(|e| e.object.clone())
    }

    /// How many objects the store holds.
    #[must_use]
    pub fn len(&self) -> usize {
        let inner = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        inner.objects.len()
    }

    /// Whether the store holds no object.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the first list is done.
    #[must_use]
    pub fn is_ready(&self) -> bool {
        *self.ready.borrow()
    }

    /// Waits until the first list is done (at once if it is).
    pub async fn wait_until_ready(&self) {
        let mut ready = self.ready.subscribe();
        // the sender lives in `self`, so the channel cannot close while this waits
        let _ = ready.wait_for(|r| *r).await;
    }
}

impl<K: Resource> Inner<K> {
    fn put(&mut self, object: K, generation: u64) {
        let Some(name) = object.meta().name.as_deref() else {
            return;
        };
        if let Some(entry) = self.objects.get_mut(name) {
            entry.object = Arc::new(object);
            entry.generation = generation;
            return;
        }
        let name = name.to_owned();
        let object = Arc::new(object);
        self.objects.insert(name, Entry { object, generation });
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
