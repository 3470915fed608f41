'use strict';

// The wsbench kit server built on Bun's WebSocket server (uWebSockets inside):
// /echo echoes every message with its opcode, /bcast sends every message to
// every /bcast connection. See kit/README.md for the protocol.
//
// Usage: bun bun-server.js [-addr HOST:PORT] [-deflate]
// (node_modules/.bin/bun after `npm ci`: the npm package bun ships the binary)
//
// Written the way Bun's docs do it: Bun.serve with server.upgrade in fetch,
// ws.send(message) (a string arrives for text and is sent as text, a Buffer
// for binary), and Bun's pub/sub for /bcast: every /bcast connection
// subscribes to one topic and server.publish sends to all subscribers,
// sender included (ws.publish would skip the sender). Bun answers pings and
// the close handshake itself.

const { MAX_MESSAGE, parseFlags, formatAddr } = require('./flags');

const flags = parseFlags('bun-server', process.argv.slice(2));
const TOPIC = 'bcast';

const server = Bun.serve({
  hostname: flags.host,
  port: flags.port,
  fetch(req, srv) {
    const path = new URL(req.url).pathname;
    const bcast = path === '/bcast' || path.startsWith('/bcast/'); // /bcast/0: the same set
    if ((path === '/echo' || bcast) && srv.upgrade(req, { data: { bcast } })) {
      return undefined;
    }
    return new Response('not found', { status: 404 });
  },
  websocket: {
    perMessageDeflate: flags.deflate,
    maxPayloadLength: MAX_MESSAGE,
    idleTimeout: 0, // no idle timeout (Bun's default closes a connection idle for 120 s)
    // Bun drops what it cannot queue past backpressureLimit (16 MiB by
    // default); the kit drops nothing, so a slow connection's queue grows
    // instead, as nbio's and gws's do.
    backpressureLimit: 1 << 30,
    closeOnBackpressureLimit: false,
    open(ws) {
      if (ws.data.bcast) ws.subscribe(TOPIC);
    },
    message(ws, message) {
      if (ws.data.bcast) {
        server.publish(TOPIC, message, flags.deflate);
      } else {
        ws.send(message, flags.deflate);
      }
    },
  },
});
process.stdout.write(`listening on ${formatAddr(server.hostname, server.port)}\n`);

for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
