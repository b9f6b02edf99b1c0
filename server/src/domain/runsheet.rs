//! The run sheet ("déroulé") of a convention day: an ordered list of sequences that
//! facilitators prepare ahead, each with a title, a planned start and duration, and what it
//! does when started. Starting a sequence runs its prepared actions through the existing
//! `decide` of rooms, polls and rotations against a scratch copy of the state, so that one
//! decision returns every event of every action, or a rejection naming the action that could
//! not be done: everything opens together or nothing does.

use std::collections::BTreeSet;

use super::decide::{check_duration, check_text, reject};
use super::hearings::HearingStatus;
use super::rotation::Phase;
use super::{
    assign_balanced, assign_random, Actor, AssignMethod, Code, Command, Context, Convention, Event,
    Millis, ParticipantId, PollId, PollStatus, Record, Rejection, Role, RoomId, MAX_DURATION_MS,
    MAX_NAME_CHARS, MAX_PEOPLE, MAX_ROOMS, PLENARY,
};

/// Most sequences a run sheet may hold (started, done and skipped ones included).
pub const MAX_SEQUENCES: usize = 100;
/// Longest title of a sequence, in characters.
pub const MAX_TITLE_CHARS: usize = MAX_NAME_CHARS;
/// Most polls one sequence may open.
pub const MAX_SEQUENCE_POLLS: usize = 20;
/// Most extensions of one sequence (each goes into every snapshot and the export).
pub const MAX_EXTENSIONS: usize = 20;

pub type SequenceId = String;

/// Which breakout rooms a breakouts sequence uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BreakoutRooms {
    /// New rooms, made at the start beside those of before: `count` rooms named
    /// "Salle N", or one per name.
    New {
        count: Option<u32>,
        names: Vec<String>,
    },
    /// Rooms that exist already, by id.
    Existing(Vec<RoomId>),
}

/// How a breakouts sequence puts people in its rooms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Grouping {
    Random,
    /// Spread each value of this roster attribute evenly over the rooms.
    Balanced(String),
    /// Prepared by hand: the i-th group goes to the i-th room.
    Manual(Vec<Vec<ParticipantId>>),
}

/// What a sequence does when it starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Everyone back to the plenary: open breakouts closed, a running rotation stopped.
    Plenary,
    /// Rooms, an assignment, and the breakouts opened for `duration_ms` (their own timer).
    Breakouts {
        rooms: BreakoutRooms,
        grouping: Grouping,
        duration_ms: u64,
        warning_ms: u64,
    },
    /// Open these prepared poll drafts.
    Polls(Vec<PollId>),
    /// Start the planned expert rotation.
    Rotation,
    /// Open this prepared hearing (created, not yet opened).
    Hearing { hearing: String },
    /// Nothing opens: a countdown.
    Break,
}

