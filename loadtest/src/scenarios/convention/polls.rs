//! Phase 4, polls of every kind the server has, one after another, as the afternoon's votes
//! go: each is drafted, opened, voted by every citizen (and by the experts in the scale),
//! closed (by the facilitator, or by its own timer for the last), and its results published
//! (the ranking's revealed first).
//!
//! | poll | kind | ballots |
//! |---|---|---|
//! | q1 | single, named, live results | citizens |
//! | q2 | multiple (1 to 2 of 5), secret | citizens |
//! | q3 | scale 1-5, named, with a quorum | citizens and experts |
//! | q4 | ranking of 4 (Borda, instant runoff), secret | citizens |
//! | q5 | free text, named | citizens |
//! | q6 | position on a proposal, secret, closed by its timer | citizens |
//!
//! Each voter's ballot is a function of their index, so the expected tally is known: the
//! published tally must count every acknowledged ballot, with the counts (Borda scores and
//! first preferences for the ranking, the sorted answers for the text) of those ballots.
//! Checked too: every participant received every poll's opening, close and publication with
//! that tally; no ballot event reached anyone but its voter and, for a named poll, the staff.

use std::collections::HashSet;

use anyhow::{bail, Result};
use convene_protocol::{
    Actor, Ballot, Command, Event, IrvRound, PollKind, PollSpec, Role, Stance, Tally,
};

use super::day::{Day, CONTROL};
use super::inbox::lock;

/// One poll of the day: its spec, and the ballot of the k-th voter.
pub(super) struct Poll {
    pub(super) spec: PollSpec,
    experts_vote: bool,
    ballot: fn(usize) -> Ballot,
}

fn spec(question: &str, kind: PollKind, secret: bool) -> PollSpec {
    PollSpec {
        question: question.into(),
        kind,
        secret,
        live_results: false,
        voters: vec![],
        quorum: None,
        duration_ms: None,
        room: None,
    }
}

const STANCES: [Stance; 4] = [
    Stance::For,
    Stance::Against,
    Stance::ForWithReservations,
    Stance::Abstain,
];

pub(super) fn polls(timer_ms: u64) -> Vec<Poll> {
    let options = |o: &[&str]| o.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    vec![
        Poll {
            spec: PollSpec {
                live_results: true,
                ..spec(
                    "Faut-il une pause avant les votes ?",
                    PollKind::Single {
                        options: options(&["Oui, dix minutes", "Non, votons", "Sans avis"]),
                    },
                    false,
                )
            },
            experts_vote: false,
            ballot: |k| Ballot::Single {
                choice: (k * 7 % 3) as u32,
            },
        },
        Poll {
            spec: spec(
                "Quels thèmes approfondir ? Deux au plus.",
                PollKind::Multiple {
                    options: options(&[
                        "Mobilités",
                        "Logement",
                        "Santé et solidarités",
                        "Économie locale",
                        "Alimentation",
                    ]),
                    min: 1,
                    max: 2,
                },
                true,
            ),
            experts_vote: false,
            ballot: |k| {
                let mut choices = vec![(k % 5) as u32, ((k * 3 + 1) % 5) as u32];
                choices.sort_unstable();
                choices.dedup();
                Ballot::Multiple { choices }
            },
        },
        Poll {
            spec: PollSpec {
                voters: vec![Role::Citizen, Role::Expert],
                quorum: Some(10),
                ..spec(
                    "Comment avez-vous vécu cette journée ?",
                    PollKind::Scale {
                        min: 1,
                        max: 5,
                        min_label: "Très mal".into(),
                        max_label: "Très bien".into(),
                    },
                    false,
                )
            },
            experts_vote: true,
            ballot: |k| Ballot::Scale {
                value: 1 + (k % 5) as i32,
            },
        },
        Poll {
            spec: spec(
                "Classez ces priorités pour l'avis citoyen",
                PollKind::Ranking {
                    options: options(&[
                        "Transports de nuit",
                        "Logement des jeunes",
                        "Isolement des personnes âgées",
                        "Circuits courts",
                    ]),
                },
                true,
            ),
            experts_vote: false,
            ballot: |k| {
                let mut order: Vec<u32> = (0..4).map(|i| ((i + k) % 4) as u32).collect();
                if (k / 4) % 2 == 1 {
                    order.swap(1, 2);
                }
                Ballot::Ranking { order }
            },
        },
        Poll {
            spec: spec(
                "En une phrase : la proposition de votre salle",
                PollKind::Text { max_chars: 280 },
                false,
            ),
            experts_vote: false,
            ballot: |k| Ballot::Text {
                text: format!(
                    "Proposition {k} : un bus de nuit le samedi entre Rezé et le centre-ville."
                ),
            },
        },
        Poll {
            spec: PollSpec {
                duration_ms: Some(timer_ms),
                ..spec(
                    "Proposition n° 12 : rendre les transports en commun gratuits la nuit",
                    PollKind::Position,
                    true,
                )
            },
            experts_vote: false,
            ballot: |k| Ballot::Position {
                stance: STANCES[k % 4],
            },
        },
    ]
}

