//! Run-sheet types between the domain and the wire.

use convene_protocol as p;

use crate::domain::{self as d, runsheet as r};

fn action_out(a: &r::Action) -> p::SequenceAction {
    match a {
        r::Action::Plenary => p::SequenceAction::Plenary,
        r::Action::Breakouts {
            rooms,
            grouping,
            duration_ms,
            warning_ms,
        } => p::SequenceAction::Breakouts {
            rooms: match rooms {
                r::BreakoutRooms::New { count, names } => p::SequenceRooms::New {
                    count: *count,
                    names: names.clone(),
                },
                r::BreakoutRooms::Existing(ids) => {
                    p::SequenceRooms::Existing { rooms: ids.clone() }
                }
            },
            grouping: match grouping {
                r::Grouping::Random => p::Grouping::Random,
                r::Grouping::Balanced(a) => p::Grouping::Balanced {
                    attribute: a.clone(),
                },
                r::Grouping::Manual(groups) => p::Grouping::Manual {
                    groups: groups.clone(),
                },
            },
            duration_ms: *duration_ms,
            warning_ms: *warning_ms,
        },
        r::Action::Polls(polls) => p::SequenceAction::Polls {
            polls: polls.clone(),
        },
        r::Action::Rotation => p::SequenceAction::Rotation,
        r::Action::Hearing { hearing } => p::SequenceAction::Hearing {
            hearing: hearing.clone(),
        },
        r::Action::Break => p::SequenceAction::Break,
    }
}

fn action_in(a: p::SequenceAction) -> r::Action {
    match a {
        p::SequenceAction::Plenary => r::Action::Plenary,
        p::SequenceAction::Breakouts {
            rooms,
            grouping,
            duration_ms,
            warning_ms,
        } => r::Action::Breakouts {
            rooms: match rooms {
                p::SequenceRooms::New { count, names } => r::BreakoutRooms::New { count, names },
                p::SequenceRooms::Existing { rooms } => r::BreakoutRooms::Existing(rooms),
            },
            grouping: match grouping {
                p::Grouping::Random => r::Grouping::Random,
                p::Grouping::Balanced { attribute } => r::Grouping::Balanced(attribute),
                p::Grouping::Manual { groups } => r::Grouping::Manual(groups),
            },
            duration_ms,
            warning_ms,
        },
        p::SequenceAction::Polls { polls } => r::Action::Polls(polls),
        p::SequenceAction::Rotation => r::Action::Rotation,
        p::SequenceAction::Hearing { hearing } => r::Action::Hearing { hearing },
        p::SequenceAction::Break => r::Action::Break,
    }
}

pub fn spec_out(s: &r::SequenceSpec) -> p::SequenceSpec {
    p::SequenceSpec {
        title: s.title.clone(),
        planned_start: s.planned_start,
        planned_ms: s.planned_ms,
        action: action_out(&s.action),
    }
}

pub fn spec_in(s: p::SequenceSpec) -> r::SequenceSpec {
    r::SequenceSpec {
        title: s.title,
        planned_start: s.planned_start,
        planned_ms: s.planned_ms,
        action: action_in(s.action),
    }
}

pub fn status_out(s: &r::SequenceStatus) -> p::SequenceStatus {
    match *s {
        r::SequenceStatus::Planned => p::SequenceStatus::Planned,
        r::SequenceStatus::Running {
            started_at,
            ends_at,
        } => p::SequenceStatus::Running {
            started_at,
            ends_at,
        },
        r::SequenceStatus::Done {
            started_at,
            ended_at,
            early,
        } => p::SequenceStatus::Done {
            started_at,
            ended_at,
            early,
        },
        r::SequenceStatus::Skipped { at } => p::SequenceStatus::Skipped { at },
    }
}

fn status_in(s: p::SequenceStatus) -> r::SequenceStatus {
    match s {
        p::SequenceStatus::Planned => r::SequenceStatus::Planned,
        p::SequenceStatus::Running {
            started_at,
            ends_at,
        } => r::SequenceStatus::Running {
            started_at,
            ends_at,
        },
        p::SequenceStatus::Done {
            started_at,
            ended_at,
            early,
        } => r::SequenceStatus::Done {
            started_at,
            ended_at,
            early,
        },
        p::SequenceStatus::Skipped { at } => r::SequenceStatus::Skipped { at },
    }
}

pub fn sequence_out(s: &r::Sequence) -> p::SequenceView {
    p::SequenceView {
        id: s.id.clone(),
        spec: spec_out(&s.spec),
        status: status_out(&s.status),
        extensions: s
            .extensions
            .iter()
            .map(|e| p::SequenceExtension {
                at: e.at,
                by_ms: e.by_ms,
            })
            .collect(),
    }
}

fn sequence_in(s: p::SequenceView) -> r::Sequence {
    r::Sequence {
        id: s.id,
        spec: spec_in(s.spec),
        status: status_in(s.status),
        extensions: s
            .extensions
            .into_iter()
            .map(|e| r::Extension {
                at: e.at,
                by_ms: e.by_ms,
            })
            .collect(),
    }
}

