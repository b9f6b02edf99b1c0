// Hocuspocus (@hocuspocus/server) with its defaults: in memory (no persistence extension),
// no onAuthenticate hook (any token is accepted), quiet.
// Usage: node hocuspocus.mjs PORT   (listens on 127.0.0.1; prints "listening on PORT" when ready)
import { Server } from '@hocuspocus/server'

const port = Number.parseInt(process.argv[2] ?? '1234', 10)
const server = new Server({ port, address: '127.0.0.1', quiet: true, stopOnSignals: true })
await server.listen()
console.log(`listening on ${port}`)
