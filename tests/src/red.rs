//! What the red-team tests (`tests/red_team_2.rs`) share: a small convention, "the
//! convention goes on", requests paced within one connection's rate limit, the most a budget
//! lets through, participants' HTTP requests, the server's memory.

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use convene_protocol::api::{ErrorBody, Invite, RosterEntry};
use convene_protocol::{Command, ErrorCode, Event, Role};

use crate::{person, Client, Server};

pub const FAC: &str = "Claire Animatrice";
pub const RAP: &str = "Rita Rapporteure";
pub const GAR: &str = "Gaston Garant";

pub fn citizen(i: usize) -> String {
    format!("Citoyen {i:02}")
}

/// A convention with a facilitator, a rapporteur, a guarantor, `extra` and `n` citizens;
/// returns the invitations.
pub async fn convention(
    server: &Server,
    id: &str,
    extra: Vec<RosterEntry>,
    n: usize,
) -> Result<Vec<Invite>> {
    let mut roster = vec![
        person(FAC, &[Role::Facilitator], &[]),
        person(RAP, &[Role::Rapporteur], &[]),
        person(GAR, &[Role::Guarantor], &[]),
    ];
    roster.extend(extra);
    for i in 0..n {
        roster.push(person(&citizen(i), &[Role::Citizen], &[]));
    }
    server.http().convention(id, &roster).await
}

/// `a` chats and `b` hears it: the convention goes on. Returns the line's seq.
pub async fn goes_on(a: &mut Client, b: &mut Client, text: &str) -> Result<u64> {
    let seq = a
        .ok(Command::SendChat {
            room: None,
            text: text.to_string(),
        })
        .await?;
    let r = b.wait_seq(seq).await?;
    ensure!(
        matches!(&r.event, Event::ChatPosted { text: t, .. } if t == text),
        "{}: seq {seq} is {:?}",
        b.name,
        r.event
    );
    Ok(seq)
}

/// A request's reply: `Ok(seq)` or the error's code and message.
pub type Reply = std::result::Result<u64, (ErrorCode, String)>;

/// Send `commands` one after the other, within the rate limit of one connection (20 a
/// second, PROTOCOL.md §16), and collect each reply.
pub async fn paced(mut c: Client, commands: Vec<Command>) -> Result<(Client, Vec<Reply>)> {
    let mut replies = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(60));
    // A slow reply delays the next request rather than letting the missed ones go at once.
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for command in commands {
        tick.tick().await;
        replies.push(c.request(command).await?);
        // Events pile up in the inbox otherwise: nobody reads them here.
        c.inbox.clear();
    }
    Ok((c, replies))
}

/// Commands shared out over `conns` connections, each paced, all at once.
pub async fn paced_over(
    conns: Vec<Client>,
    commands: Vec<Command>,
) -> Result<(Vec<Client>, Vec<Reply>)> {
    let n = conns.len();
    let mut shares: Vec<Vec<Command>> = vec![Vec::new(); n];
    for (i, c) in commands.into_iter().enumerate() {
        shares[i % n].push(c);
    }
    let tasks: Vec<_> = conns
        .into_iter()
        .zip(shares)
        .map(|(c, share)| tokio::spawn(paced(c, share)))
        .collect();
    let mut clients = Vec::new();
    let mut replies = Vec::new();
    for t in tasks {
        let (c, r) = t.await??;
        clients.push(c);
        replies.extend(r);
    }
    Ok((clients, replies))
}

/// Every reply is `ok` or `code`; returns how many are `ok`.
pub fn only_ok_or(replies: &[Reply], code: ErrorCode, what: &str) -> Result<usize> {
    for r in replies {
        if let Err((c, m)) = r {
            ensure!(*c == code, "{what}: refused with {c:?} ({m}), not {code:?}");
        }
    }
    Ok(replies.iter().filter(|r| r.is_ok()).count())
}

/// The most a budget of `burst` at once and `per_sec` after lets through in `elapsed`
/// (one more for the tick in between).
pub fn ceiling(burst: f64, per_sec: f64, elapsed: Duration) -> usize {
    (burst + (elapsed.as_secs_f64() * per_sec).ceil()) as usize + 1
}

/// `GET path` with `token` as `Authorization: Bearer`: the status, the body, and the error's
/// code when the body is one.
pub async fn get_as(
    http: &reqwest::Client,
    server: &Server,
    path: &str,
    token: &str,
) -> Result<(u16, Vec<u8>, Option<ErrorCode>)> {
    let r = http
        .get(server.url(path))
        .bearer_auth(token)
        .send()
        .await
        .with_context(|| format!("GET {path}"))?;
    let status = r.status().as_u16();
    let body = r.bytes().await?;
    let code = serde_json::from_slice::<ErrorBody>(&body)
        .ok()
        .filter(|_| status >= 400)
        .map(|e| e.code);
    Ok((status, body.to_vec(), code))
}

/// Resident memory of a process, KiB.
pub fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no VmRSS for {pid}"))
}
