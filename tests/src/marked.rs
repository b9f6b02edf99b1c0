//! A convention whose every kind of content carries a mark, and where that mark is on disk:
//! what the deletion tests (offline `delete.rs`, live `delete_online.rs`) erase and look for.

use std::path::Path;

use anyhow::Result;

use crate::proto::{Ballot, Command, PollKind, Role};
use crate::{person, poll_spec, Client, Server};

/// A convention `id` whose names, chat line, secret free-text ballot and document title carry
/// `mark`: its invitation tokens (facilitator, citizen), and both still connected (attendance).
pub async fn convention(
    server: &Server,
    id: &str,
    mark: &str,
) -> Result<(Vec<String>, Client, Client)> {
    let roster = [
        person(&format!("Claire {mark}"), &[Role::Facilitator], &[]),
        person(&format!("Amina {mark}"), &[Role::Citizen], &[]),
    ];
    let invites = server.http().convention(id, &roster).await?;
    let mut fac = Client::join(&server.ws_url(), "fac", &invites[0].token).await?;
    let mut amina = Client::join(&server.ws_url(), "amina", &invites[1].token).await?;
    amina
        .ok(Command::SendChat {
            room: None,
            text: format!("Bonjour {mark}"),
        })
        .await?;
    let spec = poll_spec(
        "Votre avis ?",
        PollKind::Text { max_chars: 80 },
        true,
        false,
    );
    let (poll, _) = fac.draft_and_open(spec).await?;
    amina
        .ok(Command::Vote {
            poll: poll.clone(),
            ballot: Ballot::Text {
                text: format!("bulletin {mark}"),
            },
        })
        .await?;
    fac.ok(Command::ClosePoll { poll }).await?;
    fac.ok(Command::CreateDocument {
        name: "opinion".into(),
        title: format!("Avis {mark}"),
    })
    .await?;
    Ok((invites.into_iter().map(|i| i.token).collect(), fac, amina))
}

/// Which files of `dir` hold `needle`, anywhere in their bytes.
pub fn holding(dir: &Path, needle: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_file() {
            let bytes = std::fs::read(&path)?;
            if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                out.push(
                    path.file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    Ok(out)
}
