//! Collaborative documents: yrs documents served over the standard y-websocket protocol at
//! `/doc/{convention}/{document}`. One task per live document owns its `yrs::Doc`, its
//! awareness and its connections; updates are durable before anyone else receives them.

mod actor;
pub mod export;
mod frames;
pub mod live;
pub mod nesting;
pub mod ws;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::metrics::Metrics;
use crate::store::{Store, StoreError, StoredVersion};

/// Close codes of the document endpoint. Refusals that a retry cannot cure are in 4400-4499,
/// the range in which a stock y-websocket `WebsocketProvider` stops reconnecting; going away
/// (1001), an internal error (1011) and a slow reader (4009) let it reconnect.
pub mod close {
    /// A frame that is not a y-protocols message, or an update that does not decode or apply.
    pub const MALFORMED: u16 = 4400;
    /// The invitation token is unknown, malformed, or for another convention.
    pub const UNKNOWN_TOKEN: u16 = 4401;
    /// The invitation was revoked or replaced.
    pub const REVOKED: u16 = 4403;
    /// No document of that name in the convention.
    pub const UNKNOWN_DOCUMENT: u16 = 4404;
    /// The document reached its size limit, a frame was over the frame limit, or an
    /// awareness budget was passed (a state over 4 KiB, a fifth client id).
    pub const TOO_LARGE: u16 = 4413;
    /// An update that would nest the document deeper than `nesting::MAX_DEPTH` levels, or
    /// holds a value nested that deep.
    pub const TOO_DEEP: u16 = 4422;
    /// Frames kept coming faster than the rate limit.
    pub const RATE_LIMITED: u16 = 4429;
    /// The invitation opened this document in a fifth place (at most
    /// `MAX_CONNECTIONS_PER_TOKEN` per document and server): the oldest connection is
    /// closed. In the 4400s, so a stock provider does not reconnect and push out another.
    pub const TOO_MANY_CONNECTIONS: u16 = 4411;
    /// A facilitator removed the participant from the live convention (moderation); refused
    /// until they are readmitted.
    pub const REMOVED: u16 = 4405;
    /// The organizer deleted the convention (`DELETE /api/conventions/{id}`): the document is
    /// gone for good. In the 4400s, so a stock provider does not reconnect.
    pub const DELETED: u16 = 4410;
}

/// Largest binary frame the document endpoint reads (a client's first sync may carry a
/// whole offline session).
pub const MAX_FRAME_BYTES: usize = 2 * 1024 * 1024;
/// Largest document: its encoded size (the whole document as one update, what a snapshot
/// stores). Judged on the sum of its size when last measured and the updates since, and, when
/// that sum would pass, on the size measured again (`live::MEASURE_EVERY`). An update that only
/// deletes passes it (up to `live::MAX_DOCUMENT_BYTES_DELETING`).
pub const MAX_DOCUMENT_BYTES: usize = 16 * 1024 * 1024;
/// Bytes of updates stored since the last snapshot that make a compaction too, however few
/// they are: a writer who writes and deletes large pieces in turn would otherwise have the
/// store hold many times the document (each 2 MiB frame, kept until the 500th update). So the
/// store holds the document's last snapshot (the document as it was then) and less than this
/// much of updates after it; for a moment, one frame more (a turn is flushed, and compacted,
/// as soon as its updates reach this). A compaction encodes and writes the whole document: a
/// quarter of its budget between two keeps that cost within four times the bytes stored.
pub const COMPACT_BYTES: usize = MAX_DOCUMENT_BYTES / 4;

/// Renderings kept, and their bytes: the latest one is always kept.
const RENDERS_KEPT: usize = 8;
const RENDERS_BYTES: usize = 64 * 1024 * 1024;

/// Renderings made at once in the process (each on a blocking thread, a whole document in
/// memory): one, so that participants asking for one version after another in a loop take one
/// core at most, never the live conventions' runtime.
const RENDERS_AT_ONCE: usize = 1;

