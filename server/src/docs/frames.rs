//! y-protocols frames as the document task sees them: untrusted frames decoded without letting
//! hostile input panic the task or make it reserve memory it was never sent, and the frames it
//! sends (a turn's updates merged into one).

use axum::body::Bytes;
use yrs::sync::{Message, SyncMessage};
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::Update;

pub(super) fn encode(msg: &Message) -> Bytes {
    Bytes::from(msg.encode_v1())
}

/// A lib0 variable-length unsigned integer at `*pos`.
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

/// Whether a frame's declared counts fit in its bytes: a sync step 1 or an awareness update
/// may not announce more entries than it could hold (each takes two bytes at least), so a
/// few bytes cannot make the decoder reserve gigabytes.
fn counts_fit(data: &[u8]) -> bool {
    let mut pos = 0;
    let Some(kind) = read_var(data, &mut pos) else {
        return false;
    };
    let inner = match kind {
        0 => match read_var(data, &mut pos) {
            Some(0) => true, // sync step 1: a state vector
            Some(_) => return true,
            None => return false,
        },
        1 => true, // awareness
        _ => return true,
    };
    if !inner {
        return true;
    }
    let Some(len) = read_var(data, &mut pos) else {
        return false;
    };
    let Some(count) = read_var(data, &mut pos) else {
        return false;
    };
    count <= len / 2 + 1
}

/// Decode a y-protocols message; yrs's decoder may panic on some hostile input (a client id
/// over 53 bits, clocks that overflow): that is a malformed frame, not a dead document.
pub(super) fn decode(data: &[u8]) -> Option<Message> {
    if !counts_fit(data) {
        return None;
    }
    std::panic::catch_unwind(|| Message::decode_v1(data).ok())
        .ok()
        .flatten()
}

pub(super) fn decode_update(data: &[u8]) -> Option<Update> {
    std::panic::catch_unwind(|| Update::decode_v1(data).ok())
        .ok()
        .flatten()
}

/// One update frame holding all of a turn's updates (a single one's frame as it came); `None`
/// if yrs cannot merge them (each then goes on its own; they all applied already, so that is
/// not expected).
pub(super) fn merged(batch: &[(u64, Vec<u8>, Bytes)]) -> Option<Bytes> {
    if batch.len() < 2 {
        return batch.first().map(|(_, _, f)| f.clone());
    }
    let parts = batch.iter().map(|(_, u, _)| u.as_slice());
    match std::panic::catch_unwind(|| yrs::merge_updates_v1(parts)) {
        Ok(Ok(update)) => Some(encode(&Message::Sync(SyncMessage::Update(update)))),
        _ => None,
    }
}

/// Whether a frame is a sync step 1 (answered from the document: it must be all stored).
pub(super) fn is_step1(data: &[u8]) -> bool {
    data.first() == Some(&0) && data.get(1) == Some(&0)
}

/// A query awareness message (y-protocols type 3).
pub(super) fn is_awareness_query(data: &[u8]) -> bool {
    data.first() == Some(&3)
}
