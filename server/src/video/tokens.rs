//! Access tokens for the video services, JWTs signed HS256 with the service's shared secret:
//! Jitsi Meet's (prosody's token authentication) and LiveKit's (access tokens with a video
//! grant), each for one person and one meeting, valid a short while.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

/// A token could not be signed (never expected with an HMAC key: reported, not panicked on).
#[derive(Debug, thiserror::Error)]
#[error("signing a video token: {0}")]
pub struct SignError(#[from] jsonwebtoken::errors::Error);

/// Who a token is for.
pub struct Holder<'a> {
    pub id: &'a str,
    pub name: &'a str,
}

/// A time span of validity, in seconds since the epoch.
#[derive(Clone, Copy, Debug)]
pub struct Validity {
    pub now: u64,
    pub expires: u64,
}

fn sign(claims: &Value, key: &EncodingKey) -> Result<String, SignError> {
    Ok(jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        key,
    )?)
}

/// What a Jitsi deployment with token authentication expects.
pub struct JitsiIssuer {
    /// prosody's `app_id`: the `iss` claim.
    pub app_id: String,
    /// prosody's `app_secret`.
    pub key: EncodingKey,
    /// Checked against `asap_accepted_audiences`.
    pub audience: String,
    /// The tenant (for `https://host/tenant/ROOM`) or the domain (for `https://host/ROOM`),
    /// lowercase: prosody compares it with the `sub` claim.
    pub subject: String,
}

impl JitsiIssuer {
    /// A token for one room (`room`: the meeting's opaque name). Display information goes in
    /// `context.user`; prosody's presence_identity wants every field there a string, so
    /// `moderator` is `"true"` or `"false"` (token_affiliation reads either form).
    pub fn token(
        &self,
        room: &str,
        who: &Holder<'_>,
        moderator: bool,
        v: Validity,
    ) -> Result<String, SignError> {
        let claims = json!({
            "aud": self.audience,
            "iss": self.app_id,
            "sub": self.subject,
            "room": room,
            "iat": v.now,
            // A little slack for clocks a few seconds apart.
            "nbf": v.now.saturating_sub(10),
            "exp": v.expires,
            "context": {
                "user": {
                    "id": who.id,
                    "name": who.name,
                    "moderator": if moderator { "true" } else { "false" },
                }
            }
        });
        sign(&claims, &self.key)
    }
}

/// What a person may publish in a LiveKit room.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Publish {
    /// Any track (no `canPublishSources` restriction).
    Everything,
    /// Only these sources (`camera`, `microphone`, `screen_share`, `screen_share_audio`).
    Only(Vec<Source>),
    /// Nothing, and hidden from the others: an observer.
    Observe,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Camera,
    Microphone,
    ScreenShare,
    ScreenShareAudio,
}

impl Source {
    pub const ALL: [Source; 4] = [
        Source::Camera,
        Source::Microphone,
        Source::ScreenShare,
        Source::ScreenShareAudio,
    ];

    /// As in a token's grant (lowercase, as LiveKit's own SDKs write it).
    fn grant_name(self) -> &'static str {
        match self {
            Source::Camera => "camera",
            Source::Microphone => "microphone",
            Source::ScreenShare => "screen_share",
            Source::ScreenShareAudio => "screen_share_audio",
        }
    }

    /// As the `TrackSource` enum in the server API's JSON (protobuf enum names).
    pub fn api_name(self) -> &'static str {
        match self {
            Source::Camera => "CAMERA",
            Source::Microphone => "MICROPHONE",
            Source::ScreenShare => "SCREEN_SHARE",
            Source::ScreenShareAudio => "SCREEN_SHARE_AUDIO",
        }
    }
}

/// A LiveKit deployment's API key and secret.
pub struct LiveKitIssuer {
    /// The API key: the `iss` claim.
    pub api_key: String,
    pub key: EncodingKey,
}

impl LiveKitIssuer {
    /// An access token to join one room (`room`: the meeting's opaque name) as `who`
    /// (identity: the participant's id; name: their name).
    pub fn join_token(
        &self,
        room: &str,
        who: &Holder<'_>,
        publish: &Publish,
        v: Validity,
    ) -> Result<String, SignError> {
        let mut video = json!({
            "room": room,
            "roomJoin": true,
            "canSubscribe": true,
        });
        match publish {
            Publish::Everything => {
                video["canPublish"] = json!(true);
                video["canPublishData"] = json!(true);
            }
            Publish::Only(sources) => {
                video["canPublish"] = json!(true);
                video["canPublishData"] = json!(true);
                video["canPublishSources"] =
                    json!(sources.iter().map(|s| s.grant_name()).collect::<Vec<_>>());
            }
            Publish::Observe => {
                video["canPublish"] = json!(false);
                video["canPublishData"] = json!(false);
                video["hidden"] = json!(true);
            }
        }
        let claims = json!({
            "iss": self.api_key,
            "sub": who.id,
            "name": who.name,
            "iat": v.now,
            "nbf": v.now,
            "exp": v.expires,
            "video": video,
        });
        sign(&claims, &self.key)
    }

    /// A token for the server API on one room (`roomAdmin`), as LiveKit's server SDKs make
    /// for each call.
    pub fn admin_token(&self, room: &str, v: Validity) -> Result<String, SignError> {
        let claims = json!({
            "iss": self.api_key,
            "iat": v.now,
            "nbf": v.now,
            "exp": v.expires,
            "video": { "room": room, "roomAdmin": true },
        });
        sign(&claims, &self.key)
    }
}
