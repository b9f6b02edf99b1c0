//! A y-websocket client on a real yrs `Doc`, shared by the scenarios that write documents
//! (`drafting`, `convention`): the y-protocols sync handshake (our step 1, the server's step
//! 2, our step 2 in answer to its step 1), text inserts sent as sync updates (encoding v1),
//! updates received handed to the scenario before they are applied (it reads its markers
//! from their bytes), and the framing of the servers spoken to: convene's
//! `/doc/{convention}/{document}`, the reference y-websocket server, and Hocuspocus (every
//! message, both ways, prefixed by the document's name as a lib0 var-string, and an auth
//! message first).
//!
//! Inserts carry markers, `#E<editor>.<k>.<µs>;` (the editor, its insert's number, the time
//! it was sent in µs since the start of the run on this process's monotonic clock). Strings
//! travel verbatim inside v1 updates, so a receiver reads the markers of an update from its
//! bytes, and the delivery latency is its receipt minus the marker's time.

use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message as Ws;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use yrs::sync::{Message, SyncMessage};
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{Doc, GetString, ReadTxn, StateVector, Text, Transact, Update};

type WsStream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Which server speaks the document protocol, and so how frames are wrapped.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// convene's `/doc/{convention}/{document}` (the server of `--url`).
    Convene,
    /// The reference y-websocket server (`@y/websocket-server`) at `--target-url`.
    Ywss,
    /// Hocuspocus (`@hocuspocus/server`) at `--target-url`.
    Hocuspocus,
}

// ---- lib0 encoding

fn write_var(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn read_var(data: &[u8], pos: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *data.get(*pos)?;
        *pos += 1;
        value |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(value);
        }
    }
    None
}

fn read_bytes<'a>(data: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let len = read_var(data, pos)? as usize;
    let end = pos.checked_add(len)?;
    let s = data.get(*pos..end)?;
    *pos = end;
    Some(s)
}

/// Hocuspocus framing: the document's name as a var-string, then the y-protocols message.
pub fn hp_wrap(doc: &str, msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(doc.len() + msg.len() + 2);
    write_var(&mut out, doc.len() as u64);
    out.extend_from_slice(doc.as_bytes());
    out.extend_from_slice(msg);
    out
}

/// The message after Hocuspocus's document-name prefix, if the prefix names `doc`.
pub fn hp_unwrap<'a>(doc: &str, frame: &'a [u8]) -> Option<&'a [u8]> {
    let mut pos = 0;
    let name = read_bytes(frame, &mut pos)?;
    (name == doc.as_bytes()).then(|| &frame[pos..])
}

/// One message from a server, as far as an editor cares.
#[derive(Debug, PartialEq)]
enum Incoming<'a> {
    Step1(&'a [u8]),
    Step2(&'a [u8]),
    Update(&'a [u8]),
    Awareness,
    /// Hocuspocus: authenticated.
    AuthOk,
    /// Permission denied, with the reason.
    Denied(String),
    /// Hocuspocus: an update of ours was applied (or not).
    SyncStatus,
    Other(u64),
}

fn parse(target: Target, msg: &[u8]) -> Option<Incoming<'_>> {
    let mut pos = 0;
    let kind = read_var(msg, &mut pos)?;
    Some(match kind {
        // 4 is Hocuspocus's SyncReply: a sync message that asks for no step 1 in return.
        0 | 4 => {
            let step = read_var(msg, &mut pos)?;
            let payload = read_bytes(msg, &mut pos)?;
            match step {
                0 => Incoming::Step1(payload),
                1 => Incoming::Step2(payload),
                2 => Incoming::Update(payload),
                other => Incoming::Other(100 + other),
            }
        }
        1 => Incoming::Awareness,
        2 => {
            let sub = read_var(msg, &mut pos)?;
            let reason = read_bytes(msg, &mut pos)
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            match (target, sub) {
                (Target::Hocuspocus, 2) => Incoming::AuthOk,
                (Target::Hocuspocus, _) | (_, 0) => Incoming::Denied(reason),
                _ => Incoming::Other(2),
            }
        }
        8 if target == Target::Hocuspocus => Incoming::SyncStatus,
        other => Incoming::Other(other),
    })
}

// ---- markers

/// `#E<editor>.<k>.<µs>;`
pub fn marker(editor: usize, k: u64, us: u64) -> String {
    format!("#E{editor}.{k}.{us};")
}

fn digits(data: &[u8], pos: &mut usize, end: u8) -> Option<u64> {
    let start = *pos;
    let mut v: u64 = 0;
    while let Some(&b) = data.get(*pos) {
        if b.is_ascii_digit() {
            v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
            *pos += 1;
        } else {
            break;
        }
    }
    if *pos == start || *pos - start > 19 || data.get(*pos) != Some(&end) {
        return None;
    }
    *pos += 1;
    Some(v)
}

/// Every marker in these bytes (an update: its strings are there verbatim), in order:
/// (editor, insert number, µs).
pub fn markers(data: &[u8]) -> Vec<(usize, u64, u64)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 1 < data.len() {
        if data[i] == b'#' && data[i + 1] == b'E' {
            let mut pos = i + 2;
            let parsed = (|| {
                let e = digits(data, &mut pos, b'.')?;
                let k = digits(data, &mut pos, b'.')?;
                let us = digits(data, &mut pos, b';')?;
                Some((e as usize, k, us))
            })();
            if let Some(m) = parsed {
                out.push(m);
                i = pos;
                continue;
            }
        }
        i += 1;
    }
    out
}

