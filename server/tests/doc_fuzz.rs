//! What the document endpoint does with a client's bytes, fed random and mutated input: no
//! input may panic. Each case makes the yrs calls of the server's path (docs/actor.rs): `Message::decode_v1`
//! of the frame; for a sync step 1, the step 2 answer from a populated document; for a step 2
//! or an update, `Update::decode_v1` and `apply_update` on a populated document, then what
//! follows (the state vector, a snapshot as compaction writes it, a reload of that snapshot,
//! and the Markdown and HTML export); for awareness, `Awareness::apply_update` and the
//! re-encoded states. Every raw input is also fed to `Update::decode_v1` + apply directly.
//!
//! Inputs: random bytes, and real y-protocols messages generated with yrs (sync step 1,
//! step 2 and updates of documents with text, XML trees with attributes, maps, deletions;
//! awareness updates and queries; auth messages), mutated by bit flips, byte changes,
//! truncations, insertions, deletions, duplications and splices with another message.
//!
//! Long run, recorded: `PROPTEST_CASES=200000` (debug build, both properties in parallel on
//! 2 cores, 2026-11-22): 200000 cases of each property, 400000 in all, no failure, in 32 min
//! 13 s (mutated messages: about 2 min; random bytes: 32 min, most of it in the kernel: the
//! random inputs that declare huge counts make yrs reserve and initialise up to 1 GiB, see
//! `a_tiny_frame_cannot_make_the_server_allocate_a_lot` in tests/tests/documents.rs). Only
//! the known panics listed below occurred (they are tolerated so that the run goes on).
//! The default case count keeps the test to a few seconds.

use std::sync::OnceLock;

use convene::docs::export::{doc_from_state, export, Format};
use proptest::prelude::*;
use yrs::sync::awareness::AwarenessUpdateEntry;
use yrs::sync::{Awareness, AwarenessUpdate, Message, SyncMessage};
use yrs::types::xml::XmlFragment;
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{
    Any, Array, Doc, GetString, In, Map, Number, ReadTxn, StateVector, Text, Transact, Update, Xml,
    XmlElementPrelim, XmlTextPrelim,
};

/// Cases per property unless `PROPTEST_CASES` says otherwise: a few seconds in all. Random
/// bytes are the slower ones (some declare huge counts: see `a_tiny_frame_cannot_make_the_
/// server_allocate_a_lot` in tests/tests/documents.rs).
const RANDOM_CASES: u32 = 256;
const MUTATED_CASES: u32 = 1024;

fn config(default_cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default_cases),
        // No regression files written into the source tree; a failure prints its input.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------
// Real messages.

/// A document edited the way Convene's are: the `prosemirror` fragment with headings,
/// proposals (attribute `title`), arguments (`kind`), paragraphs with formatted text; a
/// `Y.Text`; a map and an array; some deletions. `seed` varies the content.
fn edited_doc(seed: u64, client: u64) -> Doc {
    let doc = Doc::with_client_id(client);
    let root = doc.get_or_insert_xml_fragment("prosemirror");
    let notes = doc.get_or_insert_text("notes");
    let meta = doc.get_or_insert_map("meta");
    let list = doc.get_or_insert_array("list");
    let n = 1 + (seed % 7) as u32;
    for i in 0..n {
        let mut txn = doc.transact_mut();
        match (seed + i as u64) % 4 {
            0 => {
                let h = root.push_back(
                    &mut txn,
                    XmlElementPrelim::new(
                        "heading",
                        [XmlTextPrelim::new(format!("Titre {i}")).into()],
                    ),
                );
                h.insert_attribute(&mut txn, "level", In::Any(Any::Number(Number::Int(2))));
            }
            1 => {
                let mut p = XmlElementPrelim::new(
                    "proposal",
                    [
                        XmlElementPrelim::new("paragraph", [XmlTextPrelim::new("corps é€").into()])
                            .into(),
                        XmlElementPrelim::new("argument", [XmlTextPrelim::new("pour").into()])
                            .into(),
                        XmlElementPrelim::new("minority", [XmlTextPrelim::new("minorité").into()])
                            .into(),
                    ],
                );
                p.attributes
                    .insert("title".into(), format!("Proposition {i}"));
                root.push_back(&mut txn, p);
            }
            2 => {
                let p = root.push_back(&mut txn, XmlElementPrelim::empty("paragraph"));
                let t = p.push_back(&mut txn, XmlTextPrelim::new("du texte"));
                let mut attrs = std::collections::HashMap::new();
                attrs.insert("bold".into(), Any::Bool(true));
                t.format(&mut txn, 0, 3, attrs.into_iter().collect());
            }
            _ => {
                notes.push(&mut txn, &format!("note {i}; "));
                meta.insert(&mut txn, format!("k{i}"), i as f64);
                list.push_back(&mut txn, format!("élément {i}"));
            }
        }
    }
    if seed.is_multiple_of(3) {
        let mut txn = doc.transact_mut();
        if root.len(&txn) > 1 {
            root.remove(&mut txn, 0);
        }
        let len = notes.len(&txn);
        if len > 2 {
            notes.remove_range(&mut txn, 1, len / 2);
        }
    }
    doc
}

