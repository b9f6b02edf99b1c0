//! A real y-websocket client built on yrs, for the document tests: the client side of the
//! y-protocols sync handshake over `/doc/{convention}/{document}?token=...`, local edits sent
//! as sync updates, and everything received (updates, awareness, auth, the close code)
//! recorded for the tests to inspect.
//!
//! The protocol, as a stock Yjs `WebsocketProvider` speaks it: on open the client sends sync
//! step 1 (its state vector); it answers the server's step 1 with step 2 (what the server
//! lacks); it applies step 2 and updates; every local transaction goes out as a sync update.
//! The `Doc` outlives connections: `reconnect` resyncs it, so what was typed offline merges.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message as Ws;
use yrs::sync::{Awareness, AwarenessUpdate, Message, SyncMessage};
use yrs::types::xml::{XmlFragment, XmlOut};
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{
    Any, Doc, GetString, In, Number, Origin, ReadTxn, StateVector, Text, Transact, Update, Xml,
    XmlElementPrelim, XmlTextPrelim,
};

/// The ProseMirror root of Convene documents (`y-prosemirror`'s default name).
pub const ROOT: &str = "prosemirror";

/// The origin of transactions that apply what the server sent: those are not sent back.
const REMOTE: &str = "convene-tests-remote";

/// How long the `wait_*` helpers wait by default.
pub const YWAIT: Duration = Duration::from_secs(10);

/// One peer's awareness state, as last received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    pub clock: u32,
    /// The JSON state; `None` once the peer was removed (`null`).
    pub state: Option<String>,
}

/// Everything a connection received.
#[derive(Clone, Debug, Default)]
pub struct Recorded {
    /// The server's sync step 1 arrived.
    pub server_step1: bool,
    /// The server's sync step 2 arrived (the document is loaded).
    pub synced: bool,
    /// Auth messages, in order: `Some(reason)` is permission denied, `None` granted.
    pub auth: Vec<Option<String>>,
    /// Every awareness update, in order.
    pub awareness: Vec<AwarenessUpdate>,
    /// The latest awareness state of every client id heard of (by `ClientID::get`).
    pub peers: BTreeMap<u64, Peer>,
    /// The payload of every step 2 and update received, in order.
    pub updates: Vec<Vec<u8>>,
    /// Which of `updates` were sync step 2 (their indexes).
    pub step2_at: Vec<usize>,
    /// Binary frames received.
    pub frames: u64,
    /// Frames that were not y-protocols messages, or updates that did not apply.
    pub errors: Vec<String>,
    /// `None` while open; `Some(Some(code))` after a close frame; `Some(None)` when the
    /// connection dropped without one.
    pub closed: Option<Option<u16>>,
    pub close_reason: String,
}

impl Recorded {
    /// Peers whose state is present (not removed).
    pub fn present(&self) -> BTreeMap<u64, String> {
        self.peers
            .iter()
            .filter_map(|(id, p)| p.state.clone().map(|s| (*id, s)))
            .collect()
    }
}

type Outbox = Arc<Mutex<Option<mpsc::UnboundedSender<Ws>>>>;

/// A yrs document connected to one Convene document.
pub struct YClient {
    pub name: String,
    pub doc: Doc,
    url: String,
    awareness: Arc<Mutex<Awareness>>,
    out: Outbox,
    rec: Arc<Mutex<Recorded>>,
    /// Notified (one permit) when the next sync step 2 arrives, once armed: lets a test act at
    /// that very instant.
    step2: Arc<Mutex<Option<Arc<Notify>>>>,
    tasks: Vec<JoinHandle<()>>,
}

