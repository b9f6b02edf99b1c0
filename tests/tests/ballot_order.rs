//! Secret ballots leave no order behind once their poll is closed. Voters cast distinguishable
//! secret ballots (free texts carrying a random tag), half of them one after the other, half at
//! once, the poll is closed,
//! and every order that can be read from what the server keeps is paired with the order of the
//! `voter_marked` records of the log, the way someone holding the files would: the order of the
//! ballots in each file, in each page (cell content offsets) and in each page's cell pointer
//! array, in each write-ahead-log frame, across pages and frames (page numbers, frame order,
//! free pages: every byte of every file is searched, freed content included), and in cluster
//! mode in every Redis value of the convention (`SMEMBERS` order and the others) and in an RDB
//! snapshot of Redis. The test fails if any of these orders links more voters to their ballot
//! than chance would.
//!
//! Two statistics, each on every order found. Write `r_j` for the casting rank (the place of
//! the voter's `voter_marked` in the log) of the `j`-th ballot of an order of `m` ballots.
//!
//! - Pairings: an attacker pairs the `j`-th ballot with the `(j + s)`-th voter, or, reversed
//!   (cells fill a page from its end), with the `(s - j)`-th, trying every shift `s`; within a
//!   page, `j` may also be the ballot's slot counted from the page's end (a cell that never
//!   moved keeps the slot it was written at, holes included). One pairing links
//!   `#{j : r_j = j + s}` (resp. `s - j`) voters. Under the fix, given the layout, the ballot at
//!   each place is a uniformly random injection of the `n` ballots (fresh random keys inserted
//!   in a random order, the test's ballots all of one size; or one sorted list, and the tags
//!   are random, so sorted order is random order). For one pairing, the expected number of
//!   `k`-sets of linked voters is at most `C(n, k) (n-k)! / n! = 1/k!`, so
//!   `P(links >= k) <= 1/k!`; over the `T` pairings tried (those whose overlap can reach `k`,
//!   identical orders once) at most `T / k!`. The test takes the least `k` with
//!   `T / k! <= 0.5e-4`. `T` depends on the layout only (how many ballots each order holds),
//!   never on which ballot sits where, so choosing `k` from it is sound.
//! - Kept orders: Kendall's inversion count of `(r_j)` has, for a random order, the Mahonian
//!   distribution, computed exactly; the two-sided p-value of each of the `D` distinct orders
//!   must stay above `0.5e-4 / D` (Bonferroni). This sees an order kept with gaps (a page that
//!   holds every other ballot, in casting order), which exact pairings can miss.
//!
//! A false failure has a probability below 1e-4 per run (each check prints its bound). Today,
//! before the fix, 12 of 12 voters are linked by the order of first occurrences in
//! `convene.sqlite3`, and with 40 voters the ballot page that kept its cells in place links 15
//! or 16 of its ballots by their slot (threshold 11) and keeps their order (p < 1e-7).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use anyhow::{bail, ensure, Context, Result};
use convene_tests::proto::{self, Actor, Ballot, Command, Event, PollKind, Role};
use convene_tests::{
    convene_cli, fresh_redis, own_redis, person, poll_spec, tempdir, Client, Server,
};
use rand::seq::SliceRandom;
use rand::Rng;

/// Family-wise probability of a false failure the threshold is chosen for.
const FALSE_FAILURE: f64 = 1e-4;

/// A voter's ballot: a free text with a random tag, so that its bytes are found wherever they
/// are, and so that sorting ballots (as the sealed box and the tally do) orders them at random.
fn tag() -> String {
    let mut rng = rand::thread_rng();
    (0..16)
        .map(|_| char::from_digit(rng.gen_range(0..16), 16).unwrap_or('0'))
        .collect()
}

/// One secret poll as run by the test: each voter's participant id and tag.
struct Run {
    convention: String,
    poll: String,
    voters: Vec<(String, String)>,
}

