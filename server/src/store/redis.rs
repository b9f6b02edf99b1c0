//! The cluster store: Redis. Each convention's log is a stream whose entry ids are the
//! sequence numbers (`{seq}-0`), appended only by a Lua script that checks the stream's last
//! id is the expected one (optimistic concurrency: Redis orders the log, no consensus of our
//! own). Audit entries and secret ballots go in the same atomic script. Every key of a
//! convention carries its id as a hash tag (`cv:{id}:...`), so one convention lives on one
//! Redis Cluster slot: one stream per convention is the unit of sharding.
//!
//! Secret ballots: the loose ballots of open polls are members of a sorted set, all of score 0
//! and each behind a random prefix, so that Redis keeps them in the order of the prefixes (a
//! small set's listpack would keep the order of insertion, and `SMEMBERS` return it); the
//! script that appends a secret poll's close seals its ballots: removed from the set, kept as
//! one sorted list in a hash. Ballots are added in a random order within each append.

use std::time::Duration;

use convene_protocol::{AuditEntry, Record};
use rand::seq::SliceRandom;
use rand::RngCore;
use redis::aio::{ConnectionManager, MultiplexedConnection};
use redis::AsyncConnectionConfig;
use redis::{AsyncCommands, Client, Script};

use super::{Append, BallotBox, BoxRow, DocAppend, DocLoaded, Loaded, StoreError, StoredVersion};

const CONVENTIONS: &str = "convene:conventions";
/// Tries, a second apart, to have Redis rewrite its append-only file after a seal while another
/// rewrite runs.
const AOF_REWRITE_TRIES: usize = 120;
/// The response timeout of a `dedicated` connection: longer than any blocking read (5 s),
/// short enough that a Redis gone silent is noticed.
const DEDICATED_TIMEOUT: Duration = Duration::from_secs(15);

