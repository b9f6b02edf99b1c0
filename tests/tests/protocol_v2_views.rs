//! Protocol version 2 (PROTOCOL.md section 25), the property: a client that applies v2
//! messages (`welcome`, `roster`, `presence_batch`, `room_view`, the events, and the side
//! messages `poll_tally`, `hearing_question` and `audit`) ends with the same view as a fresh
//! connection's welcome and roster, after every kind of step of a day, and the day exercises
//! every kind of event (`EVENT_VARIANTS`): rooms, breakouts, moves, visits, the queue and the
//! floor, calls, polls (named and secret), the expert rotation with its timers, documents,
//! the run sheet, hearings, moderation, the public link, roster additions and invitations,
//! arrivals and departures.
//!
//! Compared: the whole snapshot as `View::comparable` keeps it (everything but `seq` and a
//! citizen's `least_spoken` order, which PROTOCOL.md says a v2 client cannot maintain; see
//! there), with the roster, the presence view and the counts; for a facilitator, a
//! guarantor, an expert, and two citizens in a large plenary (64 people) and in small rooms.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use convene_tests::proto::{
    self, Ballot, Command, Grouping, PollKind, QueueOrder, Role, SequenceAction, SequenceRooms,
    SequenceSpec, PRESENCE_TICK_MS, PROTOCOL_V2,
};
use convene_tests::v2::{event_kind, fresh, Follower, View, EVENT_VARIANTS};
use convene_tests::{person, poll_spec, tempdir, Client, Server, ORGANIZER_TOKEN};

/// Events never sent on `/ws` (PROTOCOL.md: tokens, the ballot box, the public link), and
/// the convention's creation (before anyone joins): the log shows them.
const NOT_ON_WS: &[&str] = &[
    "convention_created",
    "invite_issued",
    "invite_revoked",
    "secret_ballot_cast",
    "public_link_created",
    "public_link_revoked",
    "livestream_set",
    "document_published",
];

struct Day {
    url: String,
    followers: Vec<(String, Follower)>,
    step: usize,
    polls: u32,
}

/// What differs between two views, part by part.
fn differences(got: &View, want: &View) -> Vec<String> {
    let mut diff = Vec::new();
    if got.roster != want.roster || got.roster_version != want.roster_version {
        diff.push(format!(
            "roster v{:?} ({}) vs v{:?} ({})",
            got.roster_version,
            got.roster.len(),
            want.roster_version,
            want.roster.len()
        ));
    }
    for (id, s) in &want.people {
        if got.people.get(id) != Some(s) {
            diff.push(format!("{id}: {:?} vs fresh {s:?}", got.people.get(id)));
        }
    }
    for id in got
        .people
        .keys()
        .filter(|id| !want.people.contains_key(*id))
    {
        diff.push(format!("{id} is in the view, not in a fresh one"));
    }
    if got.counts != want.counts {
        diff.push(format!(
            "counts {:?} vs fresh {:?}",
            got.counts, want.counts
        ));
    }
    let (a, b) = (
        serde_json::to_value(&got.snap).unwrap_or_default(),
        serde_json::to_value(&want.snap).unwrap_or_default(),
    );
    if let (Some(a), Some(b)) = (a.as_object(), b.as_object()) {
        for k in a.keys().chain(b.keys()).collect::<BTreeSet<_>>() {
            if a.get(k) != b.get(k) {
                diff.push(format!(
                    "{k}: {}\n    vs fresh {}",
                    a.get(k).map(|v| v.to_string()).unwrap_or_default(),
                    b.get(k).map(|v| v.to_string()).unwrap_or_default()
                ));
            }
        }
    }
    diff
}

impl Day {
    /// Let every follower read what came, then compare each with a fresh connection. A view
    /// that differs may only be late (a loaded machine delivers after the first settle): it
    /// reads on, tick by tick, until it matches a fresh welcome taken again, and the check
    /// fails only if it still differs after `CATCH_UP` (a wrong view stays wrong).
    async fn check(&mut self, what: &str) -> Result<()> {
        const CATCH_UP: Duration = Duration::from_secs(15);
        self.step += 1;
        // Three ticks for the first; the others' messages have arrived meanwhile.
        let mut wait = Duration::from_millis(3 * PRESENCE_TICK_MS);
        for (_, f) in self.followers.iter_mut() {
            f.settle(wait).await;
            wait = Duration::from_millis(50);
        }
        let url = self.url.clone();
        for (token, f) in self.followers.iter_mut() {
            let deadline = tokio::time::Instant::now() + CATCH_UP;
            loop {
                let got = f.view.comparable();
                let want = fresh(&url, token).await?.comparable();
                if got == want {
                    break;
                }
                if tokio::time::Instant::now() >= deadline {
                    bail!(
                        "step {} ({what}): {}'s view differs from a fresh welcome, {}s on:\n  {}",
                        self.step,
                        f.client.name,
                        CATCH_UP.as_secs(),
                        differences(&got, &want).join("\n  ")
                    );
                }
                f.settle(Duration::from_millis(PRESENCE_TICK_MS)).await;
            }
        }
        Ok(())
    }

