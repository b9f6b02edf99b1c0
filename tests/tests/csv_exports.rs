//! CSV exports against spreadsheet formula injection (OWASP "CSV injection"), end to end: a
//! facilitator writes polls whose questions, options and answers, and participants whose
//! names, start like formulas (`=`, `+`, `-`, `@`, tab, CR), some with newlines inside; every
//! CSV the server writes (all polls, one poll's results, a named poll's ballots) must give
//! no cell that a spreadsheet would run, and must lose nothing of the text.

use anyhow::{ensure, Context, Result};
use convene_tests::proto::{Ballot, Command, PollKind, Role};
use convene_tests::{person, poll_spec, tempdir, token_of, Client, Server};

/// Texts a spreadsheet would take for formulas (names and options are trimmed by the server,
/// so a leading tab or CR only survives in free-text answers).
const HOSTILE: [&str; 5] = [
    "=HYPERLINK(\"http://evil.example/\",\"Cliquez ici\")",
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "=1+1",
];

/// Whether a spreadsheet would read this cell as a formula: it starts with one of the
/// characters that open one, and is not simply a number (`-2` is a number, not a formula).
fn runs(cell: &str) -> bool {
    let plain_number = {
        let digits = cell.strip_prefix('-').unwrap_or(cell);
        !digits.is_empty()
            && digits.split('.').count() <= 2
            && digits.split('.').all(|p| !p.is_empty())
            && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
    };
    cell.starts_with(['=', '+', '-', '@', '\t', '\r']) && !plain_number
}

/// Every cell of a CSV text (rows of any length).
fn cells(text: &str) -> Result<Vec<String>> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut out = Vec::new();
    for rec in r.records() {
        out.extend(rec?.iter().map(str::to_string));
    }
    Ok(out)
}