/// `ws://ADDR/doc/{convention}/{document}?token=TOKEN`.
pub fn doc_url(addr: &str, convention: &str, document: &str, token: &str) -> String {
    format!("ws://{addr}/doc/{convention}/{document}?token={token}")
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn frame(msg: &Message) -> Ws {
    Ws::binary(msg.encode_v1())
}

impl YClient {
    /// Connect with a fresh document and start the handshake (see `wait_synced`).
    pub async fn connect(name: &str, url: &str) -> Result<YClient> {
        Self::connect_doc(name, url, Doc::new()).await
    }

    /// Connect, and wait until the server's state arrived.
    pub async fn synced(name: &str, url: &str) -> Result<YClient> {
        let c = Self::connect(name, url).await?;
        c.wait_synced().await?;
        Ok(c)
    }

    /// Connect with an existing document (what it holds is offered to the server).
    pub async fn connect_doc(name: &str, url: &str, doc: Doc) -> Result<YClient> {
        let out: Outbox = Arc::new(Mutex::new(None));
        // Every local transaction goes out as a sync update, as `WebsocketProvider` does;
        // while disconnected it is only in the document, and the next handshake carries it.
        let sink = out.clone();
        doc.observe_update_v1("convene-tests-ydoc", move |txn, e| {
            if txn.origin() == Some(&Origin::from(REMOTE)) {
                return;
            }
            if let Some(tx) = lock(&sink).as_ref() {
                let _ = tx.send(frame(&Message::Sync(SyncMessage::Update(e.update.clone()))));
            }
        })
        .map_err(|e| anyhow!("observe: {e}"))?;
        let awareness = Arc::new(Mutex::new(Awareness::new(doc.clone())));
        let mut c = YClient {
            name: name.to_string(),
            doc,
            url: url.to_string(),
            awareness,
            out,
            rec: Arc::new(Mutex::new(Recorded::default())),
            step2: Arc::new(Mutex::new(None)),
            tasks: Vec::new(),
        };
        c.open().await?;
        Ok(c)
    }

    /// Open the WebSocket and send sync step 1 (and our awareness state, if any).
    async fn open(&mut self) -> Result<()> {
        let (ws, _) = tokio_tungstenite::connect_async(self.url.as_str())
            .await
            .with_context(|| format!("{}: connect {}", self.name, self.url))?;
        let (mut sink, mut stream) = ws.split();
        let (tx, mut rx) = mpsc::unbounded_channel::<Ws>();
        *lock(&self.rec) = Recorded::default();
        // Step 1 first, before any update the observer may queue.
        let sv = self.doc.transact().state_vector();
        tx.send(frame(&Message::Sync(SyncMessage::SyncStep1(sv))))?;
        {
            let aw = lock(&self.awareness);
            if aw.local_state_raw().is_some() {
                if let Ok(u) = aw.update_with_clients([aw.client_id()]) {
                    tx.send(frame(&Message::Awareness(u)))?;
                }
            }
        }
        *lock(&self.out) = Some(tx.clone());
        let writer = tokio::spawn(async move {
            while let Some(m) = rx.recv().await {
                let closing = matches!(m, Ws::Close(_));
                if sink.send(m).await.is_err() || closing {
                    break;
                }
            }
        });
        let doc = self.doc.clone();
        let rec = self.rec.clone();
        let awareness = self.awareness.clone();
        let name = self.name.clone();
        let step2 = self.step2.clone();
        let reader = tokio::spawn(async move {
            let closed = loop {
                match stream.next().await {
                    Some(Ok(Ws::Binary(data))) => {
                        // A step 2 signals on arrival, before it is decoded and applied.
                        if data.starts_with(&[0, 1]) {
                            if let Some(n) = lock(&step2).take() {
                                n.notify_one();
                            }
                        }
                        handle(&name, &doc, &rec, &awareness, &tx, &data);
                    }
                    Some(Ok(Ws::Text(t))) => {
                        lock(&rec).errors.push(format!("text frame: {t}"));
                    }
                    Some(Ok(Ws::Close(f))) => {
                        let mut r = lock(&rec);
                        r.close_reason =
                            f.as_ref().map(|f| f.reason.to_string()).unwrap_or_default();
                        break Some(f.map(|f| u16::from(f.code)));
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => break None,
                }
            };
            let mut r = lock(&rec);
            if r.closed.is_none() {
                r.closed = Some(closed.flatten());
            }
        });
        self.tasks = vec![writer, reader];
        Ok(())
    }

    /// Drop the connection without a close frame (as a network cut would), keep the document.
    pub fn disconnect(&mut self) {
        *lock(&self.out) = None;
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }

    /// Connect again (to `url`, e.g. a restarted server), keeping the document: the handshake
    /// sends what the server lacks, including what was typed while disconnected.
    pub async fn reconnect(&mut self, url: &str) -> Result<()> {
        self.disconnect();
        self.url = url.to_string();
        self.open().await
    }

    /// Close with a normal close frame.
    pub async fn close(&mut self) {
        if let Some(tx) = lock(&self.out).take() {
            let _ = tx.send(Ws::Close(Some(CloseFrame {
                code: CloseCode::Normal,
                reason: "".into(),
            })));
        }
        for t in self.tasks.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
    }

    // ---- what was received

    /// A copy of what this connection received so far.
    pub fn recorded(&self) -> Recorded {
        lock(&self.rec).clone()
    }

    pub fn client_id(&self) -> u64 {
        self.doc.client_id().get()
    }

    /// Wait until `f` holds of what was received.
    pub async fn wait_rec(&self, what: &str, f: impl Fn(&Recorded) -> bool) -> Result<Recorded> {
        let deadline = tokio::time::Instant::now() + YWAIT;
        loop {
            {
                let r = lock(&self.rec);
                if f(&r) {
                    return Ok(r.clone());
                }
            }
            if tokio::time::Instant::now() > deadline {
                bail!(
                    "{}: {what}: not within {YWAIT:?}; received {:?}",
                    self.name,
                    self.summary()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn summary(&self) -> String {
        let r = lock(&self.rec);
        format!(
            "synced={} auth={:?} frames={} updates={} errors={:?} closed={:?} peers={:?}; doc={:?}",
            r.synced,
            r.auth,
            r.frames,
            r.updates.len(),
            r.errors,
            r.closed,
            r.peers,
            // Not `xml()`: yrs writes XML recursively, and some tests hold very deep documents.
            self.paragraphs()
                .iter()
                .map(|p| p.chars().take(80).collect::<String>())
                .collect::<Vec<_>>()
        )
    }

    /// Notified (one stored permit) when the next sync step 2 arrives on this client.
    pub fn arm_step2_signal(&self) -> Arc<Notify> {
        let n = Arc::new(Notify::new());
        *lock(&self.step2) = Some(n.clone());
        n
    }

    /// Send sync step 1 again, as `WebsocketProvider`'s `resyncInterval` does: the server
    /// answers with a step 2 of what we lack.
    pub fn send_step1(&self) -> Result<()> {
        let sv = self.doc.transact().state_vector();
        self.send_message(&Message::Sync(SyncMessage::SyncStep1(sv)))
    }

    /// Wait until the server's step 2 arrived.
    pub async fn wait_synced(&self) -> Result<()> {
        self.wait_rec("sync step 2", |r| r.synced).await.map(|_| ())
    }

    /// Wait until the document satisfies `f`.
    pub async fn wait_doc(&self, what: &str, f: impl Fn(&YClient) -> bool) -> Result<()> {
        self.wait_doc_within(what, YWAIT, f).await
    }

    pub async fn wait_doc_within(
        &self,
        what: &str,
        within: Duration,
        f: impl Fn(&YClient) -> bool,
    ) -> Result<()> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if f(self) {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                bail!(
                    "{}: {what}: not within {within:?}; {}",
                    self.name,
                    self.summary()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Wait until the document satisfies `f`, reconnecting as a stock provider does when the
    /// server closes this connection as a slow reader (4009: "reconnect to resync"), at most
    /// three times. A reader that joins while large updates still flow to everyone may hold
    /// them and the whole document's answer at once, past its outbound budget.
    pub async fn wait_doc_resyncing(
        &mut self,
        what: &str,
        f: impl Fn(&YClient) -> bool,
    ) -> Result<()> {
        let slow = Some(Some(convene_protocol::close::SLOW_CONSUMER));
        for _ in 0..3 {
            self.wait_doc(what, |c| f(c) || c.recorded().closed == slow)
                .await?;
            if f(self) {
                return Ok(());
            }
            eprintln!("{}: closed 4009 as a slow reader; resyncing", self.name);
            let url = self.url.clone();
            self.reconnect(&url).await?;
        }
        self.wait_doc(what, f).await
    }

    /// Wait until the document's paragraphs include `text`.
    pub async fn wait_paragraph(&self, text: &str) -> Result<()> {
        let t = text.to_string();
        self.wait_doc(&format!("paragraph {text:?}"), move |c| {
            c.paragraphs().contains(&t)
        })
        .await
    }

    /// Wait for the close frame (or the connection's end); its code.
    pub async fn wait_closed(&self) -> Result<Option<u16>> {
        let r = self.wait_rec("close", |r| r.closed.is_some()).await?;
        Ok(r.closed.flatten())
    }

    // ---- reading the document

    /// The whole `prosemirror` fragment as XML: equal strings, equal content.
    pub fn xml(&self) -> String {
        xml_of(&self.doc)
    }

    /// The text of each top-level block of the `prosemirror` fragment.
    pub fn paragraphs(&self) -> Vec<String> {
        paragraphs_of(&self.doc)
    }

    /// A root `Y.Text`.
    pub fn text(&self, name: &str) -> String {
        let txn = self.doc.transact();
        txn.get_text(name)
            .map(|t| t.get_string(&txn))
            .unwrap_or_default()
    }

    pub fn state_vector(&self) -> StateVector {
        self.doc.transact().state_vector()
    }

    // ---- editing (each call is one transaction, hence one update frame)

    /// Append `<paragraph>text</paragraph>` to the `prosemirror` fragment.
    pub fn push_paragraph(&self, text: &str) {
        self.push_block(paragraph(text));
    }

    /// Insert a paragraph at `index` among the fragment's top-level blocks.
    pub fn insert_paragraph(&self, index: u32, text: &str) {
        let root = self.doc.get_or_insert_xml_fragment(ROOT);
        let mut txn = self.doc.transact_mut();
        let len = root.len(&txn);
        root.insert(&mut txn, index.min(len), paragraph(text));
    }

    /// Append any block to the fragment.
    pub fn push_block(&self, block: XmlElementPrelim) {
        let root = self.doc.get_or_insert_xml_fragment(ROOT);
        let mut txn = self.doc.transact_mut();
        root.push_back(&mut txn, block);
    }

    /// Replace every top-level block with paragraphs of `texts`, in one transaction (one
    /// update frame, however many).
    pub fn set_paragraphs(&self, texts: &[String]) {
        let root = self.doc.get_or_insert_xml_fragment(ROOT);
        let mut txn = self.doc.transact_mut();
        let len = root.len(&txn);
        if len > 0 {
            root.remove_range(&mut txn, 0, len);
        }
        for t in texts {
            root.push_back(&mut txn, paragraph(t));
        }
    }

    /// Append paragraphs of `texts`, in one transaction.
    pub fn push_paragraphs(&self, texts: &[String]) {
        let root = self.doc.get_or_insert_xml_fragment(ROOT);
        let mut txn = self.doc.transact_mut();
        for t in texts {
            root.push_back(&mut txn, paragraph(t));
        }
    }

    /// Remove the top-level block at `index`.
    pub fn remove_block(&self, index: u32) {
        let root = self.doc.get_or_insert_xml_fragment(ROOT);
        let mut txn = self.doc.transact_mut();
        if index < root.len(&txn) {
            root.remove(&mut txn, index);
        }
    }

    /// `<heading level=N>` with a numeric `level`, as y-prosemirror stores it.
    pub fn push_heading(&self, level: u8, text: &str) {
        let root = self.doc.get_or_insert_xml_fragment(ROOT);
        let mut txn = self.doc.transact_mut();
        let h = root.push_back(
            &mut txn,
            XmlElementPrelim::new("heading", [XmlTextPrelim::new(text).into()]),
        );
        h.insert_attribute(
            &mut txn,
            "level",
            In::Any(Any::Number(Number::Int(level as i64))),
        );
    }

    /// Append to a root `Y.Text`.
    pub fn append_text(&self, name: &str, s: &str) {
        let t = self.doc.get_or_insert_text(name);
        let mut txn = self.doc.transact_mut();
        t.push(&mut txn, s);
    }

    /// Insert into a root `Y.Text` at `index` (clamped to its length).
    pub fn insert_text(&self, name: &str, index: u32, s: &str) {
        let t = self.doc.get_or_insert_text(name);
        let mut txn = self.doc.transact_mut();
        let len = t.len(&txn);
        t.insert(&mut txn, index.min(len), s);
    }

    // ---- awareness

    /// Set our awareness state (JSON) and send it.
    pub fn set_awareness(&self, json: &str) -> Result<()> {
        let update = {
            let mut aw = lock(&self.awareness);
            aw.set_local_state_raw(json);
            aw.update_with_clients([aw.client_id()])?
        };
        self.send_message(&Message::Awareness(update))
    }

    /// Remove our awareness state (as a closing tab does) and send the removal.
    pub fn clear_awareness(&self) -> Result<()> {
        let update = {
            let mut aw = lock(&self.awareness);
            aw.clean_local_state();
            aw.update_with_clients([aw.client_id()])?
        };
        self.send_message(&Message::Awareness(update))
    }

    // ---- raw frames (for bad input)

    pub fn send_message(&self, m: &Message) -> Result<()> {
        self.send_ws(frame(m))
    }

    /// A binary frame, whatever it holds.
    pub fn send_binary(&self, bytes: Vec<u8>) -> Result<()> {
        self.send_ws(Ws::binary(bytes))
    }

    pub fn send_text(&self, text: &str) -> Result<()> {
        self.send_ws(Ws::text(text.to_string()))
    }

    /// A sync update that is not from this client's document (its own stays unchanged).
    pub fn send_update(&self, update: Vec<u8>) -> Result<()> {
        self.send_message(&Message::Sync(SyncMessage::Update(update)))
    }

    fn send_ws(&self, m: Ws) -> Result<()> {
        lock(&self.out)
            .as_ref()
            .ok_or_else(|| anyhow!("{}: not connected", self.name))?
            .send(m)
            .map_err(|_| anyhow!("{}: connection closed", self.name))
    }
}

impl Drop for YClient {
    fn drop(&mut self) {
        self.disconnect();
    }
}

/// One frame from the server; true if it was a sync step 2.
fn handle(
    name: &str,
    doc: &Doc,
    rec: &Mutex<Recorded>,
    awareness: &Mutex<Awareness>,
    tx: &mpsc::UnboundedSender<Ws>,
    data: &[u8],
) -> bool {
    lock(rec).frames += 1;
    let msg = match Message::decode_v1(data) {
        Ok(m) => m,
        Err(e) => {
            lock(rec)
                .errors
                .push(format!("{name}: undecodable frame {data:?}: {e}"));
            return false;
        }
    };
    match msg {
        Message::Sync(SyncMessage::SyncStep1(sv)) => {
            let update = doc.transact().encode_state_as_update_v1(&sv);
            let _ = tx.send(frame(&Message::Sync(SyncMessage::SyncStep2(update))));
            lock(rec).server_step1 = true;
        }
        Message::Sync(SyncMessage::SyncStep2(u)) | Message::Sync(SyncMessage::Update(u)) => {
            let step2 = matches!(data.get(1), Some(1));
            // Recorded before it is applied: a test that sees the content in the document
            // then finds the frame that brought it among the recorded ones.
            {
                let mut r = lock(rec);
                if step2 {
                    let at = r.updates.len();
                    r.step2_at.push(at);
                }
                r.updates.push(u.clone());
            }
            let applied = Update::decode_v1(&u)
                .map_err(|e| e.to_string())
                .and_then(|update| {
                    doc.transact_mut_with(REMOTE)
                        .apply_update(update)
                        .map_err(|e| e.to_string())
                });
            let mut r = lock(rec);
            if let Err(e) = applied {
                r.errors.push(format!("{name}: update does not apply: {e}"));
            }
            // `synced` once the document holds the server's state.
            if step2 {
                r.synced = true;
            }
            return step2;
        }
        Message::Awareness(update) => {
            let mut r = lock(rec);
            for (id, e) in &update.clients {
                let state = (e.json.as_ref() != "null").then(|| e.json.to_string());
                let newer = r
                    .peers
                    .get(&id.get())
                    .is_none_or(|p| p.clock < e.clock || (p.clock == e.clock && state.is_none()));
                if newer {
                    r.peers.insert(
                        id.get(),
                        Peer {
                            clock: e.clock,
                            state,
                        },
                    );
                }
            }
            r.awareness.push(update);
        }
        Message::AwarenessQuery => {
            let aw = lock(awareness);
            if let Ok(u) = aw.update() {
                let _ = tx.send(frame(&Message::Awareness(u)));
            }
        }
        Message::Auth(reason) => lock(rec).auth.push(reason),
        Message::Custom(tag, _) => lock(rec)
            .errors
            .push(format!("{name}: custom message {tag}")),
    }
    false
}

/// `<paragraph>text</paragraph>`.
pub fn paragraph(text: &str) -> XmlElementPrelim {
    XmlElementPrelim::new("paragraph", [XmlTextPrelim::new(text).into()])
}

/// An element with string attributes and the given children.
pub fn element(
    tag: &str,
    attrs: &[(&str, &str)],
    children: impl IntoIterator<Item = XmlElementPrelim>,
) -> XmlElementPrelim {
    let mut e = XmlElementPrelim::new(tag, children.into_iter().map(Into::into));
    for (k, v) in attrs {
        e.attributes.insert((*k).into(), v.to_string());
    }
    e
}

/// An element holding only text.
pub fn text_element(tag: &str, attrs: &[(&str, &str)], text: &str) -> XmlElementPrelim {
    let mut e = XmlElementPrelim::new(tag, [XmlTextPrelim::new(text).into()]);
    for (k, v) in attrs {
        e.attributes.insert((*k).into(), v.to_string());
    }
    e
}

/// The `prosemirror` fragment of a document as XML.
pub fn xml_of(doc: &Doc) -> String {
    let txn = doc.transact();
    txn.get_xml_fragment(ROOT)
        .map(|f| f.get_string(&txn))
        .unwrap_or_default()
}

/// The text under a node, in document order. Iterative: the hardening tests read documents
/// 10,000 levels deep, which a recursive walk would overflow this side's stack on.
fn inner_text<T: ReadTxn>(node: &XmlOut, txn: &T) -> String {
    let mut out = String::new();
    let mut stack = vec![node.clone()];
    while let Some(n) = stack.pop() {
        match n {
            XmlOut::Text(t) => out.push_str(&t.get_string(txn)),
            XmlOut::Element(e) => {
                let children: Vec<XmlOut> = e.children(txn).collect();
                stack.extend(children.into_iter().rev());
            }
            XmlOut::Fragment(f) => {
                let children: Vec<XmlOut> = f.children(txn).collect();
                stack.extend(children.into_iter().rev());
            }
        }
    }
    out
}

/// The text of each top-level block of the `prosemirror` fragment.
pub fn paragraphs_of(doc: &Doc) -> Vec<String> {
    let txn = doc.transact();
    let Some(root) = txn.get_xml_fragment(ROOT) else {
        return Vec::new();
    };
    root.children(&txn).map(|n| inner_text(&n, &txn)).collect()
}

/// A document holding exactly this state.
pub fn doc_from(update: &[u8]) -> Result<Doc> {
    let doc = Doc::new();
    let u = Update::decode_v1(update).map_err(|e| anyhow!("decode: {e}"))?;
    doc.transact_mut()
        .apply_update(u)
        .map_err(|e| anyhow!("apply: {e}"))?;
    Ok(doc)
}

/// Whether `doc` already holds everything in `update`: applying it to a copy changes nothing
/// and leaves nothing pending.
pub fn contains_update(doc: &Doc, update: &[u8]) -> Result<bool> {
    let state = doc
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    let copy = doc_from(&state)?;
    let before = (copy.transact().state_vector(), xml_of(&copy));
    let u = Update::decode_v1(update).map_err(|e| anyhow!("decode: {e}"))?;
    let mut txn = copy.transact_mut();
    txn.apply_update(u).map_err(|e| anyhow!("apply: {e}"))?;
    let pending = txn.has_missing_updates();
    drop(txn);
    let after = (copy.transact().state_vector(), xml_of(&copy));
    Ok(!pending && before == after)
}

/// The indexes of the `updates` that `doc` does not hold (see `contains_update`); checks
/// them all at once first, one by one only if something is missing.
pub fn missing_updates(doc: &Doc, updates: &[Vec<u8>]) -> Result<Vec<usize>> {
    let merged = yrs::merge_updates_v1(updates).map_err(|e| anyhow!("merge: {e}"))?;
    if contains_update(doc, &merged)? {
        return Ok(Vec::new());
    }
    let mut missing = Vec::new();
    for (i, u) in updates.iter().enumerate() {
        if !contains_update(doc, u)? {
            missing.push(i);
        }
    }
    Ok(missing)
}

/// A valid update from a scratch document (another client id): one paragraph.
pub fn foreign_paragraph_update(text: &str) -> Vec<u8> {
    let doc = Doc::new();
    let root = doc.get_or_insert_xml_fragment(ROOT);
    let mut txn = doc.transact_mut();
    root.push_back(&mut txn, paragraph(text));
    drop(txn);
    let state = doc
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    state
}

// ---- hostile documents (nesting, deletes) and a small convention to try them on

/// An update from client `client` nesting `depth` `paragraph` elements one inside the other
/// under the `prosemirror` fragment, with `text` at the bottom: 10,000 levels make about
/// 160 KB. Built one level at a time (a nested `XmlElementPrelim` would make yrs recurse on
/// this side too). The top element is the client's first item: its id is `(client, 0)`.
pub fn nested_update(client: u64, depth: usize, text: &str) -> Vec<u8> {
    let doc = Doc::with_client_id(client);
    let root = doc.get_or_insert_xml_fragment(ROOT);
    {
        let mut txn = doc.transact_mut();
        let mut cur = root.push_back(&mut txn, XmlElementPrelim::empty("paragraph"));
        for _ in 1..depth {
            cur = cur.push_back(&mut txn, XmlElementPrelim::empty("paragraph"));
        }
        cur.push_back(&mut txn, XmlTextPrelim::new(text));
    }
    let update = doc
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    // Dropping a document is flat in yrs 0.28, but this one is never needed again: keep the
    // helper independent of how yrs frees deep trees.
    std::mem::forget(doc);
    update
}

/// An update that only deletes `len` items of `client` from `clock` (no new content): what a
/// client sends when it removes an element it created, whatever that element holds. Built by
/// hand: deleting a deep element in a local yrs document would recurse on this side.
pub fn delete_update(client: u64, clock: u32, len: u32) -> Vec<u8> {
    use yrs::encoding::write::Write;
    use yrs::updates::encoder::{Encoder, EncoderV1};
    let mut e = EncoderV1::new();
    e.write_var(0u32); // no structs
    e.write_var(1u32); // one client in the delete set
    e.write_var(client);
    e.write_var(1u32); // one range
    e.write_var(clock);
    e.write_var(len);
    e.to_vec()
}

/// A convention for the document hardening tests: a facilitator, two rapporteurs (writers),
/// a guarantor, two citizens (readers: no writing group is opened), and the `opinion`
/// document; plus a second convention, `autre`, whose facilitator checks that an attack on
/// the first never reaches it.
pub struct DocWorld {
    pub dir: tempfile::TempDir,
    pub server: crate::Server,
    pub tokens: std::collections::HashMap<String, String>,
    pub fac: crate::Client,
    other_token: String,
}

pub const W_CONV: &str = "avis-durci";
pub const W_DOC: &str = "opinion";
pub const W_FAC: &str = "Claire Animatrice";
pub const W_RAP1: &str = "Rita Rapporteure";
pub const W_RAP2: &str = "Rémi Rapporteur";
pub const W_GAR: &str = "Hélène Garante";
pub const W_CIT1: &str = "Citoyen 01";
pub const W_CIT2: &str = "Citoyen 02";
const W_OTHER: &str = "autre";

/// `Citoyen 01`, `Citoyen 02`, ...
pub fn citizen_name(i: usize) -> String {
    format!("Citoyen {i:02}")
}

impl DocWorld {
    pub async fn start() -> Result<DocWorld> {
        Self::start_with(0).await
    }

    /// With `extra` more citizens (readers), named `Citoyen 03` and on.
    pub async fn start_with(extra: usize) -> Result<DocWorld> {
        use crate::proto::{Command, Role};
        use crate::{person, tempdir, Client, Server};
        let dir = tempdir();
        let server = Server::start(&dir.path().join("data")).await?;
        let mut roster = vec![
            person(W_FAC, &[Role::Facilitator], &[]),
            person(W_RAP1, &[Role::Rapporteur], &[]),
            person(W_RAP2, &[Role::Rapporteur], &[]),
            person(W_GAR, &[Role::Guarantor], &[]),
            person(W_CIT1, &[Role::Citizen], &[("commune", "Rezé")]),
            person(W_CIT2, &[Role::Citizen], &[("commune", "Nantes")]),
        ];
        for i in 0..extra {
            roster.push(person(&citizen_name(i + 3), &[Role::Citizen], &[]));
        }
        let invites = server.http().convention(W_CONV, &roster).await?;
        let tokens: std::collections::HashMap<String, String> = invites
            .iter()
            .map(|i| (i.name.clone(), i.token.clone()))
            .collect();
        let mut fac = Client::join(&server.ws_url(), "fac", &tokens[W_FAC]).await?;
        fac.ok(Command::CreateDocument {
            name: W_DOC.into(),
            title: "Avis citoyen".into(),
        })
        .await?;
        let other = server
            .http()
            .convention(W_OTHER, &[person(W_FAC, &[Role::Facilitator], &[])])
            .await?;
        let other_token = other
            .first()
            .map(|i| i.token.clone())
            .ok_or_else(|| anyhow!("no invitation in {W_OTHER}"))?;
        Ok(DocWorld {
            dir,
            server,
            tokens,
            fac,
            other_token,
        })
    }

    pub fn url(&self, name: &str) -> String {
        doc_url(&self.server.addr, W_CONV, W_DOC, &self.tokens[name])
    }

    /// A connected, synced client of `name`.
    pub async fn yc(&self, name: &str) -> Result<YClient> {
        YClient::synced(name, &self.url(name)).await
    }

    /// `GET /api/conventions/{conv}/documents/{doc}/{rest}` as the organizer.
    pub async fn get(&self, rest: &str) -> Result<(u16, String)> {
        let r = self
            .server
            .http()
            .get(&format!(
                "/api/conventions/{W_CONV}/documents/{W_DOC}/{rest}"
            ))
            .send()
            .await?;
        Ok((r.status().as_u16(), r.text().await?))
    }

    /// The Markdown and HTML exports, both answered 200.
    pub async fn exports(&self) -> Result<(String, String)> {
        let (s1, md) = self.get("export?format=md").await?;
        anyhow::ensure!(s1 == 200, "markdown export: {s1} {md}");
        let (s2, html) = self.get("export?format=html").await?;
        anyhow::ensure!(s2 == 200, "html export: {s2} {html}");
        Ok((md, html))
    }

    /// The other convention answers: a fresh connection is welcomed and a command carried out.
    pub async fn other_convention_works(&self, tag: &str) -> Result<()> {
        let mut c = crate::Client::join(&self.server.ws_url(), "other", &self.other_token)
            .await
            .with_context(|| format!("{tag}: joining the other convention"))?;
        let slug: String = tag
            .chars()
            .map(|ch| {
                if ch.is_ascii_alphanumeric() {
                    ch.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .take(50)
            .collect();
        c.ok(crate::proto::Command::CreateDocument {
            name: format!("notes-{slug}"),
            title: format!("Notes {tag}"),
        })
        .await
        .with_context(|| format!("{tag}: a command in the other convention"))?;
        Ok(())
    }
}

/// The resident and peak memory of a process, in kB (`VmRSS`, `VmHWM` of /proc/PID/status).
pub fn memory_kb(pid: u32) -> Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> Result<u64> {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| anyhow!("no {name} in /proc/{pid}/status"))
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}
