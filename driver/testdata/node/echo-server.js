'use strict';

// A WebSocket echo server built on Node's `ws` package, for
// driver/interop_node_test.go: a peer wsbench did not write.
//
// Usage: node echo-server.js [--ping] [--deflate]
//
// It listens on 127.0.0.1 on a port the kernel picks, prints one line
// "LISTENING <port>" on stdout once it listens, and echoes every message back
// with the same type (text stays text, binary stays binary). With --ping it
// also pings every client once ("hi") right after the connection opens, so
// the client must answer with a pong. With --deflate it accepts
// permessage-deflate and compresses every message it sends (threshold 0).
// A connection to the path /close/CODE/N is closed by the server with CODE
// (and the reason "node closes") once it has echoed N messages: the close
// codes in the server-to-client direction.
//
// It exits on SIGTERM, SIGINT, or when its stdin closes, so a test that dies
// without cleaning up does not leave it running. On the way out it waits up
// to half a second for connections still closing, then prints one line
//
//   STATS connections=<n> pongs=<n> badpongs=<n> closes1000=<n> otherCloses=<n> errors=<n>
//
// on stdout: how many clients connected, how many pongs echoing the ping's
// payload came back (and how many did not echo it), how many connections the
// client closed with status 1000 or any other status, and how many
// connections failed with an error (a protocol violation, say).

const { WebSocketServer } = require('ws');

const ping = process.argv.slice(2).includes('--ping');
const deflate = process.argv.slice(2).includes('--deflate');

const wss = new WebSocketServer({
  host: '127.0.0.1',
  port: 0,
  perMessageDeflate: deflate ? { threshold: 0 } : false,
  maxPayload: 64 * 1024 * 1024,
  clientTracking: true,
});

const PING_PAYLOAD = Buffer.from('hi');

const stats = {
  connections: 0,
  pongs: 0,
  badpongs: 0,
  closes1000: 0,
  otherCloses: 0,
  errors: 0,
};

wss.on('connection', (ws, req) => {
  stats.connections++;
  const m = /^\/close\/(\d+)\/(\d+)/.exec(req.url || '');
  let left = m ? Number(m[2]) : -1;
  ws.on('error', (err) => {
    stats.errors++;
    console.error(`connection error: ${err.message}`);
  });
  ws.on('message', (data, isBinary) => {
    if (left === 0) {
      return; // closing
    }
    ws.send(data, { binary: isBinary });
    if (left > 0 && --left === 0) {
      stats.serverCloses = (stats.serverCloses || 0) + 1;
      ws.close(Number(m[1]), 'node closes');
    }
  });
  ws.on('pong', (data) => {
    if (data.equals(PING_PAYLOAD)) {
      stats.pongs++;
    } else {
      stats.badpongs++;
      console.error(`pong payload ${JSON.stringify(data.toString())}, want "hi"`);
    }
  });
  ws.on('close', (code) => {
    if (code === 1000) {
      stats.closes1000++;
    } else {
      stats.otherCloses++;
      console.error(`connection closed with status ${code}`);
    }
  });
  if (ping) {
    ws.ping(PING_PAYLOAD);
  }
});

wss.on('error', (err) => {
  console.error(`server error: ${err.message}`);
  process.exit(1);
});

wss.on('listening', () => {
  process.stdout.write(`LISTENING ${wss.address().port}\n`);
});

let stopping = false;
function stop(why) {
  if (stopping) {
    return;
  }
  stopping = true;
  console.error(`echo-server: stopping (${why})`);
  const deadline = Date.now() + 500;
  const finish = () => {
    if (wss.clients.size > 0 && Date.now() < deadline) {
      setTimeout(finish, 10);
      return;
    }
    const fields = Object.entries(stats).map(([k, v]) => `${k}=${v}`);
    process.stdout.write(`STATS ${fields.join(' ')}\n`);
    for (const client of wss.clients) {
      client.terminate();
    }
    wss.close(() => process.exit(0));
    // Never hang on the way out.
    setTimeout(() => process.exit(0), 1000).unref();
  };
  finish();
}

process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
process.stdin.on('end', () => stop('stdin closed'));
process.stdin.on('close', () => stop('stdin closed'));
process.stdin.on('error', () => stop('stdin error'));
process.stdin.resume();
