//! Protocol version 2 (PROTOCOL.md section 25): views that stay small. The roster is a shared
//! resource fetched by version; where people are and who is online arrives coalesced per
//! tick, with counts for large rooms; a room move sends the new room, not the world.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::*;

/// The protocol version of views that stay small; a `hello` may ask for it or for
/// [`PROTOCOL_VERSION`] (1).
pub const PROTOCOL_V2: u32 = 2;
/// The protocol versions this server speaks.
pub const SUPPORTED_PROTOCOLS: &[u32] = &[PROTOCOL_VERSION, PROTOCOL_V2];
/// A room with more members than this is "large": in version 2, its members who are not
/// facilitators or guarantors see its counts, not the list of who is in it.
pub const LARGE_ROOM: usize = 50;
/// Version 2: presence changes reach a connection at most once per tick, in one
/// `presence_batch`.
pub const PRESENCE_TICK_MS: u64 = 250;
/// Live tallies (`poll_tally`, both versions): at most this many frames per second per poll
/// per connection; the last state always follows within one period, and `poll_closed`
/// carries the exact final tally.
pub const TALLIES_PER_SECOND: u64 = 4;
/// Live tallies in a large audience: a poll's live `poll_tally` goes out at most this many
/// times per second in all (deliveries). Beyond 2,500 receivers, each tally tick serves one
/// slice of them in turn (by connection), so that each receives one every
/// `tally_slots(receivers)` ticks (10,000 receivers: once a second) and the work is spread
/// evenly over the ticks...
pub const TALLY_DELIVERIES_PER_SECOND: u64 = 10_000;
/// ... in at most this many slices: the last state always reaches everyone within 2 s.
pub const TALLY_MAX_SLICES: u64 = 8;

/// In how many slices (one per tally tick, 1000 / `TALLIES_PER_SECOND` ms) a poll's live
/// tally reaches `receivers` connections.
pub fn tally_slots(receivers: usize) -> u64 {
    let per_tick = TALLY_DELIVERIES_PER_SECOND / TALLIES_PER_SECOND;
    (receivers as u64)
        .div_ceil(per_tick)
        .clamp(1, TALLY_MAX_SLICES)
}

/// Version 2: the roster's version and size, in a welcome's snapshot. `version` is the seq of
/// the last `participant_added` (0 before any): it changes only when the roster does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RosterInfo {
    pub version: u64,
    pub count: u64,
}

/// Version 2: where one person is and whether they are online, as a viewer sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PersonState {
    pub participant: String,
    pub room: String,
    pub online: bool,
    /// Assigned breakout room, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned: Option<String>,
}

/// Version 2: a room's numbers: members (people whose room it is) and those of them online.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RoomCount {
    pub room: String,
    pub members: u32,
    pub online: u32,
}

/// Version 2: the fast-changing part of a view. Facilitators and guarantors: everyone in
/// `people`. Others: themselves, facilitators and guarantors, experts, and every member of
/// their own room when it is not large ([`LARGE_ROOM`]); in a large room, the speaker and the
/// queue are named by the room's inside (names come from the roster). `rooms`: every room's
/// counts, for everyone.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PresenceView {
    pub people: Vec<PersonState>,
    pub rooms: Vec<RoomCount>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tally_reaches_a_large_audience_in_slices_within_bounds() {
        assert_eq!(tally_slots(0), 1);
        assert_eq!(tally_slots(2_500), 1);
        assert_eq!(tally_slots(2_501), 2);
        assert_eq!(tally_slots(10_000), 4);
        assert_eq!(tally_slots(20_000), TALLY_MAX_SLICES);
        assert_eq!(tally_slots(usize::MAX), TALLY_MAX_SLICES);
    }
}
