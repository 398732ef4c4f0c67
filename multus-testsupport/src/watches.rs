//! `?watch=true` on a collection: newline-delimited JSON watch events over a chunked body, as
//! the API server streams them to kube's watcher.
//!
//! A watch starts from a resourceVersion: `""`/`"0"` first sends the current state as `ADDED`
//! events; a number sends every kept change after it (or one `ERROR` event with a 410 `Expired`
//! Status when the history no longer reaches back that far). Then live changes follow until
//! `timeoutSeconds`, with a `BOOKMARK` every [`BOOKMARK_INTERVAL`] when the client allows them.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::resources::{ApiError, TYPES, TypeId};
use crate::selector::Selector;
use crate::server::{Shared, lock};
use crate::store::{Change, ChangeKind, meta_str};

/// How often an idle watch that allows bookmarks gets one.
pub(crate) const BOOKMARK_INTERVAL: Duration = Duration::from_secs(1);

/// How long a watch without `timeoutSeconds` stays open (the API server picks 30 to 60 min).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

/// A parsed watch request.
#[derive(Debug)]
pub(crate) struct WatchRequest {
    pub t: TypeId,
    pub ns: Option<String>,
    pub labels: Selector,
    pub fields: Selector,
    /// `None`: start with the current state; `Some(rv)`: the changes after `rv`.
    pub since: Option<u64>,
    pub bookmarks: bool,
    pub timeout: Duration,
}

impl WatchRequest {
    /// Reads `resourceVersion`, `allowWatchBookmarks` and `timeoutSeconds`.
    pub fn new(
        t: TypeId,
        ns: Option<String>,
        labels: Selector,
        fields: Selector,
        param: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ApiError> {
        let since = match param("resourceVersion").as_deref() {
            None | Some("" | "0") => None,
            Some(rv) => Some(rv.parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!(
                    "resourceVersion: Invalid value: {rv:?}: must be a number"
                ))
            })?),
        };
        let timeout = match param("timeoutSeconds") {
            None => DEFAULT_TIMEOUT,
            Some(s) => Duration::from_secs(s.parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!("timeoutSeconds: Invalid value: {s:?}"))
            })?),
        };
        Ok(WatchRequest {
            t,
            ns,
            labels,
            fields,
            since,
            bookmarks: param("allowWatchBookmarks").is_some_and(|b| b == "true" || b == "1"),
            timeout,
        })
    }

    fn matches(&self, obj: &Value) -> bool {
        self.ns
            .as_deref()
            .is_none_or(|ns| meta_str(obj, "namespace") == ns)
            && self.labels.matches_labels(obj)
            && self.fields.matches_fields(obj)
    }

    /// The event a change is for this watch, if any: an object that stops matching the
    /// selectors is deleted for it, one that starts matching is added.
    fn event(&self, change: &Change) -> Option<Bytes> {
        let now = self.matches(&change.obj);
        let before = change.old.as_deref().is_some_and(|o| self.matches(o));
        let kind = match (change.kind, before, now) {
            (ChangeKind::Modified, true, true) => "MODIFIED",
            (ChangeKind::Modified, true, false) => "DELETED",
            (ChangeKind::Modified | ChangeKind::Added, _, true) => "ADDED",
            (ChangeKind::Deleted, _, true) => "DELETED",
            _ => return None,
        };
        Some(line(kind, &change.obj))
    }

    fn bookmark(&self, rv: u64) -> Bytes {
        let rt = TYPES[self.t];
        line(
            "BOOKMARK",
            &json!({
                "kind": rt.kind,
                "apiVersion": rt.api_version(),
                "metadata": { "resourceVersion": rv.to_string() },
            }),
        )
    }
}

/// One event line: `{"type":"...","object":{...}}\n`.
fn line(kind: &str, obj: &Value) -> Bytes {
    Bytes::from(format!("{{\"type\":\"{kind}\",\"object\":{obj}}}\n"))
}

/// The 410 a watch from a compacted resourceVersion gets, as an `ERROR` event.
fn expired(requested: u64, oldest: u64) -> Bytes {
    let status =
        ApiError::expired(format!("too old resource version: {requested} ({oldest})")).to_status();
    line("ERROR", &status)
}

/// A response body fed by a channel: each message is one chunk.
#[derive(Debug)]
pub(crate) struct ChannelBody {
    rx: mpsc::Receiver<Bytes>,
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.rx
            .poll_recv(cx)
            .map(|chunk| chunk.map(|c| Ok(Frame::data(c))))
    }
}

/// Starts streaming a watch on the server's runtime; the body ends with the watch.
pub(crate) fn start(shared: Arc<Shared>, request: WatchRequest) -> ChannelBody {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(run(shared, request, tx));
    ChannelBody { rx }
}

/// What the store holds for a watch right now.
enum Batch {
    Events(Vec<Bytes>, u64),
    Expired(Bytes),
}

/// The events after `last`, and the resourceVersion they bring the watch to.
fn batch(shared: &Shared, w: &WatchRequest, last: Option<u64>) -> Batch {
    let store = lock(&shared.store);
    let rv = store.resource_version();
    match last {
        None => {
            let objs = store.matching(w.t, w.ns.as_deref(), &w.labels, &w.fields);
            Batch::Events(objs.iter().map(|o| line("ADDED", o)).collect(), rv)
        }
        Some(after) => match store.changes_since(w.t, after) {
            Ok(changes) => Batch::Events(changes.iter().filter_map(|c| w.event(c)).collect(), rv),
            Err(oldest) => Batch::Expired(expired(after, oldest)),
        },
    }
}

async fn run(shared: Arc<Shared>, w: WatchRequest, tx: mpsc::Sender<Bytes>) {
    // Subscribe before the first read, so no write between the two is missed.
    let mut changes = lock(&shared.store).subscribe();
    let deadline = tokio::time::sleep(w.timeout);
    tokio::pin!(deadline);
    let mut ticker = tokio::time::interval(BOOKMARK_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    let mut last = w.since;
    let mut bookmark_due = false;
    loop {
        let (mut events, rv) = match batch(&shared, &w, last) {
            Batch::Events(events, rv) => (events, rv),
            Batch::Expired(error) => {
                let _ = tx.send(error).await;
                return;
            }
        };
        last = Some(rv);
        // Sent after the changes it covers: a bookmark promises that every change up to its
        // resourceVersion was sent.
        if bookmark_due {
            events.push(w.bookmark(rv));
            bookmark_due = false;
        }
        for event in events {
            if tx.send(event).await.is_err() {
                return;
            }
        }
        tokio::select! {
            changed = changes.changed() => if changed.is_err() { return },
            _ = ticker.tick() => bookmark_due = w.bookmarks,
            () = &mut deadline => return,
            () = tx.closed() => return,
        }
    }
}
