//! A connection's outbound queue, bounded in frames and in bytes: the one mechanism behind
//! every socket's "slow consumer" close (`/ws` and `/doc`). A count of frames alone does not
//! bound memory: a reader that never reads could hold 1,024 frames of a megabyte each. The
//! sender side answers at once (`Refused::Full`, `Refused::Closed`), so a task never waits
//! for a connection; a full queue means the connection is closed and resyncs.
//!
//! **Written at once when nothing waits.** A frame sent to a connection whose writer has
//! nothing in hand (nothing queued, nothing unflushed) is written by the sender itself if
//! the socket takes it without waiting: no task to wake, no queue, no thread woken to write
//! one frame (docs/bench/fanout.md: that was most of what convene paid above a bare
//! broadcast server). Otherwise, or for a long frame, it is queued for the writer, which
//! writes the queue in order; a frame is never written ahead of one queued before it.
//!
//! The same queue carries what else the writer does: a ping now and then, the close (slow
//! consumer, revoked invitation, shutdown, bye), and the flush of a frame written at once
//! that the socket did not take whole. A close is not a queued item: it must pass a full
//! queue. It is set aside (the first one wins) and the writer looks at it each time it wakes.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};

use futures_util::Sink;
use tokio::sync::mpsc;

use super::socket::{self, Message};

/// What a queued item weighs: the bytes it keeps alive until written.
pub trait Weigh {
    fn weight(&self) -> usize;
}

impl Weigh for tungstenite::Bytes {
    fn weight(&self) -> usize {
        self.len()
    }
}

impl Weigh for tungstenite::Utf8Bytes {
    fn weight(&self) -> usize {
        self.len()
    }
}

/// A close: its code and reason.
pub type Close = (u16, &'static str);

/// Why a frame was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Over the frame count or the byte budget: the reader is too slow.
    Full,
    /// The connection is gone.
    Closed,
}

/// What travels in the queue.
enum Item<T> {
    Frame(T),
    Ping,
    /// Look at the close set aside.
    Wake,
    /// A frame written at once is not all out: the writer finishes it.
    Flush,
}

/// What the writer is to do next.
#[derive(Debug, PartialEq)]
pub enum Next<T> {
    Frame(T),
    Ping,
    /// Flush what the socket holds.
    Flush,
    /// Close with this code (`None`: every sender is gone without a word; the socket just
    /// ends).
    Close(Option<Close>),
}

/// A socket's sending half: the upgraded connection's (or a test's), boxed once per
/// connection.
type SocketSink = Pin<Box<dyn Sink<Message, Error = tungstenite::Error> + Send>>;

/// The socket's sending half, shared by the writer and whoever writes at once.
struct Writing {
    sink: SocketSink,
    /// Something is in hand: a batch the writer is writing or a flush not finished. Nobody
    /// else writes meanwhile (they would overtake it, and replace the writer's waker).
    busy: bool,
}

/// The budget shared by both ends of one queue, the close set aside, and the socket.
struct Shared<T> {
    /// Bytes of the small frames queued.
    small: AtomicUsize,
    /// Bytes of the large frames queued.
    large: AtomicUsize,
    bytes: usize,
    close: OnceLock<Close>,
    /// Frames queued and not yet written: while there are any, a frame is queued behind them.
    queued: AtomicUsize,
    /// Frames written at once (tests look at it).
    #[cfg(test)]
    at_once: AtomicUsize,
    /// Set by the writer when it starts, emptied when it ends.
    socket: Mutex<Option<Writing>>,
    /// The WebSocket message a frame is sent as (text on `/ws`, binary on `/doc`).
    message: fn(T) -> Message,
}

impl<T> Shared<T> {
    /// A frame over a quarter of the budget is "large": a whole document's sync answer, a
    /// large snapshot, a long paste. Large frames have a budget of their own, of the same
    /// size, which the first one may pass alone: an honest client that asks for a 16 MiB
    /// document once is served, while one that asks for a 1 MiB document again and again
    /// and never reads is closed after a few.
    fn is_large(&self, weight: usize) -> bool {
        weight > self.bytes / 4
    }

