//! The data directory is private to the server's user, end to end with the real binary: the
//! directory is 0700 and every file in it 0600 (the SQLite files and their WAL, the stored
//! states, the organizer token, the demo secret that yields every demo token), whatever the
//! umask it was started with; a directory left looser by an earlier version is tightened at
//! start, with a warning in the log.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{anyhow, ensure, Context, Result};
use convene_tests::proto::api::CreateConvention;
use convene_tests::proto::{Command, Role};
use convene_tests::{convene_bin, person, tempdir, token_of, Client};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command as Process};

/// `convene serve --demo` without `--organizer-token` (so that it writes its own token file),
/// started with a permissive umask as a careless service manager would.
struct Bare {
    child: Child,
    addr: String,
    stderr: PathBuf,
}

async fn start(data: &Path, umask: &str) -> Result<Bare> {
    let stderr = data.with_extension("stderr.log");
    let err = std::fs::File::create(&stderr)?;
    // The umask is the shell's, inherited by the server it execs.
    let script =
        format!("umask {umask} && exec \"$0\" serve --listen 127.0.0.1:0 --data \"$1\" --demo",);
    let mut child = Process::new("sh")
        .arg("-c")
        .arg(script)
        .arg(convene_bin())
        .arg(data)
        .env("CONVENE_LOG", "convene=info,warn")
        .env_remove("CONVENE_ORGANIZER_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(err))
        .kill_on_drop(true)
        .spawn()
        .context("spawning convene")?;
    let out = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
    let mut lines = BufReader::new(out).lines();
    let addr = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await? {
            if let Some(a) = line.strip_prefix("convene listening on http://") {
                return anyhow::Ok(a.to_string());
            }
        }
        Err(anyhow!("convene exited; see {}", stderr.display()))
    })
    .await
    .context("convene did not listen within 30 s")??;
    // Keep reading stdout so the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(Bare {
        child,
        addr,
        stderr,
    })
}

impl Bare {
    async fn terminate(&mut self) -> Result<()> {
        let pid = self.child.id().ok_or_else(|| anyhow!("already exited"))?;
        let ok = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()?
            .success();
        ensure!(ok, "kill -TERM failed");
        let status = tokio::time::timeout(Duration::from_secs(20), self.child.wait()).await??;
        ensure!(status.success(), "convene exited with {status}");
        Ok(())
    }
}

/// Every path under `root` (itself included) whose mode gives anything to group or others,
/// with its mode in octal; walked without recursion.
fn loose(root: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(p) = todo.pop() {
        let meta = std::fs::symlink_metadata(&p)?;
        let mode = meta.mode() & 0o7777;
        if mode & 0o077 != 0 {
            out.push(format!("{} {mode:o}", p.display()));
        }
        if meta.is_dir() {
            for e in std::fs::read_dir(&p)? {
                todo.push(e?.path());
            }
        }
    }
    Ok(out)
}

fn names(root: &Path) -> Result<Vec<String>> {
    let mut v: Vec<String> = std::fs::read_dir(root)?
        .map(|e| Ok(e?.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_>>()?;
    v.sort();
    Ok(v)
}

/// Some work that writes: a convention, its roster and invitations, a command over /ws.
async fn work(addr: &str, token: &str, id: &str) -> Result<()> {
    let http = reqwest::Client::new();
    let base = format!("http://{addr}/api/conventions");
    let r = http
        .post(&base)
        .bearer_auth(token)
        .json(&CreateConvention {
            id: Some(id.into()),
            name: "Privée".into(),
        })
        .send()
        .await?;
    ensure!(r.status() == 201, "create: {}", r.status());
    let r = http
        .post(format!("{base}/{id}/roster"))
        .bearer_auth(token)
        .json(&[person("Claire Animatrice", &[Role::Facilitator], &[])])
        .send()
        .await?;
    ensure!(r.status() == 201, "roster: {}", r.status());
    let r = http
        .post(format!("{base}/{id}/invites"))
        .bearer_auth(token)
        .send()
        .await?;
    ensure!(r.status() == 201, "invites: {}", r.status());
    let invites: Vec<convene_tests::proto::api::Invite> = r.json().await?;
    let mut fac = Client::join(
        &format!("ws://{addr}/ws"),
        "fac",
        &token_of(&invites, "Claire Animatrice"),
    )
    .await?;
    fac.ok(Command::Broadcast {
        text: "Les fichiers restent privés.".into(),
    })
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_data_directory_and_every_file_in_it_are_private() -> Result<()> {
    let dir = tempdir();
    let data = dir.path().join("data");
    let mut server = start(&data, "000").await?;
    let token =
        std::fs::read_to_string(data.join("organizer-token")).context("no organizer-token file")?;
    work(&server.addr, token.trim(), "privee").await?;
    let files = names(&data)?;
    for must in ["organizer-token", "demo-secret", "convene.sqlite3"] {
        ensure!(files.iter().any(|f| f == must), "no {must} in {files:?}");
    }
    let found = loose(&data)?;
    ensure!(
        found.is_empty(),
        "readable by others while serving: {found:?}"
    );
    // What the shutdown writes (stored states, checkpoints) is private too.
    server.terminate().await?;
    let found = loose(&data)?;
    ensure!(
        found.is_empty(),
        "readable by others after shutdown: {found:?} among {:?}",
        names(&data)?
    );
    let mode = std::fs::metadata(&data)?.permissions().mode() & 0o777;
    ensure!(mode == 0o700, "data directory mode {mode:o}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loose_data_directory_is_tightened_at_start_with_a_warning() -> Result<()> {
    let dir = tempdir();
    let data = dir.path().join("data");
    // As an earlier version left it: a world-readable directory, a readable demo secret
    // (which yields every demo token), a readable note in a readable subdirectory.
    std::fs::create_dir_all(data.join("old"))?;
    std::fs::write(data.join("demo-secret"), [7u8; 32])?;
    std::fs::write(data.join("old").join("notes.txt"), "anciennes notes")?;
    for (p, mode) in [
        (data.clone(), 0o755),
        (data.join("old"), 0o775),
        (data.join("demo-secret"), 0o644),
        (data.join("old").join("notes.txt"), 0o666),
    ] {
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode))?;
    }
    let mut server = start(&data, "022").await?;
    let found = loose(&data)?;
    ensure!(
        found.is_empty(),
        "still readable by others after start: {found:?}"
    );
    // The demo secret was kept (the demo links stay the same), not replaced.
    ensure!(
        std::fs::read(data.join("demo-secret"))? == [7u8; 32],
        "the demo secret was replaced"
    );
    server.terminate().await?;
    let log = std::fs::read_to_string(&server.stderr)?;
    ensure!(
        log.lines()
            .any(|l| l.contains("WARN") && l.contains("demo-secret") && l.contains("644")),
        "no warning naming the loosened file and its mode in the log:\n{log}"
    );
    Ok(())
}
