//! The demo convention a newcomer sees at once: 2 facilitators, 2 rapporteurs, 2 guarantors,
//! 4 experts and 24 citizens of the 24 communes of Nantes Métropole, with working links.

use std::path::Path;

use convene_protocol::api::Invite;
use rand::RngCore;

use crate::domain::documents::OPINION;
use crate::domain::{self as d, NewPerson, Role};
use crate::invites;
use crate::live::{CommandError, Hub};

pub const DEMO_ID: &str = "demo";
const DEMO_NAME: &str = "Convention citoyenne de Nantes Métropole (démo)";

/// The 24 communes of Nantes Métropole.
pub const COMMUNES: [&str; 24] = [
    "Basse-Goulaine",
    "Bouaye",
    "Bouguenais",
    "Brains",
    "Carquefou",
    "Couëron",
    "Indre",
    "La Chapelle-sur-Erdre",
    "La Montagne",
    "Le Pellerin",
    "Les Sorinières",
    "Mauves-sur-Loire",
    "Nantes",
    "Orvault",
    "Rezé",
    "Saint-Aignan-Grandlieu",
    "Saint-Herblain",
    "Saint-Jean-de-Boiseau",
    "Saint-Léger-les-Vignes",
    "Saint-Sébastien-sur-Loire",
    "Sainte-Luce-sur-Loire",
    "Sautron",
    "Thouaré-sur-Loire",
    "Vertou",
];
const FIRST: [&str; 24] = [
    "Amina",
    "Bernard",
    "Camille",
    "Dominique",
    "Élodie",
    "Fabien",
    "Gaëlle",
    "Hugo",
    "Inès",
    "Jacques",
    "Karima",
    "Louis",
    "Maëlys",
    "Nicolas",
    "Océane",
    "Pierre",
    "Quitterie",
    "Rachid",
    "Sophie",
    "Thierry",
    "Ursule",
    "Victor",
    "Wassila",
    "Yann",
];
const LAST: [&str; 24] = [
    "Diallo",
    "Martin",
    "Le Goff",
    "Bernard",
    "Moreau",
    "Guérin",
    "Nguyen",
    "Lefebvre",
    "Benali",
    "Roux",
    "Haddad",
    "Fournier",
    "Rousseau",
    "Girard",
    "Bonnet",
    "Dupont",
    "Lambert",
    "Mercier",
    "Blanc",
    "Garnier",
    "Faure",
    "Chevalier",
    "Morel",
    "Le Bihan",
];
const AGES: [&str; 4] = ["18-29", "30-44", "45-64", "65+"];

