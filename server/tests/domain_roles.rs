//! Roles, enforced by the domain: every command against every kind of actor, the roster's
//! rules about roles (a guarantor holds no other), and the organizer's own commands.

mod common;

use common::{options, person, poll_spec, Sim, NOBODY};
use convene::domain::{
    allowed, runsheet, Actor, AssignMethod, Ballot, Code, Command, Event, NewPerson, Permission,
    PollKind, PollSpec, QueueOrder, Role, SequenceSpec,
};

/// The actors of the table, in the order of its columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Organizer,
    Timer,
    Citizen,
    Facilitator,
    Rapporteur,
    Guarantor,
    Expert,
    /// The public audience, through the public link.
    Public,
}

const COLUMNS: [Who; 8] = [
    Who::Organizer,
    Who::Timer,
    Who::Citizen,
    Who::Facilitator,
    Who::Rapporteur,
    Who::Guarantor,
    Who::Expert,
    Who::Public,
];

/// How many variants `Command` has; `allow_list` matches them all, `samples` names them all.
const COMMAND_VARIANTS: usize = 83;

/// Who may send each command: one column per actor of `COLUMNS`, `x` allowed, `.` refused.
/// The match is exhaustive: a new command does not compile until its row is written here.
fn allow_list(command: &Command) -> (&'static str, &'static str) {
    use Command::*;
    match command {
        //                                               O T C F R G E P
        CreateConvention { .. } => ("CreateConvention", "x . . . . . . ."),
        AddParticipants { .. } => ("AddParticipants", "x . . . . . . ."),
        IssueInvites { .. } => ("IssueInvites", "x . . . . . . ."),
        RevokeInvite { .. } => ("RevokeInvite", "x . . . . . . ."),
        CreateRooms { .. } => ("CreateRooms", ". . . x . . . ."),
        ClearRooms => ("ClearRooms", ". . . x . . . ."),
        AssignRooms { .. } => ("AssignRooms", ". . . x . . . ."),
        OpenBreakouts { .. } => ("OpenBreakouts", ". . . x . . . ."),
        ExtendBreakouts { .. } => ("ExtendBreakouts", ". . . x . . . ."),
        CloseBreakouts => ("CloseBreakouts", ". . . x . . . ."),
        Broadcast { .. } => ("Broadcast", ". . . x . . . ."),
        MoveParticipant { .. } => ("MoveParticipant", ". . . x . . . ."),
        Visit { .. } => ("Visit", ". . . x . x . ."),
        ResolveCall { .. } => ("ResolveCall", ". . . x . . . ."),
        GiveFloor { .. } => ("GiveFloor", ". . . x . . . ."),
        EndFloor { .. } => ("EndFloor", ". . . x . . . ."),
        SetQueueOrder { .. } => ("SetQueueOrder", ". . . x . . . ."),
        SetSpeakingLimit { .. } => ("SetSpeakingLimit", ". . . x . . . ."),
        SetFloorLimit { .. } => ("SetFloorLimit", ". . . x . . . ."),
        SendChat { .. } => ("SendChat", ". . x x x . x ."),
        RaiseHand { .. } => ("RaiseHand", ". . x x x . x ."),
        LowerHand => ("LowerHand", ". . x x x . x ."),
        YieldFloor => ("YieldFloor", ". . x x x . x ."),
        CallFacilitator { .. } => ("CallFacilitator", ". . x . x . x ."),
        DraftPoll { .. } => ("DraftPoll", ". . . x . . . ."),
        EditPoll { .. } => ("EditPoll", ". . . x . . . ."),
        DeletePoll { .. } => ("DeletePoll", ". . . x . . . ."),
        OpenPoll { .. } => ("OpenPoll", ". . . x . . . ."),
        ClosePoll { .. } => ("ClosePoll", ". . . x . . . ."),
        RevealResults { .. } => ("RevealResults", ". . . x . . . ."),
        PublishResults { .. } => ("PublishResults", ". . . x . . . ."),
        // The allow-list only: each poll then narrows it to its own voters.
        Vote { .. } => ("Vote", ". . x x x . x ."),
        PlanRotation { .. } => ("PlanRotation", ". . . x . . . ."),
        StartRotation => ("StartRotation", ". . . x . . . ."),
        PauseRotation => ("PauseRotation", ". . . x . . . ."),
        ResumeRotation => ("ResumeRotation", ". . . x . . . ."),
        ExtendRound { .. } => ("ExtendRound", ". . . x . . . ."),
        SkipRound => ("SkipRound", ". . . x . . . ."),
        StopRotation => ("StopRotation", ". . . x . . . ."),
        MarkExpertAbsent { .. } => ("MarkExpertAbsent", ". . . x . . . ."),
        AddToGroup { .. } => ("AddToGroup", ". . . x . . . ."),
        AskQuestion { .. } => ("AskQuestion", ". . x x x . x ."),
        // The allow-list only: the rotation then narrows it to the expert of the room.
        AnswerQuestion { .. } => ("AnswerQuestion", ". . . x . . x ."),
        CreateDocument { .. } => ("CreateDocument", ". . . x . . . ."),
        SetWritingGroup { .. } => ("SetWritingGroup", ". . . x . . . ."),
        OpenDocument { .. } => ("OpenDocument", ". . . x . . . ."),
        CloseDocument { .. } => ("CloseDocument", ". . . x . . . ."),
        NameVersion { .. } => ("NameVersion", ". . . x x . . ."),
        // Run sheet.
        AddSequence { .. } => ("AddSequence", ". . . x . . . ."),
        EditSequence { .. } => ("EditSequence", ". . . x . . . ."),
        DeleteSequence { .. } => ("DeleteSequence", ". . . x . . . ."),
        MoveSequence { .. } => ("MoveSequence", ". . . x . . . ."),
        StartSequence { .. } => ("StartSequence", ". . . x . . . ."),
        ExtendSequence { .. } => ("ExtendSequence", ". . . x . . . ."),
        EndSequence => ("EndSequence", ". . . x . . . ."),
        SkipSequence { .. } => ("SkipSequence", ". . . x . . . ."),
        // Moderation: facilitators act; everyone but guarantors reports.
        HideChat { .. } => ("HideChat", ". . . x . . . ."),
        UnhideChat { .. } => ("UnhideChat", ". . . x . . . ."),
        ReportChat { .. } => ("ReportChat", ". . x x x . x ."),
        DismissReport { .. } => ("DismissReport", ". . . x . . . ."),
        Mute { .. } => ("Mute", ". . . x . . . ."),
        Unmute { .. } => ("Unmute", ". . . x . . . ."),
        RemoveParticipant { .. } => ("RemoveParticipant", ". . . x . . . ."),
        Readmit { .. } => ("Readmit", ". . . x . . . ."),
        Tick => ("Tick", ". x . . . . . ."),
        // Hearings: questions from the floor.
        CreateHearing { .. } => ("CreateHearing", ". . . x . . . ."),
        OpenHearing { .. } => ("OpenHearing", ". . . x . . . ."),
        CloseHearing { .. } => ("CloseHearing", ". . . x . . . ."),
        AskHearingQuestion { .. } => ("AskHearingQuestion", ". . x x x . . ."),
        SupportQuestion { .. } => ("SupportQuestion", ". . x x x . . ."),
        WithdrawSupport { .. } => ("WithdrawSupport", ". . x x x . . ."),
        ApproveQuestion { .. } => ("ApproveQuestion", ". . . x . . . ."),
        MergeQuestion { .. } => ("MergeQuestion", ". . . x . . . ."),
        HideQuestion { .. } => ("HideQuestion", ". . . x . . . ."),
        MarkAnswering { .. } => ("MarkAnswering", ". . . x . . . ."),
        MarkAnswered { .. } => ("MarkAnswered", ". . . x . . . ."),
        // Public audience (§24).
        CreatePublicLink { .. } => ("CreatePublicLink", "x . . . . . . ."),
        RevokePublicLink => ("RevokePublicLink", "x . . . . . . ."),
        SetLivestream { .. } => ("SetLivestream", "x . . . . . . ."),
        PublishDocument { .. } => ("PublishDocument", ". . . x . . . ."),
        OpenPublicPoll { .. } => ("OpenPublicPoll", ". . . x . . . ."),
        ClosePublicPoll { .. } => ("ClosePublicPoll", ". . . x . . . ."),
        CastPublicBallot { .. } => ("CastPublicBallot", ". . . . . . . x"),
    }
}