    fn take(&self, weight: usize) -> bool {
        if self.is_large(weight) {
            return self
                .large
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
                    (queued == 0 || queued + weight <= self.bytes).then_some(queued + weight)
                })
                .is_ok();
        }
        self.small
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
                (queued + weight <= self.bytes).then_some(queued + weight)
            })
            .is_ok()
    }

    fn give_back(&self, weight: usize) {
        let counter = if self.is_large(weight) {
            &self.large
        } else {
            &self.small
        };
        counter.fetch_sub(weight, Ordering::AcqRel);
    }

    fn socket(&self) -> std::sync::MutexGuard<'_, Option<Writing>> {
        self.socket.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The sending side: cheap to clone (a channel sender and a shared counter).
pub struct Outbox<T> {
    tx: mpsc::Sender<Item<T>>,
    shared: Arc<Shared<T>>,
}

impl<T> Clone for Outbox<T> {
    fn clone(&self) -> Self {
        Outbox {
            tx: self.tx.clone(),
            shared: self.shared.clone(),
        }
    }
}

/// The receiving side, read by the connection's writer.
pub struct OutboxReceiver<T> {
    rx: mpsc::Receiver<Item<T>>,
    shared: Arc<Shared<T>>,
    /// The frame that came with the news of a close: the first of those still to write.
    held: Option<T>,
}

/// A queue of at most `frames` frames, `bytes` bytes of small frames and `bytes` bytes of
/// large ones, or one large frame of any size (see `Shared::is_large`); each frame leaves
/// as `message(frame)`.
pub fn channel<T: Weigh>(
    frames: usize,
    bytes: usize,
    message: fn(T) -> Message,
) -> (Outbox<T>, OutboxReceiver<T>) {
    let (tx, rx) = mpsc::channel(frames);
    let shared = Arc::new(Shared {
        small: AtomicUsize::new(0),
        large: AtomicUsize::new(0),
        bytes,
        close: OnceLock::new(),
        queued: AtomicUsize::new(0),
        #[cfg(test)]
        at_once: AtomicUsize::new(0),
        socket: Mutex::new(None),
        message,
    });
    (
        Outbox {
            tx,
            shared: shared.clone(),
        },
        OutboxReceiver {
            rx,
            shared,
            held: None,
        },
    )
}

/// How a write at once went.
enum AtOnce<T> {
    Written,
    /// Not now: queue it.
    Queue(T),
    /// The socket is gone (the frame with it).
    Gone,
}

impl<T: Weigh> Outbox<T> {
    /// Send a frame: written at once if nothing waits before it and the socket takes it,
    /// else queued; or say why not.
    pub fn try_send(&self, item: T) -> Result<(), Refused> {
        match self.write_at_once(item) {
            AtOnce::Written => Ok(()),
            AtOnce::Gone => Err(Refused::Closed),
            AtOnce::Queue(item) => self.queue(item),
        }
    }

    /// Queue a frame for the writer (never written at once), or say why not.
    pub fn queue(&self, item: T) -> Result<(), Refused> {
        let weight = item.weight();
        if !self.shared.take(weight) {
            return Err(if self.tx.is_closed() {
                Refused::Closed
            } else {
                Refused::Full
            });
        }
        self.shared.queued.fetch_add(1, Ordering::AcqRel);
        self.tx.try_send(Item::Frame(item)).map_err(|e| {
            self.shared.give_back(weight);
            self.shared.queued.fetch_sub(1, Ordering::AcqRel);
            match e {
                mpsc::error::TrySendError::Full(_) => Refused::Full,
                mpsc::error::TrySendError::Closed(_) => Refused::Closed,
            }
        })
    }

