//! Attendance (issue #17): the report of `GET /api/conventions/{id}/attendance`, for
//! organizers and guarantors only. Days are calendar days in UTC; times are milliseconds since
//! the Unix epoch.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Role;

/// Who was present when: per participant and day, per day, and per roster attribute value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AttendanceReport {
    pub convention: String,
    /// The time zone of `day` and of the CSV's times: always `UTC`.
    pub time_zone: String,
    /// Stretches of presence that ended longer ago than this many days are deleted.
    pub retention_days: u32,
    /// When the report was made (ms since the epoch): open stretches count up to it.
    pub generated_at: u64,
    /// Per participant and day, by day then participant id.
    pub participants: Vec<AttendanceDay>,
    /// Headcount per day.
    pub days: Vec<AttendanceTotal>,
    /// Per day, roster attribute and value: how many of the people holding it were present.
    pub by_attribute: Vec<AttendanceByAttribute>,
}

/// One participant's attendance on one day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AttendanceDay {
    pub participant: String,
    /// The roster's name (empty for someone no longer in the roster).
    pub name: String,
    pub roles: Vec<Role>,
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    /// Time present that day, several connections at once (a phone and a laptop, two
    /// cluster nodes) counted once.
    pub present_ms: u64,
    /// `present_ms` in whole minutes, rounded to the nearest.
    pub minutes: u64,
    pub first_arrival: u64,
    pub last_departure: u64,
    /// Stretches of presence that day (a disconnection ends one; one across midnight counts
    /// on both days).
    pub sessions: u32,
}

/// One day's headcount.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AttendanceTotal {
    pub day: String,
    /// People of the roster present that day (at least a moment).
    pub present: u32,
    /// People in the roster (now).
    pub roster: u32,
}

/// How many people holding one roster attribute value were present on one day.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AttendanceByAttribute {
    pub day: String,
    /// The roster's column: `commune`, `age`, `gender`...
    pub attribute: String,
    pub value: String,
    pub present: u32,
    pub roster: u32,
    /// `present` out of `roster`, in percent, to one decimal.
    pub share: f64,
}
