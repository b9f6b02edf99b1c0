//! A document's size budget judges the document, not the bytes sent to it. The security
//! review's attack (/tmp/attack/docfill.js): one rapporteur inserts a 1.9 MB text and deletes
//! it, again and again. The budget used to count the encoded size at the last compaction plus
//! every update since, and compactions came every 500 updates: after 8 rounds the document,
//! holding under 2,000 characters, refused every update of everyone with 4413 (which stock
//! providers do not retry), deletions included, for as long as a connection kept it loaded;
//! and a document really near its budget could not even be trimmed. Now, when the sum would
//! pass the budget, the document's real encoded size is measured and judged; an update that
//! only deletes passes the budget; and a compaction comes also once 4 MiB of updates are
//! stored since the last one.
//!
//! The real `convene` process, real yrs y-websocket clients (`convene_tests::ydoc`) sending
//! frames within the real 2 MiB frame limit, the real SQLite file read after a SIGKILL, and
//! two cluster nodes on a Redis of the test's own.

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use convene::docs::{close, COMPACT_BYTES, MAX_DOCUMENT_BYTES, MAX_FRAME_BYTES};
use convene_tests::proto::{Command, Role};
use convene_tests::ydoc::{
    doc_from, doc_url, DocWorld, YClient, W_CIT1, W_CONV, W_DOC, W_FAC, W_RAP1, W_RAP2,
};
use convene_tests::{nodes, own_redis, person, tempdir, token_of, Client};
use yrs::types::xml::XmlFragment;
use yrs::{ReadTxn, StateVector, Text, Transact};

/// What each round inserts: as large as a frame allows (the update's own bytes and the
/// y-protocols header fit in what is left).
const INSERT: usize = MAX_FRAME_BYTES - 4096;
/// How long a large update may take through a debug build on a loaded machine (not a speed
/// check: `documents.rs` saw 6 of 8 paragraphs of 1.9 MB after 10 s with two builds beside it).
const LARGE_WAIT: Duration = Duration::from_secs(120);

/// What the connection was told and how it ended, for messages.
fn state(c: &YClient) -> String {
    let r = c.recorded();
    format!(
        "{}: closed {:?} {:?}, auth {:?}",
        c.name, r.closed, r.close_reason, r.auth
    )
}

/// Neither closed nor told that the document is too large.
fn still_writing(c: &YClient) -> bool {
    let r = c.recorded();
    r.closed.is_none() && !r.auth.iter().flatten().any(|a| a.contains("too large"))
}

/// The document's update and snapshot bytes in the SQLite file (its rows, not the file's
/// pages: deleted rows leave free pages that later rows reuse).
fn stored_bytes(w: &DocWorld) -> Result<(i64, i64)> {
    let db = rusqlite::Connection::open(w.server.data.join("convene.sqlite3"))
        .context("open the database")?;
    let updates: i64 = db.query_row(
        "SELECT COALESCE(SUM(LENGTH(data)), 0) FROM doc_updates WHERE convention = ?1 AND doc = ?2",
        (W_CONV, W_DOC),
        |r| r.get(0),
    )?;
    let snapshot: i64 = db.query_row(
        "SELECT COALESCE(SUM(LENGTH(data)), 0) FROM doc_snapshots WHERE convention = ?1 AND doc = ?2",
        (W_CONV, W_DOC),
        |r| r.get(0),
    )?;
    Ok((updates, snapshot))
}

/// The client's document encoded whole, as the server measures it (the same content).
fn encoded_len(c: &YClient) -> usize {
    c.doc
        .transact()
        .encode_state_as_update_v1(&StateVector::default())
        .len()
}

