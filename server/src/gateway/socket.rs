//! The WebSocket upgrade, done with tokio-tungstenite directly instead of axum's wrapper, so
//! that a large message can leave as several small frames. tungstenite formats every frame
//! into one write buffer, a `Vec` that keeps the capacity of the largest frame it ever held:
//! a welcome of 30 KiB sent as one frame would stay 30 KiB of every connection's memory for
//! its whole life. Sent as frames of at most `FRAGMENT` bytes, the buffer stays small.

use std::future::Future;

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;

pub use tokio_tungstenite::tungstenite::protocol::CloseFrame;
pub use tokio_tungstenite::tungstenite::{Bytes, Message, Utf8Bytes};

/// An upgraded connection.
pub type Socket = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

/// Largest frame the server writes; longer messages are sent in fragments of this size.
pub const FRAGMENT: usize = 2 * 1024;

/// Why a request is not a WebSocket upgrade.
#[derive(Debug, thiserror::Error)]
pub enum NotAnUpgrade {
    #[error("a WebSocket upgrade must be a GET")]
    Method,
    #[error("expected a WebSocket upgrade (Connection: upgrade, Upgrade: websocket)")]
    Headers,
    #[error("missing Sec-WebSocket-Key")]
    Key,
    #[error("only WebSocket version 13 is spoken")]
    Version,
    #[error("this connection cannot be upgraded")]
    NotUpgradable,
}

impl IntoResponse for NotAnUpgrade {
    fn into_response(self) -> Response {
        let status = match self {
            NotAnUpgrade::Method => StatusCode::METHOD_NOT_ALLOWED,
            NotAnUpgrade::Version => StatusCode::UPGRADE_REQUIRED,
            NotAnUpgrade::NotUpgradable => StatusCode::UPGRADE_REQUIRED,
            NotAnUpgrade::Headers | NotAnUpgrade::Key => StatusCode::BAD_REQUEST,
        };
        (status, self.to_string()).into_response()
    }
}

/// An HTTP/1.1 WebSocket upgrade request (RFC 6455, section 4.2.1), as an axum extractor.
pub struct Upgrade {
    key: HeaderValue,
    on_upgrade: hyper::upgrade::OnUpgrade,
}

fn header_has(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.to_str().is_ok_and(|v| {
            v.split(',')
                .any(|part| part.trim().eq_ignore_ascii_case(token))
        })
    })
}

impl<S: Send + Sync> FromRequestParts<S> for Upgrade {
    type Rejection = NotAnUpgrade;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if parts.method != Method::GET {
            return Err(NotAnUpgrade::Method);
        }
        if !header_has(&parts.headers, header::CONNECTION, "upgrade")
            || !header_has(&parts.headers, header::UPGRADE, "websocket")
        {
            return Err(NotAnUpgrade::Headers);
        }
        if parts
            .headers
            .get(header::SEC_WEBSOCKET_VERSION)
            .is_none_or(|v| v.as_bytes() != b"13")
        {
            return Err(NotAnUpgrade::Version);
        }
        let key = parts
            .headers
            .get(header::SEC_WEBSOCKET_KEY)
            .cloned()
            .ok_or(NotAnUpgrade::Key)?;
        let on_upgrade = parts
            .extensions
            .remove::<hyper::upgrade::OnUpgrade>()
            .ok_or(NotAnUpgrade::NotUpgradable)?;
        Ok(Upgrade { key, on_upgrade })
    }
}

impl Upgrade {
    /// Answer 101 and run `callback` on the socket once the connection is switched.
    pub fn on_upgrade<C, Fut>(self, config: WebSocketConfig, callback: C) -> Response
    where
        C: FnOnce(Socket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let accept = derive_accept_key(self.key.as_bytes());
        let on_upgrade = self.on_upgrade;
        tokio::spawn(async move {
            let Ok(upgraded) = on_upgrade.await else {
                return; // the client went away during the handshake
            };
            let socket = WebSocketStream::from_raw_socket(
                TokioIo::new(upgraded),
                Role::Server,
                Some(config),
            )
            .await;
            callback(socket).await;
        });
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        if let Ok(v) = HeaderValue::from_str(&accept) {
            headers.insert(header::SEC_WEBSOCKET_ACCEPT, v);
        }
        response
    }
}

