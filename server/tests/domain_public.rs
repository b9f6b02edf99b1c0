//! Public audience (PROTOCOL.md §24) in the domain: the public link (its hash), the
//! livestream and the published document; budgets and refusals, nothing half-applied, the
//! state folded again from the log and through its stored form (`check_stored_state`).

mod common;

use common::{person, Sim};
use convene::domain::public::MAX_LIVESTREAM_CHARS;
use convene::domain::{Code, Command, Event, Role};

fn hash(c: char) -> String {
    c.to_string().repeat(64)
}

fn create(h: &str, livestream: Option<&str>) -> Command {
    Command::CreatePublicLink {
        token_hash: h.to_string(),
        livestream: livestream.map(str::to_string),
    }
}

#[test]
fn the_organizers_commands_each_checked_against_the_state() {
    let long = format!("https://{}", "x".repeat(MAX_LIVESTREAM_CHARS * 10));
    let just = format!("https://{}", "x".repeat(MAX_LIVESTREAM_CHARS - 8));
    // (command, outcome: the resulting link, livestream; or the refusal's code)
    type Want = Result<(Option<String>, Option<String>), Code>;
    let table: Vec<(&str, Command, Want)> = vec![
        (
            "no link to revoke",
            Command::RevokePublicLink,
            Err(Code::NotFound),
        ),
        (
            "no link to set",
            Command::SetLivestream { livestream: None },
            Err(Code::NotFound),
        ),
        ("a hash is 64 hex", create("abc", None), Err(Code::Invalid)),
        ("not hex", create(&"z".repeat(64), None), Err(Code::Invalid)),
        (
            "ten times the URL budget",
            create(&hash('a'), Some(&long)),
            Err(Code::Invalid),
        ),
        (
            "a script URL",
            create(&hash('a'), Some("javascript:alert(1)")),
            Err(Code::Invalid),
        ),
        (
            "spaces",
            create(&hash('a'), Some("https://a b")),
            Err(Code::Invalid),
        ),
        (
            "created",
            create(&hash('a'), Some("https://live.example.org/x")),
            Ok((Some(hash('a')), Some("https://live.example.org/x".into()))),
        ),
        (
            "the livestream at its budget",
            Command::SetLivestream {
                livestream: Some(just.clone()),
            },
            Ok((Some(hash('a')), Some(just.clone()))),
        ),
        (
            "over it: nothing changes",
            Command::SetLivestream {
                livestream: Some(long.clone()),
            },
            Err(Code::Invalid),
        ),
        (
            "an empty URL clears it",
            Command::SetLivestream {
                livestream: Some("  ".into()),
            },
            Ok((Some(hash('a')), None)),
        ),
        (
            "replaced",
            create(&hash('b'), None),
            Ok((Some(hash('b')), None)),
        ),
        ("revoked", Command::RevokePublicLink, Ok((None, None))),
        (
            "revoked twice",
            Command::RevokePublicLink,
            Err(Code::NotFound),
        ),
    ];
    let mut sim = Sim::created("Publique");
    for (what, command, want) in table {
        let before = sim.state.clone();
        let got = sim
            .exec(&convene::domain::Actor::Organizer, &command)
            .map(|_| {
                (
                    sim.state.public.link.clone(),
                    sim.state.public.livestream.clone(),
                )
            });
        assert_eq!(got, want, "{what}");
        if got.is_err() {
            assert_eq!(sim.state, before, "{what}: nothing applied");
        }
    }
    assert_eq!(sim.replayed(), sim.state, "the log folds to the same state");
}

