//! Phase 2, breakout rooms: the facilitator starts the run sheet's breakouts sequence, which
//! creates the rooms, assigns the citizens balanced on their commune, and opens the rooms
//! with a timer, in one decision. Everyone moves to their room; a
//! guarantor observes the first room; every citizen writes a line in their room's chat; a
//! citizen of the last room calls for help, and the second facilitator goes there and
//! resolves the call; the facilitator broadcasts to every room. The server warns everyone,
//! then closes the rooms at the end of the timer and brings everyone back to the plenary.
//!
//! Checked: the assignment is balanced (sizes, and each commune's count in each room, differ
//! by one at most); every citizen got one snapshot placing them in their room, and one
//! placing them back in the plenary after the close (also those who visited); a room's chat
//! reached its members and the staff, and nobody else; the call reached the staff and the
//! caller, and nobody else; everything else of the phase reached everyone.

use std::collections::{BTreeMap, HashMap, HashSet};

use anyhow::{bail, Result};
use convene_protocol::{Actor, CloseReason, Command, Event, PLENARY_ID};

use super::day::{Day, CONTROL, DRAIN};
use super::inbox::lock;

/// Whether each value's count differs by one at most over the rooms (and so do the sizes).
pub(super) fn balanced(
    rooms: &[String],
    of: &HashMap<usize, String>,
    value: impl Fn(usize) -> String,
) -> bool {
    let mut sizes: BTreeMap<&str, usize> = rooms.iter().map(|r| (r.as_str(), 0)).collect();
    let mut per: BTreeMap<String, BTreeMap<&str, usize>> = BTreeMap::new();
    for (&c, room) in of {
        *sizes.entry(room).or_default() += 1;
        let counts = per
            .entry(value(c))
            .or_insert_with(|| rooms.iter().map(|r| (r.as_str(), 0)).collect());
        *counts.entry(room).or_default() += 1;
    }
    let spread =
        |m: &BTreeMap<&str, usize>| m.values().max().unwrap_or(&0) - m.values().min().unwrap_or(&0);
    spread(&sizes) <= 1 && per.values().all(|m| spread(m) <= 1)
}

