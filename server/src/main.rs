//! The `convene` binary: parse the configuration, then `convene::run`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "convene",
    version = convene::BUILD,
    about = "Real-time server for citizens' conventions held online"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (embedded SQLite store; no other service needed).
    Serve(convene::Config),
    /// Work with audit trail exports.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Write a convention (log, audit trail, ballot box, documents) as JSON lines: a backup,
    /// or a move between the SQLite store and Redis.
    Export {
        #[arg(long)]
        convention: String,
        #[command(flatten)]
        store: StoreArgs,
        /// Where to write (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Load an export into a store where that convention does not exist yet.
    Import {
        file: PathBuf,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Delete a convention for good (its log, ballot box, documents, audit trail, stored
    /// state and attendance), while no server uses the store: keep its exports first. The
    /// other conventions stay as they are. With an embedded server running, use its organizer
    /// API instead: `DELETE /api/conventions/{id}?confirm={id}`.
    Delete {
        #[arg(long)]
        convention: String,
        /// The convention's id again: a deletion cannot be undone.
        #[arg(long)]
        confirm: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Copy the whole data directory (every convention, the secrets, attendance), also while
    /// the server runs and writes: each database as one consistent snapshot. Restore by
    /// serving the copy (--data OUT). Cluster mode keeps the conventions in Redis: back them up
    /// with `export`, or with Redis's own persistence.
    Backup {
        #[arg(long, env = "CONVENE_DATA", default_value = "./convene-data")]
        data: PathBuf,
        /// A directory that does not exist yet, or is empty.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Which store: the SQLite file in --data (default), or Redis with --redis.
#[derive(clap::Args)]
struct StoreArgs {
    #[arg(long, env = "CONVENE_DATA", default_value = "./convene-data")]
    data: PathBuf,
    #[arg(long, env = "CONVENE_REDIS")]
    redis: Option<String>,
}

impl StoreArgs {
    async fn open(&self) -> anyhow::Result<convene::store::Store> {
        Ok(match &self.redis {
            Some(url) => convene::store::Store::open_redis(url).await?,
            None => convene::store::Store::open_sqlite(&self.data)?,
        })
    }
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check an exported trail (JSON lines) link by link; points at the first broken one.
    Verify {
        file: PathBuf,
        /// The head a guarantor noted down (the number and hash of the last entry they saw,
        /// shown in their view), as N:HASH (the hash whole, or its first 16 digits at least):
        /// the export must still hold that entry with that hash. A chain rewritten from any
        /// earlier entry on passes the link-by-link check, not this one.
        #[arg(long, value_name = "N:HASH")]
        head: Option<convene::audit::Head>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(config) => report(serve(config)),
        Command::Export {
            convention,
            store,
            out,
        } => report(runtime().and_then(|rt| {
            rt.block_on(async {
                let store = store.open().await?;
                let lines = convene::backup::export(&store, &convention).await?;
                match &out {
                    Some(path) => convene::backup::write(
                        &lines,
                        std::io::BufWriter::new(std::fs::File::create(path)?),
                    )?,
                    None => convene::backup::write(&lines, std::io::stdout().lock())?,
                }
                store.close().await;
                eprintln!("{convention}: {} lines exported", lines.len());
                Ok(())
            })
        })),
        Command::Import { file, store } => report(runtime().and_then(|rt| {
            rt.block_on(async {
                let lines =
                    convene::backup::read(std::io::BufReader::new(std::fs::File::open(&file)?))?;
                // Into the embedded store only while no server uses it: a running one would
                // not see the convention, and might create one of the same name meanwhile.
                let _lock = match &store.redis {
                    None => {
                        convene::datadir::prepare(&store.data)?;
                        Some(convene::datadir::lock(&store.data)?)
                    }
                    Some(_) => None,
                };
                let store = store.open().await?;
                let n = lines.len();
                let id = convene::backup::import(&store, lines).await?;
                store.close().await;
                eprintln!("{id}: {n} lines imported");
                Ok(())
            })
        })),
        Command::Delete {
            convention,
            confirm,
            store,
        } => report(
            convene::erase::confirmed(&convention, &confirm)
                .map_err(anyhow::Error::from)
                .and_then(|()| match &store.redis {
                    None => {
                        let deleted = convene::erase::delete_sqlite(&store.data, &convention)?;
                        for d in &deleted {
                            eprintln!(
                                "  {:<24} {:>8} rows deleted, file rewritten",
                                d.file, d.rows
                            );
                        }
                        eprintln!("{convention}: deleted");
                        Ok(())
                    }
                    Some(url) => runtime().and_then(|rt| {
                        rt.block_on(async {
                            let redis = convene::store::redis::RedisStore::open(url).await?;
                            convene::erase::delete_redis(&redis, &convention).await?;
                            eprintln!("{convention}: deleted from Redis");
                            Ok(())
                        })
                    }),
                }),
        ),
        Command::Backup { data, out } => {
            private_umask();
            let started = std::time::Instant::now();
            report(
                convene::datadir::backup(&data, &out, |c| {
                    eprintln!(
                        "  {:<24} {:>12} bytes{}",
                        c.name,
                        c.bytes,
                        if c.database { "  (snapshot)" } else { "" }
                    );
                })
                .map(|copied| {
                    eprintln!(
                        "{}: {} files, {} bytes, in {:.1} s",
                        out.display(),
                        copied.len(),
                        copied.iter().map(|c| c.bytes).sum::<u64>(),
                        started.elapsed().as_secs_f64()
                    );
                })
                .map_err(Into::into),
            )
        }
        Command::Audit {
            command: AuditCommand::Verify { file, head },
        } => {
            let f = match std::fs::File::open(&file) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("convene: cannot open {}: {e}", file.display());
                    return ExitCode::from(2);
                }
            };
            match convene::audit::verify_with_head(std::io::BufReader::new(f), head.as_ref()) {
                Ok(n) => {
                    match &head {
                        Some(h) => println!(
                            "{}: {n} entries, every link holds, and entry {} has the hash you noted",
                            file.display(),
                            h.n
                        ),
                        None => println!("{}: {n} entries, every link holds", file.display()),
                    }
                    ExitCode::SUCCESS
                }
                Err(
                    e @ (convene::audit::VerifyError::HeadMissing { .. }
                    | convene::audit::VerifyError::HeadMismatch { .. }),
                ) => {
                    println!(
                        "{}: every link holds, but NOT THE TRAIL YOU NOTED: {e}",
                        file.display()
                    );
                    ExitCode::FAILURE
                }
                Err(e) => {
                    println!("{}: BROKEN at {e}", file.display());
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Runtime::new().context("starting the runtime")
}

fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("convene: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Whatever the server (or a backup) creates (SQLite files, their WAL, secrets) is for its
/// user alone, whatever umask the service manager or shell left.
fn private_umask() {
    #[cfg(unix)]
    // SAFETY: umask only sets the process's file-creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

fn serve(config: convene::Config) -> anyhow::Result<()> {
    private_umask();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CONVENE_LOG")
                .unwrap_or_else(|_| "convene=info,warn".into()),
        )
        .with_writer(std::io::stderr)
        // A log line that cannot be written (a full disk under a redirected stderr) is lost;
        // by default tracing would report it with eprintln!, which panics.
        .log_internal_errors(false)
        .init();
    let runtime = tokio::runtime::Runtime::new().context("starting the runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let shutdown = CancellationToken::new();
        let signal = shutdown.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            signal.cancel();
        });
        convene::run(listener, config, shutdown).await?;
        Ok(())
    })
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
