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
