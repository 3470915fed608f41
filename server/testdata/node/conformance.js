'use strict';

// Node's `ws` client against the bundled server, for
// server/conformance_node_linux_test.go: a peer wsbench did not write.
//
// Usage: node conformance.js '<json>'
//
// The argument names the servers the Go test started (all on 127.0.0.1):
//
//   {"deflate": URL, "plainClient": URL, "noDeflate": URL,
//    "subprotocols": URL, "ping": URL, "idle": URL, "close": URL,
//    "violations": URL, "maxMessage": N}
//
// The script does not judge: it records what the client saw (the
// negotiated subprotocol and extensions, each echo and whether it matched
// what was sent, pings, and the code of every 'close' event) and prints it
// as one line "RESULT <json>" on stdout, for the Go test to assert. Every
// step has its own timeout, and a step that fails records its error and
// lets the others run. Protocol violations that ws will not commit (it
// always masks, never sets RSV bits of its own accord) are written as raw
// bytes to the client's socket.

const crypto = require('crypto');
const WebSocket = require('ws');

const cfg = JSON.parse(process.argv[2]);
const STEP_MS = 10000;

// Echo sizes: empty, 7-bit, 16-bit and 64-bit lengths (over 64 KiB).
const SIZES = [0, 1, 125, 126, 1000, 65535, 65536, 100 * 1024 + 3];

// A peer wraps one client connection: its messages queue up until read,
// and its 'close' and 'error' events are recorded.
class Peer {
  static open(url, opts = {}) {
    const { protocols, ...options } = opts;
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, protocols || [], { handshakeTimeout: STEP_MS, ...options });
      const peer = new Peer(ws);
      ws.once('upgrade', (res) => {
        peer.response = {
          protocol: res.headers['sec-websocket-protocol'] || '',
          extensions: res.headers['sec-websocket-extensions'] || '',
        };
      });
      ws.once('open', () => resolve(peer));
      ws.once('error', reject);
      ws.once('unexpected-response', (req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
  }

  constructor(ws) {
    this.ws = ws;
    this.queue = [];
    this.waiters = [];
    this.errors = [];
    this.pings = [];
    ws.on('message', (data, isBinary) => {
      const m = { data: Buffer.isBuffer(data) ? data : Buffer.concat(data), isBinary };
      const w = this.waiters.shift();
      if (w) w(m);
      else this.queue.push(m);
    });
    ws.on('ping', (data) => this.pings.push(data));
    ws.on('error', (err) => this.errors.push(err.message));
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    });
  }

  next() {
    const m = this.queue.shift();
    if (m) return Promise.resolve(m);
    return timeout(new Promise((resolve) => this.waiters.push(resolve)), 'waiting for a message');
  }

  // raw writes bytes to the socket under ws, bypassing its framing.
  raw(bytes) {
    this.ws._socket.write(Buffer.from(bytes));
  }

  close(...args) {
    this.ws.close(...args);
    return timeout(this.closed, 'waiting for the close');
  }
}

