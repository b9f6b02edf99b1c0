//! Moderation at the edge: its events, commands and views, both ways.

use convene_protocol as p;

use crate::domain as d;

pub(crate) fn hidden_out(h: &d::Hidden) -> p::HiddenMark {
    p::HiddenMark {
        by: h.by.clone(),
        at: h.at,
        reason: h.reason.clone(),
    }
}

pub(crate) fn hidden_in(h: p::HiddenMark) -> d::Hidden {
    d::Hidden {
        by: h.by,
        at: h.at,
        reason: h.reason,
    }
}

pub(crate) fn report_out(r: &d::Report) -> p::ReportView {
    p::ReportView {
        id: r.id,
        at: r.at,
        by: r.by.clone(),
        room: r.room.clone(),
        message: r.message,
        reason: r.reason.clone(),
    }
}

pub(crate) fn report_in(r: p::ReportView) -> (u64, d::Report) {
    (
        r.id,
        d::Report {
            id: r.id,
            at: r.at,
            by: r.by,
            room: r.room,
            message: r.message,
            reason: r.reason,
        },
    )
}

pub(crate) fn mute_out(who: &str, m: &d::Mute) -> p::MuteView {
    p::MuteView {
        participant: who.to_string(),
        until: m.until,
        at: m.at,
        by: m.by.clone(),
        reason: m.reason.clone(),
    }
}

pub(crate) fn mute_in(m: p::MuteView) -> (String, d::Mute) {
    (
        m.participant,
        d::Mute {
            until: m.until,
            at: m.at,
            by: m.by,
            reason: m.reason,
        },
    )
}

pub(crate) fn removal_out(who: &str, r: &d::Removal) -> p::RemovalView {
    p::RemovalView {
        participant: who.to_string(),
        at: r.at,
        by: r.by.clone(),
        reason: r.reason.clone(),
    }
}

pub(crate) fn removal_in(r: p::RemovalView) -> (String, d::Removal) {
    (
        r.participant,
        d::Removal {
            at: r.at,
            by: r.by,
            reason: r.reason,
        },
    )
}

#[cfg(test)]
mod tests {
    use convene_protocol as p;

    use crate::domain::moderation as d;

    /// The budgets the domain enforces are the ones the protocol documents.
    #[test]
    fn the_budgets_agree() {
        assert_eq!(
            d::MAX_MODERATION_REASON_CHARS,
            p::MAX_MODERATION_REASON_CHARS
        );
        assert_eq!(d::MAX_REPORT_REASON_CHARS, p::MAX_REPORT_REASON_CHARS);
        assert_eq!(
            d::MAX_OPEN_REPORTS_PER_REPORTER,
            p::MAX_OPEN_REPORTS_PER_REPORTER
        );
    }
}
