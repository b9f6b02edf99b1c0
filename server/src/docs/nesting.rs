//! How deep an update would nest a document, known before yrs sees the update. yrs deletes a
//! branch's children recursively and decodes nested values recursively, so one writer's
//! update of 10,000 nested elements (or a value 100,000 arrays deep), or the delete of the
//! top of such a tree, would overflow the stack and abort the whole process. yrs's `Update`
//! does not expose its blocks' parents, so this module reads the v1 update encoding itself
//! (bounded by the bytes it is given, iterative), mirroring yrs's decoder, and keeps the level
//! of every item of the document (the item's distance from its root type, by runs of clocks)
//! so that the level of each new item follows from the items it names: its left or right
//! neighbour (same parent), or its parent.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

/// Levels below the root type an item may sit at: a paragraph at the top of the
/// `prosemirror` fragment is at level 1, the text inside it at level 2 and that text's
/// characters at level 3. Also the deepest a value (a JSON-like `Any`) may nest arrays and
/// maps.
pub const MAX_DEPTH: u16 = 64;

/// The level of an item that yrs turns into garbage on arrival (its neighbours or parent are
/// garbage or gone): it sits in no tree, and nothing can nest under it.
const DEAD: u16 = 0;

type Id = (u64, u32);

/// Why an update is refused before yrs sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("malformed update: {0}")]
    Malformed(&'static str),
    #[error("a value nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
}

/// Where an item of an update says it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Parent {
    /// A root type, by name.
    Root,
    /// The branch that is this item.
    Item(Id),
    /// The parent of its neighbours (`origin`, else `right`).
    Neighbours,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Garbage: a range of deleted content with no parent.
    Gc,
    Item {
        origin: Option<Id>,
        right: Option<Id>,
        parent: Parent,
        /// Its content is a type (an element, a text, a map...): items may nest under it.
        branch: bool,
    },
}

/// One block of an update: clocks `clock..clock + len` of `client`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    client: u64,
    clock: u32,
    len: u32,
    kind: Kind,
}

impl Block {
    fn end(&self) -> u32 {
        self.clock + self.len
    }
}

/// An update as read by `scan`: its blocks (skips left out), its delete set, and where the
/// delete set starts.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    blocks: Vec<Block>,
    /// The delete set, per client, as yrs keeps it (a client named twice: the last wins).
    deletes: BTreeMap<u64, Vec<Range<u32>>>,
    structs_end: usize,
}

impl Scan {
    /// Whether the update deletes anything.
    pub fn deletes(&self) -> bool {
        self.deletes.values().flatten().any(|r| !r.is_empty())
    }

    /// How many ranges its delete set names (each may cut a run of content at both ends).
    pub fn delete_ranges(&self) -> usize {
        self.deletes
            .values()
            .flatten()
            .filter(|r| !r.is_empty())
            .count()
    }

    /// Whether the update only deletes: a delete set, and no block (no content, no garbage;
    /// skips are left out of `blocks`).
    pub fn only_deletes(&self) -> bool {
        self.blocks.is_empty() && self.deletes()
    }

    /// The same update without its delete set.
    pub fn without_deletes(&self, data: &[u8]) -> Vec<u8> {
        let mut v = data[..self.structs_end].to_vec();
        v.push(0);
        v
    }

    /// Whether yrs decoded the same blocks and delete set from these bytes: this reader and
    /// yrs's decoder must agree, or the levels judged here would be those of another update.
    pub fn agrees_with(&self, update: &yrs::Update) -> bool {
        let mut inserted: BTreeMap<u64, Vec<Range<u32>>> = BTreeMap::new();
        for b in &self.blocks {
            inserted.entry(b.client).or_default().push(b.clock..b.end());
        }
        let theirs = |set: &yrs::IdSet| -> BTreeMap<u64, Vec<Range<u32>>> {
            set.iter()
                .map(|(c, ranges)| (c.get(), ranges.iter().cloned().collect()))
                .collect()
        };
        normalized(inserted) == normalized(theirs(&update.insertions(true)))
            && normalized(self.deletes.clone()) == normalized(theirs(update.delete_set()))
    }
}

