// The reference y-websocket server (@y/websocket-server), as its own bin/server.js runs it:
// one in-memory Y.Doc per URL path, no persistence (YPERSISTENCE unset), no auth.
// Usage: node ywss.mjs PORT   (listens on 127.0.0.1; prints "listening on PORT" when ready)
import http from 'node:http'
import { WebSocketServer } from 'ws'
import { setupWSConnection } from '@y/websocket-server/utils'

const port = Number.parseInt(process.argv[2] ?? '1234', 10)
if (process.env.YPERSISTENCE) {
  console.error('ywss.mjs: unset YPERSISTENCE: this benchmark compares in-memory servers')
  process.exit(2)
}
const wss = new WebSocketServer({ noServer: true })
wss.on('connection', setupWSConnection)
const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain' })
  res.end('okay')
})
server.on('upgrade', (req, socket, head) => {
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req))
})
server.listen(port, '127.0.0.1', () => console.log(`listening on ${port}`))
const stop = () => server.close(() => process.exit(0))
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
