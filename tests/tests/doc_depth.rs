//! Nesting depth: one writer's document of 10,000 nested elements, or the delete of the top
//! of such a structure, or the export of it, must not take the process down (yrs deletes
//! recursively, and a recursive export walk overflows the stack: the whole process aborts,
//! every convention with it, and again at the first export after a restart). The server
//! refuses an update that would nest deeper than 64 levels with close 4422 before storing or
//! applying it, accepts what stays within the limit (its delete too), and serves a document
//! that was stored too deep before the limit existed: read-only, exported, never crashing.
//!
//! The real `convene` process, real yrs clients (`convene_tests::ydoc`), the real SQLite file.

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use convene_tests::proto::Command;
use convene_tests::ydoc::{
    delete_update, doc_from, nested_update, paragraphs_of, DocWorld, W_CIT1, W_CIT2, W_CONV, W_DOC,
    W_GAR, W_RAP1, W_RAP2,
};
use yrs::{ReadTxn, Transact};

/// The document endpoint's close code for an update nesting deeper than the limit.
const TOO_DEEP: u16 = 4422;
/// Levels below the root an item may sit at: a top-level paragraph is at level 1, the text
/// inside it at level 2, that text's characters at level 3. So 62 nested elements with a
/// text in the last is the deepest structure accepted (its characters at level 64).
const DEEPEST_ELEMENTS: usize = 62;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deep_document_is_refused_and_the_server_stays_up() -> Result<()> {
    let mut w = DocWorld::start().await?;
    let writer = w.yc(W_RAP1).await?;
    let reader = w.yc(W_CIT1).await?;
    writer.push_paragraph("Avant l'attaque");
    reader.wait_paragraph("Avant l'attaque").await?;
    w.other_convention_works("before").await?;

    // 1. 10,000 nested elements in one update (about 160 KB): refused with 4422.
    let attacker = w.yc(W_RAP2).await?;
    let attack_client = 0x5eed_u64;
    let deep = nested_update(attack_client, 10_000, "profond");
    ensure!(
        deep.len() > 100_000,
        "the deep update is {} bytes",
        deep.len()
    );
    attacker.send_update(deep)?;
    let code = attacker.wait_closed().await?;
    ensure!(
        code == Some(TOO_DEEP),
        "the writer of 10,000 nested levels was closed with {code:?} ({:?}), not {TOO_DEEP}",
        attacker.recorded().close_reason
    );
    // The process is up, the document unharmed and still written, the other convention too.
    writer.push_paragraph("Après l'insertion");
    reader.wait_paragraph("Après l'insertion").await?;
    w.other_convention_works("after the deep insert").await?;

    // 2. The short delete of the deep structure's top element: it names content the server
    // never took, so it changes nothing and harms nobody.
    let attacker = w.yc(W_RAP2).await?;
    attacker.send_update(delete_update(attack_client, 0, 1))?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    writer.push_paragraph("Après la suppression");
    reader.wait_paragraph("Après la suppression").await?;
    ensure!(
        attacker.recorded().closed.is_none() || attacker.recorded().closed == Some(Some(TOO_DEEP))
    );

    // 3. At the limit: 62 nested elements and their text are accepted and relayed, and the
    // delete of their top element (yrs recurses through them) works.
    let limit_client = 0x11_u64;
    writer.send_update(nested_update(limit_client, DEEPEST_ELEMENTS, "au fond"))?;
    reader
        .wait_doc("the structure at the limit", |c| {
            c.paragraphs().iter().any(|p| p == "au fond")
        })
        .await?;
    let (md, _) = w.exports().await?;
    ensure!(
        md.contains("au fond"),
        "the export lost the text at the limit:\n{md}"
    );
    writer.send_update(delete_update(limit_client, 0, 1))?;
    reader
        .wait_doc("the structure at the limit deleted", |c| {
            !c.paragraphs().iter().any(|p| p == "au fond")
        })
        .await?;
    // One level more is refused.
    writer.send_update(nested_update(0x12, DEEPEST_ELEMENTS + 1, "trop bas"))?;
    let code = writer.wait_closed().await?;
    ensure!(
        code == Some(TOO_DEEP),
        "one level past the limit: closed with {code:?}"
    );

    // 4. Exports, a restart, exports again: the process stays up, nothing deep was kept.
    let (md, html) = w.exports().await?;
    for text in [
        "Avant l'attaque",
        "Après l'insertion",
        "Après la suppression",
    ] {
        ensure!(
            md.contains(text) && html.contains(text),
            "{text:?} missing:\n{md}"
        );
    }
    ensure!(
        !md.contains("profond") && !md.contains("trop bas"),
        "refused text exported:\n{md}"
    );
    w.server.kill9_and_restart().await?;
    let (md, _) = w.exports().await?;
    ensure!(
        md.contains("Après la suppression"),
        "after the restart:\n{md}"
    );
    let late = w.yc(W_CIT2).await?;
    late.wait_paragraph("Après la suppression").await?;
    ensure!(
        !late
            .paragraphs()
            .iter()
            .any(|p| p.contains("profond") || p == "au fond"),
        "{:?}",
        late.paragraphs()
    );
    w.other_convention_works("after the restart").await?;
    Ok(())
}