impl Day<'_> {
    pub async fn breakouts(&mut self, groups: usize) -> Result<()> {
        let first = self.start_phase("breakouts");
        let (fac, fac2) = (self.fac(), self.fac2());
        let citizens = self.cast.citizens.clone();

        // The run sheet's sequence makes the rooms, assigns the citizens balanced on their
        // commune and opens the rooms, in one start.
        let sequence = self.sheet.breakouts.clone();
        let open = self.start_sequence(&sequence).await?;
        let started = self.started_events(open).await?;
        let Some(rooms) = started.iter().find_map(|e| match e {
            Event::RoomsCreated { rooms } => Some(rooms.clone()),
            _ => None,
        }) else {
            bail!("the breakouts sequence made no rooms");
        };
        let rooms: Vec<String> = rooms.into_iter().map(|r| r.id).collect();
        if rooms.len() != groups {
            self.fail(format!(
                "{} breakout rooms made, {groups} prepared",
                rooms.len()
            ));
        }
        let Some(assignments) = started.iter().find_map(|e| match e {
            Event::RoomsAssigned { assignments, .. } => Some(assignments.clone()),
            _ => None,
        }) else {
            bail!("the breakouts sequence assigned nobody");
        };
        if !matches!(started.last(), Some(Event::BreakoutsOpened { .. })) {
            bail!("the breakouts sequence's last event is not breakouts_opened");
        }
        let mut room_of: HashMap<usize, String> = HashMap::new();
        let mut twice = 0;
        for a in &assignments {
            if room_of
                .insert(self.conn_of(&a.participant)?, a.room.clone())
                .is_some()
            {
                twice += 1;
            }
        }
        let unassigned = citizens.iter().filter(|c| !room_of.contains_key(c)).count();
        let attr = |c: usize, key: &str| {
            self.cast.roster[c]
                .attributes
                .get(key)
                .cloned()
                .unwrap_or_default()
        };
        let by_commune = balanced(&rooms, &room_of, |c| attr(c, "commune"));
        self.check("breakout_rooms", rooms.len());
        self.check("breakouts_assigned", assignments.len());
        self.check("breakouts_balanced_on_commune", by_commune);
        self.zero(
            "breakouts_unassigned",
            (unassigned + twice) as u64,
            "citizens unassigned or assigned twice",
        );
        if !by_commune {
            self.fail("the breakout rooms are not balanced on the commune".into());
        }

        // Opened with the sequence: everyone to their room.
        let placed = |day: &Self, snap_from: u64, room: &dyn Fn(usize) -> String, who: &[usize]| {
            let ib = lock(&day.inboxes);
            who.iter()
                .filter(|&&c| {
                    ib[c]
                        .snaps_in(snap_from, u64::MAX)
                        .next()
                        .is_some_and(|s| s.room.as_deref() == Some(room(c).as_str()))
                })
                .count()
        };
        let assigned_room = |c: usize| room_of.get(&c).cloned().unwrap_or_default();
        self.wait_until(CONTROL, |ib| {
            citizens
                .iter()
                .all(|&c| ib[c].snaps_in(open, u64::MAX).next().is_some())
        })
        .await;
        let moved = placed(self, open, &assigned_room, &citizens);
        self.check("breakouts_moved_to_their_room", moved);
        if moved != citizens.len() {
            self.fail(format!(
                "{moved} of {} citizens were told they are in their breakout room",
                citizens.len()
            ));
        }

        // A guarantor observes the first room.
        let mut visitors = Vec::new();
        if let Some(&g) = self.cast.guarantors.first() {
            let room = rooms[0].clone();
            if self.try_cmd(g, Command::Visit { room }).await?.is_some() {
                visitors.push(g);
            }
        }

        // Chat in the rooms: a line from every citizen, in their room.
        let lines: Vec<(usize, Command)> = citizens
            .iter()
            .map(|&c| {
                let text = format!(
                    "Dans notre salle, {} propose de commencer par les transports.",
                    self.cast.roster[c].name
                );
                (c, Command::SendChat { text, room: None })
            })
            .collect();
        let chat = self.spread(lines, self.t.breakout.mul_f64(0.3)).await?;
        let chat: Vec<(u64, String)> = citizens
            .iter()
            .zip(&chat)
            .filter_map(|(c, s)| s.map(|s| (s, assigned_room(*c))))
            .collect();

        // A call for help from the last room; the second facilitator goes there.
        let last = rooms.last().cloned().unwrap_or_default();
        let caller = *citizens
            .iter()
            .find(|&&c| assigned_room(c) == last)
            .unwrap_or(&citizens[0]);
        let message = "Nous n'arrivons pas à nous mettre d'accord sur le rapporteur.".into();
        let call = self
            .try_cmd(caller, Command::CallFacilitator { message })
            .await?;
        if fac2 != fac
            && self
                .try_cmd(fac2, Command::Visit { room: last.clone() })
                .await?
                .is_some()
        {
            visitors.push(fac2);
        }
        let mut call_events: Vec<u64> = call.into_iter().collect();
        if let Some(call) = call {
            call_events.extend(self.try_cmd(fac2, Command::ResolveCall { call }).await?);
        }
        let text = "Il reste cinq minutes : pensez à désigner qui restituera en plénière.";
        self.try_cmd(fac, Command::Broadcast { text: text.into() })
            .await?;

        // The timer: the warning, the end, everyone back.
        let (closed, event, by) = self
            .find(
                fac,
                open,
                self.t.breakout + CONTROL,
                "breakouts_closed",
                |g| matches!(g.event, Event::BreakoutsClosed { .. }),
            )
            .await?;
        let by_timer = by == Actor::Timer
            && event
                == Event::BreakoutsClosed {
                    reason: CloseReason::Timer,
                };
        let warned = self.seqs(fac, open, |e| *e == Event::BreakoutsWarned);
        self.check("breakouts_closed_by_timer", by_timer);
        self.check("breakouts_warned", warned.len());
        if !by_timer || warned.len() != 1 {
            self.fail(format!(
                "the breakout rooms were warned {} times and closed by {by:?} ({event:?}): expected one warning and the timer",
                warned.len()
            ));
        }
        let mut recalled_who = citizens.clone();
        recalled_who.extend(&visitors);
        self.wait_until(DRAIN, |ib| {
            recalled_who
                .iter()
                .all(|&c| ib[c].snaps_in(closed, u64::MAX).next().is_some())
        })
        .await;
        let plenary = |_: usize| PLENARY_ID.to_string();
        let recalled = placed(self, closed, &plenary, &recalled_who);
        self.check("breakouts_recalled", recalled);
        self.check("breakouts_to_recall", recalled_who.len());
        if recalled != recalled_who.len() {
            self.fail(format!(
                "{recalled} of {} participants in breakout rooms were brought back to the plenary",
                recalled_who.len()
            ));
        }

        // Who saw what.
        let staff = self.staff();
        let chat_seqs: Vec<u64> = chat.iter().map(|c| c.0).collect();
        let staff_missing = self.drain(&staff, &chat_seqs).await;
        let (mut members_missing, mut leaks) = (0u64, 0u64);
        {
            let ib = lock(&self.inboxes);
            let chat_room: HashMap<u64, &str> =
                chat.iter().map(|(s, r)| (*s, r.as_str())).collect();
            for &c in citizens.iter().chain(&self.cast.experts) {
                let mine = room_of.get(&c).map(String::as_str);
                for (s, r) in &chat {
                    if Some(r.as_str()) == mine && !ib[c].has(*s) {
                        members_missing += 1;
                    }
                }
                leaks += ib[c]
                    .since(first)
                    .iter()
                    .filter(|g| {
                        matches!(g.event, Event::ChatPosted { .. })
                            && chat_room.get(&g.seq).copied() != mine
                    })
                    .count() as u64;
            }
        }
        self.check("breakouts_chat_lines", chat.len());
        self.zero(
            "breakouts_chat_missing_members",
            members_missing,
            "room chat lines never reached a member of the room",
        );
        self.zero(
            "breakouts_chat_missing_staff",
            staff_missing,
            "room chat lines never reached a facilitator or guarantor",
        );
        self.zero(
            "breakouts_chat_leaks",
            leaks,
            "room chat lines reached someone outside the room",
        );

        // The call: the staff and the caller, nobody else.
        let mut call_audience = staff.clone();
        call_audience.push(caller);
        let call_missing = self.drain(&call_audience, &call_events).await;
        let call_leaks: u64 = {
            let ib = lock(&self.inboxes);
            let audience: HashSet<usize> = call_audience.iter().copied().collect();
            (0..self.ps.len())
                .filter(|c| !audience.contains(c))
                .map(|c| call_events.iter().filter(|&&s| ib[c].has(s)).count() as u64)
                .sum()
        };
        self.zero(
            "breakouts_call_missing",
            call_missing,
            "help-call events never reached a facilitator, guarantor or the caller",
        );
        self.zero(
            "breakouts_call_leaks",
            call_leaks,
            "help-call events reached someone else",
        );

        // Everything else reached everyone.
        let public = self.seqs(fac, first, |e| {
            !matches!(
                e,
                Event::ChatPosted { .. }
                    | Event::FacilitatorCalled { .. }
                    | Event::CallResolved { .. }
            )
        });
        let everyone = self.everyone();
        let missing = self.drain(&everyone, &public).await;
        self.check("breakouts_public_events", public.len());
        self.zero(
            "breakouts_public_missing",
            missing,
            "breakout events never reached a participant",
        );
        Ok(())
    }
}
