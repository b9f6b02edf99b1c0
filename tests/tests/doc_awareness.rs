//! Awareness (cursors, names) has a budget: a client's state is at most 4 KiB, a connection
//! announces at most 4 client ids, a document holds at most 512 states and 256 KiB of them;
//! a connection cannot overwrite the states another one announced; and guarantors are
//! silent: what they announce reaches nobody but themselves, so a guarantor cannot show a
//! cursor named like a facilitator.
//!
//! The real `convene` process and real yrs y-websocket clients (`convene_tests::ydoc`).

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{ensure, Result};
use convene_tests::ydoc::{citizen_name, DocWorld, YClient, W_CIT1, W_GAR, W_RAP1, W_RAP2};
use yrs::sync::awareness::AwarenessUpdateEntry;
use yrs::sync::{AwarenessUpdate, Message};
use yrs::ClientID;

/// The document endpoint's close code for a budget passed.
const TOO_LARGE: u16 = 4413;
const MAX_STATE_BYTES: usize = 4 * 1024;
const MAX_CLIENTS_PER_CONNECTION: u64 = 4;
const MAX_STATES_PER_DOCUMENT: usize = 512;
const MAX_STATE_BYTES_PER_DOCUMENT: usize = 256 * 1024;

/// Announce `states` (client id, clock, JSON) in one awareness frame.
fn announce(c: &YClient, states: &[(u64, u32, String)]) -> Result<()> {
    let mut clients = HashMap::new();
    for (id, clock, json) in states {
        clients.insert(
            ClientID::new(*id),
            AwarenessUpdateEntry {
                clock: *clock,
                json: json.clone().into(),
            },
        );
    }
    c.send_message(&Message::Awareness(AwarenessUpdate { clients }))
}

