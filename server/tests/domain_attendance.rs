//! Attendance (issue #17), pure and data-driven: stretches of presence merged per person
//! (overlaps count once), split at midnight UTC, summed per day and per roster attribute.

use std::collections::BTreeMap;

use convene::domain::attendance::{date, days, report, timestamp, Interval, DAY_MS};
use convene::domain::{Person, Role};

/// 2026-12-06T00:00:00Z.
const D0: u64 = 1_796_515_200_000;
const MIN: u64 = 60_000;

fn iv(person: &str, start: u64, end: u64) -> Interval {
    Interval {
        person: person.into(),
        start,
        end,
    }
}

fn person(id: &str, attrs: &[(&str, &str)]) -> Person {
    Person {
        id: id.into(),
        name: id.to_uppercase(),
        roles: vec![Role::Citizen],
        attributes: attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
    }
}

#[test]
fn dates_are_calendar_days_in_utc() {
    assert_eq!(date((D0 / DAY_MS) as i64), "2026-12-06");
    assert_eq!(date(0), "1970-01-01");
    assert_eq!(date(-1), "1969-12-31");
    assert_eq!(date(19_782), "2024-02-29");
    assert_eq!(
        timestamp(D0 + 13 * 3_600_000 + 5 * MIN + 7_000),
        "2026-12-06T13:05:07Z"
    );
}

#[test]
fn each_case_gives_its_minutes_sessions_and_times() {
    // (what, intervals of "a", expected per day: (day offset, present minutes, sessions,
    // first arrival, last departure) with times in minutes after D0)
    type Want = Vec<(i64, u64, u32, u64, u64)>;
    type Case = (&'static str, Vec<(u64, u64)>, Want);
    let cases: Vec<Case> = vec![
        ("one stretch", vec![(600, 660)], vec![(0, 60, 1, 600, 660)]),
        (
            "a phone and a laptop overlapping count once",
            vec![(600, 660), (630, 700)],
            vec![(0, 100, 1, 600, 700)],
        ),
        (
            "one inside another",
            vec![(600, 700), (610, 620)],
            vec![(0, 100, 1, 600, 700)],
        ),
        (
            "touching stretches are one",
            vec![(600, 630), (630, 660)],
            vec![(0, 60, 1, 600, 660)],
        ),
        (
            "a disconnection makes two sessions",
            vec![(600, 630), (631, 660)],
            vec![(0, 59, 2, 600, 660)],
        ),
        (
            "a stretch across midnight is split",
            vec![(23 * 60, 25 * 60)],
            vec![(0, 60, 1, 23 * 60, 24 * 60), (1, 60, 1, 24 * 60, 25 * 60)],
        ),
        (
            "empty and reversed stretches count for nothing",
            vec![(600, 600), (700, 650)],
            vec![],
        ),
    ];
    for (what, spans, want) in cases {
        let intervals: Vec<Interval> = spans
            .iter()
            .map(|(s, e)| iv("a", D0 + s * MIN, D0 + e * MIN))
            .collect();
        let got: Vec<(i64, u64, u32, u64, u64)> = days(&intervals)
            .into_iter()
            .map(|d| {
                (
                    d.day - (D0 / DAY_MS) as i64,
                    d.present_ms / MIN,
                    d.sessions,
                    (d.first_arrival - D0) / MIN,
                    (d.last_departure - D0) / MIN,
                )
            })
            .collect();
        assert_eq!(got, want, "{what}");
    }
}

#[test]
fn the_summary_counts_heads_per_attribute_value_against_the_roster() {
    let roster = [
        person("a", &[("commune", "Rezé"), ("gender", "F")]),
        person("b", &[("commune", "Rezé"), ("gender", "M")]),
        person("c", &[("commune", "Nantes"), ("gender", "F")]),
        person("d", &[]),
    ];
    let intervals = vec![
        iv("a", D0 + 600 * MIN, D0 + 700 * MIN),
        iv("a", D0 + 650 * MIN, D0 + 710 * MIN),
        iv("c", D0 + 600 * MIN, D0 + 601 * MIN),
        // The next day, only b.
        iv("b", D0 + DAY_MS + 600 * MIN, D0 + DAY_MS + 700 * MIN),
        // Someone no longer in the roster: listed per day, not in the headcount.
        iv("gone", D0 + 600 * MIN, D0 + 610 * MIN),
    ];
    let r = report(&intervals, roster.iter());
    assert_eq!(r.days.len(), 4);
    let totals: Vec<(u32, u32)> = r.totals.iter().map(|t| (t.present, t.roster)).collect();
    assert_eq!(totals, vec![(2, 4), (1, 4)]);
    let day0: Vec<(String, String, u32, u32)> = r
        .by_attribute
        .iter()
        .filter(|b| b.day == (D0 / DAY_MS) as i64)
        .map(|b| (b.attribute.clone(), b.value.clone(), b.present, b.roster))
        .collect();
    assert_eq!(
        day0,
        vec![
            ("commune".into(), "Nantes".into(), 1, 1),
            ("commune".into(), "Rezé".into(), 1, 2),
            ("gender".into(), "F".into(), 2, 2),
            ("gender".into(), "M".into(), 0, 1),
        ]
    );
}