/// One round of the churn: `churner` inserts `big` into its "scratch" text and deletes it
/// again; `reader` must take both (the insert's clocks, no text left) and the churner must not
/// be closed nor told the document is too large. The bytes of the insert's update (with the
/// churner's delete set, a few bytes a round).
async fn churn(churner: &YClient, reader: &YClient, big: &str, what: &str) -> Result<usize> {
    let scratch = churner.doc.get_or_insert_text("scratch");
    let before = churner.state_vector();
    churner.append_text("scratch", big);
    let sent = churner
        .doc
        .transact()
        .encode_state_as_update_v1(&before)
        .len();
    {
        let mut txn = churner.doc.transact_mut();
        let len = scratch.len(&txn);
        scratch.remove_range(&mut txn, 0, len);
    }
    let target = churner.state_vector();
    reader
        .wait_doc_within(what, LARGE_WAIT, |c| {
            (c.state_vector() == target && c.text("scratch").is_empty())
                || churner.recorded().closed.is_some()
        })
        .await?;
    ensure!(still_writing(churner), "{what}: {}", state(churner));
    Ok(sent)
}

/// (a) A rapporteur inserts 2 MiB and deletes it, round after round, until more than ten
/// times the budget was sent, while a reader keeps the document loaded: never refused; then
/// another rapporteur's edit and a facilitator's are taken and reach the reader. (b) The store
/// holds at most the largest the document was, plus `COMPACT_BYTES` of updates and one frame.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writing_and_deleting_in_turn_never_fills_a_document() -> Result<()> {
    let mut w = DocWorld::start().await?;
    let churner = w.yc(W_RAP1).await?;
    // Open throughout: the document's task never idles (no compaction at unloading).
    let reader = w.yc(W_CIT1).await?;
    churner.push_paragraph("Proposition 1 : des navettes fluviales.");
    reader
        .wait_paragraph("Proposition 1 : des navettes fluviales.")
        .await?;

    let rounds = 10 * MAX_DOCUMENT_BYTES / INSERT + 1;
    let big = "x".repeat(INSERT);
    let mut sent = 0;
    for round in 0..rounds {
        sent += churn(
            &churner,
            &reader,
            &big,
            &format!("round {round} of {rounds}"),
        )
        .await?;
    }
    eprintln!("{rounds} rounds, {sent} bytes of updates sent");
    ensure!(sent > 10 * MAX_DOCUMENT_BYTES, "only {sent} bytes sent");

    // Another rapporteur and a facilitator write; the reader and the churner see it.
    let rap2 = w.yc(W_RAP2).await?;
    rap2.push_paragraph("Proposition 2 : le tram de nuit.");
    let fac = w.yc(W_FAC).await?;
    fac.push_paragraph("Synthèse de l'animatrice.");
    for text in [
        "Proposition 2 : le tram de nuit.",
        "Synthèse de l'animatrice.",
    ] {
        reader.wait_paragraph(text).await?;
        churner.wait_paragraph(text).await?;
    }
    for c in [&churner, &rap2, &fac, &reader] {
        ensure!(still_writing(c), "{}", state(c));
    }
    let largest = INSERT + encoded_len(&reader);

    // (b) What the store holds, read from the data file after a SIGKILL (no compaction at
    // shutdown): bounded by the document, not by the 160 MiB sent.
    drop((churner, rap2, fac, reader));
    w.server.kill9().await?;
    let (updates, snapshot) = stored_bytes(&w)?;
    let bound = largest + COMPACT_BYTES + MAX_FRAME_BYTES;
    eprintln!("stored: {updates} bytes of updates, a snapshot of {snapshot} (bound {bound})");
    ensure!(
        (updates + snapshot) as usize <= bound,
        "after {sent} bytes sent, the store holds {updates} bytes of updates and a snapshot of \
         {snapshot}, more than {bound}"
    );
    ensure!(
        (updates as usize) < COMPACT_BYTES + MAX_FRAME_BYTES,
        "{updates} bytes of updates after the last snapshot"
    );
    // And it loads: everything taken is there.
    w.server.restart().await?;
    let (md, _) = w.exports().await?;
    for text in [
        "Proposition 1 : des navettes fluviales.",
        "Proposition 2 : le tram de nuit.",
        "Synthèse de l'animatrice.",
    ] {
        ensure!(
            md.contains(text),
            "{text:?} missing after the restart:\n{md}"
        );
    }
    Ok(())
}

