//! The run sheet that drives the day (PROTOCOL.md §20): before the plenary, the facilitator
//! drafts the day's polls and prepares the sequences (a welcome in plenary, the breakout
//! rooms, the expert rotation, a break, one vote per poll); each phase then starts its
//! sequence with one `start_sequence` (ending the one under way) instead of issuing each step
//! by hand: the rooms made, filled and opened, the rotation started, each poll opened. The
//! break is skipped.
//!
//! Checked, from the run sheet's export at the end of the day: every sequence ran in the
//! order of the day (started, then ended by the next start), the break was skipped.

use anyhow::{bail, Result};
use convene_protocol::{
    Command, Event, Grouping, SequenceAction, SequenceReport, SequenceRooms, SequenceSpec,
};

use super::day::Day;
use super::inbox::lock;

/// The sequences prepared, by their ids.
#[derive(Default)]
pub struct Prepared {
    pub welcome: String,
    pub breakouts: String,
    pub rotation: String,
    pub pause: String,
    /// Each poll drafted, with the sequence that opens it.
    pub votes: Vec<(String, String)>,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Day<'_> {
    async fn add_sequence(
        &mut self,
        title: &str,
        start: u64,
        ms: u64,
        action: SequenceAction,
    ) -> Result<String> {
        let fac = self.fac();
        let seq = self
            .cmd(
                fac,
                Command::AddSequence {
                    spec: SequenceSpec {
                        title: title.to_string(),
                        planned_start: start,
                        planned_ms: ms.max(1),
                        action,
                    },
                    before: None,
                },
            )
            .await?;
        let Event::SequenceAdded { sequence, .. } = self.event(fac, seq).await? else {
            bail!("add_sequence's event is not sequence_added");
        };
        Ok(sequence)
    }

    /// Draft the polls and prepare the day's sequences, planned one after the other from now.
    pub async fn prepare_runsheet(
        &mut self,
        groups: usize,
        rounds: u32,
        speakers: usize,
    ) -> Result<()> {
        let fac = self.fac();
        let timer_ms = (self.t.vote * 2).as_millis() as u64;
        let mut drafts = Vec::new();
        for p in super::polls::polls(timer_ms) {
            let seq = self.cmd(fac, Command::DraftPoll { spec: p.spec }).await?;
            let Event::PollDrafted { poll, .. } = self.event(fac, seq).await? else {
                bail!("draft_poll's event is not poll_drafted");
            };
            drafts.push(poll);
        }
        let ms = |d: std::time::Duration| d.as_millis() as u64;
        let t = self.t;
        let mut at = now_ms();
        let plenary_ms = ms(t.chat) + ms(t.floor) * speakers as u64;
        self.sheet.welcome = self
            .add_sequence(
                "Accueil en plénière",
                at,
                plenary_ms,
                SequenceAction::Plenary,
            )
            .await?;
        at += plenary_ms;
        self.sheet.breakouts = self
            .add_sequence(
                "Travail en sous-groupes",
                at,
                ms(t.breakout),
                SequenceAction::Breakouts {
                    rooms: SequenceRooms::New {
                        count: Some(groups as u32),
                        names: vec![],
                    },
                    grouping: Grouping::Balanced {
                        attribute: "commune".into(),
                    },
                    duration_ms: ms(t.breakout),
                    warning_ms: ms(t.breakout_warning),
                },
            )
            .await?;
        at += ms(t.breakout);
        let rotation_ms = (ms(t.round) + ms(t.transition)) * rounds as u64;
        self.sheet.rotation = self
            .add_sequence(
                "Rotation des expert·es",
                at,
                rotation_ms,
                SequenceAction::Rotation,
            )
            .await?;
        at += rotation_ms;
        self.sheet.pause = self
            .add_sequence("Pause", at, ms(t.vote), SequenceAction::Break)
            .await?;
        at += ms(t.vote);
        for (n, poll) in drafts.into_iter().enumerate() {
            let s = self
                .add_sequence(
                    &format!("Vote {}", n + 1),
                    at,
                    ms(t.vote) * 2,
                    SequenceAction::Polls {
                        polls: vec![poll.clone()],
                    },
                )
                .await?;
            at += ms(t.vote) * 2;
            self.sheet.votes.push((poll, s));
        }
        Ok(())
    }

    /// Start a prepared sequence, ending the one under way: the seq of its last event.
    pub async fn start_sequence(&mut self, sequence: &str) -> Result<u64> {
        let fac = self.fac();
        self.cmd(
            fac,
            Command::StartSequence {
                sequence: sequence.to_string(),
                end_running: true,
            },
        )
        .await
    }

    /// The events of the start whose last event is `last`, as the facilitator received them:
    /// from its `sequence_started` on.
    pub async fn started_events(&self, last: u64) -> Result<Vec<Event>> {
        let fac = self.fac();
        self.event(fac, last).await?;
        let ib = lock(&self.inboxes);
        let got: Vec<&super::inbox::Got> =
            ib[fac].since(0).iter().filter(|g| g.seq <= last).collect();
        let Some(from) = got
            .iter()
            .rposition(|g| matches!(g.event, Event::SequenceStarted { .. }))
        else {
            bail!("no sequence_started before event {last}");
        };
        Ok(got[from..].iter().map(|g| g.event.clone()).collect())
    }

    /// End the sequence under way, then check the day as run from the run sheet's export.
    pub async fn finish_runsheet(&mut self) -> Result<()> {
        let fac = self.fac();
        self.cmd(fac, Command::EndSequence).await?;
        let rows: Vec<SequenceReport> = self
            .ctx
            .organizer
            .get_json(&format!("/api/conventions/{}/runsheet", self.convention))
            .await?;
        let done = rows.iter().filter(|r| r.status == "done").count();
        let skipped = rows.iter().filter(|r| r.status == "skipped").count();
        // In the order of the day: each started after the one before it ended.
        let starts: Vec<(u64, u64)> = rows
            .iter()
            .filter_map(|r| r.started_at.zip(r.ended_at))
            .collect();
        let in_order = starts.windows(2).all(|w| w[0].1 <= w[1].0);
        self.check("runsheet_sequences", rows.len());
        self.check("runsheet_done", done);
        self.check("runsheet_skipped", skipped);
        self.check("runsheet_ran_in_order", in_order);
        if done + skipped != rows.len() || !in_order {
            self.fail(format!(
                "the run sheet did not run as planned: {done} done, {skipped} skipped of {}, in order: {in_order}",
                rows.len()
            ));
        }
        Ok(())
    }
}
