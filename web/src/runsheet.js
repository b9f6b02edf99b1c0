// The run sheet ("déroulé", PROTOCOL.md §20) in the page's state: applying its events to the
// snapshot's `runsheet`, and what the page shows of it ("now", "next", the drift).

/** Apply one run-sheet event; true if it was one. */
export function applySequenceEvent(snap, rec) {
  const ev = rec.event;
  const sheet = snap.runsheet;
  const find = (id) => sheet.sequences.find((s) => s.id === id);
  const insert = (s, before) => {
    const i = before ? sheet.sequences.findIndex((x) => x.id === before) : -1;
    if (i >= 0) sheet.sequences.splice(i, 0, s);
    else sheet.sequences.push(s);
  };
  switch (ev.type) {
    case 'sequence_added':
      insert({ id: ev.sequence, spec: ev.spec, status: { state: 'planned' } }, ev.before);
      return true;
    case 'sequence_edited': {
      const s = find(ev.sequence);
      if (s) s.spec = ev.spec;
      return true;
    }
    case 'sequence_deleted':
      sheet.sequences = sheet.sequences.filter((s) => s.id !== ev.sequence);
      return true;
    case 'sequence_moved': {
      const s = find(ev.sequence);
      if (s) {
        sheet.sequences = sheet.sequences.filter((x) => x !== s);
        insert(s, ev.before);
      }
      return true;
    }
    case 'sequence_started': {
      const s = find(ev.sequence);
      if (s) s.status = { state: 'running', started_at: rec.at, ends_at: ev.ends_at };
      return true;
    }
    case 'sequence_extended': {
      const s = find(ev.sequence);
      if (s) {
        if (s.status.state === 'running') s.status.ends_at = ev.ends_at;
        s.extensions = (s.extensions || []).concat([{ at: rec.at, by_ms: ev.by_ms }]);
      }
      return true;
    }
    case 'sequence_ended': {
      const s = find(ev.sequence);
      if (s && s.status.state === 'running') {
        s.status = { state: 'done', started_at: s.status.started_at, ended_at: rec.at, early: ev.early };
      }
      return true;
    }
    case 'sequence_skipped': {
      const s = find(ev.sequence);
      if (s) s.status = { state: 'skipped', at: rec.at };
      return true;
    }
    default:
      return false;
  }
}

/** The sequence under way, and the first planned one. */
export function nowNext(snap) {
  const seqs = (snap.runsheet && snap.runsheet.sequences) || [];
  return {
    now: seqs.find((s) => s.status.state === 'running') || null,
    next: seqs.find((s) => s.status.state === 'planned') || null,
  };
}

/**
 * As the server computes it: the actual start of the sequence under way (else of the last
 * started one) less its planned start, in ms; positive, late. Null before any start.
 */
export function driftMs(snap) {
  let best = null;
  for (const s of (snap.runsheet && snap.runsheet.sequences) || []) {
    const at = s.status.started_at;
    if (at != null && (!best || at > best.at)) best = { at, planned: s.spec.planned_start };
  }
  return best ? best.at - best.planned : null;
}