/// Ranges per client, sorted, merged, without empty ones.
fn normalized(map: BTreeMap<u64, Vec<Range<u32>>>) -> BTreeMap<u64, Vec<Range<u32>>> {
    let mut out = BTreeMap::new();
    for (client, mut ranges) in map {
        ranges.retain(|r| !r.is_empty());
        ranges.sort_by_key(|r| r.start);
        let mut merged: Vec<Range<u32>> = Vec::with_capacity(ranges.len());
        for r in ranges {
            match merged.last_mut() {
                Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
                _ => merged.push(r),
            }
        }
        if !merged.is_empty() {
            out.insert(client, merged);
        }
    }
    out
}

/// lib0 decoding, as yrs's `DecoderV1` does it (the same wrapping of oversized integers).
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

const TRUNCATED: Invalid = Invalid::Malformed("truncated");

impl<'a> Reader<'a> {
    fn u8(&mut self) -> Result<u8, Invalid> {
        let b = *self.data.get(self.pos).ok_or(TRUNCATED)?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Invalid> {
        let end = self.pos.checked_add(n).ok_or(TRUNCATED)?;
        let s = self.data.get(self.pos..end).ok_or(TRUNCATED)?;
        self.pos = end;
        Ok(s)
    }

    fn var_u64(&mut self) -> Result<u64, Invalid> {
        let mut num = 0u64;
        let mut len = 0u32;
        loop {
            let b = self.u8()?;
            num |= u64::wrapping_shl(u64::from(b & 0x7f), len);
            len += 7;
            if b < 0x80 {
                return Ok(num);
            }
            if len > 70 {
                return Err(Invalid::Malformed("variable-length integer too long"));
            }
        }
    }

    fn var_u32(&mut self) -> Result<u32, Invalid> {
        let mut num = 0u32;
        let mut len = 0u32;
        loop {
            let b = self.u8()?;
            num |= u32::wrapping_shl(u32::from(b & 0x7f), len);
            len += 7;
            if b < 0x80 {
                return Ok(num);
            }
            if len > 70 {
                return Err(Invalid::Malformed("variable-length integer too long"));
            }
        }
    }

    /// A signed lib0 integer, skipped.
    fn skip_var_i64(&mut self) -> Result<(), Invalid> {
        let mut b = self.u8()?;
        let mut len = 6;
        while b >= 0x80 {
            b = self.u8()?;
            len += 7;
            if b >= 0x80 && len > 70 {
                return Err(Invalid::Malformed("variable-length integer too long"));
            }
        }
        Ok(())
    }

    fn buf(&mut self) -> Result<&'a [u8], Invalid> {
        let len = self.var_u32()?;
        self.take(len as usize)
    }

    fn string(&mut self) -> Result<&'a str, Invalid> {
        std::str::from_utf8(self.buf()?).map_err(|_| Invalid::Malformed("invalid UTF-8"))
    }

    fn id(&mut self) -> Result<Id, Invalid> {
        Ok((self.var_u64()?, self.var_u32()?))
    }

    /// One lib0 `Any` value, skipped without recursion, at most `MAX_DEPTH` arrays and maps
    /// deep (yrs decodes, drops and encodes them recursively).
    fn skip_any(&mut self) -> Result<(), Invalid> {
        // Per open array or map: values left to read, and whether each comes after a key.
        let mut open: Vec<(u64, bool)> = Vec::new();
        let mut left_at_top = 1u64;
        loop {
            match open.last_mut() {
                Some((0, _)) => {
                    open.pop();
                    continue;
                }
                Some((n, is_map)) => {
                    *n -= 1;
                    if *is_map {
                        self.string()?;
                    }
                }
                None if left_at_top == 0 => return Ok(()),
                None => left_at_top -= 1,
            }
            match self.u8()? {
                127 | 126 | 121 | 120 => {}
                125 => self.skip_var_i64()?,
                124 => {
                    self.take(4)?;
                }
                123 | 122 => {
                    self.take(8)?;
                }
                119 => {
                    self.string()?;
                }
                116 => {
                    self.buf()?;
                }
                tag @ (118 | 117) => {
                    let n = self.var_u64()?;
                    if open.len() >= MAX_DEPTH as usize {
                        return Err(Invalid::TooDeep);
                    }
                    // Each value takes a byte at least: a count beyond the bytes left is a lie.
                    if n > (self.data.len() - self.pos) as u64 {
                        return Err(TRUNCATED);
                    }
                    open.push((n, tag == 118));
                }
                _ => return Err(Invalid::Malformed("unknown value type")),
            }
        }
    }
}