impl Action {
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Plenary => "plenary",
            Action::Breakouts { .. } => "breakouts",
            Action::Polls(_) => "polls",
            Action::Rotation => "rotation",
            Action::Hearing { .. } => "hearing",
            Action::Break => "break",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SequenceSpec {
    pub title: String,
    pub planned_start: Millis,
    pub planned_ms: u64,
    pub action: Action,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SequenceStatus {
    Planned,
    /// Under way since `started_at`; planned to end at `ends_at` (informational: nothing
    /// happens then, but for the timers of its own actions).
    Running {
        started_at: Millis,
        ends_at: Millis,
    },
    Done {
        started_at: Millis,
        ended_at: Millis,
        /// Ended before its planned end.
        early: bool,
    },
    Skipped {
        at: Millis,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extension {
    pub at: Millis,
    pub by_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sequence {
    pub id: SequenceId,
    pub spec: SequenceSpec,
    pub status: SequenceStatus,
    pub extensions: Vec<Extension>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunSheet {
    /// In the order of the day.
    pub sequences: Vec<Sequence>,
    /// Sequences made so far, to number new ones (`s1`, `s2`...).
    pub made: u32,
}

impl RunSheet {
    pub fn get(&self, id: &str) -> Option<&Sequence> {
        self.sequences.iter().find(|s| s.id == id)
    }
    fn get_mut(&mut self, id: &str) -> Option<&mut Sequence> {
        self.sequences.iter_mut().find(|s| s.id == id)
    }
    /// The sequence under way ("now").
    pub fn running(&self) -> Option<&Sequence> {
        self.sequences
            .iter()
            .find(|s| matches!(s.status, SequenceStatus::Running { .. }))
    }
    /// The first planned sequence in the order of the day ("next").
    pub fn next(&self) -> Option<&Sequence> {
        self.sequences
            .iter()
            .find(|s| s.status == SequenceStatus::Planned)
    }
    /// Against the plan, in ms: the actual start of the sequence under way (else of the last
    /// started one) less its planned start. Positive: behind; negative: ahead.
    pub fn drift_ms(&self) -> Option<i64> {
        self.sequences
            .iter()
            .filter_map(|s| match s.status {
                SequenceStatus::Running { started_at, .. }
                | SequenceStatus::Done { started_at, .. } => Some((started_at, s)),
                SequenceStatus::Planned | SequenceStatus::Skipped { .. } => None,
            })
            .max_by_key(|(at, _)| *at)
            .map(|(at, s)| at as i64 - s.spec.planned_start as i64)
    }
    fn insert(&mut self, seq: Sequence, before: Option<&str>) {
        let at = before
            .and_then(|b| self.sequences.iter().position(|s| s.id == b))
            .unwrap_or(self.sequences.len());
        self.sequences.insert(at, seq);
    }
}

type Decision = Result<Vec<Event>, Rejection>;

/// A planned sequence, or why it cannot be changed.
fn planned<'a>(state: &'a Convention, id: &str) -> Result<&'a Sequence, Rejection> {
    let Some(s) = state.runsheet.get(id) else {
        return reject(Code::NotFound, format!("no sequence {id}"));
    };
    if s.status != SequenceStatus::Planned {
        return reject(
            Code::Conflict,
            format!("sequence {id} has started or was skipped: it can no longer change"),
        );
    }
    Ok(s)
}

fn check_before(state: &Convention, before: Option<&str>, me: &str) -> Result<(), Rejection> {
    match before {
        Some(b) if b == me => reject(Code::Invalid, "a sequence cannot go before itself"),
        Some(b) if state.runsheet.get(b).is_none() => {
            reject(Code::NotFound, format!("no sequence {b}"))
        }
        _ => Ok(()),
    }
}

/// Check a spec against the state: budgets, and everything it refers to (rooms, polls, the
/// rotation, people), as far as it can be known before the start. Returns it trimmed.
fn check_spec(state: &Convention, spec: &SequenceSpec) -> Result<SequenceSpec, Rejection> {
    let title = check_text(&spec.title, MAX_TITLE_CHARS, "a sequence's title")?;
    check_duration(spec.planned_ms, "the planned duration")?;
    check_action(state, &spec.action, false)?;
    Ok(SequenceSpec {
        title,
        ..spec.clone()
    })
}

fn check_person(state: &Convention, id: &str) -> Result<(), Rejection> {
    match state.people.get(id) {
        None => reject(Code::NotFound, format!("no participant {id}")),
        Some(p) if p.has(Role::Guarantor) => reject(
            Code::Invalid,
            format!("{id} is a guarantor: guarantors observe"),
        ),
        Some(_) => Ok(()),
    }
}

/// `starting`: checked again at the start (a rotation sequence names no rotation: it starts
/// the one planned then, which may be planned after the sequence is prepared).
fn check_action(state: &Convention, action: &Action, starting: bool) -> Result<(), Rejection> {
    match action {
        Action::Plenary | Action::Break => Ok(()),
        Action::Breakouts {
            rooms,
            grouping,
            duration_ms,
            warning_ms,
        } => {
            check_duration(*duration_ms, "the breakout duration")?;
            if *warning_ms > MAX_DURATION_MS {
                return reject(Code::Invalid, "the warning must be at most 12 hours");
            }
            let room_count = match rooms {
                BreakoutRooms::New { count, names } => match (count, names.is_empty()) {
                    (Some(_), false) => {
                        return reject(Code::Invalid, "give a room count or names, not both")
                    }
                    (Some(0), true) | (None, true) => {
                        return reject(Code::Invalid, "a breakouts sequence needs rooms")
                    }
                    (Some(n), true) if *n as usize > MAX_ROOMS => {
                        return reject(Code::Invalid, format!("at most {MAX_ROOMS} rooms"))
                    }
                    (Some(n), true) => *n as usize,
                    (None, false) => {
                        if names.len() > MAX_ROOMS {
                            return reject(Code::Invalid, format!("at most {MAX_ROOMS} rooms"));
                        }
                        for n in names {
                            let n = n.trim();
                            if n.is_empty() || n.chars().count() > MAX_NAME_CHARS {
                                return reject(
                                    Code::Invalid,
                                    format!("a room name is 1 to {MAX_NAME_CHARS} characters"),
                                );
                            }
                        }
                        names.len()
                    }
                },
                BreakoutRooms::Existing(ids) => {
                    if ids.is_empty() {
                        return reject(Code::Invalid, "a breakouts sequence needs rooms");
                    }
                    if ids.len() > MAX_ROOMS {
                        return reject(Code::Invalid, format!("at most {MAX_ROOMS} rooms"));
                    }
                    let mut seen = BTreeSet::new();
                    for r in ids {
                        if r == PLENARY || state.room(r).is_none() {
                            return reject(Code::NotFound, format!("no breakout room {r}"));
                        }
                        if !seen.insert(r) {
                            return reject(Code::Invalid, format!("room {r} is listed twice"));
                        }
                    }
                    ids.len()
                }
            };
            match grouping {
                Grouping::Random => {}
                Grouping::Balanced(attr) => {
                    check_text(attr, MAX_NAME_CHARS, "an attribute name")?;
                }
                Grouping::Manual(groups) => {
                    if groups.is_empty() || groups.len() > room_count {
                        return reject(
                            Code::Invalid,
                            format!("give 1 to {room_count} groups, one per room"),
                        );
                    }
                    if groups.iter().map(Vec::len).sum::<usize>() > MAX_PEOPLE {
                        return reject(Code::Invalid, format!("at most {MAX_PEOPLE} people"));
                    }
                    let mut seen = BTreeSet::new();
                    for p in groups.iter().flatten() {
                        check_person(state, p)?;
                        if !seen.insert(p) {
                            return reject(Code::Invalid, format!("{p} is in two groups"));
                        }
                    }
                }
            }
            Ok(())
        }
        Action::Polls(polls) => {
            if polls.is_empty() || polls.len() > MAX_SEQUENCE_POLLS {
                return reject(
                    Code::Invalid,
                    format!("a sequence opens 1 to {MAX_SEQUENCE_POLLS} polls"),
                );
            }
            let mut seen = BTreeSet::new();
            for id in polls {
                match state.polls.get(id) {
                    None => return reject(Code::NotFound, format!("no poll {id}")),
                    Some(p) if p.status != PollStatus::Draft => {
                        return reject(Code::Conflict, format!("poll {id} is not a draft"))
                    }
                    Some(_) => {}
                }
                if !seen.insert(id) {
                    return reject(Code::Invalid, format!("poll {id} is listed twice"));
                }
            }
            Ok(())
        }
        Action::Rotation if !starting => Ok(()),
        Action::Rotation => match &state.rotation {
            Some(r) if r.phase == Phase::Planned => Ok(()),
            Some(_) => reject(
                Code::Conflict,
                "the rotation has already run: plan a new one first",
            ),
            None => reject(Code::NotFound, "no rotation is planned: plan it first"),
        },
        Action::Hearing { hearing } => match state.hearings.get(hearing) {
            None => reject(Code::NotFound, format!("no hearing {hearing}")),
            Some(h) if h.status != HearingStatus::Planned => reject(
                Code::Conflict,
                format!("hearing {hearing} has already been opened"),
            ),
            Some(_) => Ok(()),
        },
    }
}

/// One step of a sequence's start. Planned against the state before the start; each step's
/// command is built against the state the steps before it left (rooms made by one step are
/// assigned by the next).
enum Step {
    CloseBreakouts,
    StopRotation,
    CreateRooms,
    /// Assign over the listed rooms, or over the rooms from this index on (those the
    /// sequence made).
    Assign(Result<Vec<RoomId>, usize>),
    OpenBreakouts,
    OpenPoll(PollId),
    StartRotation,
    OpenHearing(String),
    CloseHearing(String),
}

fn plan(state: &Convention, action: &Action) -> Vec<Step> {
    match action {
        // Recall everyone: whatever keeps people away from the plenary ends.
        Action::Plenary => {
            let mut out = Vec::new();
            if state.breakout.is_some() {
                out.push(Step::CloseBreakouts);
            }
            if state.rotation.as_ref().is_some_and(|r| r.running()) {
                out.push(Step::StopRotation);
            }
            // A hearing ends with its sequence: the next plenary closes it.
            out.extend(
                state
                    .hearings
                    .values()
                    .filter(|h| h.status == HearingStatus::Open)
                    .map(|h| Step::CloseHearing(h.id.clone())),
            );
            out
        }
        Action::Breakouts { rooms, .. } => match rooms {
            // Rooms of before stay (a planned rotation's among them): the new ones follow
            // them, and the assignment is over the new ones only.
            BreakoutRooms::New { .. } => vec![
                Step::CreateRooms,
                Step::Assign(Err(state.rooms.len())),
                Step::OpenBreakouts,
            ],
            BreakoutRooms::Existing(ids) => {
                vec![Step::Assign(Ok(ids.clone())), Step::OpenBreakouts]
            }
        },
        Action::Polls(polls) => polls.iter().cloned().map(Step::OpenPoll).collect(),
        Action::Rotation => vec![Step::StartRotation],
        Action::Hearing { hearing } => vec![Step::OpenHearing(hearing.clone())],
        Action::Break => Vec::new(),
    }
}

/// The label (for errors) and the command of a step, against the scratch state `sim`.
fn command(sim: &Convention, step: &Step, action: &Action, ctx: &Context) -> (String, Command) {
    match step {
        Step::CloseBreakouts => ("close the breakout rooms".into(), Command::CloseBreakouts),
        Step::StopRotation => ("stop the expert rotation".into(), Command::StopRotation),
        Step::CreateRooms => {
            let (count, names) = match action {
                Action::Breakouts {
                    rooms: BreakoutRooms::New { count, names },
                    ..
                } => (*count, names.clone()),
                _ => (None, Vec::new()),
            };
            (
                "create the rooms".into(),
                Command::CreateRooms { count, names },
            )
        }
        Step::Assign(rooms) => {
            let rooms: Vec<RoomId> = match rooms {
                Ok(ids) => ids.clone(),
                Err(from) => sim.rooms.iter().skip(*from).map(|r| r.id.clone()).collect(),
            };
            let grouping = match action {
                Action::Breakouts { grouping, .. } => grouping.clone(),
                _ => Grouping::Random,
            };
            ("assign people".into(), assign(sim, &grouping, &rooms, ctx))
        }
        Step::OpenBreakouts => {
            let (duration_ms, warning_ms) = match action {
                Action::Breakouts {
                    duration_ms,
                    warning_ms,
                    ..
                } => (*duration_ms, *warning_ms),
                _ => (0, 0),
            };
            (
                "open the breakout rooms".into(),
                Command::OpenBreakouts {
                    duration_ms,
                    warning_ms,
                },
            )
        }
        Step::OpenPoll(p) => (
            format!("open poll {p}"),
            Command::OpenPoll { poll: p.clone() },
        ),
        Step::StartRotation => ("start the expert rotation".into(), Command::StartRotation),
        Step::CloseHearing(hearing) => (
            format!("close hearing {hearing}"),
            Command::CloseHearing {
                hearing: hearing.clone(),
            },
        ),
        Step::OpenHearing(hearing) => (
            format!("open hearing {hearing}"),
            Command::OpenHearing {
                hearing: hearing.clone(),
            },
        ),
    }
}

/// The assignment of a breakouts sequence over `rooms`, as an `AssignRooms` command for the
/// rooms' own `decide` to check. Random and balanced draws over a subset of the rooms use the
/// same functions as `assign_rooms`, with the same candidates (the citizens online).
fn assign(sim: &Convention, grouping: &Grouping, rooms: &[RoomId], ctx: &Context) -> Command {
    // The draw's own rooms (`AssignRooms` by draw fills those): otherwise drawn here, over
    // exactly the sequence's rooms.
    let all_rooms = super::decide::draw_rooms(sim) == rooms;
    let method = match grouping {
        Grouping::Random if all_rooms => AssignMethod::Random,
        Grouping::Balanced(a) if all_rooms => AssignMethod::Balanced(a.trim().to_string()),
        Grouping::Manual(groups) => AssignMethod::Manual(
            groups
                .iter()
                .zip(rooms)
                .flat_map(|(g, r)| g.iter().map(move |p| (p.clone(), r.clone())))
                .collect(),
        ),
        Grouping::Random | Grouping::Balanced(_) => {
            let candidates = super::decide::assign_candidates(sim, true, ctx);
            AssignMethod::Manual(match grouping {
                Grouping::Balanced(a) => assign_balanced(&candidates, rooms, a.trim(), ctx.seed),
                _ => assign_random(&candidates, rooms, ctx.seed),
            })
        }
    };
    Command::AssignRooms {
        method,
        participants: None,
        only_present: true,
    }
}

/// Run a sequence's steps against a scratch copy of the state; every event, or the first
/// step's refusal, named.
fn perform(
    state: &Convention,
    actor: &Actor,
    seq: &Sequence,
    mut out: Vec<Event>,
    ctx: &Context,
) -> Decision {
    let mut sim = state.clone();
    let record = |sim: &mut Convention, event: &Event| {
        sim.apply(&Record {
            seq: sim.seq + 1,
            at: ctx.now,
            actor: actor.clone(),
            event: event.clone(),
            request: None,
        })
    };
    for e in &out {
        record(&mut sim, e);
    }
    let name = |n: usize, label: &str, why: &str| {
        format!(
            "sequence {} ({}), action {n} ({label}): {why}",
            seq.id, seq.spec.title
        )
    };
    if let Action::Rotation = &seq.spec.action {
        // Every expert still in the plan must be here: a round without its expert would
        // leave a group alone in an empty room.
        if let Some(rot) = &sim.rotation {
            for (i, e) in rot.plan.experts.iter().enumerate() {
                if !rot.absent.contains(&i) && !ctx.present.contains(e) {
                    return reject(
                        Code::Conflict,
                        name(
                            1,
                            "start the expert rotation",
                            &format!("expert {e} is not connected: mark them absent or wait"),
                        ),
                    );
                }
            }
        }
    }
    for (i, step) in plan(state, &seq.spec.action).iter().enumerate() {
        let (label, command) = command(&sim, step, &seq.spec.action, ctx);
        let events = super::decide(&sim, actor, &command, ctx)
            .map_err(|r| Rejection::new(r.code, name(i + 1, &label, &r.message)))?;
        for e in &events {
            record(&mut sim, e);
        }
        // A breakouts sequence's assignment names its method, not how it was computed.
        let events = events.into_iter().map(|e| match (e, &seq.spec.action) {
            (
                Event::RoomsAssigned { assignments, .. },
                Action::Breakouts {
                    grouping: g @ (Grouping::Random | Grouping::Balanced(_)),
                    ..
                },
            ) => Event::RoomsAssigned {
                method: match g {
                    Grouping::Balanced(a) => format!("balanced:{}", a.trim()),
                    _ => "random".to_string(),
                },
                assignments,
            },
            (e, _) => e,
        });
        out.extend(events);
    }
    Ok(out)
}

/// Decide a run-sheet command (the actor's permission was checked by the caller).
pub(super) fn decide(
    state: &Convention,
    actor: &Actor,
    command: &Command,
    ctx: &Context,
) -> Decision {
    let now = ctx.now;
    let sheet = &state.runsheet;
    match command {
        Command::AddSequence { spec, before } => {
            if sheet.sequences.len() >= MAX_SEQUENCES {
                return reject(
                    Code::Invalid,
                    format!("a run sheet holds at most {MAX_SEQUENCES} sequences"),
                );
            }
            let id = format!("s{}", sheet.made + 1);
            check_before(state, before.as_deref(), &id)?;
            Ok(vec![Event::SequenceAdded {
                sequence: id,
                spec: check_spec(state, spec)?,
                before: before.clone(),
            }])
        }
        Command::EditSequence { sequence, spec } => {
            planned(state, sequence)?;
            Ok(vec![Event::SequenceEdited {
                sequence: sequence.clone(),
                spec: check_spec(state, spec)?,
            }])
        }
        Command::DeleteSequence { sequence } => {
            planned(state, sequence)?;
            Ok(vec![Event::SequenceDeleted {
                sequence: sequence.clone(),
            }])
        }
        Command::MoveSequence { sequence, before } => {
            planned(state, sequence)?;
            check_before(state, before.as_deref(), sequence)?;
            Ok(vec![Event::SequenceMoved {
                sequence: sequence.clone(),
                before: before.clone(),
            }])
        }
        Command::StartSequence {
            sequence,
            end_running,
        } => {
            let seq = planned(state, sequence)?;
            let mut out = Vec::new();
            if let Some(r) = sheet.running() {
                if !end_running {
                    return reject(
                        Code::Conflict,
                        format!(
                            "sequence {} ({}) is running: end it first, or start with end_running",
                            r.id, r.spec.title
                        ),
                    );
                }
                out.push(ended(r, now));
            }
            // Prepared ahead: what it refers to may have gone since (a poll deleted).
            check_action(state, &seq.spec.action, true).map_err(|r| {
                Rejection::new(
                    r.code,
                    format!("sequence {} ({}): {}", seq.id, seq.spec.title, r.message),
                )
            })?;
            out.push(Event::SequenceStarted {
                sequence: seq.id.clone(),
                ends_at: now + seq.spec.planned_ms,
            });
            perform(state, actor, seq, out, ctx)
        }
        Command::ExtendSequence { by_ms } => {
            check_duration(*by_ms, "the extension")?;
            let Some(r) = sheet.running() else {
                return reject(Code::Conflict, "no sequence is running");
            };
            let SequenceStatus::Running { ends_at, .. } = r.status else {
                return reject(Code::Conflict, "no sequence is running");
            };
            if r.extensions.len() >= MAX_EXTENSIONS {
                return reject(
                    Code::Conflict,
                    format!(
                        "a sequence is extended at most {MAX_EXTENSIONS} times: start the next one"
                    ),
                );
            }
            let mut out = vec![Event::SequenceExtended {
                sequence: r.id.clone(),
                by_ms: *by_ms,
                ends_at: ends_at.max(now) + by_ms,
            }];
            // A breakouts sequence's rooms stay open as long: their own timer moves too.
            if matches!(r.spec.action, Action::Breakouts { .. }) && state.breakout.is_some() {
                out.extend(super::decide(
                    state,
                    actor,
                    &Command::ExtendBreakouts { by_ms: *by_ms },
                    ctx,
                )?);
            }
            Ok(out)
        }
        Command::EndSequence => match sheet.running() {
            Some(r) => Ok(vec![ended(r, now)]),
            None => reject(Code::Conflict, "no sequence is running"),
        },
        Command::SkipSequence { sequence } => {
            planned(state, sequence)?;
            Ok(vec![Event::SequenceSkipped {
                sequence: sequence.clone(),
            }])
        }
        _ => reject(Code::Invalid, "not a run-sheet command"),
    }
}

fn ended(r: &Sequence, now: Millis) -> Event {
    let early = match r.status {
        SequenceStatus::Running { ends_at, .. } => now < ends_at,
        _ => false,
    };
    Event::SequenceEnded {
        sequence: r.id.clone(),
        early,
    }
}

/// Apply a run-sheet event.
pub(super) fn apply(state: &mut Convention, event: &Event, at: Millis) {
    let sheet = &mut state.runsheet;
    match event {
        Event::SequenceAdded {
            sequence,
            spec,
            before,
        } => {
            sheet.made += 1;
            sheet.insert(
                Sequence {
                    id: sequence.clone(),
                    spec: spec.clone(),
                    status: SequenceStatus::Planned,
                    extensions: Vec::new(),
                },
                before.as_deref(),
            );
        }
        Event::SequenceEdited { sequence, spec } => {
            if let Some(s) = sheet.get_mut(sequence) {
                s.spec = spec.clone();
            }
        }
        Event::SequenceDeleted { sequence } => sheet.sequences.retain(|s| &s.id != sequence),
        Event::SequenceMoved { sequence, before } => {
            if let Some(i) = sheet.sequences.iter().position(|s| &s.id == sequence) {
                let s = sheet.sequences.remove(i);
                sheet.insert(s, before.as_deref());
            }
        }
        Event::SequenceStarted { sequence, ends_at } => {
            if let Some(s) = sheet.get_mut(sequence) {
                s.status = SequenceStatus::Running {
                    started_at: at,
                    ends_at: *ends_at,
                };
            }
        }
        Event::SequenceExtended {
            sequence,
            by_ms,
            ends_at,
        } => {
            if let Some(s) = sheet.get_mut(sequence) {
                if let SequenceStatus::Running { ends_at: e, .. } = &mut s.status {
                    *e = *ends_at;
                }
                s.extensions.push(Extension { at, by_ms: *by_ms });
            }
        }
        Event::SequenceEnded { sequence, early } => {
            if let Some(s) = sheet.get_mut(sequence) {
                if let SequenceStatus::Running { started_at, .. } = s.status {
                    s.status = SequenceStatus::Done {
                        started_at,
                        ended_at: at,
                        early: *early,
                    };
                }
            }
        }
        Event::SequenceSkipped { sequence } => {
            if let Some(s) = sheet.get_mut(sequence) {
                s.status = SequenceStatus::Skipped { at };
            }
        }
        _ => {}
    }
}
