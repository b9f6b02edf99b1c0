//! Glue for the domain tests: decide and apply in one call, and conventions with a roster.
//!
//! Every test binary uses a different part of it, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use convene::domain::{
    decide, Actor, Code, Command, Context, Convention, Event, Millis, NewPerson, ParticipantId,
    Record, Role,
};

/// A fixed "now" for the start of every test: 2023-11-14, in ms since the epoch.
pub const T0: Millis = 1_700_000_000_000;

/// The 24 communes of Nantes Métropole, for realistic rosters.
pub const COMMUNES: [&str; 24] = convene::demo::COMMUNES;

pub const AGE_BANDS: [&str; 4] = ["16-24", "25-39", "40-59", "60+"];
pub const GENDERS: [&str; 2] = ["F", "M"];

/// Decide a command against `state` and, if accepted, apply its events as records
/// `seq + 1..` at `ctx.now`. Returns the events, or the rejection's code (state untouched).
pub fn step(
    state: &mut Convention,
    actor: &Actor,
    command: &Command,
    ctx: &Context,
) -> Result<Vec<Record>, Code> {
    let events = decide(state, actor, command, ctx).map_err(|r| r.code)?;
    let mut records = Vec::with_capacity(events.len());
    for event in events {
        let record = Record {
            seq: state.seq + 1,
            at: ctx.now,
            actor: actor.clone(),
            event,
            request: None,
        };
        state.apply(&record);
        records.push(record);
    }
    Ok(records)
}

/// Every state a test reaches must come back equal from its stored form (what a node loads
/// instead of folding the whole log), but for the secret ballots, which only the ballot box
/// keeps. Checked after every accepted command of every domain test.
fn check_stored_state(state: &Convention) {
    let stored = convene::wire::state_out(state, &Default::default(), &Default::default());
    let json = serde_json::to_string(&stored).expect("a stored state serializes");
    let back: convene_protocol::StoredState =
        serde_json::from_str(&json).expect("a stored state parses back");
    let restored = convene::wire::state_in(back).expect("the same format");
    assert_eq!(
        restored.convention,
        convene::wire::without_secret_ballots(state),
        "the state read back from its stored form differs"
    );
}

/// A convention under test: its state, every record applied so far, and the context
/// (time, seed, who is connected) that the next command is decided in.
#[derive(Clone, Debug)]
pub struct Sim {
    pub state: Convention,
    pub log: Vec<Record>,
    pub now: Millis,
    pub seed: u64,
    pub present: BTreeSet<ParticipantId>,
}

impl Default for Sim {
    fn default() -> Self {
        Sim {
            state: Convention::default(),
            log: Vec::new(),
            now: T0,
            seed: 7,
            present: BTreeSet::new(),
        }
    }
}

impl Sim {
    /// A convention created by the organizer, with nobody on its roster yet.
    pub fn created(name: &str) -> Sim {
        let mut sim = Sim::default();
        sim.org(Command::CreateConvention {
            name: name.to_string(),
        });
        sim
    }

    /// Decide and apply; the events, or the rejection's code.
    pub fn exec(&mut self, actor: &Actor, command: &Command) -> Result<Vec<Event>, Code> {
        let ctx = Context {
            now: self.now,
            seed: self.seed,
            present: &self.present,
        };
        let records = step(&mut self.state, actor, command, &ctx)?;
        let events = records.iter().map(|r| r.event.clone()).collect();
        self.log.extend(records);
        check_stored_state(&self.state);
        Ok(events)
    }

    /// A command by a participant.
    pub fn by(&mut self, who: &str, command: Command) -> Result<Vec<Event>, Code> {
        self.exec(&Actor::Participant(who.to_string()), &command)
    }

    /// A command by a participant that must be accepted.
    pub fn ok(&mut self, who: &str, command: Command) -> Vec<Event> {
        let shown = format!("{command:?}");
        self.by(who, command)
            .unwrap_or_else(|code| panic!("{who}: {shown} refused: {code:?}"))
    }

    /// A command by the organizer that must be accepted.
    pub fn org(&mut self, command: Command) -> Vec<Event> {
        let shown = format!("{command:?}");
        self.exec(&Actor::Organizer, &command)
            .unwrap_or_else(|code| panic!("organizer: {shown} refused: {code:?}"))
    }

    /// The server's timer ticks at the current time.
    pub fn tick(&mut self) -> Vec<Event> {
        self.exec(&Actor::Timer, &Command::Tick)
            .expect("a tick is never refused")
    }

