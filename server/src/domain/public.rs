//! The public audience (PROTOCOL.md §24): the convention's public link (its token's hash),
//! the livestream link shown beside it, and the version of a document published for the
//! public; and the public polls (indicative, one ballot per browser). Who watches is not
//! state: viewers are counted by the live layer, never listed.

use std::collections::HashSet;

use convene_protocol::{
    MAX_PUBLIC_BALLOTS, MAX_PUBLIC_OPTIONS, MAX_PUBLIC_POLLS, PUBLIC_BROWSER_CHARS,
};

use super::decide::reject;
use super::polls::{check_options, check_question};
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
    /// Public polls, in order of opening (`pp1`, `pp2`, ...); at most one open, the last.
    pub polls: Vec<PublicPoll>,
}

/// A poll for the public audience.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PublicPoll {
    pub id: String,
    pub question: String,
    pub options: Vec<String>,
    pub opened_at: u64,
    pub closed_at: Option<u64>,
    /// Answers per option.
    pub counts: Vec<u64>,
    /// Hashes of the browsers that answered (`browser_hash`), as bytes: in cluster mode the
    /// convention's state is copied before each batch (to undo it on an append conflict), and
    /// a set of plain bytes copies without an allocation per browser (as strings, 20,000
    /// answers cost about a millisecond of CPU each).
    pub browsers: HashSet<BrowserKey>,
}

/// A browser's hash as bytes (`browser_hash` is its hex form).
pub type BrowserKey = [u8; 32];

/// The bytes of a browser's hash in hex, if it is one.
pub fn browser_key(hash: &str) -> Option<BrowserKey> {
    let mut key = [0u8; 32];
    hex::decode_to_slice(hash, &mut key).ok()?;
    Some(key)
}

impl PublicPoll {
    pub fn ballots(&self) -> u64 {
        self.counts.iter().sum()
    }
}

impl PublicState {
    /// The open public poll, if any.
    pub fn open_poll(&self) -> Option<&PublicPoll> {
        self.polls.last().filter(|p| p.closed_at.is_none())
    }
}

/// Whether a browser id a viewer sent is well formed: `PUBLIC_BROWSER_CHARS` characters of
/// `A-Z a-z 0-9 - _`.
pub fn browser_ok(browser: &str) -> bool {
    PUBLIC_BROWSER_CHARS.contains(&browser.len())
        && browser
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// What the log keeps of a browser's id: its SHA-256 with the convention's and the poll's
/// ids, so the same browser is one ballot per poll, its id is nowhere stored, and its answers
/// to two polls do not carry the same hash (nothing links them).
pub fn browser_hash(convention: &str, poll: &str, browser: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(format!(
        "public-ballot\n{convention}\n{poll}\n{browser}"
    )))
}

/// Why a public poll does not take a ballot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    NotFound,
    Closed,
    /// The choice is out of range.
    NoSuchOption,
    /// The browser is no SHA-256 hash (the gateway makes them: never from a viewer).
    NotAHash,
    AlreadyVoted,
    Full,
}

/// Why a ballot for `poll` cannot be taken, if it cannot: `decide`'s rules, in one place (the
/// gateway names a refusal to the viewer with them).
pub fn ballot_refusal(
    public: &PublicState,
    poll: &str,
    choice: u32,
    browser: &str,
) -> Option<Refusal> {
    let Some(p) = public.polls.iter().find(|p| p.id == poll) else {
        return Some(Refusal::NotFound);
    };
    if p.closed_at.is_some() {
        return Some(Refusal::Closed);
    }
    if choice as usize >= p.options.len() {
        return Some(Refusal::NoSuchOption);
    }
    let Some(key) = browser_key(browser) else {
        return Some(Refusal::NotAHash);
    };
    if p.browsers.contains(&key) {
        return Some(Refusal::AlreadyVoted);
    }
    (p.ballots() >= MAX_PUBLIC_BALLOTS).then_some(Refusal::Full)
}

