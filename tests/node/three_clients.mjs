// Three stock Yjs clients (y-websocket's WebsocketProvider, in Node with `ws`) edit one
// Convene document concurrently; driven by tests/tests/yjs_node.rs.
//
//   node three_clients.mjs ws://ADDR/doc/CONVENTION DOCUMENT TOKEN1 TOKEN2 TOKEN3
//
// 1. The three connect (`params: { token }`, the document as the room), type concurrently
//    into the `prosemirror` XmlFragment (one paragraph each per step) and a Y.Text `notes`,
//    wait until the three documents are identical and print `SYNCED <json>`.
// 2. They keep running. The Rust test kills the server (SIGKILL) and starts it again on the
//    same port: the providers reconnect by themselves. Once the three are synced again, a
//    fresh fourth provider checks that the server still holds exactly the content printed in
//    step 1 (then resynced), each of the three makes one more edit, and once the four agree
//    the script prints `DONE <json>` and exits 0.
// Any failure prints `FAIL <reason>` on stderr and exits 1.

import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'

const [serverUrl, room, ...tokens] = process.argv.slice(2)
if (!serverUrl || !room || tokens.length !== 3) {
  console.error('usage: node three_clients.mjs ws://ADDR/doc/CONVENTION DOCUMENT TOKEN1 TOKEN2 TOKEN3')
  process.exit(2)
}

const fail = (why) => {
  console.error(`FAIL ${why}`)
  process.exit(1)
}
// The whole run, restart included, stays well under this.
setTimeout(() => fail('timeout after 90 s'), 90_000).unref()

const log = (...a) => console.error(new Date().toISOString(), ...a)

const connect = (name, token) => {
  const doc = new Y.Doc()
  const provider = new WebsocketProvider(serverUrl, room, doc, {
    WebSocketPolyfill: WebSocket,
    params: { token },
    // Same process, same room: without this the providers would sync through a
    // BroadcastChannel and bypass the server.
    disableBc: true,
    maxBackoffTime: 1000
  })
  const client = { name, doc, provider, disconnects: 0, closes: [] }
  provider.on('status', ({ status }) => {
    log(name, status)
    if (status === 'disconnected') client.disconnects++
  })
  provider.on('connection-close', (event) => {
    if (event) client.closes.push(event.code)
  })
  provider.on('closed', ({ code, reason }) => fail(`${name}: closed for good: ${code} ${reason}`))
  return client
}

/** The content: paragraph texts of the `prosemirror` fragment, and the `notes` text. */
const content = (doc) => ({
  paragraphs: doc.getXmlFragment('prosemirror').toArray().map((p) =>
    p.toArray().map((t) => t.toString()).join('')
  ),
  notes: doc.getText('notes').toString()
})
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b)

const until = (what, pred, ms = 30_000) =>
  new Promise((resolve, reject) => {
    const started = Date.now()
    const tick = () => {
      if (pred()) return resolve()
      if (Date.now() - started > ms) return reject(new Error(`${what}: not within ${ms} ms`))
      setTimeout(tick, 20)
    }
    tick()
  })

const paragraph = (text) => {
  const p = new Y.XmlElement('paragraph')
  p.insert(0, [new Y.XmlText(text)])
  return p
}

const edit = (c, label) => {
  const frag = c.doc.getXmlFragment('prosemirror')
  c.doc.transact(() => {
    // Insert at varying places: concurrent edits interleave in the CRDT.
    const at = Math.floor(Math.random() * (frag.length + 1))
    frag.insert(at, [paragraph(`${c.name} ${label}`)])
  })
  // At the start or the end of the notes: concurrent runs never interleave, so every
  // piece stays whole (an insert in the middle of another piece would split it).
  const notes = c.doc.getText('notes')
  notes.insert(Math.random() < 0.5 ? 0 : notes.length, `[${c.name} ${label}]`)
}

const converged = (clients) => clients.every((c) => same(content(c.doc), content(clients[0].doc)))

const main = async () => {
  const clients = tokens.map((t, i) => connect(`client${i + 1}`, t))
  await until('first sync', () => clients.every((c) => c.provider.synced))

  // Concurrent typing: every client, every few milliseconds, 20 rounds.
  await Promise.all(
    clients.map(async (c) => {
      for (let k = 0; k < 20; k++) {
        edit(c, `avant ${k}`)
        await new Promise((r) => setTimeout(r, 1 + Math.floor(Math.random() * 5)))
      }
    })
  )
  await until('convergence', () =>
    converged(clients) && content(clients[0].doc).paragraphs.length === 60
  )
  const before = content(clients[0].doc)
  console.log(`SYNCED ${JSON.stringify(before)}`)

  // The server is killed and restarted on the same port: wait for the providers to notice,
  // come back and resync by themselves.
  await until('disconnect', () => clients.every((c) => c.disconnects > 0), 60_000)
  await until('resync after restart', () => clients.every((c) => c.provider.synced), 60_000)
  for (const c of clients) {
    if (!same(content(c.doc), before)) fail(`${c.name}: content changed across the restart`)
  }
  // What the restarted server holds, seen by a newcomer.
  const fresh = connect('fresh', tokens[0])
  await until('fresh sync', () => fresh.provider.synced)
  if (!same(content(fresh.doc), before)) {
    fail(`the restarted server lost content: ${JSON.stringify(content(fresh.doc))}`)
  }

  // One more edit each, and all four agree.
  for (const c of clients) edit(c, 'après')
  await until('convergence after restart', () =>
    converged([...clients, fresh]) && content(fresh.doc).paragraphs.length === 63
  )
  const after = content(fresh.doc)
  console.log(`DONE ${JSON.stringify(after)}`)
  for (const c of [...clients, fresh]) c.provider.destroy()
  process.exit(0)
}

main().catch((e) => fail(e.stack || String(e)))
