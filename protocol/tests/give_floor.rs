//! `give_floor`'s `limit_ms` has three meanings: omitted (the room's limit), `null` (no limit
//! for this turn) and a number; each is read as such and written back as it came.

use convene_protocol::{parse_client_message, ClientMessage, Command};

fn limit_of(json: &str) -> Option<Option<u64>> {
    let frame = format!(r#"{{"type":"request","id":"f-1","command":{json}}}"#);
    match parse_client_message(&frame) {
        Ok(ClientMessage::Request {
            command: Command::GiveFloor { limit_ms, .. },
            ..
        }) => limit_ms,
        other => panic!("{json}: {other:?}"),
    }
}

#[test]
fn omitted_null_and_a_number_are_three_things() {
    assert_eq!(limit_of(r#"{"type":"give_floor"}"#), None);
    assert_eq!(
        limit_of(r#"{"type":"give_floor","limit_ms":null}"#),
        Some(None)
    );
    assert_eq!(
        limit_of(r#"{"type":"give_floor","participant":"p4","limit_ms":60000}"#),
        Some(Some(60_000))
    );
    for limit_ms in [None, Some(None), Some(Some(90_000))] {
        let c = Command::GiveFloor {
            room: None,
            participant: Some("p4".into()),
            limit_ms,
        };
        let json = serde_json::to_string(&c).expect("serializes");
        assert_eq!(limit_of(&json), limit_ms, "{json}");
    }
    // A string is no limit.
    let frame =
        r#"{"type":"request","id":"f-2","command":{"type":"give_floor","limit_ms":"2 min"}}"#;
    assert!(parse_client_message(frame).is_err());
}
