//! Convene: a real-time server for deliberative assemblies held online. `run` serves one
//! listener until `shutdown` is cancelled; `main.rs` only parses the configuration.

/// This build: the crate's version and, built from a git checkout, its commit (`build.rs`).
/// `convene --version` prints it; the nodes of a cluster must all run the same.
pub const BUILD: &str = env!("CONVENE_BUILD");

// Attendance (issue #17): presence kept out of the log, with a retention period.
pub mod attendance;
pub mod audit;
pub mod backup;
pub mod datadir;
pub mod demo;
pub mod docs;
pub mod domain;
pub mod erase;
pub mod gateway;
pub mod invites;
pub mod live;
pub mod metrics;
pub mod store;
pub mod video;
pub mod wire;

use std::path::PathBuf;
use std::sync::Arc;

use rand::RngCore;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::info;

/// `convene serve` options; every flag is also a `CONVENE_*` environment variable.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "CONVENE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Directory of the embedded store (created if absent).
    #[arg(long, env = "CONVENE_DATA", default_value = "./convene-data")]
    pub data: PathBuf,
    /// Token for the organizer HTTP API; generated, saved in DATA/organizer-token and printed
    /// at first start if absent.
    #[arg(long, env = "CONVENE_ORGANIZER_TOKEN", hide_env_values = true)]
    pub organizer_token: Option<String>,
    /// Base URL of invitation links (default: http://LISTEN).
    #[arg(long, env = "CONVENE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Seed a demo convention (unless it exists) and print its invitation links.
    #[arg(long, env = "CONVENE_DEMO")]
    pub demo: bool,
    /// With --demo: what the demo convention comes with. `prepared`: a day ready to run (run
    /// sheet, hearing, rotation plan, draft vote), made at start while its run sheet has never
    /// had a sequence; `none`: the roster and the opinion only, a blank day.
    #[arg(long, env = "CONVENE_DEMO_DAY", value_enum, default_value_t = demo::DemoDay::Prepared)]
    pub demo_day: demo::DemoDay,
    /// Cluster mode: keep the conventions in this Redis (e.g. redis://127.0.0.1:6379), shared
    /// with every other node started with the same URL. Needs --organizer-token.
    #[arg(long, env = "CONVENE_REDIS")]
    pub redis: Option<String>,
    /// Cluster mode: seconds a node keeps a convention nobody on it uses (and with no timer
    /// to watch) before letting it go.
    #[arg(long, env = "CONVENE_IDLE_REPLICA_SECS", default_value_t = 60)]
    pub idle_replica_secs: u64,
    /// Keep a convention's state in the store every this many events, so that taking it up
    /// again (another node, a restart) folds only the log after it.
    #[arg(long, env = "CONVENE_STATE_EVERY", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub state_every: u64,
    /// Welcomes one invitation gets at once on this node before they are paced to one every
    /// 3 seconds (each welcome is a whole snapshot): PROTOCOL.md, "Welcomes per invitation".
    #[arg(long, env = "CONVENE_WELCOME_BURST", default_value_t = convene_protocol::WELCOME_BURST, value_parser = clap::value_parser!(u32).range(1..))]
    pub welcome_burst: u32,
    /// Cluster mode: the base URLs of every node as browsers reach them, comma-separated
    /// (e.g. https://a.example.org,https://b.example.org). Served at /nodes: a web page
    /// that loses its node reconnects to the next one. Default: none (only this origin).
    #[arg(long, env = "CONVENE_NODES", value_delimiter = ',')]
    pub nodes: Vec<String>,
    /// With --demo: also write the links as a JSON array to this file.
    #[arg(long, env = "CONVENE_INVITES_OUT")]
    pub invites_out: Option<PathBuf>,
    /// Seconds a WebSocket may stay silent (not even answering the server's pings, sent every
    /// third of it) before the server closes it: a phone that lost its network leaves a
    /// half-open connection behind.
    #[arg(long, env = "CONVENE_WS_IDLE_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(3..))]
    pub ws_idle_secs: u64,
    /// Seconds an HTTP client has to send a whole request head, and that a keep-alive
    /// connection may wait for its next request.
    #[arg(long, env = "CONVENE_HTTP_HEADER_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub http_header_timeout_secs: u64,
    /// Most connections open at once (WebSockets included). Default: what the open-files
    /// limit allows, less a reserve kept for health, metrics and the organizer API. Public
    /// viewers take at most their share of them (--max-public-viewers).
    #[arg(long, env = "CONVENE_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Public audience (§24): most public viewers this node holds at once; one more is
    /// closed with 4022. Lowered at start to the viewers' share of the connection slots
    /// (--max-connections): members keep a quarter of them, and at least 1,024 (half, below
    /// 2,048 slots); the effective cap is logged and in /metrics (convene_public_viewers_max).
    #[arg(long, env = "CONVENE_MAX_PUBLIC_VIEWERS", default_value_t = 20_000)]
    pub max_public_viewers: usize,
    /// Attendance: days a stretch of presence is kept after it ended; older ones are deleted
    /// at start and once a day (attendance is personal data, kept out of the log).
    #[arg(long, env = "CONVENE_ATTENDANCE_RETENTION_DAYS", default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=36500))]
    pub attendance_retention_days: u32,
    /// Attendance: seconds between two writes of each convention's presence; a crash
    /// (kill -9) loses at most this much of each open stretch.
    #[arg(long, env = "CONVENE_ATTENDANCE_FLUSH_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub attendance_flush_secs: u64,
    /// Video: the provider and its settings (`video::VideoArgs`, README "Video"; boxed, as
    /// they are many).
    #[command(flatten)]
    pub video: Box<video::VideoArgs>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("organizer token file {path}: {source}")]
    TokenFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Demo(#[from] demo::DemoError),
    #[error("writing invitations to {path}: {source}")]
    InvitesOut {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("serving: {0}")]
    Serve(std::io::Error),
    #[error("cluster mode (--redis) needs --organizer-token, the same on every node")]
    ClusterToken,
    #[error(transparent)]
    Nodes(#[from] gateway::BadNode),
    #[error("--nodes needs cluster mode (--redis): nodes share conventions only through Redis")]
    NodesWithoutRedis,
    #[error(transparent)]
    Video(#[from] video::VideoError),
    #[error(transparent)]
    Cluster(#[from] live::cluster::RegisterError),
    #[error(transparent)]
    Locked(#[from] datadir::LockError),
}

/// The organizer token: given, or read from the data directory, or generated there.
fn organizer_token(config: &Config) -> Result<String, RunError> {
    if let Some(t) = config.organizer_token.as_ref().filter(|t| !t.is_empty()) {
        return Ok(t.clone());
    }
    let path = config.data.join("organizer-token");
    let err = |source| RunError::TokenFile {
        path: path.clone(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(t) if !t.trim().is_empty() => {
            say(format_args!("Organizer token: in {}", path.display()));
            Ok(t.trim().to_string())
        }
        _ => {
            let mut b = [0u8; 24];
            rand::thread_rng().fill_bytes(&mut b);
            let token = hex::encode(b);
            datadir::write_private(&path, token.as_bytes()).map_err(err)?;
            say(format_args!(
                "Organizer token (generated, saved in {}): {token}",
                path.display()
            ));
            Ok(token)
        }
    }
}

/// Serve until `shutdown` is cancelled, then close every connection (1001), finish the
/// work in flight and flush the store.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: CancellationToken,
) -> Result<(), RunError> {
    let addr = listener.local_addr().map_err(RunError::Serve)?;
    let nodes = gateway::parse_nodes(&config.nodes)?;
    if !nodes.is_empty() && config.redis.is_none() {
        return Err(RunError::NodesWithoutRedis);
    }
    // Before the store creates anything in it: the data directory is private (0700, files 0600).
    datadir::prepare(&config.data).map_err(|source| RunError::DataDir {
        path: config.data.clone(),
        source,
    })?;
    // One process serves a data directory: embedded, it holds the conventions themselves.
    let _lock = match &config.redis {
        None => Some(datadir::lock(&config.data)?),
        Some(_) => None,
    };
    let store = match &config.redis {
        Some(url) => {
            if config.organizer_token.as_deref().is_none_or(str::is_empty) {
                return Err(RunError::ClusterToken);
            }
            store::Store::open_redis(url).await?
        }
        None => store::Store::open_sqlite(&config.data)?,
    };
    let tracker = TaskTracker::new();
    // Every node of a cluster runs the same build: one that does not, does not start.
    let node = match &store {
        store::Store::Redis(redis) => Some(
            live::cluster::register(redis.clone(), addr.to_string(), &tracker, shutdown.clone())
                .await?,
        ),
        store::Store::Sqlite(_) => None,
    };
    let token = organizer_token(&config)?;
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    say(format_args!(
        "Espace organisation (organizer console, with the organizer token): {}/organisation",
        public_url.trim_end_matches('/')
    ));
    let metrics = Arc::new(metrics::Metrics::default());
    let docs = docs::DocHub::new(
        store.clone(),
        metrics.clone(),
        tracker.clone(),
        shutdown.clone(),
    );
    // In cluster mode every node must name a room's meeting alike: the shared organizer
    // token is what they all have.
    let video = Arc::new(video::Video::new(
        &config.video,
        &config.data,
        config.redis.as_ref().map(|_| token.as_str()),
    )?);
    let floor_mic = video::floor::FloorMic::start(video.clone(), &tracker, shutdown.clone())
        .map(|f| f as Arc<dyn live::Follower>);
    let replicas = live::Replicas {
        idle: std::time::Duration::from_secs(config.idle_replica_secs.max(1)),
        state_every: config.state_every,
        welcome_burst: config.welcome_burst,
    };
    let attendance = attendance::Attendance::open(
        &store,
        &config.data,
        attendance::Settings {
            flush_every: std::time::Duration::from_secs(config.attendance_flush_secs),
            retention_days: config.attendance_retention_days,
        },
    )?;
    attendance
        .start_purging(store.clone(), &tracker, shutdown.clone())
        .await;
    let hub = live::Hub::start(
        live::Stores {
            log: store.clone(),
            attendance,
            node,
        },
        metrics,
        docs.clone(),
        replicas,
        floor_mic,
        tracker.clone(),
        shutdown.clone(),
    )
    .await?;

    if config.demo {
        // Every node of a cluster must print the same links: derive them from the shared
        // organizer token there; alone, from a secret kept in the data directory.
        let secret = config
            .redis
            .as_ref()
            .map(|_| gateway::hash_token(&format!("demo:{token}")).into_bytes());
        let demo::Seeded {
            invites,
            public_page,
        } = demo::seed(&hub, &config.data, secret, &public_url, config.demo_day).await?;
        say(format_args!(
            "Demo convention \"{}\": invitation links",
            demo::DEMO_ID
        ));
        for i in &invites {
            let roles: Vec<&str> = i
                .roles
                .iter()
                .map(|r| match r {
                    convene_protocol::Role::Citizen => "citoyen·ne",
                    convene_protocol::Role::Facilitator => "animation",
                    convene_protocol::Role::Rapporteur => "rapporteur·e",
                    convene_protocol::Role::Guarantor => "garant·e",
                    convene_protocol::Role::Expert => "expert·e",
                })
                .collect();
            say(format_args!(
                "  {:<34} {:<26} {}",
                i.name,
                roles.join(", "),
                i.url
            ));
        }
        if let Some(url) = &public_page {
            say(format_args!("Page publique (public audience) : {url}"));
        }
        if let Some(path) = &config.invites_out {
            let text = serde_json::to_string_pretty(&invites).unwrap_or_default();
            datadir::write_private(path, text.as_bytes()).map_err(|source| {
                RunError::InvitesOut {
                    path: path.clone(),
                    source,
                }
            })?;
            say(format_args!("Invitations written to {}", path.display()));
        }
    }

    let fds = gateway::serve::raise_fd_limit();
    let http_limits = gateway::serve::HttpLimits::for_fds(
        fds,
        std::time::Duration::from_secs(config.http_header_timeout_secs),
        config.max_connections,
    );
    // Viewers never take the slots members need: the flag, lowered to their share.
    let max_public_viewers = http_limits.public_viewers(config.max_public_viewers);
    info!(
        fds,
        max_connections = http_limits.max_connections,
        reserve = http_limits.reserve,
        max_public_viewers,
        "connection budget"
    );
    if max_public_viewers < config.max_public_viewers {
        // Not a fault (the default flag is lowered on most machines), but said once.
        info!(
            configured = config.max_public_viewers,
            max_public_viewers,
            max_connections = http_limits.max_connections,
            left_to_members = http_limits.max_connections - max_public_viewers,
            "--max-public-viewers lowered to the viewers' share of the connection slots"
        );
    }
    hub.metrics()
        .public_viewers_max
        .set(i64::try_from(max_public_viewers).unwrap_or(i64::MAX));
    let app = gateway::AppState {
        limits: gateway::Limits {
            ws_idle: std::time::Duration::from_secs(config.ws_idle_secs),
            max_public_viewers,
        },
        hub: hub.clone(),
        docs,
        organizer_hash: gateway::hash_token(&token),
        public_url,
        nodes: Arc::new(nodes),
        video,
        tracker: tracker.clone(),
        cancel: shutdown.clone(),
        requests: gateway::http_budgets(),
    };
    say(format_args!("convene listening on http://{addr}"));
    info!(%addr, data = %config.data.display(), "listening");
    let metrics = app.hub.metrics_arc();
    gateway::serve::serve(
        listener,
        gateway::router(app),
        http_limits,
        metrics,
        shutdown.clone(),
        tracker.clone(),
    )
    .await;
    info!("shutting down");
    tracker.close();
    tracker.wait().await;
    store.close().await;
    Ok(())
}

/// A line on standard output. A write that fails (a full disk under a redirected stdout, a
/// closed pipe) is dropped: `println!` would panic instead.
pub fn say(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out
        .write_fmt(line)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
}
