//! Watch streams: JSON lines of ADDED/MODIFIED/DELETED/BOOKMARK/ERROR events with selector
//! transitions, bookmarks and timeouts, fed from the store's broadcast (async, no sockets).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use serde_json::{Value, json};
use tokio::sync::{broadcast::error::RecvError, mpsc};
use tokio::time::{Instant, interval_at, sleep_until};

use crate::error::ApiError;
use crate::resources::ResourceDef;
use crate::select::Selector;
use crate::store::{Change, ChangeType, Subscription};
use crate::write::to_view;

/// What a client asked to watch.
#[derive(Debug, Clone)]
pub struct WatchSpec {
    /// The resource (its view decides the object shape).
    pub res: &'static ResourceDef,
    /// Namespace filter for namespaced resources.
    pub ns: Option<String>,
    /// `labelSelector`.
    pub labels: Selector,
    /// `fieldSelector`.
    pub fields: Selector,
    /// `allowWatchBookmarks`.
    pub bookmarks: bool,
    /// `sendInitialEvents`.
    pub send_initial: bool,
    /// How long the stream lasts (`timeoutSeconds`).
    pub timeout: Duration,
    /// How often to send bookmarks.
    pub bookmark_every: Duration,
}

impl WatchSpec {
    fn matches(&self, change: &Change, obj: &Value) -> bool {
        let ns_ok = self.ns.as_deref().is_none_or(|ns| {
            obj.pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or_default()
                == ns
        });
        change.storage == self.res.storage
            && ns_ok
            && self.labels.matches(obj)
            && self.fields.matches(obj)
    }

    /// The event type a change produces for this watcher, if any (selector transitions included).
    fn event_type(&self, change: &Change) -> Option<&'static str> {
        let now = self.matches(change, &change.object);
        match change.kind {
            ChangeType::Added => now.then_some("ADDED"),
            ChangeType::Deleted => now.then_some("DELETED"),
            ChangeType::Modified => {
                let before = change.old.as_ref().is_some_and(|o| self.matches(change, o));
                match (before, now) {
                    (true, true) => Some("MODIFIED"),
                    (false, true) => Some("ADDED"),
                    (true, false) => Some("DELETED"),
                    (false, false) => None,
                }
            }
        }
    }

    fn line(&self, kind: &str, object: Value) -> Bytes {
        let mut text = json!({ "type": kind, "object": object }).to_string();
        text.push('\n');
        Bytes::from(text)
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Bytes {
        let mut meta = json!({ "resourceVersion": rv.to_string() });
        if initial_end {
            meta["annotations"] = json!({ "k8s.io/initial-events-end": "true" });
        }
        let object = json!({ "kind": self.res.kind, "apiVersion": self.res.api_version(), "metadata": meta });
        self.line("BOOKMARK", object)
    }
}

/// Streams a watch into `tx` until the timeout, the client leaving, or the server closing watches.
pub async fn run(spec: WatchSpec, mut sub: Subscription, tx: mpsc::Sender<Bytes>) {
    if let Some(err) = sub.expired.take() {
        let _ = tx.send(spec.line("ERROR", err.status())).await;
        return;
    }
    for change in std::mem::take(&mut sub.initial) {
        if let Some(kind) = spec.event_type(&change)
            && tx
                .send(spec.line(kind, to_view(spec.res, &change.object)))
                .await
                .is_err()
        {
            return;
        }
    }
    let mut last_rv = sub.start_rv;
    if spec.send_initial && spec.bookmarks && tx.send(spec.bookmark(last_rv, true)).await.is_err() {
        return;
    }
    let deadline = sleep_until(Instant::now() + spec.timeout);
    tokio::pin!(deadline);
    let mut ticks = interval_at(Instant::now() + spec.bookmark_every, spec.bookmark_every);
    loop {
        let line = tokio::select! {
            () = &mut deadline => return,
            () = tx.closed() => return,
            _ = sub.closer.changed() => return,
            _ = ticks.tick() => spec.bookmarks.then(|| spec.bookmark(last_rv, false)),
            got = sub.rx.recv() => match got {
                // Already in the initial events (broadcast after a state-file save).
                Ok(change) if change.rv <= sub.start_rv => None,
                Ok(change) => {
                    last_rv = change.rv;
                    next_line(&spec, &change)
                }
                Err(RecvError::Lagged(_)) => {
                    // Too slow to keep up: make the client re-list, as a compacted watch would.
                    let _ = tx.send(spec.line("ERROR", ApiError::expired(last_rv, last_rv).status())).await;
                    return;
                }
                Err(RecvError::Closed) => return,
            },
        };
        if let Some(line) = line
            && tx.send(line).await.is_err()
        {
            return;
        }
    }
}

fn next_line(spec: &WatchSpec, change: &Arc<Change>) -> Option<Bytes> {
    let kind = spec.event_type(change)?;
    Some(spec.line(kind, to_view(spec.res, &change.object)))
}
