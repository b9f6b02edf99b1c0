//! The JSON Schema of the protocol, as committed in `protocol/schema.json`.

use crate::*;

/// The JSON Schema of every wire type, as committed in `protocol/schema.json`.
pub fn schema() -> serde_json::Value {
    let settings = schemars::gen::SchemaSettings::draft07();
    let mut gen = settings.into_generator();
    let mut defs = serde_json::Map::new();
    macro_rules! add {
        ($($t:ty),*) => {$(
            let s = gen.subschema_for::<$t>();
            let _ = s;
        )*};
    }
    add!(
        ClientMessage,
        ServerMessage,
        Command,
        Event,
        Record,
        AuditEntry
    );
    add!(
        api::CreateConvention,
        api::ConventionSummary,
        api::ConventionDeleted,
        api::RosterEntry,
        api::RosterAdded,
        api::IssueInvites,
        api::Invite,
        api::InviteStatus,
        api::ErrorBody,
        api::RosterProblem,
        api::PollResults,
        api::NamedBallot,
        // Moderation: the chat export.
        ChatExportLine
    );
    // Attendance (issue #17).
    add!(AttendanceReport);
    // Floor time.
    add!(FloorTimeReport);
    // Run sheet.
    add!(SequenceReport);
    // Public audience (§24).
    add!(
        PublicClientMessage,
        PublicServerMessage,
        CreatePublicLink,
        SetLivestream,
        PublicLink,
        PublicLinkStatus,
        PublicPolls
    );
    for (name, s) in gen.definitions() {
        defs.insert(name.clone(), serde_json::to_value(s).unwrap_or_default());
    }
    serde_json::json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "Convene protocol",
        "description": format!("Wire types of the Convene protocol, version {PROTOCOL_VERSION}. See PROTOCOL.md."),
        "definitions": defs,
    })
}