/// No cell runs, and each `expected` text is in some cell, whole (neutralized with a leading
/// quote, as OWASP advises, when it would run).
fn check(label: &str, text: &str, expected: &[&str]) -> Result<()> {
    let cells = cells(text).with_context(|| format!("{label}: not CSV:\n{text}"))?;
    let running: Vec<&String> = cells.iter().filter(|c| runs(c)).collect();
    ensure!(
        running.is_empty(),
        "{label}: cells a spreadsheet would run: {running:?}\n{text}"
    );
    for want in expected {
        let found = cells.iter().any(|c| {
            c == want || c.strip_prefix('\'') == Some(want) || c.contains(&format!("'{want}"))
        });
        ensure!(found, "{label}: {want:?} is not in any cell:\n{text}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_exports_neutralize_formulas_and_lose_nothing() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    // Voters whose names start like formulas.
    let voters = ["=Dupont Marie", "+33 Martin", "-Leroy Anne", "@Moreau Paul"];
    let mut roster = vec![person("Claire Animatrice", &[Role::Facilitator], &[])];
    roster.extend(voters.iter().map(|n| person(n, &[Role::Citizen], &[])));
    let invites = server.http().convention("formules", &roster).await?;
    let mut fac = Client::join(
        &server.ws_url(),
        "fac",
        &token_of(&invites, "Claire Animatrice"),
    )
    .await?;
    let mut citizens = Vec::new();
    for n in voters {
        citizens.push(Client::join(&server.ws_url(), n, &token_of(&invites, n)).await?);
    }

    let options: Vec<String> = HOSTILE[..4].iter().map(|s| s.to_string()).collect();
    // A question with a newline and a formula after it: it must stay inside one cell.
    let single_q = "Quelle priorité ?\n=HYPERLINK(\"http://evil.example/\")";
    let ranking_q = "=Classez ces propositions";
    let text_q = "-Votre avis en un mot";
    let scale_q = "+Sur une échelle de -2 à 2";
    let (single, _) = fac
        .draft_and_open(poll_spec(
            single_q,
            PollKind::Single {
                options: options.clone(),
            },
            false,
            false,
        ))
        .await?;
    let (ranking, _) = fac
        .draft_and_open(poll_spec(
            ranking_q,
            PollKind::Ranking {
                options: options.clone(),
            },
            false,
            false,
        ))
        .await?;
    let (text, _) = fac
        .draft_and_open(poll_spec(
            text_q,
            PollKind::Text { max_chars: 200 },
            false,
            false,
        ))
        .await?;
    let (scale, _) = fac
        .draft_and_open(poll_spec(
            scale_q,
            PollKind::Scale {
                min: -2,
                max: 2,
                min_label: "=non".into(),
                max_label: "@oui".into(),
            },
            false,
            false,
        ))
        .await?;
    let answers = ["=2+2", "\t=3+3", "\r=4+4", "@A1"];
    for (i, c) in citizens.iter_mut().enumerate() {
        let n = options.len() as u32;
        c.ok(Command::Vote {
            poll: single.clone(),
            ballot: Ballot::Single { choice: i as u32 },
        })
        .await?;
        c.ok(Command::Vote {
            poll: ranking.clone(),
            ballot: Ballot::Ranking {
                order: (0..n).map(|k| (k + i as u32) % n).collect(),
            },
        })
        .await?;
        c.ok(Command::Vote {
            poll: text.clone(),
            ballot: Ballot::Text {
                text: answers[i].into(),
            },
        })
        .await?;
        c.ok(Command::Vote {
            poll: scale.clone(),
            ballot: Ballot::Scale {
                value: i as i32 - 2,
            },
        })
        .await?;
    }
    for p in [&single, &ranking, &text, &scale] {
        fac.ok(Command::ClosePoll { poll: p.clone() }).await?;
    }

    let org = server.http();
    let get = |path: String| {
        let req = org.get(&path);
        async move {
            let r = req.send().await?;
            let status = r.status();
            let ctype = r
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let body = r.text().await?;
            ensure!(status == 200, "{path}: {status} {body}");
            ensure!(
                ctype.starts_with("text/csv"),
                "{path}: content-type {ctype}"
            );
            anyhow::Ok(body)
        }
    };
    let base = "/api/conventions/formules";
    let hostile_options: Vec<&str> = HOSTILE[..4].to_vec();
    let answers_trimmed: Vec<&str> = answers.iter().map(|a| a.trim()).collect();

    // Every poll in one file: the questions (with their newline) and every label.
    let all = get(format!("{base}/polls?format=csv")).await?;
    let mut expected = vec![single_q, ranking_q, text_q, scale_q];
    expected.extend(&hostile_options);
    check("all polls", &all, &expected)?;

    // Each poll's results.
    let results = |p: &str| get(format!("{base}/polls/{p}/results?format=csv"));
    check("single results", &results(&single).await?, &hostile_options)?;
    check(
        "ranking results",
        &results(&ranking).await?,
        &hostile_options,
    )?;
    let text_results = results(&text).await?;
    check("text results", &text_results, &answers_trimmed)?;
    check("scale results", &results(&scale).await?, &["-2", "-1"])?;

    // Each named poll's ballots, with the voters' names.
    let ballots = |p: &str| get(format!("{base}/polls/{p}/ballots?format=csv"));
    let mut with_names: Vec<&str> = voters.to_vec();
    with_names.extend(&hostile_options);
    check("single ballots", &ballots(&single).await?, &with_names)?;
    check("ranking ballots", &ballots(&ranking).await?, &voters)?;
    let mut text_expected: Vec<&str> = voters.to_vec();
    text_expected.extend(&answers_trimmed);
    check("text ballots", &ballots(&text).await?, &text_expected)?;
    check("scale ballots", &ballots(&scale).await?, &["-2", "-1"])?;

    // The server is fine.
    let r = reqwest::get(server.url("/healthz")).await?;
    ensure!(r.status() == 200, "healthz: {}", r.status());
    Ok(())
}