/// A public poll's question and options, checked and trimmed. Two options are the same when
/// they differ only in letter case or spacing (as the console checks).
fn check_public_poll(
    question: &str,
    options: &[String],
) -> Result<(String, Vec<String>), Rejection> {
    let invalid = |m: String| Rejection::new(Code::Invalid, m);
    let question = check_question(question).map_err(invalid)?;
    let mut options = options.to_vec();
    check_options(&mut options, 2, MAX_PUBLIC_OPTIONS).map_err(invalid)?;
    let mut seen = HashSet::new();
    for o in &options {
        let folded = o
            .to_lowercase()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if !seen.insert(folded) {
            return reject(Code::Invalid, format!("the option « {o} » is there twice"));
        }
    }
    Ok((question, options))
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
        Command::OpenPublicPoll { question, options } => {
            if state.public.link.is_none() {
                return reject(
                    Code::NotFound,
                    "this convention has no public link: the organizers make one first",
                );
            }
            if let Some(open) = state.public.open_poll() {
                return reject(
                    Code::Conflict,
                    format!("the public poll {} is still open: close it first", open.id),
                );
            }
            if state.public.polls.len() >= MAX_PUBLIC_POLLS {
                return reject(
                    Code::Conflict,
                    format!("a convention holds at most {MAX_PUBLIC_POLLS} public polls"),
                );
            }
            let (question, options) = check_public_poll(question, options)?;
            Ok(vec![Event::PublicPollOpened {
                poll: format!("pp{}", state.public.polls.len() + 1),
                question,
                options,
            }])
        }
        Command::ClosePublicPoll { poll } => {
            let Some(p) = state.public.polls.iter().find(|p| &p.id == poll) else {
                return reject(Code::NotFound, format!("no public poll {poll}"));
            };
            if p.closed_at.is_some() {
                return reject(
                    Code::Conflict,
                    format!("the public poll {poll} is closed already"),
                );
            }
            Ok(vec![Event::PublicPollClosed {
                poll: poll.clone(),
                counts: p.counts.clone(),
            }])
        }
        Command::CastPublicBallot {
            poll,
            choice,
            browser,
        } => {
            if let Some(refusal) = ballot_refusal(&state.public, poll, *choice, browser) {
                let (code, message) = match refusal {
                    Refusal::NotFound => (Code::NotFound, format!("no public poll {poll}")),
                    Refusal::Closed => {
                        (Code::Conflict, format!("the public poll {poll} is closed"))
                    }
                    Refusal::NoSuchOption => {
                        (Code::Invalid, format!("no option {choice} in {poll}"))
                    }
                    Refusal::NotAHash => (
                        Code::Invalid,
                        "a browser is kept as a SHA-256 hash".to_string(),
                    ),
                    Refusal::AlreadyVoted => (
                        Code::Conflict,
                        "this browser has answered this poll already".to_string(),
                    ),
                    Refusal::Full => (
                        Code::Conflict,
                        format!("the public poll {poll} holds its {MAX_PUBLIC_BALLOTS} answers"),
                    ),
                };
                return reject(code, message);
            }
            Ok(vec![Event::PublicBallotCast {
                poll: poll.clone(),
                choice: *choice,
                browser: browser.clone(),
            }])
        }
        _ => reject(Code::Invalid, "not a public-audience command"),
    }
}

pub fn apply(state: &mut Convention, event: &Event, at: u64) {
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
        Event::PublicPollOpened {
            poll,
            question,
            options,
        } => state.public.polls.push(PublicPoll {
            id: poll.clone(),
            question: question.clone(),
            options: options.clone(),
            opened_at: at,
            closed_at: None,
            counts: vec![0; options.len()],
            browsers: HashSet::new(),
        }),
        Event::PublicBallotCast {
            poll,
            choice,
            browser,
        } => {
            // As strict as `decide` (a log holds nothing else), by the same rules.
            if ballot_refusal(&state.public, poll, *choice, browser).is_some() {
                return;
            }
            let p = state.public.polls.iter_mut().find(|p| &p.id == poll);
            if let (Some(p), Some(key)) = (p, browser_key(browser)) {
                if let Some(c) = p.counts.get_mut(*choice as usize) {
                    *c += 1;
                    p.browsers.insert(key);
                }
            }
        }
        Event::PublicPollClosed { poll, counts } => {
            if let Some(p) = state.public.polls.iter_mut().find(|p| &p.id == poll) {
                p.closed_at = Some(at);
                p.counts = counts.clone();
                // A closed poll takes no answer: who answered is of no more use, and kept
                // it would be copied with the state before every batch in cluster mode.
                p.browsers = HashSet::new();
            }
        }
        _ => {}
    }
}
