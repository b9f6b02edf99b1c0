//! `convene backup`: the data directory copied while the server runs and people write. The copy
//! is private, holds everything acknowledged before the backup began (and nothing out of
//! order), and is served as it is: people come back with their invitation links, the secret
//! poll that was open goes on and counts the ballots cast before the backup, and the audit
//! trail still verifies. A backup never writes over anything, and says what is wrong.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{ensure, Result};
use convene_tests::proto::{Ballot, Command, Event, PollKind, Role, Stance};
use convene_tests::{convene_cli, convene_try, person, poll_spec, tempdir, Client, Server};

/// `convene backup --data DATA --out OUT`: whether it succeeded, and what it printed.
async fn backup(data: &Path, out: &Path) -> Result<(bool, String)> {
    let args = [
        "backup".into(),
        "--data".into(),
        data.as_os_str().to_owned(),
        "--out".into(),
        out.as_os_str().to_owned(),
    ];
    // On a blocking thread: the test's clients keep writing meanwhile.
    tokio::task::spawn_blocking(move || convene_try::<_, std::ffi::OsString>(args)).await?
}

fn chats(records: &[convene_tests::proto::Record]) -> Vec<String> {
    records
        .iter()
        .filter_map(|r| match &r.event {
            Event::ChatPosted { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_people_write_is_served_with_everything_acknowledged_before_it(
) -> Result<()> {
    let dir = tempdir();
    let data = dir.path().join("data");
    let server = Server::start(&data).await?;
    let roster = [
        person("Claire Animatrice", &[Role::Facilitator], &[]),
        person("Amina", &[Role::Citizen], &[]),
        person("Bernard", &[Role::Citizen], &[]),
        person("Chloé", &[Role::Citizen], &[]),
    ];
    let invites = server.http().convention("sauve", &roster).await?;
    let token = |i: usize| invites[i].token.clone();
    let mut fac = Client::join(&server.ws_url(), "fac", &token(0)).await?;
    let mut amina = Client::join(&server.ws_url(), "amina", &token(1)).await?;
    let mut bernard = Client::join(&server.ws_url(), "bernard", &token(2)).await?;
    let mut chloe = Client::join(&server.ws_url(), "chloe", &token(3)).await?;

    // A secret poll is open, with two ballots in its box.
    let spec = poll_spec("D'accord ?", PollKind::Position, true, false);
    let (poll, _) = fac.draft_and_open(spec).await?;
    let vote = |stance| Command::Vote {
        poll: poll.clone(),
        ballot: Ballot::Position { stance },
    };
    amina.ok(vote(Stance::For)).await?;
    bernard.ok(vote(Stance::Against)).await?;

    // Chloé keeps writing, a line every 60 ms, while the backup runs.
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (acked, stop) = (acked.clone(), stop.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let text = format!("ligne {i:04}");
                chloe
                    .ok(Command::SendChat {
                        room: None,
                        text: text.clone(),
                    })
                    .await?;
                acked.lock().unwrap().push(text);
                i += 1;
                // Within the rate limit (20 a second).
                tokio::time::sleep(std::time::Duration::from_millis(60)).await;
            }
            anyhow::Ok(chloe)
        })
    };
    while acked.lock().unwrap().len() < 20 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let before = acked.lock().unwrap().clone();
    let out = dir.path().join("copy");
    let (ok, said) = backup(&data, &out).await?;
    ensure!(ok, "backup failed: {said}");
    ensure!(
        said.contains("convene.sqlite3") && said.contains("(snapshot)"),
        "the backup says what it copied: {said}"
    );
    stop.store(true, Ordering::Relaxed);
    let mut chloe = writer.await??;
    let all = acked.lock().unwrap().clone();

    // Private, like the data directory; the secrets are the same bytes; no live file copied.
    use std::os::unix::fs::PermissionsExt;
    ensure!(std::fs::metadata(&out)?.permissions().mode() & 0o777 == 0o700);
    for entry in std::fs::read_dir(&out)? {
        let path = entry?.path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        ensure!(
            std::fs::metadata(&path)?.permissions().mode() & 0o777 == 0o600,
            "{name} is not private"
        );
        ensure!(
            !name.ends_with("-wal") && !name.ends_with("-shm"),
            "{name} copied"
        );
        if !name.ends_with(".sqlite3") {
            ensure!(
                std::fs::read(&path)? == std::fs::read(data.join(&name))?,
                "{name} differs"
            );
        }
    }
    ensure!(
        out.join("convene.sqlite3").exists(),
        "the log is in the copy"
    );
    ensure!(
        std::fs::read_dir(dir.path())?.all(|e| !e
            .map(|e| e.file_name().to_string_lossy().contains(".partial"))
            .unwrap_or(false)),
        "nothing left half-written beside it"
    );

    // The server that was copied is unharmed.
    chloe
        .ok(Command::SendChat {
            room: None,
            text: "après la sauvegarde".into(),
        })
        .await?;

    // Served from the copy: the log is whole, in order, and holds every line acknowledged
    // before the backup began (and lines after it, at most those acknowledged by its end).
    let restored = Server::start(&out).await?;
    let log = restored.log("sauve")?;
    for (i, r) in log.iter().enumerate() {
        ensure!(r.seq == i as u64 + 1, "the log has a gap at {}", r.seq);
    }
    let copied = chats(&log);
    ensure!(
        copied.len() >= before.len() && copied.len() <= all.len(),
        "{} lines in the copy: {} acknowledged before the backup, {} by its end",
        copied.len(),
        before.len(),
        all.len()
    );
    ensure!(
        copied[..] == all[..copied.len()],
        "the copy's lines are the first acknowledged, in order"
    );

    // People come back with their links; the open poll goes on and counts every ballot.
    let mut fac = Client::join(&restored.ws_url(), "fac", &token(0)).await?;
    let mut chloe = Client::join(&restored.ws_url(), "chloe", &token(3)).await?;
    chloe.ok(vote(Stance::Abstain)).await?;
    let seq = fac.ok(Command::ClosePoll { poll: poll.clone() }).await?;
    let Event::PollClosed {
        tally: Some(tally), ..
    } = fac.wait_seq(seq).await?.event
    else {
        anyhow::bail!("no tally for the facilitator")
    };
    ensure!(tally.ballots == 3, "{} ballots counted", tally.ballots);

    // The audit trail, from the copy, still verifies link by link.
    let trail = restored
        .http()
        .get("/api/conventions/sauve/audit")
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    let file = dir.path().join("audit.jsonl");
    std::fs::write(&file, &trail)?;
    convene_cli([
        std::ffi::OsStr::new("audit"),
        "verify".as_ref(),
        file.as_os_str(),
    ])?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_never_writes_over_anything_and_says_what_is_wrong() -> Result<()> {
    let dir = tempdir();
    let data = dir.path().join("data");
    let mut server = Server::start(&data).await?;
    server.terminate().await?;

    // Into a folder that holds something: refused, the folder untouched.
    let full = dir.path().join("full");
    std::fs::create_dir(&full)?;
    std::fs::write(full.join("notes.txt"), "à garder")?;
    let (ok, said) = backup(&data, &full).await?;
    ensure!(!ok, "a backup wrote into a folder that holds something");
    ensure!(said.contains("exists and is not empty"), "{said}");
    ensure!(std::fs::read_dir(&full)?.count() == 1);
    ensure!(std::fs::read_to_string(full.join("notes.txt"))? == "à garder");

    // From a folder that is no data directory, or none at all.
    let (ok, said) = backup(&full, &dir.path().join("a")).await?;
    ensure!(
        !ok && said.contains("is not a data directory of convene"),
        "{said}"
    );
    let (ok, said) = backup(&dir.path().join("absent"), &dir.path().join("b")).await?;
    ensure!(!ok && said.contains("No such file"), "{said}");

    // Into an empty folder, from a stopped server: done.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty)?;
    let (ok, said) = backup(&data, &empty).await?;
    ensure!(ok, "{said}");
    ensure!(empty.join("convene.sqlite3").exists());
    for leftover in ["a", "b"] {
        ensure!(
            !dir.path().join(leftover).exists(),
            "{leftover} was created"
        );
    }
    Ok(())
}