/// A facilitator opens a secret free-text poll; `n` citizens vote, the first ones one after the
/// other (one vote per group commit), the last `at_once` at once (several votes per group
/// commit). `urls` are the nodes' WebSocket URLs (voters spread over them). The poll is left
/// open.
async fn run_poll(
    organizer: &Server,
    urls: &[String],
    convention: &str,
    n: usize,
    at_once: usize,
) -> Result<(Run, Client)> {
    let mut roster = vec![person("Claire Animatrice", &[Role::Facilitator], &[])];
    for i in 0..n {
        roster.push(person(&format!("Juré {i:02}"), &[Role::Citizen], &[]));
    }
    let invites = organizer.http().convention(convention, &roster).await?;
    let invite = |name: &str| {
        invites
            .iter()
            .find(|v| v.name == name)
            .with_context(|| format!("{name} not invited"))
    };
    let mut fac = Client::join(&urls[0], "fac", &invite("Claire Animatrice")?.token).await?;
    let spec = poll_spec(
        "Quelle est votre proposition ?",
        PollKind::Text { max_chars: 60 },
        true,
        false,
    );
    let (poll, _) = fac.draft_and_open(spec).await?;
    let mut voters = Vec::new();
    let mut clients = Vec::new();
    for i in 0..n {
        let name = format!("Juré {i:02}");
        let v = invite(&name)?;
        clients.push(Client::join(&urls[i % urls.len()], &name, &v.token).await?);
        voters.push((v.participant.clone(), tag()));
    }
    let vote = |poll: String, t: String| Command::Vote {
        poll,
        ballot: Ballot::Text {
            text: format!("avis {t}"),
        },
    };
    let one_by_one = n - at_once.min(n);
    for (c, (_, t)) in clients.iter_mut().zip(&voters).take(one_by_one) {
        c.ok(vote(poll.clone(), t.clone())).await?;
    }
    let mut burst = Vec::new();
    for (mut c, (_, t)) in clients.drain(..).zip(&voters).skip(one_by_one) {
        let cmd = vote(poll.clone(), t.clone());
        burst.push(tokio::spawn(async move { c.ok(cmd).await }));
    }
    for b in burst {
        b.await??;
    }
    let run = Run {
        convention: convention.into(),
        poll,
        voters,
    };
    Ok((run, fac))
}

/// The facilitator closes the poll; every ballot is counted.
async fn close(fac: &mut Client, run: &Run) -> Result<()> {
    let seq = fac
        .ok(Command::ClosePoll {
            poll: run.poll.clone(),
        })
        .await?;
    let Event::PollClosed {
        tally: Some(tally), ..
    } = fac.wait_seq(seq).await?.event
    else {
        bail!("no tally for the facilitator")
    };
    ensure!(
        tally.ballots == run.voters.len() as u64,
        "{} ballots counted",
        tally.ballots
    );
    Ok(())
}

/// No ballot of `run` anywhere in `bytes`.
fn no_ballot(what: &str, bytes: &[u8], run: &Run) -> Result<()> {
    for (p, t) in &run.voters {
        ensure!(
            find(bytes, t.as_bytes()).is_none(),
            "{what} holds {p}'s secret ballot"
        );
    }
    Ok(())
}

/// Voters in the order of their `voter_marked` records.
fn marks_order(records: &[proto::Record], poll: &str) -> Vec<String> {
    records
        .iter()
        .filter_map(|r| match (&r.event, &r.by) {
            (Event::VoterMarked { poll: p }, Actor::Participant(who)) if p == poll => {
                Some(who.clone())
            }
            _ => None,
        })
        .collect()
}

