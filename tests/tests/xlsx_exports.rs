//! Spreadsheet exports (`?format=xlsx`), read back with an independent reader (calamine): the
//! headers in the reader's language, numbers as numbers, instants as dates in the time zone
//! asked for, a participant's formula-like text kept as text (never a formula), one sheet per
//! poll, and clear errors for a wrong format, language or zone. The CSV of the same exports
//! stays as PROTOCOL.md documents it (csv_exports.rs).

use std::io::Cursor;

use anyhow::{ensure, Context, Result};
use calamine::{open_workbook_from_rs, Data, Range, Reader, Xlsx};
use convene_tests::proto::{Ballot, Command, PollKind, Role};
use convene_tests::{person, poll_spec, tempdir, token_of, Client, Server};

/// Days from the spreadsheets' epoch (1899-12-30) to 1970-01-01.
const EXCEL_UNIX_DAYS: f64 = 25_569.0;

struct Book {
    book: Xlsx<Cursor<Vec<u8>>>,
}

impl Book {
    fn sheet(&mut self, name: &str) -> Result<Range<Data>> {
        self.book
            .worksheet_range(name)
            .with_context(|| format!("no sheet {name:?} in {:?}", self.book.sheet_names()))
    }
    /// The formulas of a sheet: there must be none (no text a participant wrote runs).
    fn formulas(&mut self, name: &str) -> Result<usize> {
        let f = self.book.worksheet_formula(name)?;
        Ok(f.used_cells().filter(|(_, _, s)| !s.is_empty()).count())
    }
}

fn text(r: &Range<Data>, row: u32, col: u32) -> String {
    match r.get_value((row, col)) {
        Some(Data::String(s)) => s.clone(),
        other => format!("<not text: {other:?}>"),
    }
}

fn number(r: &Range<Data>, row: u32, col: u32) -> Result<f64> {
    match r.get_value((row, col)) {
        Some(Data::Float(x)) => Ok(*x),
        Some(Data::Int(n)) => Ok(*n as f64),
        Some(Data::DateTime(d)) => Ok(d.as_f64()),
        other => anyhow::bail!("({row}, {col}) is not a number: {other:?}"),
    }
}

