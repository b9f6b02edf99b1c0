//! Video: Convene carries no audio or video, a media engine does (a self-hosted Jitsi Meet, or
//! LiveKit). Convene owns who may be where: each room's meeting gets a name nobody can guess
//! (`names`), each person a short-lived token for the room they are in now and no other
//! (`tokens`, served by `gateway/video.rs`), and with LiveKit the floor may decide who can
//! publish audio in the plenary (`floor`).

pub mod floor;
pub mod names;
pub mod tokens;

use std::path::Path;
use std::time::Duration;

use convene_protocol::api::{VideoMeeting, VideoProvider};
use jsonwebtoken::EncodingKey;

use crate::domain::{Convention, Role, PLENARY};
use names::RoomNames;
use tokens::{Holder, JitsiIssuer, LiveKitIssuer, Publish, Source, Validity};

/// Which video service the page embeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Provider {
    /// No embedded video; the page says how to configure it.
    Off,
    /// A self-hosted Jitsi Meet with JWT (token) authentication.
    Jitsi,
    /// A LiveKit server.
    Livekit,
    /// A link template, for any other service.
    Link,
}

/// The video flags of `convene serve` (README, "Video"); each is also a `CONVENE_*` variable.
#[derive(Debug, Clone, clap::Args)]
pub struct VideoArgs {
    /// Embedded video: off, jitsi (self-hosted Jitsi Meet with JWT authentication), livekit,
    /// or link (a link template for any other service).
    #[arg(long = "video", env = "CONVENE_VIDEO", value_enum, default_value_t = Provider::Off)]
    pub provider: Provider,
    /// Key of the meeting names (an HMAC of the convention and room ids). Default: generated
    /// in DATA/video-secret (mode 0600); in cluster mode derived from the organizer token, so
    /// that every node names a room alike.
    #[arg(long, env = "CONVENE_VIDEO_SECRET", hide_env_values = true)]
    pub video_secret: Option<String>,
    /// Lifetime of a video access token, in seconds (the page asks for a new one before).
    #[arg(long, env = "CONVENE_VIDEO_TOKEN_TTL_SECS", default_value_t = 600,
          value_parser = clap::value_parser!(u64).range(60..=86_400))]
    pub video_token_ttl_secs: u64,
    /// --video jitsi: the deployment's base URL, e.g. https://meet.example.org (or with a
    /// tenant, https://meet.example.org/tenant). The page loads its external_api.js.
    #[arg(long, env = "CONVENE_JITSI_URL")]
    pub jitsi_url: Option<String>,
    /// --video jitsi: prosody's `app_id` (the tokens' issuer).
    #[arg(long, env = "CONVENE_JITSI_APP_ID")]
    pub jitsi_app_id: Option<String>,
    /// --video jitsi: prosody's `app_secret`, which signs the tokens (HS256).
    #[arg(long, env = "CONVENE_JITSI_APP_SECRET", hide_env_values = true)]
    pub jitsi_app_secret: Option<String>,
    /// --video jitsi: the tokens' audience (one of prosody's `asap_accepted_audiences`).
    #[arg(long, env = "CONVENE_JITSI_AUDIENCE", default_value = "jitsi")]
    pub jitsi_audience: String,
    /// --video livekit: the server's URL as browsers reach it, e.g. wss://livekit.example.org.
    /// Its server API is called at the same address over http(s).
    #[arg(long, env = "CONVENE_LIVEKIT_URL")]
    pub livekit_url: Option<String>,
    /// --video livekit: the API key.
    #[arg(long, env = "CONVENE_LIVEKIT_API_KEY")]
    pub livekit_api_key: Option<String>,
    /// --video livekit: the API secret, which signs the tokens (HS256).
    #[arg(long, env = "CONVENE_LIVEKIT_API_SECRET", hide_env_values = true)]
    pub livekit_api_secret: Option<String>,
    /// --video livekit: the floor controls the microphone in the plenary: only the person who
    /// has the floor and facilitators may publish audio there; Convene updates the
    /// permissions through LiveKit's server API as the floor moves.
    #[arg(long, env = "CONVENE_LIVEKIT_FLOOR_MIC")]
    pub livekit_floor_mic: bool,
    /// --video link: the meeting link, `{room}` standing for the meeting's opaque name, e.g.
    /// https://visio.example.org/{room}.
    #[arg(long, env = "CONVENE_VIDEO_LINK")]
    pub video_link: Option<String>,
}

/// A video configuration that cannot work; the server refuses to start with it.
#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    #[error("--video {provider} needs {flag}")]
    Missing {
        provider: &'static str,
        flag: &'static str,
    },
    #[error("{flag} {value:?}: {why}")]
    Bad {
        flag: &'static str,
        value: String,
        why: &'static str,
    },
    #[error("the key of the meeting names ({path}): {source}")]
    Secret {
        path: String,
        source: std::io::Error,
    },
}

