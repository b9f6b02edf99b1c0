//! Attendance (issue #17): the domain's report as the wire's `AttendanceReport`.

use std::collections::BTreeMap;

use convene_protocol as p;

use crate::domain::attendance::{date, Report};
use crate::domain::Person;

/// The report for the wire; `people` names the participants (those gone from the roster keep
/// their id and an empty name).
pub fn attendance_out(
    convention: &str,
    report: Report,
    people: &BTreeMap<String, Person>,
    retention_days: u32,
    generated_at: u64,
) -> p::AttendanceReport {
    p::AttendanceReport {
        convention: convention.to_string(),
        time_zone: "UTC".into(),
        retention_days,
        generated_at,
        participants: report
            .days
            .into_iter()
            .map(|d| {
                let person = people.get(&d.person);
                p::AttendanceDay {
                    name: person.map(|p| p.name.clone()).unwrap_or_default(),
                    roles: person
                        .map(|p| p.roles.iter().copied().map(super::role_out).collect())
                        .unwrap_or_default(),
                    participant: d.person,
                    day: date(d.day),
                    minutes: (d.present_ms + 30_000) / 60_000,
                    present_ms: d.present_ms,
                    first_arrival: d.first_arrival,
                    last_departure: d.last_departure,
                    sessions: d.sessions,
                }
            })
            .collect(),
        days: report
            .totals
            .into_iter()
            .map(|t| p::AttendanceTotal {
                day: date(t.day),
                present: t.present,
                roster: t.roster,
            })
            .collect(),
        by_attribute: report
            .by_attribute
            .into_iter()
            .map(|a| p::AttendanceByAttribute {
                day: date(a.day),
                share: if a.roster == 0 {
                    0.0
                } else {
                    (f64::from(a.present) * 1000.0 / f64::from(a.roster)).round() / 10.0
                },
                attribute: a.attribute,
                value: a.value,
                present: a.present,
                roster: a.roster,
            })
            .collect(),
    }
}