/// Read a v1 update's blocks and delete set, as yrs's `Update::decode_v1` would, without
/// building anything from it but this list.
pub fn scan(data: &[u8]) -> Result<Scan, Invalid> {
    let mut r = Reader { data, pos: 0 };
    let mut blocks = Vec::new();
    let groups = r.var_u32()?;
    for _ in 0..groups {
        let count = r.var_u32()?;
        let client = r.var_u64()?;
        let mut clock = r.var_u32()?;
        for _ in 0..count {
            let info = r.u8()?;
            let (len, kind) = match info {
                // Skip: a gap; GC: garbage.
                10 => (r.var_u32()?, None),
                0 => (r.var_u32()?, Some(Kind::Gc)),
                info => {
                    let origin = if info & 0x80 != 0 {
                        Some(r.id()?)
                    } else {
                        None
                    };
                    let right = if info & 0x40 != 0 {
                        Some(r.id()?)
                    } else {
                        None
                    };
                    let parent = if info & 0xc0 == 0 {
                        let parent = if r.var_u32()? == 1 {
                            r.string()?;
                            Parent::Root
                        } else {
                            Parent::Item(r.id()?)
                        };
                        if info & 0x20 != 0 {
                            r.string()?;
                        }
                        parent
                    } else {
                        Parent::Neighbours
                    };
                    let (len, branch) = content(&mut r, info & 0x0f)?;
                    let kind = Kind::Item {
                        origin,
                        right,
                        parent,
                        branch,
                    };
                    (len, Some(kind))
                }
            };
            if matches!(info, 0 | 10) && len == 0 {
                return Err(Invalid::Malformed("empty block"));
            }
            // yrs drops an item of no length (an empty string) without advancing the clock.
            if len == 0 {
                continue;
            }
            if let Some(kind) = kind {
                blocks.push(Block {
                    client,
                    clock,
                    len,
                    kind,
                });
            }
            clock = clock
                .checked_add(len)
                .ok_or(Invalid::Malformed("clock overflow"))?;
        }
    }
    let structs_end = r.pos;
    let mut deletes: BTreeMap<u64, Vec<Range<u32>>> = BTreeMap::new();
    let clients = r.var_u32()?;
    for _ in 0..clients {
        let client = r.var_u64()?;
        let n = r.var_u32()?;
        let mut ranges = Vec::new();
        for _ in 0..n {
            let clock = r.var_u32()?;
            let len = r.var_u32()?;
            let end = clock
                .checked_add(len)
                .ok_or(Invalid::Malformed("clock overflow"))?;
            ranges.push(clock..end);
        }
        deletes.insert(client, ranges);
    }
    // No block of one client may overlap another of the same update: the level judged for
    // a clock must be that of the one block yrs integrates there.
    let mut sorted: Vec<(u64, u32, u32)> = blocks
        .iter()
        .map(|b| (b.client, b.clock, b.end()))
        .collect();
    sorted.sort_unstable();
    if sorted
        .windows(2)
        .any(|w| w[0].0 == w[1].0 && w[1].1 < w[0].2)
    {
        return Err(Invalid::Malformed("overlapping blocks"));
    }
    Ok(Scan {
        blocks,
        deletes,
        structs_end,
    })
}