#[test]
fn a_facilitator_publishes_a_named_version_of_a_document() {
    let mut sim = Sim::created("Publique");
    let ids = sim.add(vec![
        person("Claire", &[Role::Facilitator], &[]),
        person("Rémi", &[Role::Rapporteur], &[]),
        person("Yannick", &[Role::Citizen], &[]),
    ]);
    let (fac, rap, cit) = (&ids[0], &ids[1], &ids[2]);
    let publish = |version| Command::PublishDocument {
        document: "avis".into(),
        version,
    };
    assert_eq!(sim.by(fac, publish(1)), Err(Code::NotFound), "no document");
    sim.ok(
        fac,
        Command::CreateDocument {
            name: "avis".into(),
            title: "Avis".into(),
        },
    );
    assert_eq!(
        sim.by(fac, publish(1)),
        Err(Code::NotFound),
        "no named version"
    );
    sim.ok(
        rap,
        Command::NameVersion {
            document: "avis".into(),
            label: "V1".into(),
        },
    );
    assert_eq!(
        sim.by(rap, publish(1)),
        Err(Code::Forbidden),
        "a rapporteur names, does not publish"
    );
    assert_eq!(sim.by(cit, publish(1)), Err(Code::Forbidden));
    assert_eq!(sim.by(fac, publish(2)), Err(Code::NotFound), "no version 2");
    assert_eq!(
        sim.ok(fac, publish(1)),
        vec![Event::DocumentPublished {
            document: "avis".into(),
            version: 1
        }]
    );
    assert_eq!(sim.state.public.published, Some(("avis".into(), 1)));
    assert_eq!(sim.replayed(), sim.state);
}

fn open_poll(question: &str, options: &[&str]) -> Command {
    Command::OpenPublicPoll {
        question: question.into(),
        options: options.iter().map(|o| o.to_string()).collect(),
    }
}

fn ballot(poll: &str, choice: u32, browser: &str) -> Command {
    Command::CastPublicBallot {
        poll: poll.into(),
        choice,
        browser: browser.into(),
    }
}