fn may(command: &Command, who: Who) -> bool {
    let (name, row) = allow_list(command);
    let marks: Vec<&str> = row.split(' ').collect();
    assert_eq!(marks.len(), COLUMNS.len(), "the row of {name}");
    let column = COLUMNS.iter().position(|w| *w == who).expect("a column");
    marks[column] == "x"
}

/// The people of the table's convention, one per role, and some with two roles.
struct People {
    citizen: String,
    facilitator: String,
    rapporteur: String,
    guarantor: String,
    expert: String,
    citizen_facilitator: String,
    rapporteur_expert: String,
    /// Has raised a hand, so that hand commands have something to act on.
    other: String,
    /// A poll still in draft.
    draft_poll: String,
    /// An open poll that every role allowed to vote may vote in, results hidden.
    open_poll: String,
    /// A closed poll, results not yet published.
    closed_poll: String,
}

/// A yes/no poll open to every role that may vote at all.
fn everyone_votes() -> PollSpec {
    PollSpec {
        voters: vec![
            Role::Citizen,
            Role::Facilitator,
            Role::Rapporteur,
            Role::Expert,
        ],
        ..poll_spec(
            "Adoptez-vous la proposition ?",
            PollKind::Single {
                options: options(&["Oui", "Non"]),
            },
        )
    }
}