/// The whole log of a convention, read from a copy of the SQLite files (the server may still
/// be running: the copy is opened, not the live database).
fn sqlite_log(data: &Path, convention: &str) -> Result<Vec<proto::Record>> {
    let scratch = tempdir();
    for f in ["convene.sqlite3", "convene.sqlite3-wal"] {
        if data.join(f).exists() {
            std::fs::copy(data.join(f), scratch.path().join(f))?;
        }
    }
    let db = rusqlite::Connection::open(scratch.path().join("convene.sqlite3"))?;
    let bodies: Vec<String> = db
        .prepare("SELECT body FROM events WHERE convention = ?1 ORDER BY seq")?
        .query_map([convention], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    bodies
        .iter()
        .map(|b| serde_json::from_str(b).context("a record"))
        .collect()
}

/// An order found somewhere: voters (by index), in the order their ballots appear.
struct Order {
    place: String,
    voters: Vec<usize>,
    /// Where each ballot stands, when more than its rank in the order: its slot counted from
    /// the end of its page (a cell's place, holes included).
    slots: Option<Vec<i64>>,
}

impl Order {
    fn new(place: String, voters: Vec<usize>) -> Order {
        Order {
            place,
            voters,
            slots: None,
        }
    }

    /// The positions a pairing aligns with the casting ranks.
    fn positions(&self) -> Vec<i64> {
        match &self.slots {
            Some(s) => s.clone(),
            None => (0..self.voters.len() as i64).collect(),
        }
    }
}

/// The voters of `page` with their slot counted from the page's end, in cells of the size
/// most common between consecutive ballots: a cell that never moved since it was written
/// keeps the slot it was written at, whatever moved around it.
fn slot_order(page: &[u8], tags: &[(Vec<u8>, usize)]) -> Option<(Vec<usize>, Vec<i64>)> {
    let mut found: Vec<(usize, usize)> = tags
        .iter()
        .filter_map(|(t, v)| find(page, t).map(|at| (at, *v)))
        .collect();
    found.sort();
    let mut gaps: HashMap<usize, usize> = HashMap::new();
    for w in found.windows(2) {
        *gaps.entry(w[1].0 - w[0].0).or_default() += 1;
    }
    let (cell, _) = gaps.into_iter().max_by_key(|(g, c)| (*c, *g))?;
    let slots = found
        .iter()
        .map(|(at, _)| ((page.len() - at) / cell) as i64)
        .collect();
    Some((found.into_iter().map(|(_, v)| v).collect(), slots))
}

/// The voters whose tags occur in `bytes`, in order of first occurrence.
fn order_in(bytes: &[u8], tags: &[(Vec<u8>, usize)]) -> Vec<usize> {
    let mut found: Vec<(usize, usize)> = tags
        .iter()
        .filter_map(|(t, v)| find(bytes, t).map(|at| (at, *v)))
        .collect();
    found.sort();
    found.into_iter().map(|(_, v)| v).collect()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn find_last(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

/// The B-tree leaf page's cells in cell pointer order (their content offsets), if `page` is
/// a leaf page (`header` is 100 on the database's first page, else 0).
fn cell_pointers(page: &[u8], header: usize) -> Option<Vec<usize>> {
    let kind = *page.get(header)?;
    if kind != 0x0a && kind != 0x0d {
        return None;
    }
    let cells = u16::from_be_bytes([*page.get(header + 3)?, *page.get(header + 4)?]) as usize;
    (0..cells)
        .map(|i| {
            let at = header + 8 + 2 * i;
            Some(u16::from_be_bytes([*page.get(at)?, *page.get(at + 1)?]) as usize)
        })
        .collect()
}

/// The voters of `page` in the order of its cell pointer array: each tag belongs to the cell
/// whose content starts last at or before it.
fn pointer_order(page: &[u8], header: usize, tags: &[(Vec<u8>, usize)]) -> Vec<usize> {
    let Some(pointers) = cell_pointers(page, header) else {
        return Vec::new();
    };
    // (cell index, offset, voter): several ballots of one cell (a list) keep their offsets.
    let mut found: Vec<(usize, usize, usize)> = Vec::new();
    for (t, v) in tags {
        let Some(at) = find(page, t) else { continue };
        let cell = pointers
            .iter()
            .enumerate()
            .filter(|(_, p)| **p <= at)
            .max_by_key(|(_, p)| **p)
            .map(|(i, _)| i);
        if let Some(i) = cell {
            found.push((i, at, *v));
        }
    }
    found.sort();
    found.into_iter().map(|(_, _, v)| v).collect()
}

/// Every order a reader of `bytes` (a file, or a Redis value) can take: first and last
/// occurrences across the whole; then per page (SQLite) or frame (write-ahead log), by offset
/// and by cell pointer.
fn orders_of(name: &str, bytes: &[u8], tags: &[(Vec<u8>, usize)], out: &mut Vec<Order>) {
    out.push(Order::new(
        format!("{name}: first occurrences"),
        order_in(bytes, tags),
    ));
    let mut last: Vec<(usize, usize)> = tags
        .iter()
        .filter_map(|(t, v)| find_last(bytes, t).map(|at| (at, *v)))
        .collect();
    last.sort();
    out.push(Order::new(
        format!("{name}: last occurrences"),
        last.into_iter().map(|(_, v)| v).collect(),
    ));
    let page_size = |b: &[u8]| match u16::from_be_bytes([b[0], b[1]]) {
        1 => 65536,
        s => s as usize,
    };
    if bytes.starts_with(b"SQLite format 3\0") && bytes.len() >= 100 {
        let size = page_size(&bytes[16..18]);
        for (i, page) in bytes.chunks(size).enumerate() {
            let header = if i == 0 { 100 } else { 0 };
            page_orders(&format!("{name}: page {}", i + 1), page, header, tags, out);
        }
    } else if name.ends_with("-wal") && bytes.len() >= 32 {
        let size = u32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize;
        for (i, frame) in bytes[32..].chunks(24 + size).enumerate() {
            if frame.len() < 24 + size {
                break;
            }
            let page_no = u32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]);
            let header = if page_no == 1 { 100 } else { 0 };
            let place = format!("{name}: frame {i} (page {page_no})");
            page_orders(&place, &frame[24..], header, tags, out);
        }
    }
}

/// The orders of one database page: by offset, by slot from its end, by cell pointer.
fn page_orders(
    place: &str,
    page: &[u8],
    header: usize,
    tags: &[(Vec<u8>, usize)],
    out: &mut Vec<Order>,
) {
    out.push(Order::new(
        format!("{place} by offset"),
        order_in(page, tags),
    ));
    if let Some((voters, slots)) = slot_order(page, tags) {
        out.push(Order {
            place: format!("{place} by slot from its end"),
            voters,
            slots: Some(slots),
        });
    }
    out.push(Order::new(
        format!("{place} by cell pointer"),
        pointer_order(page, header, tags),
    ));
}

/// The most voters one pairing of `order` with the marks links, and the pairings that could
/// link `k` or more (a shift whose overlap is at least `k`, in either direction).
fn links(order: &Order, rank: &[usize], n: usize, k: usize) -> (usize, usize) {
    let positions = order.positions();
    let n = n as i64;
    let mut forward: HashMap<i64, usize> = HashMap::new();
    let mut reverse: HashMap<i64, usize> = HashMap::new();
    for (p, v) in positions.iter().zip(&order.voters) {
        let r = rank[*v] as i64;
        *forward.entry(r - p).or_default() += 1;
        *reverse.entry(r + p).or_default() += 1;
    }
    let best = forward
        .values()
        .chain(reverse.values())
        .copied()
        .max()
        .unwrap_or(0);
    let (Some(low), Some(high)) = (positions.iter().min(), positions.iter().max()) else {
        return (0, 0);
    };
    let mut tried = 0;
    for s in -high..n - low {
        // Forward: the ballot at p with the voter of rank p + s.
        let overlap = positions
            .iter()
            .filter(|p| (0..n).contains(&(*p + s)))
            .count();
        tried += usize::from(overlap >= k);
    }
    for s in *low..high + n {
        // Reversed: the ballot at p with the voter of rank s - p.
        let overlap = positions
            .iter()
            .filter(|p| (0..n).contains(&(s - *p)))
            .count();
        tried += usize::from(overlap >= k);
    }
    (best, tried)
}

fn factorial(k: usize) -> f64 {
    (1..=k).map(|i| i as f64).product()
}

/// The number of inversions of `ranks` (pairs out of order): Kendall's statistic.
fn inversions(ranks: &[usize]) -> usize {
    let mut n = 0;
    for (i, a) in ranks.iter().enumerate() {
        n += ranks[i + 1..].iter().filter(|b| *b < a).count();
    }
    n
}

/// The distribution of the inversions of a uniformly random permutation of `m` (Mahonian
/// numbers, as probabilities): `p[i]` is the chance of exactly `i` inversions.
fn mahonian(m: usize) -> Vec<f64> {
    let mut p = vec![1.0];
    for k in 2..=m {
        // Inserting the k-th element adds 0 to k-1 inversions, each with chance 1/k.
        let mut next = vec![0.0; p.len() + k - 1];
        for (i, q) in p.iter().enumerate() {
            for add in 0..k {
                next[i + add] += q / k as f64;
            }
        }
        p = next;
    }
    p
}

/// Two-sided exact p-value of the order of `ranks` against a random order: how likely a
/// random permutation is to be as far, or farther, from half the pairs inverted.
fn kendall_p(ranks: &[usize]) -> f64 {
    let x = inversions(ranks);
    let p = mahonian(ranks.len());
    let low: f64 = p[..=x].iter().sum();
    let high: f64 = p[x..].iter().sum();
    (2.0 * low.min(high)).min(1.0)
}

/// Check every order against the marks: no pairing links as many voters as the threshold,
/// and no order keeps the casting order beyond chance.
fn check_orders(what: &str, orders: &[Order], marks: &[String], run: &Run) -> Result<()> {
    let n = run.voters.len();
    let index: HashMap<&str, usize> = run
        .voters
        .iter()
        .enumerate()
        .map(|(i, (p, _))| (p.as_str(), i))
        .collect();
    ensure!(marks.len() == n, "{} voters marked, {n} voted", marks.len());
    let mut rank = vec![0; n];
    for (r, who) in marks.iter().enumerate() {
        rank[*index.get(who.as_str()).context("a mark of a non-voter")?] = r;
    }
    // Identical orders are one test; an order shorter than 3 tells nothing.
    let mut seen = HashSet::new();
    let distinct: Vec<&Order> = orders
        .iter()
        .filter(|o| o.voters.len() >= 3 && seen.insert((o.voters.clone(), o.positions())))
        .collect();
    // Half of the budget for the pairings, half for the orders kept.
    let mut k = 3;
    let tried = loop {
        let tried: usize = distinct.iter().map(|o| links(o, &rank, n, k).1).sum();
        if tried as f64 / factorial(k) <= FALSE_FAILURE / 2.0 {
            break tried;
        }
        k += 1;
    };
    ensure!(
        k <= n,
        "{what}: too many orders ({tried} pairings) for a threshold of at most {n} voters"
    );
    let alpha = FALSE_FAILURE / 2.0 / distinct.len().max(1) as f64;
    let mut worst_links = (0, "");
    let mut worst_p = (1.0, "");
    let mut failures = Vec::new();
    for o in &distinct {
        let ranks: Vec<usize> = o.voters.iter().map(|v| rank[*v]).collect();
        if std::env::var("BALLOT_DEBUG").is_ok() {
            eprintln!("  {}: {:?}", o.place, ranks);
        }
        let (best, _) = links(o, &rank, n, k);
        if best > worst_links.0 {
            worst_links = (best, o.place.as_str());
        }
        if best >= k {
            failures.push(format!(
                "{}: one pairing links {best} of its {} ballots to their voter",
                o.place,
                o.voters.len()
            ));
        }
        let p = kendall_p(&ranks);
        if p < worst_p.0 || worst_p.1.is_empty() {
            worst_p = (p, o.place.as_str());
        }
        if p <= alpha {
            failures.push(format!(
                "{}: its {} ballots keep the casting order (Kendall p = {p:.1e})",
                o.place,
                o.voters.len()
            ));
        }
    }
    eprintln!(
        "{what}: {n} voters, {} distinct orders; pairings: {tried} tried, threshold {k}, most \
         linked by one: {} ({}); orders kept: threshold p <= {alpha:.1e}, least p {:.2e} ({}); \
         P(false failure) <= {:.1e}",
        distinct.len(),
        worst_links.0,
        worst_links.1,
        worst_p.0,
        worst_p.1,
        tried as f64 / factorial(k) + alpha * distinct.len() as f64,
    );
    ensure!(
        failures.is_empty(),
        "{what}: the order of the secret ballots links voters to their ballot: {}",
        failures.join("; ")
    );
    Ok(())
}

/// The tags of a run, as byte needles with their voter.
fn needles(run: &Run) -> Vec<(Vec<u8>, usize)> {
    run.voters
        .iter()
        .enumerate()
        .map(|(i, (_, t))| (t.as_bytes().to_vec(), i))
        .collect()
}

/// Every file of the data directory, as bytes.
fn files(data: &Path) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(data)? {
        let path = entry?.path();
        if path.is_file() {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            out.insert(name, std::fs::read(&path)?);
        }
    }
    Ok(out)
}