fn full_state(doc: &Doc) -> Vec<u8> {
    doc.transact()
        .encode_state_as_update_v1(&StateVector::default())
}

/// The corpus: real frames a y-websocket client sends, and raw updates.
fn corpus() -> &'static Vec<Vec<u8>> {
    static CORPUS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let mut out = Vec::new();
        for seed in 0..12u64 {
            let doc = edited_doc(seed, 1000 + seed);
            let sv = doc.transact().state_vector();
            let state = full_state(&doc);
            // An incremental update: what one more edit sends.
            let before = doc.transact().state_vector();
            {
                let root = doc.get_or_insert_xml_fragment("prosemirror");
                let mut txn = doc.transact_mut();
                root.push_back(
                    &mut txn,
                    XmlElementPrelim::new("paragraph", [XmlTextPrelim::new("suite").into()]),
                );
            }
            let incremental = doc.transact().encode_state_as_update_v1(&before);
            out.push(Message::Sync(SyncMessage::SyncStep1(sv)).encode_v1());
            out.push(Message::Sync(SyncMessage::SyncStep2(state.clone())).encode_v1());
            out.push(Message::Sync(SyncMessage::Update(incremental.clone())).encode_v1());
            out.push(state);
            out.push(incremental);
            // Awareness: a state, an update of it, a removal.
            let mut aw = Awareness::new(Doc::with_client_id(2000 + seed));
            aw.set_local_state_raw(format!(
                r##"{{"user":{{"name":"Participant {seed}","color":"#a{seed}0"}},"cursor":{{"anchor":{seed},"head":3}}}}"##
            ));
            let id = aw.client_id();
            if let Ok(u) = aw.update_with_clients([id]) {
                out.push(Message::Awareness(u).encode_v1());
            }
            aw.clean_local_state();
            if let Ok(u) = aw.update_with_clients([id]) {
                out.push(Message::Awareness(u).encode_v1());
            }
        }
        // Several clients in one awareness update.
        let mut clients = std::collections::HashMap::new();
        for c in 1..5u64 {
            clients.insert(
                yrs::ClientID::new(c),
                AwarenessUpdateEntry {
                    clock: c as u32,
                    json: format!(r#"{{"n":{c}}}"#).into(),
                },
            );
        }
        out.push(Message::Awareness(AwarenessUpdate { clients }).encode_v1());
        out.push(Message::AwarenessQuery.encode_v1());
        out.push(Message::Auth(None).encode_v1());
        out.push(Message::Auth(Some("read-only".into())).encode_v1());
        // The empty update a new client answers step 1 with.
        out.push(Message::Sync(SyncMessage::SyncStep2(full_state(&Doc::new()))).encode_v1());
        out
    })
}

/// The server's document, before the input: populated, so that updates meet real content.
fn base_state() -> &'static Vec<u8> {
    static BASE: OnceLock<Vec<u8>> = OnceLock::new();
    BASE.get_or_init(|| full_state(&edited_doc(4, 1)))
}

// ---------------------------------------------------------------------------------------
// Mutations.

#[derive(Clone, Debug)]
enum Mutation {
    FlipBit(usize, u8),
    SetByte(usize, u8),
    Truncate(usize),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Duplicate(usize, usize),
    /// Replace the tail from here by the tail of another corpus entry.
    Splice(usize, usize, usize),
    /// Set a byte to a varint edge value (lengths and counts are varints).
    Varint(usize, u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::FlipBit(at, bit)),
        3 => (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Mutation::SetByte(at, b)),
        2 => any::<usize>().prop_map(Mutation::Truncate),
        2 => (any::<usize>(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(at, b)| Mutation::Insert(at, b)),
        1 => (any::<usize>(), 1usize..16).prop_map(|(at, n)| Mutation::Delete(at, n)),
        1 => (any::<usize>(), 1usize..32).prop_map(|(at, n)| Mutation::Duplicate(at, n)),
        1 => (any::<usize>(), any::<usize>(), any::<usize>())
            .prop_map(|(at, other, from)| Mutation::Splice(at, other, from)),
        2 => (any::<usize>(), prop::sample::select(vec![0x00u8, 0x7f, 0x80, 0xff]))
            .prop_map(|(at, b)| Mutation::Varint(at, b)),
    ]
}

