//! Guarantors hold the operator to the record: an audit trail rewritten from some entry on
//! (every hash after it recomputed) still verifies link by link, so `convene audit verify`
//! alone cannot see it; with the head a guarantor noted down (`--head N:HASH`, the number and
//! hash of the last entry they saw), the rewritten export fails with a clear message, and so
//! does an export cut short before that entry. The genuine export passes. The head reaches
//! guarantors in their snapshot and with every audit entry.

use anyhow::{ensure, Context, Result};
use convene_tests::proto::{AuditEntry, Command, Role, ServerMessage};
use convene_tests::{convene_bin, person, tempdir, token_of, Client, Server, ORGANIZER_TOKEN};

/// `convene audit verify FILE [--head HEAD]`: success, and what it printed.
async fn verify(file: &std::path::Path, head: Option<&str>) -> Result<(bool, String)> {
    let mut cmd = tokio::process::Command::new(convene_bin());
    cmd.arg("audit").arg("verify").arg(file);
    if let Some(h) = head {
        cmd.arg("--head").arg(h);
    }
    let out = cmd.output().await?;
    Ok((
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    ))
}

fn write(dir: &std::path::Path, name: &str, entries: &[AuditEntry]) -> Result<std::path::PathBuf> {
    let path = dir.join(name);
    let text: String = entries
        .iter()
        .map(|e| serde_json::to_string(e).map(|l| l + "\n"))
        .collect::<Result<_, _>>()?;
    std::fs::write(&path, text)?;
    Ok(path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trail_rewritten_from_an_entry_on_fails_against_the_noted_head() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let invites = server
        .http()
        .convention(
            "garants",
            &[
                person("Claire Animatrice", &[Role::Facilitator], &[]),
                person("Hélène Garante", &[Role::Guarantor], &[]),
                person("Yannick Citoyen", &[Role::Citizen], &[]),
            ],
        )
        .await?;
    let mut fac = Client::join(
        &server.ws_url(),
        "fac",
        &token_of(&invites, "Claire Animatrice"),
    )
    .await?;
    for text in ["Ouverture de la séance", "Pause de dix minutes", "Reprise"] {
        fac.ok(Command::Broadcast { text: text.into() }).await?;
    }
    // The guarantor's live view of the trail: its last entry is the head they note down.
    let mut gar = Client::join(
        &server.ws_url(),
        "gar",
        &token_of(&invites, "Hélène Garante"),
    )
    .await?;
    // The head reaches guarantors (and facilitators) in their snapshot: the export's last
    // entry at that moment. Citizens' snapshots carry none.
    let export = |server: &Server| {
        let req = server
            .http()
            .get("/api/conventions/garants/audit")
            .bearer_auth(ORGANIZER_TOKEN);
        async move {
            let text = req.send().await?.text().await?;
            let entries: Vec<AuditEntry> = text
                .lines()
                .map(serde_json::from_str)
                .collect::<Result<_, _>>()?;
            anyhow::Ok(entries)
        }
    };
    let before = export(&server).await?;
    let in_snapshot = gar
        .snapshot
        .as_ref()
        .and_then(|s| s.audit_head.clone())
        .context("no audit_head in the guarantor's welcome")?;
    let last_before = before.last().context("an empty trail")?;
    ensure!(
        (in_snapshot.n, in_snapshot.hash.as_str()) == (last_before.n, last_before.hash.as_str()),
        "the welcome's head {in_snapshot:?} is not the export's last entry {last_before:?}"
    );
    let cit = Client::join(
        &server.ws_url(),
        "cit",
        &token_of(&invites, "Yannick Citoyen"),
    )
    .await?;
    ensure!(
        cit.snapshot
            .as_ref()
            .is_some_and(|s| s.audit_head.is_none()),
        "a citizen's snapshot carries the audit head"
    );
    fac.ok(Command::Broadcast {
        text: "Le vote commence".into(),
    })
    .await?;
    let ServerMessage::Audit { entry: last } = gar
        .wait_for(|m| matches!(m, ServerMessage::Audit { entry } if entry.event["text"] == "Le vote commence"))
        .await?
    else {
        unreachable!()
    };
    let head = format!("{}:{}", last.n, last.hash);

    let r = server
        .http()
        .get("/api/conventions/garants/audit")
        .bearer_auth(ORGANIZER_TOKEN)
        .send()
        .await?;
    ensure!(r.status() == 200);
    let entries: Vec<AuditEntry> = r
        .text()
        .await?
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()
        .context("the export")?;
    ensure!(
        entries.last() == Some(&last),
        "the live head is the export's last entry"
    );

    // The genuine export passes, with or without the head (or a 16-digit prefix of its hash).
    let genuine = write(dir.path(), "genuine.jsonl", &entries)?;
    let (ok, out) = verify(&genuine, None).await?;
    ensure!(ok, "genuine: {out}");
    let (ok, out) = verify(&genuine, Some(&head)).await?;
    ensure!(ok, "genuine with the head: {out}");
    ensure!(
        out.contains(&format!("entry {}", last.n)),
        "the success does not name the head's entry: {out}"
    );
    let (ok, out) = verify(&genuine, Some(&format!("{}:{}", last.n, &last.hash[..16]))).await?;
    ensure!(ok, "genuine with a 16-digit prefix of the hash: {out}");

    // Rewritten from entry k on: "Pause de dix minutes" never happened, and every hash after
    // it recomputed. Link by link it verifies.
    let k = entries
        .iter()
        .position(|e| e.event["text"] == "Pause de dix minutes")
        .context("no pause in the trail")?;
    let mut forged = entries.clone();
    forged[k].event["text"] = "Reprise immédiate, sans pause".into();
    for i in k..forged.len() {
        if i > 0 {
            forged[i].prev = forged[i - 1].hash.clone();
        }
        forged[i].hash = convene::audit::hash_of(&forged[i]);
    }
    let forged_file = write(dir.path(), "forged.jsonl", &forged)?;
    let (ok, out) = verify(&forged_file, None).await?;
    ensure!(ok, "the rewritten chain verifies link by link: {out}");
    // Against the head the guarantor noted, it does not.
    let (ok, out) = verify(&forged_file, Some(&head)).await?;
    ensure!(
        !ok,
        "a rewritten trail passed against the noted head: {out}"
    );
    ensure!(
        out.contains(&format!("entry {}", last.n)) && out.contains("rewritten"),
        "the failure does not say which entry and why: {out}"
    );

    // Cut short before the noted entry: verifies alone, fails against the head.
    let cut = write(dir.path(), "cut.jsonl", &entries[..entries.len() - 1])?;
    let (ok, out) = verify(&cut, None).await?;
    ensure!(ok, "a cut trail verifies link by link: {out}");
    let (ok, out) = verify(&cut, Some(&head)).await?;
    ensure!(!ok, "a cut trail passed against the noted head: {out}");
    ensure!(
        out.contains(&format!("entry {}", last.n)) && out.contains("missing"),
        "the failure does not say the entry is missing: {out}"
    );

    // A head that is not N:HASH is refused plainly.
    for bad in ["12", "x:abc", "3:zz", "3:abcd"] {
        let (ok, out) = verify(&genuine, Some(bad)).await?;
        ensure!(!ok, "--head {bad} accepted: {out}");
    }
    Ok(())
}
