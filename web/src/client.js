// The protocol client (protocol/PROTOCOL.md): one WebSocket to /ws, hello with the invitation
// token, the state from welcome/snapshot plus events, requests with unique ids, replies
// matched by id, reconnection with backoff, and unacknowledged requests sent again with
// the same id after reconnecting (the server answers a repeated id from its log, so a
// retry is never run twice). In a cluster (`setNodes`, from GET /nodes), each attempt after a
// loss goes to the next node of the list, and the hello carries the seq the page had
// (`last_seq`), so that the new node's welcome is not behind what the page shows.
//
// A network can die without closing the socket (a phone between antennas): the page pings
// when it has heard nothing for a while (PROTOCOL.md, "Heartbeat") and drops a connection that
// stays silent, that leaves a request unanswered, or that gives no welcome, then reconnects.

import { applyEvent, missedNotices, normalizeSnapshot, noticeEffect, room, roomOfPerson, moveCause } from './reduce.js';
import { applyHearingQuestion } from './hearings.js';
// Protocol version 2 (PROTOCOL.md section 25).
import { PROTOCOL, emptyRoster, takeRoster, addToRoster, rosterCurrent, syncParticipants, applyPresenceBatch, applyRoomView } from './v2.js';

/** Close codes after which reconnecting cannot help (PROTOCOL.md, section 13). */
const FATAL_CLOSES = {
  4001: 'unknown_token',
  4002: 'revoked',
  4003: 'unsupported_version',
  // Opened in too many other tabs or devices: reconnecting would close another of them.
  4011: 'too_many_connections',
  4012: 'damaged',
  // Removed from the live convention by the facilitators (moderation): until readmitted.
  4013: 'removed',
  // The organizers deleted the convention (DELETE /api/conventions/{id}): it is gone.
  4014: 'deleted',
};
const MAX_BACKOFF_MS = 30000;
/** Heard nothing for this long: send a `ping`. */
export const PING_AFTER_MS = 5000;
/** Heard nothing for this long (a `ping` went unanswered): the connection is dead. */
export const DEAD_AFTER_MS = 11000;
/** A request with no reply for this long: the connection is taken for dead. */
export const REQUEST_TIMEOUT_MS = 10000;
/** No welcome this long after opening the socket: try again. */
export const WELCOME_TIMEOUT_MS = 10000;
const CHECK_EVERY_MS = 1000;

function randomPrefix() {
  const a = new Uint8Array(6);
  crypto.getRandomValues(a);
  return Array.from(a, (b) => b.toString(36).padStart(2, '0')).join('').slice(0, 10);
}

export class RequestError extends Error {
  constructor(code, message, command) {
    super(message || code);
    this.code = code;
    this.command = command;
  }
}

/**
 * A chat line or a raised hand refused because its sender has changed room since they acted
 * (it waited offline, and breakouts closed meanwhile): PROTOCOL.md, `send_chat`.
 */
export function movedRefusal(code, message) {
  return code === 'conflict' && typeof message === 'string' && message.startsWith('you changed room');
}

export class Client {
  /**
   * @param {string} url  ws(s)://host/ws (the page's own node)
   * @param {string} token the invitation token
   */
  constructor(url, token) {
    this.url = url; // the node of the current connection (or attempt)
    this.urls = [url]; // every node, the page's own first
    this.node = 0;
    this.token = token;
    this.prefix = randomPrefix();
    // Protocol version 2: the roster, cached by version across reconnects.
    this.roster = emptyRoster();
    this.counter = 0;
    /** id -> {id, command, resolve, reject} in order of sending */
    this.pending = new Map();
    /** Chat lines refused for a change of room, for the chat field to take back. */
    this.returnedChat = [];
    this.listeners = new Set();
    this.ws = null;
    this.attempt = 0;
    this.timer = null;
    this.stopped = false;
    // What the UI reads.
    this.status = 'connecting'; // connecting | open | reconnecting | fatal
    this.fatal = null; // error code when status is fatal
    this.everConnected = false;
    this.you = null;
    this.snap = null;
    this.seen = 0; // the highest seq ever applied: an event at or below it had its effect
    this.offset = 0; // server clock minus local clock
    this.audit = new Map(); // n -> entry
    this.notices = []; // broadcasts received live
    this.errors = []; // {key, code, command, message, at}
    this.lastReconnectAt = 0;
    this.nextRetryAt = 0;
    this.hooks = {}; // onEffect(effect), onWelcome()
    this._notifyQueued = false;
    // The heartbeat's clocks (Date.now()): when this connection last spoke, when it opened,
    // when we last pinged, and when the watchdog last ran.
    this.lastHeard = 0;
    this.openedAt = 0;
    this.lastPing = 0;
    this.lastCheck = 0;
    this.watchdog = null;
  }

  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Coalesce the notifications of one burst of messages into one re-render. */
  notify() {
    if (this._notifyQueued) return;
    this._notifyQueued = true;
    queueMicrotask(() => {
      this._notifyQueued = false;
      for (const fn of this.listeners) fn();
    });
  }