    /// Move the clock to `T0 + offset`.
    pub fn at(&mut self, offset: Millis) -> &mut Self {
        self.now = T0 + offset;
        self
    }

    /// Add people to the roster; their new ids, in order.
    pub fn add(&mut self, people: Vec<NewPerson>) -> Vec<ParticipantId> {
        self.org(Command::AddParticipants { people })
            .into_iter()
            .map(|e| match e {
                Event::ParticipantAdded { person } => person.id,
                other => panic!("AddParticipants produced {other:?}"),
            })
            .collect()
    }

    /// The state folded again from the log, as a restarted server would.
    pub fn replayed(&self) -> Convention {
        Convention::from_log(&self.log)
    }

    pub fn location(&self, who: &str) -> &str {
        self.state.location_of(who)
    }

    /// The queue of a room, in the room's order.
    pub fn queue(&self, room: &str) -> Vec<ParticipantId> {
        let r = self
            .state
            .room(room)
            .unwrap_or_else(|| panic!("no room {room}"));
        self.state.queue_in_order(r)
    }

    /// Who holds the floor in a room.
    pub fn speaker(&self, room: &str) -> Option<&str> {
        self.state
            .room(room)?
            .floor
            .as_ref()
            .map(|f| f.participant.as_str())
    }

    pub fn floor_time(&self, who: &str) -> u64 {
        self.state.floor_time.get(who).copied().unwrap_or(0)
    }

    /// The ids of the breakout rooms, in order of creation.
    pub fn breakout_rooms(&self) -> Vec<String> {
        self.state
            .rooms
            .iter()
            .skip(1)
            .map(|r| r.id.clone())
            .collect()
    }
}

pub fn person(name: &str, roles: &[Role], attributes: &[(&str, &str)]) -> NewPerson {
    NewPerson {
        name: name.to_string(),
        roles: roles.to_vec(),
        attributes: attributes
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

/// A citizen with a commune, an age band and a gender.
pub fn citizen(name: &str, commune: &str, age: &str, gender: &str) -> NewPerson {
    person(
        name,
        &[Role::Citizen],
        &[("commune", commune), ("age", age), ("gender", gender)],
    )
}

/// The name of commune `i`: the real ones first, then made-up ones.
pub fn commune(i: usize) -> String {
    match COMMUNES.get(i) {
        Some(c) => c.to_string(),
        None => format!("Commune {i}"),
    }
}

/// The shape of a roster. Citizen `i` lives in commune `i % communes`, is in age band
/// `i % 4` and of gender `i % 2`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Roster {
    pub facilitators: usize,
    pub guarantors: usize,
    pub rapporteurs: usize,
    pub experts: usize,
    pub citizens: usize,
    pub communes: usize,
}

/// The ids the roster's people received, by role.
#[derive(Clone, Debug, Default)]
pub struct Ids {
    pub facilitators: Vec<ParticipantId>,
    pub guarantors: Vec<ParticipantId>,
    pub rapporteurs: Vec<ParticipantId>,
    pub experts: Vec<ParticipantId>,
    pub citizens: Vec<ParticipantId>,
}

impl Ids {
    pub fn facilitator(&self) -> &str {
        &self.facilitators[0]
    }
    pub fn guarantor(&self) -> &str {
        &self.guarantors[0]
    }
    pub fn citizen(&self, i: usize) -> &str {
        &self.citizens[i]
    }
}

/// The citizens of a roster, as `AddParticipants` wants them.
pub fn citizens(count: usize, communes: usize) -> Vec<NewPerson> {
    (0..count)
        .map(|i| {
            let name = format!("Citoyen·ne {}", i + 1);
            citizen(
                &name,
                &commune(i % communes.max(1)),
                AGE_BANDS[i % 4],
                GENDERS[i % 2],
            )
        })
        .collect()
}

/// A convention created by the organizer with this roster, everyone in the plenary.
pub fn convention(roster: Roster) -> (Sim, Ids) {
    let mut sim = Sim::created("Convention citoyenne de test");
    let mut ids = Ids::default();
    let groups: [(usize, Role, &str); 4] = [
        (roster.facilitators, Role::Facilitator, "Animateur·rice"),
        (roster.guarantors, Role::Guarantor, "Garant·e"),
        (roster.rapporteurs, Role::Rapporteur, "Rapporteur·e"),
        (roster.experts, Role::Expert, "Expert·e"),
    ];
    for (count, role, label) in groups {
        if count == 0 {
            continue;
        }
        let people = (0..count)
            .map(|i| person(&format!("{label} {}", i + 1), &[role], &[]))
            .collect();
        let added = sim.add(people);
        match role {
            Role::Facilitator => ids.facilitators = added,
            Role::Guarantor => ids.guarantors = added,
            Role::Rapporteur => ids.rapporteurs = added,
            Role::Expert => ids.experts = added,
            Role::Citizen => unreachable!("citizens are added below"),
        }
    }
    if roster.citizens > 0 {
        ids.citizens = sim.add(citizens(roster.citizens, roster.communes));
    }
    (sim, ids)
}

/// The usual small convention: 2 facilitators, 1 guarantor, 12 citizens from 3 communes.
pub fn small() -> (Sim, Ids) {
    convention(Roster {
        facilitators: 2,
        guarantors: 1,
        citizens: 12,
        communes: 3,
        ..Roster::default()
    })
}

/// The id the domain gave the `n`th person (from 1) of the `small()` roster: 1 and 2 are
/// facilitators, 3 the guarantor, 4 to 15 citizens. Tables stay readable without assuming
/// how the domain spells ids.
pub fn pid(n: usize) -> &'static str {
    static IDS: OnceLock<Vec<ParticipantId>> = OnceLock::new();
    let ids = IDS.get_or_init(|| {
        let (_, ids) = small();
        [ids.facilitators, ids.guarantors, ids.citizens].concat()
    });
    match n.checked_sub(1).and_then(|i| ids.get(i)) {
        Some(id) => id,
        None => panic!("small() has no person {n}"),
    }
}

