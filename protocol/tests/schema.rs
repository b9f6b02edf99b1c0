//! Keeps the committed `schema.json` and `PROTOCOL.md` true to the wire types: the schema is
//! compared with the code, every JSON example of the reference is parsed with the real types,
//! and `parse_client_message` is checked on the malformed frames a hostile client may send.

use std::collections::BTreeSet;
use std::path::PathBuf;

use convene_protocol::api::{
    ConventionSummary, CreateConvention, ErrorBody, Invite, InviteStatus, IssueInvites,
    NamedBallot, Nodes, PollResults, RosterAdded, RosterEntry, VideoMeeting,
};
use convene_protocol::{
    close, parse_client_message, schema, ClientMessage, Command, ErrorCode, Record, ServerMessage,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

const REGENERATE: &str =
    "cargo run -q -p convene-protocol --bin convene-schema > protocol/schema.json";

fn read(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn committed_schema() -> Value {
    serde_json::from_str(&read("schema.json")).unwrap_or_else(|e| {
        panic!("protocol/schema.json is not valid JSON ({e}); regenerate it with `{REGENERATE}`")
    })
}

// ---------------------------------------------------------------------------------------------
// (a) The committed schema is the code's.

#[test]
fn committed_schema_matches_the_code() {
    let committed = committed_schema();
    let generated = schema();
    if committed != generated {
        // Name the definitions that differ, so the failure says more than "something changed".
        let defs = |v: &Value| {
            v.get("definitions")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default()
        };
        let (old, new) = (defs(&committed), defs(&generated));
        let names: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
        let differing: Vec<&String> = names
            .into_iter()
            .filter(|n| old.get(*n) != new.get(*n))
            .collect();
        panic!(
            "protocol/schema.json is out of date with the wire types (differing definitions: {differing:?}); \
             regenerate it with `{REGENERATE}` (from the workspace root) and commit it"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// (b) The `TYPES` lists name exactly the variants of the schema.

/// The `tag` values of the variants of an internally tagged enum's schema (`oneOf` of objects
/// whose `tag` property is a one-value enum).
fn variant_tags(schema: &Value, definition: &str, tag: &str) -> Vec<String> {
    let variants = schema
        .pointer(&format!("/definitions/{definition}/oneOf"))
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("the schema of {definition} has no oneOf"));
    variants
        .iter()
        .map(|v| {
            let values = v
                .pointer(&format!("/properties/{tag}/enum"))
                .and_then(Value::as_array)
                .unwrap_or_else(|| panic!("a variant of {definition} has no {tag:?} enum: {v}"));
            assert_eq!(
                values.len(),
                1,
                "a variant of {definition} has several {tag:?} values: {v}"
            );
            values[0]
                .as_str()
                .unwrap_or_else(|| panic!("a {tag:?} of {definition} is not a string"))
                .to_string()
        })
        .collect()
}

/// Every string a definition's schema enumerates (`enum` arrays, at any depth): the values of
/// a plain enum such as `ErrorCode`, whether schemars writes one `enum` or a `oneOf` of them.
fn enum_values(schema: &Value, definition: &str) -> BTreeSet<String> {
    fn walk(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::Array(values)) = m.get("enum") {
                    out.extend(values.iter().filter_map(Value::as_str).map(str::to_string));
                }
                m.values().for_each(|v| walk(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    walk(
        schema
            .pointer(&format!("/definitions/{definition}"))
            .expect("definition exists"),
        &mut out,
    );
    out
}

fn assert_same_types(list: &[&str], from_schema: Vec<String>, what: &str) {
    let listed: BTreeSet<&str> = list.iter().copied().collect();
    assert_eq!(
        listed.len(),
        list.len(),
        "{what}::TYPES lists a type twice: {list:?}"
    );
    let schema: BTreeSet<&str> = from_schema.iter().map(String::as_str).collect();
    assert_eq!(
        schema.len(),
        from_schema.len(),
        "the schema of {what} has a type twice: {from_schema:?}"
    );
    let missing: Vec<&&str> = schema.difference(&listed).collect();
    let extra: Vec<&&str> = listed.difference(&schema).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}::TYPES differs from the variants of {what}: missing {missing:?}, not a variant {extra:?}"
    );
}

#[test]
fn client_message_types_are_the_variants() {
    let tags = variant_tags(&schema(), "ClientMessage", "type");
    assert_same_types(ClientMessage::TYPES, tags, "ClientMessage");
}

#[test]
fn command_types_are_the_variants() {
    let tags = variant_tags(&schema(), "Command", "type");
    assert_same_types(Command::TYPES, tags, "Command");
}

// ---------------------------------------------------------------------------------------------
// (c) Every example of PROTOCOL.md parses as the type its tag names.

/// One ```json block of PROTOCOL.md with the tag of the HTML comment before it.
struct Example {
    /// 1-based line of the opening fence.
    line: usize,
    tag: String,
    text: String,
}

/// Every ```json block, with its tag: the last non-blank line before the fence must be an
/// HTML comment `<!-- tag -->`. A block without one is an error, so an example cannot escape
/// the checks by accident.
fn examples(doc: &str) -> Vec<Example> {
    let lines: Vec<&str> = doc.lines().collect();
    let mut out = Vec::new();
    let mut untagged = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let fence = lines[i].trim();
        if !fence.starts_with("```") {
            i += 1;
            continue;
        }
        let start = i;
        let is_json = fence.trim_start_matches('`').trim() == "json";
        i += 1;
        let mut body = Vec::new();
        while i < lines.len() && lines[i].trim() != "```" {
            body.push(lines[i]);
            i += 1;
        }
        i += 1; // the closing fence
        if !is_json {
            continue;
        }
        let tag = lines[..start]
            .iter()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(|l| l.trim())
            .and_then(|l| l.strip_prefix("<!--"))
            .and_then(|l| l.strip_suffix("-->"))
            .map(|t| t.trim().to_string());
        match tag {
            Some(tag) => out.push(Example {
                line: start + 1,
                tag,
                text: body.join("\n"),
            }),
            None => untagged.push(start + 1),
        }
    }
    assert!(
        untagged.is_empty(),
        "PROTOCOL.md: the ```json blocks at lines {untagged:?} have no tag comment \
         (<!-- client -->, <!-- server -->, <!-- event -->, <!-- http:Type -->, <!-- other -->) before them"
    );
    out
}

fn protocol_examples() -> Vec<Example> {
    let all = examples(&read("PROTOCOL.md"));
    assert!(
        all.len() > 40,
        "PROTOCOL.md has only {} tagged JSON examples",
        all.len()
    );
    all
}

/// Parse a server-sent value and check that serializing it gives the same JSON back: the
/// example shows exactly what the server sends (no field missing, no field too many).
fn exact<T: DeserializeOwned + Serialize>(value: &Value) -> Result<T, String> {
    let parsed: T = serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
    let again = serde_json::to_value(&parsed).map_err(|e| e.to_string())?;
    if &again != value {
        return Err(format!(
            "it does not serialize back to itself; the code writes\n{again:#}"
        ));
    }
    Ok(parsed)
}

/// Parse a client-sent value (defaults may be left out), and check the parsed value survives
/// a round trip through its serialization.
fn lenient<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(
    value: &Value,
) -> Result<T, String> {
    let parsed: T = serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
    let again: T =
        serde_json::from_value(serde_json::to_value(&parsed).map_err(|e| e.to_string())?)
            .map_err(|e| format!("its serialization does not parse back: {e}"))?;
    if again != parsed {
        return Err(format!(
            "round trip changed it: {parsed:?} became {again:?}"
        ));
    }
    Ok(parsed)
}

/// What the examples cover, to check every message, command and event is shown.
#[derive(Default)]
struct Coverage {
    client: BTreeSet<String>,
    commands: BTreeSet<String>,
    server: BTreeSet<String>,
    events: BTreeSet<String>,
}

fn check_example(ex: &Example, cov: &mut Coverage) -> Result<(), String> {
    if ex.tag == "other" {
        return Ok(());
    }
    let value: Value =
        serde_json::from_str(&ex.text).map_err(|e| format!("not valid JSON: {e}"))?;
    let ty = |v: &Value, p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_string);
    match ex.tag.as_str() {
        "client" => {
            let parsed = parse_client_message(&ex.text)
                .map_err(|e| format!("{:?}: {}", e.code, e.message))?;
            let again: ClientMessage = lenient(&value)?;
            if again != parsed {
                return Err("parse_client_message and serde disagree".into());
            }
            cov.client.extend(ty(&value, "/type"));
            if let ClientMessage::Request { .. } = parsed {
                cov.commands.extend(ty(&value, "/command/type"));
            }
        }
        "server" => {
            let msg: ServerMessage = exact(&value)?;
            if matches!(msg, ServerMessage::Event { .. }) {
                return Err("tag event messages <!-- event -->".into());
            }
            cov.server.extend(ty(&value, "/type"));
        }
        "event" => {
            // Either the `event` message a client receives, or a bare record.
            let record: Record = if value.get("type").is_some() {
                match exact::<ServerMessage>(&value)? {
                    ServerMessage::Event { record } => record,
                    other => return Err(format!("not an event message: {other:?}")),
                }
            } else {
                exact(&value)?
            };
            let mut bare = value.clone();
            if let Some(m) = bare.as_object_mut() {
                m.remove("type");
            }
            let again: Record = exact(&bare)?;
            if again != record {
                return Err("the record and the message disagree".into());
            }
            cov.server.insert("event".into());
            cov.events.extend(ty(&value, "/event/type"));
        }
        http => {
            let Some(name) = http.strip_prefix("http:") else {
                return Err(format!("unknown tag {http:?}"));
            };
            let name = name.trim();
            let (name, array) = match name.strip_suffix("[]") {
                Some(n) => (n, true),
                None => (name, false),
            };
            macro_rules! check {
                ($t:ty) => {
                    if array {
                        lenient::<Vec<$t>>(&value).map(drop)
                    } else {
                        lenient::<$t>(&value).map(drop)
                    }
                };
            }
            match name {
                "CreateConvention" => check!(CreateConvention)?,
                "ConventionSummary" => check!(ConventionSummary)?,
                "RosterEntry" => check!(RosterEntry)?,
                "RosterAdded" => check!(RosterAdded)?,
                "IssueInvites" => check!(IssueInvites)?,
                "Invite" => check!(Invite)?,
                "InviteStatus" => check!(InviteStatus)?,
                "ErrorBody" => check!(ErrorBody)?,
                "PollResults" => check!(PollResults)?,
                "NamedBallot" => check!(NamedBallot)?,
                "Nodes" => check!(Nodes)?,
                "VideoMeeting" => check!(VideoMeeting)?,
                // Attendance (issue #17).
                "AttendanceReport" => check!(convene_protocol::AttendanceReport)?,
                "SequenceReport" => check!(convene_protocol::SequenceReport)?,
                "FloorTimeReport" => check!(convene_protocol::FloorTimeReport)?,
                "ChatExportLine" => check!(convene_protocol::ChatExportLine)?,
                // Public audience (§24).
                "PublicClientMessage" => check!(convene_protocol::PublicClientMessage)?,
                "PublicServerMessage" => check!(convene_protocol::PublicServerMessage)?,
                "CreatePublicLink" => check!(convene_protocol::CreatePublicLink)?,
                "SetLivestream" => check!(convene_protocol::SetLivestream)?,
                "PublicLink" => check!(convene_protocol::PublicLink)?,
                "PublicLinkStatus" => check!(convene_protocol::PublicLinkStatus)?,
                "PublicPolls" => check!(convene_protocol::PublicPolls)?,
                other => return Err(format!("unknown HTTP type {other:?} in tag")),
            }
        }
    }
    Ok(())
}

fn checked_coverage() -> Coverage {
    let mut cov = Coverage::default();
    let failures: Vec<String> = protocol_examples()
        .iter()
        .filter_map(|ex| {
            check_example(ex, &mut cov).err().map(|e| {
                format!(
                    "PROTOCOL.md line {} (<!-- {} -->): {e}\n{}",
                    ex.line, ex.tag, ex.text
                )
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} example(s) do not match the wire types:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    cov
}

#[test]
fn protocol_md_examples_parse_as_their_types() {
    checked_coverage();
}

#[test]
fn protocol_md_shows_every_message_command_and_event() {
    let cov = checked_coverage();
    let s = schema();
    let missing = |want: Vec<String>, have: &BTreeSet<String>| -> Vec<String> {
        want.into_iter().filter(|t| !have.contains(t)).collect()
    };
    let m = missing(variant_tags(&s, "ClientMessage", "type"), &cov.client);
    assert!(
        m.is_empty(),
        "PROTOCOL.md has no <!-- client --> example of {m:?}"
    );
    let m = missing(variant_tags(&s, "Command", "type"), &cov.commands);
    assert!(
        m.is_empty(),
        "PROTOCOL.md has no <!-- client --> example of the commands {m:?}"
    );
    let m = missing(variant_tags(&s, "ServerMessage", "type"), &cov.server);
    assert!(
        m.is_empty(),
        "PROTOCOL.md has no <!-- server --> example of {m:?}"
    );
    let m = missing(variant_tags(&s, "Event", "type"), &cov.events);
    assert!(
        m.is_empty(),
        "PROTOCOL.md has no <!-- event --> example of the events {m:?}"
    );
}

/// The rows of the markdown tables of PROTOCOL.md, by their first cell.
fn table_keys(doc: &str) -> BTreeSet<String> {
    doc.lines()
        .filter_map(|l| l.trim().strip_prefix('|'))
        .filter_map(|l| l.split('|').next())
        .map(|c| c.trim().trim_matches('`').to_string())
        .collect()
}

#[test]
fn protocol_md_tables_list_every_error_and_close_code() {
    let doc = read("PROTOCOL.md");
    let keys = table_keys(&doc);
    let codes = enum_values(&schema(), "ErrorCode");
    assert_eq!(
        codes.len(),
        13,
        "ErrorCode has {} values: update this test and PROTOCOL.md",
        codes.len()
    );
    let missing: Vec<&String> = codes.iter().filter(|c| !keys.contains(*c)).collect();
    assert!(
        missing.is_empty(),
        "PROTOCOL.md's error code table has no row for {missing:?}"
    );
    for code in [
        1000,
        close::GOING_AWAY,
        close::TOO_LARGE,
        close::INTERNAL,
        close::HELLO_EXPECTED,
        close::UNKNOWN_TOKEN,
        close::REVOKED,
        close::UNSUPPORTED_VERSION,
        close::RATE_LIMITED,
        close::SLOW_CONSUMER,
        close::BINARY,
        close::REMOVED,
        close::DELETED,
        // Public audience (§24).
        convene_protocol::public_close::UNKNOWN_LINK,
        convene_protocol::public_close::LINK_REVOKED,
        convene_protocol::public_close::FULL,
        convene_protocol::public_close::READ_ONLY,
    ] {
        assert!(
            keys.contains(&code.to_string()),
            "PROTOCOL.md's close code table has no row for {code}"
        );
    }
    // Every error code the serde names: ErrorCode serializes as the table names it.
    for code in &codes {
        let parsed: ErrorCode =
            serde_json::from_value(Value::String(code.clone())).expect("schema values parse");
        assert_eq!(
            serde_json::to_value(parsed).expect("serializes"),
            Value::String(code.clone())
        );
    }
}

// ---------------------------------------------------------------------------------------------
// (d) parse_client_message on malformed frames.

#[test]
fn invalid_json_is_a_bad_message_without_id() {
    for text in [
        "",
        "{",
        "{\"type\":\"request\",\"id\":\"c-1\"",
        "hello",
        "\u{0}",
    ] {
        let e = parse_client_message(text).expect_err(text);
        assert_eq!(e.code, ErrorCode::BadMessage, "{text:?}");
        assert_eq!(e.id, None, "{text:?}");
    }
}

#[test]
fn a_frame_without_a_type_string_is_a_bad_message() {
    for text in [
        "[]",
        "42",
        "null",
        "{}",
        r#"{"id":"c-1"}"#,
        r#"{"type":7,"id":"c-1"}"#,
    ] {
        let e = parse_client_message(text).expect_err(text);
        assert_eq!(e.code, ErrorCode::BadMessage, "{text:?}");
    }
    let e = parse_client_message(r#"{"type":null,"id":"c-2"}"#).unwrap_err();
    assert_eq!(e.id.as_deref(), Some("c-2"));
}

#[test]
fn an_unknown_message_type_is_unknown_type() {
    let e = parse_client_message(r#"{"type":"subscribe","room":"r1"}"#).unwrap_err();
    assert_eq!(e.code, ErrorCode::UnknownType);
    assert_eq!(e.id, None);
    let e = parse_client_message(r#"{"type":"vote","id":"c-3","choice":"pour"}"#).unwrap_err();
    assert_eq!(e.code, ErrorCode::UnknownType);
    assert_eq!(e.id.as_deref(), Some("c-3"));
    // Types are case-sensitive.
    let e = parse_client_message(r#"{"type":"Hello","protocol":1,"token":"x"}"#).unwrap_err();
    assert_eq!(e.code, ErrorCode::UnknownType);
}

#[test]
fn an_unknown_command_type_is_unknown_type_with_the_id() {
    let e = parse_client_message(r#"{"type":"request","id":"c-42","command":{"type":"launch_poll","question":"Pour ou contre ?"}}"#)
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::UnknownType);
    assert_eq!(e.id.as_deref(), Some("c-42"));
    assert!(e.message.contains("launch_poll"), "{}", e.message);
}

#[test]
fn a_known_command_with_wrong_fields_is_a_bad_message_with_the_id() {
    for text in [
        r#"{"type":"request","id":"c-43","command":{"type":"send_chat","text":12}}"#,
        r#"{"type":"request","id":"c-43","command":{"type":"send_chat"}}"#,
        r#"{"type":"request","id":"c-43","command":{"type":"open_breakouts","duration_ms":-5}}"#,
        r#"{"type":"request","id":"c-43","command":{"type":"open_breakouts","duration_ms":"30 min"}}"#,
        r#"{"type":"request","id":"c-43","command":{"type":"assign_rooms","method":"alphabetical"}}"#,
        r#"{"type":"request","id":"c-43","command":{"type":"assign_rooms","method":"balanced"}}"#,
        r#"{"type":"request","id":"c-43","command":{"type":"set_queue_order","order":"loudest"}}"#,
        r#"{"type":"request","id":"c-43","command":{"type":"resolve_call","call":"68"}}"#,
    ] {
        let e = parse_client_message(text).expect_err(text);
        assert_eq!(e.code, ErrorCode::BadMessage, "{text}");
        assert_eq!(e.id.as_deref(), Some("c-43"), "{text}");
    }
}

#[test]
fn a_request_without_a_command_type_is_a_bad_message_with_the_id() {
    for text in [
        r#"{"type":"request","id":"c-44"}"#,
        r#"{"type":"request","id":"c-44","command":{}}"#,
        r#"{"type":"request","id":"c-44","command":"raise_hand"}"#,
    ] {
        let e = parse_client_message(text).expect_err(text);
        assert_eq!(e.code, ErrorCode::BadMessage, "{text}");
        assert_eq!(e.id.as_deref(), Some("c-44"), "{text}");
    }
}

#[test]
fn a_malformed_hello_is_a_bad_message() {
    for text in [
        r#"{"type":"hello"}"#,
        r#"{"type":"hello","protocol":"1","token":"nantes-metropole.8f3a2c9d4e1b7f60a5c3d2e1f0b9a874"}"#,
        r#"{"type":"hello","protocol":1}"#,
    ] {
        let e = parse_client_message(text).expect_err(text);
        assert_eq!(e.code, ErrorCode::BadMessage, "{text}");
        assert_eq!(e.id, None, "{text}");
    }
}

#[test]
fn a_non_string_id_is_not_echoed() {
    let e = parse_client_message(r#"{"type":"request","id":17,"command":{"type":"raise_hand"}}"#)
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::BadMessage);
    assert_eq!(e.id, None);
}

#[test]
fn well_formed_messages_parse_with_their_defaults() {
    let m = parse_client_message(
        r#"{"type":"request","id":"c-5","command":{"type":"call_facilitator"}}"#,
    )
    .unwrap();
    assert_eq!(
        m,
        ClientMessage::Request {
            id: "c-5".into(),
            command: Command::CallFacilitator {
                message: String::new()
            }
        }
    );
    let m = parse_client_message(r#"{"type":"request","id":"c-6","command":{"type":"open_breakouts","duration_ms":1800000}}"#)
        .unwrap();
    assert_eq!(
        m,
        ClientMessage::Request {
            id: "c-6".into(),
            command: Command::OpenBreakouts {
                duration_ms: 1_800_000,
                warning_ms: 60_000
            }
        }
    );
    let m = parse_client_message(
        r#"{"type":"request","id":"c-7","command":{"type":"assign_rooms","method":"random"}}"#,
    )
    .unwrap();
    assert_eq!(
        m,
        ClientMessage::Request {
            id: "c-7".into(),
            command: Command::AssignRooms {
                method: convene_protocol::AssignMethod::Random,
                participants: None,
                only_present: true
            }
        }
    );
    let m = parse_client_message(
        r#"{"type":"request","id":"c-8","command":{"type":"set_speaking_limit"}}"#,
    )
    .unwrap();
    assert_eq!(
        m,
        ClientMessage::Request {
            id: "c-8".into(),
            command: Command::SetSpeakingLimit {
                room: None,
                limit_ms: None
            }
        }
    );
    // Unknown fields are ignored, so that a newer client's extra fields do not break an older server.
    let m = parse_client_message(r#"{"type":"request","id":"c-9","command":{"type":"raise_hand","reason":"question"},"sent_at":1}"#)
        .unwrap();
    assert_eq!(
        m,
        ClientMessage::Request {
            id: "c-9".into(),
            command: Command::RaiseHand { room: None }
        }
    );
}