fn file_orders(files: &BTreeMap<String, Vec<u8>>, run: &Run) -> Vec<Order> {
    let tags = needles(run);
    let mut orders = Vec::new();
    for (name, bytes) in files {
        orders_of(name, bytes, &tags, &mut orders);
    }
    orders
}

/// The ballots are really on disk (so that finding no order is not finding nothing).
fn all_found(files: &BTreeMap<String, Vec<u8>>, file: &str, run: &Run) -> Result<()> {
    let bytes = files.get(file).context("no such file")?;
    for (p, t) in &run.voters {
        ensure!(
            find(bytes, t.as_bytes()).is_some(),
            "{p}'s ballot is not in {file}"
        );
    }
    Ok(())
}

async fn sqlite_case(n: usize) -> Result<()> {
    let dir = tempdir();
    let data = dir.path().join("data");
    // A state stored every other event: several while the vote is on.
    let mut server = Server::start_with(&data, &["--state-every", "2"]).await?;
    let (run, mut fac) =
        run_poll(&server, &[server.ws_url()], &format!("jury{n}"), n, n / 2).await?;
    // The stored states (derived data, in a file of their own) hold no secret ballot.
    ensure!(
        server.metric("convene_states_stored_total").await? > 0,
        "states were stored during the vote"
    );
    for (name, bytes) in files(&data)? {
        if name.starts_with("states.sqlite3") {
            no_ballot(&name, &bytes, &run)?;
        }
    }
    close(&mut fac, &run).await?;
    // Right after the close is acknowledged, the server still running.
    let running = files(&data)?;
    if std::env::var("BALLOT_DEBUG").is_ok() {
        let keep = std::env::temp_dir().join(format!("ballots-kept-{n}"));
        std::fs::create_dir_all(&keep)?;
        for (name, bytes) in &running {
            std::fs::write(keep.join(name), bytes)?;
        }
        eprintln!("kept in {}", keep.display());
    }
    let marks = marks_order(&sqlite_log(&data, &run.convention)?, &run.poll);
    all_found(&running, "convene.sqlite3", &run)?;
    check_orders(
        &format!("{n} voters, after the close"),
        &file_orders(&running, &run),
        &marks,
        &run,
    )?;
    // At rest, after a clean stop.
    server.terminate().await?;
    let stopped = files(&data)?;
    all_found(&stopped, "convene.sqlite3", &run)?;
    check_orders(
        &format!("{n} voters, after the stop"),
        &file_orders(&stopped, &run),
        &marks,
        &run,
    )
}

