// The organizer console's pure parts, tested in Node (tests/web/client-state.test.mjs):
// finding a person among the invitations, and what the audit trail tells of a convention.

/** Text as a search compares it: no accents, no case (« Élodie » is found by « elodie »). */
export function searchKey(text) {
  return String(text || '')
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/œ/g, 'oe')
    .replace(/æ/g, 'ae');
}

/** The state of a person's invitation: `active`; else, when the audit trail is known
 * (`invited`: who was ever given one), `revoked` or `never` (made); else `inactive`. */
export function invitationState(s, invited) {
  if (s.active) return 'active';
  if (!invited) return 'inactive';
  return invited.has(s.participant) ? 'revoked' : 'never';
}

/** Whether an invitation's person matches: every word of `query` in their name or id, `role`
 * among their roles, `state` their invitation's (`inactive`: revoked or never made). Empty
 * means any. */
export function invitationMatches(s, { query = '', role = '', state = '' }, invited = null) {
  if (role && !s.roles.includes(role)) return false;
  if (state) {
    const mine = invitationState(s, invited);
    // Without the trail (it could not be read), « revoked » and « never » are « inactive ».
    const wanted = !invited && (state === 'revoked' || state === 'never') ? 'inactive' : state;
    if (wanted === 'inactive' ? mine === 'active' : mine !== wanted) return false;
  }
  const hay = searchKey(`${s.name} ${s.participant}`);
  return searchKey(query).split(/\s+/).filter(Boolean).every((w) => hay.includes(w));
}

/**
 * What the organizer API lists nowhere, from the convention's audit trail: its hearings and
 * documents (only facilitators create them, and whatever a facilitator does is audited), in
 * order of creation, with the hearings' openings and closings; and who was ever given an
 * invitation (`invite_issued`: the organizers' doing, audited), which tells a revoked
 * invitation from one never made (the invitations' list says only active or not).
 */
export function foldTrail(text) {
  const hearings = new Map();
  const documents = new Map();
  const invited = new Set();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let e;
    try {
      e = JSON.parse(line).event;
    } catch {
      continue;
    }
    if (!e) continue;
    if (e.type === 'hearing_created') hearings.set(e.hearing, { id: e.hearing, title: e.title, status: 'planned' });
    else if (e.type === 'hearing_opened' && hearings.has(e.hearing)) hearings.get(e.hearing).status = 'open';
    else if (e.type === 'hearing_closed' && hearings.has(e.hearing)) hearings.get(e.hearing).status = 'closed';
    else if (e.type === 'document_created') documents.set(e.name, { name: e.name, title: e.title });
    else if (e.type === 'invite_issued') invited.add(e.participant);
  }
  return { hearings: [...hearings.values()], documents: [...documents.values()], invited };
}
