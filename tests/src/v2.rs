//! A protocol version 2 client model (PROTOCOL.md section 25): what a v2 client keeps of the
//! parts version 2 changes (the roster fetched by version, presence from `presence_batch`,
//! the room and its inside from `room_view` and the room's events), maintained message by
//! message, to be compared with a fresh connection's welcome and roster.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};

use crate::proto::{self, ClientMessage, Event, PersonState, RoomCount, ServerMessage};
use crate::Client;

/// What a v2 client knows of people and of its room.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct View {
    pub me: String,
    pub seq: u64,
    /// The roster by id, and its version (`None` until fetched).
    pub roster: BTreeMap<String, proto::Person>,
    pub roster_version: Option<u64>,
    /// The presence view: the people of the view, every room's counts.
    pub people: BTreeMap<String, PersonState>,
    pub counts: Vec<RoomCount>,
    /// The rooms (ids, in order).
    pub rooms: Vec<String>,
    /// The room's chat (seq, text), raised hands and speaker.
    pub chat: Vec<(u64, String)>,
    pub queue: Vec<String>,
    pub floor: Option<String>,
}

impl View {
    /// Where this client is, as its presence view says.
    pub fn room(&self) -> Option<&str> {
        self.people.get(&self.me).map(|s| s.room.as_str())
    }

    /// The view a welcome gives.
    pub fn from_welcome(msg: &ServerMessage) -> Result<View> {
        let ServerMessage::Welcome { you, snapshot, .. } = msg else {
            bail!("not a welcome: {msg:?}")
        };
        let presence = snapshot
            .presence
            .clone()
            .context("a v2 welcome has presence")?;
        snapshot
            .roster
            .as_ref()
            .context("a v2 welcome has the roster's version")?;
        let mut v = View {
            me: you.id.clone(),
            seq: snapshot.seq,
            roster_version: None,
            people: presence
                .people
                .into_iter()
                .map(|s| (s.participant.clone(), s))
                .collect(),
            counts: presence.rooms,
            rooms: snapshot.rooms.iter().map(|r| r.id.clone()).collect(),
            ..View::default()
        };
        let here = v.room().unwrap_or(proto::PLENARY_ID).to_string();
        if let Some(inside) = snapshot
            .rooms
            .iter()
            .find(|r| r.id == here)
            .and_then(|r| r.inside.as_ref())
        {
            v.set_inside(inside);
        }
        Ok(v)
    }

    fn set_inside(&mut self, inside: &proto::RoomInside) {
        self.chat = inside
            .chat
            .iter()
            .map(|c| (c.seq, c.text.clone()))
            .collect();
        self.queue = inside.queue.iter().map(|q| q.participant.clone()).collect();
        self.floor = inside.floor.as_ref().map(|f| f.participant.clone());
    }

    /// Apply one message of the server.
    pub fn apply(&mut self, msg: &ServerMessage) {
        match msg {
            ServerMessage::Roster {
                version, people, ..
            } => {
                self.roster = people.iter().map(|p| (p.id.clone(), p.clone())).collect();
                self.roster_version = Some(*version);
            }
            ServerMessage::PresenceBatch {
                people,
                gone,
                rooms,
            } => {
                for s in people {
                    self.people.insert(s.participant.clone(), s.clone());
                }
                for g in gone {
                    self.people.remove(g);
                }
                if !rooms.is_empty() {
                    self.counts = rooms.clone();
                }
                // Leaving a room lowers one's hand (PROTOCOL.md section 7 of moves).
                let here = self.room().unwrap_or(proto::PLENARY_ID).to_string();
                let people = &self.people;
                self.queue
                    .retain(|q| people.get(q).is_none_or(|s| s.room == here));
            }
            ServerMessage::RoomView {
                seq,
                inside,
                presence,
                ..
            } => {
                self.seq = self.seq.max(*seq);
                self.set_inside(inside);
                self.people = presence
                    .people
                    .iter()
                    .map(|s| (s.participant.clone(), s.clone()))
                    .collect();
                self.counts = presence.rooms.clone();
            }
            ServerMessage::Event { record } => {
                self.seq = record.seq;
                self.event(&record.event);
            }
            _ => {}
        }
    }

