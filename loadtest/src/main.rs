//! `convene-loadtest`: a real client of the Convene protocol that simulates many participants
//! against a running `convene` server (it never starts one), drives a scenario, and reports
//! latency percentiles (HDR histograms), throughput, errors, and the server's memory and CPU.
//!
//! Loopback only: a `--url` whose host is not 127.0.0.0/8, `localhost` or `::1` is refused.
//! Bounded: every scenario stops by itself at `--timeout`. Several nodes of a cluster: `--url`
//! takes a comma-separated list; participants are spread round-robin over them and fail over
//! to the next when theirs goes (see `conn.rs`).

mod conn;
mod metrics;
mod organizer;
mod plot;
mod procstat;
mod report;
mod scenarios;
mod server_metrics;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use reqwest::Url;

use crate::conn::{Nodes, Shared};
use crate::metrics::{Counters, Errors};
use crate::report::{Connections, Frames, LatencyReport, NodeReport, Report};
use crate::scenarios::{plenary, votes, Ctx};

#[derive(Parser)]
#[command(
    name = "convene-loadtest",
    version,
    about = "Simulate many participants against a running convene server (loopback only)"
)]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(clap::Args)]
struct Common {
    /// The server's base URL, or several nodes' separated by commas (loopback only):
    /// participants are spread over them, and move to the next when theirs goes.
    #[arg(
        long,
        env = "CONVENE_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    url: String,
    /// The server's organizer token (to create the run's convention).
    #[arg(
        long,
        env = "CONVENE_ORGANIZER_TOKEN",
        hide_env_values = true,
        global = true
    )]
    organizer_token: Option<String>,
    /// Time limit of the whole scenario, seconds: it stops by itself then.
    #[arg(long, default_value_t = 120, global = true)]
    timeout: u64,
    /// Write the report as JSON to this file.
    #[arg(long, global = true)]
    json: Option<PathBuf>,
    /// Plot latency and throughput over time to this SVG file.
    #[arg(long, global = true)]
    plot: Option<PathBuf>,
    /// The server's process id: its RSS and CPU time are read from /proc before and after.
    #[arg(long, global = true)]
    server_pid: Option<u32>,
    /// Connections being opened at once.
    #[arg(long, default_value_t = 64, global = true)]
    connect_concurrency: usize,
    /// Connections opened per second at most (default: as fast as the concurrency allows).
    #[arg(long, global = true)]
    connect_rate: Option<f64>,
    /// No progress bar.
    #[arg(long, global = true)]
    quiet: bool,
    /// The protocol version the participants speak (PROTOCOL.md section 25): 2 (views that
    /// stay small), or 1 to compare.
    #[arg(long, default_value_t = convene_protocol::PROTOCOL_V2, global = true)]
    protocol: u32,
}

#[derive(Subcommand)]
enum Scenario {
    /// N voters cast one ballot each in a burst in a secret single-choice poll with live
    /// results; a guarantor watches the tally.
    Votes(votes::Args),
    /// N listeners receive broadcasts sent at a given rate by one or more facilitators.
    Plenary(plenary::Args),
    /// N editors write one collaborative document (convene, or a reference Yjs server).
    Drafting(scenarios::drafting::Args),
    /// E experts and C citizens: the notifications at an expert rotation's round boundary.
    Rotation(scenarios::rotation::Args),
    /// Many idle connections: the server's memory per connection.
    Idle(scenarios::idle::Args),
    /// A whole convention day, compressed: plenary, breakouts, expert rotation, polls, drafting.
    Convention(scenarios::convention::Args),
    /// N public viewers (in worker processes) and M members: the floor and announcements
    /// reaching the public (PROTOCOL.md §24).
    Public(scenarios::public::Args),
}

impl Scenario {
    fn name(&self) -> &'static str {
        match self {
            Scenario::Votes(_) => "votes",
            Scenario::Plenary(_) => "plenary",
            Scenario::Drafting(_) => "drafting",
            Scenario::Rotation(_) => "rotation",
            Scenario::Idle(_) => "idle",
            Scenario::Convention(_) => "convention",
            Scenario::Public(_) => "public",
        }
    }
}

