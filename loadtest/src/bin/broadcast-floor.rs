//! `broadcast-floor`: the bare axum broadcast server, to measure the floor under convene's
//! fan-out (docs/bench/fanout.md; issue #16's goal "Fan-out: server CPU per delivery within
//! 1.2x of the bare axum broadcast server measured in the same run").
//!
//! Every text frame a connection sends is sent, byte for byte, to every connection of the
//! same URL path, the sender included (as convene sends a broadcast's event to its sender
//! too). Nothing else: no authentication, no JSON parsing, no log, no sequence numbers, no
//! rate limit, no slow-consumer policy beyond a bounded queue whose overflow is dropped. It is
//! not a server anyone should run, only what any broadcast server built the usual way pays per
//! delivery: axum's own WebSocket (`axum::extract::ws`, default settings), a multi-threaded
//! tokio runtime with one worker per core (as `convene serve` has), `TCP_NODELAY` (as convene
//! sets), and per connection a bounded mpsc queue drained by a writer task that writes
//! whatever is queued and flushes once (as convene's writer does).
//!
//! Driven by `convene-loadtest plenary --target floor` (bench/fanout.sh).
//!
//!   broadcast-floor PORT    (prints "listening on PORT" when ready; 127.0.0.1 only)

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Result;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;

#[derive(Parser)]
struct Args {
    /// Port to listen on (127.0.0.1).
    port: u16,
}

/// Frames waiting for one connection's writer: a reader slower than this loses frames (the
/// load tester reports them missing). Convene's own bound is 1,024 frames too.
const QUEUE: usize = 1024;

/// The connections of one path: an id and the queue its writer drains.
type Room = Vec<(u64, mpsc::Sender<Utf8Bytes>)>;

#[derive(Default)]
struct Floor {
    rooms: Mutex<HashMap<String, Room>>,
    next: AtomicU64,
}

fn main() -> Result<()> {
    let args = Args::parse();
    // `Runtime::new()`: multi-threaded, one worker per core, as `convene serve`.
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let floor = Arc::new(Floor::default());
        let app = Router::new().fallback(get(upgrade)).with_state(floor);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
            .await?
            .tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
        println!("listening on {}", args.port);
        axum::serve(listener, app).await?;
        Ok(())
    })
}

async fn upgrade(ws: WebSocketUpgrade, uri: Uri, State(floor): State<Arc<Floor>>) -> Response {
    let path = uri.path().to_string();
    ws.on_upgrade(move |socket| connection(floor, socket, path))
}

async fn connection(floor: Arc<Floor>, socket: WebSocket, path: String) {
    let id = floor.next.fetch_add(1, Ordering::Relaxed);
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::channel::<Utf8Bytes>(QUEUE);
    floor
        .rooms
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(path.clone())
        .or_default()
        .push((id, tx));
    // The writer: whatever is queued goes out, flushed once when the queue is empty.
    let writer = tokio::spawn(async move {
        while let Some(t) = rx.recv().await {
            if sink.feed(Message::Text(t)).await.is_err() {
                return;
            }
            while let Ok(t) = rx.try_recv() {
                if sink.feed(Message::Text(t)).await.is_err() {
                    return;
                }
            }
            if sink.flush().await.is_err() {
                return;
            }
        }
    });
    // The reader: each text frame to every queue of the path.
    while let Some(Ok(msg)) = stream.next().await {
        let Message::Text(text) = msg else {
            if matches!(msg, Message::Close(_)) {
                break;
            }
            continue;
        };
        let rooms = floor.rooms.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(room) = rooms.get(&path) {
            for (_, q) in room {
                let _ = q.try_send(text.clone());
            }
        }
    }
    {
        let mut rooms = floor.rooms.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(room) = rooms.get_mut(&path) {
            room.retain(|(other, _)| *other != id);
            if room.is_empty() {
                rooms.remove(&path);
            }
        }
    }
    // Its queue's sender is gone with the room entry: the writer ends.
    let _ = writer.await;
}