fn apply_mutation(bytes: &mut Vec<u8>, m: &Mutation) {
    let len = bytes.len();
    let at = |i: usize| if len == 0 { 0 } else { i % len };
    match m {
        Mutation::FlipBit(i, bit) if len > 0 => bytes[at(*i)] ^= 1 << bit,
        Mutation::SetByte(i, b) | Mutation::Varint(i, b) if len > 0 => bytes[at(*i)] = *b,
        Mutation::Truncate(i) => bytes.truncate(if len == 0 { 0 } else { i % (len + 1) }),
        Mutation::Insert(i, b) => {
            let p = if len == 0 { 0 } else { i % (len + 1) };
            bytes.splice(p..p, b.iter().copied());
        }
        Mutation::Delete(i, n) if len > 0 => {
            let p = at(*i);
            let end = (p + n).min(len);
            bytes.drain(p..end);
        }
        Mutation::Duplicate(i, n) if len > 0 => {
            let p = at(*i);
            let end = (p + n).min(len);
            let copy: Vec<u8> = bytes[p..end].to_vec();
            bytes.splice(end..end, copy);
        }
        Mutation::Splice(i, other, from) => {
            let c = corpus();
            let o = &c[other % c.len()];
            let p = if len == 0 { 0 } else { i % (len + 1) };
            let f = if o.is_empty() { 0 } else { from % o.len() };
            bytes.truncate(p);
            bytes.extend_from_slice(&o[f..]);
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------
// The server's path.

/// Apply an update the way the actor does, then everything that may follow it.
fn apply_and_use(update: &[u8]) {
    let Ok(decoded) = Update::decode_v1(update) else {
        return;
    };
    let doc = doc_from_state(base_state()).expect("the base state loads");
    let applied = doc.transact_mut().apply_update(decoded);
    if applied.is_err() {
        return;
    }
    let txn = doc.transact();
    let _ = txn.state_vector().encode_v1();
    let snapshot = txn.encode_state_as_update_v1(&StateVector::default());
    if let Some(root) = txn.get_xml_fragment("prosemirror") {
        let _ = root.get_string(&txn);
    }
    drop(txn);
    // Compaction writes that snapshot; loading it must work too.
    let _ = doc_from_state(&snapshot);
    let _ = export(&doc, "Avis citoyen", Format::Markdown);
    let _ = export(&doc, "Avis citoyen", Format::Html);
}

/// One frame, as `DocActor::frame` handles it.
fn frame(bytes: &[u8]) {
    match Message::decode_v1(bytes) {
        Ok(Message::Sync(SyncMessage::SyncStep1(sv))) => {
            let doc = doc_from_state(base_state()).expect("the base state loads");
            let answer = doc.transact().encode_state_as_update_v1(&sv);
            let _ = Message::Sync(SyncMessage::SyncStep2(answer)).encode_v1();
        }
        Ok(Message::Sync(SyncMessage::SyncStep2(u)))
        | Ok(Message::Sync(SyncMessage::Update(u))) => apply_and_use(&u),
        Ok(Message::Awareness(update)) => {
            let mut aw = Awareness::new(Doc::new());
            let clients: Vec<_> = update.clients.keys().copied().collect();
            if aw.apply_update(update).is_ok() {
                let _ = aw.update().map(|u| Message::Awareness(u).encode_v1());
                for c in clients {
                    aw.remove_state(c);
                }
                let _ = aw.update();
            }
        }
        Ok(_) | Err(_) => {}
    }
    // Raw bytes as an update, too.
    apply_and_use(bytes);
}

// ---------------------------------------------------------------------------------------
// Known panics, set aside so that the properties keep looking for others. They are yrs 0.28
// debug-build checks on decoded values (release builds do not check: the values wrap or are
// masked). The server decodes every frame with yrs in the document's task; it used to die of
// them in debug builds (found by this test); docs/actor.rs now decodes and applies inside
// `catch_unwind` (tests/tests/documents.rs, `a_client_id_over_53_bits_harms_nobody`, checks
// it end to end). Found so far:
// - `ClientID::new`'s `debug_assert!(value & MASK == 0)`: a client id over 53 bits in an
//   update, a state vector or an awareness update (src/block.rs:93);
// - integer overflow on decoded clocks and lengths: `Range<u32>::decode`'s `clock + len`
//   (src/id_set.rs:30, a delete-set range past u32::MAX), `Update::decode`'s
//   `clock += block.len()` (src/update.rs:862).

/// (message, file): a panic whose message contains the first, raised in a yrs file whose
/// path contains the second.
const KNOWN_PANICS: &[(&str, &str)] = &[
    ("value & Self::MASK == 0", "yrs-0.28.1/src/block.rs"),
    ("with overflow", "yrs-0.28.1/src/"),
];

thread_local! {
    /// The last panic on this thread: message and `file:line`.
    static LAST_PANIC: std::cell::RefCell<Option<(String, String)>> =
        const { std::cell::RefCell::new(None) };
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

fn is_known(message: &str, location: &str) -> bool {
    KNOWN_PANICS
        .iter()
        .any(|(m, file)| message.contains(m) && location.contains(file))
}

/// Remember every panic's place; print only the unknown ones (the known ones would be
/// printed at every case).
fn install_hook() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let message = panic_message(info.payload());
            let location = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            let known = is_known(&message, &location);
            LAST_PANIC.with(|p| *p.borrow_mut() = Some((message, location)));
            if !known {
                default(info);
            }
        }));
    });
}

