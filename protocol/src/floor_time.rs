//! Floor time: the report of `GET /api/conventions/{id}/floor-time`, for the organizer, the
//! convention's facilitators and guarantors. Who held the floor, and for how long: what the
//! guarantors' report on the fairness of the debates rests on.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Role;

/// Floor time per person, and per roster attribute value among the citizens.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FloorTimeReport {
    pub convention: String,
    /// When the report was made (ms since the epoch): a turn under way counts up to it.
    pub generated_at: u64,
    /// Every person of the roster who is not a guarantor, by participant id.
    pub people: Vec<FloorTimeEntry>,
    /// The citizens, per roster attribute and value (by attribute, then value); a citizen
    /// without the attribute counts under the value `—`.
    pub by_attribute: Vec<FloorTimeGroup>,
}

/// One person's floor time, in every room together.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FloorTimeEntry {
    pub participant: String,
    pub name: String,
    pub roles: Vec<Role>,
    pub spoken_ms: u64,
}

/// The citizens holding one value of one roster attribute: their floor time against their
/// weight.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FloorTimeGroup {
    pub attribute: String,
    pub value: String,
    pub citizens: u32,
    /// How many of them held the floor at least once.
    pub spoke: u32,
    pub spoken_ms: u64,
    /// Their share of the citizens, in percent.
    pub citizens_percent: f64,
    /// Their share of the citizens' floor time, in percent (0 while no citizen has spoken).
    pub time_percent: f64,
}