#[derive(Clone, PartialEq, Eq)]
struct RenderKey {
    convention: String,
    doc: String,
    what: Rendered,
    title: String,
    html: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Rendered {
    Version(u32),
    /// The current content, at this generation (`LiveDoc::current`).
    Current(u64),
}

type RenderCell = Arc<tokio::sync::OnceCell<Arc<str>>>;

/// Renderings, oldest first; a cell being filled is shared by every request
/// that waits for it.
#[derive(Default)]
struct Renders {
    kept: std::collections::VecDeque<(RenderKey, RenderCell)>,
}

impl Renders {
    fn cell(&mut self, key: &RenderKey) -> RenderCell {
        if let Some(i) = self.kept.iter().position(|(k, _)| k == key) {
            let entry = self.kept.remove(i).expect("found");
            let cell = entry.1.clone();
            self.kept.push_back(entry);
            return cell;
        }
        let cell = RenderCell::default();
        self.kept.push_back((key.clone(), cell.clone()));
        cell
    }

    /// Drop an entry whose rendering failed (unless another request has filled it since).
    fn forget(&mut self, key: &RenderKey) {
        self.kept.retain(|(k, c)| k != key || c.initialized());
    }

    /// Drop the oldest past the budgets (a cell still being filled counts nothing yet).
    fn trim(&mut self) {
        let size = |c: &RenderCell| c.get().map_or(0, |t| t.len());
        let mut bytes: usize = self.kept.iter().map(|(_, c)| size(c)).sum();
        while self.kept.len() > 1 && (self.kept.len() > RENDERS_KEPT || bytes > RENDERS_BYTES) {
            if let Some((_, c)) = self.kept.pop_front() {
                bytes -= size(&c);
            }
        }
    }
}

/// Why a named version could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("no version {0}")]
    NoVersion(u32),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the stored version cannot be read: {0}")]
    Decode(String),
}

/// A connection to one document, as its task sees it.
pub struct DocConn {
    pub id: u64,
    pub participant: String,
    pub writable: bool,
    /// A guarantor: its awareness reaches nobody.
    pub silent: bool,
    /// Its queue, through which it is closed too (`Outbox::close`).
    pub out: crate::gateway::outbox::Outbox<Bytes>,
}

type Read = Box<dyn FnOnce(&yrs::Doc) + Send>;

enum DocMsg {
    Join(DocConn),
    Frame {
        conn: u64,
        data: Bytes,
    },
    Leave {
        conn: u64,
    },
    Writers(BTreeSet<String>),
    Revoke(String),
    /// The participant was removed from the live convention: close their connections.
    Remove(String),
    Capture {
        version: u32,
        label: String,
        at: u64,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    Read(Read),
    /// The current content's generation and whole state (`LiveDoc::current`).
    Current(oneshot::Sender<(u64, Bytes)>),
    /// Updates another node stored (cluster mode), with their numbers.
    Remote(Vec<(u64, Vec<u8>)>),
    /// The convention is deleted: store what was accepted, close every connection (4410)
    /// and end without compacting; answered once done.
    Delete(oneshot::Sender<()>),
}

#[derive(Clone)]
pub struct DocHandle {
    tx: mpsc::Sender<DocMsg>,
}

impl DocHandle {
    pub async fn join(&self, conn: DocConn) -> bool {
        self.tx.send(DocMsg::Join(conn)).await.is_ok()
    }
    pub async fn frame(&self, conn: u64, data: Bytes) -> bool {
        self.tx.send(DocMsg::Frame { conn, data }).await.is_ok()
    }
    pub async fn leave(&self, conn: u64) {
        let _ = self.tx.send(DocMsg::Leave { conn }).await;
    }
}

/// Every live document of this process.
#[derive(Clone)]
pub struct DocHub {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    metrics: Arc<Metrics>,
    docs: Mutex<HashMap<(String, String), DocHandle>>,
    /// Conventions deleted (`DocHub::delete`): no document of theirs starts again, not even
    /// for a connection admitted just before, until the id is created anew (`revive`).
    deleted: Mutex<std::collections::HashSet<String>>,
    /// Documents rendered (`DocHub::rendered`), and the turns to render.
    renders: Mutex<Renders>,
    rendering: tokio::sync::Semaphore,
    tracker: TaskTracker,
    cancel: CancellationToken,
}

impl DocHub {
    pub fn new(
        store: Store,
        metrics: Arc<Metrics>,
        tracker: TaskTracker,
        cancel: CancellationToken,
    ) -> Self {
        DocHub {
            inner: Arc::new(Inner {
                store,
                metrics,
                docs: Mutex::new(HashMap::new()),
                deleted: Mutex::new(Default::default()),
                renders: Mutex::new(Renders::default()),
                rendering: tokio::sync::Semaphore::new(RENDERS_AT_ONCE),
                tracker,
                cancel,
            }),
        }
    }

