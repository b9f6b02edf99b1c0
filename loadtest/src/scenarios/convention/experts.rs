//! Phase 3, the expert rotation: every expert in a room of their own, the citizens in as many
//! groups as there are experts (balanced on the age band), short rounds with a warning and a
//! transition to change rooms; the server moves everyone at each boundary by itself. In
//! each round one citizen of each group asks its expert a question, and the expert answers.
//!
//! Checked: the groups hold every citizen once, balanced on the age band; at each boundary
//! (the start, each transition, the end), exactly those whose room changes got one snapshot,
//! placing them in the room of the plan's schedule, and nobody else got one; every event of
//! the phase (rotation events, questions and answers go to everyone) reached everyone.

use std::collections::HashMap;

use anyhow::{bail, Result};
use convene_protocol::{Actor, Command, Event, Grouping, RotationPlan, PLENARY_ID};

use super::day::{Day, CONTROL, DRAIN};
use super::inbox::lock;

/// Where the plan puts `id` in `round` (`None`: outside the rotation, the plenary).
fn room_of(plan: &RotationPlan, id: &str, round: Option<usize>) -> String {
    let Some(r) = round else {
        return PLENARY_ID.to_string();
    };
    if let Some(i) = plan.experts.iter().position(|e| e == id) {
        return plan.rooms[i].clone();
    }
    if let Some(g) = plan.groups.iter().position(|g| g.iter().any(|p| p == id)) {
        return match plan
            .schedule
            .get(r)
            .and_then(|s| s.get(g))
            .copied()
            .flatten()
        {
            Some(e) => plan.rooms[e as usize].clone(),
            None => plan.rest_room.clone(),
        };
    }
    PLENARY_ID.to_string()
}

