//! A convention is taken up from its stored state plus the log after it, not the whole log:
//! after `kill -9` and a restart (SQLite) and when a cluster node lets a replica go and loads
//! it again (Redis), everything is as before: the same view, a retried request answered from
//! before the state, a revoked invitation still refused as revoked, a secret poll's count.

use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use convene_tests::proto::{close, Ballot, Command, Event, PollKind, PollSpec, Role};
use convene_tests::{fresh_redis, person, poll_spec, tempdir, unique, Client, Server};
use serde_json::json;

const STATE_EVERY: u64 = 4;

fn secret_poll() -> PollSpec {
    let options = vec!["Oui".into(), "Non".into()];
    poll_spec(
        "Garde-t-on la proposition 3 ?",
        PollKind::Single { options },
        true,
        true,
    )
}

/// A guarantor's whole view, taken on a fresh connection with nobody else online.
async fn view(server: &Server, token: &str) -> Result<serde_json::Value> {
    let mut c = Client::join(&server.ws_url(), "garante", token).await?;
    let snap = c.snapshot.take().context("a snapshot in the welcome")?;
    c.close().await;
    Ok(serde_json::to_value(snap)?)
}

/// The view once the morning's connections are gone: their closes reach the server after
/// `close` returns, so a view taken at once may still show some of them online (and the view
/// taken later, after the replica was let go, would not).
async fn settled_view(server: &Server, token: &str) -> Result<serde_json::Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let v = view(server, token).await?;
        let online = v["participants"]
            .as_array()
            .context("participants")?
            .iter()
            .filter(|p| p["online"] == true)
            .count();
        // The viewer alone.
        if online == 1 {
            return Ok(v);
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "{online} people still online after the morning"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Some of everything: chat, a raised hand, a secret poll voted and closed, a revoked
/// invitation. Returns the retried request (id, seq) and the poll's tally counts.
async fn a_morning(server: &Server, tokens: &[String]) -> Result<((String, u64), Vec<u64>)> {
    let mut fac = Client::join(&server.ws_url(), "fac", &tokens[0]).await?;
    let mut cits = Vec::new();
    for (i, t) in tokens[2..].iter().enumerate() {
        cits.push(Client::join(&server.ws_url(), &format!("cit{i}"), t).await?);
    }
    let id = format!("chat-{}", unique());
    let text = Command::SendChat {
        room: None,
        text: "Bonjour à toutes et à tous".into(),
    };
    let Ok(chat_seq) = cits[0].request_with_id(&id, text).await? else {
        bail!("chat refused")
    };
    cits[1].ok(Command::RaiseHand { room: None }).await?;
    let (poll, _) = fac.draft_and_open(secret_poll()).await?;
    for (i, c) in cits.iter_mut().enumerate() {
        c.ok(Command::Vote {
            poll: poll.clone(),
            ballot: Ballot::Single {
                choice: (i % 2) as u32,
            },
        })
        .await?;
    }
    let seq = fac.ok(Command::ClosePoll { poll }).await?;
    let Event::PollClosed { tally: Some(t), .. } = fac.wait_seq(seq).await?.event else {
        bail!("no tally")
    };
    for i in 0..6 {
        fac.ok(Command::Broadcast {
            text: format!("Reprise dans {} minutes", 6 - i),
        })
        .await?;
    }
    fac.close().await;
    for c in cits {
        c.close().await;
    }
    Ok(((id, chat_seq), t.counts))
}

fn roster() -> Vec<convene_tests::proto::api::RosterEntry> {
    let mut r = vec![
        person("Claire Facilitatrice", &[Role::Facilitator], &[]),
        person("Hélène Garante", &[Role::Guarantor], &[]),
    ];
    for i in 0..5 {
        r.push(person(
            &format!("Citoyen {i}"),
            &[Role::Citizen],
            &[("commune", "Rezé")],
        ));
    }
    r
}

/// Everything checked after the convention was taken up again.
async fn same_as_before(
    server: &Server,
    tokens: &[String],
    before: &serde_json::Value,
    (id, seq): &(String, u64),
    revoked: &str,
) -> Result<()> {
    let after = view(server, &tokens[1]).await?;
    ensure!(
        &after == before,
        "the view differs after taking the convention up again:\nbefore {before}\nafter  {after}"
    );
    // A request from before the stored state is answered from the log, not run again.
    let mut c = Client::join(&server.ws_url(), "cit0", &tokens[2]).await?;
    let again = c
        .request_with_id(
            id,
            Command::SendChat {
                room: None,
                text: "Bonjour à toutes et à tous".into(),
            },
        )
        .await?;
    ensure!(
        again == Ok(*seq),
        "retry answered {again:?}, expected Ok({seq})"
    );
    c.close().await;
    // The revoked invitation is still known as revoked.
    let mut c = Client::open(&server.ws_url(), "revoked").await?;
    c.send_raw(&json!({ "type": "hello", "protocol": 1, "token": revoked }).to_string())
        .await?;
    ensure!(
        c.wait_closed(Duration::from_secs(10)).await? == Some(close::REVOKED),
        "a revoked invitation must close with REVOKED"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_takes_up_the_stored_state_and_the_log_after_it() -> Result<()> {
    let dir = tempdir();
    let every = STATE_EVERY.to_string();
    let mut server =
        Server::start_with(&dir.path().join("data"), &["--state-every", &every]).await?;
    let invites = server.http().convention("etat", &roster()).await?;
    let mut tokens: Vec<String> = invites.iter().map(|i| i.token.clone()).collect();
    // Revoke the last citizen's invitation (the organizer API), and keep the old token.
    let revoked = tokens.pop().context("a citizen")?;
    let last = invites.last().context("a citizen")?.participant.clone();
    let r = server
        .http()
        .delete(&format!("/api/conventions/etat/invites/{last}"))
        .send()
        .await?;
    ensure!(r.status() == 204, "revoke: {}", r.status());

    let (request, counts) = a_morning(&server, &tokens).await?;
    ensure!(counts == vec![2, 2], "tally {counts:?}");
    ensure!(
        server.metric("convene_states_stored_total").await? >= 3,
        "states are stored every {STATE_EVERY} events"
    );
    let before = settled_view(&server, &tokens[1]).await?;
    let seq = before["seq"].as_u64().context("seq")?;
    let notices = before["notices"].as_array().map_or(0, Vec::len);
    ensure!(
        notices == 6,
        "the view recalls the 6 announcements: {notices}"
    );

    server.kill9_and_restart().await?;
    same_as_before(&server, &tokens, &before, &request, &revoked).await?;
    // Only the log after the last stored state was folded (not the `seq` records).
    let replayed = server.metric("convene_records_replayed_total").await?;
    ensure!(
        replayed < STATE_EVERY,
        "{replayed} records replayed of {seq}: the stored state was not used"
    );

    // A stored state that does not fit the log (another format) is not used: the whole log is
    // replayed, to the same view.
    server.kill9().await?;
    let db = rusqlite::Connection::open(dir.path().join("data").join("states.sqlite3"))?;
    let n = db.execute(
        "UPDATE states SET data = CAST('{\"format\":0}' AS BLOB)",
        [],
    )?;
    ensure!(n == 1, "one stored state, found {n}");
    drop(db);
    server.restart().await?;
    same_as_before(&server, &tokens, &before, &request, &revoked).await?;
    let replayed = server.metric("convene_records_replayed_total").await?;
    ensure!(
        replayed >= seq,
        "an unusable state must be ignored: {replayed} records replayed of {seq}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_takes_a_replica_up_from_the_stored_state() -> Result<()> {
    let url = &fresh_redis(8)?;
    let dir = tempdir();
    let every = STATE_EVERY.to_string();
    let args = [
        "--redis",
        url,
        "--idle-replica-secs",
        "1",
        "--state-every",
        every.as_str(),
    ];
    let a = Server::start_with(&dir.path().join("a"), &args).await?;
    let b = Server::start_with(&dir.path().join("b"), &args).await?;
    let invites = a.http().convention("etat", &roster()).await?;
    let mut tokens: Vec<String> = invites.iter().map(|i| i.token.clone()).collect();
    let revoked = tokens.pop().context("a citizen")?;
    let last = invites.last().context("a citizen")?.participant.clone();
    let r = a
        .http()
        .delete(&format!("/api/conventions/etat/invites/{last}"))
        .send()
        .await?;
    ensure!(r.status() == 204, "revoke: {}", r.status());

    // The morning runs on node b, which then lets the replica go (storing its state).
    let (request, _) = a_morning(&b, &tokens).await?;
    let before = settled_view(&b, &tokens[1]).await?;
    let seq = before["seq"].as_u64().context("seq")?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while b.metric("convene_conventions").await? != 0 {
        ensure!(
            tokio::time::Instant::now() < deadline,
            "node b still holds an unused replica"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let replayed_before = b.metric("convene_records_replayed_total").await?;
    same_as_before(&b, &tokens, &before, &request, &revoked).await?;
    let replayed = b.metric("convene_records_replayed_total").await? - replayed_before;
    ensure!(
        replayed < STATE_EVERY,
        "{replayed} records replayed of {seq}: the stored state was not used"
    );
    Ok(())
}