/// The close that a read error calls for (RFC 6455, section 7.4.1): a frame that breaks the
/// protocol (unmasked, reserved bits, bad opcode or length) 1002, a text frame that is not
/// UTF-8 1007, a frame or message over the endpoint's limit `too_large`. `None` when the
/// connection is simply gone (nothing can be sent).
pub fn close_for(
    e: &tungstenite::Error,
    too_large: (u16, &'static str),
) -> Option<(u16, &'static str)> {
    match e {
        tungstenite::Error::Capacity(_) => Some(too_large),
        tungstenite::Error::Protocol(p) => match p {
            // The peer is gone without a close: nobody to tell.
            tungstenite::error::ProtocolError::ResetWithoutClosingHandshake
            | tungstenite::error::ProtocolError::SendAfterClosing
            | tungstenite::error::ProtocolError::ReceivedAfterClosing => None,
            _ => Some((
                convene_protocol::close::PROTOCOL_ERROR,
                "WebSocket protocol error",
            )),
        },
        tungstenite::Error::Utf8(_) => Some((
            convene_protocol::close::INVALID_PAYLOAD,
            "text frame is not UTF-8",
        )),
        _ => None,
    }
}

/// What an endpoint reads, after a close, before the socket is dropped: more than a peer
/// within the endpoint's limits can send in the time the read-on lasts (its burst and rate
/// for that time, frames of its largest size); a peer that floods instead is cut there.
#[derive(Clone, Copy, Debug)]
pub struct ReadOn {
    pub bytes: usize,
    /// (Empty frames weigh nothing in bytes.)
    pub frames: usize,
}

impl ReadOn {
    /// Twice the frames a client within its rate limit sends in `within`: its `burst`,
    /// `rate` per second, and the `forgiven` ones over the limit before it is closed.
    pub const fn frames_within(
        burst: f64,
        rate: f64,
        forgiven: usize,
        within: std::time::Duration,
    ) -> usize {
        2 * ((burst + rate * within.as_secs_f64()) as usize + forgiven)
    }
}

/// Read on until the stream ends (at most `within` and `budget`), discarding what comes.
/// When the peer sent its Close, this lets tungstenite write the answering Close (it writes
/// it on the next read) before the socket goes: without it, a browser reports every close it
/// starts as 1006. When the server closed, it waits for the peer's answer: a socket dropped
/// with bytes from the peer still unread is reset, and the peer loses what was sent before,
/// the close too.
pub async fn answer_close<S, E>(stream: &mut S, within: std::time::Duration, budget: ReadOn)
where
    S: futures_util::Stream<Item = Result<Message, E>> + Unpin,
{
    use futures_util::StreamExt;
    let _ = tokio::time::timeout(within, async {
        let (mut bytes, mut frames) = (0, 0);
        while let Some(read) = stream.next().await {
            bytes += read.map_or(0, |m| m.len());
            frames += 1;
            if bytes > budget.bytes || frames > budget.frames {
                return;
            }
        }
    })
    .await;
}

/// The socket settings: small read and write buffers (most connections are idle), and the
/// largest message and frame a client may send.
pub fn config(read_buffer: usize, write_buffer: usize, max_message: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(read_buffer)
        .write_buffer_size(write_buffer)
        .max_message_size(Some(max_message))
        .max_frame_size(Some(max_message))
}

/// Whether `message` leaves in several frames (`frames`): most do not, and need no list.
pub fn is_long(message: &Message) -> bool {
    match message {
        Message::Text(t) => t.len() > FRAGMENT,
        Message::Binary(b) => b.len() > FRAGMENT,
        _ => false,
    }
}

/// A text or binary message as frames of at most `FRAGMENT` bytes (RFC 6455, section 5.4):
/// one frame when it is short, else a first frame and continuations. The bytes are shared,
/// not copied.
pub fn frames(message: Message) -> Vec<Message> {
    let (data, kind): (Bytes, Data) = match message {
        Message::Text(t) if t.len() > FRAGMENT => (Bytes::from(t), Data::Text),
        Message::Binary(b) if b.len() > FRAGMENT => (b, Data::Binary),
        other => return vec![other],
    };
    let mut out = Vec::with_capacity(data.len().div_ceil(FRAGMENT));
    let mut start = 0;
    while start < data.len() {
        let end = (start + FRAGMENT).min(data.len());
        let opcode = if start == 0 {
            OpCode::Data(kind)
        } else {
            OpCode::Data(Data::Continue)
        };
        out.push(Message::Frame(Frame::message(
            data.slice(start..end),
            opcode,
            end == data.len(),
        )));
        start = end;
    }
    out
}

/// A token bucket, the rate budget of one connection: `burst` messages at once, refilled at
/// `per_sec` (ten lines do not deserve a crate).
pub struct TokenBucket {
    tokens: f64,
    last: tokio::time::Instant,
    per_sec: f64,
    burst: f64,
}

impl TokenBucket {
    /// Full.
    pub fn new(per_sec: f64, burst: f64) -> Self {
        TokenBucket {
            tokens: burst,
            last: tokio::time::Instant::now(),
            per_sec,
            burst,
        }
    }

    /// Take a token if there is one (what came in since the last take is counted first).
    pub fn take(&mut self) -> bool {
        self.take_n(1.0)
    }

    /// Take `n` tokens at once if there are as many (a budget in bytes: one per byte).
    pub fn take_n(&mut self, n: f64) -> bool {
        let now = tokio::time::Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64() * self.per_sec)
            .min(self.burst);
        self.last = now;
        if self.tokens < n {
            return false;
        }
        self.tokens -= n;
        true
    }

    /// Refilled to its burst: it remembers nothing a new bucket would not.
    fn is_full(&self) -> bool {
        self.tokens + self.last.elapsed().as_secs_f64() * self.per_sec >= self.burst
    }
}