/// Refuse anything but the loopback: this tool sends load only to this machine.
fn check_loopback(url: &Url) -> Result<()> {
    let ok = url.host_str().is_some_and(is_loopback_host);
    if !ok {
        bail!(
            "refusing {url}: convene-loadtest only targets the loopback (127.0.0.0/8, localhost, ::1)"
        );
    }
    if !matches!(url.scheme(), "http" | "https") {
        bail!("--url must be http:// or https://, not {url}");
    }
    Ok(())
}

/// `--url`: one base URL or several, comma-separated, each on the loopback.
fn parse_urls(list: &str) -> Result<Vec<Url>> {
    let mut urls = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let url = Url::parse(part).with_context(|| format!("--url {part}"))?;
        check_loopback(&url)?;
        urls.push(url);
    }
    if urls.is_empty() {
        bail!("--url names no server");
    }
    Ok(urls)
}

/// The first node that answers `/healthz` (the organizer's calls go there); with one node,
/// that node.
async fn first_answering(urls: &[Url]) -> Result<usize> {
    if urls.len() == 1 {
        return Ok(0);
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()?;
    for (i, u) in urls.iter().enumerate() {
        let ok = match u.join("/healthz") {
            Ok(h) => http
                .get(h)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success()),
            Err(_) => false,
        };
        if ok {
            return Ok(i);
        }
    }
    bail!("no node answers /healthz")
}

fn ws_url(url: &Url) -> Result<String> {
    let mut u = url.clone();
    let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
    u.set_scheme(scheme)
        .map_err(|_| anyhow::anyhow!("cannot make a WebSocket URL of {url}"))?;
    u.set_path("/ws");
    u.set_query(None);
    Ok(u.to_string())
}

/// `127.0.0.0/8`, `::1` (bracketed or not) or `localhost`.
fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => bare.eq_ignore_ascii_case("localhost"),
    }
}

fn main() {
    // Public audience (§24): this binary run again as a worker holding public viewers.
    if std::env::args().nth(1).as_deref() == Some(scenarios::public::WORKER) {
        std::process::exit(scenarios::public::worker_main());
    }
    let code = match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("convene-loadtest: {e:#}");
            3
        }
    };
    std::process::exit(code);
}

fn run() -> Result<i32> {
    let cli = Cli::parse();
    let urls = parse_urls(&cli.common.url)?;
    let Some(token) = cli.common.organizer_token.clone() else {
        bail!("--organizer-token (or CONVENE_ORGANIZER_TOKEN) is required");
    };
    let nofile = procstat::raise_nofile_limit();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run_async(cli, urls, token, nofile))
}

