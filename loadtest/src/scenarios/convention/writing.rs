//! Phase 5, drafting the opinion: the facilitator creates the opinion (`avis`), written by
//! the rapporteurs, and one document per writing group, each group a few citizens (and a
//! rapporteur), opened to its group. Every writer is a y-websocket client with its own yrs
//! `Doc` on `/doc/{convention}/{document}`, inserting a marked line every `--insert-ms`;
//! readers follow along (a guarantor reads the opinion, an expert each group's document).
//! At the end a rapporteur names a version of the opinion.
//!
//! Checked: every client of a document received every insert of every other writer of it,
//! once; all the clients of a document (readers too) end with the same text, holding every
//! insert; writers were never refused, readers only ever told they read.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use convene_protocol::Command;
use tokio::sync::watch;

use super::day::{Day, CONTROL, DRAIN};
use crate::metrics;
use crate::scenarios::yclient::{marker, markers, Frame, Got, Target, YClient};

/// The root `Y.Text` the clients write (not the editor's ProseMirror fragment: the load is
/// the same, and the text is easy to compare).
const TEXT: &str = "loadtest";

/// One client of a document.
struct Client {
    doc: usize,
    conn: usize,
    writes: bool,
}

/// Counters the clients update, read by the drain.
struct Live {
    sent: Vec<AtomicU64>,
    received: Vec<AtomicU64>,
    open: Vec<AtomicBool>,
}

/// What a client returns.
#[derive(Default)]
struct ClientOut {
    samples: Vec<(u64, u64)>,
    deliveries: u64,
    duplicates: u64,
    foreign: u64,
    echoes: u64,
    denied: Vec<String>,
    errors: Vec<String>,
    closed: Option<Option<u16>>,
    text_hash: u64,
    markers_in_text: usize,
}

fn now_us() -> u64 {
    metrics::since_start(Instant::now()).as_micros() as u64
}