/// `convene backup` while the poll is open: the copy keeps no order of the casting (a fresh
/// file, each table's rows in the order of their keys, random for the ballot box), where a
/// copy of the files taken at the same moment does (ARCHITECTURE.md, "Secret ballots"): that
/// control shows that the check can fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_during_a_secret_vote_keeps_no_order_of_the_casting() -> Result<()> {
    let n = 40;
    let dir = tempdir();
    let data = dir.path().join("data");
    let server = Server::start(&data).await?;
    let (run, _fac) = run_poll(&server, &[server.ws_url()], "urne", n, n / 2).await?;
    let raw = files(&data)?;
    let out = dir.path().join("copy");
    convene_cli([
        std::ffi::OsStr::new("backup"),
        "--data".as_ref(),
        data.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ])?;
    let marks = marks_order(&sqlite_log(&data, &run.convention)?, &run.poll);
    let copy = files(&out)?;
    all_found(&copy, "convene.sqlite3", &run)?;
    check_orders(
        &format!("{n} voters, a backup during the vote"),
        &file_orders(&copy, &run),
        &marks,
        &run,
    )?;
    ensure!(
        check_orders(
            &format!("{n} voters, the files copied during the vote"),
            &file_orders(&raw, &run),
            &marks,
            &run,
        )
        .is_err(),
        "the files copied during the vote link no voter to a ballot: the control of this test \
         no longer holds (has the store changed?)"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twelve_secret_ballots_leave_no_order_in_the_sqlite_files() -> Result<()> {
    sqlite_case(12).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_secret_ballots_leave_no_order_in_the_sqlite_files() -> Result<()> {
    sqlite_case(40).await
}

/// Every value of the convention's keys, as Redis returns it, each an order of its own.
fn redis_orders(url: &str, run: &Run) -> Result<Vec<Order>> {
    let tags = needles(run);
    let mut con = redis::Client::open(url)?.get_connection()?;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("cv:{{{}}}:*", run.convention))
        .query(&mut con)?;
    let mut orders = Vec::new();
    for key in keys {
        let kind: String = redis::cmd("TYPE").arg(&key).query(&mut con)?;
        let values: Vec<Vec<u8>> = match kind.as_str() {
            "set" => redis::cmd("SMEMBERS").arg(&key).query(&mut con)?,
            "zset" => redis::cmd("ZRANGE")
                .arg(&key)
                .arg(0)
                .arg(-1)
                .query(&mut con)?,
            "hash" => redis::cmd("HGETALL").arg(&key).query(&mut con)?,
            "list" => redis::cmd("LRANGE")
                .arg(&key)
                .arg(0)
                .arg(-1)
                .query(&mut con)?,
            "string" => vec![redis::cmd("GET").arg(&key).query(&mut con)?],
            "stream" => {
                let v: redis::Value = redis::cmd("XRANGE")
                    .arg(&key)
                    .arg("-")
                    .arg("+")
                    .query(&mut con)?;
                vec![format!("{v:?}").into_bytes()]
            }
            other => bail!("{key}: a {other}"),
        };
        let whole: Vec<u8> = values.join(&b"\n"[..]);
        orders_of(&format!("redis {key} ({kind})"), &whole, &tags, &mut orders);
        let dump: Option<Vec<u8>> = redis::cmd("DUMP").arg(&key).query(&mut con)?;
        if let Some(dump) = dump {
            orders_of(&format!("redis DUMP {key}"), &dump, &tags, &mut orders);
        }
    }
    Ok(orders)
}

/// Once the poll is closed, no Redis collection (set, sorted set, list) keeps its ballots as
/// members: Redis would choose their order (a small set's listpack, from Redis 7.2, keeps the
/// order of insertion, which `SMEMBERS` returns; this machine's Redis may hash them instead).
fn members_hold_no_ballot(con: &mut redis::Connection, run: &Run) -> Result<()> {
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("cv:{{{}}}:*", run.convention))
        .query(con)?;
    for key in keys {
        let kind: String = redis::cmd("TYPE").arg(&key).query(con)?;
        let members: Vec<Vec<u8>> = match kind.as_str() {
            "set" => redis::cmd("SMEMBERS").arg(&key).query(con)?,
            "zset" => redis::cmd("ZRANGE").arg(&key).arg(0).arg(-1).query(con)?,
            "list" => redis::cmd("LRANGE").arg(&key).arg(0).arg(-1).query(con)?,
            _ => continue,
        };
        for m in members {
            no_ballot(&format!("a member of {key} ({kind})"), &m, run)?;
        }
    }
    Ok(())
}

