//! Reading a client frame: which message types exist, and telling a malformed frame from an
//! unknown type, with the request id kept for the error reply.

use crate::{ClientMessage, Command, ErrorCode};

impl ClientMessage {
    /// Every `type` a client message may have: a frame with another type is answered with
    /// `unknown_type` rather than `bad_message`.
    pub const TYPES: &'static [&'static str] = &["hello", "request", "ping", "get_roster"];
}

impl Command {
    /// Every command `type`.
    pub const TYPES: &'static [&'static str] = &[
        "send_chat",
        "raise_hand",
        "lower_hand",
        "yield_floor",
        "call_facilitator",
        "visit",
        "create_rooms",
        "clear_rooms",
        "assign_rooms",
        "open_breakouts",
        "extend_breakouts",
        "close_breakouts",
        "broadcast",
        "move_participant",
        "resolve_call",
        "give_floor",
        "end_floor",
        "set_queue_order",
        "set_speaking_limit",
        "set_floor_limit",
        "draft_poll",
        "edit_poll",
        "delete_poll",
        "open_poll",
        "close_poll",
        "reveal_results",
        "publish_results",
        "vote",
        "plan_rotation",
        "start_rotation",
        "pause_rotation",
        "resume_rotation",
        "extend_round",
        "skip_round",
        "stop_rotation",
        "mark_expert_absent",
        "add_to_group",
        "ask_question",
        "answer_question",
        "create_document",
        "set_writing_group",
        "open_document",
        "close_document",
        "name_version",
        // Run sheet.
        "add_sequence",
        "edit_sequence",
        "delete_sequence",
        "move_sequence",
        "start_sequence",
        "extend_sequence",
        "end_sequence",
        "skip_sequence",
        // Hearings.
        "create_hearing",
        "open_hearing",
        "close_hearing",
        "ask_hearing_question",
        "support_question",
        "withdraw_support",
        "approve_question",
        "merge_question",
        "hide_question",
        "mark_answering",
        "mark_answered",
        // Moderation.
        "hide_chat",
        "unhide_chat",
        "report_chat",
        "dismiss_report",
        "mute",
        "unmute",
        "remove_participant",
        "readmit",
        // Public audience (§24).
        "publish_document",
        "open_public_poll",
        "close_public_poll",
    ];
}

/// The longest error message the parser gives, whatever the frame: messages quote what was
/// sent (an unknown type, serde's account of a bad value), and the reply goes back through
/// the sender's bounded queue, so a 16 KiB frame must not come back as more.
pub const MAX_ERROR_MESSAGE_BYTES: usize = 512;

/// `message`, cut at a character boundary to at most `MAX_ERROR_MESSAGE_BYTES` (with `…`).
fn bounded(mut message: String) -> String {
    if message.len() > MAX_ERROR_MESSAGE_BYTES {
        let ellipsis = '…';
        let room = MAX_ERROR_MESSAGE_BYTES - ellipsis.len_utf8();
        let cut = (0..=room)
            .rev()
            .find(|i| message.is_char_boundary(*i))
            .unwrap_or(0);
        message.truncate(cut);
        message.push(ellipsis);
    }
    message
}

/// Why a frame could not be read as a client message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub code: ErrorCode,
    pub message: String,
    /// The request id, when the frame had one: the error reply echoes it.
    pub id: Option<String>,
}

/// Parse one text frame. Distinguishes malformed JSON (`bad_message`), an unknown message or
/// command type (`unknown_type`) and a known type with the wrong shape (`bad_message`).
pub fn parse_client_message(text: &str) -> Result<ClientMessage, ParseError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| ParseError {
        code: ErrorCode::BadMessage,
        message: bounded(format!("not valid JSON: {e}")),
        id: None,
    })?;
    let id = value.get("id").and_then(|v| v.as_str());
    // An id is echoed in replies and kept for retries: one over the budget is refused (and
    // not echoed), whatever else the frame holds.
    if id.is_some_and(|id| id.len() > crate::MAX_REQUEST_ID_BYTES) {
        return Err(ParseError {
            code: ErrorCode::Invalid,
            message: format!(
                "a request id is at most {} bytes",
                crate::MAX_REQUEST_ID_BYTES
            ),
            id: None,
        });
    }
    let id = id.map(str::to_string);
    let fail = |code, message: String| ParseError {
        code,
        message: bounded(message),
        id: id.clone(),
    };
    let ty = value
        .get("type")
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .ok_or_else(|| fail(ErrorCode::BadMessage, "no \"type\" string".into()))?;
    let ty = ty.as_str();
    if !ClientMessage::TYPES.contains(&ty) {
        return Err(fail(
            ErrorCode::UnknownType,
            format!("unknown message type {ty:?}"),
        ));
    }
    if ty == "request" {
        let cty = value.pointer("/command/type").and_then(|v| v.as_str());
        match cty {
            Some(c) if !Command::TYPES.contains(&c) => {
                return Err(fail(
                    ErrorCode::UnknownType,
                    format!("unknown command type {c:?}"),
                ))
            }
            None => {
                return Err(fail(
                    ErrorCode::BadMessage,
                    "a request needs a command with a \"type\"".into(),
                ))
            }
            Some(_) => {}
        }
    }
    serde_json::from_value(value)
        .map_err(|e| fail(ErrorCode::BadMessage, format!("malformed {ty}: {e}")))
}