    /// The task of a document, started (and loaded from the store) if it is not live.
    pub fn handle(&self, convention: &str, doc: &str) -> DocHandle {
        let key = (convention.to_string(), doc.to_string());
        let mut docs = self.inner.docs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(h) = docs.get(&key).filter(|h| !h.tx.is_closed()) {
            return h.clone();
        }
        let (tx, rx) = mpsc::channel(4096);
        if self
            .inner
            .deleted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(convention)
        {
            // A handle that reaches nobody: joins fail, reads find nothing.
            return DocHandle { tx };
        }
        let weak = tx.downgrade();
        let task = actor::DocActor::new(
            key.0.clone(),
            key.1.clone(),
            self.inner.store.clone(),
            self.inner.metrics.clone(),
        );
        let hub = self.clone();
        let cancel = self.inner.cancel.clone();
        self.inner.tracker.spawn(async move {
            let key = (task.convention().to_string(), task.name().to_string());
            task.run(rx, weak, cancel).await;
            hub.forget(&key);
        });
        let h = DocHandle { tx };
        docs.insert(key, h.clone());
        h
    }

    fn forget(&self, key: &(String, String)) {
        let mut docs = self.inner.docs.lock().unwrap_or_else(|e| e.into_inner());
        if docs.get(key).is_some_and(|h| h.tx.is_closed()) {
            docs.remove(key);
        }
    }

    fn live(&self, convention: &str) -> Vec<((String, String), DocHandle)> {
        let docs = self.inner.docs.lock().unwrap_or_else(|e| e.into_inner());
        docs.iter()
            .filter(|((c, _), _)| c == convention)
            .map(|(k, h)| (k.clone(), h.clone()))
            .collect()
    }

    /// The convention is deleted: every live document of it stores what it accepted, closes
    /// its connections (4410) and stops; none starts again (`handle`) until the id is
    /// created anew; its renderings are dropped. Returns once they all stopped.
    pub async fn delete(&self, convention: &str) {
        self.inner
            .deleted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(convention.to_string());
        for (key, h) in self.live(convention) {
            let (reply, rx) = oneshot::channel();
            if h.tx.send(DocMsg::Delete(reply)).await.is_ok() {
                let _ = rx.await;
            }
            let mut docs = self.inner.docs.lock().unwrap_or_else(|e| e.into_inner());
            if docs.get(&key).is_some_and(|d| d.tx.same_channel(&h.tx)) {
                docs.remove(&key);
            }
        }
        self.lock_renders()
            .kept
            .retain(|(k, _)| k.convention != convention);
    }

    /// A convention of this id is created (again): its documents may start.
    pub fn revive(&self, convention: &str) {
        self.inner
            .deleted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(convention);
    }

    /// Who may write a document changed: live connections follow at once.
    pub async fn set_writers(&self, convention: &str, doc: &str, writers: BTreeSet<String>) {
        for ((_, d), h) in self.live(convention) {
            if d == doc {
                let _ = h.tx.send(DocMsg::Writers(writers.clone())).await;
            }
        }
    }

    /// An invitation was revoked or replaced: close that participant's document connections.
    pub async fn revoke(&self, convention: &str, participant: &str) {
        for (_, h) in self.live(convention) {
            let _ = h.tx.send(DocMsg::Revoke(participant.to_string())).await;
        }
    }

    /// Close a removed participant's connections to every live document of the convention.
    pub async fn remove(&self, convention: &str, participant: &str) {
        for (_, h) in self.live(convention) {
            let _ = h.tx.send(DocMsg::Remove(participant.to_string())).await;
        }
    }