/// `frame`, where only the known panics are tolerated.
fn frame_checked(bytes: &[u8]) -> Result<(), TestCaseError> {
    install_hook();
    match std::panic::catch_unwind(|| frame(bytes)) {
        Ok(()) => Ok(()),
        Err(_) => {
            let (message, location) = LAST_PANIC
                .with(|p| p.borrow_mut().take())
                .unwrap_or_default();
            if is_known(&message, &location) {
                Ok(())
            } else {
                Err(TestCaseError::fail(format!(
                    "panic at {location}: {message} on {bytes:?}"
                )))
            }
        }
    }
}

proptest! {
    #![proptest_config(config(RANDOM_CASES))]

    /// Random bytes, of any length up to 512.
    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        frame_checked(&bytes)?;
    }
}

proptest! {
    #![proptest_config(config(MUTATED_CASES))]

    /// Real messages, mutated one to six times.
    #[test]
    fn mutated_messages_never_panic(
        pick in any::<usize>(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let c = corpus();
        let mut bytes = c[pick % c.len()].clone();
        for m in &mutations {
            apply_mutation(&mut bytes, m);
        }
        frame_checked(&bytes)?;
    }
}

/// The minimal inputs proptest found, as yrs sees them (the server contains these panics: see
/// above). Ignored: they panic in debug builds, by yrs's design; run with `--ignored` to check
/// whether a newer yrs still does.
#[test]
#[ignore = "yrs 0.28 (upstream): a client id over 53 bits panics its decoder in debug builds \
            (ClientID::new debug_assert); docs/actor.rs contains it"]
fn yrs_a_client_id_over_53_bits_panics_in_debug() {
    let update = vec![1u8, 0, 128, 128, 128, 128, 128, 128, 128, 16, 0];
    let mut awareness = vec![1u8, 13, 1];
    awareness.extend([
        0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10, 1, 2, b'{', b'}',
    ]);
    let step1 = vec![0u8, 0, 10, 1, 128, 128, 128, 128, 128, 128, 128, 16, 1];
    let caught = [update, awareness, step1]
        .iter()
        .filter(|b| std::panic::catch_unwind(|| frame(b)).is_err())
        .count();
    assert_eq!(caught, 0, "{caught} of the 3 inputs panicked");
}

#[test]
#[ignore = "yrs 0.28 (upstream): decoded clocks and lengths that overflow u32 panic its update \
            decoder in debug builds (id_set.rs:30, update.rs:862); docs/actor.rs contains it"]
fn yrs_overflowing_clocks_panic_in_debug() {
    let delete_set = [
        0u8, 128, 1, 0, 1, 128, 128, 128, 128, 136, 0, 128, 128, 128, 128, 72,
    ];
    let blocks = [
        1u8, 1, 0, 128, 128, 128, 128, 3, 81, 0, 0, 128, 128, 128, 128, 205, 0,
    ];
    let caught = [&delete_set[..], &blocks[..]]
        .iter()
        .filter(|b| std::panic::catch_unwind(|| frame(b)).is_err())
        .count();
    assert_eq!(caught, 0, "{caught} of the 2 inputs panicked");
}

/// The corpus is real: its frames decode, its updates apply, and the base document exports
/// its structure.
#[test]
fn the_corpus_is_real() {
    let c = corpus();
    let mut frames = 0;
    let mut updates = 0;
    for bytes in c {
        if Message::decode_v1(bytes).is_ok() {
            frames += 1;
        }
        if let Ok(u) = Update::decode_v1(bytes) {
            let doc = Doc::new();
            if doc.transact_mut().apply_update(u).is_ok() {
                updates += 1;
            }
        }
    }
    assert!(frames >= 12 * 5, "{frames} frames decode");
    assert!(updates >= 12 * 2, "{updates} updates apply");
    let doc = doc_from_state(base_state()).expect("loads");
    let md = export(&doc, "Avis", Format::Markdown);
    assert!(md.contains("## Proposition"), "{md}");
}
