//! A worker process of the `public` scenario: it holds its share of the viewers, each a small
//! task on one thread, and reports what they measured as one JSON line.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use convene_protocol::PublicClientMessage;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

use super::{now_us, parse_text, WorkerReport, MAX_BROADCASTS};

/// A worker process: hold `CONVENE_LT_PUBLIC_VIEWERS` viewers, print `ready N`, measure, and
/// print a `WorkerReport` as one JSON line once every viewer has everything and stdin is
/// closed (or the drain passed after stdin closed, or the time is up).
///
/// One thread (a current-thread runtime and a `LocalSet`): each viewer is one small task that
/// reads its socket and looks at each frame where it lands, with no channel, no copy and no
/// lock between them; what they find is tallied in one `RefCell`.
pub fn worker_main() -> i32 {
    let _ = crate::procstat::raise_nofile_limit();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("public worker: {e}");
            return 3;
        }
    };
    let local = tokio::task::LocalSet::new();
    match local.block_on(&rt, worker()) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("public worker: {e:#}");
            3
        }
    }
}

/// A viewer's socket: small buffers (a view is under a few KiB; tungstenite's default read
/// buffer, 128 KiB, is zeroed again before each read and was most of the tester's CPU and
/// memory), writes sent at once (a viewer writes only its `watch` and pongs).
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(2 * 1024)
        .write_buffer_size(0)
        .max_message_size(Some(256 * 1024))
        .max_frame_size(Some(256 * 1024))
}

/// The bits of the announcements `0..expect`.
fn all_bits(expect: usize) -> u64 {
    if expect >= 64 {
        u64::MAX
    } else {
        (1u64 << expect) - 1
    }
}