/// The same budget for each of many keys (a participant, an invitation): one token bucket
/// per key, made full on first use. Past `keep` keys, those whose bucket has refilled are
/// forgotten (they remember nothing), so the map holds no more than the keys that used
/// their budget lately. Every per-person rate of the server is one of these: welcomes and
/// visits (`live::actor`), document connections (`docs::actor`), HTTP requests
/// (`gateway::api`), diffs (`gateway::documents`).
pub struct Budgets<K> {
    buckets: std::collections::HashMap<K, TokenBucket>,
    per_sec: f64,
    burst: f64,
    keep: usize,
}

impl<K: std::hash::Hash + Eq> Budgets<K> {
    /// `burst` at once, then `per_sec`, for each key.
    pub fn new(per_sec: f64, burst: f64, keep: usize) -> Self {
        Budgets {
            buckets: std::collections::HashMap::new(),
            per_sec,
            burst,
            keep,
        }
    }

    /// Take one of `key`'s tokens, if it has one.
    pub fn take(&mut self, key: K) -> bool {
        self.take_n(key, 1.0)
    }

    /// Take `n` of `key`'s tokens at once, if it has as many.
    pub fn take_n(&mut self, key: K, n: f64) -> bool {
        if self.buckets.len() >= self.keep {
            self.buckets.retain(|_, b| !b.is_full());
            // Still as many (all used lately): not again before twice as many.
            self.keep = self.keep.max(2 * self.buckets.len());
        }
        let (per_sec, burst) = (self.per_sec, self.burst);
        self.buckets
            .entry(key)
            .or_insert_with(|| TokenBucket::new(per_sec, burst))
            .take_n(n)
    }

    /// Forget `key`'s bucket (its token is gone: a deleted convention's).
    pub fn forget(&mut self, key: &K) {
        self.buckets.remove(key);
    }

    /// Take one of `key`'s tokens if `key` has a bucket (it used its budget lately): whether
    /// it had one. `None` when it has none: nothing is made for it, so a key that may be
    /// made up (an unknown token) holds no memory until `take` is called for it.
    pub fn take_known(&mut self, key: &K) -> Option<bool> {
        self.buckets.get_mut(key).map(TokenBucket::take)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_key_is_counted_at_once_and_an_unknown_one_holds_nothing() {
        let mut budgets = Budgets::new(0.001, 3.0, 16);
        assert_eq!(budgets.take_known(&"made-up"), None);
        assert!(budgets.buckets.is_empty(), "an unknown key made a bucket");
        assert!(budgets.take("known"));
        // Its two other tokens, then refused: each check also counts.
        assert_eq!(budgets.take_known(&"known"), Some(true));
        assert_eq!(budgets.take_known(&"known"), Some(true));
        assert_eq!(budgets.take_known(&"known"), Some(false));
        assert!(!budgets.take("known"));
        assert_eq!(budgets.take_known(&"made-up"), None);
    }

    #[test]
    fn a_long_message_leaves_as_fragments_that_join_up_to_it() {
        let text: String = "Avis citoyen — proposition n° 1. ".repeat(200);
        let parts = frames(Message::Text(text.clone().into()));
        assert_eq!(parts.len(), text.len().div_ceil(FRAGMENT));
        let mut joined = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            let Message::Frame(f) = part else {
                panic!("part {i} is not a frame")
            };
            assert!(f.payload().len() <= FRAGMENT);
            let expected = if i == 0 {
                OpCode::Data(Data::Text)
            } else {
                OpCode::Data(Data::Continue)
            };
            assert_eq!(f.header().opcode, expected);
            assert_eq!(f.header().is_final, i == parts.len() - 1);
            joined.extend_from_slice(f.payload());
        }
        assert_eq!(joined, text.as_bytes());
        // Short messages, and control messages, go as they are.
        let short = Message::Text("bonjour".into());
        assert_eq!(frames(short.clone()), vec![short]);
        let binary = Message::Binary(Bytes::from(vec![7u8; FRAGMENT]));
        assert_eq!(frames(binary.clone()), vec![binary]);
        let parts = frames(Message::Binary(Bytes::from(vec![7u8; FRAGMENT + 1])));
        assert_eq!(parts.len(), 2);
    }
}