/// The header row: the row whose first cell is `first`.
fn header_row(r: &Range<Data>, first: &str) -> Result<(u32, Vec<String>)> {
    let (h, w) = r.get_size();
    for row in 0..h as u32 {
        if text(r, row, 0) == first {
            return Ok((row, (0..w as u32).map(|c| text(r, row, c)).collect()));
        }
    }
    anyhow::bail!("no header row starting with {first:?}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spreadsheet_exports_speak_french_keep_numbers_dates_and_text_safe() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let voters = ["=Dupont Marie", "Martin Léa", "Leroy Anne"];
    let mut roster = vec![person("Claire Animatrice", &[Role::Facilitator], &[])];
    roster.extend(voters.iter().map(|n| person(n, &[Role::Citizen], &[])));
    let invites = server.http().convention("tableur", &roster).await?;
    let url = server.ws_url();
    let mut fac = Client::join(&url, "fac", &token_of(&invites, "Claire Animatrice")).await?;
    let mut citizens = Vec::new();
    for n in voters {
        citizens.push(Client::join(&url, n, &token_of(&invites, n)).await?);
    }
    let question = "Quelle priorité ?\n=HYPERLINK(\"http://evil.example/\")";
    let options = vec!["=1+1".to_string(), "Transports de nuit".to_string()];
    let (poll, _) = fac
        .draft_and_open(poll_spec(
            question,
            PollKind::Single {
                options: options.clone(),
            },
            false,
            false,
        ))
        .await?;
    for (i, c) in citizens.iter_mut().enumerate() {
        c.ok(Command::Vote {
            poll: poll.clone(),
            ballot: Ballot::Single {
                choice: u32::from(i > 0),
            },
        })
        .await?;
    }
    fac.ok(Command::ClosePoll { poll: poll.clone() }).await?;
    let said = citizens[0]
        .ok(Command::SendChat {
            room: None,
            text: "@SUM(1+1) c'est l'heure".into(),
        })
        .await?;
    fac.wait_seq(said).await?;

    let org = server.http();
    let base = "/api/conventions/tableur";
    let fetch = |path: String| {
        let req = org.get(&path);
        async move {
            let r = req.send().await?;
            let status = r.status();
            let header = |h: &str| {
                r.headers()
                    .get(h)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string()
            };
            let (ctype, disposition) = (header("content-type"), header("content-disposition"));
            let body = r.bytes().await?.to_vec();
            anyhow::Ok((status.as_u16(), ctype, disposition, body))
        }
    };
    let book = |path: String| {
        let f = fetch(path.clone());
        async move {
            let (status, ctype, disposition, body) = f.await?;
            ensure!(
                status == 200,
                "{path}: {status} {}",
                String::from_utf8_lossy(&body)
            );
            ensure!(
                ctype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "{path}: content-type {ctype}"
            );
            ensure!(disposition.ends_with(".xlsx\""), "{path}: {disposition}");
            let book: Xlsx<_> = open_workbook_from_rs(Cursor::new(body))
                .with_context(|| format!("{path}: not a spreadsheet"))?;
            anyhow::Ok(Book { book })
        }
    };

    // Every poll, in French (the default): a sheet named after the poll, its question above
    // the table, French headers, counts as numbers, the formula-like option as text.
    let mut all = book(format!("{base}/polls?format=xlsx")).await?;
    let sheet = all.sheet(&poll)?;
    ensure!(
        text(&sheet, 0, 0) == question,
        "caption: {:?}",
        text(&sheet, 0, 0)
    );
    let (h, headers) = header_row(&sheet, "Option")?;
    ensure!(
        headers == ["Option", "Voix", "Pourcentage"],
        "French headers: {headers:?}"
    );
    ensure!(
        text(&sheet, h + 1, 0) == "=1+1",
        "the option is kept as text, whole"
    );
    ensure!(number(&sheet, h + 1, 1)? == 1.0, "one vote for option 1");
    ensure!(number(&sheet, h + 2, 1)? == 2.0, "two votes for option 2");
    ensure!((number(&sheet, h + 2, 2)? - 66.7).abs() < 1e-9, "66.7 %");
    ensure!(all.formulas(&poll)? == 0, "no formula in the sheet");

    // In English, on request.
    let mut en = book(format!("{base}/polls/{poll}/results?format=xlsx&lang=en")).await?;
    let sheet = en.sheet(&poll)?;
    let (_, headers) = header_row(&sheet, "Option")?;
    ensure!(
        headers == ["Option", "Votes", "Percent"],
        "English headers: {headers:?}"
    );

    // The chat's times as dates in the zone asked for: Kolkata is UTC+5:30 all year, so the
    // expected value does not depend on summer time.
    let lines: serde_json::Value = org
        .get(&format!("{base}/chat"))
        .send()
        .await?
        .json()
        .await?;
    let at = lines[0]["at"].as_u64().context("a chat line's time")? as f64;
    let mut chat = book(format!("{base}/chat?format=xlsx&tz=Asia/Kolkata")).await?;
    let sheet = chat.sheet("chat")?;
    let (h, headers) = header_row(&sheet, "N° dans le journal")?;
    ensure!(
        headers[1] == "Heure (Asia/Kolkata)",
        "the time column names its zone: {headers:?}"
    );
    let want = (at + 5.5 * 3_600_000.0) / 86_400_000.0 + EXCEL_UNIX_DAYS;
    let got = number(&sheet, h + 1, 1)?;
    ensure!(
        (got - want).abs() < 1.0 / 86_400.0,
        "a chat line at {at} ms: {got} in the sheet, {want} expected"
    );
    ensure!(
        matches!(sheet.get_value((h + 1, 1)), Some(Data::DateTime(_))),
        "a date, formatted as one: {:?}",
        sheet.get_value((h + 1, 1))
    );
    ensure!(text(&sheet, h + 1, 5) == "@SUM(1+1) c'est l'heure");
    ensure!(
        matches!(sheet.get_value((h + 1, 6)), Some(Data::Bool(false))),
        "« masqué » is a yes/no: {:?}",
        sheet.get_value((h + 1, 6))
    );
    ensure!(chat.formulas("chat")? == 0, "no formula in the chat");

    // Attendance: days as dates, minutes as numbers.
    let mut att = book(format!("{base}/attendance?format=xlsx&tz=Europe/Paris")).await?;
    let sheet = att.sheet("attendance")?;
    let (h, headers) = header_row(&sheet, "Identifiant")?;
    ensure!(headers[3] == "Jour", "{headers:?}");
    ensure!(
        matches!(sheet.get_value((h + 1, 3)), Some(Data::DateTime(_))),
        "a day is a date: {:?}",
        sheet.get_value((h + 1, 3))
    );
    number(&sheet, h + 1, 4).context("minutes")?;

    // The same export as CSV is unchanged: milliseconds, English keys.
    let (status, ctype, _, csv) = fetch(format!("{base}/chat?format=csv")).await?;
    ensure!(status == 200 && ctype.starts_with("text/csv"));
    let csv = String::from_utf8(csv)?;
    ensure!(
        csv.starts_with("seq,at,room,from,name,text,hidden,"),
        "{csv}"
    );
    ensure!(csv.contains(&format!(",{},", at as u64)), "{csv}");

    // Wrong asks get a typed 400 that says what is possible.
    for (query, says) in [
        ("format=xls", "json, csv or xlsx"),
        ("format=xlsx&lang=de", "fr or en"),
        ("format=xlsx&tz=Mars/Olympus", "IANA"),
        (&format!("format=xlsx&tz={}", "E".repeat(640)), "64"),
    ] {
        let (status, _, _, body) = fetch(format!("{base}/polls?{query}")).await?;
        let body: serde_json::Value = serde_json::from_slice(&body)?;
        ensure!(
            status == 400 && body["code"] == "invalid",
            "{query}: {status} {body}"
        );
        ensure!(
            body["message"].as_str().unwrap_or_default().contains(says),
            "{query}: {body}"
        );
    }
    Ok(())
}