fn person(name: &str, roles: &[Role], attrs: &[(&str, &str)]) -> NewPerson {
    NewPerson {
        name: name.to_string(),
        roles: roles.to_vec(),
        attributes: attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

fn roster() -> Vec<NewPerson> {
    let mut people = vec![
        person("Claire Animatrice", &[Role::Facilitator], &[]),
        person("Marc Animateur", &[Role::Facilitator], &[]),
        person(
            "Lucie Rapporteuse",
            &[Role::Rapporteur, Role::Citizen],
            &[("commune", "Nantes")],
        ),
        person("Antoine Rapporteur", &[Role::Rapporteur], &[]),
        person("Hélène Garante", &[Role::Guarantor], &[]),
        person("Olivier Garant", &[Role::Guarantor], &[]),
        person("Dr Sarah Cohen (santé publique)", &[Role::Expert], &[]),
        person("Paul Lemoine (logement)", &[Role::Expert], &[]),
        person("Nadia Brahimi (mobilités)", &[Role::Expert], &[]),
        person("Jean-Luc Perrin (alimentation)", &[Role::Expert], &[]),
    ];
    for i in 0..24 {
        let gender = if i % 2 == 0 { "F" } else { "H" };
        people.push(person(
            &format!("{} {}", FIRST[i], LAST[(i * 7) % 24]),
            &[Role::Citizen],
            &[
                ("commune", COMMUNES[i]),
                ("age", AGES[i % 4]),
                ("genre", gender),
            ],
        ));
    }
    people
}

/// What the demo convention comes with (`--demo-day`): its day is prepared at start while
/// its run sheet has never had a sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DemoDay {
    /// A day ready to run: a run sheet, its hearing, rotation plan and draft vote.
    Prepared,
    /// The roster and the opinion only.
    None,
}

/// The first facilitator, who prepares the demo's day.
const FACILITATOR: &str = "p00001";
/// The demo's experts (the 7th to 10th people of its roster).
const EXPERTS: [&str; 4] = ["p00007", "p00008", "p00009", "p00010"];

/// The id a command's one event gave what it made (a poll, a hearing).
fn made(records: &[d::Record]) -> Option<String> {
    records.iter().find_map(|r| match &r.event {
        d::Event::PollDrafted { poll, .. } => Some(poll.clone()),
        d::Event::HearingCreated { hearing, .. } => Some(hearing.clone()),
        _ => None,
    })
}

/// What the demo's public link token derives from (no participant has this id).
const PUBLIC_LINK: &str = "public-link";

const DAY_POLL: &str = "Faut-il des bus de nuit le week-end dans toute la métropole ?";
const DAY_HEARING: &str = "Les mobilités de demain";

/// A day prepared the way a facilitator would, so that a newcomer sees the run sheet work
/// at once: a hearing, an expert rotation, breakout rooms balanced by commune and a vote,
/// from the next quarter of an hour on; and a public page for the plenary. Prepared while
/// the run sheet has never had a sequence: once it has, the day is the facilitators' (what
/// they delete stays deleted).
/// Each piece is made only if it is not there yet, so that a start interrupted halfway is
/// finished by the next.
async fn prepare_day(
    h: &crate::live::Handle,
    now: u64,
    public_hash: &str,
) -> Result<(), DemoError> {
    use d::runsheet::{Action, BreakoutRooms, Grouping, SequenceSpec};
    const MIN: u64 = 60_000;
    let fac = || d::Actor::Participant(FACILITATOR.into());
    let (started, poll, hearing, planned, linked) = h
        .query(|c, _| {
            (
                c.runsheet.made > 0,
                c.polls
                    .values()
                    .find(|p| p.spec.question == DAY_POLL)
                    .map(|p| p.id.clone()),
                c.hearings
                    .values()
                    .find(|x| x.title == DAY_HEARING)
                    .map(|x| x.id.clone()),
                c.rotation.is_some(),
                c.public.link.is_some(),
            )
        })
        .await
        .ok_or(CommandError::Gone)?;
    if started {
        return Ok(());
    }
    let poll = match poll {
        Some(id) => id,
        None => {
            let spec = d::PollSpec {
                question: DAY_POLL.into(),
                kind: d::PollKind::Single {
                    options: vec!["Oui".into(), "Non".into(), "Sans avis".into()],
                },
                secret: true,
                live_results: false,
                voters: vec![Role::Citizen],
                quorum: None,
                duration_ms: Some(10 * MIN),
                room: None,
            };
            let records = h.command(fac(), d::Command::DraftPoll { spec }).await?;
            made(&records).ok_or(DemoError::Day("the vote's draft"))?
        }
    };
    let hearing = match hearing {
        Some(id) => id,
        None => {
            let create = d::Command::CreateHearing {
                title: DAY_HEARING.into(),
                speaker: EXPERTS[2].into(),
                room: d::PLENARY.into(),
                anonymous: false,
                moderated: true,
            };
            let records = h.command(fac(), create).await?;
            made(&records).ok_or(DemoError::Day("the hearing"))?
        }
    };
    // A public page for the plenary, as for a public restitution (§24).
    if !linked {
        let link = d::Command::CreatePublicLink {
            token_hash: public_hash.to_string(),
            livestream: None,
        };
        h.command(d::Actor::Organizer, link).await?;
    }
    if !planned {
        h.command(
            fac(),
            d::Command::PlanRotation {
                experts: EXPERTS.iter().map(|e| e.to_string()).collect(),
                grouping: d::AssignMethod::Balanced("commune".into()),
                groups: None,
                group_count: Some(4),
                group_size: None,
                participants: None,
                // Nobody is online when the demo is made: every citizen, in 4 groups.
                only_present: false,
                round_ms: 10 * MIN,
                transition_ms: MIN,
                warning_ms: MIN,
                rounds: None,
                break_room: false,
            },
        )
        .await?;
    }
    // Each step after a rotation or breakout rooms starts with everyone back in the plenary
    // (a `plenary` sequence stops the rotation and closes the hearing), as a facilitator
    // moving on early needs.
    let day: [(&str, u64, Action); 7] = [
        ("Accueil en plénière", 15, Action::Plenary),
        (
            "Audition : les mobilités de demain",
            30,
            Action::Hearing { hearing },
        ),
        ("Rencontres avec les experts", 45, Action::Rotation),
        ("Pause, puis retour en plénière", 15, Action::Plenary),
        (
            "Travail en sous-groupes",
            45,
            Action::Breakouts {
                rooms: BreakoutRooms::New {
                    count: Some(4),
                    names: vec![],
                },
                grouping: Grouping::Balanced("commune".into()),
                duration_ms: 40 * MIN,
                warning_ms: 5 * MIN,
            },
        ),
        ("Restitution en plénière", 30, Action::Plenary),
        ("Vote : bus de nuit", 15, Action::Polls(vec![poll])),
    ];
    let quarter = 15 * MIN;
    let mut start = now.div_ceil(quarter) * quarter;
    for (title, minutes, action) in day {
        let spec = SequenceSpec {
            title: title.into(),
            planned_start: start,
            planned_ms: minutes * MIN,
            action,
        };
        h.command(fac(), d::Command::AddSequence { spec, before: None })
            .await?;
        start += minutes * MIN;
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("demo secret: {0}")]
    Secret(std::io::Error),
    #[error("demo convention: {0}")]
    Command(#[from] CommandError),
    #[error("demo convention: {0} was not made")]
    Day(&'static str),
}

/// Create the demo convention unless it exists, and return working invitations for the
/// demo's own people (its seeded roster). Their tokens derive from a secret kept in the data
/// directory (0600), so the links stay the same from one start to the next; people an
/// organizer added over the API keep the invitations issued to them.
pub async fn seed(
    hub: &Hub,
    data_dir: &Path,
    shared: Option<Vec<u8>>,
    public_url: &str,
    day: DemoDay,
) -> Result<Seeded, DemoError> {
    let secret_path = data_dir.join("demo-secret");
    let secret = match shared
        .map(Ok)
        .unwrap_or_else(|| std::fs::read(&secret_path))
    {
        Ok(s) => s,
        Err(_) => {
            let mut s = [0u8; 32];
            rand::thread_rng().fill_bytes(&mut s);
            crate::datadir::write_private(&secret_path, &s).map_err(DemoError::Secret)?;
            s.to_vec()
        }
    };
    let handle = match hub.find(DEMO_ID).await {
        Some(h) => h,
        None => {
            let h = hub.create(DEMO_ID, DEMO_NAME.to_string()).await?;
            h.command(
                d::Actor::Organizer,
                d::Command::AddParticipants { people: roster() },
            )
            .await?;
            h
        }
    };
    // The public page's link (§24): its token derives from the secret like the invitations'.
    let public_token = invites::derived_token(DEMO_ID, &secret, PUBLIC_LINK);
    let public_hash = crate::gateway::hash_token(&public_token);
    if day == DemoDay::Prepared {
        prepare_day(&handle, crate::attendance::now_ms(), &public_hash).await?;
    }
    // Printed while it is the active link (an organizer may revoke or replace it).
    let ours = public_hash.clone();
    let public_page = handle
        .query(move |c, _| c.public.link.as_deref() == Some(ours.as_str()))
        .await
        .ok_or(CommandError::Gone)?
        .then(|| crate::gateway::page_url(public_url, &public_token));
    // The opinion the rapporteurs write, created by the first facilitator (also in demo
    // conventions seeded before documents existed).
    let has_opinion = handle
        .query(|c, _| c.documents.contains_key(OPINION))
        .await
        .ok_or(CommandError::Gone)?;
    if !has_opinion {
        let opinion = d::Command::CreateDocument {
            name: OPINION.into(),
            title: "Avis citoyen".into(),
        };
        handle
            .command(d::Actor::Participant("p00001".into()), opinion)
            .await?;
    }
    // The demo's own people are the roster it was seeded with: the first people added, in id
    // order (ids follow the order of addition). Anyone an organizer added later holds the
    // invitation the organizer gave them, which the demo must neither print nor replace.
    let own = roster().len();
    let own_people = handle
        .query(move |c, _| c.people.values().take(own).cloned().collect::<Vec<_>>())
        .await
        .ok_or(CommandError::Gone)?;
    // Re-issue only where the stored hash is not the derived token's (first start, or an
    // organizer revoked or replaced a demo link): the demo's links stay the same.
    let secret2 = secret.clone();
    let ids: Vec<String> = own_people.iter().map(|p| p.id.clone()).collect();
    let stale: Vec<String> = handle
        .query(move |c, _| {
            ids.into_iter()
                .filter(|p| {
                    let expected =
                        crate::gateway::hash_token(&invites::derived_token(DEMO_ID, &secret2, p));
                    c.invites.get(p) != Some(&expected)
                })
                .collect()
        })
        .await
        .ok_or(CommandError::Gone)?;
    let s = secret.clone();
    if !stale.is_empty() {
        invites::issue(&handle, DEMO_ID, public_url, Some(stale), move |p| {
            invites::derived_token(DEMO_ID, &s, p)
        })
        .await?;
    }
    // The demo's own links, same as last time.
    let invites = own_people
        .into_iter()
        .map(|p| {
            let token = invites::derived_token(DEMO_ID, &secret, &p.id);
            Invite {
                convention: DEMO_ID.to_string(),
                participant: p.id.clone(),
                name: p.name.clone(),
                roles: p.roles.iter().copied().map(crate::wire::role_out).collect(),
                url: invites::link(public_url, &token),
                token,
            }
        })
        .collect();
    Ok(Seeded {
        invites,
        public_page,
    })
}

/// What `seed` gives to print: the demo's own invitations, and its public page's link while
/// it is the active one.
pub struct Seeded {
    pub invites: Vec<Invite>,
    pub public_page: Option<String>,
}
