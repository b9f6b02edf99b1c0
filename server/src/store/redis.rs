//! The cluster store: Redis. Each convention's log is a stream whose entry ids are the
//! sequence numbers (`{seq}-0`), appended only by a Lua script that checks the stream's last
//! id is the expected one (optimistic concurrency: Redis orders the log, no consensus of our
//! own). Audit entries and secret ballots go in the same atomic script. Every key of a
//! convention carries its id as a hash tag (`cv:{id}:...`), so one convention lives on one
//! Redis Cluster slot: one stream per convention is the unit of sharding.

use std::time::Duration;

use convene_protocol::{AuditEntry, Event, Record};
use rand::RngCore;
use redis::aio::{ConnectionManager, MultiplexedConnection};
use redis::{AsyncCommands, Client, Script};

use super::{Append, DocAppend, DocLoaded, Loaded, StoreError, StoredVersion};

const CONVENTIONS: &str = "convene:conventions";

fn log_key(c: &str) -> String {
    format!("cv:{{{c}}}:log")
}
fn audit_key(c: &str) -> String {
    format!("cv:{{{c}}}:audit")
}
fn ballots_key(c: &str) -> String {
    format!("cv:{{{c}}}:ballots")
}
fn state_key(c: &str) -> String {
    format!("cv:{{{c}}}:state")
}
fn doc_key(c: &str, d: &str) -> String {
    format!("cv:{{{c}}}:doc:{d}")
}
fn doc_counter_key(c: &str, d: &str) -> String {
    format!("cv:{{{c}}}:docn:{d}")
}
fn doc_snapshot_key(c: &str, d: &str) -> String {
    format!("cv:{{{c}}}:docs:{d}")
}
fn doc_versions_key(c: &str, d: &str) -> String {
    format!("cv:{{{c}}}:docv:{d}")
}

/// KEYS: log, audit, ballots. ARGV: expected last seq, then counts and bodies of records
/// (seq, json), audit entries (n, json) and ballots (member).
const APPEND: &str = r#"
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local found = 0
if #last > 0 then found = tonumber(string.match(last[1][1], '^(%d+)')) end
if found ~= tonumber(ARGV[1]) then return {'conflict', found} end
local i = 2
local n = tonumber(ARGV[i]); i = i + 1
for k = 1, n do
  redis.call('XADD', KEYS[1], ARGV[i] .. '-0', 'r', ARGV[i + 1]); i = i + 2
end
local a = tonumber(ARGV[i]); i = i + 1
for k = 1, a do
  redis.call('XADD', KEYS[2], ARGV[i] .. '-0', 'e', ARGV[i + 1]); i = i + 2
end
local b = tonumber(ARGV[i]); i = i + 1
for k = 1, b do
  redis.call('SADD', KEYS[3], ARGV[i]); i = i + 1
end
return {'ok', found + n}
"#;

/// KEYS: updates stream, counter, snapshot. ARGV: updates. Numbers continue the counter.
const DOC_APPEND: &str = r#"
local n = tonumber(redis.call('GET', KEYS[2]) or '0')
for k = 1, #ARGV do
  n = n + 1
  redis.call('XADD', KEYS[1], n .. '-0', 'u', ARGV[k])
end
redis.call('SET', KEYS[2], n)
return n
"#;

/// KEYS: updates stream, snapshot. ARGV: upto, snapshot bytes. A snapshot never replaces a
/// more recent one (two nodes may compact at once).
const DOC_COMPACT: &str = r#"
local cur = tonumber(redis.call('HGET', KEYS[2], 'upto') or '0')
if tonumber(ARGV[1]) <= cur then return 0 end
redis.call('HSET', KEYS[2], 'upto', ARGV[1], 'data', ARGV[2])
redis.call('XTRIM', KEYS[1], 'MINID', (tonumber(ARGV[1]) + 1) .. '-0')
return 1
"#;

/// KEYS: state. ARGV: seq, data. Two nodes may save at once: the later seq stays.
const SAVE_STATE: &str = r#"
local cur = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
if tonumber(ARGV[1]) <= cur then return 0 end
redis.call('HSET', KEYS[1], 'seq', ARGV[1], 'data', ARGV[2])
return 1
"#;