    /// Write `item` now, without waiting for anything (see the module's documentation).
    fn write_at_once(&self, item: T) -> AtOnce<T> {
        let s = &*self.shared;
        // A long frame leaves in fragments: the writer's work. After a close, nothing more.
        // A task out of its cooperative budget gets `Pending` from every socket, and tokio
        // then wakes the waker tokio-tungstenite gave the socket, which wakes the
        // connection's reader and writer for nothing: queue instead (the convention's task
        // fans out unconstrained, see `Actor::run`).
        if item.weight() > socket::FRAGMENT
            || s.queued.load(Ordering::Acquire) != 0
            || s.close.get().is_some()
            || !tokio::task::coop::has_budget_remaining()
        {
            return AtOnce::Queue(item);
        }
        // The writer is at it, or someone else is writing at once: queue.
        let Ok(mut guard) = s.socket.try_lock() else {
            return AtOnce::Queue(item);
        };
        let Some(w) = guard.as_mut() else {
            return AtOnce::Queue(item);
        };
        // Checked again under the lock: the writer takes it to write what it took off the
        // queue, and counts those frames out only once they are written.
        if w.busy || s.queued.load(Ordering::Acquire) != 0 {
            return AtOnce::Queue(item);
        }
        // Nobody is to be woken by this attempt: if the socket cannot take the frame now, the
        // writer is asked to finish, and it waits with its own waker.
        let mut cx = Context::from_waker(Waker::noop());
        let mut sink = w.sink.as_mut();
        match sink.as_mut().poll_ready(&mut cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(_)) => return AtOnce::Gone,
            Poll::Pending => return AtOnce::Queue(item),
        }
        if sink.as_mut().start_send((s.message)(item)).is_err() {
            return AtOnce::Gone;
        }
        #[cfg(test)]
        s.at_once.fetch_add(1, Ordering::Relaxed);
        match sink.poll_flush(&mut cx) {
            Poll::Ready(Ok(())) => AtOnce::Written,
            Poll::Ready(Err(_)) => AtOnce::Gone,
            Poll::Pending => {
                // Taken, not all out: the writer finishes it, and nothing overtakes it.
                w.busy = true;
                drop(guard);
                let _ = self.tx.try_send(Item::Flush);
                AtOnce::Written
            }
        }
    }

    /// Close the connection with `code` and `reason`, after what is queued (all of it, but
    /// for a slow consumer: see `write_frames`). The first close asked for is the one sent;
    /// whether this one was it.
    pub fn close(&self, code: u16, reason: &'static str) -> bool {
        let first = self.shared.close.set((code, reason)).is_ok();
        // A full queue needs no wake-up: its writer is busy and looks at the close next.
        let _ = self.tx.try_send(Item::Wake);
        first
    }

    /// Ask for a WebSocket ping (none if the queue is full: the writer is busy anyway).
    pub fn ping(&self) {
        let _ = self.tx.try_send(Item::Ping);
    }
}

impl<T: Weigh> OutboxReceiver<T> {
    fn closing(&self) -> Option<Close> {
        self.shared.close.get().copied()
    }

    fn unwrap(&mut self, item: Item<T>) -> Option<Next<T>> {
        match item {
            Item::Frame(f) => {
                self.shared.give_back(f.weight());
                Some(Next::Frame(f))
            }
            Item::Ping => Some(Next::Ping),
            Item::Flush => Some(Next::Flush),
            Item::Wake => None,
        }
    }

    /// What to do next: a frame, a ping, a flush, or the close (as soon as one is asked for,
    /// ahead of what is still queued: `try_recv` gives those).
    pub async fn next(&mut self) -> Next<T> {
        loop {
            let Some(item) = self.rx.recv().await else {
                return Next::Close(self.closing());
            };
            if let Some(close) = self.closing() {
                if let Item::Frame(f) = item {
                    self.shared.give_back(f.weight());
                    self.held = Some(f);
                }
                return Next::Close(Some(close));
            }
            if let Some(next) = self.unwrap(item) {
                return next;
            }
        }
    }

    /// What else is queued right now (never a close: `next` says it).
    pub fn try_next(&mut self) -> Option<Next<T>> {
        loop {
            let item = self.rx.try_recv().ok()?;
            if let Some(next) = self.unwrap(item) {
                return Some(next);
            }
        }
    }

    /// The next frame still queued, at the close (pings are of no use any more).
    pub fn try_recv(&mut self) -> Option<T> {
        if let Some(f) = self.held.take() {
            return Some(f);
        }
        loop {
            if let Next::Frame(f) = self.try_next()? {
                return Some(f);
            }
        }
    }

    /// The WebSocket message `frame` leaves as.
    pub fn message(&self, frame: T) -> Message {
        (self.shared.message)(frame)
    }

    /// The writer starts: from now on a frame may be written at once.
    pub fn attach<S>(&self, sink: S)
    where
        S: Sink<Message, Error = tungstenite::Error> + Send + 'static,
    {
        *self.shared.socket() = Some(Writing {
            sink: Box::pin(sink),
            busy: false,
        });
    }

    /// The writer ends: nothing is written any more.
    pub fn detach(&self) {
        self.shared.socket().take();
    }