/// The convention's log, from its Redis stream.
fn redis_log(url: &str, convention: &str) -> Result<Vec<proto::Record>> {
    let mut con = redis::Client::open(url)?.get_connection()?;
    let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg(format!("cv:{{{convention}}}:log"))
        .arg("-")
        .arg("+")
        .query(&mut con)?;
    entries
        .iter()
        .flat_map(|(_, fields)| fields.iter().map(|(_, body)| body))
        .map(|b| serde_json::from_str(b).context("a record"))
        .collect()
}

/// An RDB snapshot of the whole Redis, uncompressed (so that a ballot's bytes are found).
fn rdb_snapshot(url: &str, into: &Path) -> Result<Vec<u8>> {
    let base = url.rsplit_once('/').map(|(b, _)| b).unwrap_or(url);
    let cli = |args: &[&str]| -> Result<()> {
        let out = std::process::Command::new("redis-cli")
            .arg("-u")
            .arg(base)
            .args(args)
            .output()?;
        ensure!(out.status.success(), "redis-cli {args:?}: {:?}", out);
        Ok(())
    };
    cli(&["CONFIG", "SET", "rdbcompression", "no"])?;
    let file = into.join("snapshot.rdb");
    cli(&["--rdb", &file.to_string_lossy()])?;
    Ok(std::fs::read(file)?)
}

