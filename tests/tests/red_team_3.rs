//! The budgets a red-team review found a hand-made client could pass (PROTOCOL.md §16: the
//! messages over the rate a connection is forgiven, the chat budget of `send_chat`; §19's HTTP
//! budget on the video route): each test sends ten times the budget, then checks that what was
//! accepted stayed within it and that the others, and the convention, go on.

use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use convene_tests::proto::{self, close, ClientMessage, Command, ErrorCode, Event, Role};
use convene_tests::{person, tempdir, token_of, Client, Server};

const FAC: &str = "Claire Animatrice";
const ATTACKER: &str = "Citoyen Hostile";
const OTHER: &str = "Citoyenne Honnête";

struct World {
    _dir: tempfile::TempDir,
    server: Server,
    conv: String,
    invites: Vec<proto::api::Invite>,
}

async fn world(conv: &str, extra: &[&str]) -> Result<World> {
    let dir = tempdir();
    let server = Server::start_with(&dir.path().join("data"), extra).await?;
    let roster = vec![
        person(FAC, &[Role::Facilitator], &[]),
        person(ATTACKER, &[Role::Citizen], &[]),
        person(OTHER, &[Role::Citizen], &[]),
    ];
    let invites = server.http().convention(conv, &roster).await?;
    Ok(World {
        _dir: dir,
        server,
        conv: conv.to_string(),
        invites,
    })
}

impl World {
    async fn join(&self, name: &str) -> Result<Client> {
        Client::join(&self.server.ws_url(), name, &token_of(&self.invites, name)).await
    }

    /// The others are unharmed: a citizen's chat is acknowledged and reaches the facilitator.
    async fn goes_on(&self, label: &str) -> Result<()> {
        let mut other = self.join(OTHER).await?;
        let mut fac = self.join(FAC).await?;
        let text = format!("après {label} : la séance continue");
        let seq = other
            .ok(Command::SendChat {
                text: text.clone(),
                room: None,
            })
            .await
            .with_context(|| format!("after {label}"))?;
        match fac.wait_seq(seq).await?.event {
            Event::ChatPosted { text: t, .. } if t == text => Ok(()),
            e => bail!("after {label}: seq {seq} is {e:?}"),
        }
    }
}

fn pings(n: usize) -> Vec<String> {
    vec![serde_json::to_string(&ClientMessage::Ping).expect("ping serializes"); n]
}

/// A connection sending well above the rate without ever 100 refusals in a row (a token
/// refills every 50 ms and any frame may take it) is closed with 4008 once it has used the
/// messages over the limit it is forgiven; before, it was answered and parsed for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sending_above_the_rate_is_closed_even_with_refills_between() -> Result<()> {
    let w = world("dessus", &[]).await?;
    let mut c = w.join(ATTACKER).await?;
    // Ten times the rate (200 a second) in groups of 5 every 25 ms, for up to 10 s: 2,000
    // messages, each group finding a token refilled now and then.
    let start = Instant::now();
    let mut sent = 0;
    let code = loop {
        if c.send_raw_batch(&pings(5)).await.is_err() {
            break c.wait_closed(Duration::from_secs(5)).await?;
        }
        sent += 5;
        c.drain(Duration::from_millis(25)).await;
        if c.closed.is_some() {
            break c.wait_closed(Duration::from_secs(1)).await?;
        }
        if start.elapsed() > Duration::from_secs(10) {
            bail!("{sent} messages at ten times the rate and the connection is still open");
        }
    };
    eprintln!(
        "closed with {code:?} after {sent} messages in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    ensure!(code == Some(close::RATE_LIMITED), "closed with {code:?}");
    // The same person may come back, within the limit.
    let mut back = w.join(ATTACKER).await?;
    back.ok(Command::SendChat {
        text: "je reviens, calmement".into(),
        room: None,
    })
    .await?;
    w.goes_on("a connection above the rate").await
}