/// An item's content: its length in clocks, and whether it is a type. As
/// `ItemContent::decode` reads it.
fn content(r: &mut Reader, kind: u8) -> Result<(u32, bool), Invalid> {
    Ok(match kind {
        // Deleted
        1 => (r.var_u32()?, false),
        // JSON: yrs reads one string more than the count it is given (and refuses a count
        // past `i32::MAX`).
        2 => {
            let n = r.var_u32()?;
            if n > i32::MAX as u32 {
                return Err(Invalid::Malformed("JSON content count"));
            }
            for _ in 0..=n {
                r.string()?;
            }
            (n + 1, false)
        }
        // Binary
        3 => {
            r.buf()?;
            (1, false)
        }
        // String: its length in UTF-16 code units.
        4 => {
            let s = r.string()?;
            let len = s.encode_utf16().count();
            (u32::try_from(len).map_err(|_| TRUNCATED)?, false)
        }
        // Embed (JSON, parsed by serde_json: at most 128 deep)
        5 => {
            r.string()?;
            (1, false)
        }
        // Format: key and JSON value
        6 => {
            r.string()?;
            r.string()?;
            (1, false)
        }
        // Type
        7 => {
            match r.u8()? {
                // XmlElement: its tag
                3 => {
                    r.string()?;
                }
                0 | 1 | 2 | 4 | 5 | 6 | 9 | 15 => {}
                // Weak links (not compiled into our yrs) and anything else.
                _ => return Err(Invalid::Malformed("unknown type")),
            }
            (1, true)
        }
        // Any: values
        8 => {
            let n = r.var_u32()?;
            if u64::from(n) > (r.data.len() - r.pos) as u64 {
                return Err(TRUNCATED);
            }
            for _ in 0..n {
                r.skip_any()?;
            }
            (n, false)
        }
        // A subdocument: its guid and options.
        9 => {
            r.string()?;
            r.skip_any()?;
            (1, false)
        }
        _ => return Err(Invalid::Malformed("unknown content")),
    })
}

/// The level of every item of a document, by runs of clocks of one client at one level.
#[derive(Debug, Default)]
pub struct Nesting {
    runs: HashMap<u64, BTreeMap<u32, (u32, u16)>>,
    /// Blocks yrs holds back for want of what they name (stored by an older server, or
    /// from another node): judged again with each update.
    pending: Vec<Block>,
    /// The deepest level in the document.
    deepest: u16,
    /// While loading, and afterwards only for a document stored too deep: the level of every
    /// branch, to tell which deletes are safe.
    branches: Option<BTreeMap<Id, u16>>,
}

/// What an update would do to the document's nesting.
#[derive(Debug, Default)]
pub struct Judged {
    /// Levels of the blocks that would go into the document.
    levels: Vec<(Block, u16)>,
    /// Blocks of the update naming content the document does not hold.
    ahead: Vec<Block>,
    /// Pending blocks that stay pending.
    still_pending: Vec<Block>,
    /// The deepest level the update would reach.
    pub deepest: u16,
    /// The delete set names content the document does not hold.
    pub deletes_ahead: bool,
}

impl Judged {
    /// Whether the update names content the document lacks (blocks or deletes): the client
    /// is ahead of this server (yrs would hold it back).
    pub fn ahead(&self) -> bool {
        !self.ahead.is_empty() || self.deletes_ahead
    }

    /// The update's blocks that name content the document lacks.
    pub fn ahead_blocks(&self) -> usize {
        self.ahead.len()
    }

    /// Whether it would nest anything deeper than the limit.
    pub fn too_deep(&self) -> bool {
        self.deepest > MAX_DEPTH
    }
}

enum Anchor {
    Level(u16),
    Local(usize),
    Missing,
}