    fn event(&mut self, e: &Event) {
        let here = self.room().unwrap_or(proto::PLENARY_ID).to_string();
        match e {
            Event::ParticipantAdded { person } if self.roster_version.is_some() => {
                self.roster.insert(person.id.clone(), person.clone());
                self.roster_version = Some(self.roster.len() as u64);
            }
            Event::RoomsCreated { rooms } => {
                self.rooms.extend(rooms.iter().map(|r| r.id.clone()));
            }
            Event::RoomsCleared => self.rooms.truncate(1),
            Event::ChatPosted { room, text } if *room == here => {
                // The seq is the record's: set by `apply` before this call.
                self.chat.push((self.seq, text.clone()));
                let keep = proto::SNAPSHOT_CHAT_LINES;
                if self.chat.len() > keep {
                    self.chat.drain(..self.chat.len() - keep);
                }
            }
            Event::HandRaised { room, participant } if *room == here => {
                self.queue.push(participant.clone())
            }
            Event::HandLowered { room, participant } if *room == here => {
                self.queue.retain(|p| p != participant)
            }
            Event::FloorGiven {
                room, participant, ..
            } if *room == here => {
                self.queue.retain(|p| p != participant);
                self.floor = Some(participant.clone());
            }
            Event::FloorEnded { room, .. } if *room == here => self.floor = None,
            // Leaving a room lowers one's hand.
            Event::ParticipantMoved { participant, room } if *room != here => {
                self.queue.retain(|p| p != participant)
            }
            _ => {}
        }
    }

    /// The parts a fresh client compares: everything but `seq` (a fresh welcome may be later
    /// when nothing it shows changed).
    pub fn comparable(&self) -> View {
        View {
            seq: 0,
            ..self.clone()
        }
    }
}

/// A v2 connection and the view it maintains from every message it reads.
pub struct Follower {
    pub client: Client,
    pub view: View,
    /// How many `presence_batch` messages it got.
    pub batches: usize,
}

impl Follower {
    /// Join with protocol 2 and fetch the roster.
    pub async fn join(ws_url: &str, name: &str, token: &str) -> Result<Follower> {
        let mut client = Client::join_with(ws_url, name, token, proto::PROTOCOL_V2, None).await?;
        let welcome = client.take_welcome().context("the welcome was recorded")?;
        let view = View::from_welcome(&welcome)?;
        let mut f = Follower {
            client,
            view,
            batches: 0,
        };
        f.client
            .send(&ClientMessage::GetRoster { version: None })
            .await?;
        f.read_until(|m| matches!(m, ServerMessage::Roster { .. }))
            .await?;
        Ok(f)
    }

    /// Read and apply messages until one matches `f` (applied too).
    pub async fn read_until(&mut self, f: impl Fn(&ServerMessage) -> bool) -> Result<()> {
        loop {
            let m = self.client.next_message(crate::WAIT).await?;
            self.take(&m);
            if f(&m) {
                return Ok(());
            }
        }
    }

    fn take(&mut self, m: &ServerMessage) {
        if matches!(m, ServerMessage::PresenceBatch { .. }) {
            self.batches += 1;
        }
        self.view.apply(m);
    }

    /// Read and apply everything that arrives within `d`.
    pub async fn settle(&mut self, d: std::time::Duration) {
        let deadline = tokio::time::Instant::now() + d;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return;
            }
            match self.client.next_message(left).await {
                Ok(m) => self.take(&m),
                Err(_) => return,
            }
        }
    }

    /// A request through this connection, applying what arrives meanwhile.
    pub async fn ok(&mut self, command: proto::Command) -> Result<u64> {
        let id = format!("{}-{}", self.client.name, crate::unique());
        self.client
            .send(&ClientMessage::Request {
                id: id.clone(),
                command: command.clone(),
            })
            .await?;
        loop {
            let m = self.client.next_message(crate::WAIT).await?;
            match &m {
                ServerMessage::Ok { id: i, seq } if *i == id => return Ok(*seq),
                ServerMessage::Error {
                    id: Some(i),
                    code,
                    message,
                } if *i == id => bail!("{command:?} refused: {code:?} {message}"),
                _ => self.take(&m),
            }
        }
    }
}

/// What a fresh v2 connection of `token` sees: its welcome and the roster.
pub async fn fresh(ws_url: &str, token: &str) -> Result<View> {
    let f = Follower::join(ws_url, "fresh", token).await?;
    let v = f.view.clone();
    f.client.close().await;
    Ok(v)
}
