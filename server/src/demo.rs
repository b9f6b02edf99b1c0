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

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("demo secret: {0}")]
    Secret(std::io::Error),
    #[error("demo convention: {0}")]
    Command(#[from] CommandError),
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
) -> Result<Vec<Invite>, DemoError> {
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
    Ok(own_people
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
        .collect())
}