enum State {
    Todo,
    /// On the current path of the walk: met again, it is a cycle.
    Busy,
    Done(Option<u16>),
}

impl Nesting {
    /// An empty document's, ready to collect branches while the stored updates load.
    pub fn loading() -> Nesting {
        Nesting {
            branches: Some(BTreeMap::new()),
            ..Nesting::default()
        }
    }

    /// Loading is over: branch levels are kept only for a document already too deep.
    pub fn loaded(&mut self) {
        if !self.too_deep() {
            self.branches = None;
        }
    }

    /// The document holds items deeper than the limit (stored before the limit existed).
    pub fn too_deep(&self) -> bool {
        self.deepest > MAX_DEPTH
    }

    pub fn deepest(&self) -> u16 {
        self.deepest
    }

    fn level_at(&self, (client, clock): Id) -> Option<u16> {
        let (_, (end, level)) = self.runs.get(&client)?.range(..=clock).next_back()?;
        (clock < *end).then_some(*level)
    }

    /// Whether every clock of `client` in `range` is in the document.
    fn holds(&self, client: u64, range: &Range<u32>) -> bool {
        let Some(runs) = self.runs.get(&client) else {
            return range.is_empty();
        };
        let mut at = range.start;
        while at < range.end {
            match runs.range(..=at).next_back() {
                Some((_, (end, _))) if *end > at => at = *end,
                _ => return false,
            }
        }
        true
    }

    /// Whether every clock of `client` in `range` is in the document or among `new` blocks
    /// (start -> end).
    fn covers(&self, new: Option<&BTreeMap<u32, u32>>, client: u64, range: &Range<u32>) -> bool {
        let end_of = |m: Option<&BTreeMap<u32, u32>>, at: u32| {
            m.and_then(|m| m.range(..=at).next_back())
                .map(|(_, e)| *e)
                .filter(|e| *e > at)
        };
        let mut at = range.start;
        while at < range.end {
            let in_doc = self
                .runs
                .get(&client)
                .and_then(|m| m.range(..=at).next_back())
                .map(|(_, (e, _))| *e)
                .filter(|e| *e > at);
            match in_doc.max(end_of(new, at)) {
                Some(e) => at = e,
                None => return false,
            }
        }
        true
    }