/// A convention where every command has something to act on: rooms, an assignment, a
/// pending call, a raised hand, an invitation.
fn stage() -> (Sim, People) {
    let mut sim = Sim::created("Rôles");
    let one = |name: &str, roles: &[Role]| person(name, roles, &[("commune", "Nantes")]);
    let ids = sim.add(vec![
        one("Camille", &[Role::Citizen]),
        one("Farid", &[Role::Facilitator]),
        one("Rose", &[Role::Rapporteur]),
        one("Gaëlle", &[Role::Guarantor]),
        one("Emma", &[Role::Expert]),
        one("Claude", &[Role::Citizen, Role::Facilitator]),
        one("Rémi", &[Role::Rapporteur, Role::Expert]),
        one("Odile", &[Role::Citizen]),
    ]);
    let f = ids[1].clone();
    let draft_poll = sim.draft_poll(&f, everyone_votes());
    let open_poll = sim.open_poll(&f, everyone_votes());
    let closed_poll = sim.open_poll(&f, everyone_votes());
    sim.ok(
        &f,
        Command::ClosePoll {
            poll: closed_poll.clone(),
        },
    );
    let p = People {
        draft_poll,
        open_poll,
        closed_poll,
        citizen: ids[0].clone(),
        facilitator: ids[1].clone(),
        rapporteur: ids[2].clone(),
        guarantor: ids[3].clone(),
        expert: ids[4].clone(),
        citizen_facilitator: ids[5].clone(),
        rapporteur_expert: ids[6].clone(),
        other: ids[7].clone(),
    };
    sim.org(Command::IssueInvites {
        invites: vec![(p.other.clone(), "0".repeat(64))],
    });
    sim.ok(
        &p.facilitator,
        Command::CreateRooms {
            count: Some(2),
            names: vec![],
        },
    );
    sim.ok(
        &p.facilitator,
        Command::AssignRooms {
            method: AssignMethod::Manual(vec![(p.other.clone(), "r1".into())]),
            participants: None,
            only_present: false,
        },
    );
    sim.ok(&p.other, Command::RaiseHand { room: None });
    sim.ok(
        &p.other,
        Command::CallFacilitator {
            message: "Une question".into(),
        },
    );
    // Moderation: a message, reported by the citizen; the other muted.
    sim.ok(
        &p.other,
        Command::SendChat {
            room: None,
            text: "Un message".into(),
        },
    );
    let message = sim.state.seq;
    sim.ok(
        &p.citizen,
        Command::ReportChat {
            message,
            reason: String::new(),
        },
    );
    sim.ok(
        &p.facilitator,
        Command::Mute {
            participant: p.other.clone(),
            duration_ms: 60_000,
            reason: String::new(),
        },
    );
    (sim, p)
}

