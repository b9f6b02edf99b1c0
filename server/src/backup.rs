//! `convene export` / `convene import`: a convention as JSON lines, to move it between the
//! SQLite store and Redis, or to keep a backup. One line per item: the convention, each
//! record of its log, each audit entry, each secret ballot (the box, in no order), and each
//! document's state and named versions (Yjs updates, base64).

use std::io::{BufRead, Write};

use base64::Engine;
use convene_protocol::{AuditEntry, Event, Record};
use serde::{Deserialize, Serialize};
use yrs::{ReadTxn, StateVector, Transact};

use crate::domain::Convention;
use crate::store::{Append, DocAppend, Store, StoreError, StoredVersion};
use crate::wire;

#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Line {
    Convention {
        id: String,
    },
    Record {
        record: Record,
    },
    Audit {
        entry: AuditEntry,
    },
    Ballot {
        ballot: Event,
    },
    /// A document's whole state, as one Yjs update.
    Document {
        name: String,
        state: String,
    },
    Version {
        document: String,
        version: u32,
        label: String,
        at: u64,
        state: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no convention {0}")]
    Unknown(String),
    #[error("convention {0} already exists in the target store")]
    Exists(String),
    #[error("line {line}: {reason}")]
    Bad { line: usize, reason: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn unb64(s: &str, line: usize) -> Result<Vec<u8>, BackupError> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| BackupError::Bad {
            line,
            reason: e.to_string(),
        })
}

/// Every item of a convention, in a stable order.
pub async fn export(store: &Store, id: &str) -> Result<Vec<Line>, BackupError> {
    let loaded = store.load(id).await?;
    if loaded.records.is_empty() {
        return Err(BackupError::Unknown(id.to_string()));
    }
    let state = Convention::from_log(
        &loaded
            .records
            .iter()
            .cloned()
            .map(wire::record_in)
            .collect::<Vec<_>>(),
    );
    let last = loaded.records.last().map_or(0, |r| r.seq);
    let mut out = vec![Line::Convention { id: id.to_string() }];
    out.extend(
        loaded
            .records
            .into_iter()
            .map(|record| Line::Record { record }),
    );
    // Read after the log: a node that appended since also wrote the audit entries of its
    // records (in the same atomic write, the trail's before the log's). The trail is cut at
    // the log's end: what stays is exactly the trail as it was when the log was read (entries
    // follow the log's order), and an import rebuilds a convention whose trail and log agree.
    out.extend(
        store
            .audit(id)
            .await?
            .into_iter()
            .take_while(|entry| entry.seq <= last)
            .map(|entry| Line::Audit { entry }),
    );
    let mut ballots: Vec<String> = loaded
        .ballots
        .events()
        .map(|b| serde_json::to_string(b).unwrap_or_default())
        .collect();
    ballots.sort(); // no order to keep: sorted, so that two exports compare equal
    for b in ballots {
        if let Ok(ballot) = serde_json::from_str(&b) {
            out.push(Line::Ballot { ballot });
        }
    }
    for name in state.documents.keys() {
        let stored = store.doc_load(id, name).await?;
        // Loaded as the server loads it: nothing stored too deep makes yrs recurse.
        let parts = stored
            .snapshot
            .iter()
            .map(|(_, d)| d.as_slice())
            .chain(stored.updates.iter().map(|(_, d)| d.as_slice()));
        let doc = crate::docs::live::load_doc(parts).unwrap_or_else(|e| {
            tracing::warn!(convention = id, document = %name, error = %e, "document not exported");
            yrs::Doc::new()
        });
        let state = doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        out.push(Line::Document {
            name: name.clone(),
            state: b64(&state),
        });
        for v in store.versions(id, name).await? {
            out.push(Line::Version {
                document: name.clone(),
                version: v.version,
                label: v.label,
                at: v.at,
                state: b64(&v.data),
            });
        }
    }
    Ok(out)
}

pub fn write(lines: &[Line], mut to: impl Write) -> Result<(), BackupError> {
    for l in lines {
        serde_json::to_writer(&mut to, l).map_err(std::io::Error::other)?;
        to.write_all(b"\n")?;
    }
    Ok(())
}

pub fn read(from: impl BufRead) -> Result<Vec<Line>, BackupError> {
    let mut out = Vec::new();
    for (i, line) in from.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        out.push(serde_json::from_str(&line).map_err(|e| BackupError::Bad {
            line: i + 1,
            reason: e.to_string(),
        })?);
    }
    Ok(out)
}

/// Write an exported convention into a store where it does not exist yet.
pub async fn import(store: &Store, lines: Vec<Line>) -> Result<String, BackupError> {
    let Some(Line::Convention { id }) = lines.first() else {
        return Err(BackupError::Bad {
            line: 1,
            reason: "the first line names the convention".into(),
        });
    };
    let id = id.clone();
    if !store.load(&id).await?.records.is_empty() {
        return Err(BackupError::Exists(id));
    }
    let mut append = Append {
        convention: id.clone(),
        expected: 0,
        records: vec![],
        audit: vec![],
        ballots: vec![],
        // Closed polls' ballots are sealed when the convention is first taken up.
        seal: vec![],
    };
    let mut docs = Vec::new();
    for (i, l) in lines.into_iter().enumerate().skip(1) {
        match l {
            Line::Record { record } => {
                if record.seq != append.records.len() as u64 + 1 {
                    return Err(BackupError::Bad {
                        line: i + 1,
                        reason: format!("seq {} out of order", record.seq),
                    });
                }
                append.records.push(record);
            }
            Line::Audit { entry } => append.audit.push(entry),
            Line::Ballot { ballot } => append.ballots.push(ballot),
            other @ (Line::Document { .. } | Line::Version { .. }) => docs.push((i + 1, other)),
            Line::Convention { .. } => {
                return Err(BackupError::Bad {
                    line: i + 1,
                    reason: "one convention per file".into(),
                })
            }
        }
    }
    store.append(append).await?;
    for (line, d) in docs {
        match d {
            Line::Document { name, state } => {
                let update = unb64(&state, line)?;
                store
                    .doc_append(DocAppend {
                        convention: id.clone(),
                        doc: name,
                        updates: vec![update],
                    })
                    .await?;
            }
            Line::Version {
                document,
                version,
                label,
                at,
                state,
            } => {
                let data = unb64(&state, line)?;
                store
                    .version_save(
                        &id,
                        &document,
                        StoredVersion {
                            version,
                            label,
                            at,
                            data,
                        },
                    )
                    .await?;
            }
            _ => {}
        }
    }
    Ok(id)
}