#[derive(Clone)]
pub struct RedisStore {
    client: Client,
    con: ConnectionManager,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("redis: {e}"))
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// The seq of a stream entry id `{seq}-0`.
fn seq_of(id: &str) -> Result<u64, StoreError> {
    id.split('-')
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| corrupt(format!("stream id {id}")))
}

type Entries = Vec<(String, Vec<Vec<u8>>)>;

/// Whether the records are `first, first + 1, ...` without a gap.
fn contiguous(records: &[Record], first: u64) -> bool {
    records
        .iter()
        .enumerate()
        .all(|(i, r)| r.seq == first + i as u64)
}

/// The value of the (single) field of each stream entry.
fn values(entries: Entries) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
    entries
        .into_iter()
        .map(|(id, fields)| Ok((seq_of(&id)?, fields.into_iter().nth(1).unwrap_or_default())))
        .collect()
}

impl RedisStore {
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let client = Client::open(url).map_err(unavailable)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(5)))
            .set_number_of_retries(1);
        let con = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map_err(unavailable)?;
        Ok(RedisStore { client, con })
    }

    /// A connection of its own, for blocking reads.
    pub async fn dedicated(&self) -> Result<MultiplexedConnection, StoreError> {
        self.client
            .get_multiplexed_async_connection()
            .await
            .map_err(unavailable)
    }

    /// The shared, reconnecting connection.
    pub fn manager(&self) -> ConnectionManager {
        self.con.clone()
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut con = self.con.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut con)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    pub async fn append(&self, a: Append) -> Result<(), StoreError> {
        let mut con = self.con.clone();
        if a.expected == 0 {
            // Listed before its first record: a crash in between lists an empty convention,
            // which loads as nothing.
            let _: () = con
                .sadd(CONVENTIONS, &a.convention)
                .await
                .map_err(unavailable)?;
        }
        let script = Script::new(APPEND);
        let mut inv = script.prepare_invoke();
        inv.key(log_key(&a.convention))
            .key(audit_key(&a.convention))
            .key(ballots_key(&a.convention));
        inv.arg(a.expected).arg(a.records.len());
        for r in &a.records {
            inv.arg(r.seq)
                .arg(serde_json::to_string(r).map_err(corrupt)?);
        }
        inv.arg(a.audit.len());
        for e in &a.audit {
            inv.arg(e.n).arg(serde_json::to_string(e).map_err(corrupt)?);
        }
        inv.arg(a.ballots.len());
        for b in &a.ballots {
            // A random prefix: equal ballots stay distinct members, and say nothing of order.
            let mut nonce = [0u8; 8];
            rand::thread_rng().fill_bytes(&mut nonce);
            inv.arg(format!(
                "{}:{}",
                hex::encode(nonce),
                serde_json::to_string(b).map_err(corrupt)?
            ));
        }
        let (status, found): (String, u64) =
            inv.invoke_async(&mut con).await.map_err(unavailable)?;
        if status == "conflict" {
            return Err(StoreError::Conflict {
                convention: a.convention,
                expected: a.expected,
                found,
            });
        }
        Ok(())
    }

    /// The records after `after`, in order.
    pub async fn records_after(
        &self,
        convention: &str,
        after: u64,
    ) -> Result<Vec<Record>, StoreError> {
        let mut con = self.con.clone();
        let entries: Entries = redis::cmd("XRANGE")
            .arg(log_key(convention))
            .arg(format!("({after}-0"))
            .arg("+")
            .query_async(&mut con)
            .await
            .map_err(unavailable)?;
        values(entries)?
            .into_iter()
            .map(|(_, body)| serde_json::from_slice(&body).map_err(corrupt))
            .collect()
    }

    /// Wait (up to `block`) for records after `after`, on a connection of the caller's own.
    pub async fn wait_records(
        con: &mut MultiplexedConnection,
        convention: &str,
        after: u64,
        block: Duration,
    ) -> Result<Vec<Record>, StoreError> {
        let reply: Option<Vec<(String, Entries)>> = redis::cmd("XREAD")
            .arg("BLOCK")
            .arg(block.as_millis() as u64)
            .arg("STREAMS")
            .arg(log_key(convention))
            .arg(format!("{after}-0"))
            .query_async(con)
            .await
            .map_err(unavailable)?;
        let mut out = Vec::new();
        for (_, entries) in reply.unwrap_or_default() {
            for (_, body) in values(entries)? {
                out.push(serde_json::from_slice(&body).map_err(corrupt)?);
            }
        }
        Ok(out)
    }

    pub async fn load(&self, convention: &str, with_state: bool) -> Result<Loaded, StoreError> {
        let mut con = self.con.clone();
        let mut state = None;
        if with_state {
            let (seq, data): (Option<u64>, Option<Vec<u8>>) = redis::cmd("HMGET")
                .arg(state_key(convention))
                .arg("seq")
                .arg("data")
                .query_async(&mut con)
                .await
                .map_err(unavailable)?;
            state = seq.zip(data);
        }
        let mut records = Vec::new();
        if let Some((seq, _)) = &state {
            // From the state's own record: a state whose record is not in the log (a log
            // lost without its state) is not used; the log is the truth.
            let tail = self
                .records_after(convention, seq.saturating_sub(1))
                .await?;
            let anchored = tail.first().is_some_and(|r| r.seq == *seq);
            if anchored && contiguous(&tail, *seq) {
                records = tail.into_iter().skip(1).collect();
            } else {
                state = None;
            }
        }
        if state.is_none() {
            records = self.records_after(convention, 0).await?;
            if !contiguous(&records, 1) {
                return Err(corrupt(format!("{convention}: seq out of order")));
            }
        }
        let last: Entries = redis::cmd("XREVRANGE")
            .arg(audit_key(convention))
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut con)
            .await
            .map_err(unavailable)?;
        let audit_head = match values(last)?.into_iter().next() {
            Some((_, body)) => {
                let e: AuditEntry = serde_json::from_slice(&body).map_err(corrupt)?;
                Some((e.n, e.hash))
            }
            None => None,
        };
        Ok(Loaded {
            state,
            records,
            audit_head,
            ballots: self.ballots(convention).await?,
        })
    }

    pub async fn save_state(
        &self,
        convention: &str,
        seq: u64,
        data: Vec<u8>,
    ) -> Result<(), StoreError> {
        let mut con = self.con.clone();
        let _: i64 = Script::new(SAVE_STATE)
            .key(state_key(convention))
            .arg(seq)
            .arg(data)
            .invoke_async(&mut con)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// The ballot box: every secret ballot, in no order.
    pub async fn ballots(&self, convention: &str) -> Result<Vec<Event>, StoreError> {
        let mut con = self.con.clone();
        let members: Vec<String> = con
            .smembers(ballots_key(convention))
            .await
            .map_err(unavailable)?;
        members
            .iter()
            .map(|m| {
                let json = m.split_once(':').map(|(_, j)| j).unwrap_or(m);
                serde_json::from_str(json).map_err(corrupt)
            })
            .collect()
    }

    pub async fn conventions(&self) -> Result<Vec<String>, StoreError> {
        let mut con = self.con.clone();
        let mut ids: Vec<String> = con.smembers(CONVENTIONS).await.map_err(unavailable)?;
        ids.sort();
        Ok(ids)
    }

    pub async fn audit(&self, convention: &str) -> Result<Vec<AuditEntry>, StoreError> {
        let mut con = self.con.clone();
        let entries: Entries = redis::cmd("XRANGE")
            .arg(audit_key(convention))
            .arg("-")
            .arg("+")
            .query_async(&mut con)
            .await
            .map_err(unavailable)?;
        values(entries)?
            .into_iter()
            .map(|(_, b)| serde_json::from_slice(&b).map_err(corrupt))
            .collect()
    }

    pub async fn doc_append(&self, a: DocAppend) -> Result<u64, StoreError> {
        let mut con = self.con.clone();
        let script = Script::new(DOC_APPEND);
        let mut inv = script.prepare_invoke();
        inv.key(doc_key(&a.convention, &a.doc))
            .key(doc_counter_key(&a.convention, &a.doc));
        for u in &a.updates {
            inv.arg(u.as_slice());
        }
        inv.invoke_async(&mut con).await.map_err(unavailable)
    }

    pub async fn doc_load(&self, convention: &str, doc: &str) -> Result<DocLoaded, StoreError> {
        let mut con = self.con.clone();
        let snap: (Option<u64>, Option<Vec<u8>>) = redis::cmd("HMGET")
            .arg(doc_snapshot_key(convention, doc))
            .arg("upto")
            .arg("data")
            .query_async(&mut con)
            .await
            .map_err(unavailable)?;
        let snapshot = match snap {
            (Some(upto), Some(data)) => Some((upto, data)),
            _ => None,
        };
        let upto = snapshot.as_ref().map_or(0, |(u, _)| *u);
        let updates = self.doc_updates_after(convention, doc, upto).await?;
        Ok(DocLoaded { snapshot, updates })
    }

    pub async fn doc_updates_after(
        &self,
        convention: &str,
        doc: &str,
        after: u64,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let mut con = self.con.clone();
        let entries: Entries = redis::cmd("XRANGE")
            .arg(doc_key(convention, doc))
            .arg(format!("({after}-0"))
            .arg("+")
            .query_async(&mut con)
            .await
            .map_err(unavailable)?;
        values(entries)
    }

    /// Wait (up to `block`) for document updates after `after`, on the caller's connection.
    pub async fn wait_doc_updates(
        con: &mut MultiplexedConnection,
        convention: &str,
        doc: &str,
        after: u64,
        block: Duration,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let reply: Option<Vec<(String, Entries)>> = redis::cmd("XREAD")
            .arg("BLOCK")
            .arg(block.as_millis() as u64)
            .arg("STREAMS")
            .arg(doc_key(convention, doc))
            .arg(format!("{after}-0"))
            .query_async(con)
            .await
            .map_err(unavailable)?;
        let mut out = Vec::new();
        for (_, entries) in reply.unwrap_or_default() {
            out.extend(values(entries)?);
        }
        Ok(out)
    }

    pub async fn doc_compact(
        &self,
        convention: &str,
        doc: &str,
        upto: u64,
        snapshot: Vec<u8>,
    ) -> Result<(), StoreError> {
        let mut con = self.con.clone();
        let script = Script::new(DOC_COMPACT);
        let mut inv = script.prepare_invoke();
        inv.key(doc_key(convention, doc))
            .key(doc_snapshot_key(convention, doc))
            .arg(upto)
            .arg(snapshot);
        inv.invoke_async::<i64>(&mut con)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    pub async fn version_save(
        &self,
        convention: &str,
        doc: &str,
        v: StoredVersion,
    ) -> Result<(), StoreError> {
        let mut con = self.con.clone();
        let key = doc_versions_key(convention, doc);
        let n = v.version;
        redis::cmd("HSET")
            .arg(&key)
            .arg(format!("{n}:label"))
            .arg(&v.label)
            .arg(format!("{n}:at"))
            .arg(v.at)
            .arg(format!("{n}:data"))
            .arg(v.data)
            .query_async::<i64>(&mut con)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    pub async fn versions(
        &self,
        convention: &str,
        doc: &str,
    ) -> Result<Vec<StoredVersion>, StoreError> {
        let mut con = self.con.clone();
        let all: Vec<(String, Vec<u8>)> = con
            .hgetall(doc_versions_key(convention, doc))
            .await
            .map_err(unavailable)?;
        let mut versions: std::collections::BTreeMap<u32, StoredVersion> = Default::default();
        for (field, value) in all {
            let Some((n, what)) = field.split_once(':') else {
                continue;
            };
            let Ok(n) = n.parse::<u32>() else { continue };
            let v = versions.entry(n).or_insert(StoredVersion {
                version: n,
                label: String::new(),
                at: 0,
                data: Vec::new(),
            });
            match what {
                "label" => v.label = String::from_utf8_lossy(&value).into_owned(),
                "at" => v.at = String::from_utf8_lossy(&value).parse().unwrap_or(0),
                "data" => v.data = value,
                _ => {}
            }
        }
        Ok(versions.into_values().collect())
    }

    /// Remove a convention entirely (tests and `convene import --replace`).
    pub async fn delete(&self, convention: &str) -> Result<(), StoreError> {
        let mut con = self.con.clone();
        let keys: Vec<String> = con
            .keys(format!("cv:{{{convention}}}:*"))
            .await
            .map_err(unavailable)?;
        if !keys.is_empty() {
            let _: () = con.del(keys).await.map_err(unavailable)?;
        }
        let _: () = con
            .srem(CONVENTIONS, convention)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Nothing to flush: every write was acknowledged by Redis before it returned.
    pub async fn close(&self) {}
}