/// (c) A document really near its budget: an insert is refused (4413); a reconnecting writer's
/// sync step 2 (nothing new, its whole delete set, larger than the room left) and a deletion
/// are taken; once they deleted enough, an insert fits again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_document_takes_deletions_and_then_inserts() -> Result<()> {
    let w = DocWorld::start().await?;
    let writer = w.yc(W_RAP1).await?;
    let reader = w.yc(W_CIT1).await?;

    // Deletion history: 4,000 short paragraphs, every other one deleted (2,000 ranges in the
    // delete set, no text cut).
    let notes: Vec<String> = (0..4000).map(|i| format!("note {i}")).collect();
    writer.push_paragraphs(&notes);
    {
        let root = writer.doc.get_or_insert_xml_fragment("prosemirror");
        let mut txn = writer.doc.transact_mut();
        for i in 0..2000 {
            root.remove(&mut txn, i);
        }
    }
    reader
        .wait_doc("2,000 notes left", |c| c.paragraphs().len() == 2000)
        .await?;

    // Paragraphs of 2 MiB less 64 KiB, then one to within 1 KiB of the budget, judged by the
    // writer's own encoding of the document (the server's, it holds the same).
    let chunk = MAX_FRAME_BYTES - 64 * 1024;
    let mut k = 0;
    while MAX_DOCUMENT_BYTES - encoded_len(&writer) > chunk + 64 * 1024 {
        writer.push_paragraph(&format!("{k}{}", "a".repeat(chunk)));
        k += 1;
        reader
            .wait_doc_within("a large paragraph", LARGE_WAIT, |c| {
                c.paragraphs().len() == 2000 + k || writer.recorded().closed.is_some()
            })
            .await?;
        ensure!(still_writing(&writer), "{}", state(&writer));
    }
    let pad = MAX_DOCUMENT_BYTES - encoded_len(&writer) - 1024 - 64;
    writer.push_paragraph(&format!("p{}", "b".repeat(pad)));
    reader
        .wait_doc_within("the last paragraph", LARGE_WAIT, |c| {
            c.paragraphs().len() == 2001 + k || writer.recorded().closed.is_some()
        })
        .await?;
    ensure!(still_writing(&writer), "{}", state(&writer));
    let full = encoded_len(&writer);
    ensure!(
        (MAX_DOCUMENT_BYTES - 2048..MAX_DOCUMENT_BYTES).contains(&full),
        "the document is {full} bytes"
    );

    // 32 KiB more: refused, said why, not relayed.
    let refused = w.yc(W_RAP2).await?;
    refused.push_paragraph(&format!("r{}", "c".repeat(32 * 1024)));
    let code = refused.wait_closed().await?;
    ensure!(
        code == Some(close::TOO_LARGE),
        "an insert into a full document: {}",
        state(&refused)
    );
    ensure!(
        refused.recorded().auth.last() == Some(&Some("document too large".into())),
        "{}",
        state(&refused)
    );

    // A facilitator comes with a copy of the document (as a writer reconnecting with the
    // `Y.Doc` it kept): its sync step 2 holds nothing new and the whole delete set, about
    // 2,000 ranges, more than the room left. Taken: it is not closed, and its deletion of two
    // large paragraphs, sent after it, goes through.
    let copy = reader
        .doc
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    let step2 = doc_from(&copy)?
        .transact()
        .encode_state_as_update_v1(&writer.state_vector());
    ensure!(step2.len() > 4096, "a step 2 of {} bytes", step2.len());
    let fac = YClient::connect_doc("fac", &w.url(W_FAC), doc_from(&copy)?).await?;
    fac.wait_rec("the handshake", |r| r.server_step1 && r.synced)
        .await?;
    let before = reader.paragraphs().len();
    {
        let root = fac.doc.get_or_insert_xml_fragment("prosemirror");
        let mut txn = fac.doc.transact_mut();
        root.remove_range(&mut txn, 2000, 2);
    }
    reader
        .wait_doc("two large paragraphs deleted", |c| {
            c.paragraphs().len() == before - 2
        })
        .await?;
    ensure!(still_writing(&fac), "{}", state(&fac));

    // An insert of 1 MiB fits again.
    let again = format!("n{}", "d".repeat(1024 * 1024));
    writer.push_paragraph(&again);
    reader
        .wait_doc_within("1 MiB written after the deletion", LARGE_WAIT, |c| {
            c.paragraphs().last() == Some(&again)
        })
        .await?;
    ensure!(still_writing(&writer), "{}", state(&writer));
    ensure!(
        !reader.paragraphs().iter().any(|p| p.starts_with('r')),
        "the refused paragraph was relayed"
    );
    ensure!(still_writing(&reader), "{}", state(&reader));
    Ok(())
}