// ---- the client

/// What a frame from the server brought.
pub enum Got<'a> {
    /// The server's sync step 2 (what we lacked): the first sync is done.
    Synced(&'a [u8]),
    /// An update relayed from another client.
    Update(&'a [u8]),
    /// Anything else (answered already if it needed an answer).
    Nothing,
}

/// What reading the socket gave.
pub enum Frame {
    Binary(tokio_tungstenite::tungstenite::Bytes),
    /// The connection ended: the close code, if a close frame came.
    Closed(Option<u16>),
    Other,
}

fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(16 * 1024)
        .write_buffer_size(0)
        .max_message_size(Some(64 << 20))
        .max_frame_size(Some(64 << 20))
}

/// One y-websocket connection and its `Doc`, with one root `Y.Text` written to.
pub struct YClient {
    target: Target,
    /// Hocuspocus's document name (the frames' prefix).
    hp_doc: String,
    pub doc: Doc,
    pub text: yrs::TextRef,
    sink: SplitSink<WsStream, Ws>,
    stream: SplitStream<WsStream>,
    /// Binary frames received.
    pub frames: u64,
    /// Hocuspocus's sync-status acknowledgments.
    pub acks: u64,
    /// Permission-denied messages, with their reasons.
    pub denied: Vec<String>,
    /// Unreadable frames, updates that do not decode or apply.
    pub errors: Vec<String>,
}

impl YClient {
    /// Connect to `url` (sending Hocuspocus's auth first) and send our sync step 1; the sync
    /// completes with [`YClient::sync`].
    pub async fn open(url: &str, target: Target, hp_doc: &str, text: &str) -> Result<YClient> {
        let (ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(ws_config()), true)
            .await
            .context("connect")?;
        let (sink, stream) = ws.split();
        let doc = Doc::new();
        let text = doc.get_or_insert_text(text);
        let mut y = YClient {
            target,
            hp_doc: hp_doc.to_string(),
            doc,
            text,
            sink,
            stream,
            frames: 0,
            acks: 0,
            denied: Vec::new(),
            errors: Vec::new(),
        };
        if target == Target::Hocuspocus {
            // Auth first (any token: the reference server has no onAuthenticate hook).
            let mut auth = Vec::new();
            write_var(&mut auth, 2);
            write_var(&mut auth, 0);
            write_var(&mut auth, 0);
            let f = Ws::binary(hp_wrap(hp_doc, &auth));
            y.sink.send(f).await.map_err(|e| anyhow!("auth: {e}"))?;
        }
        let sv = y.doc.transact().state_vector();
        y.send(&Message::Sync(SyncMessage::SyncStep1(sv))).await?;
        Ok(y)
    }

    /// Wait (at most `within`) for the server's sync step 2, and apply it.
    pub async fn sync(&mut self, within: Duration) -> Result<()> {
        let synced = async {
            loop {
                match self.next().await {
                    Frame::Binary(data) => {
                        if let Got::Synced(u) = self.handle(&data).await? {
                            self.apply(u);
                            return Ok::<(), anyhow::Error>(());
                        }
                    }
                    Frame::Closed(code) => bail!("closed before sync: {code:?}"),
                    Frame::Other => {}
                }
            }
        };
        tokio::time::timeout(within, synced)
            .await
            .map_err(|_| anyhow!("no sync step 2 within {within:?}"))?
    }

    fn frame(&self, msg: &Message) -> Ws {
        let bytes = msg.encode_v1();
        match self.target {
            Target::Hocuspocus => Ws::binary(hp_wrap(&self.hp_doc, &bytes)),
            _ => Ws::binary(bytes),
        }
    }

    async fn send(&mut self, msg: &Message) -> Result<()> {
        let f = self.frame(msg);
        self.sink.send(f).await.map_err(|e| anyhow!("send: {e}"))
    }

