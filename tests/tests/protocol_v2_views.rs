//! Protocol version 2 (PROTOCOL.md section 25), the property: a client that applies v2
//! messages (`welcome`, `roster`, `presence_batch`, `room_view` and the events) ends with the
//! same view as a fresh connection's welcome and roster, after every kind of step of a day:
//! rooms, breakouts, moves, visits, the queue and the floor, polls, the expert rotation,
//! documents, the run sheet, hearings, roster additions, arrivals and departures. Compared:
//! the parts version 2 changes (the roster, where people are and who is online, every room's
//! counts, the rooms, and the viewer's room with its chat, queue and speaker), for a
//! facilitator, a guarantor, an expert and two citizens, in rooms small and large.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use convene_tests::proto::{
    self, Ballot, Command, Grouping, PollKind, Role, SequenceAction, SequenceRooms, SequenceSpec,
    PRESENCE_TICK_MS, PROTOCOL_V2,
};
use convene_tests::v2::{fresh, Follower};
use convene_tests::{person, poll_spec, tempdir, Client, Server};

struct Day {
    url: String,
    followers: Vec<(String, Follower)>,
    step: usize,
}

impl Day {
    /// Let every follower read what came, then compare each with a fresh connection.
    async fn check(&mut self, what: &str) -> Result<()> {
        self.step += 1;
        // Three ticks for the first; the others' messages have arrived meanwhile.
        let mut wait = Duration::from_millis(3 * PRESENCE_TICK_MS);
        for (_, f) in self.followers.iter_mut() {
            f.settle(wait).await;
            wait = Duration::from_millis(50);
        }
        for (token, f) in self.followers.iter() {
            let got = f.view.comparable();
            let want = fresh(&self.url, token).await?.comparable();
            if got != want {
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
                for (a, b) in [
                    (format!("{:?}", got.counts), format!("{:?}", want.counts)),
                    (format!("{:?}", got.rooms), format!("{:?}", want.rooms)),
                    (format!("{:?}", got.chat), format!("{:?}", want.chat)),
                    (format!("{:?}", got.queue), format!("{:?}", want.queue)),
                    (format!("{:?}", got.floor), format!("{:?}", want.floor)),
                ] {
                    if a != b {
                        diff.push(format!("{a} vs fresh {b}"));
                    }
                }
                bail!(
                    "step {} ({what}): {}'s view differs from a fresh welcome:\n  {}",
                    self.step,
                    f.client.name,
                    diff.join("\n  ")
                );
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

    /// The breakout rooms as the facilitator sees them.
    fn rooms(&mut self) -> Vec<String> {
        self.f("fac").view.rooms[1..].to_vec()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v2_client_keeps_the_view_of_a_fresh_welcome_through_a_day() -> Result<()> {
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
    let invites = server
        .http()
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
    anyhow::ensure!(
        day.f("amina").view.people.len() == 5,
        "a citizen in a large plenary sees herself and the four staff and experts: {:?}",
        day.f("amina").view.people.keys()
    );

    // The queue and the floor in the plenary.
    day.f("amina")
        .ok(Command::SendChat {
            text: "Bonjour à toutes et à tous".into(),
        })
        .await?;
    day.f("bruno").ok(Command::RaiseHand).await?;
    day.f("amina").ok(Command::RaiseHand).await?;
    day.check("chat and hands").await?;
    day.f("fac")
        .ok(Command::GiveFloor {
            room: None,
            participant: Some(ids[5].clone()),
            limit_ms: None,
        })
        .await?;
    day.f("amina").ok(Command::LowerHand).await?;
    day.check("the floor given, a hand lowered").await?;
    day.f("fac").ok(Command::EndFloor { room: None }).await?;
    day.check("the floor ended").await?;

    // Breakouts: rooms, a random assignment of those present, opened, visited, a move.
    day.f("fac")
        .ok(Command::CreateRooms {
            count: Some(3),
            names: vec![],
        })
        .await?;
    day.check("rooms created").await?;
    day.f("fac")
        .ok(Command::AssignRooms {
            method: proto::AssignMethod::Random,
            participants: None,
            only_present: true,
        })
        .await?;
    day.check("rooms assigned").await?;
    day.f("fac")
        .ok(Command::OpenBreakouts {
            duration_ms: 600_000,
            warning_ms: 60_000,
        })
        .await?;
    day.check("breakouts opened (small rooms)").await?;
    let rooms = day.rooms();
    day.f("amina")
        .ok(Command::SendChat {
            text: "Dans notre salle".into(),
        })
        .await?;
    day.f("amina").ok(Command::RaiseHand).await?;
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
    day.f("fac")
        .ok(Command::MoveParticipant {
            participant: ids[4].clone(),
            room: target.clone(),
        })
        .await?;
    if day.f("bruno").view.room() != Some(target.as_str()) {
        day.f("fac")
            .ok(Command::MoveParticipant {
                participant: ids[5].clone(),
                room: target.clone(),
            })
            .await?;
    }
    day.check("two citizens moved by hand").await?;
    day.f("fac")
        .ok(Command::ExtendBreakouts { by_ms: 60_000 })
        .await?;

    // Polls: one of a room, one of the convention, votes, close, publish.
    let mut spec = poll_spec(
        "Un avis de salle ?",
        PollKind::Single {
            options: vec!["oui".into(), "non".into()],
        },
        false,
        true,
    );
    spec.room = Some(target.clone());
    day.f("fac").ok(Command::DraftPoll { spec }).await?;
    day.f("fac")
        .ok(Command::OpenPoll { poll: "q1".into() })
        .await?;
    day.f("amina")
        .ok(Command::Vote {
            poll: "q1".into(),
            ballot: Ballot::Single { choice: 0 },
        })
        .await?;
    day.check("a room's poll and a ballot").await?;
    day.f("fac").ok(Command::CloseBreakouts).await?;
    day.check("breakouts closed: everyone back").await?;
    day.f("fac")
        .ok(Command::ClosePoll { poll: "q1".into() })
        .await?;
    day.f("fac")
        .ok(Command::PublishResults { poll: "q1".into() })
        .await?;
    day.check("a poll closed and published").await?;

    // Documents.
    day.f("fac")
        .ok(Command::CreateDocument {
            name: "avis".into(),
            title: "Avis citoyen".into(),
        })
        .await?;
    day.f("fac")
        .ok(Command::SetWritingGroup {
            group: "mobilite".into(),
            members: vec![ids[4].clone()],
        })
        .await?;
    day.f("fac")
        .ok(Command::OpenDocument {
            document: "avis".into(),
            group: "mobilite".into(),
        })
        .await?;
    day.check("a document opened to a writing group").await?;

    // The expert rotation: planned, started (people go to the experts' rooms), a round
    // skipped, stopped.
    day.f("fac")
        .ok(Command::PlanRotation {
            experts: vec![ids[2].clone(), ids[3].clone()],
            grouping: Grouping::Random,
            group_count: Some(2),
            group_size: None,
            participants: None,
            only_present: true,
            round_ms: 600_000,
            transition_ms: 0,
            warning_ms: 60_000,
            rounds: None,
            break_room: false,
        })
        .await?;
    day.check("a rotation planned").await?;
    day.f("fac").ok(Command::StartRotation).await?;
    day.check("the rotation started").await?;
    day.f("fac").ok(Command::SkipRound).await?;
    day.check("a round skipped").await?;
    day.f("fac").ok(Command::StopRotation).await?;
    day.check("the rotation stopped").await?;

    // The run sheet: a breakouts sequence (new rooms, everyone assigned and moved), then the
    // plenary.
    let now = convene_tests::unique().len() as u64; // any planned time will do
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
    ] {
        day.f("fac")
            .ok(Command::AddSequence {
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
    day.check("sequences added").await?;
    day.f("fac")
        .ok(Command::StartSequence {
            sequence: "s1".into(),
            end_running: false,
        })
        .await?;
    day.check("a breakouts sequence started").await?;
    day.f("fac")
        .ok(Command::StartSequence {
            sequence: "s2".into(),
            end_running: true,
        })
        .await?;
    day.check("back to the plenary by the run sheet").await?;

    // A hearing in the plenary: questions from the floor.
    day.f("fac")
        .ok(Command::CreateHearing {
            title: "Audition".into(),
            speaker: ids[2].clone(),
            room: proto::PLENARY_ID.into(),
            anonymous: false,
            moderated: false,
        })
        .await?;
    day.f("fac")
        .ok(Command::OpenHearing {
            hearing: "h1".into(),
        })
        .await?;
    // A question's id is the seq of its asking.
    let question = day
        .f("amina")
        .ok(Command::AskHearingQuestion {
            hearing: "h1".into(),
            text: "Et la nuit ?".into(),
        })
        .await?;
    day.f("bruno")
        .ok(Command::SupportQuestion {
            hearing: "h1".into(),
            question,
        })
        .await?;
    day.check("a hearing and its questions").await?;
    day.f("fac")
        .ok(Command::CloseHearing {
            hearing: "h1".into(),
        })
        .await?;

    // The roster grows; people leave.
    let r = server
        .http()
        .post("/api/conventions/journee/roster")
        .json(&[person("Nouvelle Venue", &[Role::Citizen], &[])])
        .send()
        .await?;
    anyhow::ensure!(r.status() == 201, "roster add: {}", r.status());
    day.check("someone added to the roster").await?;
    for c in others.drain(..8) {
        c.close().await;
    }
    paul.close().await;
    day.check("departures").await?;
    day.f("fac")
        .ok(Command::Broadcast {
            text: "Merci à toutes et à tous".into(),
        })
        .await?;
    day.check("an announcement").await?;
    Ok(())
}
