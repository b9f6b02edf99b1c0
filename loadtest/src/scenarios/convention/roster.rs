//! The cast of a convention day: facilitators, guarantors, experts and citizens (the first
//! `--rapporteurs` of whom are rapporteurs too), with the roster attributes a balanced
//! assignment reads: commune, age band and gender.
//!
//! Communes come from `../shared/data/nantes-metropole-communes.txt` when it is there (or
//! `--communes FILE`): about half the citizens from the first commune of the file that is
//! "Nantes" (the city is about half of the metropole), the others spread at random over the
//! rest, as a draw by lot would give. Without the file, twelve made-up communes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use convene_protocol::api::RosterEntry;
use convene_protocol::Role;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The communes file, relative to the workspace (`/work/main` → `/work/shared/data`).
const COMMUNES_FILE: &str = "shared/data/nantes-metropole-communes.txt";

/// Age bands of the roster, with their share of a French adult population (roughly).
const AGES: [(&str, u32); 4] = [("18-34", 27), ("35-49", 25), ("50-64", 24), ("65+", 24)];

/// Who is who, by index in the roster (the same as the connection's index).
pub struct Cast {
    pub roster: Vec<RosterEntry>,
    pub facilitators: Vec<usize>,
    pub guarantors: Vec<usize>,
    pub experts: Vec<usize>,
    /// Citizens, rapporteurs first.
    pub citizens: Vec<usize>,
    pub rapporteurs: Vec<usize>,
    /// Where the communes came from (a file, or made up).
    pub communes_from: String,
    pub communes: usize,
}

/// The communes: `--communes FILE`, else the shared file if it is found, else made up.
fn communes(file: Option<&Path>) -> Result<(Vec<String>, String)> {
    let candidates: Vec<PathBuf> = match file {
        Some(f) => vec![f.to_path_buf()],
        None => vec![
            Path::new("..").join(COMMUNES_FILE),
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../..")
                .join(COMMUNES_FILE),
        ],
    };
    for path in &candidates {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        let list: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(String::from)
            .collect();
        if list.is_empty() {
            bail!("{}: no commune in it", path.display());
        }
        return Ok((list, path.display().to_string()));
    }
    if let Some(f) = file {
        bail!("--communes {}: cannot read it", f.display());
    }
    Ok((
        (1..=12).map(|i| format!("Commune {i}")).collect(),
        "made up (no communes file found)".to_string(),
    ))
}

fn entry(name: String, roles: Vec<Role>, attributes: BTreeMap<String, String>) -> RosterEntry {
    RosterEntry {
        name,
        roles,
        attributes,
    }
}

/// Build the roster: facilitators, guarantors, experts, then citizens.
pub fn build(
    facilitators: usize,
    guarantors: usize,
    experts: usize,
    citizens: usize,
    rapporteurs: usize,
    communes_file: Option<&Path>,
    seed: u64,
) -> Result<Cast> {
    let (communes, communes_from) = communes(communes_file).context("communes")?;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut roster = Vec::new();
    let f = 0..facilitators;
    let g = f.end..f.end + guarantors;
    let e = g.end..g.end + experts;
    let c = e.end..e.end + citizens;
    for i in 0..facilitators {
        roster.push(entry(
            format!("Animatrice {i}"),
            vec![Role::Facilitator],
            BTreeMap::new(),
        ));
    }
    for i in 0..guarantors {
        roster.push(entry(
            format!("Garant {i}"),
            vec![Role::Guarantor],
            BTreeMap::new(),
        ));
    }
    for i in 0..experts {
        roster.push(entry(
            format!("Experte {i}"),
            vec![Role::Expert],
            BTreeMap::new(),
        ));
    }
    let big = communes.iter().position(|c| c == "Nantes");
    let total_weight: u32 = AGES.iter().map(|a| a.1).sum();
    for i in 0..citizens {
        let commune = match big {
            Some(b) if rng.gen_bool(0.5) => communes[b].clone(),
            _ => communes[rng.gen_range(0..communes.len())].clone(),
        };
        let mut w = rng.gen_range(0..total_weight);
        let age = AGES
            .iter()
            .find(|(_, share)| {
                if w < *share {
                    true
                } else {
                    w -= share;
                    false
                }
            })
            .map_or(AGES[0].0, |a| a.0);
        let woman = rng.gen_bool(0.5);
        let mut attributes = BTreeMap::new();
        attributes.insert("commune".to_string(), commune);
        attributes.insert("age".to_string(), age.to_string());
        attributes.insert(
            "genre".to_string(),
            if woman { "femme" } else { "homme" }.to_string(),
        );
        let mut roles = vec![Role::Citizen];
        if i < rapporteurs {
            roles.push(Role::Rapporteur);
        }
        let name = format!("{} {i}", if woman { "Citoyenne" } else { "Citoyen" });
        roster.push(entry(name, roles, attributes));
    }
    let citizens: Vec<usize> = c.collect();
    Ok(Cast {
        roster,
        facilitators: f.collect(),
        guarantors: g.collect(),
        experts: e.collect(),
        rapporteurs: citizens[..rapporteurs.min(citizens.len())].to_vec(),
        citizens,
        communes_from,
        communes: communes.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cast_is_in_roster_order_with_attributes() {
        let c = build(2, 1, 3, 10, 2, None, 7).unwrap();
        assert_eq!(c.roster.len(), 16);
        assert_eq!(c.facilitators, vec![0, 1]);
        assert_eq!(c.guarantors, vec![2]);
        assert_eq!(c.experts, vec![3, 4, 5]);
        assert_eq!(c.citizens, (6..16).collect::<Vec<_>>());
        assert_eq!(c.rapporteurs, vec![6, 7]);
        assert_eq!(c.roster[6].roles, vec![Role::Citizen, Role::Rapporteur]);
        assert_eq!(c.roster[8].roles, vec![Role::Citizen]);
        for &i in &c.citizens {
            let a = &c.roster[i].attributes;
            assert!(a.contains_key("commune") && a.contains_key("age") && a.contains_key("genre"));
        }
        // The same seed, the same roster.
        assert_eq!(build(2, 1, 3, 10, 2, None, 7).unwrap().roster, c.roster);
    }
}
