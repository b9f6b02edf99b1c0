//! Phase 1, the plenary: everyone is in it. The facilitator sets a speaking-time limit and
//! the queue's order, and welcomes everyone with broadcasts; every citizen writes a line in
//! the chat; some raise their hands and are given the floor in turn: one in three gives it
//! back, one in three speaks until the limit runs out (the server's timer ends the floor),
//! one in three has it taken back by the facilitator; those not heard lower their hands.
//!
//! Checked: every participant received every event of the phase (in the plenary, every
//! event is everyone's), and the floors ended each way.

use std::time::Duration;

use anyhow::{bail, Result};
use convene_protocol::{Actor, Command, Event, FloorEndReason, QueueOrder};

use super::day::{Day, CONTROL};

const WELCOME: [&str; 3] = [
    "Bonjour à toutes et à tous, bienvenue à cette journée de la convention citoyenne.",
    "Ce matin : plénière, puis travail en salles, puis les expert·es l'après-midi.",
    "Pour prendre la parole, levez la main : le temps de parole est limité.",
];

impl Day<'_> {
    pub async fn plenary(&mut self, speakers: usize) -> Result<()> {
        let first = self.start_phase("plenary");
        let fac = self.fac();
        // The run sheet's welcome: nothing to close, the sequence runs.
        let welcome = self.sheet.welcome.clone();
        self.start_sequence(&welcome).await?;
        let floor_ms = self.t.floor.as_millis() as u64;
        self.cmd(
            fac,
            Command::SetSpeakingLimit {
                room: None,
                limit_ms: Some(floor_ms),
            },
        )
        .await?;
        self.cmd(
            fac,
            Command::SetQueueOrder {
                room: None,
                order: QueueOrder::LeastSpoken,
            },
        )
        .await?;
        for text in WELCOME {
            self.cmd(fac, Command::Broadcast { text: text.into() })
                .await?;
        }

        // The chat: a line from every citizen.
        let citizens = self.cast.citizens.clone();
        let lines: Vec<(usize, Command)> = citizens
            .iter()
            .enumerate()
            .map(|(k, &i)| {
                let text = format!(
                    "Bonjour, je suis {} ; ma question porte sur le thème {}.",
                    self.cast.roster[i].name,
                    k % 5 + 1
                );
                (i, Command::SendChat { text, room: None })
            })
            .collect();
        self.spread(lines, self.t.chat).await?;

        // The speaking queue.
        let speakers = speakers.min(citizens.len());
        let raising = (speakers + 2).min(citizens.len());
        let raisers: Vec<usize> = (0..raising)
            .map(|k| citizens[k * citizens.len() / raising])
            .collect();
        let hands = raisers
            .iter()
            .map(|&i| (i, Command::RaiseHand { room: None }))
            .collect();
        self.spread(hands, Duration::from_millis(300)).await?;
        let mut heard = Vec::new();
        // Floors given back and taken back (acknowledged); the others end by the timer. (A
        // yield or a taking back that comes after the timer, say after a stall of the server,
        // is refused: a failure, but the day goes on.)
        let (mut yielded, mut taken) = (0u64, 0u64);
        for k in 0..speakers {
            let seq = self
                .cmd(
                    fac,
                    Command::GiveFloor {
                        room: None,
                        participant: None,
                        limit_ms: None,
                    },
                )
                .await?;
            let Event::FloorGiven { participant, .. } = self.event(fac, seq).await? else {
                bail!("give_floor's last event is not floor_given");
            };
            let speaker = self.conn_of(&participant)?;
            heard.push(speaker);
            match k % 3 {
                0 => {
                    tokio::time::sleep(self.t.floor.mul_f64(0.2)).await;
                    if self.try_cmd(speaker, Command::YieldFloor).await?.is_some() {
                        yielded += 1;
                    }
                }
                1 => {}
                _ => {
                    tokio::time::sleep(self.t.floor.mul_f64(0.3)).await;
                    if self
                        .try_cmd(fac, Command::EndFloor { room: None })
                        .await?
                        .is_some()
                    {
                        taken += 1;
                    }
                }
            }
            // The floor is over before the next is given.
            let (_, _, by) = self
                .find(fac, seq, self.t.floor + CONTROL, "the floor's end", |g| {
                    matches!(&g.event, Event::FloorEnded { participant: p, .. } if *p == participant)
                })
                .await?;
            if k % 3 == 1 && by != Actor::Timer {
                self.fail(format!("{participant}'s floor was not ended by the timer"));
            }
        }
        let reasons = [yielded, speakers as u64 - yielded - taken, taken];
        let lower = raisers
            .iter()
            .filter(|i| !heard.contains(i))
            .map(|&i| (i, Command::LowerHand))
            .collect();
        self.spread(lower, Duration::from_millis(200)).await?;

        // Everything of the phase reached everyone.
        let seqs = self.seqs(fac, first, |_| true);
        let ended: Vec<FloorEndReason> = {
            let ib = super::inbox::lock(&self.inboxes);
            ib[fac]
                .since(first)
                .iter()
                .filter_map(|g| match &g.event {
                    Event::FloorEnded { reason, .. } => Some(*reason),
                    _ => None,
                })
                .collect()
        };
        let count = |r: FloorEndReason| ended.iter().filter(|&&x| x == r).count() as u64;
        self.check("plenary_events", seqs.len());
        self.check("plenary_floors", heard.len());
        self.check(
            "plenary_floor_ends_yielded_timer_taken",
            [
                count(FloorEndReason::Yielded),
                count(FloorEndReason::Timer),
                count(FloorEndReason::Taken),
            ],
        );
        if [
            count(FloorEndReason::Yielded),
            count(FloorEndReason::Timer),
            count(FloorEndReason::Taken),
        ] != reasons
        {
            self.fail(format!(
                "floors ended {ended:?}, expected yielded/timer/taken {reasons:?}"
            ));
        }
        let everyone = self.everyone();
        let missing = self.drain(&everyone, &seqs).await;
        self.zero(
            "plenary_missing",
            missing,
            "plenary events never reached a participant",
        );
        Ok(())
    }
}
