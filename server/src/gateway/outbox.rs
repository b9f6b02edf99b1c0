//! A connection's outbound queue, bounded in frames and in bytes: the one mechanism behind
//! every socket's "slow consumer" close (`/ws` and `/doc`). A count of frames alone does not
//! bound memory: a reader that never reads could hold 1,024 frames of a megabyte each. The
//! sender side answers like tokio's `try_send` (`Full`, `Closed`), so a task never waits for
//! a connection; a full queue means the connection is closed and resyncs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;
pub use tokio::sync::mpsc::error::{TryRecvError, TrySendError};

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

/// The budget shared by both ends of one queue.
struct Budget {
    /// Bytes of the small frames queued.
    small: AtomicUsize,
    /// Bytes of the large frames queued.
    large: AtomicUsize,
    bytes: usize,
}

impl Budget {
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
}

/// The sending side: cheap to clone (a channel sender and a shared counter).
pub struct Outbox<T> {
    tx: mpsc::Sender<T>,
    budget: Arc<Budget>,
}

impl<T> Clone for Outbox<T> {
    fn clone(&self) -> Self {
        Outbox {
            tx: self.tx.clone(),
            budget: self.budget.clone(),
        }
    }
}

/// The receiving side, read by the connection's writer.
pub struct OutboxReceiver<T> {
    rx: mpsc::Receiver<T>,
    budget: Arc<Budget>,
}

/// A queue of at most `frames` frames, `bytes` bytes of small frames and `bytes` bytes of
/// large ones, or one large frame of any size (see `Budget::is_large`).
pub fn channel<T: Weigh>(frames: usize, bytes: usize) -> (Outbox<T>, OutboxReceiver<T>) {
    let (tx, rx) = mpsc::channel(frames);
    let budget = Arc::new(Budget {
        small: AtomicUsize::new(0),
        large: AtomicUsize::new(0),
        bytes,
    });
    (
        Outbox {
            tx,
            budget: budget.clone(),
        },
        OutboxReceiver { rx, budget },
    )
}

impl<T: Weigh> Outbox<T> {
    /// Queue a frame, or say why not: `Full` (over the frame count or the byte budget: the
    /// reader is too slow) or `Closed` (the connection is gone).
    pub fn try_send(&self, item: T) -> Result<(), TrySendError<T>> {
        if self.tx.is_closed() {
            return Err(TrySendError::Closed(item));
        }
        let weight = item.weight();
        if !self.budget.take(weight) {
            return Err(TrySendError::Full(item));
        }
        self.tx.try_send(item).inspect_err(|_| {
            self.budget.give_back(weight);
        })
    }

    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

impl<T: Weigh> OutboxReceiver<T> {
    /// The next frame; `None` once every sender is gone and the queue is empty.
    pub async fn recv(&mut self) -> Option<T> {
        let item = self.rx.recv().await?;
        self.budget.give_back(item.weight());
        Some(item)
    }

    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let item = self.rx.try_recv()?;
        self.budget.give_back(item.weight());
        Ok(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tungstenite::Bytes;

    fn frame(n: usize) -> Bytes {
        Bytes::from(vec![0u8; n])
    }

    #[tokio::test]
    async fn bytes_bound_the_queue_and_come_back_when_read() {
        let (tx, mut rx) = channel::<Bytes>(100, 1000);
        for _ in 0..4 {
            assert!(tx.try_send(frame(250)).is_ok());
        }
        assert!(matches!(tx.try_send(frame(1)), Err(TrySendError::Full(_))));
        assert_eq!(rx.recv().await.map(|f| f.len()), Some(250));
        assert!(tx.try_send(frame(200)).is_ok());
        assert!(matches!(tx.try_send(frame(51)), Err(TrySendError::Full(_))));
        assert!(tx.try_send(frame(50)).is_ok());
    }

    #[tokio::test]
    async fn large_frames_have_a_budget_the_first_may_pass_alone() {
        let (tx, mut rx) = channel::<Bytes>(100, 1000);
        // A whole document's answer, four times the budget: served.
        assert!(tx.try_send(frame(4000)).is_ok());
        // Small frames beside it, within their budget.
        assert!(tx.try_send(frame(200)).is_ok());
        // A second large one while the first waits: too slow.
        assert!(matches!(
            tx.try_send(frame(300)),
            Err(TrySendError::Full(_))
        ));
        assert_eq!(rx.recv().await.map(|f| f.len()), Some(4000));
        // Large frames within their budget queue together: three of 300, not a fourth.
        for _ in 0..3 {
            assert!(tx.try_send(frame(300)).is_ok());
        }
        assert!(matches!(
            tx.try_send(frame(300)),
            Err(TrySendError::Full(_))
        ));
    }

    #[tokio::test]
    async fn the_frame_count_still_bounds_it_and_a_refusal_costs_nothing() {
        let (tx, mut rx) = channel::<Bytes>(2, 1000);
        assert!(tx.try_send(frame(10)).is_ok());
        assert!(tx.try_send(frame(10)).is_ok());
        assert!(matches!(tx.try_send(frame(10)), Err(TrySendError::Full(_))));
        rx.try_recv().expect("a frame");
        rx.try_recv().expect("a frame");
        // The refused frame gave its bytes back: the whole budget is free.
        assert!(tx.try_send(frame(250)).is_ok());
        assert!(tx.try_send(frame(250)).is_ok());
        drop(rx);
        assert!(matches!(
            tx.try_send(frame(1)),
            Err(TrySendError::Closed(_))
        ));
    }
}
