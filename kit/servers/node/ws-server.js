'use strict';

// The wsbench kit server built on Node's ws package: /echo echoes every
// message with its opcode, /bcast sends every message to every /bcast
// connection. See kit/README.md for the protocol.
//
// Usage: node ws-server.js [-addr HOST:PORT] [-deflate]
//
// Written the way ws's README does it: a WebSocketServer per path with
// noServer on one http.Server, send(data, { binary: isBinary }) so the opcode
// is kept, the broadcast loop over wss.clients, and bufferutil installed for
// masking (ws's recommended opt-in). ws answers pings and the close handshake
// itself.

const http = require('http');
const { WebSocketServer, WebSocket } = require('ws');
const { MAX_MESSAGE, parseFlags, formatAddr } = require('./flags');

const flags = parseFlags('ws-server', process.argv.slice(2));
const opts = {
  noServer: true,
  perMessageDeflate: flags.deflate,
  maxPayload: MAX_MESSAGE,
};

const echo = new WebSocketServer({ ...opts, clientTracking: false });
echo.on('connection', (ws) => {
  ws.on('error', () => {});
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});

const bcast = new WebSocketServer({ ...opts, clientTracking: true });
bcast.on('connection', (ws) => {
  ws.on('error', () => {});
  ws.on('message', (data, isBinary) => {
    for (const client of bcast.clients) {
      if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
    }
  });
});

const server = http.createServer((req, res) => {
  res.writeHead(404).end();
});
server.on('upgrade', (req, socket, head) => {
  const path = req.url.split('?', 1)[0];
  const wss = path === '/echo' ? echo : path === '/bcast' || path.startsWith('/bcast/') ? bcast : null;
  if (wss === null) {
    socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
});
server.listen(flags.port, flags.host, () => {
  const { address, port } = server.address();
  process.stdout.write(`listening on ${formatAddr(address, port)}\n`);
});

for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
