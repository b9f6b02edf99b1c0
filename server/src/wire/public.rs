//! Public audience (§24): its events and stored state, domain <-> protocol.

use convene_protocol as p;

use crate::domain::public::{PublicPoll, PublicState};
use crate::domain::{self as d};

pub fn event_out(e: &d::Event) -> p::Event {
    use d::Event as D;
    match e {
        D::PublicLinkCreated {
            token_hash,
            livestream,
        } => p::Event::PublicLinkCreated {
            token_hash: token_hash.clone(),
            livestream: livestream.clone(),
        },
        D::LivestreamSet { livestream } => p::Event::LivestreamSet {
            livestream: livestream.clone(),
        },
        D::DocumentPublished { document, version } => p::Event::DocumentPublished {
            document: document.clone(),
            version: *version,
        },
        D::PublicPollOpened {
            poll,
            question,
            options,
        } => p::Event::PublicPollOpened {
            poll: poll.clone(),
            question: question.clone(),
            options: options.clone(),
        },
        D::PublicBallotCast {
            poll,
            choice,
            browser,
        } => p::Event::PublicBallotCast {
            poll: poll.clone(),
            choice: *choice,
            browser: browser.clone(),
        },
        D::PublicPollClosed { poll, counts } => p::Event::PublicPollClosed {
            poll: poll.clone(),
            tally: tally_out(counts),
        },
        // Only public events are given here (see `wire::event_out`).
        _ => p::Event::PublicLinkRevoked,
    }
}

pub fn event_in(e: p::Event) -> d::Event {
    use p::Event as P;
    match e {
        P::PublicLinkCreated {
            token_hash,
            livestream,
        } => d::Event::PublicLinkCreated {
            token_hash,
            livestream,
        },
        P::LivestreamSet { livestream } => d::Event::LivestreamSet { livestream },
        P::DocumentPublished { document, version } => {
            d::Event::DocumentPublished { document, version }
        }
        P::PublicPollOpened {
            poll,
            question,
            options,
        } => d::Event::PublicPollOpened {
            poll,
            question,
            options,
        },
        P::PublicBallotCast {
            poll,
            choice,
            browser,
        } => d::Event::PublicBallotCast {
            poll,
            choice,
            browser,
        },
        P::PublicPollClosed { poll, tally } => d::Event::PublicPollClosed {
            poll,
            counts: tally.counts,
        },
        _ => d::Event::PublicLinkRevoked,
    }
}

pub fn state_out(s: &PublicState) -> p::PublicStored {
    p::PublicStored {
        link: s.link.clone(),
        livestream: s.livestream.clone(),
        published: s
            .published
            .as_ref()
            .map(|(document, version)| p::PublishedVersion {
                document: document.clone(),
                version: *version,
            }),
        polls: s
            .polls
            .iter()
            .map(|p| {
                let mut browsers: Vec<String> = p.browsers.iter().map(hex::encode).collect();
                // Sorted: a stored state says nothing of the order of the answers.
                browsers.sort_unstable();
                p::PublicPollStored {
                    poll: p.id.clone(),
                    question: p.question.clone(),
                    options: p.options.clone(),
                    opened_at: p.opened_at,
                    closed_at: p.closed_at,
                    counts: p.counts.clone(),
                    browsers,
                }
            })
            .collect(),
    }
}

pub fn state_in(s: p::PublicStored) -> PublicState {
    PublicState {
        link: s.link,
        livestream: s.livestream,
        published: s.published.map(|v| (v.document, v.version)),
        polls: s
            .polls
            .into_iter()
            .map(|p| PublicPoll {
                id: p.poll,
                question: p.question,
                options: p.options,
                opened_at: p.opened_at,
                closed_at: p.closed_at,
                counts: p.counts,
                browsers: p
                    .browsers
                    .iter()
                    .filter_map(|b| crate::domain::public::browser_key(b))
                    .collect(),
            })
            .collect(),
    }
}

/// A public poll's counts as a tally.
pub fn tally_out(counts: &[u64]) -> p::PublicTally {
    p::PublicTally {
        ballots: counts.iter().sum(),
        counts: counts.to_vec(),
    }
}

/// A public poll as staff read it (`GET /api/conventions/{id}/public-polls`).
pub fn poll_status(p: &PublicPoll) -> p::PublicPollStatus {
    p::PublicPollStatus {
        poll: p.id.clone(),
        question: p.question.clone(),
        options: p.options.clone(),
        open: p.closed_at.is_none(),
        opened_at: p.opened_at,
        closed_at: p.closed_at,
        tally: tally_out(&p.counts),
    }
}