/// Read and write until told to stop: inserts (if a writer) every `interval`, `count` of
/// them from `t0`.
#[allow(clippy::too_many_arguments)]
async fn run_client(
    me: usize,
    mut y: YClient,
    writes: bool,
    same_doc: Arc<Vec<usize>>,
    live: Arc<Live>,
    t0: tokio::time::Instant,
    interval: Duration,
    count: u64,
    mut stop: watch::Receiver<bool>,
) -> ClientOut {
    let mut out = ClientOut::default();
    let mut got: HashSet<(usize, u64)> = HashSet::new();
    let offset = interval.mul_f64((me % 16) as f64 / 16.0);
    let mut k = 0u64;
    let closed = loop {
        let next = (writes && k < count).then(|| t0 + offset + interval * k as u32);
        tokio::select! {
            biased;
            _ = stop.changed() => break None,
            f = y.next() => match f {
                Frame::Binary(data) => match y.handle(&data).await {
                    Ok(Got::Update(u)) | Ok(Got::Synced(u)) => {
                        let at = now_us();
                        for (e, k, us) in markers(u) {
                            if e == me {
                                out.echoes += 1;
                            } else if !same_doc.contains(&e) {
                                out.foreign += 1;
                            } else if !got.insert((e, k)) {
                                out.duplicates += 1;
                            } else {
                                out.deliveries += 1;
                                out.samples.push((at, at.saturating_sub(us)));
                                live.received[me].fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        y.apply(u);
                    }
                    Ok(Got::Nothing) => {}
                    Err(e) => out.errors.push(format!("{e:#}")),
                },
                Frame::Closed(code) => break Some(code),
                Frame::Other => {}
            },
            _ = tokio::time::sleep_until(next.unwrap_or(t0)), if next.is_some() => {
                if let Err(e) = y.push(&marker(me, k, now_us())).await {
                    out.errors.push(format!("{e:#}"));
                    break Some(None);
                }
                live.sent[me].fetch_add(1, Ordering::Relaxed);
                k += 1;
            }
        }
    };
    out.closed = closed;
    live.open[me].store(closed.is_none(), Ordering::Relaxed);
    out.denied = std::mem::take(&mut y.denied);
    out.errors.append(&mut y.errors);
    let text = y.text();
    let mut h = DefaultHasher::new();
    text.hash(&mut h);
    out.text_hash = h.finish();
    out.markers_in_text = markers(text.as_bytes()).len();
    if closed.is_none() {
        y.close().await;
    }
    out
}

impl Day<'_> {
    pub async fn drafting(&mut self, groups: usize, writers: usize) -> Result<()> {
        let first = self.start_phase("drafting");
        let fac = self.fac();
        let mut docs = vec!["avis".to_string()];
        let mut clients: Vec<Client> = self
            .cast
            .rapporteurs
            .iter()
            .map(|&r| Client {
                doc: 0,
                conn: r,
                writes: true,
            })
            .collect();
        if let Some(&g) = self.cast.guarantors.first() {
            clients.push(Client {
                doc: 0,
                conn: g,
                writes: false,
            });
        }
        self.cmd(
            fac,
            Command::CreateDocument {
                name: docs[0].clone(),
                title: "Avis citoyen".into(),
            },
        )
        .await?;
        // Writing groups: citizens who are not rapporteurs.
        let pool: Vec<usize> = self
            .cast
            .citizens
            .iter()
            .copied()
            .filter(|c| !self.cast.rapporteurs.contains(c))
            .collect();
        for k in 0..groups {
            let name = format!("groupe-{}", k + 1);
            let members: Vec<usize> = pool
                .iter()
                .skip(k * writers)
                .take(writers)
                .copied()
                .collect();
            let ids = members.iter().map(|&m| self.ids[m].clone()).collect();
            self.cmd(
                fac,
                Command::SetWritingGroup {
                    group: name.clone(),
                    members: ids,
                },
            )
            .await?;
            self.cmd(
                fac,
                Command::CreateDocument {
                    name: name.clone(),
                    title: format!("Propositions du groupe {}", k + 1),
                },
            )
            .await?;
            self.cmd(
                fac,
                Command::OpenDocument {
                    document: name.clone(),
                    group: name.clone(),
                },
            )
            .await?;
            docs.push(name);
            let doc = docs.len() - 1;
            clients.extend(members.iter().map(|&m| Client {
                doc,
                conn: m,
                writes: true,
            }));
            if let Some(&r) = self
                .cast
                .rapporteurs
                .get(k % self.cast.rapporteurs.len().max(1))
            {
                clients.push(Client {
                    doc,
                    conn: r,
                    writes: true,
                });
            }
            if let Some(&e) = self.cast.experts.get(k % self.cast.experts.len().max(1)) {
                clients.push(Client {
                    doc,
                    conn: e,
                    writes: false,
                });
            }
        }
        // Everyone knows the documents and groups before anyone writes.
        let setup = self.seqs(fac, first, |_| true);
        let everyone = self.everyone();
        let missing = self.drain(&everyone, &setup).await;
        self.zero(
            "drafting_setup_missing",
            missing,
            "document events never reached a participant",
        );

        // The clients connect and sync.
        let base = self
            .ctx
            .ws_url
            .strip_suffix("/ws")
            .ok_or_else(|| anyhow!("unexpected WebSocket URL {}", self.ctx.ws_url))?
            .to_string();
        let n = clients.len();
        let mut connecting = tokio::task::JoinSet::new();
        for (i, c) in clients.iter().enumerate() {
            let url = format!(
                "{base}/doc/{}/{}?token={}",
                self.convention, docs[c.doc], self.tokens[c.conn]
            );
            let shared = self.ctx.shared.clone();
            connecting.spawn(async move {
                shared.counters.attempted.fetch_add(1, Ordering::Relaxed);
                let y = async {
                    let mut y = YClient::open(&url, Target::Convene, "", TEXT).await?;
                    y.sync(CONTROL).await?;
                    Ok::<_, anyhow::Error>(y)
                }
                .await;
                match &y {
                    Ok(_) => shared.counters.opened(),
                    Err(e) => {
                        shared.counters.failed.fetch_add(1, Ordering::Relaxed);
                        shared.errors.add("document_connect_failed");
                        eprintln!("convention: document client {i}: {e:#}");
                    }
                }
                (i, y.ok())
            });
        }
        let mut ys: Vec<Option<YClient>> = (0..n).map(|_| None).collect();
        while let Some(r) = connecting.join_next().await {
            let (i, y) = r.context("document client")?;
            ys[i] = y;
        }
        let connected = ys.iter().filter(|y| y.is_some()).count();
        self.check("drafting_documents", docs.len());
        self.check("drafting_clients", n);
        self.check("drafting_clients_synced", connected);
        if connected < n {
            self.fail(format!("{} document clients could not sync", n - connected));
        }

        // Writing.
        let live = Arc::new(Live {
            sent: (0..n).map(|_| AtomicU64::new(0)).collect(),
            received: (0..n).map(|_| AtomicU64::new(0)).collect(),
            open: (0..n).map(|_| AtomicBool::new(true)).collect(),
        });
        let same: Vec<Arc<Vec<usize>>> = (0..docs.len())
            .map(|d| {
                Arc::new(
                    clients
                        .iter()
                        .enumerate()
                        .filter(|(_, c)| c.doc == d && c.writes)
                        .map(|(i, _)| i)
                        .collect(),
                )
            })
            .collect();
        let interval = self.t.insert;
        let count = (self.t.drafting.as_secs_f64() / interval.as_secs_f64())
            .round()
            .max(1.0) as u64;
        let (stop_tx, stop_rx) = watch::channel(false);
        let t0 = tokio::time::Instant::now() + Duration::from_millis(100);
        let mut tasks = Vec::new();
        for (i, y) in ys.into_iter().enumerate() {
            let Some(y) = y else { continue };
            let c = &clients[i];
            tasks.push((
                i,
                tokio::spawn(run_client(
                    i,
                    y,
                    c.writes,
                    same[c.doc].clone(),
                    live.clone(),
                    t0,
                    interval,
                    count,
                    stop_rx.clone(),
                )),
            ));
        }
        tokio::time::sleep_until(t0 + interval * count as u32 + interval).await;
        // The last deliveries: every open client has every insert of the others.
        let expected = |i: usize| -> u64 {
            same[clients[i].doc]
                .iter()
                .filter(|&&e| e != i)
                .map(|&e| live.sent[e].load(Ordering::Relaxed))
                .sum()
        };
        let drain_end = tokio::time::Instant::now() + self.ctx.within(DRAIN);
        while tokio::time::Instant::now() < drain_end
            && !(0..n).all(|i| {
                !live.open[i].load(Ordering::Relaxed)
                    || live.received[i].load(Ordering::Relaxed) >= expected(i)
            })
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let _ = stop_tx.send(true);
        let mut outs: Vec<(usize, ClientOut)> = Vec::new();
        for (i, t) in tasks {
            if let Ok(o) = t.await {
                outs.push((i, o));
            }
        }

        // Figures and checks.
        let start = metrics::start();
        let (mut deliveries, mut duplicates, mut foreign, mut echoes) = (0, 0, 0, 0);
        let (mut missing, mut closed, mut refused, mut errors) = (0u64, 0, 0, 0);
        for (i, o) in &outs {
            for &(at, lat) in &o.samples {
                self.doc_update.record(
                    Duration::from_micros(lat),
                    start + Duration::from_micros(at),
                );
            }
            deliveries += o.deliveries;
            duplicates += o.duplicates;
            foreign += o.foreign;
            echoes += o.echoes;
            if o.closed.is_some() {
                closed += 1;
                self.ctx.shared.errors.add(match o.closed.flatten() {
                    Some(code) => format!("document_close_{code}"),
                    None => "document_disconnected".into(),
                });
            } else {
                missing += expected(*i).saturating_sub(o.deliveries);
            }
            // A writer is never refused; a reader is told it reads, and nothing else.
            let writes = clients[*i].writes;
            refused += o
                .denied
                .iter()
                .filter(|r| writes || r.as_str() != "read-only")
                .count();
            errors += o.errors.len();
            if !o.errors.is_empty() {
                eprintln!(
                    "convention: document client {i}: {:?}",
                    &o.errors[..o.errors.len().min(3)]
                );
            }
        }
        let sent: u64 = live.sent.iter().map(|s| s.load(Ordering::Relaxed)).sum();
        let (mut distinct, mut incomplete) = (0usize, 0u64);
        for (d, writers) in same.iter().enumerate() {
            let doc_sent: u64 = writers
                .iter()
                .map(|&w| live.sent[w].load(Ordering::Relaxed))
                .sum();
            let mut hashes: Vec<u64> = outs
                .iter()
                .filter(|(i, o)| clients[*i].doc == d && o.closed.is_none())
                .map(|(_, o)| o.text_hash)
                .collect();
            hashes.sort_unstable();
            hashes.dedup();
            distinct += hashes.len();
            incomplete += outs
                .iter()
                .filter(|(i, o)| {
                    clients[*i].doc == d
                        && o.closed.is_none()
                        && o.markers_in_text as u64 != doc_sent
                })
                .count() as u64;
        }
        self.check("drafting_inserts_sent", sent);
        self.check("drafting_deliveries", deliveries);
        self.check("drafting_echoes", echoes);
        self.check("drafting_distinct_texts", distinct);
        self.zero(
            "drafting_missing",
            missing,
            "document inserts never reached a client still connected",
        );
        self.zero(
            "drafting_duplicates",
            duplicates,
            "document inserts delivered twice",
        );
        self.zero(
            "drafting_foreign",
            foreign,
            "document inserts reached a client of another document",
        );
        self.zero(
            "drafting_texts_incomplete",
            incomplete,
            "document clients whose text does not hold every insert",
        );
        self.zero(
            "drafting_clients_closed",
            closed,
            "document clients were closed",
        );
        self.zero(
            "drafting_refused",
            refused as u64,
            "document permission refusals (a writer refused, or a reader told something else)",
        );
        self.zero(
            "drafting_client_errors",
            errors as u64,
            "document client errors",
        );
        if distinct != docs.len() {
            self.fail(format!(
                "the document clients did not converge: {distinct} texts for {} documents",
                docs.len()
            ));
        }

        // A rapporteur keeps a version of the opinion; everyone hears of it.
        if let Some(&r) = self.cast.rapporteurs.first() {
            let name = Command::NameVersion {
                document: docs[0].clone(),
                label: "Version de travail".into(),
            };
            if let Some(v) = self.try_cmd(r, name).await? {
                let missing = self.drain(&everyone, &[v]).await;
                self.zero(
                    "drafting_version_missing",
                    missing,
                    "version_named never reached a participant",
                );
            }
        }
        Ok(())
    }
}
