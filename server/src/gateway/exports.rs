//! Exports over HTTP: poll results (JSON or CSV) of one poll or of all, the ballots of named
//! polls (secret polls have none to export: nothing links them to voters), and the expert
//! rotation with its schedule and the questions heard, and the chat (hidden lines marked).

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use convene_protocol::api::{NamedBallot, PollResults};
use convene_protocol::{ErrorCode, PollKind, Stance};
use serde::Deserialize;

use super::api::{convention, organizer_or, ApiResult};
use super::table::{col, respond, row, Cell, Col, Export, Output, OutputQuery, Sheet};
use super::{ApiError, AppState};
use crate::domain::{self as d, Convention};
use crate::live::view;
use crate::wire;

/// The order of stances in a position poll's counts.
const STANCES: [Stance; 4] = [
    Stance::For,
    Stance::Against,
    Stance::ForWithReservations,
    Stance::Abstain,
];

/// Facilitators and guarantors may export, as may organizers.
pub(super) const READERS: &[d::Role] = &[d::Role::Facilitator, d::Role::Guarantor];

#[derive(Deserialize)]
pub struct ExportQuery {
    pub(super) token: Option<String>,
    /// `format` (`json`, `csv`, `xlsx`), `lang` and `tz`: [`super::table`].
    #[serde(flatten)]
    pub(super) out: OutputQuery,
}

fn results(state: &Convention, poll: &d::Poll) -> PollResults {
    // An open secret poll's running count is nobody's (view::staff_sees_tally): its export
    // has the participation and an empty tally until it closes or its results are revealed.
    let tally = if view::staff_sees_tally(poll) {
        wire::tally_out(&poll.tally())
    } else {
        wire::tally_out(&wire::empty_tally())
    };
    let ballots = tally.ballots.max(1) as f64;
    let percentages = tally
        .counts
        .iter()
        .map(|c| (*c as f64) * 100.0 / ballots)
        .map(|p| (p * 10.0).round() / 10.0)
        .collect();
    // Nobody is "present" in an export: an open poll's participation counts who voted among
    // who may; a closed poll's has who could and were online at its close (logged).
    let participation = view::participation(state, poll, &Default::default());
    PollResults {
        id: poll.id.clone(),
        spec: wire::spec_out(&poll.spec),
        status: wire::poll_status_out(poll.status),
        opened_at: poll.opened_at,
        ends_at: poll.ends_at,
        quorum_reached: poll.spec.quorum.map(|q| participation.voted >= q as u64),
        participation,
        tally,
        percentages,
        tampered: poll.tampered.as_ref().map(wire::tampered_out),
    }
}

/// The labels of the counted entries: options, stances or scale values.
fn labels(spec: &convene_protocol::PollSpec) -> Vec<String> {
    match &spec.kind {
        PollKind::Single { options }
        | PollKind::Multiple { options, .. }
        | PollKind::Ranking { options } => options.clone(),
        PollKind::Scale { min, max, .. } => (*min..=*max).map(|v| v.to_string()).collect(),
        PollKind::Position => STANCES
            .iter()
            .map(|s| match s {
                Stance::For => "pour",
                Stance::Against => "contre",
                Stance::ForWithReservations => "pour avec réserves",
                Stance::Abstain => "abstention",
            })
            .map(str::to_string)
            .collect(),
        PollKind::Text { .. } => Vec::new(),
    }
}

