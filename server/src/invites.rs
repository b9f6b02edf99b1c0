//! Invitation tokens: `{convention}.{32 hex}` (128 random bits), stored only as their hash.

use convene_protocol::api::Invite;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::domain as d;
use crate::gateway::hash_token;
use crate::live::{CommandError, Handle};
use crate::wire;

/// A fresh token with 128 random bits.
pub fn random_token(convention: &str) -> String {
    let mut secret = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut secret);
    format!("{convention}.{}", hex::encode(secret))
}

/// A token derived from a secret kept in the data directory: the demo prints the same
/// working links at every start without storing any token in clear.
pub fn derived_token(convention: &str, secret: &[u8], participant: &str) -> String {
    let mut h = Sha256::new();
    h.update(secret);
    h.update(convention.as_bytes());
    h.update([0]);
    h.update(participant.as_bytes());
    format!("{convention}.{}", hex::encode(&h.finalize()[..16]))
}

/// The link a participant opens: the token travels in the fragment, which browsers never
/// send to servers or put in referrers.
pub fn link(public_url: &str, token: &str) -> String {
    format!("{}/#token={token}", public_url.trim_end_matches('/'))
}

/// Issue invitations to `participants` (default: everyone without an active one), with
/// tokens from `make_token`, and return them: the only time the tokens are seen.
pub async fn issue(
    handle: &Handle,
    convention: &str,
    public_url: &str,
    participants: Option<Vec<String>>,
    make_token: impl Fn(&str) -> String + Send + 'static,
) -> Result<Vec<Invite>, CommandError> {
    let people = handle
        .query(move |state, _| {
            let ids: Vec<String> = match participants {
                Some(ids) => ids,
                None => state
                    .people
                    .keys()
                    .filter(|p| !state.invites.contains_key(*p))
                    .cloned()
                    .collect(),
            };
            ids.into_iter()
                .map(|id| (id.clone(), state.people.get(&id).cloned()))
                .collect::<Vec<_>>()
        })
        .await
        .ok_or(CommandError::Gone)?;
    let mut invites = Vec::new();
    let mut pairs = Vec::new();
    for (id, person) in people {
        let Some(person) = person else {
            return Err(CommandError::Rejected(d::Rejection::new(
                d::Code::NotFound,
                format!("no participant {id}"),
            )));
        };
        let token = make_token(&id);
        pairs.push((id.clone(), hash_token(&token)));
        invites.push(Invite {
            convention: convention.to_string(),
            participant: id,
            name: person.name.clone(),
            roles: person.roles.iter().copied().map(wire::role_out).collect(),
            url: link(public_url, &token),
            token,
        });
    }
    if !pairs.is_empty() {
        handle
            .command(
                d::Actor::Organizer,
                d::Command::IssueInvites { invites: pairs },
            )
            .await?;
    }
    Ok(invites)
}