    /// Write `messages` and flush, waiting for the socket as long as it takes; `frames` of
    /// them came off the queue and are counted out once written. Whether the socket took
    /// them all.
    pub async fn write(&self, messages: &mut VecDeque<Message>, frames: usize) -> bool {
        let shared = &*self.shared;
        poll_fn(|cx| {
            let mut guard = shared.socket();
            let Some(w) = guard.as_mut() else {
                return Poll::Ready(false);
            };
            w.busy = true;
            let mut sink = w.sink.as_mut();
            while !messages.is_empty() {
                match sink.as_mut().poll_ready(cx) {
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(_)) => return Poll::Ready(false),
                    Poll::Pending => return Poll::Pending,
                }
                let Some(m) = messages.pop_front() else { break };
                if sink.as_mut().start_send(m).is_err() {
                    return Poll::Ready(false);
                }
            }
            match sink.poll_flush(cx) {
                Poll::Ready(Ok(())) => {
                    w.busy = false;
                    shared.queued.fetch_sub(frames, Ordering::AcqRel);
                    Poll::Ready(true)
                }
                Poll::Ready(Err(_)) => Poll::Ready(false),
                Poll::Pending => Poll::Pending,
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tungstenite::Bytes;

    fn frame(n: usize) -> Bytes {
        Bytes::from(vec![0u8; n])
    }

    fn len(next: Next<Bytes>) -> usize {
        match next {
            Next::Frame(f) => f.len(),
            other => panic!("a frame expected, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn bytes_bound_the_queue_and_come_back_when_read() {
        let (tx, mut rx) = channel::<Bytes>(100, 1000, Message::Binary);
        for _ in 0..4 {
            assert!(tx.try_send(frame(250)).is_ok());
        }
        assert_eq!(tx.try_send(frame(1)), Err(Refused::Full));
        assert_eq!(len(rx.next().await), 250);
        assert!(tx.try_send(frame(200)).is_ok());
        assert_eq!(tx.try_send(frame(51)), Err(Refused::Full));
        assert!(tx.try_send(frame(50)).is_ok());
    }

    #[tokio::test]
    async fn large_frames_have_a_budget_the_first_may_pass_alone() {
        let (tx, mut rx) = channel::<Bytes>(100, 1000, Message::Binary);
        // A whole document's answer, four times the budget: served.
        assert!(tx.try_send(frame(4000)).is_ok());
        // Small frames beside it, within their budget.
        assert!(tx.try_send(frame(200)).is_ok());
        // A second large one while the first waits: too slow.
        assert_eq!(tx.try_send(frame(300)), Err(Refused::Full));
        assert_eq!(len(rx.next().await), 4000);
        // Large frames within their budget queue together: three of 300, not a fourth.
        for _ in 0..3 {
            assert!(tx.try_send(frame(300)).is_ok());
        }
        assert_eq!(tx.try_send(frame(300)), Err(Refused::Full));
    }

    #[tokio::test]
    async fn the_frame_count_still_bounds_it_and_a_refusal_costs_nothing() {
        let (tx, mut rx) = channel::<Bytes>(2, 1000, Message::Binary);
        assert!(tx.try_send(frame(10)).is_ok());
        assert!(tx.try_send(frame(10)).is_ok());
        assert_eq!(tx.try_send(frame(10)), Err(Refused::Full));
        rx.try_recv().expect("a frame");
        rx.try_recv().expect("a frame");
        assert!(rx.try_recv().is_none());
        // The refused frame gave its bytes back: the whole budget is free.
        assert!(tx.try_send(frame(250)).is_ok());
        assert!(tx.try_send(frame(250)).is_ok());
        drop(rx);
        assert_eq!(tx.try_send(frame(1)), Err(Refused::Closed));
    }

    #[tokio::test]
    async fn a_close_passes_a_full_queue_and_the_first_one_wins() {
        let (tx, mut rx) = channel::<Bytes>(2, 1000, Message::Binary);
        tx.ping();
        assert!(tx.try_send(frame(10)).is_ok());
        assert_eq!(tx.try_send(frame(10)), Err(Refused::Full));
        // The queue is full: the close is set aside all the same, and a second one loses.
        assert!(tx.close(4009, "too slow"));
        assert!(!tx.close(1000, "bye"));
        // The writer hears of the close at once, ahead of what is queued...
        assert_eq!(rx.next().await, Next::Close(Some((4009, "too slow"))));
        // ...which is still there for it to write first, frames only.
        assert_eq!(rx.try_recv().map(|f| f.len()), Some(10));
        assert!(rx.try_recv().is_none());
    }

    #[tokio::test]
    async fn pings_and_frames_in_order_and_the_end_without_a_close() {
        let (tx, mut rx) = channel::<Bytes>(8, 1000, Message::Binary);
        assert!(tx.try_send(frame(1)).is_ok());
        tx.ping();
        assert!(tx.try_send(frame(2)).is_ok());
        assert_eq!(len(rx.next().await), 1);
        assert_eq!(rx.try_next(), Some(Next::Ping));
        assert_eq!(rx.try_next().map(len), Some(2));
        assert_eq!(rx.try_next(), None);
        drop(tx);
        assert_eq!(rx.next().await, Next::Close(None));
    }

    /// A real WebSocket over the loopback with small socket buffers, the client not reading
    /// at first: frames go out at once while the socket takes them, then queue behind what
    /// it could not take; once the client reads, frames go out at once again. Every frame
    /// arrives once, in order, and the close comes last.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn frames_written_at_once_and_queued_arrive_once_in_order() {
        use futures_util::StreamExt;
        use tungstenite::Utf8Bytes;
        const N: usize = 2000;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connect = tokio::spawn(async move {
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            socket2::SockRef::from(&tcp)
                .set_recv_buffer_size(64 * 1024)
                .unwrap();
            tokio_tungstenite::client_async(format!("ws://{addr}/"), tcp)
                .await
                .unwrap()
                .0
        });
        let (tcp, _) = listener.accept().await.unwrap();
        // Buffers small enough to fill with a few frames (smaller ones stall the loopback's
        // TCP itself: its window never reaches half a segment).
        socket2::SockRef::from(&tcp)
            .set_send_buffer_size(16 * 1024)
            .unwrap();
        let server = tokio_tungstenite::accept_async(tcp).await.unwrap();
        let client = connect.await.unwrap();
        let (sink, _server_stream) = server.split();
        let (tx, rx) = channel::<Utf8Bytes>(2 * N, 64 * 1024 * 1024, Message::Text);
        let writer = tokio::spawn(crate::gateway::ws::write_frames(sink, rx));
        while tx.shared.socket().is_none() {
            tokio::task::yield_now().await;
        }
        let frame = |i: usize| Utf8Bytes::from(format!("{i:06} {}", "x".repeat(1000)));
        let at_once = |tx: &Outbox<Utf8Bytes>| tx.shared.at_once.load(Ordering::Relaxed);

        // The client does not read: a few frames fill the buffers, the rest wait in the queue.
        tokio::task::unconstrained(async {
            for i in 0..N {
                assert_eq!(tx.try_send(frame(i)), Ok(()));
            }
        })
        .await;
        let first = at_once(&tx);
        assert!(first > 0, "nothing was written at once");
        assert!(first < N, "the stalled socket took everything at once");

        // The client reads everything; the queue drains; frames go out at once again.
        let reader = tokio::spawn(async move {
            let mut client = client;
            let mut got = Vec::new();
            while let Some(Ok(m)) = client.next().await {
                match m {
                    Message::Text(t) => got.push(t.as_str()[..6].parse::<usize>().unwrap()),
                    Message::Close(c) => {
                        got.push(usize::from(c.map_or(0, |c| u16::from(c.code))) + 1_000_000);
                        break;
                    }
                    _ => {}
                }
            }
            got
        });
        for _ in 0..1000 {
            if tx.shared.queued.load(Ordering::Acquire) == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(
            tx.shared.queued.load(Ordering::Acquire),
            0,
            "the queue never drained"
        );
        tokio::task::unconstrained(async {
            for i in N..2 * N {
                assert_eq!(tx.try_send(frame(i)), Ok(()));
                if i % 100 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        })
        .await;
        assert!(
            at_once(&tx) > first,
            "nothing went out at once after the drain"
        );
        assert!(tx.close(1000, "bye"));
        drop(tx);
        writer.await.unwrap();
        let got = reader.await.unwrap();
        let expected: Vec<usize> = (0..2 * N).chain([1_001_000]).collect();
        assert_eq!(got.len(), expected.len());
        assert!(got == expected, "frames lost, doubled or out of order");
    }
}
