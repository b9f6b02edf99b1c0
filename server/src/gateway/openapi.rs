//! The OpenAPI 3 document of the HTTP API, served at `/openapi.json`. Paths are listed here;
//! every body schema is generated from the protocol types, so they cannot drift apart.

use axum::Json;
use convene_protocol::api::{
    ConventionDeleted, ConventionSummary, CreateConvention, ErrorBody, Invite, InviteStatus,
    IssueInvites, NamedBallot, Nodes, PollResults, RosterAdded, RosterEntry, VideoMeeting,
};
use convene_protocol::{ChatExportLine, Person};
use schemars::gen::SchemaSettings;
use serde_json::{json, Value};

pub async fn serve() -> Json<Value> {
    Json(document())
}

/// Every (method, path) the document describes; a test checks the router serves each.
pub const OPERATIONS: &[(&str, &str)] = &[
    ("post", "/api/conventions"),
    ("get", "/api/conventions"),
    ("get", "/api/conventions/{id}"),
    ("delete", "/api/conventions/{id}"),
    ("post", "/api/conventions/{id}/roster"),
    ("get", "/api/conventions/{id}/roster"),
    ("post", "/api/conventions/{id}/invites"),
    ("get", "/api/conventions/{id}/invites"),
    ("delete", "/api/conventions/{id}/invites/{participant}"),
    ("get", "/api/conventions/{id}/audit"),
    ("get", "/api/conventions/{id}/polls"),
    ("get", "/api/conventions/{id}/polls/{poll}/results"),
    ("get", "/api/conventions/{id}/polls/{poll}/ballots"),
    ("get", "/api/conventions/{id}/rotation"),
    // Run sheet.
    ("get", "/api/conventions/{id}/runsheet"),
    ("get", "/api/conventions/{id}/floor-time"),
    ("get", "/api/conventions/{id}/hearings/{hearing}/questions"),
    ("get", "/api/conventions/{id}/chat"),
    ("get", "/api/conventions/{id}/video"),
    // Attendance (issue #17).
    ("get", "/api/conventions/{id}/attendance"),
    // Public audience (§24).
    ("post", "/api/conventions/{id}/public-link"),
    ("put", "/api/conventions/{id}/public-link"),
    ("get", "/api/conventions/{id}/public-link"),
    ("delete", "/api/conventions/{id}/public-link"),
    ("get", "/api/conventions/{id}/public-polls"),
    ("get", "/public/opinion"),
    ("get", "/api/conventions/{id}/documents/{doc}/export"),
    ("get", "/api/conventions/{id}/documents/{doc}/versions"),
    ("get", "/api/conventions/{id}/documents/{doc}/diff"),
    ("get", "/healthz"),
    ("get", "/nodes"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
];

pub fn document() -> Value {
    let mut gen = SchemaSettings::openapi3().into_generator();
    let create = serde_json::to_value(gen.subschema_for::<CreateConvention>()).unwrap_or_default();
    let summary =
        serde_json::to_value(gen.subschema_for::<ConventionSummary>()).unwrap_or_default();
    let deleted =
        serde_json::to_value(gen.subschema_for::<ConventionDeleted>()).unwrap_or_default();
    let summaries =
        serde_json::to_value(gen.subschema_for::<Vec<ConventionSummary>>()).unwrap_or_default();
    let roster_in =
        serde_json::to_value(gen.subschema_for::<Vec<RosterEntry>>()).unwrap_or_default();
    let added = serde_json::to_value(gen.subschema_for::<RosterAdded>()).unwrap_or_default();
    let people = serde_json::to_value(gen.subschema_for::<Vec<Person>>()).unwrap_or_default();
    let issue = serde_json::to_value(gen.subschema_for::<IssueInvites>()).unwrap_or_default();
    let invites = serde_json::to_value(gen.subschema_for::<Vec<Invite>>()).unwrap_or_default();
    let statuses =
        serde_json::to_value(gen.subschema_for::<Vec<InviteStatus>>()).unwrap_or_default();
    let error = serde_json::to_value(gen.subschema_for::<ErrorBody>()).unwrap_or_default();
    let chat_lines =
        serde_json::to_value(gen.subschema_for::<Vec<ChatExportLine>>()).unwrap_or_default();
    let results = serde_json::to_value(gen.subschema_for::<PollResults>()).unwrap_or_default();
    let all_results =
        serde_json::to_value(gen.subschema_for::<Vec<PollResults>>()).unwrap_or_default();
    let named = serde_json::to_value(gen.subschema_for::<Vec<NamedBallot>>()).unwrap_or_default();
    let nodes = serde_json::to_value(gen.subschema_for::<Nodes>()).unwrap_or_default();
    let video = serde_json::to_value(gen.subschema_for::<VideoMeeting>()).unwrap_or_default();
    let versions = serde_json::to_value(gen.subschema_for::<Vec<convene_protocol::VersionInfo>>())
        .unwrap_or_default();
    // Attendance (issue #17).
    let attendance =
        serde_json::to_value(gen.subschema_for::<convene_protocol::AttendanceReport>())
            .unwrap_or_default();
    // Run sheet.
    let runsheet =
        serde_json::to_value(gen.subschema_for::<Vec<convene_protocol::SequenceReport>>())
            .unwrap_or_default();
    let floor_time = serde_json::to_value(gen.subschema_for::<convene_protocol::FloorTimeReport>())
        .unwrap_or_default();
    // Public audience (§24).
    let public_create =
        serde_json::to_value(gen.subschema_for::<convene_protocol::CreatePublicLink>())
            .unwrap_or_default();
    let public_live = serde_json::to_value(gen.subschema_for::<convene_protocol::SetLivestream>())
        .unwrap_or_default();
    let public_link = serde_json::to_value(gen.subschema_for::<convene_protocol::PublicLink>())
        .unwrap_or_default();
    let public_status =
        serde_json::to_value(gen.subschema_for::<convene_protocol::PublicLinkStatus>())
            .unwrap_or_default();
    let public_polls = serde_json::to_value(gen.subschema_for::<convene_protocol::PublicPolls>())
        .unwrap_or_default();
    let schemas: serde_json::Map<String, Value> = gen
        .take_definitions()
        .into_iter()
        .map(|(k, v)| (k, serde_json::to_value(v).unwrap_or_default()))
        .collect();

    let ok = |desc: &str, s: &Value| json!({ "description": desc, "content": { "application/json": { "schema": s } } });
    let err = |desc: &str| json!({ "description": desc, "content": { "application/json": { "schema": error } } });
    let id_param = json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string" }, "description": "The convention's id" });
    let format_param = json!({ "name": "format", "in": "query", "required": false, "schema": { "type": "string", "enum": ["json", "csv", "xlsx"] }, "description": "json (default); csv for programs (English keys, times in ms or ISO 8601 UTC, no cell runs as a formula); xlsx, a spreadsheet for people (headers in `lang`, numbers as numbers, times as dates in `tz`)" });
    const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    let lang_param = json!({ "name": "lang", "in": "query", "required": false, "schema": { "type": "string", "enum": ["fr", "en"] }, "description": "xlsx only: the headers' language (default fr)" });
    let tz_param = json!({ "name": "tz", "in": "query", "required": false, "schema": { "type": "string", "maxLength": 64 }, "description": "xlsx only: IANA time zone of the dates (default UTC), e.g. Europe/Paris" });
    let poll_param = json!({ "name": "poll", "in": "path", "required": true, "schema": { "type": "string" }, "description": "The poll's id (q1, q2...)" });
    let ok_or_csv = |desc: &str, s: &Value| json!({ "description": desc, "content": { "application/json": { "schema": s }, "text/csv": { "schema": { "type": "string" } }, XLSX: { "schema": { "type": "string", "format": "binary" } } } });
    // Who may call: `x-convene-access` says it for programs (a test calls every route with
    // every role against it), `security` for OpenAPI tools, the description for people.
    let organizer_only = |mut op: Value| {
        op["security"] = json!([{ "organizer": [] }]);
        op["x-convene-access"] = json!({ "organizer": true, "roles": [] });
        op["responses"]["401"] = err("No organizer token, or not this server's (an invitation token is not an organizer token)");
        op
    };
    let participants = |roles: &[&str], who: &str, mut op: Value| {
        op["security"] = json!([{ "organizer": [] }, { "invitation": [] }]);
        op["x-convene-access"] = json!({ "organizer": true, "roles": roles });
        let said = op["description"]
            .as_str()
            .map(|d| format!("{d} "))
            .unwrap_or_default();
        op["description"] = json!(format!("{said}Who may call: the organizer token, or the invitation token of {who} of this convention, as `Authorization: Bearer` (a token in the URL, `?token=`, is refused with 400)."));
        let bad = op["responses"]["400"]["description"]
            .as_str()
            .map(|d| format!("{d}; or "))
            .unwrap_or_default();
        op["responses"]["400"] = err(&format!(
            "{bad}a token in the URL (?token=): send it as Authorization: Bearer (code invalid)"
        ));
        op["responses"]["401"] = err("No token, or one that is neither the organizer's nor an active invitation of this convention (revoked, made up, another convention's)");
        if roles.len() < 5 {
            op["responses"]["403"] = err(&format!(
                "An invitation of this convention whose roles may not: only {who}"
            ));
        }
        op
    };
    let staff = &["facilitator", "guarantor"][..];
    let everyone = &[
        "citizen",
        "facilitator",
        "rapporteur",
        "guarantor",
        "expert",
    ][..];
    let public = |mut op: Value| {
        op["security"] = json!([]);
        op["x-convene-access"] = json!({ "public": true });
        op
    };
    let doc_param = json!({ "name": "doc", "in": "path", "required": true, "schema": { "type": "string" }, "description": "The document's name (the opinion is `opinion`)" });
    let version_param = json!({ "name": "version", "in": "query", "required": false, "schema": { "type": "integer" }, "description": "A named version; default: the current content" });
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Convene organizer API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Set a convention up: roster, roles, invitations; export its audit trail, polls, rotation and documents. Each operation's x-convene-access says who may call it: the organizer token, and on some routes the invitation tokens of the roles it names, always as Authorization: Bearer (never in the URL). Participants use the WebSocket /ws, public viewers /public/ws (see PROTOCOL.md)."
        },
        "components": {
            "securitySchemes": {
                "organizer": { "type": "http", "scheme": "bearer", "description": "The organizer token (--organizer-token / CONVENE_ORGANIZER_TOKEN)" },
                "invitation": { "type": "http", "scheme": "bearer", "description": "A participant's invitation token ({convention}.{32 hex}), on the routes whose x-convene-access names their roles" },
                "public_link": { "type": "http", "scheme": "bearer", "description": "A convention's public link ({convention}.{32 hex}, PROTOCOL.md §24), on the routes whose x-convene-access says public_link" }
            },
            "schemas": schemas
        },
        "paths": {
            "/api/conventions": {
                "post": organizer_only(json!({
                    "summary": "Create a convention",
                    "requestBody": { "required": true, "content": { "application/json": { "schema": create } } },
                    "responses": { "201": ok("Created", &summary), "400": err("Malformed body or id"), "409": err("The id is taken") }
                })),
                "get": organizer_only(json!({ "summary": "List conventions", "responses": { "200": ok("Conventions", &summaries) } }))
            },
            "/api/conventions/{id}": {
                "get": organizer_only(json!({ "summary": "A convention's summary", "parameters": [id_param], "responses": { "200": ok("Summary", &summary), "404": err("No such convention") } })),
                "delete": organizer_only(json!({
                    "summary": "Delete a convention for good, while the server runs",
                    "description": "Embedded mode only. Everything the convention accepted is made durable, then its task stops: every connection of it is closed (participants' /ws and public viewers' /public/ws with 4014, document sockets /doc with 4410; PROTOCOL.md section 15), and its rows are erased from every database of the data directory (each file then rewritten and its write-ahead log truncated: no byte of it is left), as `convene delete` does with the server stopped. Its invitations and public link are unknown from then on (401); the id may be created again, as a new, empty convention. Meanwhile requests naming it get 409 conflict. Cannot be undone: `confirm` must repeat the id.",
                    "parameters": [id_param, { "name": "confirm", "in": "query", "required": true, "schema": { "type": "string" }, "description": "The convention's id again" }],
                    "responses": {
                        "200": ok("Deleted: its rows per database file", &deleted),
                        "400": err("confirm missing or not the id: code invalid, nothing deleted"),
                        "404": err("No such convention (or deleted already)"),
                        "409": err("Being deleted already; or cluster mode (--redis): refused, stop every node and run `convene delete --redis URL --convention ID --confirm ID` (code conflict)"),
                        "500": err("Stopped, but its rows could not all be erased (code internal): call again, or run `convene delete` with the server stopped")
                    }
                }))
            },
            "/api/conventions/{id}/roster": {
                "post": organizer_only(json!({
                    "summary": "Import people into the roster",
                    "description": "JSON (an array of entries) or text/csv with a header: name (or prénom and nom), roles (separated by ';', English or French names), and any other column as an attribute (commune, age band, gender...). Cells separated by ',', ';' or tabs; UTF-8 (with or without a BOM) or Windows-1252, as spreadsheets save it. A guarantor holds no other role. All or nothing. At most 10,000 people per request and 20,000 per convention (400 invalid beyond); a body over 4 MiB: 413 invalid.",
                    "parameters": [id_param],
                    "requestBody": { "required": true, "content": {
                        "application/json": { "schema": roster_in },
                        "text/csv": { "schema": { "type": "string" }, "example": "name,roles,commune,age\nAmina Diallo,citizen,Rezé,18-29\nJean Martin,garant,,\n" }
                    } },
                    "responses": { "201": ok("The ids given, in order", &added), "400": err("Malformed or invalid roster, or over a cap (10,000 people per request, 20,000 per convention): code invalid; every wrong entry (up to 20) also as data in problems, by CSV line, and wrong_entries (PROTOCOL.md)"), "404": err("No such convention"), "413": err("A body over 4 MiB: code invalid") }
                })),
                "get": organizer_only(json!({ "summary": "The roster", "parameters": [id_param], "responses": { "200": ok("People", &people), "404": err("No such convention") } }))
            },
            "/api/conventions/{id}/invites": {
                "post": organizer_only(json!({
                    "summary": "Issue invitations",
                    "description": "One secret token per person (128 random bits), returned once: only its hash is stored. Issuing again replaces the previous token (connections made with it are closed).",
                    "parameters": [id_param],
                    "requestBody": { "required": false, "content": { "application/json": { "schema": issue } } },
                    "responses": { "201": ok("The invitations", &invites), "404": err("No such convention or participant") }
                })),
                "get": organizer_only(json!({ "summary": "Who has an active invitation", "parameters": [id_param], "responses": { "200": ok("Statuses", &statuses) } }))
            },
            "/api/conventions/{id}/invites/{participant}": {
                "delete": organizer_only(json!({
                    "summary": "Revoke an invitation (its connections are closed with 4002)",
                    "parameters": [id_param, { "name": "participant", "in": "path", "required": true, "schema": { "type": "string" } }],
                    "responses": { "204": { "description": "Revoked" }, "404": err("No such participant"), "409": err("No active invitation") }
                }))
            },
            "/api/conventions/{id}/audit": {
                "get": participants(staff, "a guarantor or a facilitator", json!({
                    "summary": "Export the audit trail (JSON lines, hash-chained)",
                    "description": "Guarantors and organizers hold the operator to the record with it; facilitators, who receive every entry live over /ws already, may download it too. Check it with `convene audit verify FILE --head N:HASH`.",
                    "parameters": [id_param],
                    "responses": {
                        "200": { "description": "One AuditEntry per line", "content": { "application/jsonl": { "schema": { "type": "string" } } } },
                        "404": err("No such convention (organizer token)")
                    }
                }))
            },
            "/api/conventions/{id}/polls": {
                "get": participants(staff, "a facilitator or a guarantor", json!({
                    "summary": "Results of every poll (drafts excluded)",
                    "parameters": [id_param, format_param, lang_param, tz_param],
                    "responses": { "200": ok_or_csv("Results", &all_results), "400": err("Another format"), "404": err("No such convention (organizer token)") }
                }))
            },
            "/api/conventions/{id}/polls/{poll}/results": {
                "get": participants(staff, "a facilitator or a guarantor", json!({
                    "summary": "One poll's results: counts, percentages, Borda scores and instant-runoff rounds, participation and quorum",
                    "parameters": [id_param, poll_param, format_param, lang_param, tz_param],
                    "responses": { "200": ok_or_csv("Results", &results), "400": err("Another format"), "404": err("No such poll"), "409": err("A secret poll whose ballot box was tampered with, still open (code tampered)") }
                }))
            },
            "/api/conventions/{id}/polls/{poll}/ballots": {
                "get": participants(staff, "a facilitator or a guarantor", json!({
                    "summary": "A named poll's final ballots, with voters' names",
                    "description": "Refused (409) for a secret poll: its ballots are linked to nobody.",
                    "parameters": [id_param, poll_param, format_param, lang_param, tz_param],
                    "responses": { "200": ok_or_csv("Ballots", &named), "400": err("Another format"), "404": err("No such poll"), "409": err("A secret poll") }
                }))
            },
            "/api/conventions/{id}/rotation": {
                "get": participants(staff, "a facilitator or a guarantor", json!({
                    "summary": "The expert rotation: plan, schedule, absences, and the questions asked in each expert's room with their answers; as CSV or a spreadsheet, three tables (each member's path, the experts, the questions)",
                    "parameters": [id_param, format_param, lang_param, tz_param],
                    "responses": { "200": ok_or_csv("{ rotation: RotationView, names: { participant id: name } }", &json!({ "type": "object" })), "400": err("Another format"), "404": err("No rotation") }
                }))
            },
            // Run sheet.
            "/api/conventions/{id}/runsheet": {
                "get": participants(staff, "a facilitator or a guarantor", json!({
                    "summary": "The day as planned and as run: each sequence's planned start and duration, actual start and end, extensions, skip, drift",
                    "parameters": [id_param, format_param, lang_param, tz_param],
                    "responses": { "200": ok_or_csv("Sequences in the order of the day", &runsheet), "400": err("Another format"), "404": err("No such convention (organizer token)") }
                }))
            },
            "/api/conventions/{id}/floor-time": {
                "get": participants(staff, "a facilitator or a guarantor", json!({
                    "summary": "Floor time: each person's (every room together, a turn under way counted up to now), and the citizens' per roster attribute value against their share of the citizens (PROTOCOL.md, floor-time export)",
                    "parameters": [id_param, format_param, lang_param, tz_param],
                    "responses": { "200": ok_or_csv("The report", &floor_time), "400": err("Another format"), "404": err("No such convention (organizer token)") }
                }))
            },
            "/api/conventions/{id}/hearings/{hearing}/questions": {
                "get": participants(staff, "a facilitator or a guarantor", json!({
                    "summary": "A hearing's questions from the floor and their status (PROTOCOL.md section 22), in the room's order, then pending, hidden and merged ones",
                    "description": "JSON: { hearing: {id, title, speaker, speaker_name, room, anonymous, moderated, status}, questions: [HearingQuestion with from_name] }. CSV (format=csv): id, asked_at, author, status, supports, merged_into, hidden_reason, text; no cell runs as a formula. An anonymous hearing's export names no author.",
                    "parameters": [id_param, { "name": "hearing", "in": "path", "required": true, "schema": { "type": "string" } }, format_param, lang_param, tz_param],
                    "responses": { "200": { "description": "The questions", "content": { "application/json": { "schema": { "type": "object" } }, "text/csv": { "schema": { "type": "string" } }, XLSX: { "schema": { "type": "string", "format": "binary" } } } }, "400": err("Another format"), "404": err("No such hearing") }
                }))
            },
            "/api/conventions/{id}/chat": {
                "get": participants(staff, "a facilitator or a guarantor", json!({
                    "summary": "Every chat line of the log, in order, with room and author; lines a facilitator hid are kept, marked hidden (by, at, reason)",
                    "parameters": [id_param, format_param, lang_param, tz_param],
                    "responses": { "200": ok_or_csv("Chat lines", &chat_lines), "400": err("Another format"), "404": err("No such convention (organizer token)") }
                }))
            },
            "/api/conventions/{id}/documents/{doc}/export": {
                "get": participants(everyone, "any participant", json!({
                    "summary": "Export a document (the opinion: proposals, arguments for, against and moderating, minority positions) as Markdown or HTML",
                    "description": "Everyone in the convention reads its documents.",
                    "parameters": [id_param, doc_param, { "name": "format", "in": "query", "schema": { "type": "string", "enum": ["md", "html"] } }, version_param],
                    "responses": { "200": { "description": "The document", "content": { "text/markdown": { "schema": { "type": "string" } }, "text/html": { "schema": { "type": "string" } } } }, "400": err("Another format"), "404": err("No such document or version") }
                }))
            },
            "/api/conventions/{id}/documents/{doc}/versions": {
                "get": participants(everyone, "any participant", json!({
                    "summary": "Named versions of a document",
                    "description": "Everyone in the convention reads its documents.",
                    "parameters": [id_param, doc_param],
                    "responses": { "200": ok("Versions", &versions), "404": err("No such document") }
                }))
            },
            "/api/conventions/{id}/documents/{doc}/diff": {
                "get": participants(everyone, "any participant", json!({
                    "summary": "What changed between two named versions (or a version and now): a unified diff of their Markdown, or JSON with format=json",
                    "description": "Everyone in the convention reads its documents.",
                    "parameters": [id_param, doc_param, { "name": "from", "in": "query", "required": true, "schema": { "type": "integer" } }, { "name": "to", "in": "query", "schema": { "type": "integer" } }, { "name": "format", "in": "query", "schema": { "type": "string", "enum": ["diff", "json"] } }],
                    "responses": { "200": { "description": "The changes", "content": { "text/x-diff": { "schema": { "type": "string" } }, "application/json": { "schema": { "type": "object" } } } }, "400": err("No from"), "404": err("No such document or version") }
                }))
            },
            "/api/conventions/{id}/video": {
                "get": {
                    "summary": "The video meeting of the room the caller is in now, with the caller's access token",
                    "description": "The meeting's name is derived from a server secret, never the room's id; the token (Jitsi or LiveKit JWT) is for this person and this meeting only, and short-lived: ask again after `expires_at`, and after every move. With `provider: off`, no meeting (the page says how to configure one). Who may call: the invitation token of any participant of this convention, as `Authorization: Bearer`; not the organizer token (the organizer is in no room).",
                    "security": [{ "invitation": [] }],
                    "x-convene-access": { "organizer": false, "roles": ["citizen", "facilitator", "rapporteur", "guarantor", "expert"] },
                    "parameters": [id_param, { "name": "room", "in": "query", "required": false, "schema": { "type": "string" }, "description": "The room the page believes the caller is in; refused (403 forbidden) if the caller is elsewhere" }],
                    "responses": { "200": ok("The meeting", &video), "400": err("A token in the URL (?token=): send it as Authorization: Bearer (code invalid)"), "401": err("No, unknown or revoked invitation token, or the organizer's"), "403": err("`room` is not the caller's room (code forbidden)") }
                }
            },
            // Attendance (issue #17).
            "/api/conventions/{id}/attendance": {
                "get": participants(&["guarantor"], "a guarantor", json!({
                    "summary": "Attendance: per participant and day (UTC), time present (several connections at once counted once), first arrival, last departure, sessions; headcount per day and per roster attribute value (PROTOCOL.md §23)",
                    "description": "Personal data, kept outside the log for --attendance-retention-days (default 365). Facilitators and other participants may not read it. CSV: `table=participants` (default) or `table=attributes`.",
                    "parameters": [id_param, format_param, lang_param, tz_param, { "name": "table", "in": "query", "required": false, "schema": { "type": "string", "enum": ["participants", "attributes"] }, "description": "CSV and xlsx only: which table" }],
                    "responses": { "200": ok_or_csv("The report", &attendance), "400": err("Another format or table (code invalid)"), "404": err("No such convention (organizer token)"), "503": err("The attendance store cannot be read (code unavailable)") }
                }))
            },
            // Public audience (§24).
            "/api/conventions/{id}/public-link": {
                "post": organizer_only(json!({
                    "summary": "Make the public link of the convention's plenary (PROTOCOL.md §24)",
                    "description": "A new token (128 random bits, only its hash stored, distinct from every invitation), returned once with the page's URL (`/public#link=TOKEN`). Any earlier link stops working: its viewers are closed with 4021. Optional livestream URL (http or https, at most 500 characters). Audited (`public_link_created`, without the hash).",
                    "parameters": [id_param],
                    "requestBody": { "required": false, "content": { "application/json": { "schema": public_create } } },
                    "responses": { "201": ok("The link", &public_link), "400": err("A livestream that is not an http(s) URL, or longer than 500 characters (code invalid); a malformed body (bad_message)"), "404": err("No such convention") }
                })),
                "put": organizer_only(json!({
                    "summary": "Set (or clear, with null) the livestream URL shown on the public page",
                    "parameters": [id_param],
                    "requestBody": { "required": false, "content": { "application/json": { "schema": public_live } } },
                    "responses": { "204": { "description": "Set" }, "400": err("Not an http(s) URL, or longer than 500 characters (code invalid)"), "404": err("No such convention, or no public link (code not_found)") }
                })),
                "get": participants(staff, "a facilitator or a guarantor", json!({
                    "summary": "Whether a public link is active, its livestream, the published opinion, and how many watch on this node",
                    "description": "Facilitators and guarantors read it too: the console says which version of the opinion the public page shows. The link's token is not in it.",
                    "parameters": [id_param],
                    "responses": { "200": ok("Status", &public_status), "404": err("No such convention (organizer token)") }
                })),
                "delete": organizer_only(json!({
                    "summary": "Revoke the public link: its viewers are closed with 4021, and it is refused (4020) from then on. Audited (`public_link_revoked`)",
                    "parameters": [id_param],
                    "responses": { "204": { "description": "Revoked" }, "404": err("No such convention, or no public link") }
                }))
            },
            "/api/conventions/{id}/public-polls": {
                "get": participants(staff, "a facilitator or a guarantor", json!({
                    "summary": "The public polls (PROTOCOL.md §24): indicative polls of the public audience, one answer per browser; oldest first, each with its live tally",
                    "description": "Facilitators open and close them on /ws (`open_public_poll`, `close_public_poll`); the public answers on /public/ws (`public_vote`) and sees a tally only once the poll is closed.",
                    "parameters": [id_param],
                    "responses": { "200": ok("The public polls", &public_polls), "404": err("No such convention (organizer token)") }
                }))
            },
            "/public/opinion": {
                "get": {
                    "summary": "The published opinion (the named version a facilitator published with `publish_document`), as HTML, for the public page",
                    "description": "Who may call: whoever holds the convention's active public link, as `Authorization: Bearer {link}`; no organizer or invitation token. Served with `Content-Security-Policy: sandbox`.",
                    "security": [{ "public_link": [] }],
                    "x-convene-access": { "organizer": false, "roles": [], "public_link": true },
                    "responses": { "200": { "description": "The opinion", "content": { "text/html": { "schema": { "type": "string" } } } }, "401": err("No active public link (revoked, made up, an invitation or organizer token)"), "404": err("Nothing published yet") }
                }
            },
            "/healthz": { "get": public(json!({ "summary": "Health. No token needed", "responses": { "200": { "description": "Serving; `status` is `degraded` when some conventions cannot be served (listed under `unavailable`, with the reason)" }, "503": err("The store cannot be reached or written (Redis away, a full disk)") } })) },
            "/nodes": { "get": public(json!({ "summary": "The cluster's nodes a client may reconnect to (--nodes; empty: only this origin). No token needed", "responses": { "200": ok("Base URLs", &nodes) } })) },
            "/metrics": { "get": public(json!({ "summary": "Prometheus metrics (convene_*). No token needed", "responses": { "200": { "description": "Text exposition format" } } })) },
            "/openapi.json": { "get": public(json!({ "summary": "This document. No token needed", "responses": { "200": { "description": "OpenAPI 3" } } })) }
        }
    })
}