  now() {
    return Date.now() + this.offset;
  }

  /**
   * The cluster's nodes (their WebSocket URLs): the page's own node stays first, the others
   * follow in the order given; the next attempts go through them in turn.
   */
  setNodes(urls) {
    const own = this.urls[0];
    const others = urls.filter((u, i) => u !== own && urls.indexOf(u) === i);
    const current = this.urls[this.node];
    this.urls = [own, ...others];
    this.node = Math.max(0, this.urls.indexOf(current));
  }

  /** ws(s)://host of the node of the current connection (the opinion editor follows it). */
  wsBase() {
    return this.url.replace(/\/ws$/, '');
  }

  start() {
    this.stopped = false;
    this.connect();
    // A phone that changes network keeps a dead socket for a long time: the browser's own
    // offline/online signals, when it gives them, let the page say so at once, and reconnect
    // as soon as it can. When it does not, the watchdog finds out.
    window.addEventListener('offline', () => this.abandon('offline'));
    window.addEventListener('online', () => this.retryNow());
    this.lastCheck = Date.now();
    this.watchdog = setInterval(() => this.check(), CHECK_EVERY_MS);
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.watchdog);
    if (this.ws) this.ws.close(1000);
  }

  /**
   * The heartbeat, once a second: ping a quiet connection, and drop one that stays silent,
   * that leaves a request unanswered, or that never welcomed us.
   */
  check() {
    const now = Date.now();
    const slept = now - this.lastCheck > 3 * CHECK_EVERY_MS;
    this.lastCheck = now;
    const ws = this.ws;
    if (!ws || this.stopped) return;
    if (slept) {
      // Our own timers were asleep (a background tab, a closed lid): the silence is ours,
      // not the network's. Ask now, and judge from here.
      this.lastHeard = Math.max(this.lastHeard, now - PING_AFTER_MS);
      this.openedAt = Math.max(this.openedAt, now - PING_AFTER_MS);
    }
    if (this.status !== 'open') {
      if (now - this.openedAt > WELCOME_TIMEOUT_MS) this.abandon('no welcome');
      return;
    }
    if (now - this.lastHeard > DEAD_AFTER_MS) {
      this.abandon('silent');
      return;
    }
    for (const p of this.pending.values()) {
      if (p.sentAt && now - p.sentAt > REQUEST_TIMEOUT_MS) {
        this.abandon('request timeout');
        return;
      }
    }
    if (now - this.lastHeard > PING_AFTER_MS && now - this.lastPing > PING_AFTER_MS && ws.readyState === WebSocket.OPEN) {
      this.lastPing = now;
      ws.send('{"type":"ping"}');
    }
  }

  /**
   * Give up this connection now, without waiting for the browser's close (which a dead
   * network delays for minutes), and reconnect. Requests waiting for a reply go again, with
   * their ids, after the next welcome.
   */
  abandon(why) {
    const ws = this.ws;
    if (!ws || this.stopped) return;
    this.ws = null;
    this.lostBecause = why;
    ws.onopen = null;
    ws.onmessage = null;
    ws.onclose = null;
    ws.onerror = null;
    try {
      ws.close(4000, why);
    } catch {
      /* already closing */
    }
    for (const p of this.pending.values()) p.sentAt = 0;
    this.nextNode();
    this.scheduleReconnect();
  }

  connect() {
    clearTimeout(this.timer);
    this.url = this.urls[this.node];
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (e) {
      this.nextNode();
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.openedAt = Date.now();
    ws.onopen = () => {
      this.lastHeard = Date.now();
      const hello = { type: 'hello', protocol: PROTOCOL, token: this.token };
      // Coming back: the new welcome is at this seq or after it, on any node.
      if (this.snap) hello.last_seq = this.snap.seq;
      ws.send(JSON.stringify(hello));
    };
    ws.onmessage = (m) => {
      if (this.ws !== ws) return;
      // Whatever it is, the connection is alive.
      this.lastHeard = Date.now();
      let msg;
      try {
        msg = JSON.parse(m.data);
      } catch {
        return;
      }
      this.handle(msg);
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return;
      if (FATAL_CLOSES[e.code]) {
        this.status = 'fatal';
        this.fatal = FATAL_CLOSES[e.code];
        for (const p of this.pending.values()) p.reject(new RequestError(this.fatal, '', p.command));
        this.pending.clear();
        this.notify();
        return;
      }
      for (const p of this.pending.values()) p.sentAt = 0;
      this.nextNode();
      this.scheduleReconnect();
    };
    ws.onerror = () => {};
  }

  /** A connection lost or refused: the next attempt goes to the next node (if several). */
  nextNode() {
    this.node = (this.node + 1) % this.urls.length;
  }

  scheduleReconnect() {
    this.status = this.everConnected ? 'reconnecting' : 'connecting';
    this.attempt += 1;
    // 0.5 s, 1 s, 2 s… up to 30 s, with jitter, so that a restarted server is not flooded.
    const base = Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.min(this.attempt - 1, 6));
    const delay = base / 2 + Math.random() * (base / 2);
    this.nextRetryAt = Date.now() + delay;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delay);
    this.notify();
  }

  /** Try again now (the banner's button). */
  retryNow() {
    if (this.status === 'reconnecting' || this.status === 'connecting') {
      if (this.ws) return;
      this.connect();
    }
  }

  takeSnapshot(snapshot, serverTime) {
    const before = this.seen;
    const myCalls = this.snap && this.you ? this.snap.calls.filter((c) => c.participant === this.you.id).map((c) => c.id) : [];
    this.snap = normalizeSnapshot(snapshot);
    // Protocol version 2: the roster is fetched only when the cached one is not current.
    if (this.snap.presence) {
      if (!rosterCurrent(this.roster, this.snap) && this.ws && this.ws.readyState === WebSocket.OPEN) {
        const ask = { type: 'get_roster' };
        if (this.roster.version !== null) ask.version = this.roster.version;
        this.ws.send(JSON.stringify(ask));
      }
      syncParticipants(this.snap, this.roster, this.you);
    }
    this.offset = serverTime - Date.now();
    this.seen = Math.max(this.seen, this.snap.seq);
    // A call of mine handled while we were away: said as if live.
    const gone = myCalls.filter((id) => !this.snap.calls.some((c) => c.id === id));
    if (gone.length && this.hooks.onEffect) this.hooks.onEffect({ callResolved: { call: gone[0], mine: true, by: null } }, null);
    // Announcements made while we were away (or just before we came) show as if live.
    if (this.hooks.onEffect) {
      for (const rec of missedNotices(this.snap, before, serverTime)) {
        this.hooks.onEffect(noticeEffect(rec), rec);
      }
    }
  }

  handle(msg) {
    const before = this.you ? roomOfPerson(this.snap, this.you.id) : null;
    this.dispatch(msg);
    // Moved (breakout rooms, a rotation, a recall, a facilitator, one's own visit, or while
    // away): the page says where one is now, and why.
    const after = this.you ? roomOfPerson(this.snap, this.you.id) : null;
    if (before && after && before !== after && this.hooks.onEffect) {
      const cause = msg.type === 'event' ? moveCause(msg, this.you.id) : 'away';
      this.hooks.onEffect({ moved: { room: after, from: before, cause } }, msg.type === 'event' ? msg : null);
    }
    this.notify();
  }

  dispatch(msg) {
    switch (msg.type) {
      case 'welcome': {
        const wasReconnect = this.everConnected;
        this.you = msg.you;
        this.takeSnapshot(msg.snapshot, msg.server_time);
        this.status = 'open';
        this.attempt = 0;
        this.everConnected = true;
        if (wasReconnect) this.lastReconnectAt = Date.now();
        // Requests the previous connection left without a reply: same ids, same order.
        for (const p of this.pending.values()) this.send(p);
        if (this.hooks.onWelcome) this.hooks.onWelcome(wasReconnect);
        break;
      }
      case 'snapshot':
        this.takeSnapshot(msg.snapshot, msg.server_time);
        if (this.hooks.onSnapshot) this.hooks.onSnapshot();
        break;
      case 'event': {
        if (!this.snap || msg.seq <= this.snap.seq) break;
        if (msg.event.type === 'participant_added') addToRoster(this.roster, msg.event.person);
        const effect = applyEvent(this.snap, this.you, msg);
        // A notice (a broadcast...) shows once, even if a welcome were ever behind.
        if (effect && this.hooks.onEffect && msg.seq > this.seen) this.hooks.onEffect(effect, msg);
        this.seen = Math.max(this.seen, msg.seq);
        break;
      }
      case 'ok': {
        const p = this.pending.get(msg.id);
        if (p) {
          this.pending.delete(msg.id);
          p.resolve(msg.seq);
        }
        break;
      }
      case 'error': {
        const p = msg.id != null ? this.pending.get(msg.id) : null;
        // `unavailable`: nothing was applied; try again later with the same id.
        if (p && msg.code === 'unavailable' && (p.retries || 0) < 3) {
          p.retries = (p.retries || 0) + 1;
          p.sentAt = 0; // answered: not a silent connection
          setTimeout(() => this.send(p), 1500 * p.retries);
          break;
        }
        if (p) this.pending.delete(msg.id);
        // A line written for the room one has left: back to the chat field (of the room one is
        // in now), to send again there or not, instead of lost with the request.
        if (p && p.command.type === 'send_chat' && movedRefusal(msg.code, msg.message)) this.returnedChat.push(p.command.text);
        const err = new RequestError(msg.code, msg.message, p ? p.command : null);
        this.errors.push({ key: `${Date.now()}-${Math.random()}`, code: msg.code, command: p ? p.command.type : null, message: msg.message, at: Date.now() });
        if (this.errors.length > 5) this.errors.shift();
        if (p) p.reject(err);
        break;
      }
      case 'presence': {
        const who = this.snap && this.snap.participants.find((x) => x.id === msg.participant);
        if (who) {
          who.online = msg.online;
          if (who.roles.includes('guarantor')) {
            const r = room(this.snap, who.room);
            if (r) r.observers = this.snap.participants.filter((x) => x.roles.includes('guarantor') && x.online && x.room === r.id).length;
          }
        }
        break;
      }
      // Protocol version 2 (PROTOCOL.md section 25).
      case 'roster':
        takeRoster(this.roster, msg);
        if (this.snap) syncParticipants(this.snap, this.roster, this.you);
        break;
      case 'not_modified':
        break;
      case 'presence_batch':
        if (this.snap) {
          applyPresenceBatch(this.snap, msg);
          syncParticipants(this.snap, this.roster, this.you);
        }
        break;
      case 'room_view':
        if (this.snap) {
          applyRoomView(this.snap, msg, this.you);
          syncParticipants(this.snap, this.roster, this.you);
          this.offset = msg.server_time - Date.now();
          if (this.hooks.onSnapshot) this.hooks.onSnapshot();
        }
        break;
      case 'audit':
        this.audit.set(msg.entry.n, msg.entry);
        break;
      case 'pong':
        // The clock again (a laptop that slept has drifted): countdowns stay right.
        if (typeof msg.server_time === 'number') this.offset = msg.server_time - Date.now();
        break;
      case 'poll_tally': {
        const p = this.snap && this.snap.polls.find((x) => x.id === msg.poll);
        if (p) {
          p.participation = msg.participation;
          if (msg.tally || !p.tally) p.tally = msg.tally;
        }
        break;
      }
      // Hearings: a question as the room (or the staff) sees it now.
      case 'hearing_question':
        if (this.snap) applyHearingQuestion(this.snap, this.you, msg);
        break;
      // Public audience (§24): how many watch the public page (staff only).
      case 'public_viewers':
        this.publicViewers = msg.count;
        break;
      default:
        break; // a message this client does not know: ignore (PROTOCOL.md, section 1)
    }
  }

  send(p) {
    if (this.ws && this.status === 'open' && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify({ type: 'request', id: p.id, command: p.command }));
      p.sentAt = Date.now();
    }
  }

  /** Requests not yet answered, of these command types (the page shows them "en attente"). */
  waiting(...types) {
    return [...this.pending.values()].filter((p) => types.includes(p.command.type));
  }

  /**
   * Send a command. Resolves with the `ok`'s seq, rejects with a RequestError carrying the
   * error code. While disconnected, the request waits and goes out after the next welcome.
   */
  request(command) {
    this.counter += 1;
    const id = `${this.prefix}-${this.counter}`;
    return new Promise((resolve, reject) => {
      if (this.status === 'fatal') {
        reject(new RequestError(this.fatal, '', command));
        return;
      }
      const p = { id, command, resolve, reject };
      this.pending.set(id, p);
      this.send(p);
      this.notify();
    });
  }

  dismissError(key) {
    this.errors = this.errors.filter((e) => e.key !== key);
    this.notify();
  }
}
