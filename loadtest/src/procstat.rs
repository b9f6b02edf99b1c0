//! Memory and CPU of a process from /proc (Linux): the server's (`--server-pid`) and the load
//! tester's own, read before and after the run and sampled during it for the plot.

use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::watch;

use crate::metrics;

/// One reading of /proc/PID/status and /proc/PID/stat.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Reading {
    /// Resident set size (VmRSS), KiB.
    pub rss_kib: u64,
    /// Peak resident set size (VmHWM), KiB.
    pub peak_rss_kib: u64,
    /// User + system CPU time consumed so far, seconds.
    pub cpu_s: f64,
    /// Open file descriptors (sockets included), if readable.
    pub fds: Option<u64>,
    #[serde(skip)]
    pub at: Option<Instant>,
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions; it returns -1 for an unknown name.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// `pid` is a number, or "self". `None` if there is no such live process.
pub fn read(pid: &str) -> Option<Reading> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: the fields that follow start after its ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // A process that died but was not reaped yet (zombie) is gone.
    if matches!(fields.first(), Some(&"Z") | Some(&"X")) {
        return None;
    }
    // Field 3 (state) is fields[0]; utime is field 14 and stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .ok()
        .map(|d| d.count() as u64);
    Some(Reading {
        rss_kib: kib("VmRSS:"),
        peak_rss_kib: kib("VmHWM:"),
        cpu_s: (utime + stime) as f64 / clock_ticks(),
        fds,
        at: Some(Instant::now()),
    })
}

/// A process before and after the run.
#[derive(Clone, Debug, Serialize)]
pub struct ProcReport {
    pub pid: String,
    pub before: Option<Reading>,
    /// At the end of the measurement, the connections still open.
    pub held: Option<Reading>,
    /// After the connections closed.
    pub after: Option<Reading>,
    /// CPU seconds used between the two readings.
    pub cpu_s_used: Option<f64>,
    /// Average CPU use between the two readings, in percent of one core.
    pub cpu_pct_avg: Option<f64>,
    /// Highest RSS seen by the sampler during the run, KiB.
    pub max_sampled_rss_kib: u64,
}

impl ProcReport {
    pub fn new(
        pid: &str,
        before: Option<Reading>,
        held: Option<Reading>,
        after: Option<Reading>,
        samples: &[Sample],
        server: bool,
    ) -> Self {
        // A server that died after the run has no "after": count up to the end of the
        // measurement then.
        let (cpu_s_used, cpu_pct_avg) = match (before, after.or(held)) {
            (Some(b), Some(a)) => {
                let used = a.cpu_s - b.cpu_s;
                let wall = match (a.at, b.at) {
                    (Some(x), Some(y)) => x.duration_since(y).as_secs_f64(),
                    _ => 0.0,
                };
                (Some(used), (wall > 0.0).then(|| used * 100.0 / wall))
            }
            _ => (None, None),
        };
        let max_sampled_rss_kib = samples
            .iter()
            .filter_map(|s| {
                if server {
                    s.server_rss_kib
                } else {
                    Some(s.loadtest_rss_kib)
                }
            })
            .max()
            .unwrap_or(0);
        ProcReport {
            pid: pid.to_string(),
            before,
            held,
            after,
            cpu_s_used,
            cpu_pct_avg,
            max_sampled_rss_kib,
        }
    }
}

/// One point of the resource timeline.
#[derive(Clone, Debug, Serialize)]
pub struct Sample {
    pub t_s: f64,
    pub server_rss_kib: Option<u64>,
    /// Percent of one core since the previous sample.
    pub server_cpu_pct: Option<f64>,
    pub loadtest_rss_kib: u64,
    pub loadtest_cpu_pct: f64,
    pub open_connections: u64,
}

/// Sample the server (if any) and this process every `every` until `stop` turns true.
pub async fn sampler(
    server_pid: Option<String>,
    every: Duration,
    counters: std::sync::Arc<metrics::Counters>,
    mut stop: watch::Receiver<bool>,
) -> Vec<Sample> {
    let mut out = Vec::new();
    let mut prev_server = server_pid.as_deref().and_then(read);
    let mut prev_self = read("self");
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => break,
        }
        let now = Instant::now();
        let cur_server = server_pid.as_deref().and_then(read);
        let cur_self = read("self");
        let pct = |a: Option<Reading>, b: Option<Reading>| match (a, b) {
            (Some(a), Some(b)) => match (a.at, b.at) {
                (Some(x), Some(y)) if x > y => {
                    Some((a.cpu_s - b.cpu_s) * 100.0 / x.duration_since(y).as_secs_f64())
                }
                _ => None,
            },
            _ => None,
        };
        out.push(Sample {
            t_s: metrics::since_start(now).as_secs_f64(),
            server_rss_kib: cur_server.map(|r| r.rss_kib),
            server_cpu_pct: pct(cur_server, prev_server),
            loadtest_rss_kib: cur_self.map(|r| r.rss_kib).unwrap_or(0),
            loadtest_cpu_pct: pct(cur_self, prev_self).unwrap_or(0.0),
            open_connections: metrics::Counters::get(&counters.open_now),
        });
        prev_server = cur_server;
        prev_self = cur_self;
    }
    out
}

/// Raise this process's open-files limit to its hard limit: each participant is a socket.
pub fn raise_nofile_limit() -> Option<u64> {
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return None;
        }
        if lim.rlim_cur < lim.rlim_max {
            let want = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
                return Some(lim.rlim_max);
            }
        }
        Some(lim.rlim_cur)
    }
}

/// CPU time of `pid`'s live threads, nanoseconds, from `/proc/PID/task/*/schedstat` (the
/// scheduler's own count, exact where `/proc/PID/stat` counts 10 ms ticks): for short phases
/// (the joins of 200 people take ~20 ms of CPU). Threads that ended meanwhile are not counted,
/// so this is for phases where the server's threads live on (its runtime's workers, its
/// store's writer). `None` if the process is gone.
pub fn thread_cpu_ns(pid: &str) -> Option<u64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut total = 0;
    for task in tasks.flatten() {
        let line = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
        total += line
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Some(total)
}