impl Day<'_> {
    pub async fn rotation(&mut self, rounds: u32) -> Result<()> {
        let first = self.start_phase("rotation");
        let fac = self.fac();
        let experts: Vec<String> = self
            .cast
            .experts
            .iter()
            .map(|&e| self.ids[e].clone())
            .collect();
        let seq = self
            .cmd(
                fac,
                Command::PlanRotation {
                    experts,
                    grouping: Grouping::Balanced {
                        attribute: "age".into(),
                    },
                    group_count: None,
                    group_size: None,
                    participants: None,
                    only_present: true,
                    round_ms: self.t.round.as_millis() as u64,
                    transition_ms: self.t.transition.as_millis() as u64,
                    warning_ms: self.t.round_warning.as_millis() as u64,
                    rounds: Some(rounds),
                    break_room: false,
                },
            )
            .await?;
        let Event::RotationPlanned { plan } = self.event(fac, seq).await? else {
            bail!("plan_rotation's last event is not rotation_planned");
        };
        let grouped: Vec<usize> = plan
            .groups
            .iter()
            .flatten()
            .map(|id| self.conn_of(id))
            .collect::<Result<_>>()?;
        let mut once = grouped.clone();
        once.sort_unstable();
        once.dedup();
        let all_once = once == self.cast.citizens && once.len() == grouped.len();
        let group_of: HashMap<usize, String> = plan
            .groups
            .iter()
            .enumerate()
            .flat_map(|(g, members)| members.iter().map(move |m| (m.clone(), g)))
            .map(|(m, g)| Ok((self.conn_of(&m)?, g.to_string())))
            .collect::<Result<_>>()?;
        let group_names: Vec<String> = (0..plan.groups.len()).map(|g| g.to_string()).collect();
        let by_age = super::breakouts::balanced(&group_names, &group_of, |c| {
            self.cast.roster[c]
                .attributes
                .get("age")
                .cloned()
                .unwrap_or_default()
        });
        self.check("rotation_groups", plan.groups.len());
        self.check("rotation_citizens_in_groups", grouped.len());
        self.check("rotation_groups_balanced_on_age", by_age);
        if !all_once {
            self.fail("the rotation's groups do not hold every citizen once".into());
        }
        if !by_age {
            self.fail("the rotation's groups are not balanced on the age band".into());
        }

        // The run sheet's rotation sequence starts it (ending the breakouts' sequence).
        let sequence = self.sheet.rotation.clone();
        let start = self.start_sequence(&sequence).await?;
        let round_time = self.t.round + self.t.transition;
        for r in 0..rounds {
            let (_, _, _) = self
                .find(
                    fac,
                    start - 1,
                    round_time + CONTROL,
                    "a round's start",
                    |g| matches!(g.event, Event::RotationRoundStarted { round, .. } if round == r),
                )
                .await?;
            tokio::time::sleep(self.t.round.mul_f64(0.25)).await;
            // A question from each group that meets an expert, to that expert.
            let schedule = plan.schedule.get(r as usize).cloned().unwrap_or_default();
            let mut asks = Vec::new();
            let mut answerers = Vec::new();
            for (g, e) in schedule.iter().enumerate() {
                let (Some(e), Some(members)) = (e, plan.groups.get(g)) else {
                    continue;
                };
                if members.is_empty() {
                    continue;
                }
                let asker = self.conn_of(&members[r as usize % members.len()])?;
                let text = format!(
                    "Question du groupe {g} : quel est le coût d'une telle mesure pour la métropole (tour {r}) ?"
                );
                asks.push((asker, Command::AskQuestion { text }));
                answerers.push(self.conn_of(&plan.experts[*e as usize])?);
            }
            let asked = self.spread(asks, self.t.round.mul_f64(0.1)).await?;
            let answers: Vec<(usize, Command)> = asked
                .iter()
                .zip(&answerers)
                .filter_map(|(q, &e)| {
                    q.map(|question| {
                        (
                            e,
                            Command::AnswerQuestion {
                                question,
                                text: "Selon les études disponibles, entre 10 et 30 millions d'euros par an.".into(),
                            },
                        )
                    })
                })
                .collect();
            self.spread(answers, self.t.round.mul_f64(0.1)).await?;
        }
        let (ended, _, by) = self
            .find(
                fac,
                start,
                round_time * rounds + CONTROL,
                "rotation_ended",
                |g| matches!(g.event, Event::RotationEnded { .. }),
            )
            .await?;
        self.check("rotation_ended_by_timer", by == Actor::Timer);
        if by != Actor::Timer {
            self.fail("the rotation did not end by its timer".into());
        }

        // The boundaries: where everyone moves, and to which round.
        let mut boundaries: Vec<(u64, Option<usize>)> = Vec::new();
        {
            let ib = lock(&self.inboxes);
            for g in ib[fac].since(start) {
                match g.event {
                    Event::RotationRoundStarted { round: 0, .. } => {
                        boundaries.push((g.seq, Some(0)))
                    }
                    Event::RotationRoundStarted { round, .. } if plan.transition_ms == 0 => {
                        boundaries.push((g.seq, Some(round as usize)))
                    }
                    Event::RotationTransition { next, .. } => {
                        boundaries.push((g.seq, Some(next as usize)))
                    }
                    Event::RotationEnded { .. } => boundaries.push((g.seq, None)),
                    _ => {}
                }
            }
        }
        self.check("rotation_boundaries", boundaries.len());
        if boundaries.len() != rounds as usize + 1 {
            self.fail(format!(
                "{} rotation boundaries seen, {} expected",
                boundaries.len(),
                rounds + 1
            ));
        }
        let placed: Vec<usize> = self
            .cast
            .experts
            .iter()
            .copied()
            .chain(grouped.iter().copied())
            .collect();
        // The last boundary's snapshots may still be on their way.
        self.wait_until(DRAIN, |ib| {
            placed
                .iter()
                .all(|&c| ib[c].snaps_in(ended, u64::MAX).next().is_some())
        })
        .await;
        let (mut movers, mut right, mut wrong, mut missing, mut extra) = (0, 0, 0, 0, 0);
        {
            let ib = lock(&self.inboxes);
            let mut before: Option<usize> = None;
            for (k, &(seq, round)) in boundaries.iter().enumerate() {
                let to = boundaries.get(k + 1).map_or(u64::MAX, |b| b.0);
                for c in 0..self.ps.len() {
                    let id = &self.ids[c];
                    let (from_room, to_room) = (
                        if k == 0 {
                            PLENARY_ID.to_string()
                        } else {
                            room_of(&plan, id, before)
                        },
                        room_of(&plan, id, round),
                    );
                    let snaps: Vec<_> = ib[c].snaps_in(seq, to).collect();
                    if placed.contains(&c) && from_room != to_room {
                        movers += 1;
                        match snaps.as_slice() {
                            [] => missing += 1,
                            [s, rest @ ..] => {
                                extra += rest.len();
                                if s.room.as_deref() == Some(to_room.as_str()) {
                                    right += 1;
                                } else {
                                    wrong += 1;
                                }
                            }
                        }
                    } else {
                        extra += snaps.len();
                    }
                }
                before = round;
            }
        }
        self.check("rotation_moves_expected", movers);
        self.check("rotation_moved_right", right);
        self.zero(
            "rotation_moves_wrong_room",
            wrong as u64,
            "rotation snapshots placed someone in the wrong room",
        );
        self.zero(
            "rotation_moves_missing",
            missing as u64,
            "rotation moves never notified",
        );
        self.zero(
            "rotation_snapshots_extra",
            extra as u64,
            "snapshots during the rotation to someone who did not move (or twice)",
        );

        let seqs = self.seqs(fac, first, |_| true);
        let everyone = self.everyone();
        let missing = self.drain(&everyone, &seqs).await;
        let questions = self.seqs(fac, first, |e| matches!(e, Event::QuestionAnswered { .. }));
        self.check("rotation_events", seqs.len());
        self.check("rotation_questions_answered", questions.len());
        self.zero(
            "rotation_missing",
            missing,
            "rotation events never reached a participant",
        );
        Ok(())
    }
}