    fn f(&mut self, name: &str) -> &mut Follower {
        &mut self
            .followers
            .iter_mut()
            .find(|(_, f)| f.client.name == name)
            .expect("a follower of that name")
            .1
    }

    async fn fac(&mut self, command: Command) -> Result<u64> {
        self.f("fac").ok(command).await
    }

    /// The breakout rooms as the facilitator sees them.
    fn rooms(&mut self) -> Vec<String> {
        self.f("fac").view.rooms()[1..].to_vec()
    }

    /// Draft a poll: its id.
    async fn draft(&mut self, spec: proto::PollSpec) -> Result<String> {
        self.fac(Command::DraftPoll { spec }).await?;
        self.polls += 1;
        Ok(format!("q{}", self.polls))
    }
}

fn yes_no(question: &str, secret: bool) -> proto::PollSpec {
    poll_spec(
        question,
        PollKind::Single {
            options: vec!["oui".into(), "non".into()],
        },
        secret,
        false,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v2_client_keeps_the_view_of_a_fresh_welcome_through_every_kind_of_event() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let mut roster = vec![
        person("Claire Moreau", &[Role::Facilitator], &[]),
        person("Hélène Garnier", &[Role::Guarantor], &[]),
        person("Paul Expert", &[Role::Expert], &[]),
        person("Inès Experte", &[Role::Expert], &[]),
    ];
    for i in 0..60 {
        roster.push(person(
            &format!("Citoyen·ne {i:02}"),
            &[Role::Citizen],
            &[("commune", if i % 2 == 0 { "Rezé" } else { "Nantes" })],
        ));
    }
    let http = server.http();
    let invites = http
        .convention("journee", &roster)
        .await
        .context("convention")?;
    let url = server.ws_url();
    let token = |i: usize| invites[i].token.clone();
    let mut followers = Vec::new();
    for (i, name) in [
        (0, "fac"),
        (1, "gar"),
        (3, "ines"),
        (4, "amina"),
        (5, "bruno"),
    ] {
        followers.push((token(i), Follower::join(&url, name, &token(i)).await?));
    }
    let mut day = Day {
        url: url.clone(),
        followers,
        step: 0,
        polls: 0,
    };
    let ids: Vec<String> = (0..invites.len())
        .map(|i| invites[i].participant.clone())
        .collect();
    // Others online: version 1 and version 2 clients that nobody follows, an expert in v1.
    let mut others = Vec::new();
    for i in 6..16 {
        others.push(Client::join(&url, &format!("v1-{i}"), &token(i)).await?);
    }
    for i in 16..22 {
        others
            .push(Client::join_with(&url, &format!("v2-{i}"), &token(i), PROTOCOL_V2, None).await?);
    }
    let paul = Client::join(&url, "paul", &token(2)).await?;
    // The plenary holds 64 people: large. Citizens see counts, the staff and the experts.
    day.check("arrivals in a large plenary").await?;
    ensure!(
        day.f("amina").view.people.len() == 5,
        "a citizen in a large plenary sees herself and the four staff and experts: {:?}",
        day.f("amina").view.people.keys()
    );

    // The queue and the floor in the plenary, in both orders, with limits.
    day.f("amina")
        .ok(Command::SendChat {
            room: None,
            text: "Bonjour à toutes et à tous".into(),
        })
        .await?;
    day.f("bruno").ok(Command::RaiseHand { room: None }).await?;
    day.f("amina").ok(Command::RaiseHand { room: None }).await?;
    others[2].ok(Command::RaiseHand { room: None }).await?;
    day.check("chat and hands").await?;
    day.fac(Command::SetQueueOrder {
        room: None,
        order: QueueOrder::LeastSpoken,
    })
    .await?;
    day.fac(Command::SetSpeakingLimit {
        room: None,
        limit_ms: Some(120_000),
    })
    .await?;
    day.check("least spoken first, a speaking limit").await?;
    day.fac(Command::GiveFloor {
        room: None,
        participant: Some(ids[5].clone()),
        limit_ms: None,
    })
    .await?;
    day.fac(Command::SetFloorLimit {
        room: None,
        limit_ms: Some(300_000),
    })
    .await?;
    day.f("amina").ok(Command::LowerHand).await?;
    day.check("the floor given, its limit changed, a hand lowered")
        .await?;
    day.fac(Command::EndFloor { room: None }).await?;
    day.f("bruno").ok(Command::RaiseHand { room: None }).await?;
    day.check("the floor ended, least spoken reordered").await?;
    day.fac(Command::SetQueueOrder {
        room: None,
        order: QueueOrder::Raised,
    })
    .await?;
    day.fac(Command::SetSpeakingLimit {
        room: None,
        limit_ms: None,
    })
    .await?;
    day.check("back to the order of raising").await?;

    // Calls to the facilitators.
    let call = day
        .f("amina")
        .ok(Command::CallFacilitator {
            message: "Le son ne passe pas".into(),
        })
        .await?;
    day.f("bruno")
        .ok(Command::CallFacilitator {
            message: "Une question".into(),
        })
        .await?;
    day.check("calls").await?;
    day.fac(Command::ResolveCall { call }).await?;
    day.check("a call resolved").await?;

    // Moderation: a report dismissed, a message hidden, a mute lifted, a removal and a
    // readmission (the removed one had raised a hand).
    let line = day
        .f("amina")
        .ok(Command::SendChat {
            room: None,
            text: "Un message de trop".into(),
        })
        .await?;
    let report = day
        .f("bruno")
        .ok(Command::ReportChat {
            message: line,
            reason: "hors sujet".into(),
        })
        .await?;
    day.check("a message reported").await?;
    day.fac(Command::DismissReport { report }).await?;
    day.f("bruno")
        .ok(Command::ReportChat {
            message: line,
            reason: "vraiment hors sujet".into(),
        })
        .await?;
    day.check("a report dismissed, another made").await?;
    day.fac(Command::HideChat {
        message: line,
        reason: "Propos hors sujet".into(),
    })
    .await?;
    day.fac(Command::Mute {
        participant: ids[5].clone(),
        duration_ms: 600_000,
        reason: "Trop de messages".into(),
    })
    .await?;
    day.fac(Command::Mute {
        participant: ids[4].clone(),
        duration_ms: 600_000,
        reason: "Pour voir".into(),
    })
    .await?;
    day.check("a message hidden, two mutes").await?;
    day.fac(Command::Unmute {
        participant: ids[4].clone(),
    })
    .await?;
    day.check("a mute lifted").await?;
    // A hiding undone: members get the line back in its place.
    day.fac(Command::UnhideChat { message: line }).await?;
    day.check("a hidden message shown again").await?;
    others[0].ok(Command::RaiseHand { room: None }).await?;
    day.fac(Command::RemoveParticipant {
        participant: ids[6].clone(),
        reason: "Comportement".into(),
    })
    .await?;
    day.check("someone removed").await?;
    day.fac(Command::Readmit {
        participant: ids[6].clone(),
    })
    .await?;
    day.check("readmitted").await?;

    // Polls of the convention: a named one drafted, edited, opened, voted, revealed, closed,
    // published; a secret one voted; a draft deleted.
    let named = day.draft(yes_no("Des bus la nuit ?", false)).await?;
    day.fac(Command::EditPoll {
        poll: named.clone(),
        spec: yes_no("Des bus de nuit le week-end ?", false),
    })
    .await?;
    let gone = day.draft(yes_no("Brouillon", false)).await?;
    day.check("polls drafted and edited").await?;
    day.fac(Command::DeletePoll { poll: gone }).await?;
    let secret = day.draft(yes_no("Un tram de plus ?", true)).await?;
    for p in [&named, &secret] {
        day.fac(Command::OpenPoll { poll: p.clone() }).await?;
    }
    day.check("polls opened").await?;
    for (who, choice) in [("amina", 0), ("bruno", 1)] {
        for p in [&named, &secret] {
            day.f(who)
                .ok(Command::Vote {
                    poll: p.clone(),
                    ballot: Ballot::Single { choice },
                })
                .await?;
        }
    }
    others[3]
        .ok(Command::Vote {
            poll: named.clone(),
            ballot: Ballot::Single { choice: 0 },
        })
        .await?;
    day.check("ballots, named and secret").await?;
    day.fac(Command::RevealResults {
        poll: named.clone(),
    })
    .await?;
    day.check("results revealed").await?;
    for p in [&named, &secret] {
        day.fac(Command::ClosePoll { poll: p.clone() }).await?;
    }
    day.fac(Command::PublishResults {
        poll: named.clone(),
    })
    .await?;
    day.check("polls closed, one published").await?;

    // Breakouts: rooms, a random assignment of those present, opened (a v1 citizen's raised
    // hand leaves the plenary with them), warned by the timer, visited, moves, a room's
    // poll, closed, cleared.
    others[4].ok(Command::RaiseHand { room: None }).await?;
    day.fac(Command::CreateRooms {
        count: Some(3),
        names: vec![],
    })
    .await?;
    day.check("rooms created").await?;
    day.fac(Command::AssignRooms {
        method: proto::AssignMethod::Random,
        participants: None,
        only_present: true,
    })
    .await?;
    day.check("rooms assigned").await?;
    day.fac(Command::OpenBreakouts {
        duration_ms: 600_000,
        warning_ms: 596_000,
    })
    .await?;
    day.check("breakouts opened (small rooms)").await?;
    tokio::time::sleep(Duration::from_millis(4_500)).await;
    day.check("breakouts warned by the timer").await?;
    let rooms = day.rooms();
    day.f("amina")
        .ok(Command::SendChat {
            room: None,
            text: "Dans notre salle".into(),
        })
        .await?;
    day.f("amina").ok(Command::RaiseHand { room: None }).await?;
    day.f("gar")
        .ok(Command::Visit {
            room: rooms[1].clone(),
        })
        .await?;
    day.check("chat in a room, a guarantor visits").await?;
    // Amina to a room she is not in, Bruno to hers (unless he is there already).
    let here = day.f("amina").view.room().unwrap_or_default().to_string();
    let target = rooms
        .iter()
        .find(|r| **r != here)
        .cloned()
        .context("another room")?;
    day.fac(Command::MoveParticipant {
        participant: ids[4].clone(),
        room: target.clone(),
    })
    .await?;
    if day.f("bruno").view.room() != Some(target.as_str()) {
        day.fac(Command::MoveParticipant {
            participant: ids[5].clone(),
            room: target.clone(),
        })
        .await?;
    }
    day.check("two citizens moved by hand").await?;
    day.fac(Command::ExtendBreakouts { by_ms: 60_000 }).await?;
    let mut spec = yes_no("Un avis de salle ?", false);
    spec.room = Some(target.clone());
    let in_room = day.draft(spec).await?;
    day.fac(Command::OpenPoll {
        poll: in_room.clone(),
    })
    .await?;
    day.f("amina")
        .ok(Command::Vote {
            poll: in_room.clone(),
            ballot: Ballot::Single { choice: 0 },
        })
        .await?;
    day.check("breakouts extended, a room's poll and a ballot")
        .await?;
    day.fac(Command::CloseBreakouts).await?;
    day.check("breakouts closed: everyone back").await?;
    day.fac(Command::ClosePoll {
        poll: in_room.clone(),
    })
    .await?;
    day.fac(Command::PublishResults { poll: in_room }).await?;
    day.fac(Command::ClearRooms).await?;
    day.check("a room's poll published, rooms cleared").await?;

    // Documents, and the public link (organizer HTTP API) with the published opinion.
    day.fac(Command::CreateDocument {
        name: "avis".into(),
        title: "Avis citoyen".into(),
    })
    .await?;
    day.fac(Command::SetWritingGroup {
        group: "mobilite".into(),
        members: vec![ids[4].clone()],
    })
    .await?;
    day.fac(Command::OpenDocument {
        document: "avis".into(),
        group: "mobilite".into(),
    })
    .await?;
    day.check("a document opened to a writing group").await?;
    day.fac(Command::NameVersion {
        document: "avis".into(),
        label: "Version 1".into(),
    })
    .await?;
    day.fac(Command::CloseDocument {
        document: "avis".into(),
        group: "mobilite".into(),
    })
    .await?;
    day.check("a version named, the document closed").await?;
    http.public_link("journee", None).await?;
    let r = http
        .http
        .put(format!("{}/api/conventions/journee/public-link", http.base))
        .bearer_auth(ORGANIZER_TOKEN)
        .json(&serde_json::json!({ "livestream": "https://video.example.org/live" }))
        .send()
        .await?;
    ensure!(r.status() == 204, "livestream: {}", r.status());
    day.fac(Command::PublishDocument {
        document: "avis".into(),
        version: 1,
    })
    .await?;
    let r = http
        .delete("/api/conventions/journee/public-link")
        .send()
        .await?;
    ensure!(r.status() == 204, "revoke: {}", r.status());
    day.check("the public link made, used and revoked").await?;

    // The expert rotation: planned, started, warned by the timer, a question asked and
    // answered, paused, resumed, extended, a latecomer added, an expert absent, a round
    // skipped (a transition, then the next round by the timer), stopped.
    day.fac(Command::PlanRotation {
        experts: vec![ids[2].clone(), ids[3].clone()],
        grouping: Grouping::Random,
        group_count: Some(2),
        group_size: None,
        participants: None,
        only_present: true,
        round_ms: 600_000,
        transition_ms: 4_000,
        warning_ms: 596_000,
        rounds: Some(3),
        break_room: false,
    })
    .await?;
    day.check("a rotation planned").await?;
    day.fac(Command::StartRotation).await?;
    day.check("the rotation started").await?;
    tokio::time::sleep(Duration::from_millis(4_500)).await;
    let question = day
        .f("amina")
        .ok(Command::AskQuestion {
            text: "Combien coûte un bus ?".into(),
        })
        .await?;
    day.check("warned by the timer, a question asked").await?;
    day.fac(Command::AnswerQuestion {
        question,
        text: "Environ 300 000 euros.".into(),
    })
    .await?;
    day.fac(Command::PauseRotation).await?;
    day.check("a question answered, the rotation paused")
        .await?;
    day.fac(Command::ResumeRotation).await?;
    day.fac(Command::ExtendRound { by_ms: 60_000 }).await?;
    day.fac(Command::AddToGroup {
        participant: ids[40].clone(),
        group: None,
    })
    .await?;
    day.check("resumed, extended, a latecomer added").await?;
    day.fac(Command::MarkExpertAbsent {
        expert: ids[2].clone(),
    })
    .await?;
    day.check("an expert absent").await?;
    day.fac(Command::SkipRound).await?;
    day.check("a round skipped: a transition").await?;
    tokio::time::sleep(Duration::from_millis(4_500)).await;
    day.check("the next round, by the timer").await?;
    day.fac(Command::StopRotation).await?;
    day.check("the rotation stopped").await?;

    // The run sheet: sequences added, edited, moved, deleted; a breakouts sequence (new
    // rooms, everyone assigned and moved), extended, then the plenary, ended; one skipped.
    let now = 1_742_029_200_000;
    for (title, action) in [
        (
            "Ateliers",
            SequenceAction::Breakouts {
                rooms: SequenceRooms::New {
                    count: Some(2),
                    names: vec![],
                },
                grouping: Grouping::Random,
                duration_ms: 600_000,
                warning_ms: 60_000,
            },
        ),
        ("Retour en plénière", SequenceAction::Plenary),
        ("Pause", SequenceAction::Break),
        ("Pause longue", SequenceAction::Break),
    ] {
        day.fac(Command::AddSequence {
            spec: SequenceSpec {
                title: title.into(),
                planned_start: now,
                planned_ms: 600_000,
                action,
            },
            before: None,
        })
        .await?;
    }
    day.fac(Command::EditSequence {
        sequence: "s3".into(),
        spec: SequenceSpec {
            title: "Pause café".into(),
            planned_start: now,
            planned_ms: 900_000,
            action: SequenceAction::Break,
        },
    })
    .await?;
    day.fac(Command::MoveSequence {
        sequence: "s3".into(),
        before: Some("s2".into()),
    })
    .await?;
    day.fac(Command::DeleteSequence {
        sequence: "s4".into(),
    })
    .await?;
    day.check("sequences added, edited, moved, deleted").await?;
    day.fac(Command::StartSequence {
        sequence: "s1".into(),
        end_running: false,
    })
    .await?;
    day.fac(Command::ExtendSequence { by_ms: 60_000 }).await?;
    day.check("a breakouts sequence started and extended")
        .await?;
    day.fac(Command::SkipSequence {
        sequence: "s3".into(),
    })
    .await?;
    day.fac(Command::StartSequence {
        sequence: "s2".into(),
        end_running: true,
    })
    .await?;
    day.check("one skipped, back to the plenary by the run sheet")
        .await?;
    day.fac(Command::EndSequence).await?;
    day.check("the sequence ended").await?;

    // A moderated hearing in the plenary: questions asked, approved, supported, support
    // withdrawn, merged, hidden, answering, answered.
    day.fac(Command::CreateHearing {
        title: "Audition".into(),
        speaker: ids[2].clone(),
        room: proto::PLENARY_ID.into(),
        anonymous: false,
        moderated: true,
    })
    .await?;
    day.check("a hearing created").await?;
    day.fac(Command::OpenHearing {
        hearing: "h1".into(),
    })
    .await?;
    let h = || "h1".to_string();
    // A question's id is the seq of its asking.
    let q1 = day
        .f("amina")
        .ok(Command::AskHearingQuestion {
            hearing: h(),
            text: "Et la nuit ?".into(),
        })
        .await?;
    let q2 = day
        .f("bruno")
        .ok(Command::AskHearingQuestion {
            hearing: h(),
            text: "Et le soir ?".into(),
        })
        .await?;
    let q3 = others[5]
        .ok(Command::AskHearingQuestion {
            hearing: h(),
            text: "Hors sujet".into(),
        })
        .await?;
    day.check("a hearing opened, questions pending").await?;
    for q in [q1, q2, q3] {
        day.fac(Command::ApproveQuestion {
            hearing: h(),
            question: q,
        })
        .await?;
    }
    day.f("bruno")
        .ok(Command::SupportQuestion {
            hearing: h(),
            question: q1,
        })
        .await?;
    day.f("amina")
        .ok(Command::SupportQuestion {
            hearing: h(),
            question: q2,
        })
        .await?;
    day.check("questions approved and supported").await?;
    day.f("amina")
        .ok(Command::WithdrawSupport {
            hearing: h(),
            question: q2,
        })
        .await?;
    day.fac(Command::MergeQuestion {
        hearing: h(),
        question: q2,
        into: q1,
    })
    .await?;
    day.fac(Command::HideQuestion {
        hearing: h(),
        question: q3,
        reason: "Hors sujet".into(),
    })
    .await?;
    day.check("a support withdrawn, questions merged and hidden")
        .await?;
    day.fac(Command::MarkAnswering {
        hearing: h(),
        question: q1,
    })
    .await?;
    day.check("a question being answered").await?;
    day.fac(Command::MarkAnswered {
        hearing: h(),
        question: q1,
    })
    .await?;
    day.fac(Command::CloseHearing { hearing: h() }).await?;
    day.check("answered, the hearing closed").await?;

    // The roster grows and its newcomer is invited; an invitation revoked; people leave.
    let r = http
        .post("/api/conventions/journee/roster")
        .json(&[person("Nouvelle Venue", &[Role::Citizen], &[])])
        .send()
        .await?;
    ensure!(r.status() == 201, "roster add: {}", r.status());
    let r = http
        .post("/api/conventions/journee/invites")
        .json(&serde_json::json!({}))
        .send()
        .await?;
    ensure!(
        r.status() == 201 || r.status() == 200,
        "invites: {}",
        r.status()
    );
    day.check("someone added to the roster and invited").await?;
    let r = http
        .delete(&format!("/api/conventions/journee/invites/{}", ids[7]))
        .send()
        .await?;
    ensure!(r.status().is_success(), "revoke: {}", r.status());
    day.check("an invitation revoked").await?;
    for c in others.drain(..8) {
        c.close().await;
    }
    paul.close().await;
    day.check("departures").await?;
    day.fac(Command::Broadcast {
        text: "Merci à toutes et à tous".into(),
    })
    .await?;
    day.check("an announcement").await?;

    // Every kind of event was exercised: in the log, and received by a follower unless never
    // sent on `/ws`. A secret ballot is never in the log (the ballot box keeps it alone):
    // each `voter_marked` is the log's trace of one.
    let log = server.log("journee")?;
    let mut exercised: BTreeSet<&str> = log.iter().map(|r| event_kind(&r.event)).collect();
    if exercised.contains("voter_marked") {
        exercised.insert("secret_ballot_cast");
    }
    let received: BTreeSet<&str> = day
        .followers
        .iter()
        .flat_map(|(_, f)| f.kinds.iter().copied())
        .collect();
    ensure!(
        exercised.len() == EVENT_VARIANTS,
        "{} kinds of events exercised, {EVENT_VARIANTS} exist: {exercised:?}",
        exercised.len()
    );
    let unseen: Vec<&&str> = exercised
        .iter()
        .filter(|k| !received.contains(**k) && !NOT_ON_WS.contains(k))
        .collect();
    ensure!(unseen.is_empty(), "events no follower received: {unseen:?}");
    Ok(())
}