fn log_key(c: &str) -> String {
    format!("cv:{{{c}}}:log")
}
fn audit_key(c: &str) -> String {
    format!("cv:{{{c}}}:audit")
}
/// Loose ballots of open polls: a sorted set, every score 0, members `{16 hex}:{json}`.
fn box_key(c: &str) -> String {
    format!("cv:{{{c}}}:box")
}
/// Loose ballots as written before the sorted set (a set): read, and sealed, still.
fn legacy_ballots_key(c: &str) -> String {
    format!("cv:{{{c}}}:ballots")
}
/// Sealed ballots of closed polls: a hash, poll -> sorted JSON array.
fn sealed_key(c: &str) -> String {
    format!("cv:{{{c}}}:sealed")
}
/// The nodes that have done one step of a deletion's attempt (`ack`).
fn acks_key(attempt: &str, step: &str) -> String {
    format!("convene:deletion:{attempt}:{step}")
}
/// Who deletes the convention now (one deletion of an id at a time in the cluster).
fn deletion_lock_key(c: &str) -> String {
    format!("convene:deleting:{c}")
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

/// Lua: seal the loose ballots of poll `poll` (in the sorted set `box` and the legacy set
/// `legacy`) into one sorted JSON array in the hash `sealed`; 1 if there were any. A member is
/// `{16 hex}:{json}`; one that is not a ballot of the poll stays where it is.
macro_rules! seal_fn {
    () => {
        r#"
local function seal(box, legacy, sealed, poll)
  local found = {}
  local function take(key, members, remove)
    for _, m in ipairs(members) do
      local json = string.sub(m, 18)
      local ok, ev = pcall(cjson.decode, json)
      if ok and type(ev) == 'table' and ev['type'] == 'secret_ballot_cast' and ev['poll'] == poll then
        table.insert(found, json)
        redis.call(remove, key, m)
      end
    end
  end
  take(box, redis.call('ZRANGE', box, 0, -1), 'ZREM')
  take(legacy, redis.call('SMEMBERS', legacy), 'SREM')
  if #found == 0 then return 0 end
  local before = redis.call('HGET', sealed, poll)
  if before then
    local ok, items = pcall(cjson.decode, before)
    if ok and type(items) == 'table' then
      for _, item in ipairs(items) do table.insert(found, cjson.encode(item)) end
    else
      redis.call('HSET', sealed, poll .. ' (unreadable)', before)
    end
  end
  table.sort(found)
  redis.call('HSET', sealed, poll, '[' .. table.concat(found, ',') .. ']')
  return 1
end
"#
    };
}

/// KEYS: log, audit, box, legacy ballots, sealed. ARGV: expected last seq, then counts and
/// bodies of records (seq, json), audit entries (n, json), ballots (member), and the polls
/// whose ballots to seal. Returns the status, the last seq, and how many polls were sealed
/// (or, for `audit`, the trail's last entry). Everything is checked before the first write: a
/// script that fails halfway keeps what it wrote.
const APPEND: &str = concat!(
    seal_fn!(),
    r#"
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local found = 0
if #last > 0 then found = tonumber(string.match(last[1][1], '^(%d+)')) end
if found ~= tonumber(ARGV[1]) then return {'conflict', found, 0} end
local n = tonumber(ARGV[2])
local at = 3 + 2 * n
local a = tonumber(ARGV[at])
if a > 0 then
  local top = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
  local head = 0
  if #top > 0 then head = tonumber(string.match(top[1][1], '^(%d+)')) end
  if tonumber(ARGV[at + 1]) ~= head + 1 then return {'audit', found, head} end
  -- The trail is written first, and its first entry tried: if the stream refuses it,
  -- nothing at all is written. The entries after it follow on and cannot be refused.
  local first = redis.pcall('XADD', KEYS[2], ARGV[at + 1] .. '-0', 'e', ARGV[at + 2])
  if type(first) == 'table' and first.err then return {'audit', found, head} end
  for k = 2, a do
    local j = at + 2 * k - 1
    redis.call('XADD', KEYS[2], ARGV[j] .. '-0', 'e', ARGV[j + 1])
  end
end
local i = 3
for k = 1, n do
  redis.call('XADD', KEYS[1], ARGV[i] .. '-0', 'r', ARGV[i + 1]); i = i + 2
end
i = at + 1 + 2 * a
local b = tonumber(ARGV[i]); i = i + 1
for k = 1, b do
  redis.call('ZADD', KEYS[3], 0, ARGV[i]); i = i + 1
end
local s = tonumber(ARGV[i]); i = i + 1
local sealed = 0
for k = 1, s do
  sealed = sealed + seal(KEYS[3], KEYS[4], KEYS[5], ARGV[i]); i = i + 1
end
return {'ok', found + n, sealed}
"#
);

/// KEYS: box, legacy ballots, sealed. ARGV: the polls whose loose ballots to seal. Returns how
/// many were sealed.
const SEAL: &str = concat!(
    seal_fn!(),
    r#"
local sealed = 0
for k = 1, #ARGV do
  sealed = sealed + seal(KEYS[1], KEYS[2], KEYS[3], ARGV[k])
end
return sealed
"#
);

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
/// more recent one (two nodes may compact at once). The trim keeps update `upto` itself (the
/// snapshot holds it too; a load skips it): another node's follower still behind it reads it
/// at once, and its number shows the gap to fill from the snapshot. Trimmed past it, the
/// stream could hold nothing after such a follower, and Redis answers a blocking read after
/// entries that were all trimmed only when a newer one comes: with nobody typing any more,
/// that node never learnt of the last updates.
const DOC_COMPACT: &str = r#"
local cur = tonumber(redis.call('HGET', KEYS[2], 'upto') or '0')
if tonumber(ARGV[1]) <= cur then return 0 end
redis.call('HSET', KEYS[2], 'upto', ARGV[1], 'data', ARGV[2])
redis.call('XTRIM', KEYS[1], 'MINID', ARGV[1] .. '-0')
return 1
"#;

/// KEYS: state. ARGV: seq, data. Two nodes may save at once: the later seq stays.
const SAVE_STATE: &str = r#"
local cur = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
if tonumber(ARGV[1]) <= cur then return 0 end
redis.call('HSET', KEYS[1], 'seq', ARGV[1], 'data', ARGV[2])
return 1
"#;

/// The nodes of the cluster and the build each runs: a hash, node -> `expires_ms|build|address`.
const NODES: &str = "convene:nodes";

/// KEYS: nodes. ARGV: node, build, address, ttl_ms, `join` or `stay`. Forgets the nodes whose
/// entry expired; returns the other live nodes that run another build, as `build|address`
/// strings. `join` writes this node's entry only when there is none; `stay` writes it always
/// (a running node keeps its place).
const REGISTER: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local all = redis.call('HGETALL', KEYS[1])
local others = {}
for i = 1, #all, 2 do
  local node, v = all[i], all[i + 1]
  local sep = string.find(v, '|', 1, true)
  local expires = sep and tonumber(string.sub(v, 1, sep - 1)) or 0
  if expires < now then
    redis.call('HDEL', KEYS[1], node)
  elseif node ~= ARGV[1] then
    local rest = string.sub(v, sep + 1)
    local sep2 = string.find(rest, '|', 1, true)
    local build = sep2 and string.sub(rest, 1, sep2 - 1) or rest
    if build ~= ARGV[2] then table.insert(others, rest) end
  end
end
if #others == 0 or ARGV[5] == 'stay' then
  redis.call('HSET', KEYS[1], ARGV[1], (now + tonumber(ARGV[4])) .. '|' .. ARGV[2] .. '|' .. ARGV[3])
end
return others
"#;

/// What `RedisStore::snapshot` reads at once.
struct Snapshot {
    ballots: BallotBox,
    state: Option<(u64, Vec<u8>)>,
    audit_head: Option<(u64, String)>,
}

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

/// Adds to `pipe` the read of a stream's last entry.
fn last_entry(pipe: &mut redis::Pipeline, stream: String) -> &mut redis::Pipeline {
    pipe.cmd("XREVRANGE")
        .arg(stream)
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(1)
}

/// The number of a stream's last entry read by `last_entry` (0 for an empty stream).
fn last_seq(last: &Entries) -> Result<u64, StoreError> {
    match last.first() {
        Some((id, _)) => seq_of(id),
        None => Ok(0),
    }
}

/// The number and hash of the audit entry read (the trail's last), if any.
fn audit_head_of(entries: Entries) -> Result<Option<(u64, String)>, StoreError> {
    match values(entries)?.into_iter().next() {
        Some((_, body)) => {
            let e: AuditEntry = serde_json::from_slice(&body).map_err(corrupt)?;
            Ok(Some((e.n, e.hash)))
        }
        None => Ok(None),
    }
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

    /// A connection of its own, for blocking reads (`XREAD BLOCK`, 5 s). Its replies may take
    /// as long as the block: the client's default response timeout (500 ms) cut every block
    /// short with an error, and the follower read again only after reconnecting a second
    /// later, so another node's records arrived up to 1.5 s late.
    pub async fn dedicated(&self) -> Result<MultiplexedConnection, StoreError> {
        let config = AsyncConnectionConfig::new().set_response_timeout(Some(DEDICATED_TIMEOUT));
        self.client
            .get_multiplexed_async_connection_with_config(&config)
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

    /// Put this node in the cluster's list of nodes (`join`: only if every other live node
    /// runs `build`), or keep it there (`stay`), for `ttl`. Returns the other live nodes that
    /// run another build: `(build, address)`.
    pub async fn register_node(
        &self,
        node: &str,
        build: &str,
        address: &str,
        ttl: Duration,
        join: bool,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let mut con = self.con.clone();
        let others: Vec<String> = Script::new(REGISTER)
            .key(NODES)
            .arg(node)
            .arg(build)
            .arg(address)
            .arg(ttl.as_millis() as u64)
            .arg(if join { "join" } else { "stay" })
            .invoke_async(&mut con)
            .await
            .map_err(unavailable)?;
        Ok(others
            .into_iter()
            .map(|o| match o.split_once('|') {
                Some((b, a)) => (b.to_string(), a.to_string()),
                None => (o, String::new()),
            })
            .collect())
    }

    /// The live nodes of the cluster's list: `(build, address)` of each.
    pub async fn live_nodes(&self) -> Result<Vec<(String, String)>, StoreError> {
        Ok(self
            .live_node_entries()
            .await?
            .into_iter()
            .map(|(_, build, address)| (build, address))
            .collect())
    }

    /// The ids of the live nodes of the cluster's list (`cluster::register`).
    pub async fn live_node_ids(&self) -> Result<Vec<String>, StoreError> {
        Ok(self
            .live_node_entries()
            .await?
            .into_iter()
            .map(|(id, _, _)| id)
            .collect())
    }

    /// `(id, build, address)` of every node whose entry has not expired (by Redis's clock).
    async fn live_node_entries(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        let mut con = self.con.clone();
        let (secs, micros): (u64, u64) = redis::cmd("TIME")
            .query_async(&mut con)
            .await
            .map_err(unavailable)?;
        let now = secs * 1000 + micros / 1000;
        let all: std::collections::HashMap<String, String> =
            con.hgetall(NODES).await.map_err(unavailable)?;
        Ok(all
            .into_iter()
            .filter_map(|(id, v)| {
                let mut parts = v.splitn(3, '|');
                let expires: u64 = parts.next()?.parse().ok()?;
                let build = parts.next()?.to_string();
                let address = parts.next().unwrap_or_default().to_string();
                (expires >= now).then_some((id, build, address))
            })
            .collect())
    }

    /// Take this node out of the cluster's list (a clean stop).
    pub async fn deregister_node(&self, node: &str) -> Result<(), StoreError> {
        let mut con = self.con.clone();
        con.hdel(NODES, node).await.map_err(unavailable)
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
            .key(box_key(&a.convention))
            .key(legacy_ballots_key(&a.convention))
            .key(sealed_key(&a.convention));
        inv.arg(a.expected).arg(a.records.len());
        for r in &a.records {
            inv.arg(r.seq)
                .arg(serde_json::to_string(r).map_err(corrupt)?);
        }
        inv.arg(a.audit.len());
        for e in &a.audit {
            inv.arg(e.n).arg(serde_json::to_string(e).map_err(corrupt)?);
        }
        // A random prefix: equal ballots stay distinct members, and the sorted set keeps them
        // in no order of casting. Sent in a random order too (replicas and an append-only
        // file see the script's writes in order).
        let mut members = Vec::with_capacity(a.ballots.len());
        for b in &a.ballots {
            let mut nonce = [0u8; 8];
            rand::thread_rng().fill_bytes(&mut nonce);
            members.push(format!(
                "{}:{}",
                hex::encode(nonce),
                serde_json::to_string(b).map_err(corrupt)?
            ));
        }
        members.shuffle(&mut rand::thread_rng());
        inv.arg(members.len());
        for m in &members {
            inv.arg(m);
        }
        inv.arg(a.seal.len());
        for poll in &a.seal {
            inv.arg(poll);
        }
        let (status, found, sealed): (String, u64, u64) =
            inv.invoke_async(&mut con).await.map_err(unavailable)?;
        if status == "conflict" {
            return Err(StoreError::Conflict {
                convention: a.convention,
                expected: a.expected,
                found,
            });
        }
        if status == "audit" {
            return Err(StoreError::AuditConflict {
                convention: a.convention,
                next: a.audit.first().map_or(0, |e| e.n),
                head: sealed,
            });
        }
        if sealed > 0 {
            self.forget_history();
        }
        Ok(())
    }

    /// With Redis's append-only file on, that file records every write of every script in
    /// order, ballots included, until it is rewritten: once ballots are sealed, ask Redis to
    /// rewrite it from what it holds now (the sealed, sorted lists), which removes the files
    /// with the history. In the background, best effort (a Redis may refuse the command); a
    /// rewrite already running began before the seal, so it is waited for and asked again.
    fn forget_history(&self) {
        let mut con = self.con.clone();
        tokio::spawn(async move {
            for _ in 0..AOF_REWRITE_TRIES {
                let info: String = match redis::cmd("INFO")
                    .arg("persistence")
                    .query_async(&mut con)
                    .await
                {
                    Ok(info) => info,
                    Err(e) => return tracing::warn!(error = %e, "append-only file not checked"),
                };
                if !info.lines().any(|l| l.trim() == "aof_enabled:1") {
                    return;
                }
                match redis::cmd("BGREWRITEAOF")
                    .query_async::<String>(&mut con)
                    .await
                {
                    Ok(_) => return,
                    Err(e) if e.to_string().contains("in progress") => {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    Err(e) => return tracing::warn!(error = %e, "append-only file not rewritten"),
                }
            }
            tracing::warn!("append-only file not rewritten: a rewrite kept running");
        });
    }

    /// The records after `after`, in order.
    pub async fn records_after(
        &self,
        convention: &str,
        after: u64,
    ) -> Result<Vec<Record>, StoreError> {
        self.log_range(convention, after, "+".into()).await
    }

    /// The records after `after` up to `upto`, in order.
    async fn records_between(
        &self,
        convention: &str,
        after: u64,
        upto: u64,
    ) -> Result<Vec<Record>, StoreError> {
        self.log_range(convention, after, format!("{upto}-0")).await
    }

    /// The records after `after` up to the stream id `end` (`+`: the last), in order.
    async fn log_range(
        &self,
        convention: &str,
        after: u64,
        end: String,
    ) -> Result<Vec<Record>, StoreError> {
        let mut con = self.con.clone();
        let entries: Entries = redis::cmd("XRANGE")
            .arg(log_key(convention))
            .arg(format!("({after}-0"))
            .arg(end)
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

    /// The box, the log's last seq, the stored state and the audit trail's last entry, read in
    /// one transaction: the box and the trail go with exactly the log up to that seq.
    async fn snapshot(&self, convention: &str) -> Result<Snapshot, StoreError> {
        let mut con = self.con.clone();
        type Members = Vec<Vec<u8>>;
        type State = (Option<u64>, Option<Vec<u8>>);
        let mut pipe = redis::pipe();
        last_entry(pipe.atomic(), log_key(convention))
            .cmd("ZRANGE")
            .arg(box_key(convention))
            .arg(0)
            .arg(-1)
            .cmd("SMEMBERS")
            .arg(legacy_ballots_key(convention))
            .cmd("HGETALL")
            .arg(sealed_key(convention))
            .cmd("HMGET")
            .arg(state_key(convention))
            .arg("seq")
            .arg("data");
        let (last, boxed, legacy, sealed, state, head): (
            Entries,
            Members,
            Members,
            Members,
            State,
            Entries,
        ) = last_entry(&mut pipe, audit_key(convention))
            .query_async(&mut con)
            .await
            .map_err(unavailable)?;
        let seq = last_seq(&last)?;
        let mut rows = Vec::new();
        for m in boxed.iter().chain(&legacy) {
            // `{16 hex}:{json}`; anything else is no ballot.
            match m.get(17..).filter(|_| m.get(16) == Some(&b':')) {
                Some(json) => rows.push(BoxRow::loose(json)),
                None => rows.push(BoxRow::Unreadable("a member without its prefix".into())),
            }
        }
        for pair in sealed.chunks(2) {
            if let [poll, body] = pair {
                BoxRow::sealed(&String::from_utf8_lossy(poll), body, &mut rows);
            }
        }
        Ok(Snapshot {
            ballots: BallotBox { rows, seq },
            state: state.0.zip(state.1),
            audit_head: audit_head_of(head)?,
        })
    }

    /// The seq of the log's last record (0: none).
    pub async fn log_last(&self, convention: &str) -> Result<u64, StoreError> {
        let mut con = self.con.clone();
        let mut pipe = redis::pipe();
        let (last,): (Entries,) = last_entry(&mut pipe, log_key(convention))
            .query_async(&mut con)
            .await
            .map_err(unavailable)?;
        last_seq(&last)
    }

    /// The log's last seq and the audit trail's last entry, read at once.
    pub async fn audit_head(
        &self,
        convention: &str,
    ) -> Result<(u64, Option<(u64, String)>), StoreError> {
        let mut con = self.con.clone();
        let mut pipe = redis::pipe();
        last_entry(pipe.atomic(), log_key(convention));
        let (last, head): (Entries, Entries) = last_entry(&mut pipe, audit_key(convention))
            .query_async(&mut con)
            .await
            .map_err(unavailable)?;
        let seq = last_seq(&last)?;
        Ok((seq, audit_head_of(head)?))
    }

    pub async fn load(&self, convention: &str, with_state: bool) -> Result<Loaded, StoreError> {
        let Snapshot {
            ballots,
            state: stored,
            audit_head,
        } = self.snapshot(convention).await?;
        let last = ballots.seq;
        let mut state = stored.filter(|(seq, _)| with_state && *seq <= last);
        let mut records = Vec::new();
        if let Some((seq, _)) = &state {
            // From the state's own record: a state whose record is not in the log (a log
            // lost without its state) is not used; the log is the truth.
            let tail = self
                .records_between(convention, seq.saturating_sub(1), last)
                .await?;
            let anchored = tail.first().is_some_and(|r| r.seq == *seq);
            if anchored && contiguous(&tail, *seq) {
                records = tail.into_iter().skip(1).collect();
            } else {
                state = None;
            }
        }
        if state.is_none() {
            records = self.records_between(convention, 0, last).await?;
            if !contiguous(&records, 1) {
                return Err(corrupt(format!("{convention}: seq out of order")));
            }
        }
        Ok(Loaded {
            state,
            records,
            audit_head,
            ballots,
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

    /// The ballot box, with the log's last seq read in the same transaction.
    pub async fn ballots(&self, convention: &str) -> Result<BallotBox, StoreError> {
        Ok(self.snapshot(convention).await?.ballots)
    }

    /// Seal closed polls' loose ballots (see `Store::seal`).
    pub async fn seal(&self, convention: &str, polls: &[String]) -> Result<(), StoreError> {
        let mut con = self.con.clone();
        let script = Script::new(SEAL);
        let mut inv = script.prepare_invoke();
        inv.key(box_key(convention))
            .key(legacy_ballots_key(convention))
            .key(sealed_key(convention));
        for poll in polls {
            inv.arg(poll);
        }
        let sealed: i64 = inv.invoke_async(&mut con).await.map_err(unavailable)?;
        if sealed > 0 {
            self.forget_history();
        }
        Ok(())
    }

    pub async fn conventions(&self) -> Result<Vec<String>, StoreError> {
        let mut con = self.con.clone();
        let mut ids: Vec<String> = con.smembers(CONVENTIONS).await.map_err(unavailable)?;
        ids.sort();
        Ok(ids)
    }

    /// Whether a convention of this id was created (one member looked up: what a request
    /// naming an unknown convention costs, whatever the number of conventions).
    pub async fn has_convention(&self, convention: &str) -> Result<bool, StoreError> {
        let mut con = self.con.clone();
        con.sismember(CONVENTIONS, convention)
            .await
            .map_err(unavailable)
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

    /// The snapshot and the updates after it, read in one transaction: a compaction between
    /// two reads would trim updates the snapshot read first does not hold.
    pub async fn doc_load(&self, convention: &str, doc: &str) -> Result<DocLoaded, StoreError> {
        let mut con = self.con.clone();
        let (snap, entries): ((Option<u64>, Option<Vec<u8>>), Entries) = redis::pipe()
            .atomic()
            .cmd("HMGET")
            .arg(doc_snapshot_key(convention, doc))
            .arg("upto")
            .arg("data")
            .cmd("XRANGE")
            .arg(doc_key(convention, doc))
            .arg("-")
            .arg("+")
            .query_async(&mut con)
            .await
            .map_err(unavailable)?;
        let snapshot = match snap {
            (Some(upto), Some(data)) => Some((upto, data)),
            _ => None,
        };
        let upto = snapshot.as_ref().map_or(0, |(u, _)| *u);
        // The stream holds what came after the last compaction (and, after a refused one,
        // perhaps a little before): only what the snapshot lacks.
        let updates = values(entries)?
            .into_iter()
            .filter(|(n, _)| *n > upto)
            .collect();
        Ok(DocLoaded { snapshot, updates })
    }

    /// The number of a document's last stored update.
    pub async fn doc_last(&self, convention: &str, doc: &str) -> Result<u64, StoreError> {
        let mut con = self.con.clone();
        let n: Option<u64> = con
            .get(doc_counter_key(convention, doc))
            .await
            .map_err(unavailable)?;
        Ok(n.unwrap_or(0))
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

    /// One named version, alone.
    pub async fn version(
        &self,
        convention: &str,
        doc: &str,
        version: u32,
    ) -> Result<Option<StoredVersion>, StoreError> {
        let mut con = self.con.clone();
        let (label, at, data): (Option<String>, Option<u64>, Option<Vec<u8>>) = redis::cmd("HMGET")
            .arg(doc_versions_key(convention, doc))
            .arg(format!("{version}:label"))
            .arg(format!("{version}:at"))
            .arg(format!("{version}:data"))
            .query_async(&mut con)
            .await
            .map_err(unavailable)?;
        Ok(data.map(|data| StoredVersion {
            version,
            label: label.unwrap_or_default(),
            at: at.unwrap_or(0),
            data,
        }))
    }

    /// Remove a convention entirely (tests and `convene import --replace`).
    pub async fn delete(&self, convention: &str) -> Result<u64, StoreError> {
        let mut con = self.con.clone();
        // SCAN, not KEYS: a live cluster's Redis serves the other conventions meanwhile.
        let mut keys: Vec<String> = Vec::new();
        {
            let mut scan = self.con.clone();
            let mut iter = scan
                .scan_match::<_, String>(format!("cv:{{{convention}}}:*"))
                .await
                .map_err(unavailable)?;
            while let Some(key) = iter.next_item().await {
                keys.push(key.map_err(unavailable)?);
            }
        }
        let mut deleted = 0;
        if !keys.is_empty() {
            deleted = con.del(keys).await.map_err(unavailable)?;
        }
        let _: () = con
            .srem(CONVENTIONS, convention)
            .await
            .map_err(unavailable)?;
        Ok(deleted)
    }

    /// Publish `message` on `channel` (pub/sub: to the nodes subscribed now).
    pub async fn publish(&self, channel: &str, message: &str) -> Result<(), StoreError> {
        let mut con = self.con.clone();
        con.publish(channel, message).await.map_err(unavailable)
    }

    /// A node has done `step` of a deletion's `attempt` (`live::cluster::Phase`: heard it,
    /// stopped its part). Kept outside the convention's keys (a late word cannot bring one
    /// back), for two minutes.
    pub async fn ack(&self, attempt: &str, step: &str, node: &str) -> Result<(), StoreError> {
        let mut con = self.con.clone();
        let key = acks_key(attempt, step);
        let _: () = con.sadd(&key, node).await.map_err(unavailable)?;
        let _: () = con.expire(&key, 120).await.map_err(unavailable)?;
        Ok(())
    }

    /// The nodes that have done `step` of a deletion's `attempt`.
    pub async fn acks(&self, attempt: &str, step: &str) -> Result<Vec<String>, StoreError> {
        let mut con = self.con.clone();
        con.smembers(acks_key(attempt, step))
            .await
            .map_err(unavailable)
    }

    /// Take the cluster's one deletion of `convention` for `attempt` (for `ttl` at most, in
    /// case this node dies); false if another one holds it.
    pub async fn lock_deletion(
        &self,
        convention: &str,
        attempt: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let mut con = self.con.clone();
        let taken: Option<String> = redis::cmd("SET")
            .arg(deletion_lock_key(convention))
            .arg(attempt)
            .arg("NX")
            .arg("PX")
            .arg(ttl.as_millis() as u64)
            .query_async(&mut con)
            .await
            .map_err(unavailable)?;
        Ok(taken.is_some())
    }

    /// Give the deletion of `convention` back, if `attempt` still holds it.
    pub async fn unlock_deletion(&self, convention: &str, attempt: &str) -> Result<(), StoreError> {
        let mut con = self.con.clone();
        let _: i64 = Script::new(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
        )
        .key(deletion_lock_key(convention))
        .arg(attempt)
        .invoke_async(&mut con)
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    /// Nothing to flush: every write was acknowledged by Redis before it returned.
    pub async fn close(&self) {}
}
