//! Optional persistence of the store (`--state-file`): loads every object and the
//! resourceVersion counter at start-up and rewrites one JSON file atomically (temp file in the
//! same directory, then rename) after every write. File I/O; watch history is not kept.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::fields::Ownership;
use crate::store::{Entry, Inner, Key, Store};

/// The file format version written and accepted.
const FORMAT: u32 = 1;

/// Loading or saving the state file failed.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    /// The file exists but cannot be read.
    #[error("reading state file {}", path.display())]
    Read {
        /// The state file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a state document.
    #[error("parsing state file {}", path.display())]
    Parse {
        /// The state file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// The file is a state document this server cannot read.
    #[error("state file {}: {why}", path.display())]
    Unsupported {
        /// The state file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// Encoding the state failed.
    #[error("encoding the state")]
    Encode(#[source] serde_json::Error),
    /// Writing or renaming the file failed.
    #[error("writing state file {}", path.display())]
    Write {
        /// The file written (the temp file or the state file).
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Where the state goes, and what was saved there last.
#[derive(Debug)]
pub struct Persister {
    path: PathBuf,
    saved: Mutex<Saved>,
}

/// An object's place in the store: (storage, (namespace, name)).
type Id = (&'static str, Key);

/// The last save.
#[derive(Debug, Default)]
struct Saved {
    /// Its resourceVersion.
    rv: Option<u64>,
    /// Each object's encoded record and the object's resourceVersion; a record stays valid while
    /// the object keeps its resourceVersion (every change stamps a new one), so a save only
    /// encodes the objects that changed.
    records: HashMap<Id, (u64, Vec<u8>)>,
}

/// One object in the state file, as written (borrowing the store).
#[derive(Serialize)]
struct RecordOut<'a> {
    storage: &'a str,
    namespace: &'a str,
    name: &'a str,
    object: &'a Value,
    ownership: &'a Ownership,
}

/// The state file, as read.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StateIn {
    format: u32,
    resource_version: u64,
    objects: Vec<RecordIn>,
}

#[derive(Deserialize)]
struct RecordIn {
    storage: String,
    namespace: String,
    name: String,
    object: Value,
    #[serde(default)]
    ownership: Ownership,
}

fn object_rv(object: &Value) -> Option<u64> {
    object
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .and_then(|r| r.parse().ok())
}

/// Encodes the whole store as a [`StateIn`] document, reusing the records of unchanged objects
/// from `records` and leaving there those of this snapshot. Called with the store locked, so
/// the snapshot is consistent.
fn encode(
    inner: &Inner,
    records: &mut HashMap<Id, (u64, Vec<u8>)>,
) -> Result<Vec<u8>, PersistError> {
    let mut out = format!(
        "{{\"format\":{FORMAT},\"resourceVersion\":{},\"objects\":[",
        inner.rv()
    )
    .into_bytes();
    let mut storages: Vec<_> = inner.buckets.iter().collect();
    storages.sort_by_key(|(storage, _)| **storage);
    let mut fresh = HashMap::with_capacity(records.len());
    for (storage, bucket) in storages {
        for (key, e) in bucket {
            let id = (*storage, key.clone());
            let rv = object_rv(&e.object);
            let record = match records.remove(&id) {
                Some((cached, record)) if Some(cached) == rv => record,
                _ => serde_json::to_vec(&RecordOut {
                    storage,
                    namespace: &key.0,
                    name: &key.1,
                    object: &e.object,
                    ownership: &e.ownership,
                })
                .map_err(PersistError::Encode)?,
            };
            if out.last() != Some(&b'[') {
                out.push(b',');
            }
            out.extend_from_slice(&record);
            if let Some(rv) = rv {
                fresh.insert(id, (rv, record));
            }
        }
    }
    out.extend_from_slice(b"]}");
    *records = fresh;
    Ok(out)
}

/// Reads the state file; `None` when it does not exist.
fn read(path: &Path) -> Result<Option<StateIn>, PersistError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(PersistError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let state: StateIn = serde_json::from_slice(&bytes).map_err(|source| PersistError::Parse {
        path: path.to_path_buf(),
        source,
    })?;
    if state.format != FORMAT {
        return Err(PersistError::Unsupported {
            path: path.to_path_buf(),
            why: format!("format {} (this server reads {FORMAT})", state.format),
        });
    }
    Ok(Some(state))
}

/// A store holding the objects of `state`, at a resourceVersion no lower than any of them.
fn restore(history_cap: usize, state: StateIn, path: &Path) -> Result<Store, PersistError> {
    let mut rv = state.resource_version;
    let mut buckets: HashMap<&'static str, BTreeMap<Key, Entry>> = HashMap::new();
    let crds: Vec<Value> = state
        .objects
        .iter()
        .filter(|r| r.storage == crate::crd::CRD_STORAGE)
        .map(|r| r.object.clone())
        .collect();
    let custom: Vec<String> = crds.iter().map(crate::crd::storage_of).collect();
    for record in state.objects {
        let storage = crate::resources::RESOURCES
            .iter()
            .map(|r| r.storage)
            .find(|s| *s == record.storage)
            .or_else(|| {
                custom
                    .contains(&record.storage)
                    .then(|| crate::crd::leak(&record.storage))
            });
        let Some(storage) = storage else {
            return Err(PersistError::Unsupported {
                path: path.to_path_buf(),
                why: format!("objects of unknown storage {:?}", record.storage),
            });
        };
        rv = rv.max(object_rv(&record.object).unwrap_or_default());
        let entry = Entry {
            object: record.object,
            ownership: record.ownership,
        };
        buckets
            .entry(storage)
            .or_default()
            .insert((record.namespace, record.name), entry);
    }
    Ok(Store::restored(history_cap, rv, buckets, &crds))
}

/// Writes `bytes` to a temp file next to `path`, then renames it over `path` (no fsync: this
/// survives the process being killed, not the machine crashing).
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), PersistError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state".into());
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    if let Err(source) = std::fs::write(&tmp, bytes) {
        let _ = std::fs::remove_file(&tmp);
        return Err(PersistError::Write { path: tmp, source });
    }
    std::fs::rename(&tmp, path).map_err(|source| {
        let _ = std::fs::remove_file(&tmp);
        PersistError::Write {
            path: path.to_path_buf(),
            source,
        }
    })
}

/// An error and its sources, joined with ": ".
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

impl Store {
    /// The store saved at `path` (empty, with the usual namespaces, when the file does not
    /// exist), saving there after every write from now on. Writes the file once before
    /// returning, so a missing file is created and an unwritable one fails at start-up.
    pub fn open(history_cap: usize, path: &Path) -> Result<Self, PersistError> {
        let store = match read(path)? {
            Some(state) => restore(history_cap, state, path)?,
            None => Self::new(history_cap),
        };
        let persister = Persister {
            path: path.to_path_buf(),
            saved: Mutex::new(Saved::default()),
        };
        let store = store.with_persister(persister);
        store.save()?;
        Ok(store)
    }

    /// After a write (with the store unlocked): saves the state if it changed since the last
    /// save, then broadcasts the changes it contains to watches. A failed save is a 500 (the
    /// write stays applied in memory). Does nothing without a state file.
    pub(crate) fn persist(&self) -> ApiResult<()> {
        self.save().map_err(|e| {
            let message = chain(&e);
            tracing::error!(error = %message, "saving the state after a write");
            ApiError::internal(format!("the write was applied but not saved: {message}"))
        })
    }

    fn save(&self) -> Result<(), PersistError> {
        let Some(persister) = self.persister() else {
            return Ok(());
        };
        // Held across the file write: saves happen one at a time and in resourceVersion order.
        let mut saved = persister
            .saved
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (rv, encoded, pending) = {
            let mut inner = self.lock();
            if saved.rv == Some(inner.rv()) && inner.pending.is_empty() {
                return Ok(());
            }
            let encoded = encode(&inner, &mut saved.records);
            (inner.rv(), encoded, std::mem::take(&mut inner.pending))
        };
        let written = encoded.and_then(|bytes| write_atomically(&persister.path, &bytes));
        for change in pending {
            // No receivers is fine: nobody watches yet.
            let _ = self.sender().send(change);
        }
        written?;
        saved.rv = Some(rv);
        Ok(())
    }
}

#[cfg(test)]
#[path = "persist_tests.rs"]
mod tests;