/// A JSON state of exactly `len` bytes.
fn state_of_len(name: &str, len: usize) -> String {
    let head = format!(r#"{{"user":{{"name":"{name}"}},"pad":""#);
    let pad = len - head.len() - 2;
    let s = format!(r#"{head}{}"}}"#, "x".repeat(pad));
    assert_eq!(s.len(), len);
    s
}

/// Ask the server for every state it holds (query awareness): the answer comes after
/// everything this connection sent before, so it tells what the server kept of it.
async fn held_by_server(c: &YClient) -> Result<HashMap<u64, String>> {
    let before = c.recorded().awareness.len();
    c.send_message(&Message::AwarenessQuery)?;
    let r = c
        .wait_rec("the answer to a query", |r| r.awareness.len() > before)
        .await?;
    // The answer is the last awareness frame; others' updates may come in between, so use
    // the latest state of each id as recorded.
    Ok(r.present().into_iter().collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_over_4_kib_is_refused() -> Result<()> {
    let w = DocWorld::start().await?;
    let observer = w.yc(W_CIT1).await?;
    let fits = w.yc(W_RAP1).await?;
    let big = w.yc(W_RAP2).await?;
    let ok = state_of_len("Rita", MAX_STATE_BYTES);
    fits.set_awareness(&ok)?;
    observer
        .wait_rec("the 4 KiB state", |r| {
            r.present().get(&fits.client_id()) == Some(&ok)
        })
        .await?;
    big.set_awareness(&state_of_len("Rémi", MAX_STATE_BYTES + 1))?;
    let code = big.wait_closed().await?;
    ensure!(
        code == Some(TOO_LARGE),
        "a state of 4 KiB + 1 byte: closed with {code:?}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    ensure!(
        !observer.recorded().peers.contains_key(&big.client_id()),
        "the state over 4 KiB was relayed"
    );
    ensure!(observer.recorded().closed.is_none() && fits.recorded().closed.is_none());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_announces_at_most_four_clients_and_only_its_own() -> Result<()> {
    let w = DocWorld::start().await?;
    let observer = w.yc(W_CIT1).await?;
    let many = w.yc(W_RAP1).await?;
    let other = w.yc(W_RAP2).await?;
    let name = |i: u64| format!(r#"{{"user":{{"name":"onglet {i}"}}}}"#);
    let four: Vec<(u64, u32, String)> = (1..=MAX_CLIENTS_PER_CONNECTION)
        .map(|i| (1000 + i, 1, name(i)))
        .collect();
    announce(&many, &four)?;
    observer
        .wait_rec("four states", |r| {
            (1001..=1004).all(|id| r.present().contains_key(&id))
        })
        .await?;

    // Another connection re-sends one of them, newer and changed (a hand-made client; stock
    // providers echo what they receive, unchanged): not its own, so ignored, never closed.
    let spoof = r#"{"user":{"name":"Claire Animatrice"}}"#.to_string();
    announce(&other, &[(1001, 7, spoof.clone())])?;
    let held = held_by_server(&other).await?;
    ensure!(
        held.get(&1001) == Some(&name(1)),
        "another connection overwrote a state: the server holds {:?}",
        held.get(&1001)
    );
    ensure!(
        other.recorded().closed.is_none(),
        "an echo closed the connection"
    );

    // A fifth id on the same connection: closed with 4413, the fifth relayed to nobody.
    announce(&many, &[(1005, 1, name(5))])?;
    let code = many.wait_closed().await?;
    ensure!(
        code == Some(TOO_LARGE),
        "a fifth client id: closed with {code:?}"
    );
    observer
        .wait_rec("the four states removed with their connection", |r| {
            (1001..=1004).all(|id| r.peers.get(&id).is_some_and(|p| p.state.is_none()))
        })
        .await?;
    ensure!(
        observer
            .recorded()
            .peers
            .get(&1005)
            .is_none_or(|p| p.state.is_none()),
        "the fifth client id was relayed"
    );
    let spoofed = observer
        .recorded()
        .awareness
        .iter()
        .flat_map(|u| u.clients.values())
        .filter(|e| e.json.as_ref() == spoof)
        .count();
    ensure!(spoofed == 0, "the spoofed state reached the observer");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_holds_a_bounded_number_of_states() -> Result<()> {
    // 512 states: 128 connections of 4; the 129th connection's states are refused.
    let conns = MAX_STATES_PER_DOCUMENT / MAX_CLIENTS_PER_CONNECTION as usize;
    let w = DocWorld::start_with(conns + 1).await?;
    let observer = w.yc(W_CIT1).await?;
    let mut clients = Vec::new();
    for i in 0..=conns {
        let name = citizen_name(i + 3);
        let c = YClient::connect(&name, &w.url(&name)).await?;
        let base = 10_000 + 10 * i as u64;
        let states: Vec<(u64, u32, String)> = (0..MAX_CLIENTS_PER_CONNECTION)
            .map(|k| (base + k, 1, format!(r#"{{"n":{}}}"#, base + k)))
            .collect();
        if i < conns {
            announce(&c, &states)?;
        }
        clients.push((c, states));
    }
    observer
        .wait_rec("512 states", |r| {
            r.present().len() >= MAX_STATES_PER_DOCUMENT
        })
        .await?;
    let (last, states) = &clients[conns];
    announce(last, states)?;
    let held = held_by_server(last).await?;
    ensure!(
        held.len() == MAX_STATES_PER_DOCUMENT,
        "the server holds {} states, over its budget of {MAX_STATES_PER_DOCUMENT}",
        held.len()
    );
    ensure!(
        states.iter().all(|(id, ..)| !held.contains_key(id)),
        "states over the document's budget were kept"
    );
    ensure!(
        last.recorded().closed.is_none(),
        "refused states closed the connection"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    ensure!(
        observer.recorded().present().len() == MAX_STATES_PER_DOCUMENT,
        "the observer heard of {} states",
        observer.recorded().present().len()
    );

    // Room again once a connection leaves: the refused connection's next update fits.
    let (mut first, _) = clients.remove(0);
    first.close().await;
    let (last, states) = clients.last().expect("connections");
    let bumped: Vec<(u64, u32, String)> = states
        .iter()
        .map(|(id, _, json)| (*id, 2, json.clone()))
        .collect();
    let wanted: Vec<u64> = states.iter().map(|(id, ..)| *id).collect();
    observer
        .wait_rec("the first connection's states removed", |r| {
            r.present().len() == MAX_STATES_PER_DOCUMENT - MAX_CLIENTS_PER_CONNECTION as usize
        })
        .await?;
    announce(last, &bumped)?;
    observer
        .wait_rec("the late states, now within the budget", |r| {
            wanted.iter().all(|id| r.present().contains_key(id))
        })
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_holds_a_bounded_size_of_states() -> Result<()> {
    // 16 connections of 4 states of 4 KiB: 256 KiB, the budget; a 17th connection's states
    // would pass it and are refused.
    let state_len = MAX_STATE_BYTES;
    let conns = MAX_STATE_BYTES_PER_DOCUMENT / (state_len * MAX_CLIENTS_PER_CONNECTION as usize);
    let w = DocWorld::start_with(conns + 1).await?;
    let observer = w.yc(W_CIT1).await?;
    let mut clients = Vec::new();
    for i in 0..=conns {
        let name = citizen_name(i + 3);
        let c = YClient::connect(&name, &w.url(&name)).await?;
        let base = 20_000 + 10 * i as u64;
        let states: Vec<(u64, u32, String)> = (0..MAX_CLIENTS_PER_CONNECTION)
            .map(|k| {
                (
                    base + k,
                    1,
                    state_of_len(&format!("{}", base + k), state_len),
                )
            })
            .collect();
        if i < conns {
            announce(&c, &states)?;
        }
        clients.push((c, states));
    }
    let fitting = conns * MAX_CLIENTS_PER_CONNECTION as usize;
    observer
        .wait_rec("the states within the budget", |r| {
            r.present().len() >= fitting
        })
        .await?;
    let (last, states) = &clients[conns];
    announce(last, states)?;
    let held = held_by_server(last).await?;
    let bytes: usize = held.values().map(String::len).sum();
    ensure!(
        bytes <= MAX_STATE_BYTES_PER_DOCUMENT,
        "the server holds {bytes} bytes of states, over its budget"
    );
    ensure!(
        states.iter().all(|(id, ..)| !held.contains_key(id)),
        "states over the document's byte budget were kept"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    ensure!(observer.recorded().present().len() == fitting);
    ensure!(last.recorded().closed.is_none());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guarantors_are_silent() -> Result<()> {
    let w = DocWorld::start().await?;
    let observer = w.yc(W_CIT1).await?;
    let writer = w.yc(W_RAP1).await?;
    let gar = w.yc(W_GAR).await?;
    // A guarantor announces a cursor named like a facilitator.
    let disguise =
        r##"{"user":{"name":"Claire Animatrice","color":"#d33"},"cursor":{"anchor":1,"head":1}}"##;
    gar.set_awareness(disguise)?;
    // It hears its own state back (a provider alone on a document keeps its connection)...
    gar.wait_rec("its own state back", |r| {
        r.present().get(&gar.client_id()).map(String::as_str) == Some(disguise)
    })
    .await?;
    // ... and everyone else's, as any reader does.
    let state_w = r#"{"user":{"name":"Rita"}}"#;
    writer.set_awareness(state_w)?;
    for c in [&observer, &gar] {
        c.wait_rec("the writer's state", |r| {
            r.present().get(&writer.client_id()).map(String::as_str) == Some(state_w)
        })
        .await?;
    }
    // Nobody else ever hears of the guarantor: not as it happens, not on joining, not on a
    // query.
    let late = w.yc(W_RAP2).await?;
    late.wait_rec("the writer's state on joining", |r| {
        r.present().contains_key(&writer.client_id())
    })
    .await?;
    let held = held_by_server(&observer).await?;
    for (who, c) in [
        ("observer", &observer),
        ("writer", &writer),
        ("late", &late),
    ] {
        ensure!(
            !c.recorded().peers.contains_key(&gar.client_id()),
            "the {who} heard of the guarantor's awareness: {:?}",
            c.recorded().peers.get(&gar.client_id())
        );
    }
    ensure!(
        !held.contains_key(&gar.client_id()),
        "the server holds the guarantor's state"
    );
    // A guarantor cannot speak through another's id either.
    announce(&gar, &[(writer.client_id(), 99, disguise.to_string())])?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    ensure!(
        observer
            .recorded()
            .present()
            .get(&writer.client_id())
            .map(String::as_str)
            == Some(state_w),
        "a guarantor overwrote a writer's state"
    );
    ensure!(gar.recorded().closed.is_none());
    Ok(())
}