/// One poll's table: a row per option (stance, scale value), or per answer of a text poll.
fn results_sheet(r: &PollResults) -> Sheet {
    let labels = labels(&r.spec);
    match &r.spec.kind {
        PollKind::Text { .. } => {
            let mut s = Sheet::new(&r.id, vec![col("answer", "Réponse", "Answer")]);
            for t in &r.tally.texts {
                s.push(row![t]);
            }
            s
        }
        PollKind::Ranking { .. } => {
            let mut cols = vec![
                col("option", "Option", "Option"),
                col("borda", "Score de Borda", "Borda score"),
            ];
            cols.extend((1..=r.tally.rounds.len()).map(|i| {
                col(
                    format!("irv_round_{i}"),
                    format!("Tour {i} (vote alternatif)"),
                    format!("Instant-runoff round {i}"),
                )
            }));
            cols.push(col("winner", "Gagnante", "Winner"));
            let mut s = Sheet::new(&r.id, cols);
            for (i, label) in labels.iter().enumerate() {
                let mut cells = row![label, r.tally.borda.get(i).copied().unwrap_or(0)];
                for round in &r.tally.rounds {
                    cells.push(match round.counts.get(i).copied().flatten() {
                        Some(c) => Cell::from(c),
                        None => Cell::Word("eliminated", "éliminée", "eliminated"),
                    });
                }
                cells.push(Cell::Flag(
                    r.tally.winner == Some(i as u32),
                    ["true", "false"],
                ));
                s.push(cells);
            }
            s
        }
        _ => {
            let mut s = Sheet::new(
                &r.id,
                vec![
                    col("option", "Option", "Option"),
                    col("count", "Voix", "Votes"),
                    col("percent", "Pourcentage", "Percent"),
                ],
            );
            for (i, label) in labels.iter().enumerate() {
                let count = r.tally.counts.get(i).copied().unwrap_or(0);
                let pct = r.percentages.get(i).copied().unwrap_or(0.0);
                s.push(row![label, count, Cell::Decimal(pct)]);
            }
            s
        }
    }
}

/// `GET /api/conventions/{id}/polls`: every poll's results (drafts excluded).
pub async fn all(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    let handle = organizer_or(&app, &headers, &id, q.token.clone(), READERS).await?;
    let out = q.out.output()?;
    let all: Vec<PollResults> = handle
        .query(|c, _| {
            c.polls_in_order()
                .filter(|p| p.status != d::PollStatus::Draft)
                .map(|p| results(c, p))
                .collect()
        })
        .await
        .ok_or_else(ApiError::shutting_down)?;
    // A sheet per poll; in the CSV, each poll's table after a row `# {id}`, its question (a
    // cell of its own: a question may hold newlines).
    let tables = || Export {
        file: format!("polls-{id}"),
        sheets: all
            .iter()
            .map(|r| results_sheet(r).caption(r.spec.question.clone()))
            .collect(),
    };
    respond(out, &all, tables).await
}

async fn one(app: &AppState, id: &str, poll: String) -> ApiResult<(PollResults, Vec<NamedBallot>)> {
    let handle = convention(app, id).await?;
    handle
        .query(move |c, _| {
            let p = c
                .polls
                .get(&poll)
                .filter(|p| p.status != d::PollStatus::Draft)?;
            let named = p
                .named
                .iter()
                .map(|(who, b)| NamedBallot {
                    participant: who.clone(),
                    name: c
                        .people
                        .get(who)
                        .map(|p| p.name.clone())
                        .unwrap_or_default(),
                    ballot: wire::ballot_out(b),
                })
                .collect();
            // An open poll whose box was tampered with has no result to give.
            let result = match p.stalled() {
                Some(t) => Err(*t),
                None => Ok((results(c, p), named)),
            };
            Some(result)
        })
        .await
        .ok_or_else(ApiError::shutting_down)?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such poll (or still a draft)"))?
        .map_err(|t| {
            let rejection = t.rejection();
            ApiError::new(wire::code_out(rejection.code), rejection.message)
        })
}

/// `GET /api/conventions/{id}/polls/{poll}/results`.
pub async fn poll_results(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path((id, poll)): Path<(String, String)>,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    organizer_or(&app, &headers, &id, q.token.clone(), READERS).await?;
    let out = q.out.output()?;
    let (r, _) = one(&app, &id, poll).await?;
    let tables = || Export::one(format!("{id}-{}-results", r.id), results_sheet(&r));
    respond(out, &r, tables).await
}