/// The tally these ballots must give (what the checks compare: counts, Borda scores, first
/// preferences, answers).
fn expected(kind: &PollKind, ballots: &[Ballot]) -> Tally {
    let mut t = Tally {
        ballots: ballots.len() as u64,
        counts: vec![],
        borda: vec![],
        rounds: vec![],
        winner: None,
        texts: vec![],
    };
    match kind {
        PollKind::Single { options }
        | PollKind::Multiple { options, .. }
        | PollKind::Ranking { options } => {
            let n = options.len();
            if matches!(kind, PollKind::Ranking { .. }) {
                t.borda = vec![0; n];
                let mut first = vec![0u64; n];
                for b in ballots {
                    if let Ballot::Ranking { order } = b {
                        for (place, &o) in order.iter().enumerate() {
                            t.borda[o as usize] += (n - 1 - place) as u64;
                        }
                        first[order[0] as usize] += 1;
                    }
                }
                t.rounds = vec![IrvRound {
                    counts: first.into_iter().map(Some).collect(),
                    eliminated: None,
                }];
            } else {
                t.counts = vec![0; n];
                for b in ballots {
                    match b {
                        Ballot::Single { choice } => t.counts[*choice as usize] += 1,
                        Ballot::Multiple { choices } => {
                            for &c in choices {
                                t.counts[c as usize] += 1;
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        PollKind::Scale { min, max, .. } => {
            t.counts = vec![0; (max - min + 1) as usize];
            for b in ballots {
                if let Ballot::Scale { value } = b {
                    t.counts[(value - min) as usize] += 1;
                }
            }
        }
        PollKind::Text { .. } => {
            t.texts = ballots
                .iter()
                .filter_map(|b| match b {
                    Ballot::Text { text } => Some(text.trim().to_string()),
                    _ => None,
                })
                .collect();
            t.texts.sort();
        }
        PollKind::Position => {
            t.counts = vec![0; 4];
            for b in ballots {
                if let Ballot::Position { stance } = b {
                    t.counts[STANCES.iter().position(|s| s == stance).unwrap_or(0)] += 1;
                }
            }
        }
    }
    t
}

/// Whether a published tally counts what the expected one does.
fn same_count(got: &Tally, want: &Tally) -> bool {
    got.ballots == want.ballots
        && got.counts == want.counts
        && got.borda == want.borda
        && got.texts == want.texts
        && got.rounds.first().map(|r| &r.counts) == want.rounds.first().map(|r| &r.counts)
}

impl Day<'_> {
    pub async fn polls(&mut self) -> Result<()> {
        let first = self.start_phase("polls");
        let fac = self.fac();
        // The break of the run sheet is skipped: straight to the votes.
        let pause = self.sheet.pause.clone();
        self.cmd(fac, Command::SkipSequence { sequence: pause })
            .await?;
        let citizens = self.cast.citizens.clone();
        let experts = self.cast.experts.clone();
        let timer_ms = (self.t.vote * 2).as_millis() as u64;
        let mut published = Vec::new();
        let mut public = Vec::new();
        let (mut ok_tallies, mut votes_acked, mut votes_expected) = (0, 0, 0);
        for (n, p) in polls(timer_ms).into_iter().enumerate() {
            // Drafted with the run sheet; its sequence opens it.
            let Some((poll, sequence)) = self.sheet.votes.get(n).cloned() else {
                bail!("no sequence prepared for poll {}", n + 1);
            };
            let opened = self.start_sequence(&sequence).await?;
            let mut voters = citizens.clone();
            if p.experts_vote {
                voters.extend(&experts);
            }
            let ballots: Vec<Ballot> = (0..voters.len()).map(p.ballot).collect();
            let sends = voters
                .iter()
                .zip(&ballots)
                .map(|(&v, b)| {
                    (
                        v,
                        Command::Vote {
                            poll: poll.clone(),
                            ballot: b.clone(),
                        },
                    )
                })
                .collect();
            let acked = self.spread(sends, self.t.vote).await?;
            let counted: Vec<Ballot> = ballots
                .iter()
                .zip(&acked)
                .filter(|(_, s)| s.is_some())
                .map(|(b, _)| b.clone())
                .collect();
            votes_acked += counted.len();
            votes_expected += voters.len();
            let closed = if p.spec.duration_ms.is_some() {
                let (seq, _, by) = self
                    .find(
                        fac,
                        opened,
                        self.t.vote * 2 + CONTROL,
                        "the poll's close",
                        |g| matches!(&g.event, Event::PollClosed { poll: q, .. } if *q == poll),
                    )
                    .await?;
                if by != Actor::Timer {
                    self.fail(format!("poll {poll} was not closed by its timer"));
                }
                self.check("polls_closed_by_timer", by == Actor::Timer);
                seq
            } else {
                self.cmd(fac, Command::ClosePoll { poll: poll.clone() })
                    .await?
            };
            let mut revealed = None;
            if matches!(p.spec.kind, PollKind::Ranking { .. }) {
                revealed = self
                    .try_cmd(fac, Command::RevealResults { poll: poll.clone() })
                    .await?;
            }
            let pubd = self
                .cmd(fac, Command::PublishResults { poll: poll.clone() })
                .await?;
            let Event::PollPublished { tally, .. } = self.event(fac, pubd).await? else {
                bail!("publish_results's event is not poll_published");
            };
            let want = expected(&p.spec.kind, &counted);
            let right = same_count(&tally, &want);
            self.check(&format!("poll_{}_ballots", n + 1), tally.ballots);
            self.check(&format!("poll_{}_tally_right", n + 1), right);
            if right {
                ok_tallies += 1;
            } else {
                self.fail(format!(
                    "poll {poll}: the published tally {tally:?} does not count the {} acknowledged ballots ({want:?})",
                    counted.len()
                ));
            }
            published.push((pubd, tally));
            public.extend([opened, closed, pubd]);
            public.extend(revealed);
        }
        self.check("polls", published.len());
        self.check("polls_tallies_right", ok_tallies);
        self.check("polls_votes_expected", votes_expected);
        self.check("polls_votes_acknowledged", votes_acked);
        if votes_acked != votes_expected {
            self.fail(format!(
                "{votes_acked} of {votes_expected} votes acknowledged"
            ));
        }

        // Everyone saw every poll open, close and its results published, with that tally.
        let everyone = self.everyone();
        let missing = self.drain(&everyone, &public).await;
        self.zero(
            "polls_public_missing",
            missing,
            "poll events never reached a participant",
        );
        let (mut wrong, mut leaks) = (0u64, 0u64);
        {
            let ib = lock(&self.inboxes);
            let staff: HashSet<usize> = self.staff().into_iter().collect();
            for c in 0..self.ps.len() {
                for (seq, tally) in &published {
                    if let Some(g) = ib[c].get(*seq) {
                        if !matches!(&g.event, Event::PollPublished { tally: t, .. } if t == tally)
                        {
                            wrong += 1;
                        }
                    }
                }
                // A ballot event goes to its voter, and a named one to the staff too.
                let me = Actor::Participant(self.ids[c].clone());
                leaks += ib[c]
                    .since(first)
                    .iter()
                    .filter(|g| match g.event {
                        Event::VoterMarked { .. } => g.by != me,
                        Event::BallotCast { .. } => g.by != me && !staff.contains(&c),
                        _ => false,
                    })
                    .count() as u64;
            }
        }
        self.zero(
            "polls_published_tally_differs",
            wrong,
            "participants received a published tally that differs from the facilitator's",
        );
        self.zero(
            "polls_ballot_leaks",
            leaks,
            "ballot events reached someone other than the voter (and the staff, for named polls)",
        );
        let tallies: u64 = lock(&self.inboxes).iter().map(|i| i.tallies).sum();
        self.check("polls_tally_messages", tallies);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ballot_of_the_day_fits_its_poll() {
        for p in polls(1000) {
            for k in 0..50 {
                let b = (p.ballot)(k);
                let fits = match (&p.spec.kind, &b) {
                    (PollKind::Single { options }, Ballot::Single { choice }) => {
                        (*choice as usize) < options.len()
                    }
                    (PollKind::Multiple { options, min, max }, Ballot::Multiple { choices }) => {
                        choices.len() >= *min as usize
                            && choices.len() <= *max as usize
                            && choices.iter().all(|&c| (c as usize) < options.len())
                    }
                    (PollKind::Scale { min, max, .. }, Ballot::Scale { value }) => {
                        value >= min && value <= max
                    }
                    (PollKind::Ranking { options }, Ballot::Ranking { order }) => {
                        let mut o = order.clone();
                        o.sort_unstable();
                        o == (0..options.len() as u32).collect::<Vec<_>>()
                    }
                    (PollKind::Text { max_chars }, Ballot::Text { text }) => {
                        !text.is_empty() && text.chars().count() <= *max_chars as usize
                    }
                    (PollKind::Position, Ballot::Position { .. }) => true,
                    _ => false,
                };
                assert!(fits, "{:?} {b:?}", p.spec.kind);
            }
        }
    }

    #[test]
    fn the_expected_ranking_tally_has_borda_scores_and_first_preferences() {
        let kind = PollKind::Ranking {
            options: vec!["a".into(), "b".into(), "c".into()],
        };
        let ballots = [[0, 2, 1], [2, 0, 1], [1, 2, 0], [2, 1, 0]]
            .map(|o| Ballot::Ranking { order: o.to_vec() });
        let t = expected(&kind, &ballots);
        // PROTOCOL.md's example: Borda 3, 3, 6.
        assert_eq!(t.borda, vec![3, 3, 6]);
        assert_eq!(t.rounds[0].counts, vec![Some(1), Some(1), Some(2)]);
    }
}