async fn run_async(cli: Cli, urls: Vec<Url>, token: String, nofile: Option<u64>) -> Result<i32> {
    let c = &cli.common;
    if !convene_protocol::SUPPORTED_PROTOCOLS.contains(&c.protocol) {
        bail!("--protocol {}: this tester speaks 1 and 2", c.protocol);
    }
    conn::set_protocol(c.protocol);
    let first = first_answering(&urls).await?;
    let url = &urls[first];
    let nodes = Arc::new(Nodes::new(
        urls.iter().map(ws_url).collect::<Result<Vec<_>>>()?,
    ));
    let started = metrics::start();
    let started_at_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let shared = Shared {
        counters: Arc::new(Counters::default()),
        errors: Arc::new(Errors::default()),
    };
    let ctx = Ctx {
        ws_url: ws_url(url)?,
        nodes: nodes.clone(),
        organizer: organizer::Organizer::new(url.as_str(), &token),
        shared: shared.clone(),
        deadline: started + Duration::from_secs(c.timeout),
        connect_concurrency: c.connect_concurrency,
        connect_rate: c.connect_rate,
        progress: !c.quiet,
        server_pid: c.server_pid.map(|p| p.to_string()),
    };
    let server_pid = ctx.server_pid.clone();
    let server_before = match &server_pid {
        Some(pid) => Some(procstat::read(pid).with_context(|| format!("cannot read /proc/{pid}"))?),
        None => None,
    };
    let self_before = procstat::read("self");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let sampler = tokio::spawn(procstat::sampler(
        server_pid.clone(),
        Duration::from_millis(250),
        shared.counters.clone(),
        stop_rx,
    ));

    let name = cli.scenario.name();
    // The scenario watches the deadline itself; this is the backstop if it does not.
    let hard = Duration::from_secs(c.timeout) + Duration::from_secs(30);
    let result = tokio::time::timeout(hard, async {
        match &cli.scenario {
            Scenario::Votes(a) => votes::run(&ctx, a).await,
            Scenario::Plenary(a) => plenary::run(&ctx, a).await,
            Scenario::Drafting(a) => scenarios::drafting::run(&ctx, a).await,
            Scenario::Rotation(a) => scenarios::rotation::run(&ctx, a).await,
            Scenario::Idle(a) => scenarios::idle::run(&ctx, a).await,
            Scenario::Convention(a) => scenarios::convention::run(&ctx, a).await,
            Scenario::Public(a) => scenarios::public::run(&ctx, a).await,
        }
    })
    .await;
    // The connections are closed: the server must still be there (a crash while they go,
    // e.g. a stack overflow, is a finding). Watch it for a moment.
    let mut server_gone = false;
    if let Some(pid) = &server_pid {
        for _ in 0..15 {
            if procstat::read(pid).is_none() {
                server_gone = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let _ = stop_tx.send(true);
    let samples = sampler.await.unwrap_or_default();
    let server_after = server_pid.as_deref().and_then(procstat::read);
    let self_after = procstat::read("self");

    let mut outcome = match result {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => {
            eprintln!("convene-loadtest {name}: {e:#}");
            eprintln!("errors so far: {:?}", shared.errors.snapshot());
            return Ok(3);
        }
        Err(_) => {
            let mut o = report::Outcome::new(serde_json::Value::Null);
            o.timed_out = true;
            o.failures.push(format!("did not stop within {hard:?}"));
            o
        }
    };
    if outcome.timed_out {
        outcome.failures.push(format!(
            "the scenario reached its time limit ({} s)",
            c.timeout
        ));
    }
    if server_gone {
        outcome.failures.push(format!(
            "the server process {} was gone within 3 s of the load tester closing its connections",
            server_pid.as_deref().unwrap_or("?")
        ));
    }
    if let Some(n) = nofile {
        outcome
            .notes
            .push(format!("open-files limit of the load tester: {n}"));
    }

    let mut latencies = BTreeMap::new();
    let mut timeline = BTreeMap::new();
    for s in &outcome.series {
        latencies.insert(
            s.name.clone(),
            LatencyReport {
                what: s.what.clone(),
                summary: s.latency.summary(),
                timeline_truncated: s.latency.timeline_truncated(),
            },
        );
        timeline.insert(
            s.name.clone(),
            s.latency
                .timeline(outcome.timeline_from, outcome.timeline_width),
        );
    }
    let counters = &shared.counters;
    let errors = shared.errors.snapshot();
    let report = Report {
        tool: format!("convene-loadtest {}", env!("CARGO_PKG_VERSION")),
        scenario: name.to_string(),
        ok: outcome.failures.is_empty() && !outcome.timed_out,
        failures: outcome.failures.clone(),
        timed_out: outcome.timed_out,
        url: urls
            .iter()
            .map(Url::to_string)
            .collect::<Vec<_>>()
            .join(","),
        nodes: urls
            .iter()
            .enumerate()
            .map(|(i, u)| NodeReport {
                url: u.to_string(),
                opened: Counters::get(&nodes.opened[i]),
                reconnected_to: Counters::get(&nodes.reconnected_to[i]),
                lost: Counters::get(&nodes.lost[i]),
            })
            .collect(),
        convention: outcome.convention.clone(),
        params: outcome.params.clone(),
        started_at_ms,
        duration_s: Instant::now().duration_since(started).as_secs_f64(),
        phases_s: outcome.phases.clone(),
        connections: Connections {
            attempted: Counters::get(&counters.attempted),
            opened: Counters::get(&counters.opened),
            failed: Counters::get(&counters.failed),
            peak_open: Counters::get(&counters.peak_open),
            held_at_end: outcome
                .held_at_end
                .unwrap_or_else(|| Counters::get(&counters.open_now)),
            reconnections: Counters::get(&counters.reconnections),
            resent_requests: Counters::get(&counters.resent),
        },
        frames: Frames {
            received: outcome
                .frames_at_end
                .map_or_else(|| Counters::get(&counters.frames), |f| f[0]),
            presence: outcome
                .frames_at_end
                .map_or_else(|| Counters::get(&counters.presence), |f| f[1]),
            bytes: outcome
                .frames_at_end
                .map_or_else(|| Counters::get(&counters.bytes), |f| f[2]),
            welcome_bytes_total: Counters::get(&counters.welcome_bytes),
            welcome_bytes_max: Counters::get(&counters.welcome_max),
        },
        latencies,
        rates: outcome.rates.clone(),
        errors_total: errors.values().sum(),
        errors,
        checks: outcome.checks.clone(),
        server_metrics: outcome.server_metrics.clone(),
        notes: outcome.notes.clone(),
        server: server_pid.as_deref().map(|pid| {
            procstat::ProcReport::new(
                pid,
                server_before,
                outcome.held_server,
                server_after,
                &samples,
                true,
            )
        }),
        loadtest_process: procstat::ProcReport::new(
            &std::process::id().to_string(),
            self_before,
            outcome.held_self,
            self_after,
            &samples,
            false,
        ),
        throughput_series: outcome.throughput_series.clone(),
        throughput_what: outcome.throughput_what.clone(),
        timeline,
        resource_samples: samples,
    };
    print!("{}", report.table());
    if let Some(path) = &c.json {
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &c.plot {
        plot::write(&report, path).with_context(|| format!("plotting to {}", path.display()))?;
    }
    Ok(if report.timed_out {
        2
    } else if report.ok {
        0
    } else {
        1
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_loopback_is_a_target() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://127.3.2.1:80/",
            "http://localhost:8080",
            "http://[::1]:8080",
        ] {
            assert!(check_loopback(&Url::parse(ok).unwrap()).is_ok(), "{ok}");
        }
        for bad in [
            "http://10.0.0.1:8080",
            "http://192.168.1.2",
            "http://example.org",
            "http://[::2]:8080",
            "http://localhost.example.org",
            "ftp://127.0.0.1",
        ] {
            assert!(check_loopback(&Url::parse(bad).unwrap()).is_err(), "{bad}");
        }
    }

    #[test]
    fn several_nodes_each_on_the_loopback() {
        let urls = parse_urls("http://127.0.0.1:8081, http://127.0.0.1:8082,").unwrap();
        assert_eq!(urls.len(), 2);
        assert_eq!(ws_url(&urls[1]).unwrap(), "ws://127.0.0.1:8082/ws");
        assert!(parse_urls("http://127.0.0.1:8081,http://10.0.0.1:8082").is_err());
        assert!(parse_urls(" , ").is_err());
    }

    #[test]
    fn seqs_are_read_without_parsing() {
        use convene_protocol::{Actor, Event, Record, ServerMessage};
        let event = serde_json::to_string(&ServerMessage::Event {
            record: Record {
                seq: 4217,
                at: 1,
                by: Actor::Timer,
                event: Event::BroadcastSent {
                    text: r#"{"snapshot":{"seq":1}}"#.into(),
                },
                request: None,
            },
        })
        .unwrap();
        assert_eq!(conn::event_seq(&event), Some(4217));
        assert_eq!(conn::snapshot_seq(&event), None);
        assert_eq!(conn::event_seq(r#"{"type":"ok","id":"a","seq":3}"#), None);
        assert_eq!(
            conn::snapshot_seq(
                r#"{"type":"snapshot","server_time":5,"snapshot":{"seq":88,"rooms":[]}}"#
            ),
            Some(88)
        );
    }

    #[test]
    fn the_websocket_is_at_ws() {
        let u = Url::parse("http://127.0.0.1:8080/whatever?x=1").unwrap();
        assert_eq!(ws_url(&u).unwrap(), "ws://127.0.0.1:8080/ws");
    }

    #[test]
    fn message_types_are_read_without_parsing() {
        assert_eq!(
            conn::message_type(r#"{"type":"presence","participant":"p7","online":true}"#),
            Some("presence")
        );
        assert_eq!(conn::message_type(r#"{ "type": "ok" }"#), None);
    }
}
