//! Property-based fuzzing of `parse_client_message`, the one door every client frame goes
//! through: long ids and texts, odd unicode (controls, NUL, byte-order marks, bidirectional
//! overrides, combining marks, emoji sequences, escaped lone surrogates), JSON nested tens of
//! thousands deep in any position, and random edits of valid frames. It must never panic or
//! overflow its stack, give back exactly what a valid frame says, tell `unknown_type` from
//! `bad_message` as documented, echo the frame's request id (refuse one over its 64 bytes as
//! `invalid`, unechoed), and keep its error messages short whatever it was sent (the reply
//! goes back through the sender's bounded queue).
//!
//! Runs briefly in the suite (256 cases per property); a longer run, as recorded in
//! ARCHITECTURE.md ("Fuzzing"):
//!
//! ```sh
//! PROPTEST_CASES=100000 cargo test --release -p convene-protocol --test parse_fuzz
//! ```

use convene_protocol::{
    parse_client_message, ClientMessage, Command, ErrorCode, MAX_ERROR_MESSAGE_BYTES,
    MAX_REQUEST_ID_BYTES,
};
use proptest::prelude::*;
use serde_json::Value;

/// Text a hostile client would try: anything unicode, with a bias towards what breaks
/// naive code.
fn odd_text(max: usize) -> impl Strategy<Value = String> {
    let odd = prop::sample::select(vec![
        "\u{0}",
        "\u{1b}[31m",
        "\u{feff}",
        "\u{202e}",
        "\u{2066}",
        "e\u{301}\u{301}\u{301}",
        "👩\u{200d}👩\u{200d}👧\u{200d}👦",
        "🇫🇷",
        "\u{fffd}",
        "\u{10ffff}",
        "\"",
        "\\",
        "\n\r\t",
        "Île-de-France, Rezé, Couëron",
        "\u{7f}\u{80}\u{9f}",
    ]);
    prop::collection::vec(
        prop_oneof![
            3 => any::<String>(),
            2 => odd.prop_map(str::to_string),
            1 => "[a-z]{0,8}",
        ],
        0..8,
    )
    .prop_flat_map(move |parts| {
        // Sometimes a long run of one piece: ids and texts of tens of thousands of bytes.
        (Just(parts), 0usize..max.max(1)).prop_map(|(parts, repeat)| {
            let mut s = parts.concat();
            if repeat > 64 && !s.is_empty() {
                let unit = s.clone();
                while s.len() < repeat {
                    s.push_str(&unit);
                }
            }
            s
        })
    })
}

/// `text` cut to at most `max` bytes, at a character boundary.
fn cut(mut text: String, max: usize) -> String {
    if text.len() > max {
        let at = (0..=max)
            .rev()
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(0);
        text.truncate(at);
    }
    text
}

/// A request id within its budget, as hostile as it can be otherwise.
fn request_id() -> impl Strategy<Value = String> {
    odd_text(200).prop_map(|t| cut(t, MAX_REQUEST_ID_BYTES))
}

/// Valid client messages with hostile strings wherever the protocol takes a string.
fn message() -> impl Strategy<Value = ClientMessage> {
    let text = || odd_text(20_000);
    let command = prop_oneof![
        text().prop_map(|text| Command::SendChat { text, room: None }),
        text().prop_map(|text| Command::Broadcast { text }),
        text().prop_map(|message| Command::CallFacilitator { message }),
        text().prop_map(|room| Command::Visit { room }),
        text().prop_map(|text| Command::AskQuestion { text }),
        (text(), text())
            .prop_map(|(participant, room)| Command::MoveParticipant { participant, room }),
        (text(), text()).prop_map(|(name, title)| Command::CreateDocument { name, title }),
        Just(Command::RaiseHand { room: None }),
        Just(Command::StartRotation),
    ];
    prop_oneof![
        (any::<u32>(), text(), any::<Option<u64>>()).prop_map(|(protocol, token, last_seq)| {
            ClientMessage::Hello {
                protocol,
                token,
                last_seq,
            }
        }),
        (request_id(), command).prop_map(|(id, command)| ClientMessage::Request { id, command }),
    ]
}

/// What every answer must satisfy, valid or not.
fn check_any(frame: &str) -> Result<Option<ClientMessage>, TestCaseError> {
    match parse_client_message(frame) {
        Ok(m) => Ok(Some(m)),
        Err(e) => {
            prop_assert!(
                e.message.len() <= MAX_ERROR_MESSAGE_BYTES,
                "an error message of {} bytes for a frame of {}",
                e.message.len(),
                frame.len()
            );
            // The request id is echoed exactly when the frame is JSON with a string id within
            // its budget; a longer one is refused as `invalid`, and not echoed.
            let id = serde_json::from_str::<Value>(frame)
                .ok()
                .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_string));
            if id
                .as_ref()
                .is_some_and(|id| id.len() > MAX_REQUEST_ID_BYTES)
            {
                prop_assert_eq!(e.code, ErrorCode::Invalid);
                prop_assert_eq!(e.id, None);
            } else {
                prop_assert!(
                    matches!(e.code, ErrorCode::BadMessage | ErrorCode::UnknownType),
                    "code {:?}",
                    e.code
                );
                prop_assert_eq!(e.id, id);
            }
            Ok(None)
        }
    }
}

