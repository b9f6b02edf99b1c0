//! Attendance: presence intervals (from connections past `hello`) merged per person, so that
//! several connections at once (a phone and a laptop, two cluster nodes) count once, split by
//! calendar day in UTC, and summed up per day and per roster attribute for the guarantors'
//! reports. Pure: the intervals, the roster and nothing else are arguments.
//!
//! Attendance is not in the convention's log: it is personal data with a retention period,
//! kept by `crate::attendance` in a store of its own; this module only computes.

use std::collections::{BTreeMap, BTreeSet};

use super::{Millis, ParticipantId, Person};

/// A day, in milliseconds.
pub const DAY_MS: Millis = 86_400_000;

/// One stretch of presence of one person on one node: from the first connection past `hello`
/// to the last one's end (or, while still open, to the last time it was written down).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interval {
    pub person: ParticipantId,
    pub start: Millis,
    pub end: Millis,
}

/// One person's attendance on one calendar day (UTC).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Day {
    pub person: ParticipantId,
    /// Days since 1970-01-01 (UTC).
    pub day: i64,
    /// Time present that day, several connections at once counted once.
    pub present_ms: Millis,
    pub first_arrival: Millis,
    pub last_departure: Millis,
    /// Stretches of presence that day: a disconnection (however short) ends one; a stretch
    /// across midnight counts on both days.
    pub sessions: u32,
}

/// How many people of the roster holding one attribute value were present on one day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ByAttribute {
    pub day: i64,
    pub attribute: String,
    pub value: String,
    /// People with this value present that day (at least a moment).
    pub present: u32,
    /// People with this value in the roster.
    pub roster: u32,
}

/// Headcount of one day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DayTotal {
    pub day: i64,
    pub present: u32,
    pub roster: u32,
}

/// Everything a report says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// By day, then by person id.
    pub days: Vec<Day>,
    pub totals: Vec<DayTotal>,
    /// By day, attribute, value.
    pub by_attribute: Vec<ByAttribute>,
}

/// Each person's intervals as a union: sorted, disjoint stretches (overlapping or touching
/// intervals become one). Empty and reversed intervals are dropped.
pub fn merge(intervals: &[Interval]) -> BTreeMap<ParticipantId, Vec<(Millis, Millis)>> {
    let mut by_person: BTreeMap<ParticipantId, Vec<(Millis, Millis)>> = BTreeMap::new();
    for i in intervals.iter().filter(|i| i.end > i.start) {
        by_person
            .entry(i.person.clone())
            .or_default()
            .push((i.start, i.end));
    }
    for spans in by_person.values_mut() {
        spans.sort_unstable();
        let mut merged: Vec<(Millis, Millis)> = Vec::with_capacity(spans.len());
        for &(s, e) in spans.iter() {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        *spans = merged;
    }
    by_person
}

/// Per person and day: time present, first arrival, last departure, sessions.
pub fn days(intervals: &[Interval]) -> Vec<Day> {
    let mut out: BTreeMap<(i64, ParticipantId), Day> = BTreeMap::new();
    for (person, spans) in merge(intervals) {
        for (start, end) in spans {
            // Split at each midnight (UTC) the stretch crosses.
            let mut s = start;
            while s < end {
                let day = (s / DAY_MS) as i64;
                let e = end.min((day as u64 + 1) * DAY_MS);
                let row = out.entry((day, person.clone())).or_insert(Day {
                    person: person.clone(),
                    day,
                    present_ms: 0,
                    first_arrival: s,
                    last_departure: e,
                    sessions: 0,
                });
                row.present_ms += e - s;
                row.first_arrival = row.first_arrival.min(s);
                row.last_departure = row.last_departure.max(e);
                row.sessions += 1;
                s = e;
            }
        }
    }
    out.into_values().collect()
}

/// The whole report: per person and day, the day's headcount against the roster, and per
/// roster attribute value (commune, age band, gender: whatever the roster holds) the
/// headcount present that day against the people holding that value.
pub fn report<'a>(intervals: &[Interval], roster: impl IntoIterator<Item = &'a Person>) -> Report {
    let roster: Vec<&Person> = roster.into_iter().collect();
    let days = days(intervals);
    let mut present: BTreeMap<i64, BTreeSet<&str>> = BTreeMap::new();
    for d in &days {
        present.entry(d.day).or_default().insert(&d.person);
    }
    // Value counts of the roster, per attribute.
    let mut values: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
    for p in &roster {
        for (k, v) in &p.attributes {
            values
                .entry((k.as_str(), v.as_str()))
                .or_default()
                .push(&p.id);
        }
    }
    let mut totals = Vec::new();
    let mut by_attribute = Vec::new();
    for (day, who) in &present {
        totals.push(DayTotal {
            day: *day,
            present: roster
                .iter()
                .filter(|p| who.contains(p.id.as_str()))
                .count() as u32,
            roster: roster.len() as u32,
        });
        for ((attribute, value), people) in &values {
            by_attribute.push(ByAttribute {
                day: *day,
                attribute: attribute.to_string(),
                value: value.to_string(),
                present: people.iter().filter(|p| who.contains(*p)).count() as u32,
                roster: people.len() as u32,
            });
        }
    }
    Report {
        days,
        totals,
        by_attribute,
    }
}

/// The civil date (proleptic Gregorian, UTC) of a day counted from 1970-01-01, as
/// `YYYY-MM-DD` (H. Hinnant's `civil_from_days`).
pub fn date(day: i64) -> String {
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// A time as `YYYY-MM-DDTHH:MM:SSZ` (UTC), for CSV readers.
pub fn timestamp(at: Millis) -> String {
    let day = (at / DAY_MS) as i64;
    let secs = (at % DAY_MS) / 1000;
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        date(day),
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}
