//! Poll types between the domain and the wire.

use convene_protocol as p;

use super::role_in;
use super::role_out;
use crate::domain as d;

pub fn stance_out(s: d::Stance) -> p::Stance {
    match s {
        d::Stance::For => p::Stance::For,
        d::Stance::Against => p::Stance::Against,
        d::Stance::ForWithReservations => p::Stance::ForWithReservations,
        d::Stance::Abstain => p::Stance::Abstain,
    }
}

pub fn stance_in(s: p::Stance) -> d::Stance {
    match s {
        p::Stance::For => d::Stance::For,
        p::Stance::Against => d::Stance::Against,
        p::Stance::ForWithReservations => d::Stance::ForWithReservations,
        p::Stance::Abstain => d::Stance::Abstain,
    }
}

pub fn spec_out(s: &d::PollSpec) -> p::PollSpec {
    p::PollSpec {
        question: s.question.clone(),
        kind: match &s.kind {
            d::PollKind::Single { options } => p::PollKind::Single {
                options: options.clone(),
            },
            d::PollKind::Multiple { options, min, max } => p::PollKind::Multiple {
                options: options.clone(),
                min: *min,
                max: *max,
            },
            d::PollKind::Scale {
                min,
                max,
                min_label,
                max_label,
            } => p::PollKind::Scale {
                min: *min,
                max: *max,
                min_label: min_label.clone(),
                max_label: max_label.clone(),
            },
            d::PollKind::Ranking { options } => p::PollKind::Ranking {
                options: options.clone(),
            },
            d::PollKind::Text { max_chars } => p::PollKind::Text {
                max_chars: *max_chars,
            },
            d::PollKind::Position => p::PollKind::Position,
        },
        secret: s.secret,
        live_results: s.live_results,
        voters: s.voters.iter().copied().map(role_out).collect(),
        quorum: s.quorum,
        duration_ms: s.duration_ms,
        room: s.room.clone(),
    }
}

pub fn spec_in(s: p::PollSpec) -> d::PollSpec {
    d::PollSpec {
        question: s.question,
        kind: match s.kind {
            p::PollKind::Single { options } => d::PollKind::Single { options },
            p::PollKind::Multiple { options, min, max } => {
                d::PollKind::Multiple { options, min, max }
            }
            p::PollKind::Scale {
                min,
                max,
                min_label,
                max_label,
            } => d::PollKind::Scale {
                min,
                max,
                min_label,
                max_label,
            },
            p::PollKind::Ranking { options } => d::PollKind::Ranking { options },
            p::PollKind::Text { max_chars } => d::PollKind::Text { max_chars },
            p::PollKind::Position => d::PollKind::Position,
        },
        secret: s.secret,
        live_results: s.live_results,
        voters: s.voters.into_iter().map(role_in).collect(),
        quorum: s.quorum,
        duration_ms: s.duration_ms,
        room: s.room,
    }
}

pub fn ballot_out(b: &d::Ballot) -> p::Ballot {
    match b {
        d::Ballot::Single(i) => p::Ballot::Single { choice: *i },
        d::Ballot::Multiple(is) => p::Ballot::Multiple {
            choices: is.clone(),
        },
        d::Ballot::Scale(v) => p::Ballot::Scale { value: *v },
        d::Ballot::Ranking(o) => p::Ballot::Ranking { order: o.clone() },
        d::Ballot::Text(t) => p::Ballot::Text { text: t.clone() },
        d::Ballot::Position(s) => p::Ballot::Position {
            stance: stance_out(*s),
        },
    }
}

pub fn ballot_in(b: p::Ballot) -> d::Ballot {
    match b {
        p::Ballot::Single { choice } => d::Ballot::Single(choice),
        p::Ballot::Multiple { choices } => d::Ballot::Multiple(choices),
        p::Ballot::Scale { value } => d::Ballot::Scale(value),
        p::Ballot::Ranking { order } => d::Ballot::Ranking(order),
        p::Ballot::Text { text } => d::Ballot::Text(text),
        p::Ballot::Position { stance } => d::Ballot::Position(stance_in(stance)),
    }
}

pub fn tally_out(t: &d::Tally) -> p::Tally {
    p::Tally {
        ballots: t.ballots,
        counts: t.counts.clone(),
        borda: t.borda.clone(),
        rounds: t
            .rounds
            .iter()
            .map(|r| p::IrvRound {
                counts: (0..t.borda.len() as u32)
                    .map(|o| r.counts.get(&o).copied())
                    .collect(),
                eliminated: r.eliminated,
            })
            .collect(),
        winner: t.winner,
        texts: t.texts.clone(),
    }
}

pub fn turnout_out(t: d::Turnout) -> p::Turnout {
    p::Turnout {
        eligible: t.eligible,
        eligible_present: t.eligible_present,
    }
}

pub fn turnout_in(t: p::Turnout) -> d::Turnout {
    d::Turnout {
        eligible: t.eligible,
        eligible_present: t.eligible_present,
    }
}

pub fn tally_in(t: p::Tally) -> d::Tally {
    d::Tally {
        ballots: t.ballots,
        counts: t.counts,
        borda: t.borda,
        rounds: t
            .rounds
            .into_iter()
            .map(|r| d::polls::IrvRound {
                counts: r
                    .counts
                    .iter()
                    .enumerate()
                    .filter_map(|(o, c)| Some((o as u32, (*c)?)))
                    .collect(),
                eliminated: r.eliminated,
            })
            .collect(),
        winner: t.winner,
        texts: t.texts,
    }
}

pub fn empty_tally() -> d::Tally {
    d::Tally {
        ballots: 0,
        counts: vec![],
        borda: vec![],
        rounds: vec![],
        winner: None,
        texts: vec![],
    }
}

pub fn poll_status_out(s: d::PollStatus) -> p::PollStatus {
    match s {
        d::PollStatus::Draft => p::PollStatus::Draft,
        d::PollStatus::Open => p::PollStatus::Open,
        d::PollStatus::Closed => p::PollStatus::Closed,
        d::PollStatus::Published => p::PollStatus::Published,
    }
}