/// `GET /api/conventions/{id}/polls/{poll}/ballots`: named polls only.
pub async fn ballots(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path((id, poll)): Path<(String, String)>,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    organizer_or(&app, &headers, &id, q.token.clone(), READERS).await?;
    let out = q.out.output()?;
    let (r, named) = one(&app, &id, poll).await?;
    if r.spec.secret {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "a secret poll's ballots are linked to nobody: there is nothing to export",
        ));
    }
    let tables = || {
        let labels = labels(&r.spec);
        let mut s = Sheet::new(
            &r.id,
            vec![
                col("participant", "Identifiant", "Participant id"),
                col("name", "Nom", "Name"),
                col("ballot", "Vote", "Ballot"),
            ],
        );
        for b in &named {
            let label = |i: &u32| labels.get(*i as usize).cloned().unwrap_or_default();
            let text = match &b.ballot {
                convene_protocol::Ballot::Single { choice } => label(choice),
                convene_protocol::Ballot::Multiple { choices } => {
                    choices.iter().map(label).collect::<Vec<_>>().join("; ")
                }
                convene_protocol::Ballot::Ranking { order } => {
                    order.iter().map(label).collect::<Vec<_>>().join(" > ")
                }
                convene_protocol::Ballot::Scale { value } => value.to_string(),
                convene_protocol::Ballot::Text { text } => text.clone(),
                convene_protocol::Ballot::Position { stance } => {
                    let i = STANCES.iter().position(|s| s == stance).unwrap_or(0) as u32;
                    label(&i)
                }
            };
            s.push(row![&b.participant, &b.name, text]);
        }
        Export::one(format!("{id}-{}-ballots", r.id), s)
    };
    respond(out, &named, tables).await
}

/// `GET /api/conventions/{id}/rotation`: the plan, the schedule with names, the questions
/// asked in each expert's room and their answers.
pub async fn rotation(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    let handle = organizer_or(&app, &headers, &id, q.token.clone(), READERS).await?;
    let out = q.out.output()?;
    // Only the form asked for is made, in the convention's task.
    let tables = !matches!(out, Output::Json);
    let (json, sheets) = handle
        .query(move |c, _| {
            let rot = c.rotation.as_ref()?;
            let view = wire::rotation_view(rot);
            if tables {
                return Some((serde_json::Value::Null, rotation_sheets(c, &view)));
            }
            let names: std::collections::BTreeMap<String, String> = c
                .people
                .values()
                .map(|p| (p.id.clone(), p.name.clone()))
                .collect();
            Some((
                serde_json::json!({ "rotation": view, "names": names }),
                Vec::new(),
            ))
        })
        .await
        .ok_or_else(ApiError::shutting_down)?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no rotation was planned"))?;
    respond(out, json, || Export {
        file: format!("{id}-rotation"),
        sheets,
    })
    .await
}

/// The rotation as tables, to print or send round: each group member's path (the room of
/// each round), each expert's groups, and the questions asked in the experts' rooms.
fn rotation_sheets(c: &Convention, view: &convene_protocol::RotationView) -> Vec<Sheet> {
    let plan = &view.plan;
    let name = |p: &str| c.people.get(p).map(|p| p.name.clone()).unwrap_or_default();
    let room = |r: &str| -> Cell {
        if r == d::PLENARY {
            Cell::Word("plenary", "Plénière", "Plenary")
        } else {
            c.room(r)
                .map_or_else(|| r.into(), |room| (&room.name).into())
        }
    };
    let rounds: Vec<Col> = (1..=plan.schedule.len())
        .map(|n| {
            col(
                format!("round_{n}"),
                format!("Tour {n}"),
                format!("Round {n}"),
            )
        })
        .collect();
    let with_rounds = |cols: Vec<Col>| cols.into_iter().chain(rounds.iter().cloned()).collect();

    let mut paths = Sheet::new(
        "Parcours",
        with_rounds(vec![
            col("participant", "Identifiant", "Id"),
            col("name", "Nom", "Name"),
            col("group", "Groupe", "Group"),
        ]),
    );
    for (g, members) in plan.groups.iter().enumerate() {
        for p in members {
            let mut r = row![p, name(p), g + 1];
            r.extend(
                plan.schedule
                    .iter()
                    .map(|round| match round.get(g).copied().flatten() {
                        Some(e) => room(&plan.rooms[e as usize]),
                        None => room(&plan.rest_room),
                    }),
            );
            paths.push(r);
        }
    }

    let mut experts = Sheet::new(
        "Expert·es",
        with_rounds(vec![
            col("participant", "Identifiant", "Id"),
            col("name", "Nom", "Name"),
            col("room", "Salle", "Room"),
            col("absent", "Absent·e", "Absent"),
        ]),
    );
    for (e, p) in plan.experts.iter().enumerate() {
        let mut r = row![
            p,
            name(p),
            room(&plan.rooms[e]),
            Cell::Flag(view.absent.contains(p), ["yes", "no"]),
        ];
        // The group this expert receives in each round (none: a pause).
        r.extend(plan.schedule.iter().map(|round| {
            Cell::from(
                round
                    .iter()
                    .position(|x| *x == Some(e as u32))
                    .map(|g| g + 1),
            )
        }));
        experts.push(r);
    }

    let expert_of = |r: &str| {
        plan.rooms
            .iter()
            .position(|x| x == r)
            .map(|e| name(&plan.experts[e]))
    };
    let mut questions = Sheet::new(
        "Questions",
        vec![
            col("id", "N°", "No."),
            col("asked_at", "Posée à", "Asked at"),
            col("room", "Salle", "Room"),
            col("expert", "Expert·e", "Expert"),
            col("author", "Auteur·rice", "Author"),
            col("question", "Question", "Question"),
            col("answer", "Réponse", "Answer"),
        ],
    );
    for q in &view.questions {
        questions.push(row![
            q.id,
            Cell::Millis(q.at as i64),
            room(&q.room),
            expert_of(&q.room),
            name(&q.from),
            &q.text,
            q.answer.clone(),
        ]);
    }
    vec![paths, experts, questions]
}