    /// The next frame from the server.
    pub async fn next(&mut self) -> Frame {
        match self.stream.next().await {
            Some(Ok(Ws::Binary(data))) => Frame::Binary(data),
            Some(Ok(Ws::Close(f))) => Frame::Closed(f.map(|f| u16::from(f.code))),
            Some(Ok(_)) => Frame::Other,
            Some(Err(_)) | None => Frame::Closed(None),
        }
    }

    /// One frame from the server: a step 1 is answered with our step 2; a step 2 or an update
    /// is returned (to be applied with [`YClient::apply`], once the caller has read it).
    pub async fn handle<'a>(&mut self, frame: &'a [u8]) -> Result<Got<'a>> {
        self.frames += 1;
        let msg = match self.target {
            Target::Hocuspocus => match hp_unwrap(&self.hp_doc, frame) {
                Some(m) => m,
                None => {
                    self.errors.push("a frame for another document".into());
                    return Ok(Got::Nothing);
                }
            },
            _ => frame,
        };
        let Some(parsed) = parse(self.target, msg) else {
            self.errors
                .push(format!("unreadable frame of {} bytes", frame.len()));
            return Ok(Got::Nothing);
        };
        match parsed {
            Incoming::Step1(sv) => {
                let sv = StateVector::decode_v1(sv).map_err(|e| anyhow!("step 1: {e}"))?;
                let update = self.doc.transact().encode_state_as_update_v1(&sv);
                self.send(&Message::Sync(SyncMessage::SyncStep2(update)))
                    .await?;
            }
            Incoming::Step2(u) => return Ok(Got::Synced(u)),
            Incoming::Update(u) => return Ok(Got::Update(u)),
            Incoming::SyncStatus => self.acks += 1,
            Incoming::Denied(reason) => self.denied.push(reason),
            Incoming::Awareness | Incoming::AuthOk | Incoming::Other(_) => {}
        }
        Ok(Got::Nothing)
    }

    /// Apply an update from the server to the `Doc`.
    pub fn apply(&mut self, u: &[u8]) {
        match Update::decode_v1(u) {
            Ok(update) => {
                if let Err(e) = self.doc.transact_mut().apply_update(update) {
                    self.errors.push(format!("update does not apply: {e}"));
                }
            }
            Err(e) => self.errors.push(format!("update does not decode: {e}")),
        }
    }

    /// Append `s` to the text and send it as a sync update.
    pub async fn push(&mut self, s: &str) -> Result<()> {
        let update = {
            let mut txn = self.doc.transact_mut();
            self.text.push(&mut txn, s);
            txn.encode_update_v1()
        };
        self.send(&Message::Sync(SyncMessage::Update(update))).await
    }

    /// The text as this client's `Doc` holds it now.
    pub fn text(&self) -> String {
        self.text.get_string(&self.doc.transact())
    }

    /// Close normally (bounded in time).
    pub async fn close(&mut self) {
        let _ = tokio::time::timeout(
            Duration::from_secs(2),
            self.sink.send(Ws::Close(Some(CloseFrame {
                code: CloseCode::Normal,
                reason: "load test done".into(),
            }))),
        )
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_read_from_update_bytes() {
        let doc = Doc::new();
        let text = doc.get_or_insert_text("t");
        let update = {
            let mut txn = doc.transact_mut();
            text.push(&mut txn, &marker(3, 17, 123456));
            text.push(&mut txn, &marker(4, 0, 9));
            txn.encode_update_v1()
        };
        assert_eq!(markers(&update), vec![(3, 17, 123456), (4, 0, 9)]);
        assert_eq!(markers(b"#E1.2;#E#E5.6.7;x"), vec![(5, 6, 7)]);
    }

    #[test]
    fn hocuspocus_frames_carry_the_document_name() {
        let msg = Message::Sync(SyncMessage::Update(vec![1, 2, 3])).encode_v1();
        let f = hp_wrap("doc-1", &msg);
        assert_eq!(f[0], 5);
        assert_eq!(hp_unwrap("doc-1", &f), Some(&msg[..]));
        assert_eq!(hp_unwrap("doc-2", &f), None);
        assert_eq!(
            parse(Target::Hocuspocus, &[4, 2, 1, 9]),
            Some(Incoming::Update(&[9]))
        );
        assert_eq!(
            parse(Target::Hocuspocus, &[8, 1]),
            Some(Incoming::SyncStatus)
        );
        assert_eq!(
            parse(Target::Hocuspocus, &[2, 2, 2, b'r', b'w']),
            Some(Incoming::AuthOk)
        );
        assert_eq!(
            parse(Target::Convene, &[2, 0, 1, b'x']),
            Some(Incoming::Denied("x".into()))
        );
    }
}
