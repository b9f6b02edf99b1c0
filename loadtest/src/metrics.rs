//! What a run measures: latency histograms (HDR, microseconds) with their samples over time,
//! errors by code, and connection and frame counters shared by every connection task.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

static START: OnceLock<Instant> = OnceLock::new();

/// The instant the run started: the one clock base of every time in the report (all
/// processes run on one machine, but only this one's monotonic clock is used).
pub fn start() -> Instant {
    *START.get_or_init(Instant::now)
}

/// Time since the start of the run.
pub fn since_start(at: Instant) -> Duration {
    at.saturating_duration_since(start())
}

/// Samples kept for the timeline of one series; beyond this the histogram still counts every
/// sample, but the timeline stops (and the report says so).
const MAX_TIMELINE_SAMPLES: usize = 8_000_000;

/// Latencies of one kind: an HDR histogram (1 µs to 1 h, 3 significant digits) for the
/// percentiles, and (time, latency) samples for the plot over time.
pub struct Latency {
    hist: Histogram<u64>,
    /// (ms since the start of the run at which the sample completed, latency in µs).
    samples: Vec<(u32, u32)>,
    truncated: bool,
}

impl Default for Latency {
    fn default() -> Self {
        Self::new()
    }
}

impl Latency {
    pub fn new() -> Self {
        Latency {
            hist: Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds"),
            samples: Vec::new(),
            truncated: false,
        }
    }

    /// Record a latency that ended at `at`.
    pub fn record(&mut self, latency: Duration, at: Instant) {
        let us = (latency.as_micros() as u64).clamp(1, 3_600_000_000);
        self.hist.saturating_record(us);
        if self.samples.len() < MAX_TIMELINE_SAMPLES {
            let t = since_start(at).as_millis().min(u32::MAX as u128) as u32;
            self.samples.push((t, us.min(u32::MAX as u64) as u32));
        } else {
            self.truncated = true;
        }
    }

    pub fn summary(&self) -> HistSummary {
        let ms = |us: u64| us as f64 / 1000.0;
        let n = self.hist.len();
        HistSummary {
            count: n,
            min_ms: if n == 0 { 0.0 } else { ms(self.hist.min()) },
            mean_ms: if n == 0 {
                0.0
            } else {
                self.hist.mean() / 1000.0
            },
            p50_ms: ms(self.hist.value_at_quantile(0.50)),
            p90_ms: ms(self.hist.value_at_quantile(0.90)),
            p99_ms: ms(self.hist.value_at_quantile(0.99)),
            p999_ms: ms(self.hist.value_at_quantile(0.999)),
            max_ms: ms(self.hist.max()),
        }
    }

    /// The samples grouped in buckets of `width` from `from` (time since the start of the run):
    /// throughput and latency percentiles of each bucket.
    pub fn timeline(&self, from: Duration, width: Duration) -> Vec<Bucket> {
        let w = width.as_millis().max(1) as u64;
        let from = from.as_millis() as u64;
        let mut buckets: BTreeMap<u64, Vec<u32>> = BTreeMap::new();
        for &(t, us) in &self.samples {
            let t = t as u64;
            let k = t.saturating_sub(from) / w;
            buckets.entry(k).or_default().push(us);
        }
        let Some(&last) = buckets.keys().next_back() else {
            return Vec::new();
        };
        (0..=last)
            .map(|k| {
                let mut v = buckets.remove(&k).unwrap_or_default();
                v.sort_unstable();
                let q = |p: f64| {
                    if v.is_empty() {
                        0.0
                    } else {
                        let i = ((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1;
                        v[i] as f64 / 1000.0
                    }
                };
                Bucket {
                    t_s: (from + k * w) as f64 / 1000.0,
                    count: v.len() as u64,
                    per_s: v.len() as f64 * 1000.0 / w as f64,
                    p50_ms: q(0.5),
                    p99_ms: q(0.99),
                    max_ms: v.last().map(|&x| x as f64 / 1000.0).unwrap_or(0.0),
                }
            })
            .collect()
    }

    pub fn timeline_truncated(&self) -> bool {
        self.truncated
    }
}

/// Percentiles of one histogram, in milliseconds.
#[derive(Clone, Debug, Serialize)]
pub struct HistSummary {
    pub count: u64,
    pub min_ms: f64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

/// One slice of time of a series.
#[derive(Clone, Debug, Serialize)]
pub struct Bucket {
    /// Start of the bucket, seconds since the start of the run.
    pub t_s: f64,
    pub count: u64,
    /// Completions per second in this bucket (acknowledgments, deliveries...).
    pub per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Errors by code: the server's error codes (`rate_limited`...), close codes (`close_4009`),
/// and the load tester's own (`connect_failed`, `no_reply`...).
#[derive(Default)]
pub struct Errors(Mutex<BTreeMap<String, u64>>);

impl Errors {
    pub fn add(&self, code: impl Into<String>) {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *m.entry(code.into()).or_insert(0) += 1;
    }

    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Counters updated by every connection task.
#[derive(Default)]
pub struct Counters {
    pub attempted: AtomicU64,
    pub opened: AtomicU64,
    pub failed: AtomicU64,
    /// Connections open now (opened and not yet closed by either side).
    pub open_now: AtomicU64,
    pub peak_open: AtomicU64,
    /// Frames received, all kinds.
    pub frames: AtomicU64,
    /// Of which `presence` (counted, never parsed).
    pub presence: AtomicU64,
    pub bytes: AtomicU64,
    /// Size of the welcomes (each carries the whole roster): total and largest, bytes.
    pub welcome_bytes: AtomicU64,
    pub welcome_max: AtomicU64,
    /// Connections that lost their node and resumed on another (several `--url`s).
    pub reconnections: AtomicU64,
    /// Requests sent again, with their ids, after a reconnection.
    pub resent: AtomicU64,
}

impl Counters {
    pub fn opened(&self) {
        self.opened.fetch_add(1, Ordering::Relaxed);
        let now = self.open_now.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak_open.fetch_max(now, Ordering::Relaxed);
    }

    pub fn closed(&self) {
        self.open_now.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}
