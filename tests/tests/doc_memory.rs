//! Memory amplification on the document endpoint: a read-only participant sends 1,000 sync
//! step 1 frames of four bytes on a 1 MiB document and never reads. Each asks for the whole
//! document; a fresh encoding per request, queued for a reader that never reads, made the
//! server's memory grow by about 1 GiB. The server now encodes the document once per change
//! and shares those bytes between requests, and bounds each connection's outbound queue in
//! bytes: the attacker is closed as a slow consumer (4009) while the server's memory barely
//! moves, and the document's other readers go on receiving updates.
//!
//! The real `convene` process (its /proc status), a raw WebSocket for the attacker, real yrs
//! clients for the others.

use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use convene_tests::ydoc::{memory_kb, DocWorld, W_CIT1, W_CIT2, W_RAP1};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message as Ws;

/// The document endpoint's close code for a reader too slow for its outbound queue.
const SLOW_CONSUMER: u16 = 4009;
/// The most the server's peak memory may grow during the attack.
const MAX_GROWTH_KB: u64 = 64 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_asks_again_and_again_and_never_reads_is_closed() -> Result<()> {
    let w = DocWorld::start().await?;
    let writer = w.yc(W_RAP1).await?;
    let reader = w.yc(W_CIT1).await?;
    // A document of about 1 MiB: eight paragraphs of 128 KiB.
    for k in 0..8 {
        writer.push_paragraph(&format!("{k}{}", "x".repeat(128 * 1024)));
    }
    reader
        .wait_doc("the 1 MiB document", |c| c.paragraphs().len() >= 8)
        .await?;
    let pid = w.server.pid().context("the server's pid")?;
    let slow_before = w.server.metric("convene_slow_consumers_total").await?;
    let (rss0, hwm0) = memory_kb(pid)?;

    // The attacker: a read-only citizen, 1,000 sync step 1 frames with an empty state vector
    // ("send me everything"), within the rate limit's burst, and never a read.
    let (mut ws, _) = tokio_tungstenite::connect_async(w.url(W_CIT2).as_str()).await?;
    for _ in 0..1000 {
        ws.send(Ws::binary(vec![0u8, 0, 1, 0])).await?;
    }
    // Closed as a slow consumer (or 20 s pass).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut closed = false;
    while tokio::time::Instant::now() < deadline {
        if w.server.metric("convene_slow_consumers_total").await? > slow_before {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let the server finish with the frames it had read.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (rss1, hwm1) = memory_kb(pid)?;
    eprintln!(
        "server memory during the attack: VmRSS {rss0} -> {rss1} kB (+{} kB), VmHWM {hwm0} -> \
         {hwm1} kB (+{} kB)",
        rss1.saturating_sub(rss0),
        hwm1.saturating_sub(hwm0)
    );
    ensure!(
        hwm1.saturating_sub(hwm0) < MAX_GROWTH_KB,
        "1,000 requests from a reader that never reads raised the server's peak memory from \
         {hwm0} kB to {hwm1} kB (resident {rss0} -> {rss1} kB)"
    );
    ensure!(
        closed,
        "the reader that never reads was not closed as a slow consumer"
    );

    // The others go on: a new paragraph reaches the reader.
    writer.push_paragraph("Après l'attaque");
    reader.wait_paragraph("Après l'attaque").await?;
    ensure!(reader.recorded().closed.is_none() && writer.recorded().closed.is_none());

    // The attacker reads at last: what was queued, then the close, 4009.
    let code = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(m) = ws.next().await {
            match m {
                Ok(Ws::Close(f)) => return Ok(f.map(|f| u16::from(f.code))),
                Ok(_) => {}
                Err(e) => bail!("the attacker's connection failed before a close frame: {e}"),
            }
        }
        bail!("the attacker's connection ended without a close frame")
    })
    .await
    .context("no close frame within 30 s")??;
    ensure!(
        code == Some(SLOW_CONSUMER),
        "the attacker was closed with {code:?}, not {SLOW_CONSUMER}"
    );
    Ok(())
}
