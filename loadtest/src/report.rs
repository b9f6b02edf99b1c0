//! The report of a run: what a scenario returns (`Outcome`), the whole report (`Report`) as
//! JSON (`--json`), and the summary table printed on stdout.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::metrics::{Bucket, HistSummary, Latency};
use crate::procstat::{ProcReport, Sample};

/// A latency series measured by a scenario.
pub struct Series {
    pub name: String,
    /// What it measures, from when to when.
    pub what: String,
    pub latency: Latency,
}

/// What a scenario returns.
pub struct Outcome {
    pub convention: Option<String>,
    pub params: serde_json::Value,
    pub series: Vec<Series>,
    /// The series whose completions are the throughput plotted (acks, deliveries).
    pub throughput_series: Option<String>,
    /// What its completions are ("ballots acknowledged", "deliveries").
    pub throughput_what: String,
    /// Rates: `ballots_per_s`, `deliveries_per_s`...
    pub rates: BTreeMap<String, f64>,
    /// Durations of the phases, seconds (`setup`, `connect`, `burst`...).
    pub phases: BTreeMap<String, f64>,
    /// Scenario-specific counts that say whether what was delivered is right.
    pub checks: serde_json::Map<String, serde_json::Value>,
    /// The server's metrics, changed during each measured phase.
    pub server_metrics: BTreeMap<String, crate::server_metrics::Delta>,
    /// Broken expectations: any makes the run fail (exit code 1).
    pub failures: Vec<String>,
    pub notes: Vec<String>,
    pub timed_out: bool,
    /// Connections still open when the measurement ended (before closing them).
    pub held_at_end: Option<u64>,
    /// The server's and the load tester's readings at the end of the measurement, with the
    /// connections still open.
    pub held_server: Option<crate::procstat::Reading>,
    pub held_self: Option<crate::procstat::Reading>,
    /// Frames, presence frames and bytes received up to the end of the measurement (not
    /// counting what the closing of the connections brings, e.g. presence "offline").
    pub frames_at_end: Option<[u64; 3]>,
    /// The timeline starts here (since the start of the run) with buckets this wide.
    pub timeline_from: Duration,
    pub timeline_width: Duration,
}

impl Outcome {
    pub fn new(params: serde_json::Value) -> Self {
        Outcome {
            convention: None,
            params,
            series: Vec::new(),
            throughput_series: None,
            throughput_what: String::new(),
            rates: BTreeMap::new(),
            phases: BTreeMap::new(),
            checks: serde_json::Map::new(),
            server_metrics: BTreeMap::new(),
            failures: Vec::new(),
            notes: Vec::new(),
            timed_out: false,
            held_at_end: None,
            held_server: None,
            held_self: None,
            frames_at_end: None,
            timeline_from: Duration::ZERO,
            timeline_width: Duration::from_millis(100),
        }
    }

    pub fn check(&mut self, key: &str, value: impl Serialize) {
        self.checks.insert(
            key.to_string(),
            serde_json::to_value(value).unwrap_or(serde_json::Value::Null),
        );
    }
}

#[derive(Serialize)]
pub struct Connections {
    pub attempted: u64,
    pub opened: u64,
    pub failed: u64,
    pub peak_open: u64,
    /// Open when the measurement ended (before the load tester closed them).
    pub held_at_end: u64,
    /// Connections that lost their node and resumed on another; requests sent again then.
    pub reconnections: u64,
    pub resent_requests: u64,
}

/// One node of the run (`--url`): the connections it took.
#[derive(Serialize)]
pub struct NodeReport {
    pub url: String,
    /// Connections that started there.
    pub opened: u64,
    /// Reconnections from another node that landed there.
    pub reconnected_to: u64,
    /// Connections lost while there.
    pub lost: u64,
}

#[derive(Serialize)]
pub struct Frames {
    /// Frames after the welcomes, up to the end of the measurement.
    pub received: u64,
    pub presence: u64,
    pub bytes: u64,
    pub welcome_bytes_total: u64,
    pub welcome_bytes_max: u64,
}

#[derive(Serialize)]
pub struct LatencyReport {
    pub what: String,
    #[serde(flatten)]
    pub summary: HistSummary,
    pub timeline_truncated: bool,
}

