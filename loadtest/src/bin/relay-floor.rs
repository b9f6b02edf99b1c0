//! `relay-floor`: the least a y-websocket server can do, to measure the floor under the
//! drafting benchmark (docs/bench/drafting.md, "The floor").
//!
//! It speaks just enough of y-protocols for `convene-loadtest drafting --target ywss`: on
//! connect it sends an empty sync step 1, answers a client's step 1 with an empty step 2, and
//! relays every sync update frame, byte for byte, to the other connections of the same URL
//! path. No document is kept, nothing is decoded, nothing is checked, nobody is
//! authenticated: it is not a server anyone should run, only the cost that every real one
//! pays on top of its own work: a WebSocket read per update and a WebSocket write per
//! delivery, on one thread (no cross-thread wake-ups).
//!
//! With `--durable DIR` each update is written to a log file in DIR and `fdatasync`ed before
//! it is relayed: the floor of a server that, like convene, makes an update durable before
//! anyone else receives it. The log is the cheapest a durable log can be on a journaling file
//! system: 64 MiB written with zeros and synced at start, then overwritten in place (a ring),
//! so that a sync flushes the data and never has file metadata (size, extents) to journal.
//!
//!   relay-floor PORT [--durable DIR]    (prints "listening on PORT" when ready)

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::rc::Rc;

use anyhow::{Context, Result};
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::{Bytes, Message};

#[derive(Parser)]
struct Args {
    /// Port to listen on (127.0.0.1).
    port: u16,
    /// Append and fdatasync every update to a file in this directory before relaying it.
    #[arg(long)]
    durable: Option<PathBuf>,
}

/// Connections of one path: an id and the queue its writer drains.
type Room = Vec<(u64, mpsc::UnboundedSender<Bytes>)>;

struct Floor {
    rooms: RefCell<HashMap<String, Room>>,
    log: Option<RefCell<Log>>,
}

/// The ring the durable floor writes: a file of `RING` bytes, written and synced once.
struct Log {
    file: File,
    at: u64,
}

const RING: u64 = 64 << 20;

impl Log {
    fn create(dir: &std::path::Path) -> std::io::Result<Log> {
        let mut file = File::create(dir.join("floor.log"))?;
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..RING >> 20 {
            file.write_all(&zeros)?;
        }
        file.sync_all()?;
        file.seek(SeekFrom::Start(0))?;
        Ok(Log { file, at: 0 })
    }

    /// Write `data` (wrapping to the start when the ring is full) and wait until it is on disk.
    fn append(&mut self, data: &[u8]) -> std::io::Result<()> {
        if self.at + data.len() as u64 > RING {
            self.file.seek(SeekFrom::Start(0))?;
            self.at = 0;
        }
        self.file.write_all(data)?;
        self.at += data.len() as u64;
        self.file.sync_data()
    }
}

/// Sync step 1 with an empty state vector, and step 2 with an empty update.
const STEP1: [u8; 4] = [0, 0, 1, 0];
const STEP2: [u8; 5] = [0, 1, 2, 0, 0];

fn main() -> Result<()> {
    let args = Args::parse();
    let log = match &args.durable {
        Some(dir) => Some(RefCell::new(Log::create(dir).context("--durable")?)),
        None => None,
    };
    let floor = Rc::new(Floor {
        rooms: RefCell::default(),
        log,
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let listener = TcpListener::bind(("127.0.0.1", args.port)).await?;
        println!("listening on {}", args.port);
        let mut next = 0u64;
        loop {
            let (tcp, _) = listener.accept().await?;
            tcp.set_nodelay(true)?;
            next += 1;
            tokio::task::spawn_local(connection(floor.clone(), tcp, next));
        }
    })
}

// The handshake callback's `Result` type is tungstenite's (its error is an HTTP response).
#[allow(clippy::result_large_err)]
async fn connection(floor: Rc<Floor>, tcp: TcpStream, id: u64) {
    let mut path = String::new();
    let ws = tokio_tungstenite::accept_hdr_async(tcp, |req: &Request, res: Response| {
        path = req.uri().path().to_string();
        Ok(res)
    })
    .await;
    let Ok(ws) = ws else { return };
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Bytes>();
    floor
        .rooms
        .borrow_mut()
        .entry(path.clone())
        .or_default()
        .push((id, tx.clone()));
    let _ = tx.send(Bytes::from_static(&STEP1));
    // The writer: whatever is queued goes out, flushed when the queue is empty.
    let writer = tokio::task::spawn_local(async move {
        while let Some(b) = rx.recv().await {
            if sink.feed(Message::Binary(b)).await.is_err() {
                return;
            }
            while let Ok(b) = rx.try_recv() {
                if sink.feed(Message::Binary(b)).await.is_err() {
                    return;
                }
            }
            if sink.flush().await.is_err() {
                return;
            }
        }
    });
    while let Some(Ok(msg)) = stream.next().await {
        let Message::Binary(data) = msg else { continue };
        match data.get(..2) {
            Some([0, 0]) => {
                let _ = tx.send(Bytes::from_static(&STEP2));
            }
            Some([0, 2]) => {
                if let Some(log) = &floor.log {
                    if log.borrow_mut().append(&data).is_err() {
                        break;
                    }
                }
                if let Some(room) = floor.rooms.borrow().get(&path) {
                    for (other, q) in room {
                        if *other != id {
                            let _ = q.send(data.clone());
                        }
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(room) = floor.rooms.borrow_mut().get_mut(&path) {
        room.retain(|(other, _)| *other != id);
    }
    drop(tx);
    let _ = writer.await;
}