/// `GET /api/conventions/{id}/chat`: every chat line of the log, in order, with its room and
/// author; a line a facilitator hid is kept, marked (by whom, when, why), never dropped.
pub async fn chat(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    let out = q.out.output()?;
    let handle = organizer_or(&app, &headers, &id, q.token.clone(), READERS).await?;
    let names: std::collections::BTreeMap<String, String> = handle
        .query(|c, _| {
            c.people
                .values()
                .map(|p| (p.id.clone(), p.name.clone()))
                .collect()
        })
        .await
        .ok_or_else(ApiError::shutting_down)?;
    let records = app
        .hub
        .store()
        .records_after(&id, 0)
        .await
        .map_err(|e| ApiError::new(ErrorCode::Unavailable, e.to_string()))?;
    let lines = chat_lines(&records, &names);
    let tables = || {
        let mut s = Sheet::new(
            "chat",
            vec![
                col("seq", "N° dans le journal", "Log seq"),
                col("at", "Heure", "Time"),
                col("room", "Salle", "Room"),
                col("from", "Identifiant", "Participant id"),
                col("name", "Nom", "Name"),
                col("text", "Message", "Message"),
                col("hidden", "Masqué", "Hidden"),
                col("hidden_by", "Masqué par", "Hidden by"),
                col("hidden_at", "Masqué à", "Hidden at"),
                col("hidden_reason", "Motif", "Reason"),
            ],
        );
        for l in &lines {
            let h = l.hidden.as_ref();
            s.push(row![
                l.seq,
                Cell::Millis(l.at as i64),
                &l.room,
                &l.from,
                &l.name,
                &l.text,
                Cell::Flag(h.is_some(), ["yes", "no"]),
                h.map(|h| &h.by),
                Cell::millis(h.map(|h| h.at)),
                h.map(|h| &h.reason),
            ]);
        }
        Export::one(format!("{id}-chat"), s)
    };
    respond(out, &lines, tables).await
}

/// The chat lines of a log, each marked by the `chat_hidden` that hid it, if any and not
/// undone by a `chat_unhidden` since (the moderation log keeps both).
fn chat_lines(
    records: &[convene_protocol::Record],
    names: &std::collections::BTreeMap<String, String>,
) -> Vec<convene_protocol::ChatExportLine> {
    use convene_protocol::{Actor, ChatExportLine, Event, HiddenMark};
    let mut lines: Vec<ChatExportLine> = Vec::new();
    for r in records {
        let Actor::Participant(from) = &r.by else {
            continue;
        };
        match &r.event {
            Event::ChatPosted { room, text } => lines.push(ChatExportLine {
                seq: r.seq,
                at: r.at,
                room: room.clone(),
                from: from.clone(),
                name: names.get(from).cloned().unwrap_or_default(),
                text: text.clone(),
                hidden: None,
            }),
            Event::ChatHidden {
                message, reason, ..
            } => {
                // Lines come in order of seq: found by binary search.
                if let Ok(i) = lines.binary_search_by_key(message, |l| l.seq) {
                    lines[i].hidden = Some(HiddenMark {
                        by: from.clone(),
                        at: r.at,
                        reason: reason.clone().unwrap_or_default(),
                    });
                }
            }
            Event::ChatUnhidden { message, .. } => {
                if let Ok(i) = lines.binary_search_by_key(message, |l| l.seq) {
                    lines[i].hidden = None;
                }
            }
            _ => {}
        }
    }
    lines
}