async fn worker() -> Result<()> {
    let var = |k: &str| std::env::var(k).with_context(|| format!("{k} is not set"));
    let urls: Vec<String> = var("CONVENE_LT_PUBLIC_URLS")?
        .split(',')
        .filter(|u| !u.is_empty())
        .map(str::to_string)
        .collect();
    if urls.is_empty() {
        bail!("CONVENE_LT_PUBLIC_URLS names no node");
    }
    let link = var("CONVENE_LT_PUBLIC_LINK")?;
    let n: usize = var("CONVENE_LT_PUBLIC_VIEWERS")?.parse()?;
    let offset: usize = var("CONVENE_LT_PUBLIC_OFFSET")?.parse()?;
    let expect: usize = var("CONVENE_LT_PUBLIC_EXPECT")?.parse()?;
    let concurrency: usize = var("CONVENE_LT_PUBLIC_CONCURRENCY")?.parse()?;
    let seconds: u64 = var("CONVENE_LT_PUBLIC_SECONDS")?.parse()?;
    let drain: f64 = var("CONVENE_LT_PUBLIC_DRAIN")?.parse()?;
    let answer: f64 = var("CONVENE_LT_PUBLIC_ANSWER")?.parse()?;
    let answer_over: f64 = var("CONVENE_LT_PUBLIC_ANSWER_OVER")?.parse()?;
    if expect > MAX_BROADCASTS {
        bail!("at most {MAX_BROADCASTS} announcements");
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    let watch = Message::text(serde_json::to_string(&PublicClientMessage::Watch {
        protocol: 1,
        link,
    })?);

    let tally = Rc::new(RefCell::new(WorkerReport {
        opened_per_node: vec![0; urls.len()],
        delivery_us: vec![Vec::new(); expect * urls.len()],
        ..Default::default()
    }));
    // Connect, `concurrency` at a time, round-robin over the nodes.
    let sem = Rc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let urls: Vec<Rc<str>> = urls.into_iter().map(Rc::from).collect();
    for i in 0..n {
        let node = (offset + i) % urls.len();
        // Which viewers answer the public poll, and when after seeing it: at random.
        let answers = (answer > 0.0 && rand::random::<f64>() < answer).then(|| Answer {
            browser: format!("lt{offset:0>4}x{i:0>16}"),
            choice: (i % 3) as u32,
            after: Duration::from_secs_f64(rand::random::<f64>() * answer_over),
        });
        tokio::task::spawn_local(viewer(
            Rc::clone(&urls[node]),
            node,
            watch.clone(),
            Rc::clone(&sem),
            Rc::clone(&tally),
            (node * expect, all_bits(expect)),
            answers,
        ));
    }
    loop {
        let settled = {
            let t = tally.borrow();
            t.opened + t.failed
        };
        if settled >= n || tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    {
        let mut t = tally.borrow_mut();
        if let Some(r) = crate::procstat::read("self") {
            t.cpu_ready_s = r.cpu_s;
            t.rss_ready_kib = r.rss_kib;
        }
        println!("ready {}", t.opened);
    }

    // Closing stdin says: the last announcement is sent. Then stop once every viewer still
    // connected has everything, or at the drain.
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    let mut stdin_open = true;
    let mut drain_end: Option<tokio::time::Instant> = None;
    loop {
        if !stdin_open {
            let t = tally.borrow();
            if t.complete + t.closed_incomplete + t.failed >= n
                && t.answered + t.refused >= t.answering
            {
                break;
            }
        }
        let until = drain_end.map_or(deadline, |d| d.min(deadline));
        if tokio::time::Instant::now() >= until {
            break;
        }
        tokio::select! {
            line = stdin.next_line(), if stdin_open => {
                if !matches!(line, Ok(Some(_))) {
                    stdin_open = false;
                    drain_end = Some(tokio::time::Instant::now() + Duration::from_secs_f64(drain.max(0.0)));
                }
            }
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
    }
    let mut report = std::mem::take(&mut *tally.borrow_mut());
    if let Some(r) = crate::procstat::read("self") {
        report.cpu_s = r.cpu_s;
        report.rss_kib = r.rss_kib;
    }
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// A viewer's answer to the public poll: its browser id, its choice, and how long after
/// seeing the poll it sends it.
struct Answer {
    browser: String,
    choice: u32,
    after: Duration,
}

/// Where a viewer's answer to the public poll stands.
enum Answering {
    /// To answer once the poll shows.
    Waiting(Answer),
    /// The poll shown: the answer leaves then.
    Due(tokio::time::Instant, String, Answer),
    /// Sent at this time (µs since the epoch): the reply is awaited.
    Sent(u64),
    /// Answered, refused, or not answering.
    Done,
}

/// The open public poll's id in a `public_view`, found without parsing it (a quote inside a
/// JSON string is escaped, so `"poll":{"poll":"` is only ever the key of the open poll).
fn open_poll(text: &str) -> Option<&str> {
    let key = r#""poll":{"poll":""#;
    let from = text.find(key)? + key.len();
    let len = text[from..].find('"')?;
    Some(&text[from..from + len])
}

/// One viewer: connect, `watch`, then look at each frame for the floor and the announcements
/// until it has them all (and only count the frames after that); with an `Answer`, also for
/// the public poll, answered once after `Answer::after`, and for the answer's reply.
async fn viewer(
    url: Rc<str>,
    node: usize,
    watch: Message,
    sem: Rc<tokio::sync::Semaphore>,
    tally: Rc<RefCell<WorkerReport>>,
    (first, all): (usize, u64),
    answer: Option<Answer>,
) {
    let ws = {
        let _permit = sem.acquire().await.ok();
        // Boxed: the handshake's state is dropped with it, not kept in the task.
        let open = Box::pin(async move {
            let (mut ws, _) =
                tokio_tungstenite::connect_async_with_config(&*url, Some(ws_config()), true)
                    .await
                    .ok()?;
            ws.send(watch).await.ok()?;
            Some(ws)
        });
        tokio::time::timeout(Duration::from_secs(30), open)
            .await
            .ok()
            .flatten()
    };
    let Some(mut ws) = ws else {
        tally.borrow_mut().failed += 1;
        return;
    };
    {
        let mut t = tally.borrow_mut();
        t.opened += 1;
        t.opened_per_node[node] += 1;
    }
    let (mut got, mut floor) = (0u64, false);
    let mut answering = answer.map_or(Answering::Done, Answering::Waiting);
    loop {
        let due = match &answering {
            Answering::Due(at, ..) => Some(*at),
            _ => None,
        };
        let m = tokio::select! {
            m = ws.next() => m,
            _ = async { tokio::time::sleep_until(due.unwrap_or_else(tokio::time::Instant::now)).await }, if due.is_some() => {
                let Answering::Due(_, poll, a) = std::mem::replace(&mut answering, Answering::Done) else { continue };
                let vote = serde_json::to_string(&PublicClientMessage::PublicVote {
                    poll,
                    choice: a.choice,
                    browser: a.browser,
                })
                .unwrap_or_default();
                answering = Answering::Sent(now_us());
                if ws.send(Message::text(vote)).await.is_err() {
                    break;
                }
                continue;
            }
        };
        let Some(m) = m else { break };
        let text = match m {
            Ok(Message::Text(t)) => t,
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => continue,
        };
        let at = now_us();
        let mut t = tally.borrow_mut();
        t.frames += 1;
        t.bytes += text.len() as u64;
        match &answering {
            Answering::Sent(sent) => {
                let reply = if text.starts_with(r#"{"type":"public_voted""#) {
                    t.answered += 1;
                    t.answer_us.push(at.saturating_sub(*sent));
                    true
                } else if text.starts_with(r#"{"type":"public_vote_refused""#) {
                    t.refused += 1;
                    if t.refusals.len() < 5 {
                        t.refusals.push(text.to_string());
                    }
                    true
                } else {
                    false
                };
                if reply {
                    answering = Answering::Done;
                    continue;
                }
            }
            Answering::Waiting(_) => {
                if let Some(poll) = open_poll(&text) {
                    t.answering += 1;
                    if let Answering::Waiting(a) =
                        std::mem::replace(&mut answering, Answering::Done)
                    {
                        let due = tokio::time::Instant::now() + a.after;
                        answering = Answering::Due(due, poll.to_string(), a);
                    }
                }
            }
            Answering::Due(..) | Answering::Done => {}
        }
        if floor && got == all {
            continue;
        }
        let t = &mut *t;
        let Some(since) = scan(&text, |k, sent| {
            if k < MAX_BROADCASTS && all & (1 << k) != 0 && got & (1 << k) == 0 {
                got |= 1 << k;
                t.delivery_us[first + k].push(at.saturating_sub(sent));
            }
        }) else {
            continue;
        };
        t.scanned += 1;
        if let (false, Some(since)) = (floor, since) {
            floor = true;
            t.floor_us.push(at.saturating_sub(since * 1000));
        }
        if floor && got == all {
            t.complete += 1;
        }
    }
    let mut t = tally.borrow_mut();
    t.closed += 1;
    if !(floor && got == all) {
        t.closed_incomplete += 1;
    }
}

/// What a viewer needs of a frame, found without parsing it: `None` unless it is a
/// `public_view`; else the floor's `since` (ms) if someone has the floor, and each
/// announcement `PUB <k> t=<µs>` handed to `each`. Inside a JSON string a quote is escaped,
/// so `"floor":`, `"since":`, `"announcements":[`, `"results":` and `"text":"` are found only
/// as the keys they are (PROTOCOL.md §24: announcements hold `at` and `text` only).
fn scan(text: &str, mut each: impl FnMut(usize, u64)) -> Option<Option<u64>> {
    let rest = text.strip_prefix(r#"{"type":"public_view","#)?;
    let floor = rest.find(r#""floor":"#).and_then(|at| {
        let f = &rest[at + r#""floor":"#.len()..];
        if !f.starts_with('{') {
            return None;
        }
        let since = f.find(r#""since":"#)?;
        leading_number(&f[since + r#""since":"#.len()..])
    });
    if let Some(at) = rest.find(r#""announcements":["#) {
        let list = &rest[at..];
        let list = &list[..list.find(r#""results":"#).unwrap_or(list.len())];
        let mut from = 0;
        while let Some(i) = list[from..].find(r#""text":"PUB "#) {
            let start = from + i + r#""text":""#.len();
            let end = list[start..].find('"').map_or(list.len(), |e| start + e);
            if let Some((k, sent)) = parse_text(&list[start..end]) {
                each(k, sent);
            }
            from = end;
        }
    }
    Some(floor)
}

fn leading_number(text: &str) -> Option<u64> {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    text[..end].parse().ok()
}

#[cfg(test)]
mod tests {
    use convene_protocol::{PublicAnnouncement, PublicFloor, PublicServerMessage, PublicView};

    use super::super::public_ws;
    use super::{parse_text, scan};

    #[test]
    fn announcement_texts_carry_their_index_and_send_time() {
        assert_eq!(
            parse_text("PUB 3 t=1796565600000000"),
            Some((3, 1796565600000000))
        );
        assert_eq!(parse_text("Bonjour"), None);
    }

    #[test]
    fn the_public_endpoint_is_beside_ws() {
        assert_eq!(
            public_ws("ws://127.0.0.1:8080/ws"),
            "ws://127.0.0.1:8080/public/ws"
        );
    }

    fn frame(floor: Option<PublicFloor>, texts: &[&str]) -> String {
        serde_json::to_string(&PublicServerMessage::PublicView {
            server_time: 1796565600123,
            view: Box::new(PublicView {
                convention: r#"Load test "floor":{"since":1} "text":"PUB 7 t=9""#.into(),
                floor,
                announcements: texts
                    .iter()
                    .map(|t| PublicAnnouncement {
                        at: 1796565600000,
                        text: (*t).into(),
                    })
                    .collect(),
                livestream: Some(r#"https://x.example/"results":"#.into()),
                viewers: 20000,
                ..Default::default()
            }),
        })
        .unwrap()
    }

    /// The floor's `since` and the announcements found.
    type Found = (Option<u64>, Vec<(usize, u64)>);

    fn scanned(text: &str) -> Option<Found> {
        let mut pubs = Vec::new();
        let floor = scan(text, |k, t| pubs.push((k, t)))?;
        Some((floor, pubs))
    }

    /// The scan finds what serde finds, whatever the strings around hold.
    #[test]
    fn the_scan_finds_the_floor_and_the_announcements_as_serde_does() {
        let speaker = PublicFloor {
            name: r#"Citoyen "since":5 \ 1"#.into(),
            since: 1796565599000,
            ends_at: Some(1796565899000),
        };
        let texts = [
            "PUB 0 t=1796565600000001",
            r#"Bonjour "text":"PUB 8 t=1" à tous"#,
            "PUB 1 t=1796565600000002",
            "PUBLIC 2 t=3",
        ];
        let text = frame(Some(speaker.clone()), &texts);
        let Ok(PublicServerMessage::PublicView { view, .. }) = serde_json::from_str(&text) else {
            panic!("not a view")
        };
        let by_serde: Vec<(usize, u64)> = view
            .announcements
            .iter()
            .filter_map(|a| parse_text(&a.text))
            .collect();
        assert_eq!(
            scanned(&text),
            Some((view.floor.map(|f| f.since), by_serde.clone()))
        );
        assert_eq!(by_serde, vec![(0, 1796565600000001), (1, 1796565600000002)]);
        assert_eq!(scanned(&frame(None, &[])), Some((None, vec![])));
        let count =
            serde_json::to_string(&PublicServerMessage::PublicCount { viewers: 3 }).unwrap();
        assert_eq!(scanned(&count), None);
        let pong = serde_json::to_string(&PublicServerMessage::Pong { server_time: 3 }).unwrap();
        assert_eq!(scanned(&pong), None);
    }
}