    /// Judge an update's blocks (with those pending) against the document: each one's level,
    /// from what it names; without recursion (an explicit stack; a cycle is a lack).
    pub fn judge(&self, scan: &Scan) -> Judged {
        let mut cands: Vec<(Block, bool)> = Vec::new();
        for b in &scan.blocks {
            // Wholly in the document already: yrs skips it.
            if !self.holds(b.client, &(b.clock..b.end())) {
                cands.push((*b, true));
            }
        }
        cands.extend(self.pending.iter().map(|b| (*b, false)));
        let mut local: HashMap<u64, BTreeMap<u32, (u32, usize)>> = HashMap::new();
        for (i, (b, _)) in cands.iter().enumerate() {
            local
                .entry(b.client)
                .or_default()
                .insert(b.clock, (b.end(), i));
        }
        let anchor = |id: Id| -> Anchor {
            if let Some(level) = self.level_at(id) {
                return Anchor::Level(level);
            }
            let found = local
                .get(&id.0)
                .and_then(|m| m.range(..=id.1).next_back())
                .filter(|(_, (end, _))| id.1 < *end);
            match found {
                Some((_, (_, i))) => Anchor::Local(*i),
                None => Anchor::Missing,
            }
        };
        let mut state: Vec<State> = cands.iter().map(|_| State::Todo).collect();
        for root in 0..cands.len() {
            if !matches!(state[root], State::Todo) {
                continue;
            }
            let mut stack = vec![root];
            'walk: while let Some(&i) = stack.last() {
                if matches!(state[i], State::Done(_)) {
                    stack.pop();
                    continue;
                }
                state[i] = State::Busy;
                let block = cands[i].0;
                let names: [Option<Id>; 2] = match block.kind {
                    Kind::Gc => [None, None],
                    Kind::Item {
                        parent: Parent::Item(p),
                        ..
                    } => [Some(p), None],
                    Kind::Item {
                        parent: Parent::Root,
                        ..
                    } => [None, None],
                    Kind::Item { origin, right, .. } => [origin, right],
                };
                // The level of each named item: `None` when it is missing.
                let mut known: [Option<u16>; 2] = [None, None];
                for (k, name) in names.iter().enumerate() {
                    let Some(id) = name else { continue };
                    known[k] = match anchor(*id) {
                        Anchor::Level(l) => Some(l),
                        Anchor::Missing => None,
                        Anchor::Local(j) => match state[j] {
                            State::Done(l) => l,
                            State::Busy => None,
                            State::Todo => {
                                stack.push(j);
                                continue 'walk;
                            }
                        },
                    };
                }
                let level = match block.kind {
                    Kind::Gc => Some(DEAD),
                    Kind::Item {
                        parent: Parent::Root,
                        ..
                    } => Some(1),
                    Kind::Item {
                        parent: Parent::Item(_),
                        ..
                    } => known[0].map(|l| if l == DEAD { DEAD } else { l.saturating_add(1) }),
                    Kind::Item { origin, right, .. } => {
                        // yrs takes the parent of the left neighbour, else of the right one;
                        // garbage has none.
                        let missing = (origin.is_some() && known[0].is_none())
                            || (right.is_some() && known[1].is_none());
                        if missing {
                            None
                        } else {
                            Some(
                                known[0]
                                    .filter(|l| *l != DEAD)
                                    .or(known[1].filter(|l| *l != DEAD))
                                    .unwrap_or(DEAD),
                            )
                        }
                    }
                };
                state[i] = State::Done(level);
                stack.pop();
            }
        }
        let mut judged = Judged::default();
        for ((block, from_update), s) in cands.into_iter().zip(state) {
            match s {
                State::Done(Some(level)) => {
                    judged.deepest = judged.deepest.max(level);
                    judged.levels.push((block, level));
                }
                _ if from_update => judged.ahead.push(block),
                _ => judged.still_pending.push(block),
            }
        }
        // Deletes of content neither the document nor the update holds.
        let mut mine: HashMap<u64, BTreeMap<u32, u32>> = HashMap::new();
        for b in &scan.blocks {
            mine.entry(b.client).or_default().insert(b.clock, b.end());
        }
        judged.deletes_ahead = scan.deletes.iter().any(|(client, ranges)| {
            ranges
                .iter()
                .any(|r| !self.covers(mine.get(client), *client, r))
        });
        judged
    }

    /// Whether yrs may apply this update's delete set: deleting a branch walks its subtree
    /// recursively, which is safe when nothing lies more than `MAX_DEPTH` levels below it.
    /// Always so in a document within the limit; in one stored too deep, only deletes of
    /// content that is no branch, or a branch close enough to the deepest level, are.
    pub fn deletes_safe(&self, scan: &Scan, judged: &Judged) -> bool {
        let deepest = self.deepest.max(judged.deepest);
        if deepest <= MAX_DEPTH || !scan.deletes() {
            return true;
        }
        let Some(branches) = &self.branches else {
            return false;
        };
        let too_high = |level: &u16| level.saturating_add(MAX_DEPTH) < deepest;
        let new: BTreeMap<Id, u16> = judged
            .levels
            .iter()
            .filter(|(b, _)| matches!(b.kind, Kind::Item { branch: true, .. }))
            .map(|(b, level)| ((b.client, b.clock), *level))
            .collect();
        scan.deletes.iter().all(|(client, ranges)| {
            ranges.iter().all(|r| {
                let span = (*client, r.start)..(*client, r.end);
                !branches.range(span.clone()).any(|(_, l)| too_high(l))
                    && !new.range(span).any(|(_, l)| too_high(l))
            })
        })
    }

    /// The update was applied: keep the levels of what went into the document. Blocks still
    /// lacking what they name (only when loading, or from another node) wait with those
    /// already pending.
    pub fn record(&mut self, judged: Judged) {
        for (b, level) in &judged.levels {
            self.insert(b.client, b.clock, b.end(), *level);
            self.deepest = self.deepest.max(*level);
            if let (Some(branches), Kind::Item { branch: true, .. }) = (&mut self.branches, b.kind)
            {
                branches.entry((b.client, b.clock)).or_insert(*level);
            }
        }
        self.pending = judged.still_pending;
        self.pending.extend(judged.ahead);
    }

    /// Record clocks `start..end` of `client` at `level`, where not known already (yrs keeps
    /// the first block it has for a clock), merged with an adjacent run of the same level.
    fn insert(&mut self, client: u64, start: u32, end: u32, level: u16) {
        let runs = self.runs.entry(client).or_default();
        let mut gaps: Vec<Range<u32>> = Vec::new();
        let mut at = start;
        if let Some((_, (e, _))) = runs.range(..=start).next_back() {
            at = at.max(*e);
        }
        for (s, (e, _)) in runs.range(start..end) {
            if *s > at {
                gaps.push(at..*s);
            }
            at = at.max(*e);
        }
        if at < end {
            gaps.push(at..end);
        }
        for gap in gaps {
            let mut s = gap.start;
            let mut e = gap.end;
            if let Some((ps, (pe, pl))) = runs.range(..s).next_back().map(|(a, b)| (*a, *b)) {
                if pe == s && pl == level {
                    runs.remove(&ps);
                    s = ps;
                }
            }
            if let Some((ne, nl)) = runs.get(&e).copied() {
                if nl == level {
                    runs.remove(&e);
                    e = ne;
                }
            }
            runs.insert(s, (e, level));
        }
    }

    /// Runs kept (a measure of this index's memory).
    pub fn runs(&self) -> usize {
        self.runs.values().map(BTreeMap::len).sum()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use yrs::types::xml::XmlFragment;
    use yrs::updates::decoder::Decode;
    use yrs::{Doc, Map, ReadTxn, StateVector, Text, Transact, XmlElementPrelim, XmlTextPrelim};

    /// An update nesting `depth` elements under the `prosemirror` fragment, with a text in
    /// the last (built a level at a time: a nested prelim would make yrs recurse).
    pub(crate) fn nested(client: u64, depth: usize) -> Vec<u8> {
        let doc = Doc::with_client_id(client);
        let root = doc.get_or_insert_xml_fragment("prosemirror");
        {
            let mut txn = doc.transact_mut();
            let mut cur = root.push_back(&mut txn, XmlElementPrelim::empty("p"));
            for _ in 1..depth {
                cur = cur.push_back(&mut txn, XmlElementPrelim::empty("p"));
            }
            cur.push_back(&mut txn, XmlTextPrelim::new("x"));
        }
        let u = doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        std::mem::forget(doc);
        u
    }

    fn judge_fresh(update: &[u8]) -> Judged {
        let scan = scan(update).expect("scans");
        let yrs_update = yrs::Update::decode_v1(update).expect("decodes");
        assert!(scan.agrees_with(&yrs_update));
        Nesting::default().judge(&scan)
    }

    #[test]
    fn levels_count_the_nesting() {
        // 62 elements, the text in the last one (level 63) and its characters (level 64):
        // the limit.
        let j = judge_fresh(&nested(1, 62));
        assert_eq!(j.deepest, 64);
        assert!(!j.too_deep() && !j.ahead());
        let j = judge_fresh(&nested(1, 63));
        assert!(j.too_deep());
        let j = judge_fresh(&nested(1, 10_000));
        assert_eq!(j.deepest, 10_002);
    }

    #[test]
    fn typing_after_the_fact_keeps_the_level_and_one_run() {
        let doc = Doc::with_client_id(7);
        let root = doc.get_or_insert_xml_fragment("prosemirror");
        let mut nesting = Nesting::default();
        let mut sv = StateVector::default();
        let text = {
            let mut txn = doc.transact_mut();
            let p = root.push_back(&mut txn, XmlElementPrelim::empty("paragraph"));
            p.push_back(&mut txn, XmlTextPrelim::new(""))
        };
        for i in 0..50 {
            {
                let mut txn = doc.transact_mut();
                text.push(&mut txn, &format!("{i} "));
            }
            let u = doc.transact().encode_state_as_update_v1(&sv);
            sv = doc.transact().state_vector();
            let s = scan(&u).expect("scans");
            let j = nesting.judge(&s);
            assert!(!j.ahead() && !j.too_deep(), "update {i}");
            nesting.record(j);
        }
        assert_eq!(nesting.deepest(), 3);
        // The paragraph, its text, the characters: three levels, three runs.
        assert_eq!(nesting.runs(), 3);
    }

    #[test]
    fn an_update_naming_what_the_document_lacks_is_ahead() {
        let doc = Doc::with_client_id(3);
        let map = doc.get_or_insert_map("m");
        map.insert(&mut doc.transact_mut(), "a", 1);
        let first = doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        let sv = doc.transact().state_vector();
        let text = doc.get_or_insert_text("t");
        text.push(&mut doc.transact_mut(), "abc");
        text.push(&mut doc.transact_mut(), "def");
        let sv2 = doc.transact().state_vector();
        text.push(&mut doc.transact_mut(), "ghi");
        let last = doc.transact().encode_state_as_update_v1(&sv2);
        let _ = sv;
        let mut nesting = Nesting::default();
        let j = nesting.judge(&scan(&first).expect("scans"));
        nesting.record(j);
        let j = nesting.judge(&scan(&last).expect("scans"));
        assert!(j.ahead(), "the last update names text the document lacks");
        // A delete of content the document lacks is ahead too.
        let del = [0u8, 1, 3, 1, 40, 1];
        let j = nesting.judge(&scan(&del).expect("scans"));
        assert!(j.deletes_ahead);
    }

    #[test]
    fn values_nested_too_deep_are_refused_before_yrs_decodes_them() {
        // An item of `Any` content (info 8, parent a root named "a"): [[[[...]]]].
        let mut u = vec![1, 1, 5, 0, 8, 1, 1, b'a', 1];
        for _ in 0..100_000 {
            u.extend([117, 1]);
        }
        u.push(126);
        u.push(0);
        assert_eq!(scan(&u).err(), Some(Invalid::TooDeep));
        // 64 levels are fine.
        let mut u = vec![1, 1, 5, 0, 8, 1, 1, b'a', 1];
        for _ in 0..64 {
            u.extend([117, 1]);
        }
        u.push(126);
        u.push(0);
        let s = scan(&u).expect("64 levels scan");
        let yrs_update = yrs::Update::decode_v1(&u).expect("decodes");
        assert!(s.agrees_with(&yrs_update));
    }

    #[test]
    fn lies_about_counts_are_malformed() {
        for bad in [
            vec![],
            vec![1],
            vec![1, 200, 1, 1, 0],
            vec![
                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            ],
            vec![1, 1, 1, 0, 8, 1, 1, b'a', 0xff, 0xff, 0xff, 0x0f],
        ] {
            assert!(scan(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_delete_set_can_be_left_out() {
        let doc = Doc::with_client_id(9);
        let t = doc.get_or_insert_text("t");
        t.push(&mut doc.transact_mut(), "abcdef");
        t.remove_range(&mut doc.transact_mut(), 1, 2);
        let u = doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        let s = scan(&u).expect("scans");
        assert!(s.deletes());
        let stripped = s.without_deletes(&u);
        let s2 = scan(&stripped).expect("scans");
        assert!(!s2.deletes());
        assert!(s2.agrees_with(&yrs::Update::decode_v1(&stripped).expect("decodes")));
    }
}