/// Public polls: the facilitator's commands, one answer per browser (by its hash), a closed
/// poll that takes nothing and forgets who answered, the ids and the count of polls, the
/// public view's window of results; the state folded again from the log, and through its
/// stored form, after every step.
#[test]
fn public_polls_one_answer_per_browser_and_a_closed_poll_keeps_only_its_tally() {
    let mut sim = Sim::created("Sondages");
    let ids = sim.add(vec![
        person("Claire", &[Role::Facilitator], &[]),
        person("Yannick", &[Role::Citizen], &[]),
    ]);
    let (fac, cit) = (&ids[0], &ids[1]);
    let public = convene::domain::Actor::Public;
    assert_eq!(
        sim.by(fac, open_poll("Des bus de nuit ?", &["Oui", "Non"])),
        Err(Code::NotFound),
        "no public link"
    );
    sim.org(create(&hash('a'), None));
    for (why, question, options) in [
        ("empty question", " ", vec!["Oui", "Non"]),
        ("one option", "Q ?", vec!["Oui"]),
        ("eleven options", "Q ?", vec!["o"; 11]),
        ("letter case", "Q ?", vec!["Oui", " oui "]),
        ("spacing", "Q ?", vec!["Sans  avis", "sans avis", "Non"]),
        ("an empty option", "Q ?", vec!["Oui", ""]),
    ] {
        assert_eq!(
            sim.by(fac, open_poll(question, &options)),
            Err(Code::Invalid),
            "{why}"
        );
    }
    assert_eq!(
        sim.by(cit, open_poll("Q ?", &["Oui", "Non"])),
        Err(Code::Forbidden)
    );
    assert_eq!(
        sim.ok(fac, open_poll("  Des bus de nuit ?  ", &[" Oui", "Non "])),
        vec![Event::PublicPollOpened {
            poll: "pp1".into(),
            question: "Des bus de nuit ?".into(),
            options: vec!["Oui".into(), "Non".into()],
        }]
    );
    assert_eq!(
        sim.by(fac, open_poll("Une autre ?", &["Oui", "Non"])),
        Err(Code::Conflict),
        "one open at a time"
    );

    // Answers: once per browser hash; refusals change nothing.
    let (b1, b2) = (hash('1'), hash('2'));
    assert!(sim.exec(&public, &ballot("pp1", 0, &b1)).is_ok());
    assert_eq!(
        sim.exec(&public, &ballot("pp1", 1, &b1)),
        Err(Code::Conflict)
    );
    assert_eq!(
        sim.exec(&public, &ballot("pp1", 2, &b2)),
        Err(Code::Invalid)
    );
    assert_eq!(
        sim.exec(&public, &ballot("pp1", 0, "zz")),
        Err(Code::Invalid)
    );
    assert_eq!(
        sim.exec(&public, &ballot("pp9", 0, &b2)),
        Err(Code::NotFound)
    );
    assert_eq!(sim.by(fac, ballot("pp1", 0, &b2)), Err(Code::Forbidden));
    assert!(sim.exec(&public, &ballot("pp1", 1, &b2)).is_ok());
    let p = &sim.state.public.polls[0];
    assert_eq!((p.counts.clone(), p.browsers.len()), (vec![1, 1], 2));

    // Closed: the tally stays, who answered goes; nothing more is taken.
    assert_eq!(
        sim.ok(fac, Command::ClosePublicPoll { poll: "pp1".into() }),
        vec![Event::PublicPollClosed {
            poll: "pp1".into(),
            counts: vec![1, 1],
        }]
    );
    let p = &sim.state.public.polls[0];
    assert!(p.closed_at.is_some() && p.browsers.is_empty() && p.counts == [1, 1]);
    assert_eq!(
        sim.exec(&public, &ballot("pp1", 0, &hash('3'))),
        Err(Code::Conflict)
    );
    assert_eq!(
        sim.by(fac, Command::ClosePublicPoll { poll: "pp1".into() }),
        Err(Code::Conflict)
    );

    // Up to 100 polls, pp1 to pp100; the public view shows the open one and the latest 10
    // closed ones.
    for n in 2..=convene_protocol::MAX_PUBLIC_POLLS {
        let events = sim.ok(fac, open_poll(&format!("Question {n} ?"), &["A", "B"]));
        assert!(
            matches!(&events[..], [Event::PublicPollOpened { poll, .. }] if *poll == format!("pp{n}"))
        );
        if n < convene_protocol::MAX_PUBLIC_POLLS {
            sim.ok(
                fac,
                Command::ClosePublicPoll {
                    poll: format!("pp{n}"),
                },
            );
        }
    }
    let view = convene::live::public::view(&sim.state, 0);
    assert_eq!(view.poll.map(|p| p.poll), Some("pp100".to_string()));
    let shown: Vec<String> = view.poll_results.iter().map(|r| r.poll.clone()).collect();
    assert_eq!(
        shown,
        (90..100).map(|n| format!("pp{n}")).collect::<Vec<_>>()
    );
    sim.ok(
        fac,
        Command::ClosePublicPoll {
            poll: "pp100".into(),
        },
    );
    assert_eq!(
        sim.by(fac, open_poll("Une de trop ?", &["A", "B"])),
        Err(Code::Conflict),
        "the 101st"
    );
    assert_eq!(sim.replayed(), sim.state);
}

/// The fold takes a ballot only as `decide` would have: a log holding a malformed hash, a
/// second answer of one browser or an answer after the close (none of which decide lets
/// through) changes no count.
#[test]
fn the_fold_of_ballots_is_as_strict_as_decide() {
    use convene::domain::{Actor, Record};
    let mut sim = Sim::created("Pli");
    let fac = sim.add(vec![person("Claire", &[Role::Facilitator], &[])])[0].clone();
    sim.org(create(&hash('a'), None));
    sim.ok(&fac, open_poll("Q ?", &["A", "B"]));
    let mut state = sim.state.clone();
    let mut put = |event: Event| {
        let record = Record {
            seq: state.seq + 1,
            at: 1,
            actor: Actor::Public,
            event,
            request: None,
        };
        state.apply(&record);
    };
    let cast = |choice, browser: &str| Event::PublicBallotCast {
        poll: "pp1".into(),
        choice,
        browser: browser.into(),
    };
    put(cast(0, &hash('1')));
    put(cast(1, &hash('1')));
    put(cast(0, "pas un hash"));
    put(cast(7, &hash('2')));
    put(Event::PublicPollClosed {
        poll: "pp1".into(),
        counts: vec![1, 0],
    });
    put(cast(1, &hash('3')));
    let p = &state.public.polls[0];
    assert_eq!(p.counts, vec![1, 0]);
    assert!(p.browsers.is_empty());
}