async fn redis_case(n: usize, db: u8) -> Result<()> {
    let redis = fresh_redis(db)?;
    let dir = tempdir();
    let nodes = convene_tests::nodes(dir.path(), &redis, 2).await?;
    let urls: Vec<String> = nodes.iter().map(|s| s.ws_url()).collect();
    let (run, mut fac) = run_poll(&nodes[0], &urls, &format!("jury{n}"), n, n / 2).await?;
    let mut con = redis::Client::open(redis.as_str())?.get_connection()?;
    let state: Option<Vec<u8>> = redis::cmd("HGET")
        .arg(format!("cv:{{{}}}:state", run.convention))
        .arg("data")
        .query(&mut con)?;
    no_ballot("the stored state", &state.unwrap_or_default(), &run)?;
    close(&mut fac, &run).await?;
    members_hold_no_ballot(&mut con, &run)?;
    let marks = marks_order(&redis_log(&redis, &run.convention)?, &run.poll);
    let mut orders = redis_orders(&redis, &run)?;
    let rdb = rdb_snapshot(&redis, dir.path())?;
    for (_, t) in &run.voters {
        ensure!(
            find(&rdb, t.as_bytes()).is_some(),
            "a ballot is not in the RDB"
        );
    }
    orders_of("RDB snapshot", &rdb, &needles(&run), &mut orders);
    for (i, node) in nodes.iter().enumerate() {
        for mut o in file_orders(&files(&node.data)?, &run) {
            o.place = format!("node {i}: {}", o.place);
            orders.push(o);
        }
    }
    check_orders(
        &format!("{n} voters on two nodes, Redis, after the close"),
        &orders,
        &marks,
        &run,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twelve_secret_ballots_leave_no_order_in_redis() -> Result<()> {
    redis_case(12, 13).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_secret_ballots_leave_no_order_in_redis() -> Result<()> {
    redis_case(40, 9).await
}

/// A field of `INFO persistence`.
fn persistence(con: &mut redis::Connection, field: &str) -> Result<u64> {
    let info: String = redis::cmd("INFO").arg("persistence").query(con)?;
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("no {field} in INFO persistence"))
}

/// With Redis's append-only file on, the file records every write of every script in order:
/// after the close, it is rewritten from what Redis holds (the sealed, sorted list), and the
/// files with the history are gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twelve_secret_ballots_leave_no_order_in_a_redis_append_only_file() -> Result<()> {
    let dir = tempdir();
    let redis_dir = dir.path().join("redis");
    std::fs::create_dir_all(&redis_dir)?;
    // Its append-only file on: every write of every script, in order, on disk; uncompressed,
    // so that a ballot's bytes are found in the file's RDB preamble.
    let redis = own_redis(
        &redis_dir,
        &[
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--rdbcompression",
            "no",
        ],
    )?;
    let node = Server::start_with(&dir.path().join("node"), &["--redis", &redis.url]).await?;
    // One vote per write: the file's order is the order of casting.
    let (run, mut fac) = run_poll(&node, &[node.ws_url()], "jury-aof", 12, 0).await?;
    let mut con = redis::Client::open(redis.url.as_str())?.get_connection()?;
    let rewrites = persistence(&mut con, "aof_rewrites")?;
    close(&mut fac, &run).await?;
    // The rewrite runs in the background: wait for it (a few seconds at most), then look.
    for _ in 0..100 {
        let done = persistence(&mut con, "aof_rewrites")? > rewrites
            && persistence(&mut con, "aof_rewrite_in_progress")? == 0
            && persistence(&mut con, "aof_rewrite_scheduled")? == 0;
        if done {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let marks = marks_order(&redis_log(&redis.url, &run.convention)?, &run.poll);
    let mut on_disk = BTreeMap::new();
    for sub in [redis_dir.clone(), redis_dir.join("appendonlydir")] {
        for (name, bytes) in files(&sub)? {
            on_disk.insert(format!("redis/{name}"), bytes);
        }
    }
    let whole: Vec<u8> = on_disk.values().flatten().copied().collect();
    for (_, t) in &run.voters {
        ensure!(
            find(&whole, t.as_bytes()).is_some(),
            "a ballot is not in the append-only file"
        );
    }
    check_orders(
        "12 voters, Redis with its append-only file, after the close",
        &file_orders(&on_disk, &run),
        &marks,
        &run,
    )
}

/// The statistics themselves: a pairing links every voter of an order that follows the marks
/// (forward, reversed, shifted, or by slots with holes), Kendall's test sees a kept order, and
/// neither sees anything in a random one.
#[test]
fn the_statistics_see_an_order_and_not_chance() {
    let n = 40;
    let rank: Vec<usize> = (0..n).collect();
    let order = |voters: Vec<usize>| Order::new(String::new(), voters);
    let forward = order((0..n).collect());
    assert_eq!(links(&forward, &rank, n, 10).0, n);
    assert_eq!(links(&order((0..n).rev().collect()), &rank, n, 10).0, n);
    assert_eq!(links(&order((25..n).collect()), &rank, n, 10).0, 15);
    // Cells that stayed at their place after their neighbours moved away.
    let kept = Order {
        place: String::new(),
        voters: vec![3, 5, 6, 9, 20],
        slots: Some(vec![3, 5, 6, 9, 20]),
    };
    assert_eq!(links(&kept, &rank, n, 3).0, 5);
    // Shifts of -30 to 30 forward and 9 to 69 reversed reach an overlap of 10.
    assert_eq!(links(&forward, &rank, n, 10).1, 122);
    let mut shuffled: Vec<usize> = (0..n).collect();
    shuffled.shuffle(&mut rand::thread_rng());
    // A false alarm here has a chance below 122 / 10! (3.4e-5) and 2e-6.
    assert!(links(&order(shuffled.clone()), &rank, n, 10).0 < 10);
    assert!(kendall_p(&shuffled) > 2e-6);
    assert!(kendall_p(&(0..n).collect::<Vec<_>>()) < 1e-40);
    // Mahonian numbers of 3: 1, 2, 2, 1 permutations with 0 to 3 inversions.
    let m3 = mahonian(3);
    let sixths: Vec<f64> = m3.iter().map(|p| (p * 6.0).round()).collect();
    assert_eq!(sixths, vec![1.0, 2.0, 2.0, 1.0]);
    assert!((mahonian(40).iter().sum::<f64>() - 1.0).abs() < 1e-9);
}