/// A citizen's chat is within a budget in bytes: 300 lines of 2,000 characters (about ten
/// times the burst of 64 KiB), sent within the message rate over four connections; what is
/// accepted stays within the burst and the refill, every accepted line is in the log, none of
/// the refused. A facilitator's chat is not counted. Control characters are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizens_chat_is_within_a_budget_in_bytes() -> Result<()> {
    let w = world("bavard", &[]).await?;
    let mut conns = Vec::new();
    for _ in 0..proto::MAX_CONNECTIONS_PER_TOKEN {
        conns.push(w.join(ATTACKER).await?);
    }
    let line = |i: usize| format!("{i:04} {}", "bla ".repeat(499));
    let start = Instant::now();
    let (mut accepted, mut refused) = (Vec::new(), 0usize);
    for i in 0..300 {
        // 18 a second in all: within the message rate, so only the chat budget refuses.
        tokio::time::sleep(Duration::from_millis(55)).await;
        let c = &mut conns[i % 4];
        match c
            .request(Command::SendChat {
                text: line(i),
                room: None,
            })
            .await?
        {
            Ok(seq) => accepted.push((seq, line(i).trim().to_string())),
            Err((ErrorCode::RateLimited, _)) => refused += 1,
            Err(e) => bail!("line {i}: {e:?}"),
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cost = (line(0).trim().len() + proto::CHAT_LINE_COST as usize) as f64;
    let most =
        (proto::CHAT_BYTES_BURST as f64 + proto::CHAT_BYTES_PER_SEC as f64 * elapsed) / cost + 1.0;
    eprintln!(
        "300 lines of {cost} bytes: {} accepted, {refused} refused in {elapsed:.1} s (at most {most:.0})",
        accepted.len()
    );
    ensure!(
        accepted.len() >= (proto::CHAT_BYTES_BURST as f64 / cost) as usize,
        "the burst was not accepted: {}",
        accepted.len()
    );
    ensure!(
        (accepted.len() as f64) <= most,
        "{} lines accepted, more than the budget's {most:.0}",
        accepted.len()
    );
    // The log holds exactly the accepted lines of the attacker.
    let attacker_id = conns[0].id();
    let logged: Vec<(u64, String)> = w
        .server
        .log(&w.conv)?
        .into_iter()
        .filter_map(|r| match (&r.by, r.event) {
            (proto::Actor::Participant(id), Event::ChatPosted { text, .. })
                if *id == attacker_id =>
            {
                Some((r.seq, text))
            }
            _ => None,
        })
        .collect();
    ensure!(
        logged == accepted,
        "{} lines in the log, {} accepted",
        logged.len(),
        accepted.len()
    );

    // The facilitator's long lines are not counted against any budget but the message rate.
    let mut fac = w.join(FAC).await?;
    for i in 0..60 {
        tokio::time::sleep(Duration::from_millis(55)).await;
        fac.ok(Command::SendChat {
            text: line(i),
            room: None,
        })
        .await?;
    }
    // Control characters would weigh six bytes each once encoded: refused, with a reason.
    let mut other = w.join(OTHER).await?;
    match other
        .request(Command::SendChat {
            text: "\u{1}".repeat(1000),
            room: None,
        })
        .await?
    {
        Err((ErrorCode::Invalid, m)) if m.contains("control characters") => {}
        r => bail!("control characters: {r:?}"),
    }
    other
        .ok(Command::SendChat {
            text: "deux lignes\n\tet un alinéa".into(),
            room: None,
        })
        .await?;
    w.goes_on("a chat flood").await
}

/// `GET …/video` is counted in the invitation's HTTP budget like every route a participant
/// may call: ten times the burst of 60 requests get at most the burst and the refill, the
/// rest 429; another participant's meeting is still handed out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_video_route_is_within_the_invitation_budget() -> Result<()> {
    let w = world(
        "video",
        &[
            "--video",
            "link",
            "--video-link",
            "https://visio.example/{room}",
        ],
    )
    .await?;
    let http = reqwest::Client::new();
    let url = w.server.url(&format!("/api/conventions/{}/video", w.conv));
    let get = |name: &str| {
        http.get(&url)
            .bearer_auth(token_of(&w.invites, name))
            .send()
    };
    let start = Instant::now();
    let (mut ok, mut limited) = (0usize, 0usize);
    for _ in 0..10 * proto::HTTP_BURST {
        match get(ATTACKER).await?.status().as_u16() {
            200 => ok += 1,
            429 => limited += 1,
            s => bail!("video: {s}"),
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let most = proto::HTTP_BURST as f64 + proto::HTTP_PER_SEC as f64 * elapsed;
    eprintln!("600 video requests: {ok} answered, {limited} refused 429 in {elapsed:.1} s (at most {most:.0})");
    ensure!(
        ok >= proto::HTTP_BURST as usize && (ok as f64) <= most,
        "{ok} answered"
    );
    ensure!(limited > 0, "nothing refused");
    let status = get(OTHER).await?.status().as_u16();
    ensure!(status == 200, "another participant's meeting: {status}");
    w.goes_on("a video request flood").await
}

/// A citizen who may only read the opinion sends what a hand-made client can: updates of
/// 2 MiB, the frame limit, 40 MiB in all (ten times the 4 MiB a reader may send at once,
/// `READER_BYTES_BURST` in `docs/actor.rs`). Each was read, decoded and answered "read-only";
/// now the reader is closed 4429 once past its budget, reconnecting does not refill it, and the
/// writers go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_sending_updates_is_closed_past_its_budget() -> Result<()> {
    use convene::docs::{close as dclose, MAX_FRAME_BYTES};
    use convene_tests::ydoc::{DocWorld, W_CIT1, W_CIT2, W_RAP1};

    let w = DocWorld::start().await?;
    let writer = w.yc(W_RAP1).await?;
    let other = w.yc(W_CIT2).await?;
    let reader = w.yc(W_CIT1).await?;
    writer.push_paragraph("Proposition 1 : des navettes fluviales.");
    reader
        .wait_paragraph("Proposition 1 : des navettes fluviales.")
        .await?;
    let big = "y".repeat(MAX_FRAME_BYTES - 4096);
    let mut sent = 0;
    for _ in 0..20 {
        if reader.recorded().closed.is_some() {
            break;
        }
        // The client sends its local change at once, as a stock provider does.
        reader.append_text("scratch", &big);
        sent += big.len();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let code = reader.wait_closed().await?;
    eprintln!("reader closed with {code:?} after {sent} bytes sent");
    ensure!(
        code == Some(dclose::RATE_LIMITED),
        "reader closed with {code:?}"
    );
    ensure!(
        sent <= 4 * MAX_FRAME_BYTES,
        "{sent} bytes sent before the close"
    );
    // Coming back does not refill the budget (it is the participant's, not the connection's):
    // the next large frame closes the new connection too.
    let again = w.yc(W_CIT1).await?;
    again.append_text("scratch", &big);
    let code = again.wait_closed().await?;
    ensure!(
        code == Some(dclose::RATE_LIMITED),
        "the reader back closed with {code:?}"
    );
    // The writer goes on; the other reader sees it, and nothing of the reader's.
    writer.push_paragraph("Proposition 2 : le tram de nuit.");
    other
        .wait_paragraph("Proposition 2 : le tram de nuit.")
        .await?;
    ensure!(
        other.text("scratch").is_empty(),
        "a reader's text was taken"
    );
    Ok(())
}