/// One command of every variant, with arguments that fit the staged convention, and a few
/// with bad arguments: a refusal for the role must come before any other.
fn samples(sim: &Sim, p: &People) -> Vec<Command> {
    let call = *sim.state.calls.keys().next().expect("a pending call");
    let report = *sim.state.reports.keys().next().expect("an open report");
    let message = sim.state.reports[&report].message;
    vec![
        Command::CreateConvention {
            name: "Une autre".into(),
        },
        Command::CreateConvention { name: "".into() },
        Command::AddParticipants {
            people: vec![person("Nouvelle", &[Role::Citizen], &[])],
        },
        Command::AddParticipants { people: vec![] },
        Command::IssueInvites {
            invites: vec![(p.citizen.clone(), "1".repeat(64))],
        },
        Command::RevokeInvite {
            participant: p.other.clone(),
        },
        Command::CreateRooms {
            count: Some(1),
            names: vec![],
        },
        Command::CreateRooms {
            count: Some(0),
            names: vec![],
        },
        Command::ClearRooms,
        Command::AssignRooms {
            method: AssignMethod::Random,
            participants: None,
            only_present: false,
        },
        Command::AssignRooms {
            method: AssignMethod::Balanced("commune".into()),
            participants: Some(vec![p.guarantor.clone()]),
            only_present: true,
        },
        Command::OpenBreakouts {
            duration_ms: 600_000,
            warning_ms: 60_000,
        },
        Command::OpenBreakouts {
            duration_ms: 0,
            warning_ms: 0,
        },
        Command::ExtendBreakouts { by_ms: 60_000 },
        Command::CloseBreakouts,
        Command::Broadcast {
            text: "Retour en plénière dans 5 minutes".into(),
        },
        Command::Broadcast { text: " ".into() },
        Command::MoveParticipant {
            participant: p.citizen.clone(),
            room: "r2".into(),
        },
        Command::MoveParticipant {
            participant: p.guarantor.clone(),
            room: "r2".into(),
        },
        Command::Visit { room: "r2".into() },
        Command::Visit { room: "r9".into() },
        Command::ResolveCall { call },
        Command::GiveFloor {
            room: None,
            participant: None,
            limit_ms: None,
        },
        Command::GiveFloor {
            room: None,
            participant: Some(p.citizen.clone()),
            limit_ms: None,
        },
        Command::EndFloor { room: None },
        Command::SetQueueOrder {
            room: None,
            order: QueueOrder::LeastSpoken,
        },
        Command::SetSpeakingLimit {
            room: None,
            limit_ms: Some(120_000),
        },
        Command::SetSpeakingLimit {
            room: None,
            limit_ms: Some(0),
        },
        Command::GiveFloor {
            room: None,
            participant: Some(p.citizen.clone()),
            limit_ms: Some(Some(60_000)),
        },
        Command::SetFloorLimit {
            room: None,
            limit_ms: Some(180_000),
        },
        Command::SetFloorLimit {
            room: None,
            limit_ms: None,
        },
        Command::SendChat {
            room: None,
            text: "Bonjour à toutes et à tous".into(),
        },
        Command::SendChat {
            room: None,
            text: "x".repeat(10_000),
        },
        Command::RaiseHand { room: None },
        Command::LowerHand,
        Command::YieldFloor,
        Command::CallFacilitator { message: "".into() },
        Command::DraftPoll {
            spec: everyone_votes(),
        },
        Command::DraftPoll {
            spec: poll_spec(" ", PollKind::Position),
        },
        Command::EditPoll {
            poll: p.draft_poll.clone(),
            spec: poll_spec("Une autre question ?", PollKind::Position),
        },
        Command::EditPoll {
            poll: p.open_poll.clone(),
            spec: poll_spec("Trop tard ?", PollKind::Position),
        },
        Command::DeletePoll {
            poll: p.draft_poll.clone(),
        },
        Command::DeletePoll {
            poll: "q404".into(),
        },
        Command::OpenPoll {
            poll: p.draft_poll.clone(),
        },
        Command::ClosePoll {
            poll: p.open_poll.clone(),
        },
        Command::RevealResults {
            poll: p.open_poll.clone(),
        },
        Command::PublishResults {
            poll: p.closed_poll.clone(),
        },
        Command::PublishResults {
            poll: p.open_poll.clone(),
        },
        Command::Vote {
            poll: p.open_poll.clone(),
            ballot: Ballot::Single(0),
        },
        Command::Vote {
            poll: p.open_poll.clone(),
            ballot: Ballot::Single(7),
        },
        Command::Vote {
            poll: p.closed_poll.clone(),
            ballot: Ballot::Single(1),
        },
        Command::PlanRotation {
            experts: vec![p.expert.clone()],
            grouping: AssignMethod::Random,
            groups: None,
            group_count: Some(1),
            group_size: None,
            participants: None,
            only_present: false,
            round_ms: 600_000,
            transition_ms: 60_000,
            warning_ms: 60_000,
            rounds: None,
            break_room: false,
        },
        Command::StartRotation,
        Command::PauseRotation,
        Command::ResumeRotation,
        Command::ExtendRound { by_ms: 60_000 },
        Command::SkipRound,
        Command::StopRotation,
        Command::MarkExpertAbsent {
            expert: p.expert.clone(),
        },
        Command::AddToGroup {
            participant: p.citizen.clone(),
            group: None,
        },
        Command::AskQuestion {
            text: "Combien coûte une ligne de tram ?".into(),
        },
        Command::AnswerQuestion {
            question: 1,
            text: "Cela dépend".into(),
        },
        Command::CreateDocument {
            name: "avis".into(),
            title: "Avis citoyen".into(),
        },
        Command::SetWritingGroup {
            group: "groupe-1".into(),
            members: vec![p.citizen.clone()],
        },
        Command::OpenDocument {
            document: "opinion".into(),
            group: "groupe-1".into(),
        },
        Command::CloseDocument {
            document: "opinion".into(),
            group: "groupe-1".into(),
        },
        Command::NameVersion {
            document: "opinion".into(),
            label: "Version du samedi".into(),
        },
        // Run sheet.
        Command::AddSequence {
            spec: SequenceSpec {
                title: "Pause".into(),
                planned_start: common::T0,
                planned_ms: 600_000,
                action: runsheet::Action::Break,
            },
            before: None,
        },
        Command::EditSequence {
            sequence: "s1".into(),
            spec: SequenceSpec {
                title: "Pause".into(),
                planned_start: common::T0,
                planned_ms: 600_000,
                action: runsheet::Action::Break,
            },
        },
        Command::DeleteSequence {
            sequence: "s1".into(),
        },
        Command::MoveSequence {
            sequence: "s1".into(),
            before: None,
        },
        Command::StartSequence {
            sequence: "s1".into(),
            end_running: false,
        },
        Command::ExtendSequence { by_ms: 60_000 },
        Command::EndSequence,
        Command::SkipSequence {
            sequence: "s1".into(),
        },
        Command::HideChat {
            message,
            reason: "Propos injurieux".into(),
        },
        Command::HideChat {
            message,
            reason: "x".repeat(5000),
        },
        Command::UnhideChat { message },
        Command::ReportChat {
            message,
            reason: "Hors sujet".into(),
        },
        Command::DismissReport { report },
        Command::Mute {
            participant: p.rapporteur.clone(),
            duration_ms: 60_000,
            reason: String::new(),
        },
        Command::Unmute {
            participant: p.other.clone(),
        },
        Command::RemoveParticipant {
            participant: p.other.clone(),
            reason: "Perturbe la séance".into(),
        },
        Command::Readmit {
            participant: p.citizen.clone(),
        },
        Command::Tick,
        // Hearings: questions from the floor.
        Command::CreateHearing {
            title: "Audition".into(),
            speaker: p.expert.clone(),
            room: "plenary".into(),
            anonymous: true,
            moderated: false,
        },
        Command::OpenHearing {
            hearing: "h1".into(),
        },
        Command::CloseHearing {
            hearing: "h1".into(),
        },
        Command::AskHearingQuestion {
            hearing: "h1".into(),
            text: "Une question ?".into(),
        },
        Command::SupportQuestion {
            hearing: "h1".into(),
            question: 1,
        },
        Command::WithdrawSupport {
            hearing: "h1".into(),
            question: 1,
        },
        Command::ApproveQuestion {
            hearing: "h1".into(),
            question: 1,
        },
        Command::MergeQuestion {
            hearing: "h1".into(),
            question: 1,
            into: 2,
        },
        Command::HideQuestion {
            hearing: "h1".into(),
            question: 1,
            reason: "Hors sujet".into(),
        },
        Command::MarkAnswering {
            hearing: "h1".into(),
            question: 1,
        },
        Command::MarkAnswered {
            hearing: "h1".into(),
            question: 1,
        },
        // Public audience (§24).
        Command::CreatePublicLink {
            token_hash: "ab".repeat(32),
            livestream: None,
        },
        Command::RevokePublicLink,
        Command::SetLivestream { livestream: None },
        Command::PublishDocument {
            document: "avis".into(),
            version: 1,
        },
        Command::OpenPublicPoll {
            question: "Faut-il des bus de nuit ?".into(),
            options: vec!["Oui".into(), "Non".into()],
        },
        Command::OpenPublicPoll {
            question: "".into(),
            options: vec![],
        },
        Command::ClosePublicPoll { poll: "pp1".into() },
        Command::CastPublicBallot {
            poll: "pp1".into(),
            choice: 0,
            browser: "cd".repeat(32),
        },
        Command::CastPublicBallot {
            poll: "pp9".into(),
            choice: 9,
            browser: String::new(),
        },
    ]
}

