//! The public audience (PROTOCOL.md §24): the convention's public link (its token's hash),
//! the livestream link shown beside it, and the version of a document published for the
//! public. Who watches is not state: viewers are counted by the live layer, never listed.

use super::decide::reject;
use super::{Code, Command, Convention, Event, Rejection};

/// Longest livestream URL, in characters.
pub const MAX_LIVESTREAM_CHARS: usize = 500;

/// What the public sees of a convention, besides the live plenary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PublicState {
    /// SHA-256 of the active public link's token; `None`: no public link.
    pub link: Option<String>,
    /// The video livestream's URL shown on the public page.
    pub livestream: Option<String>,
    /// The document and named version published for the public (the opinion).
    pub published: Option<(String, u32)>,
}

/// A livestream URL: `http(s)://`, no whitespace, at most `MAX_LIVESTREAM_CHARS`.
pub fn check_livestream(url: &Option<String>) -> Result<Option<String>, Rejection> {
    let Some(url) = url else { return Ok(None) };
    let url = url.trim();
    if url.is_empty() {
        return Ok(None);
    }
    if url.chars().count() > MAX_LIVESTREAM_CHARS {
        return reject(
            Code::Invalid,
            format!("the livestream URL is longer than {MAX_LIVESTREAM_CHARS} characters"),
        );
    }
    let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
    if !scheme_ok || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return reject(
            Code::Invalid,
            "the livestream URL must be an http:// or https:// URL without spaces",
        );
    }
    Ok(Some(url.to_string()))
}

pub fn decide(state: &Convention, command: &Command) -> Result<Vec<Event>, Rejection> {
    match command {
        Command::CreatePublicLink {
            token_hash,
            livestream,
        } => {
            if token_hash.len() != 64 || !token_hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                return reject(Code::Invalid, "a public link is stored as a SHA-256 hash");
            }
            Ok(vec![Event::PublicLinkCreated {
                token_hash: token_hash.clone(),
                livestream: check_livestream(livestream)?,
            }])
        }
        Command::RevokePublicLink => {
            if state.public.link.is_none() {
                return reject(Code::NotFound, "this convention has no public link");
            }
            Ok(vec![Event::PublicLinkRevoked])
        }
        Command::SetLivestream { livestream } => {
            if state.public.link.is_none() {
                return reject(Code::NotFound, "this convention has no public link");
            }
            Ok(vec![Event::LivestreamSet {
                livestream: check_livestream(livestream)?,
            }])
        }
        Command::PublishDocument { document, version } => {
            let Some(doc) = state.documents.get(document) else {
                return reject(Code::NotFound, format!("no document {document}"));
            };
            if !doc.versions.iter().any(|(v, _, _)| v == version) {
                return reject(
                    Code::NotFound,
                    format!("document {document} has no named version {version}"),
                );
            }
            Ok(vec![Event::DocumentPublished {
                document: document.clone(),
                version: *version,
            }])
        }
        _ => reject(Code::Invalid, "not a public-audience command"),
    }
}

pub fn apply(state: &mut Convention, event: &Event) {
    match event {
        Event::PublicLinkCreated {
            token_hash,
            livestream,
        } => {
            state.public.link = Some(token_hash.clone());
            state.public.livestream = livestream.clone();
        }
        Event::PublicLinkRevoked => state.public.link = None,
        Event::LivestreamSet { livestream } => state.public.livestream = livestream.clone(),
        Event::DocumentPublished { document, version } => {
            state.public.published = Some((document.clone(), *version));
        }
        _ => {}
    }
}