/// A spec as participants who are not staff see it: a manual grouping's groups (who goes
/// where, before the rooms open) are left out.
pub fn without_groups(spec: &mut p::SequenceSpec) {
    if let p::SequenceAction::Breakouts {
        grouping: p::Grouping::Manual { groups },
        ..
    } = &mut spec.action
    {
        groups.clear();
    }
}

/// Whether a spec holds what only staff see.
pub fn has_groups(spec: &r::SequenceSpec) -> bool {
    matches!(
        &spec.action,
        r::Action::Breakouts {
            grouping: r::Grouping::Manual(_),
            ..
        }
    )
}

/// The run sheet as a viewer sees it: the drift and the manual groups for staff only.
pub fn view(sheet: &r::RunSheet, staff: bool) -> p::RunSheetView {
    p::RunSheetView {
        sequences: sheet
            .sequences
            .iter()
            .map(|s| {
                let mut v = sequence_out(s);
                if !staff {
                    without_groups(&mut v.spec);
                }
                v
            })
            .collect(),
        drift_ms: sheet.drift_ms().filter(|_| staff),
    }
}

pub fn state_out(sheet: &r::RunSheet) -> p::RunSheetState {
    p::RunSheetState {
        sequences: sheet.sequences.iter().map(sequence_out).collect(),
        made: sheet.made,
    }
}

pub fn state_in(s: p::RunSheetState) -> r::RunSheet {
    r::RunSheet {
        sequences: s.sequences.into_iter().map(sequence_in).collect(),
        made: s.made,
    }
}

/// A run-sheet event (the caller dispatches only those here).
pub fn event_out(e: &d::Event) -> p::Event {
    use d::Event as D;
    use p::Event as P;
    match e {
        D::SequenceAdded {
            sequence,
            spec,
            before,
        } => P::SequenceAdded {
            sequence: sequence.clone(),
            spec: spec_out(spec),
            before: before.clone(),
        },
        D::SequenceEdited { sequence, spec } => P::SequenceEdited {
            sequence: sequence.clone(),
            spec: spec_out(spec),
        },
        D::SequenceDeleted { sequence } => P::SequenceDeleted {
            sequence: sequence.clone(),
        },
        D::SequenceMoved { sequence, before } => P::SequenceMoved {
            sequence: sequence.clone(),
            before: before.clone(),
        },
        D::SequenceStarted { sequence, ends_at } => P::SequenceStarted {
            sequence: sequence.clone(),
            ends_at: *ends_at,
        },
        D::SequenceExtended {
            sequence,
            by_ms,
            ends_at,
        } => P::SequenceExtended {
            sequence: sequence.clone(),
            by_ms: *by_ms,
            ends_at: *ends_at,
        },
        D::SequenceEnded { sequence, early } => P::SequenceEnded {
            sequence: sequence.clone(),
            early: *early,
        },
        D::SequenceSkipped { sequence } => P::SequenceSkipped {
            sequence: sequence.clone(),
        },
        other => unreachable!("not a run-sheet event: {other:?}"),
    }
}

/// A run-sheet event (the caller dispatches only those here).
pub fn event_in(e: p::Event) -> d::Event {
    use d::Event as D;
    use p::Event as P;
    match e {
        P::SequenceAdded {
            sequence,
            spec,
            before,
        } => D::SequenceAdded {
            sequence,
            spec: spec_in(spec),
            before,
        },
        P::SequenceEdited { sequence, spec } => D::SequenceEdited {
            sequence,
            spec: spec_in(spec),
        },
        P::SequenceDeleted { sequence } => D::SequenceDeleted { sequence },
        P::SequenceMoved { sequence, before } => D::SequenceMoved { sequence, before },
        P::SequenceStarted { sequence, ends_at } => D::SequenceStarted { sequence, ends_at },
        P::SequenceExtended {
            sequence,
            by_ms,
            ends_at,
        } => D::SequenceExtended {
            sequence,
            by_ms,
            ends_at,
        },
        P::SequenceEnded { sequence, early } => D::SequenceEnded { sequence, early },
        P::SequenceSkipped { sequence } => D::SequenceSkipped { sequence },
        other => unreachable!("not a run-sheet event: {other:?}"),
    }
}

/// A run-sheet command (the caller dispatches only those here).
pub fn command_in(c: p::Command) -> d::Command {
    use d::Command as D;
    use p::Command as P;
    match c {
        P::AddSequence { spec, before } => D::AddSequence {
            spec: spec_in(spec),
            before,
        },
        P::EditSequence { sequence, spec } => D::EditSequence {
            sequence,
            spec: spec_in(spec),
        },
        P::DeleteSequence { sequence } => D::DeleteSequence { sequence },
        P::MoveSequence { sequence, before } => D::MoveSequence { sequence, before },
        P::StartSequence {
            sequence,
            end_running,
        } => D::StartSequence {
            sequence,
            end_running,
        },
        P::ExtendSequence { by_ms } => D::ExtendSequence { by_ms },
        P::EndSequence => D::EndSequence,
        P::SkipSequence { sequence } => D::SkipSequence { sequence },
        other => unreachable!("not a run-sheet command: {other:?}"),
    }
}