/// An id that no roster holds.
pub const NOBODY: &str = "nobody";

/// How many people each room got, by room.
pub fn room_sizes(assignments: &[(ParticipantId, String)]) -> BTreeMap<String, usize> {
    let mut sizes = BTreeMap::new();
    for (_, r) in assignments {
        *sizes.entry(r.clone()).or_insert(0) += 1;
    }
    sizes
}

/// The assignments of a `RoomsAssigned` event among `events`.
pub fn assignments_of(events: &[Event]) -> Vec<(ParticipantId, String)> {
    events
        .iter()
        .find_map(|e| match e {
            Event::RoomsAssigned { assignments, .. } => Some(assignments.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no RoomsAssigned among {events:?}"))
}

/// Largest minus smallest, counting rooms that got nobody as 0.
pub fn spread<'a>(counts: impl IntoIterator<Item = &'a usize>, rooms: usize) -> usize {
    let counts: Vec<usize> = counts.into_iter().copied().collect();
    let max = counts.iter().copied().max().unwrap_or(0);
    let min = if counts.len() < rooms {
        0
    } else {
        counts.iter().copied().min().unwrap_or(0)
    };
    max - min
}

// Polls.

use convene::domain::{Poll, PollId, PollKind, PollSpec};

/// Options from their labels.
pub fn options(labels: &[&str]) -> Vec<String> {
    labels.iter().map(|l| l.to_string()).collect()
}

/// A named poll for citizens, results hidden until revealed, no quorum, no timer, for the
/// whole convention: change the fields a test is about.
pub fn poll_spec(question: &str, kind: PollKind) -> PollSpec {
    PollSpec {
        question: question.to_string(),
        kind,
        secret: false,
        live_results: false,
        voters: vec![Role::Citizen],
        quorum: None,
        duration_ms: None,
        room: None,
    }
}

impl Sim {
    /// Draft a poll (must be accepted); the id the domain gave it.
    pub fn draft_poll(&mut self, by: &str, spec: PollSpec) -> PollId {
        let events = self.ok(by, Command::DraftPoll { spec });
        events
            .iter()
            .find_map(|e| match e {
                Event::PollDrafted { poll, .. } => Some(poll.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no PollDrafted among {events:?}"))
    }

    /// Draft and open a poll (both must be accepted); its id.
    pub fn open_poll(&mut self, by: &str, spec: PollSpec) -> PollId {
        let id = self.draft_poll(by, spec);
        self.ok(by, Command::OpenPoll { poll: id.clone() });
        id
    }

    /// A poll of the state, which must exist.
    pub fn poll(&self, id: &str) -> &Poll {
        self.state
            .polls
            .get(id)
            .unwrap_or_else(|| panic!("no poll {id}"))
    }
}

/// The records of a log that have a place in it (they moved `seq` when applied): what the
/// store's log holds, without what went to a secret poll's ballot box.
pub fn log_proper(records: &[Record]) -> Vec<Record> {
    let mut state = Convention::default();
    let mut kept = Vec::new();
    for r in records {
        let before = state.seq;
        state.apply(r);
        if state.seq != before {
            kept.push(r.clone());
        }
    }
    kept
}