/// `depth` brackets of `open`/`close` around `inner`.
fn nest(open: &str, close: &str, depth: usize, inner: &str) -> String {
    let mut s = String::with_capacity(depth * (open.len() + close.len()) + inner.len());
    for _ in 0..depth {
        s.push_str(open);
    }
    s.push_str(inner);
    for _ in 0..depth {
        s.push_str(close);
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig {
        // Runs briefly in the suite; PROPTEST_CASES sets a longer run.
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(256),
        max_shrink_iters: 2000,
        ..ProptestConfig::default()
    })]

    /// A valid frame, whatever its strings, reads back as exactly the message sent.
    #[test]
    fn valid_frames_read_back_exactly(msg in message()) {
        let frame = serde_json::to_string(&msg).expect("serializes");
        prop_assert_eq!(parse_client_message(&frame), Ok(msg));
    }

    /// Any text at all: no panic, a typed error with a short message and the echoed id.
    #[test]
    fn any_text_gets_a_typed_answer(frame in odd_text(20_000)) {
        check_any(&frame)?;
    }

    /// JSON nested deep in any position (top level, in the command, in the id, in a field,
    /// as arrays or objects): refused as `bad_message`, never a stack overflow.
    #[test]
    fn deep_nesting_is_refused_without_overflow(
        depth in prop_oneof![1usize..200, 200usize..50_000],
        place in 0usize..5,
        objects in any::<bool>(),
    ) {
        let (open, close, leaf) = if objects { ("{\"a\":", "}", "1") } else { ("[", "]", "1") };
        let deep = nest(open, close, depth, leaf);
        let frame = match place {
            0 => deep.clone(),
            1 => format!(r#"{{"type":"request","id":"r1","command":{deep}}}"#),
            2 => format!(r#"{{"type":"request","id":{deep},"command":{{"type":"raise_hand"}}}}"#),
            3 => format!(r#"{{"type":"request","id":"r1","command":{{"type":"send_chat","text":{deep}}}}}"#),
            _ => format!(r#"{{"type":"hello","protocol":1,"token":"t","extra":{deep}}}"#),
        };
        let answer = check_any(&frame)?;
        // Extra fields are ignored (`hello` with a deep extra field is still a hello, when the
        // nesting is within serde_json's limit); any other place makes the frame malformed.
        if place != 4 {
            prop_assert!(answer.is_none(), "a nested {place} frame was accepted: {answer:?}");
        }
        if depth > 128 {
            let e = parse_client_message(&frame).expect_err("over the nesting limit");
            prop_assert_eq!(e.code, ErrorCode::BadMessage);
        }
    }

    /// Valid frames edited at random (a character inserted, removed or replaced): whatever
    /// comes out is a typed answer; an unknown type is `unknown_type`, never `bad_message`.
    #[test]
    fn edited_frames_get_typed_answers(
        msg in message(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, any::<char>()), 1..6),
    ) {
        let mut chars: Vec<char> = serde_json::to_string(&msg).expect("serializes").chars().collect();
        for (at, op, c) in edits {
            if chars.is_empty() {
                break;
            }
            let i = at.index(chars.len());
            match op {
                0 => chars.insert(i, c),
                1 => { chars.remove(i); }
                _ => chars[i] = c,
            }
        }
        let frame: String = chars.into_iter().collect();
        check_any(&frame)?;
    }

    /// A well-formed frame of an unknown message or command type: `unknown_type`, with the id,
    /// whatever the type's length or characters.
    #[test]
    fn unknown_types_are_told_apart(ty in odd_text(20_000), id in request_id(), in_command in any::<bool>()) {
        let known = if in_command { Command::TYPES } else { ClientMessage::TYPES };
        prop_assume!(!known.contains(&ty.as_str()));
        let frame = if in_command {
            serde_json::json!({ "type": "request", "id": id, "command": { "type": ty } })
        } else {
            serde_json::json!({ "type": ty, "id": id })
        };
        let e = parse_client_message(&frame.to_string()).expect_err("unknown type");
        prop_assert_eq!(e.code, ErrorCode::UnknownType);
        prop_assert_eq!(e.id.as_deref(), Some(id.as_str()));
        prop_assert!(e.message.len() <= MAX_ERROR_MESSAGE_BYTES, "{} bytes", e.message.len());
    }

    /// A request id over its budget, whatever else the frame holds (valid or not): refused as
    /// `invalid`, and not echoed back.
    #[test]
    fn long_request_ids_are_refused_and_not_echoed(
        msg in message(),
        // Anything, made at least one byte too long (33 two-byte characters).
        id in odd_text(20_000).prop_map(|t| format!("{t}{}", "é".repeat(MAX_REQUEST_ID_BYTES / 2 + 1))),
    ) {
        let mut frame = serde_json::to_value(&msg).expect("serializes");
        frame["id"] = Value::String(id);
        let e = parse_client_message(&frame.to_string()).expect_err("an id over the budget");
        prop_assert_eq!(e.code, ErrorCode::Invalid);
        prop_assert_eq!(e.id, None);
        prop_assert!(e.message.len() <= MAX_ERROR_MESSAGE_BYTES);
    }

    /// Escaped lone surrogates and other escapes JSON text may carry: typed answers.
    #[test]
    fn escapes_get_typed_answers(
        unit in prop_oneof![
            Just(r"\ud800".to_string()),
            Just(r"\udfff".to_string()),
            Just(r"\ud83d\ude00".to_string()),
            Just(r"\u0000".to_string()),
            Just(r"\x41".to_string()),
            "\\\\u[0-9a-fA-F]{4}",
        ],
        n in 1usize..2000,
        field in 0usize..2,
    ) {
        let s = unit.repeat(n);
        let frame = if field == 0 {
            format!(r#"{{"type":"request","id":"{s}","command":{{"type":"raise_hand"}}}}"#)
        } else {
            format!(r#"{{"type":"request","id":"r","command":{{"type":"send_chat","text":"{s}"}}}}"#)
        };
        check_any(&frame)?;
    }
}