/// Cluster mode takes the same path: the churner on one node, a reader on another (each node's
/// follower reads what the other stores; compactions trim the stream under it). 20 rounds of
/// 2 MiB (40 MiB: the old budget refused the eighth): never refused, every round reaches the
/// reader; Redis then holds the snapshot and, in the stream, at most `COMPACT_BYTES` and a frame
/// of updates after it, plus the one update the snapshot ends with (kept in the stream for
/// followers behind it); and a facilitator on the reader's node writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_cluster_mode_the_churn_is_measured_and_compacted_too() -> Result<()> {
    const CONV: &str = "churn";
    let dir = tempdir();
    let redis_dir = dir.path().join("redis");
    std::fs::create_dir_all(&redis_dir)?;
    let redis = own_redis(&redis_dir, &[])?;
    let servers = nodes(dir.path(), &redis.url, 2).await?;
    let invites = servers[0]
        .http()
        .convention(
            CONV,
            &[
                person(W_FAC, &[Role::Facilitator], &[]),
                person(W_RAP1, &[Role::Rapporteur], &[]),
                person(W_CIT1, &[Role::Citizen], &[]),
            ],
        )
        .await?;
    let url = |node: usize, name: &str| {
        doc_url(&servers[node].addr, CONV, W_DOC, &token_of(&invites, name))
    };
    let mut fac = Client::join(&servers[0].ws_url(), "fac", &token_of(&invites, W_FAC)).await?;
    fac.ok(Command::CreateDocument {
        name: W_DOC.into(),
        title: "Avis citoyen".into(),
    })
    .await?;
    let churner = YClient::synced("churner", &url(0, W_RAP1)).await?;
    let reader = YClient::synced("reader", &url(1, W_CIT1)).await?;

    let rounds = 20;
    let big = "x".repeat(INSERT);
    for round in 0..rounds {
        churn(
            &churner,
            &reader,
            &big,
            &format!("round {round} of {rounds}"),
        )
        .await?;
    }
    let mut con = redis::Client::open(redis.url.as_str())?.get_connection()?;
    let entries: Vec<(String, Vec<Vec<u8>>)> = redis::cmd("XRANGE")
        .arg(format!("cv:{{{CONV}}}:doc:{W_DOC}"))
        .arg("-")
        .arg("+")
        .query(&mut con)?;
    let stream: usize = entries
        .iter()
        .flat_map(|(_, fields)| fields.iter().skip(1).step_by(2))
        .map(Vec::len)
        .sum();
    let snapshot: usize = redis::cmd("HSTRLEN")
        .arg(format!("cv:{{{CONV}}}:docs:{W_DOC}"))
        .arg("data")
        .query(&mut con)?;
    let largest = INSERT + encoded_len(&reader);
    let bound = largest + COMPACT_BYTES + 2 * MAX_FRAME_BYTES;
    eprintln!(
        "redis: {} stream entries of {stream} bytes, a snapshot of {snapshot} (bound {bound})",
        entries.len()
    );
    ensure!(
        snapshot > 0 && stream + snapshot <= bound,
        "after {rounds} rounds of {INSERT} bytes, Redis holds {stream} bytes of updates and a \
         snapshot of {snapshot}, more than {bound}"
    );
    let writer = YClient::synced("fac", &url(1, W_FAC)).await?;
    writer.push_paragraph("Synthèse de l'animatrice.");
    churner.wait_paragraph("Synthèse de l'animatrice.").await?;
    for c in [&churner, &writer, &reader] {
        ensure!(still_writing(c), "{}", state(c));
    }
    Ok(())
}