#[test]
fn every_command_against_every_role() {
    let (staged, p) = stage();
    let commands = samples(&staged, &p);
    let variants: std::collections::BTreeSet<&str> =
        commands.iter().map(|c| allow_list(c).0).collect();
    assert_eq!(
        variants.len(),
        COMMAND_VARIANTS,
        "one sample at least of every command: {variants:?}"
    );

    // Each actor, and the columns whose union gives what it may do.
    let actors: Vec<(String, Actor, Vec<Who>)> = vec![
        ("organizer".into(), Actor::Organizer, vec![Who::Organizer]),
        ("timer".into(), Actor::Timer, vec![Who::Timer]),
        ("public".into(), Actor::Public, vec![Who::Public]),
        (
            "citizen".into(),
            Actor::Participant(p.citizen.clone()),
            vec![Who::Citizen],
        ),
        (
            "facilitator".into(),
            Actor::Participant(p.facilitator.clone()),
            vec![Who::Facilitator],
        ),
        (
            "rapporteur".into(),
            Actor::Participant(p.rapporteur.clone()),
            vec![Who::Rapporteur],
        ),
        (
            "guarantor".into(),
            Actor::Participant(p.guarantor.clone()),
            vec![Who::Guarantor],
        ),
        (
            "expert".into(),
            Actor::Participant(p.expert.clone()),
            vec![Who::Expert],
        ),
        (
            "citizen and facilitator".into(),
            Actor::Participant(p.citizen_facilitator.clone()),
            vec![Who::Citizen, Who::Facilitator],
        ),
        (
            "rapporteur and expert".into(),
            Actor::Participant(p.rapporteur_expert.clone()),
            vec![Who::Rapporteur, Who::Expert],
        ),
        (
            "someone not on the roster".into(),
            Actor::Participant(NOBODY.into()),
            vec![],
        ),
    ];
    let mut checked = 0;
    for command in &commands {
        let (name, _) = allow_list(command);
        for (who, actor, columns) in &actors {
            let case = format!("{name} by the {who}: {command:?}");
            let expect_allowed = columns.iter().any(|c| may(command, *c));
            let mut sim = staged.clone();
            let got = sim.exec(actor, command);
            if expect_allowed {
                assert_ne!(got, Err(Code::Forbidden), "{case}: should be allowed");
            } else {
                assert_eq!(got, Err(Code::Forbidden), "{case}: should be refused");
                assert_eq!(sim.state, staged.state, "{case}: a refusal changes nothing");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, commands.len() * actors.len());
}

/// The allow-list lets every role but the guarantor's send `Vote`; each poll's own list of
/// voters then narrows it, with the same code.
#[test]
fn a_poll_narrows_who_votes() {
    use Role::{Citizen, Expert, Facilitator, Rapporteur};
    struct Case {
        name: &'static str,
        voters: Vec<Role>,
        /// For the citizen, facilitator, rapporteur, guarantor, expert, citizen and
        /// facilitator, rapporteur and expert of the staged convention: `x` votes, `.` is
        /// refused (Forbidden).
        row: &'static str,
    }
    let cases = vec![
        Case {
            name: "citizens (the default)",
            voters: vec![],
            row: "x . . . . x .",
        },
        Case {
            name: "citizens, named",
            voters: vec![Citizen],
            row: "x . . . . x .",
        },
        Case {
            name: "rapporteurs",
            voters: vec![Rapporteur],
            row: ". . x . . . x",
        },
        Case {
            name: "experts and facilitators",
            voters: vec![Expert, Facilitator],
            row: ". x . . x x x",
        },
        Case {
            name: "every role that may vote",
            voters: vec![Citizen, Facilitator, Rapporteur, Expert],
            row: "x x x . x x x",
        },
    ];
    let (staged, p) = stage();
    let voters = [
        &p.citizen,
        &p.facilitator,
        &p.rapporteur,
        &p.guarantor,
        &p.expert,
        &p.citizen_facilitator,
        &p.rapporteur_expert,
    ];
    let vote = |poll: &str| Command::Vote {
        poll: poll.into(),
        ballot: Ballot::Single(1),
    };
    for case in cases {
        let mut sim = staged.clone();
        let spec = PollSpec {
            voters: case.voters.clone(),
            ..everyone_votes()
        };
        let poll = sim.open_poll(&p.facilitator, spec);
        let opened = sim.clone();
        let marks: Vec<&str> = case.row.split(' ').collect();
        assert_eq!(marks.len(), voters.len(), "{}: the row", case.name);
        for (who, mark) in voters.iter().zip(marks) {
            let mut sim = opened.clone();
            let got = sim.by(who, vote(&poll)).map(|_| ());
            let roles = &sim.state.people[who.as_str()].roles;
            let label = format!("{}: {roles:?}", case.name);
            if mark == "x" {
                assert_eq!(got, Ok(()), "{label} votes");
                assert!(sim.poll(&poll).named.contains_key(who.as_str()), "{label}");
            } else {
                assert_eq!(got, Err(Code::Forbidden), "{label} may not vote");
                assert_eq!(
                    sim.state, opened.state,
                    "{label}: a refusal changes nothing"
                );
                // Refused by the poll, not by the allow-list, unless a guarantor.
                assert_eq!(
                    allowed(&vote(&poll)).admits(roles),
                    !roles.contains(&Role::Guarantor),
                    "{label}"
                );
            }
        }
    }
}

/// A rapporteur may send `Vote` (the allow-list says so) but a citizens' poll refuses them.
#[test]
fn a_rapporteur_in_a_citizens_poll() {
    let (mut sim, p) = stage();
    let poll = sim.open_poll(
        &p.facilitator,
        poll_spec("Pour ou contre ?", PollKind::Position),
    );
    let vote = Command::Vote {
        poll: poll.clone(),
        ballot: Ballot::Position(convene::domain::Stance::For),
    };
    assert!(allowed(&vote).admits(&[Role::Rapporteur]));
    let before = sim.state.clone();
    assert_eq!(sim.by(&p.rapporteur, vote.clone()), Err(Code::Forbidden));
    assert_eq!(sim.state, before);
    sim.ok(&p.citizen, vote);
    assert_eq!(sim.poll(&poll).tally().ballots, 1);
}

#[test]
fn the_allow_list_itself() {
    let (staged, p) = stage();
    for command in samples(&staged, &p) {
        let (name, _) = allow_list(&command);
        let permission = allowed(&command);
        assert_eq!(
            permission == Permission::Organizer,
            may(&command, Who::Organizer),
            "{name}: organizer"
        );
        assert_eq!(
            permission == Permission::Timer,
            may(&command, Who::Timer),
            "{name}: timer"
        );
        let roles = [
            (Role::Citizen, Who::Citizen),
            (Role::Facilitator, Who::Facilitator),
            (Role::Rapporteur, Who::Rapporteur),
            (Role::Guarantor, Who::Guarantor),
            (Role::Expert, Who::Expert),
        ];
        for (role, who) in roles {
            assert_eq!(
                permission.admits(&[role]),
                may(&command, who),
                "{name}: {role:?}"
            );
            // The roster refuses a guarantor with another role; were one to slip through,
            // the guarantor role still wins.
            let with_guarantor = [role, Role::Guarantor];
            assert_eq!(
                permission.admits(&with_guarantor),
                may(&command, Who::Guarantor),
                "{name}: {role:?} and guarantor"
            );
        }
        assert!(!permission.admits(&[]), "{name}: nobody without a role");
    }
}

#[test]
fn roster_roles() {
    struct Case {
        name: &'static str,
        people: Vec<NewPerson>,
        /// The roles each person ends up with.
        expect: Result<Vec<Vec<Role>>, Code>,
    }
    use Role::{Citizen, Expert, Facilitator, Guarantor, Rapporteur};
    let one = |roles: &[Role]| vec![person("Alex", roles, &[])];
    let cases = vec![
        Case {
            name: "a citizen",
            people: one(&[Citizen]),
            expect: Ok(vec![vec![Citizen]]),
        },
        Case {
            name: "a guarantor",
            people: one(&[Guarantor]),
            expect: Ok(vec![vec![Guarantor]]),
        },
        Case {
            name: "a guarantor, twice over",
            people: one(&[Guarantor, Guarantor]),
            expect: Ok(vec![vec![Guarantor]]),
        },
        Case {
            name: "roles sorted, without duplicates",
            people: one(&[Facilitator, Citizen, Facilitator]),
            expect: Ok(vec![vec![Citizen, Facilitator]]),
        },
        Case {
            name: "four roles, no guarantor",
            people: one(&[Expert, Rapporteur, Facilitator, Citizen]),
            expect: Ok(vec![vec![Citizen, Facilitator, Rapporteur, Expert]]),
        },
        Case {
            name: "a guarantor and a citizen",
            people: one(&[Guarantor, Citizen]),
            expect: Err(Code::Invalid),
        },
        Case {
            name: "a facilitator and a guarantor",
            people: one(&[Facilitator, Guarantor]),
            expect: Err(Code::Invalid),
        },
        Case {
            name: "a guarantor with every role",
            people: one(&[Citizen, Facilitator, Rapporteur, Guarantor, Expert]),
            expect: Err(Code::Invalid),
        },
        Case {
            name: "no role",
            people: one(&[]),
            expect: Err(Code::Invalid),
        },
        Case {
            name: "one bad entry refuses the whole roster",
            people: vec![
                person("Alex", &[Citizen], &[]),
                person("Sam", &[Guarantor, Rapporteur], &[]),
                person("Lou", &[Citizen], &[]),
            ],
            expect: Err(Code::Invalid),
        },
        Case {
            name: "an empty roster",
            people: vec![],
            expect: Err(Code::Invalid),
        },
    ];
    for case in cases {
        let mut sim = Sim::created("Roster");
        sim.add(vec![person("Déjà là", &[Role::Facilitator], &[])]);
        let before = sim.state.clone();
        match (
            case.expect,
            sim.exec(
                &Actor::Organizer,
                &Command::AddParticipants {
                    people: case.people,
                },
            ),
        ) {
            (Ok(roles), Ok(events)) => {
                let got: Vec<Vec<Role>> = events
                    .iter()
                    .map(|e| match e {
                        Event::ParticipantAdded { person } => person.roles.clone(),
                        other => panic!("{}: {other:?}", case.name),
                    })
                    .collect();
                assert_eq!(got, roles, "{}", case.name);
                assert_eq!(
                    sim.state.people.len(),
                    before.people.len() + roles.len(),
                    "{}",
                    case.name
                );
            }
            (Err(code), Err(got)) => {
                assert_eq!(code, got, "{}", case.name);
                assert_eq!(
                    sim.state, before,
                    "{}: a refusal changes nothing",
                    case.name
                );
            }
            (expect, got) => panic!("{}: expected {expect:?}, got {got:?}", case.name),
        }
    }
}

#[test]
fn roster_entries() {
    struct Case {
        name: &'static str,
        person: NewPerson,
        /// The name and attributes kept.
        expect: Result<Kept, Code>,
    }
    type Kept = (String, Vec<(&'static str, &'static str)>);
    let long = "x".repeat(121);
    let cases = vec![
        Case {
            name: "trimmed",
            person: person("  Alex  ", &[Role::Citizen], &[(" commune ", " Rezé ")]),
            expect: Ok(("Alex".into(), vec![("commune", "Rezé")])),
        },
        Case {
            name: "a blank value is no value",
            person: person(
                "Alex",
                &[Role::Citizen],
                &[("commune", "  "), ("age", "25-39")],
            ),
            expect: Ok(("Alex".into(), vec![("age", "25-39")])),
        },
        Case {
            name: "a name of 120 characters",
            person: person(&"é".repeat(120), &[Role::Citizen], &[]),
            expect: Ok(("é".repeat(120), vec![])),
        },
        Case {
            name: "a blank name",
            person: person("   ", &[Role::Citizen], &[]),
            expect: Err(Code::Invalid),
        },
        Case {
            name: "a name too long",
            person: person(&long, &[Role::Citizen], &[]),
            expect: Err(Code::Invalid),
        },
        Case {
            name: "a blank attribute name",
            person: person("Alex", &[Role::Citizen], &[(" ", "Rezé")]),
            expect: Err(Code::Invalid),
        },
        Case {
            name: "an attribute value too long",
            person: person("Alex", &[Role::Citizen], &[("commune", &long)]),
            expect: Err(Code::Invalid),
        },
    ];
    for case in cases {
        let mut sim = Sim::created("Roster");
        let before = sim.state.clone();
        match (
            case.expect,
            sim.exec(
                &Actor::Organizer,
                &Command::AddParticipants {
                    people: vec![case.person],
                },
            ),
        ) {
            (Ok((name, attributes)), Ok(events)) => {
                let [Event::ParticipantAdded { person }] = &events[..] else {
                    panic!("{}: {events:?}", case.name)
                };
                assert_eq!(person.name, name, "{}", case.name);
                let want = attributes
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                assert_eq!(person.attributes, want, "{}", case.name);
            }
            (Err(code), Err(got)) => {
                assert_eq!(code, got, "{}", case.name);
                assert_eq!(
                    sim.state, before,
                    "{}: a refusal changes nothing",
                    case.name
                );
            }
            (expect, got) => panic!("{}: expected {expect:?}, got {got:?}", case.name),
        }
    }
}

#[test]
fn ids_are_unique_across_rosters() {
    let mut sim = Sim::created("Ids");
    let mut all = std::collections::BTreeSet::new();
    for batch in [3, 1, 5] {
        let people = (0..batch)
            .map(|i| person(&format!("P{i}"), &[Role::Citizen], &[]))
            .collect();
        for id in sim.add(people) {
            assert!(all.insert(id.clone()), "{id} given twice");
        }
    }
    assert_eq!(sim.state.people.len(), 9);
}

#[test]
fn organizer_commands() {
    struct Case {
        name: &'static str,
        /// Run on a convention that does not exist yet.
        fresh: bool,
        command: Command,
        expect: Result<(), Code>,
    }
    // In the staged convention, `p.other` holds an invitation and `p.citizen` none.
    let (staged, p) = stage();
    let cases = vec![
        Case {
            name: "create",
            fresh: true,
            command: Command::CreateConvention {
                name: " Nantes 2025 ".into(),
            },
            expect: Ok(()),
        },
        Case {
            name: "create, blank name",
            fresh: true,
            command: Command::CreateConvention { name: " ".into() },
            expect: Err(Code::Invalid),
        },
        Case {
            name: "create, name too long",
            fresh: true,
            command: Command::CreateConvention {
                name: "x".repeat(121),
            },
            expect: Err(Code::Invalid),
        },
        Case {
            name: "create twice",
            fresh: false,
            command: Command::CreateConvention { name: "Bis".into() },
            expect: Err(Code::Conflict),
        },
        Case {
            name: "a roster before the convention",
            fresh: true,
            command: Command::AddParticipants {
                people: vec![person("Alex", &[Role::Citizen], &[])],
            },
            expect: Err(Code::NotFound),
        },
        Case {
            name: "invite",
            fresh: false,
            command: Command::IssueInvites {
                invites: vec![(p.citizen.clone(), "ab".repeat(32))],
            },
            expect: Ok(()),
        },
        Case {
            name: "invite again replaces",
            fresh: false,
            command: Command::IssueInvites {
                invites: vec![(p.other.clone(), "cd".repeat(32))],
            },
            expect: Ok(()),
        },
        Case {
            name: "invite someone unknown",
            fresh: false,
            command: Command::IssueInvites {
                invites: vec![
                    (p.citizen.clone(), "ab".repeat(32)),
                    (NOBODY.into(), "ef".repeat(32)),
                ],
            },
            expect: Err(Code::NotFound),
        },
        Case {
            name: "revoke",
            fresh: false,
            command: Command::RevokeInvite {
                participant: p.other.clone(),
            },
            expect: Ok(()),
        },
        Case {
            name: "revoke without an invitation",
            fresh: false,
            command: Command::RevokeInvite {
                participant: p.citizen.clone(),
            },
            expect: Err(Code::Conflict),
        },
        Case {
            name: "revoke someone unknown",
            fresh: false,
            command: Command::RevokeInvite {
                participant: NOBODY.into(),
            },
            expect: Err(Code::NotFound),
        },
    ];
    for case in cases {
        let mut sim = if case.fresh {
            Sim::default()
        } else {
            staged.clone()
        };
        let before = sim.state.clone();
        match (case.expect, sim.exec(&Actor::Organizer, &case.command)) {
            (Ok(()), Ok(events)) => {
                assert!(!events.is_empty(), "{}", case.name);
                assert_eq!(sim.replayed(), sim.state, "{}: replay", case.name);
            }
            (Err(code), Err(got)) => {
                assert_eq!(code, got, "{}", case.name);
                assert_eq!(
                    sim.state, before,
                    "{}: a refusal changes nothing",
                    case.name
                );
            }
            (expect, got) => panic!("{}: expected {expect:?}, got {got:?}", case.name),
        }
    }
    // What the invitations hold afterwards.
    let mut sim = staged.clone();
    sim.org(Command::IssueInvites {
        invites: vec![(p.other.clone(), "cd".repeat(32))],
    });
    assert_eq!(sim.state.invites.get(&p.other), Some(&"cd".repeat(32)));
    sim.org(Command::RevokeInvite {
        participant: p.other.clone(),
    });
    assert!(!sim.state.invites.contains_key(&p.other));
}

#[test]
fn guarantors_observe_and_never_act() {
    let (staged, p) = stage();
    let g = p.guarantor.as_str();
    struct Case {
        name: &'static str,
        by: String,
        command: Command,
        expect: Result<(), Code>,
    }
    let f = p.facilitator.clone();
    let cases = vec![
        Case {
            name: "visits a room",
            by: g.into(),
            command: Command::Visit { room: "r1".into() },
            expect: Ok(()),
        },
        Case {
            name: "chats",
            by: g.into(),
            command: Command::SendChat {
                room: None,
                text: "Bonjour".into(),
            },
            expect: Err(Code::Forbidden),
        },
        Case {
            name: "raises a hand",
            by: g.into(),
            command: Command::RaiseHand { room: None },
            expect: Err(Code::Forbidden),
        },
        Case {
            name: "calls a facilitator",
            by: g.into(),
            command: Command::CallFacilitator {
                message: "?".into(),
            },
            expect: Err(Code::Forbidden),
        },
        Case {
            name: "is given the floor",
            by: f.clone(),
            command: Command::GiveFloor {
                room: None,
                participant: Some(g.into()),
                limit_ms: None,
            },
            expect: Err(Code::Invalid),
        },
        Case {
            name: "is moved",
            by: f.clone(),
            command: Command::MoveParticipant {
                participant: g.into(),
                room: "r2".into(),
            },
            expect: Err(Code::Invalid),
        },
        Case {
            name: "is assigned by hand",
            by: f.clone(),
            command: Command::AssignRooms {
                method: AssignMethod::Manual(vec![(g.into(), "r1".into())]),
                participants: None,
                only_present: false,
            },
            expect: Err(Code::Invalid),
        },
        Case {
            name: "votes",
            by: g.into(),
            command: Command::Vote {
                poll: p.open_poll.clone(),
                ballot: Ballot::Single(0),
            },
            expect: Err(Code::Forbidden),
        },
        Case {
            name: "drafts a poll",
            by: g.into(),
            command: Command::DraftPoll {
                spec: everyone_votes(),
            },
            expect: Err(Code::Forbidden),
        },
        Case {
            name: "is named among a poll's voters",
            by: f.clone(),
            command: Command::DraftPoll {
                spec: PollSpec {
                    voters: vec![Role::Citizen, Role::Guarantor],
                    ..everyone_votes()
                },
            },
            expect: Err(Code::Invalid),
        },
        Case {
            name: "is named for an assignment",
            by: f.clone(),
            command: Command::AssignRooms {
                method: AssignMethod::Random,
                participants: Some(vec![p.citizen.clone(), g.into()]),
                only_present: false,
            },
            expect: Err(Code::Invalid),
        },
    ];
    for case in cases {
        let mut sim = staged.clone();
        let got = sim.by(&case.by, case.command).map(|_| ());
        assert_eq!(got, case.expect, "a guarantor {}", case.name);
        if got.is_err() {
            assert_eq!(
                sim.state, staged.state,
                "a guarantor {}: nothing changes",
                case.name
            );
        }
    }
    // Random and balanced assignments of "everyone" leave the guarantor out.
    for method in [
        AssignMethod::Random,
        AssignMethod::Balanced("commune".into()),
    ] {
        let mut sim = staged.clone();
        sim.ok(
            &f,
            Command::AssignRooms {
                method: method.clone(),
                participants: None,
                only_present: false,
            },
        );
        assert!(!sim.state.assignment.contains_key(g), "{method:?}");
    }
}