/// A document stored before the limit existed, 10,000 levels deep, with the delete of its top
/// stored after it, and a named version as deep: the server loads it, serves it read-only
/// with an auth message saying why, exports it (depth-limited) and its versions and diffs,
/// and stays up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_stored_too_deep_loads_read_only_and_exports() -> Result<()> {
    let mut w = DocWorld::start().await?;
    let writer = w.yc(W_RAP1).await?;
    let reader = w.yc(W_CIT1).await?;
    writer.push_paragraph("Écrit avant");
    reader.wait_paragraph("Écrit avant").await?;
    w.fac
        .ok(Command::NameVersion {
            document: W_DOC.into(),
            label: "Premier jet".into(),
        })
        .await?;
    drop((writer, reader));
    w.server.terminate().await?;

    // As an older server would have stored it: the deep update, then the short delete of its
    // top element, as ordinary stored updates; and a named version holding the deep tree.
    let deep_client = 0xdee9_u64;
    let deep = nested_update(deep_client, 10_000, "profond");
    {
        let db = rusqlite::Connection::open(w.server.data.join("convene.sqlite3"))
            .context("open the database")?;
        let n: i64 = db.query_row(
            "SELECT COALESCE(MAX(n), 0) FROM doc_updates WHERE convention = ?1 AND doc = ?2",
            (W_CONV, W_DOC),
            |r| r.get(0),
        )?;
        let upto: i64 = db
            .query_row(
                "SELECT COALESCE(MAX(upto), 0) FROM doc_snapshots WHERE convention = ?1 AND doc = ?2",
                (W_CONV, W_DOC),
                |r| r.get(0),
            )
            .unwrap_or(0);
        let next = n.max(upto) + 1;
        db.execute(
            "INSERT INTO doc_updates (convention, doc, n, data) VALUES (?1, ?2, ?3, ?4)",
            (W_CONV, W_DOC, next, &deep),
        )?;
        db.execute(
            "INSERT INTO doc_updates (convention, doc, n, data) VALUES (?1, ?2, ?3, ?4)",
            (W_CONV, W_DOC, next + 1, delete_update(deep_client, 0, 1)),
        )?;
        let v1: Vec<u8> = db.query_row(
            "SELECT data FROM doc_versions WHERE convention = ?1 AND doc = ?2 AND version = 1",
            (W_CONV, W_DOC),
            |r| r.get(0),
        )?;
        let v2 = yrs::merge_updates_v1([v1.as_slice(), deep.as_slice()])?;
        db.execute(
            "INSERT INTO doc_versions (convention, doc, version, label, at, data) \
             VALUES (?1, ?2, 2, 'Profonde', 1, ?3)",
            (W_CONV, W_DOC, &v2),
        )?;
    }
    w.server.restart().await?;

    // Exports of the current content, of the deep version, and the diffs: all answered.
    let (md, html) = w.exports().await?;
    ensure!(
        md.contains("Écrit avant") && html.contains("Écrit avant"),
        "{md}"
    );
    let (status, v2) = w.get("export?format=md&version=2").await?;
    ensure!(
        status == 200 && v2.contains("Écrit avant"),
        "version 2: {status} {v2}"
    );
    let (status, v2html) = w.get("export?format=html&version=2").await?;
    ensure!(status == 200, "version 2 as HTML: {status} {v2html}");
    let (status, diff) = w.get("diff?from=1&to=2").await?;
    ensure!(status == 200, "diff 1..2: {status} {diff}");
    let (status, diff) = w.get("diff?from=2").await?;
    ensure!(status == 200, "diff 2..current: {status} {diff}");

    // Served read-only, saying why; a writer's change is neither kept nor relayed.
    let reader = w.yc(W_CIT1).await?;
    let writer = w.yc(W_RAP1).await?;
    let why = writer
        .wait_rec("an auth message", |r| !r.auth.is_empty())
        .await?
        .auth;
    ensure!(
        why.iter()
            .flatten()
            .any(|r| r.contains("read-only") && r.contains("deep")),
        "the writer was told {why:?}"
    );
    ensure!(paragraphs_of(&reader.doc).contains(&"Écrit avant".to_string()));
    writer.push_paragraph("Refusé");
    tokio::time::sleep(Duration::from_millis(500)).await;
    ensure!(
        !reader.paragraphs().contains(&"Refusé".to_string()),
        "a change to a document stored too deep was relayed"
    );
    let gar = w.yc(W_GAR).await?;
    let state = gar.recorded();
    let full = state
        .updates
        .first()
        .context("no sync step 2 for the guarantor")?;
    let doc = doc_from(full)?;
    ensure!(
        doc.transact().state_vector().len() >= 2,
        "the deep content was not served"
    );
    w.other_convention_works("with a deep document loaded")
        .await?;

    // And after another restart (a snapshot may have been stored meanwhile).
    drop((reader, writer, gar));
    w.server.kill9_and_restart().await?;
    let (md, _) = w.exports().await?;
    ensure!(md.contains("Écrit avant"), "{md}");
    let again = w.yc(W_CIT2).await?;
    again.wait_paragraph("Écrit avant").await?;
    w.other_convention_works("after the second restart").await?;
    Ok(())
}