function timeout(p, what, ms = STEP_MS) {
  let t;
  return Promise.race([
    p,
    new Promise((_, reject) => {
      t = setTimeout(() => reject(new Error(`timed out ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

// payload returns size bytes for a text (valid UTF-8, with multi-byte
// characters, cut on a character boundary) or binary (random) message.
function payload(binary, size) {
  if (binary) return crypto.randomBytes(size);
  const unit = 'wsbench é ✓ 🚀 ';
  const b = Buffer.from(unit.repeat(Math.ceil(size / Buffer.byteLength(unit)) + 1));
  let end = size;
  // b[end] is the first byte cut off: a continuation byte (10xxxxxx) means
  // its character started before end.
  while (end > 0 && (b[end] & 0xc0) === 0x80) end--;
  return b.subarray(0, end).toString('utf8') + 'x'.repeat(size - end);
}

function same(m, binary, sent) {
  const want = Buffer.isBuffer(sent) ? sent : Buffer.from(sent, 'utf8');
  return m.isBinary === binary && m.data.equals(want);
}

// step runs fn, recording its result or its error under name.
async function step(out, name, fn) {
  try {
    out[name] = await timeout(fn(), name, 3 * STEP_MS);
  } catch (err) {
    out[name] = { error: err.message };
  }
}

// echoSuite: handshake (subprotocol, extensions), text and binary echoes at
// every size, fragmented messages, a client ping, and a 1000 close.
async function echoSuite(url, perMessageDeflate) {
  const p = await Peer.open(url, { protocols: ['nope', 'chat'], perMessageDeflate });
  const r = {
    protocol: p.ws.protocol,
    extensions: p.ws.extensions,
    responseExtensions: p.response.extensions,
    echoes: [],
  };
  for (const size of SIZES) {
    for (const binary of [false, true]) {
      const sent = payload(binary, size);
      p.ws.send(sent, { binary });
      const m = await p.next();
      r.echoes.push({ binary, size, ok: same(m, binary, sent), gotBinary: m.isBinary, gotSize: m.data.length });
    }
  }
  // Fragmented: text in three frames, binary in three frames over 64 KiB,
  // and a two-byte character split between two frames.
  p.ws.send('Hel', { fin: false });
  p.ws.send('lo, ', { fin: false });
  p.ws.send('world', { fin: true });
  const parts = [crypto.randomBytes(40000), crypto.randomBytes(40000), crypto.randomBytes(40000)];
  parts.forEach((b, i) => p.ws.send(b, { binary: true, fin: i === parts.length - 1 }));
  p.ws.send(Buffer.from([0xc3]), { binary: false, fin: false });
  p.ws.send(Buffer.from([0xa9]), { binary: false, fin: true });
  r.fragmented = [
    same(await p.next(), false, 'Hello, world'),
    same(await p.next(), true, Buffer.concat(parts)),
    same(await p.next(), false, 'é'),
  ];
  // A ping from the client is answered with its payload.
  r.clientPing = await timeout(new Promise((resolve) => {
    p.ws.once('pong', (data) => resolve(data.toString()));
    p.ws.ping('node-ping');
  }), 'waiting for the pong');
  r.close = await p.close(1000, 'bye');
  r.errors = p.errors;
  return r;
}

// subprotocols: what ws makes of the server's choice.
async function subprotocols(url) {
  const r = {};
  for (const [name, protocols] of [['preferred', ['chat', 'wsbench.echo']], ['none', []], ['unknown', ['mqtt']]]) {
    try {
      const p = await Peer.open(url, { protocols, perMessageDeflate: false });
      r[name] = { protocol: p.ws.protocol, responseProtocol: p.response.protocol };
      await p.close(1000);
    } catch (err) {
      r[name] = { error: err.message };
    }
  }
  return r;
}

// pings: the server pings every PingInterval; ws answers each with a pong
// of the same payload (autoPong). Close after four.
async function pings(url) {
  const p = await Peer.open(url, { perMessageDeflate: false });
  await timeout(new Promise((resolve) => {
    const check = () => (p.pings.length >= 4 ? resolve() : setTimeout(check, 5));
    check();
  }), 'waiting for 4 pings');
  const r = { pings: p.pings.length, payloadLengths: p.pings.map((d) => d.length) };
  r.close = await p.close(1000);
  return r;
}

// closes: client-initiated closes, each echoed by the server.
async function closes(url) {
  const r = {};
  for (const [name, args] of [
    ['1000', [1000, 'bye']],
    ['4000', [4000, 'custom reason']],
    ['4999', [4999, 'ünïcödé reason']],
    ['empty', []],
  ]) {
    try {
      const p = await Peer.open(url, { perMessageDeflate: false });
      r[name] = await p.close(...args);
    } catch (err) {
      r[name] = { error: err.message };
    }
  }
  return r;
}

// idle: a client that sends nothing is closed by the server with 1001.
async function idle(url) {
  const p = await Peer.open(url, { perMessageDeflate: false });
  return timeout(p.closed, 'waiting for the idle close');
}

// maskedFrame builds a client frame by hand: first byte b0 (FIN, RSV,
// opcode), masked payload.
function maskedFrame(b0, data) {
  const payload = Buffer.from(data);
  if (payload.length > 125) throw new Error('maskedFrame: short frames only');
  const mask = crypto.randomBytes(4);
  const masked = Buffer.from(payload.map((x, i) => x ^ mask[i % 4]));
  return Buffer.concat([Buffer.from([b0, 0x80 | payload.length]), mask, masked]);
}

// violations: each opens its own connection, breaks one rule and records
// the code of the 'close' event the server's close frame causes.
async function violations(url, maxMessage) {
  const noDeflate = { perMessageDeflate: false };
  const deflate = { perMessageDeflate: { threshold: 0 } };
  const cases = {
    // An unmasked text frame "hi".
    unmasked: [noDeflate, (p) => p.raw([0x81, 0x02, 0x68, 0x69])],
    // RSV1 when permessage-deflate was not negotiated.
    rsv1NotNegotiated: [noDeflate, (p) => p.raw(maskedFrame(0xc1, 'x'))],
    // RSV1 on a continuation frame of a deflate connection.
    rsv1Continuation: [deflate, (p) => p.raw(Buffer.concat([maskedFrame(0x01, 'a'), maskedFrame(0xc0, 'b')]))],
    // RSV1 on a ping of a deflate connection.
    rsv1Ping: [deflate, (p) => p.raw(maskedFrame(0xc9, ''))],
    // A reserved opcode.
    reservedOpcode: [noDeflate, (p) => p.raw(maskedFrame(0x83, 'x'))],
    // Text that is not UTF-8 (ws sends a Buffer as text unchecked).
    invalidUTF8: [noDeflate, (p) => p.ws.send(Buffer.from([0x61, 0xff, 0xfe]), { binary: false })],
    // The same, compressed by ws.
    invalidUTF8Compressed: [deflate, (p) => p.ws.send(Buffer.from([0x61, 0xff, 0xfe]), { binary: false })],
    // RSV1 with a payload that is not DEFLATE data.
    corruptDeflate: [deflate, (p) => p.raw(maskedFrame(0xc2, [0xff, 0xff, 0xff]))],
    // One byte over MaxMessage.
    tooBig: [noDeflate, (p) => p.ws.send(Buffer.alloc(maxMessage + 1), { binary: true })],
    // Fragments adding up to more than MaxMessage.
    tooBigFragmented: [noDeflate, (p) => {
      p.ws.send(Buffer.alloc(maxMessage / 2 + 1), { binary: true, fin: false });
      p.ws.send(Buffer.alloc(maxMessage / 2 + 1), { binary: true, fin: true });
    }],
    // A decompression bomb: 16 MiB of zeros, a few KiB compressed.
    bomb: [deflate, (p) => p.ws.send(Buffer.alloc(16 << 20), { binary: true })],
  };
  const r = {};
  for (const [name, [opts, act]] of Object.entries(cases)) {
    try {
      const p = await Peer.open(url, opts);
      act(p);
      r[name] = { ...(await timeout(p.closed, `waiting for the close after ${name}`)), extensions: p.ws.extensions };
    } catch (err) {
      r[name] = { error: err.message };
    }
  }
  return r;
}

async function main() {
  const out = {};
  await step(out, 'deflate', () => echoSuite(cfg.deflate, { threshold: 0 }));
  await step(out, 'plainClient', () => echoSuite(cfg.plainClient, false));
  await step(out, 'noDeflate', () => echoSuite(cfg.noDeflate, { threshold: 0 }));
  await step(out, 'subprotocols', () => subprotocols(cfg.subprotocols));
  await step(out, 'pings', () => pings(cfg.ping));
  await step(out, 'closes', () => closes(cfg.close));
  await step(out, 'idle', () => idle(cfg.idle));
  await step(out, 'violations', () => violations(cfg.violations, cfg.maxMessage));
  process.stdout.write(`RESULT ${JSON.stringify(out)}\n`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