    /// Keep the document's current content as a named version, durably.
    pub async fn capture(
        &self,
        convention: &str,
        doc: &str,
        version: u32,
        label: String,
        at: u64,
    ) -> Result<(), StoreError> {
        for _ in 0..2 {
            let (reply, rx) = oneshot::channel();
            let msg = DocMsg::Capture {
                version,
                label: label.clone(),
                at,
                reply,
            };
            if self.handle(convention, doc).tx.send(msg).await.is_ok() {
                if let Ok(r) = rx.await {
                    return r;
                }
            }
        }
        Err(StoreError::Unavailable(
            "the document's task stopped".into(),
        ))
    }

    /// Read the current document.
    pub async fn read<T: Send + 'static>(
        &self,
        convention: &str,
        doc: &str,
        f: impl FnOnce(&yrs::Doc) -> T + Send + 'static,
    ) -> Option<T> {
        let (reply, rx) = oneshot::channel();
        let read: Read = Box::new(move |d| {
            let _ = reply.send(f(d));
        });
        self.handle(convention, doc)
            .tx
            .send(DocMsg::Read(read))
            .await
            .ok()?;
        rx.await.ok()
    }

    /// A stored named version.
    pub async fn version(
        &self,
        convention: &str,
        doc: &str,
        version: u32,
    ) -> Result<Option<StoredVersion>, StoreError> {
        self.inner.store.version(convention, doc, version).await
    }

    /// The current content (`version: None`) or a named version as Markdown or HTML, headed
    /// `title` (and the version's label). Each is rendered once (on a blocking thread, never
    /// a runtime worker, `RENDERS_AT_ONCE` at a time) and the same bytes serve every request,
    /// however many come at once: a named version never changes, and the current content is
    /// kept under its generation until the next change. The latest `RENDERS_KEPT` are kept
    /// within `RENDERS_BYTES`, the latest always.
    pub async fn rendered(
        &self,
        convention: &str,
        doc: &str,
        version: Option<u32>,
        title: &str,
        format: export::Format,
    ) -> Result<Arc<str>, RenderError> {
        let (what, current) = match version {
            Some(v) => (Rendered::Version(v), None),
            None => {
                let (generation, state) = self.current(convention, doc).await?;
                (Rendered::Current(generation), Some(state))
            }
        };
        let key = RenderKey {
            convention: convention.to_string(),
            doc: doc.to_string(),
            what,
            title: title.to_string(),
            html: format == export::Format::Html,
        };
        let cell = self.lock_renders().cell(&key);
        let made = cell
            .get_or_try_init(|| async {
                let (state, title) = match (version, current) {
                    (Some(v), _) => {
                        let stored = self
                            .version(convention, doc, v)
                            .await?
                            .ok_or(RenderError::NoVersion(v))?;
                        (
                            Bytes::from(stored.data),
                            format!("{title} ({})", stored.label),
                        )
                    }
                    (None, state) => (state.unwrap_or_default(), title.to_string()),
                };
                let _turn = self
                    .inner
                    .rendering
                    .acquire()
                    .await
                    .map_err(|e| RenderError::Decode(e.to_string()))?;
                let metrics = self.inner.metrics.clone();
                tokio::task::spawn_blocking(move || {
                    metrics.doc_renders.inc();
                    let d = export::doc_from_state(&state).map_err(RenderError::Decode)?;
                    Ok::<_, RenderError>(Arc::<str>::from(export::export(&d, &title, format)))
                })
                .await
                .map_err(|e| RenderError::Decode(e.to_string()))?
            })
            .await
            .cloned();
        let mut renders = self.lock_renders();
        if made.is_err() {
            // Nothing is kept of what could not be rendered (an unknown version: any number
            // a request names).
            renders.forget(&key);
        }
        renders.trim();
        made
    }

    /// The current content's generation and state, from the document's task.
    async fn current(&self, convention: &str, doc: &str) -> Result<(u64, Bytes), RenderError> {
        for _ in 0..2 {
            let (reply, rx) = oneshot::channel();
            if self
                .handle(convention, doc)
                .tx
                .send(DocMsg::Current(reply))
                .await
                .is_ok()
            {
                if let Ok(r) = rx.await {
                    return Ok(r);
                }
            }
        }
        Err(RenderError::Store(StoreError::Unavailable(
            "the document's task stopped".into(),
        )))
    }

    fn lock_renders(&self) -> std::sync::MutexGuard<'_, Renders> {
        self.inner.renders.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }
}