/// A meeting could not be handed out.
#[derive(Debug, thiserror::Error)]
pub enum MeetingError {
    #[error("no such participant")]
    NoParticipant,
    #[error(transparent)]
    Sign(#[from] tokens::SignError),
}

enum Setup {
    Off,
    Jitsi { url: String, issuer: JitsiIssuer },
    Livekit(LiveKit),
    Link { template: String },
}

/// A LiveKit deployment as Convene uses it.
pub struct LiveKit {
    /// For browsers (ws:// or wss://).
    pub url: String,
    /// The server API's base (http:// or https://), where Twirp calls go.
    pub api_url: String,
    pub issuer: LiveKitIssuer,
    pub floor_mic: bool,
}

/// The video service of this server, and the key of its meeting names.
pub struct Video {
    setup: Setup,
    names: RoomNames,
    ttl: Duration,
}

fn need(
    v: &Option<String>,
    provider: &'static str,
    flag: &'static str,
) -> Result<String, VideoError> {
    v.clone()
        .filter(|s| !s.trim().is_empty())
        .ok_or(VideoError::Missing { provider, flag })
}

/// `http(s)://host[:port][/path]`, without a trailing slash, query or fragment.
fn base_url(
    value: &str,
    flag: &'static str,
    schemes: &[&str],
    why: &'static str,
) -> Result<reqwest::Url, VideoError> {
    let bad = || VideoError::Bad {
        flag,
        value: value.to_string(),
        why,
    };
    let url = reqwest::Url::parse(value.trim_end_matches('/')).map_err(|_| bad())?;
    if !schemes.contains(&url.scheme())
        || url.host_str().is_none()
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(bad());
    }
    Ok(url)
}

impl Video {
    /// From the flags. `cluster_token`: the organizer token in cluster mode (every node has
    /// the same), from which the meeting names' key is derived unless one is given.
    pub fn new(
        args: &VideoArgs,
        data: &Path,
        cluster_token: Option<&str>,
    ) -> Result<Video, VideoError> {
        let setup = match args.provider {
            Provider::Off => Setup::Off,
            Provider::Jitsi => {
                let raw = need(&args.jitsi_url, "jitsi", "--jitsi-url")?;
                let url = base_url(
                    &raw,
                    "--jitsi-url",
                    &["https", "http"],
                    "an http(s) base URL, e.g. https://meet.example.org",
                )?;
                let app_id = need(&args.jitsi_app_id, "jitsi", "--jitsi-app-id")?;
                let secret = need(&args.jitsi_app_secret, "jitsi", "--jitsi-app-secret")?;
                // prosody compares `sub` with the tenant of /TENANT/ROOM, or the domain.
                let tenant = url
                    .path_segments()
                    .and_then(|mut s| s.next_back())
                    .filter(|s| !s.is_empty())
                    .map(str::to_lowercase);
                let subject =
                    tenant.unwrap_or_else(|| url.host_str().unwrap_or_default().to_lowercase());
                Setup::Jitsi {
                    url: url.as_str().trim_end_matches('/').to_string(),
                    issuer: JitsiIssuer {
                        app_id,
                        key: EncodingKey::from_secret(secret.as_bytes()),
                        audience: args.jitsi_audience.clone(),
                        subject,
                    },
                }
            }
            Provider::Livekit => {
                let raw = need(&args.livekit_url, "livekit", "--livekit-url")?;
                let url = base_url(
                    &raw,
                    "--livekit-url",
                    &["wss", "ws", "https", "http"],
                    "a ws(s) URL, e.g. wss://livekit.example.org",
                )?;
                let api_key = need(&args.livekit_api_key, "livekit", "--livekit-api-key")?;
                let secret = need(&args.livekit_api_secret, "livekit", "--livekit-api-secret")?;
                // Browsers connect over WebSocket, the server API answers over HTTP at the
                // same address (as LiveKit's server SDKs derive it).
                let secure = matches!(url.scheme(), "wss" | "https");
                let (mut ws, mut api) = (url.clone(), url.clone());
                let schemes = ws
                    .set_scheme(if secure { "wss" } else { "ws" })
                    .and(api.set_scheme(if secure { "https" } else { "http" }));
                if schemes.is_err() {
                    return Err(VideoError::Bad {
                        flag: "--livekit-url",
                        value: raw,
                        why: "a ws(s) URL, e.g. wss://livekit.example.org",
                    });
                }
                Setup::Livekit(LiveKit {
                    url: ws.as_str().trim_end_matches('/').to_string(),
                    api_url: api.as_str().trim_end_matches('/').to_string(),
                    issuer: LiveKitIssuer {
                        api_key,
                        key: EncodingKey::from_secret(secret.as_bytes()),
                    },
                    floor_mic: args.livekit_floor_mic,
                })
            }
            Provider::Link => {
                let template = need(&args.video_link, "link", "--video-link")?;
                if !template.contains("{room}") {
                    return Err(VideoError::Bad {
                        flag: "--video-link",
                        value: template,
                        why: "the template needs {room}, where the meeting's name goes",
                    });
                }
                Setup::Link { template }
            }
        };
        let key = names::load_key(args.video_secret.as_deref(), cluster_token, data).map_err(
            |source| VideoError::Secret {
                path: data.join(names::SECRET_FILE).display().to_string(),
                source,
            },
        )?;
        Ok(Video {
            setup,
            names: RoomNames::new(key),
            ttl: Duration::from_secs(args.video_token_ttl_secs),
        })
    }

