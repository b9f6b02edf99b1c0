//! The scenarios, one module each, and what they share: the run's context (server, limits,
//! time left) and opening many connections with bounded concurrency.
//!
//! Adding a scenario: a module with an `Args` (clap) and `async fn run(&Ctx, &Args) ->
//! Result<Outcome>`, and a variant of `Scenario` in main.rs.

pub mod convention;
pub mod drafting;
pub mod idle;
pub mod plenary;
// Public audience (§24).
pub mod public;
pub mod rotation;
pub mod votes;
pub mod yclient;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::Semaphore;

use crate::conn::{Nodes, Participant, Shared, Subscription};
use crate::organizer::Organizer;

/// Everything a scenario needs from the command line and the run.
pub struct Ctx {
    /// The WebSocket URL of the node the organizer's calls go to (the first that answered):
    /// for scenarios that talk to one server.
    pub ws_url: String,
    /// Every node (`--url`): `connect_many` spreads connections over them, with failover.
    pub nodes: Arc<Nodes>,
    pub organizer: Organizer,
    pub shared: Shared,
    /// The scenario must have stopped by then (`--timeout`).
    pub deadline: Instant,
    /// Connections being opened at once.
    pub connect_concurrency: usize,
    /// Connections opened per second at most, if set.
    pub connect_rate: Option<f64>,
    pub progress: bool,
    /// The server's process id (`--server-pid`), to read its memory and CPU.
    pub server_pid: Option<String>,
}

/// One connection to open: its index in the run, its token, what it subscribes to.
pub struct ToOpen {
    pub conn: usize,
    pub token: String,
    pub sub: Option<Subscription>,
}

impl Ctx {
    /// Time left before the deadline.
    pub fn left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// `d`, or less if the deadline comes first.
    pub fn within(&self, d: Duration) -> Duration {
        d.min(self.left())
    }

    pub fn timed_out(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Read the server's metrics (before a phase).
    pub async fn scrape(&self) -> Option<crate::server_metrics::Scrape> {
        self.organizer.metrics().await
    }

    /// Read them again (after the phase) and keep what changed.
    pub async fn scrape_delta(
        &self,
        phase: &str,
        before: Option<crate::server_metrics::Scrape>,
        out: &mut crate::report::Outcome,
    ) {
        if let (Some(b), Some(a)) = (before, self.organizer.metrics().await) {
            out.server_metrics
                .insert(phase.to_string(), crate::server_metrics::delta(&b, &a));
        }
    }

    /// The measurement is over, the connections are still open: note how many, and the
    /// memory and CPU of the server and of the load tester while they are held.
    pub fn end_of_measurement(&self, out: &mut crate::report::Outcome) {
        out.held_at_end = Some(crate::metrics::Counters::get(
            &self.shared.counters.open_now,
        ));
        let c = &self.shared.counters;
        out.frames_at_end = Some([
            crate::metrics::Counters::get(&c.frames),
            crate::metrics::Counters::get(&c.presence),
            crate::metrics::Counters::get(&c.bytes),
        ]);
        out.held_server = self.server_pid.as_deref().and_then(crate::procstat::read);
        out.held_self = crate::procstat::read("self");
    }

    /// A progress bar on stderr (hidden with `--quiet` or when stderr is not a terminal).
    pub fn bar(&self, len: u64, what: &str) -> ProgressBar {
        let bar = if self.progress {
            ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:>12} [{elapsed_precise}] {bar:40} {pos}/{len} {per_sec} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_prefix(what.to_string());
        bar
    }

    /// Open these connections, at most `connect_concurrency` at a time (and `connect_rate`
    /// per second), so that the server's accept queue is not overwhelmed, round-robin over
    /// the nodes by `conn`. Returns them in the order given; `None` for those that failed
    /// (counted in the errors).
    pub async fn connect_many(&self, list: Vec<ToOpen>, what: &str) -> Vec<Option<Participant>> {
        let bar = self.bar(list.len() as u64, what);
        let sem = Arc::new(Semaphore::new(self.connect_concurrency.max(1)));
        let started = tokio::time::Instant::now();
        let done = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::with_capacity(list.len());
        for (i, o) in list.into_iter().enumerate() {
            let sem = sem.clone();
            let nodes = self.nodes.clone();
            let shared = self.shared.clone();
            let within = self.within(Duration::from_secs(30));
            let not_before = self
                .connect_rate
                .filter(|r| *r > 0.0)
                .map(|r| started + Duration::from_secs_f64(i as f64 / r));
            let bar = bar.clone();
            let done = done.clone();
            let deadline = tokio::time::Instant::from_std(self.deadline);
            tasks.push(tokio::spawn(async move {
                if let Some(t) = not_before {
                    tokio::time::sleep_until(t.min(deadline)).await;
                }
                let _permit = sem.acquire_owned().await.ok()?;
                let within =
                    within.min(deadline.saturating_duration_since(tokio::time::Instant::now()));
                let p =
                    Participant::connect(&nodes, &o.token, o.conn, o.sub, &shared, within).await;
                done.fetch_add(1, Ordering::Relaxed);
                bar.inc(1);
                p.ok()
            }));
        }
        let mut out = Vec::with_capacity(tasks.len());
        for t in tasks {
            out.push(t.await.ok().flatten());
        }
        bar.finish_and_clear();
        out
    }
}

/// Close every connection, a few at a time, bounded in time.
pub async fn close_all(ps: Vec<Participant>, within: Duration) {
    let closing = async {
        let mut set = tokio::task::JoinSet::new();
        for p in ps {
            set.spawn(p.close());
            while set.len() >= 256 {
                set.join_next().await;
            }
        }
        while set.join_next().await.is_some() {}
    };
    let _ = tokio::time::timeout(within, closing).await;
}

/// Anything that must not leave a scenario as an `Err`: setup failures do.
pub type ScenarioResult = Result<crate::report::Outcome>;