#[derive(Serialize)]
pub struct Report {
    pub tool: String,
    pub scenario: String,
    /// No failure and no timeout.
    pub ok: bool,
    pub failures: Vec<String>,
    pub timed_out: bool,
    /// The nodes given (`--url`), comma-separated.
    pub url: String,
    pub nodes: Vec<NodeReport>,
    pub convention: Option<String>,
    pub params: serde_json::Value,
    /// ms since the Unix epoch.
    pub started_at_ms: u64,
    pub duration_s: f64,
    pub phases_s: BTreeMap<String, f64>,
    pub connections: Connections,
    pub frames: Frames,
    pub latencies: BTreeMap<String, LatencyReport>,
    pub rates: BTreeMap<String, f64>,
    pub errors: BTreeMap<String, u64>,
    pub errors_total: u64,
    pub checks: serde_json::Map<String, serde_json::Value>,
    /// The server's own metrics (`/metrics`), changed during each measured phase.
    pub server_metrics: BTreeMap<String, crate::server_metrics::Delta>,
    pub notes: Vec<String>,
    pub server: Option<ProcReport>,
    pub loadtest_process: ProcReport,
    /// The latency series whose completions are the throughput.
    pub throughput_series: Option<String>,
    pub throughput_what: String,
    /// Per latency series: buckets over time (throughput and percentiles).
    pub timeline: BTreeMap<String, Vec<Bucket>>,
    pub resource_samples: Vec<Sample>,
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

impl Report {
    /// The summary table printed on stdout.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "convene-loadtest {}  {}  convention {}",
            self.scenario,
            if self.ok { "OK" } else { "FAILED" },
            self.convention.as_deref().unwrap_or("-")
        );
        let _ = writeln!(s, "  params       {}", self.params);
        let _ = writeln!(
            s,
            "  duration     {:.2} s{}",
            self.duration_s,
            if self.timed_out { " (TIMED OUT)" } else { "" }
        );
        let phases: Vec<String> = self
            .phases_s
            .iter()
            .map(|(k, v)| format!("{k} {v:.2} s"))
            .collect();
        let _ = writeln!(s, "  phases       {}", phases.join(", "));
        let c = &self.connections;
        let _ = writeln!(
            s,
            "  connections  {} opened / {} attempted, {} failed, peak {}, held at end {}",
            c.opened, c.attempted, c.failed, c.peak_open, c.held_at_end
        );
        if self.nodes.len() > 1 {
            let _ = writeln!(
                s,
                "  failover     {} reconnections to another node, {} requests sent again",
                c.reconnections, c.resent_requests
            );
            for n in &self.nodes {
                let _ = writeln!(
                    s,
                    "  node         {}: {} connections started, {} reconnected to it, {} lost",
                    n.url, n.opened, n.reconnected_to, n.lost
                );
            }
        }
        let _ = writeln!(
            s,
            "  frames in    {} ({} presence), {:.1} MiB; welcomes {:.1} MiB in all, largest {:.1} KiB",
            self.frames.received,
            self.frames.presence,
            self.frames.bytes as f64 / 1048576.0,
            self.frames.welcome_bytes_total as f64 / 1048576.0,
            self.frames.welcome_bytes_max as f64 / 1024.0
        );
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "  {:<18} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "latency (ms)", "count", "p50", "p90", "p99", "max", "mean"
        );
        for (name, l) in &self.latencies {
            let h = &l.summary;
            let _ = writeln!(
                s,
                "  {:<18} {:>8} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
                name, h.count, h.p50_ms, h.p90_ms, h.p99_ms, h.max_ms, h.mean_ms
            );
        }
        let _ = writeln!(s);
        for (k, v) in &self.rates {
            let _ = writeln!(s, "  {k:<28} {v:>12.1}");
        }
        let _ = writeln!(s);
        if self.errors.is_empty() {
            let _ = writeln!(s, "  errors       none");
        } else {
            let e: Vec<String> = self
                .errors
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            let _ = writeln!(s, "  errors       {}", e.join(", "));
        }
        for (phase, d) in &self.server_metrics {
            let _ = writeln!(
                s,
                "  server during {phase}: {} commands, {} events, {} appends (mean {:.2} ms, {:.2} s in all), {} frames queued, {} slow consumers closed",
                d.commands, d.events, d.appends, d.append_ms_mean, d.append_seconds_total, d.deliveries, d.slow_consumers
            );
        }
        let checks: Vec<String> = self
            .checks
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(s, "  checks       {}", checks.join(", "));
        let proc_line = |name: &str, p: &ProcReport| {
            let rss = |r: Option<crate::procstat::Reading>| {
                r.map(|r| format!("{:.1}", mib(r.rss_kib)))
                    .unwrap_or_else(|| "gone".into())
            };
            let peak = p
                .held
                .or(p.after)
                .map(|r| mib(r.peak_rss_kib))
                .unwrap_or(0.0);
            format!(
                "  {name:<12} pid {}: RSS {} -> {} (connections held) -> {} MiB (after; peak {peak:.1}), CPU {:.2} s ({:.0}% of a core on average){}",
                p.pid,
                rss(p.before),
                rss(p.held),
                rss(p.after),
                p.cpu_s_used.unwrap_or(0.0),
                p.cpu_pct_avg.unwrap_or(0.0),
                p.held
                    .and_then(|r| r.fds)
                    .map(|f| format!(", {f} fds while held"))
                    .unwrap_or_default()
            )
        };
        if let Some(sv) = &self.server {
            let _ = writeln!(s, "{}", proc_line("server", sv));
        }
        let _ = writeln!(s, "{}", proc_line("loadtest", &self.loadtest_process));
        for n in &self.notes {
            let _ = writeln!(s, "  note: {n}");
        }
        for f in &self.failures {
            let _ = writeln!(s, "  FAILURE: {f}");
        }
        s
    }
}