    pub fn provider(&self) -> VideoProvider {
        match self.setup {
            Setup::Off => VideoProvider::Off,
            Setup::Jitsi { .. } => VideoProvider::Jitsi,
            Setup::Livekit(_) => VideoProvider::Livekit,
            Setup::Link { .. } => VideoProvider::Link,
        }
    }

    /// The name of a room's meeting.
    pub fn meeting_name(&self, convention: &str, room: &str) -> String {
        self.names.name(convention, room)
    }

    /// LiveKit with the floor controlling the microphone: what the controller needs.
    pub fn floor_mic(&self) -> Option<(&LiveKit, &RoomNames)> {
        match &self.setup {
            Setup::Livekit(lk) if lk.floor_mic => Some((lk, &self.names)),
            _ => None,
        }
    }

    /// The meeting of the room `who` is in now, with their token. `now_ms`: the wall clock.
    pub fn meeting(
        &self,
        convention: &str,
        state: &Convention,
        who: &str,
        now_ms: u64,
    ) -> Result<VideoMeeting, MeetingError> {
        let person = state.people.get(who).ok_or(MeetingError::NoParticipant)?;
        let room = state.location_of(who).to_string();
        let observer = person.has(Role::Guarantor);
        let mut out = VideoMeeting {
            provider: self.provider(),
            room: room.clone(),
            meeting: None,
            url: None,
            token: None,
            expires_at: None,
            start_muted: observer || room == PLENARY,
            observer,
            may_speak: None,
        };
        if matches!(self.setup, Setup::Off) {
            return Ok(out);
        }
        let name = self.names.name(convention, &room);
        let now = now_ms / 1000;
        let v = Validity {
            now,
            expires: now + self.ttl.as_secs(),
        };
        let holder = Holder {
            id: &person.id,
            name: &person.name,
        };
        match &self.setup {
            Setup::Off => {}
            Setup::Jitsi { url, issuer } => {
                out.token = Some(issuer.token(&name, &holder, person.has(Role::Facilitator), v)?);
                out.url = Some(url.clone());
                out.expires_at = Some(v.expires * 1000);
            }
            Setup::Livekit(lk) => {
                let publish = publish_of(state, who, &room, lk.floor_mic);
                if lk.floor_mic && room == PLENARY && !observer {
                    out.may_speak = Some(may_speak(state, who));
                }
                out.token = Some(lk.issuer.join_token(&name, &holder, &publish, v)?);
                out.url = Some(lk.url.clone());
                out.expires_at = Some(v.expires * 1000);
            }
            Setup::Link { template } => {
                out.url = Some(template.replace("{room}", &name));
            }
        }
        out.meeting = Some(name);
        Ok(out)
    }
}

/// In the plenary, with the floor controlling the microphone: whoever holds the floor there,
/// and facilitators, may publish audio.
pub fn may_speak(state: &Convention, who: &str) -> bool {
    let facilitates = state
        .people
        .get(who)
        .is_some_and(|p| p.has(Role::Facilitator));
    let holds = state
        .room(PLENARY)
        .and_then(|r| r.floor.as_ref())
        .is_some_and(|f| f.participant == who);
    facilitates || holds
}

/// What `who` may publish in the LiveKit room of `room`: the one rule, for the tokens and for
/// the permission updates alike.
pub fn publish_of(state: &Convention, who: &str, room: &str, floor_mic: bool) -> Publish {
    if state.people.get(who).is_none_or(|p| p.has(Role::Guarantor)) {
        return Publish::Observe;
    }
    if !floor_mic || room != PLENARY || may_speak(state, who) {
        return Publish::Everything;
    }
    Publish::Only(vec![Source::Camera])
}
