//! Public audience (§24): its events and stored state, domain <-> protocol.

use convene_protocol as p;

use crate::domain::{self as d, public::PublicState};

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
    }
}

pub fn state_in(s: p::PublicStored) -> PublicState {
    PublicState {
        link: s.link,
        livestream: s.livestream,
        published: s.published.map(|v| (v.document, v.version)),
    }
}
