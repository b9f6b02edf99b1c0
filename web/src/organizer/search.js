// The organizer console's pure parts, tested in Node (tests/web/client-state.test.mjs):
// finding a person among the invitations.

/** Text as a search compares it: no accents, no case (« Élodie » is found by « elodie »). */
export function searchKey(text) {
  return String(text || '')
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/œ/g, 'oe')
    .replace(/æ/g, 'ae');
}

/** The state of a person's invitation, as the server says it (`InviteStatus.state`):
 * `active`, `revoked` or `never` (made). */
export function invitationState(s) {
  if (s.active) return 'active';
  return s.state === 'revoked' ? 'revoked' : 'never';
}

/** Whether an invitation's person matches: every word of `query` in their name or id, `role`
 * among their roles, `state` their invitation's (`inactive`: revoked or never made). Empty
 * means any. */
export function invitationMatches(s, { query = '', role = '', state = '' }) {
  if (role && !s.roles.includes(role)) return false;
  if (state) {
    const mine = invitationState(s);
    if (state === 'inactive' ? mine === 'active' : mine !== state) return false;
  }
  const hay = searchKey(`${s.name} ${s.participant}`);
  return searchKey(query).split(/\s+/).filter(Boolean).every((w) => hay.includes(w));
}
