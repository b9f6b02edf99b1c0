// Protocol version 2 (protocol/PROTOCOL.md, section 25): the roster is a resource fetched by
// version and cached here, where people are and who is online comes in `presence` (welcome,
// room_view) and `presence_batch`, a move brings a `room_view`. The page's views still read
// `snap.participants`: it is rebuilt from the roster and the presence view, and people out of
// the view (the members of a large room, for a citizen) have `room: null`.

import { seesEverything, recomputeObservers } from './reduce.js';

export const PROTOCOL = 2;

/** The roster cache: {version, people: Map id -> person} (kept across reconnects). */
export function emptyRoster() {
  return { version: null, people: new Map() };
}

export function takeRoster(cache, msg) {
  cache.version = msg.version;
  cache.people = new Map(msg.people.map((p) => [p.id, p]));
}

/** A person added to the roster: the cached roster follows (its version is its size). */
export function addToRoster(cache, person) {
  if (cache.version === null) return;
  cache.people.set(person.id, person);
  cache.version = cache.people.size;
}

/** Whether the welcome's roster is the one cached. */
export function rosterCurrent(cache, snap) {
  return !!snap.roster && cache.version === snap.roster.version;
}

/** `snap.participants` from the roster and the presence view. */
export function syncParticipants(snap, cache, you) {
  if (!snap.presence) return;
  const states = new Map(snap.presence.people.map((s) => [s.participant, s]));
  const people = cache.people.size ? [...cache.people.values()] : [];
  if (!people.length) {
    // Not fetched yet: those of the view, named by id until the roster comes.
    for (const s of snap.presence.people) {
      people.push(you && you.id === s.participant ? you : { id: s.participant, name: s.participant, roles: [] });
    }
  }
  snap.participants = people.map((p) => {
    const s = states.get(p.id);
    return { ...p, room: s ? s.room : null, online: s ? s.online : false, assigned: s ? s.assigned || null : null };
  });
  snap.participants.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  // Observers: guarantors are always in the view.
  recomputeObservers(snap);
}

/** A `presence_batch`: changed people replace theirs, `gone` leave the view, counts replace. */
export function applyPresenceBatch(snap, msg) {
  if (!snap.presence) return;
  const states = new Map(snap.presence.people.map((s) => [s.participant, s]));
  for (const s of msg.people || []) states.set(s.participant, s);
  for (const id of msg.gone || []) states.delete(id);
  snap.presence.people = [...states.values()];
  if (msg.rooms && msg.rooms.length) snap.presence.rooms = msg.rooms;
}

/** A `room_view`: the new room's inside, polls, hearings and presence. */
export function applyRoomView(snap, msg, you) {
  const staff = you && seesEverything(you.roles);
  for (const r of snap.rooms) {
    if (r.id === msg.room) r.inside = msg.inside;
    else if (!staff) delete r.inside;
  }
  snap.polls = msg.polls;
  snap.hearings = msg.hearings;
  snap.presence = msg.presence;
  snap.seq = Math.max(snap.seq, msg.seq);
}

/** A room's counts, from the presence view ({members, online}), if known. */
export function roomCount(snap, id) {
  const c = snap.presence && snap.presence.rooms.find((x) => x.room === id);
  return c ? { members: c.members, online: c.online } : null;
}
