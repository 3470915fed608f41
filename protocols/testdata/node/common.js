'use strict';
// Shared by the launchers: flags, and the line the Go tests wait for.
//
// Every launcher takes:
//   --port N      loopback port to listen on (0 = a free one; required)
//   --delay MS    server-side delay of every method reply / ack (default 0)
//   --rate HZ     messages per second of every subscription / stream (default 10)
//   --count N     messages per subscription, then it completes (0 = no end; default 0)
// and prints "listening on 127.0.0.1:PORT" on stdout once it accepts
// connections. It exits on SIGTERM or SIGINT, or when stdin closes (so a
// test that dies leaves no server behind).

function parseArgs(argv) {
  const opts = { port: null, delay: 0, rate: 10, count: 0 };
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].replace(/^--/, '');
    const v = argv[++i];
    if (!(name in opts) || v === undefined || !/^\d+(\.\d+)?$/.test(v)) {
      console.error(`usage: --port N [--delay MS] [--rate HZ] [--count N]; bad: ${argv[i - 1]} ${v ?? ''}`);
      process.exit(2);
    }
    opts[name] = Number(v);
  }
  if (opts.port === null) {
    console.error('usage: --port N is required');
    process.exit(2);
  }
  if (opts.rate <= 0) {
    console.error('usage: --rate must be above 0');
    process.exit(2);
  }
  return opts;
}

function ready(port) {
  process.stdout.write(`listening on 127.0.0.1:${port}\n`);
}

function exitWithParent() {
  const stop = () => process.exit(0);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
}

// The wall clock in ns (a JSON number: exact to about 256 ns).
const nowNs = () => Math.round((performance.timeOrigin + performance.now()) * 1e6);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A stream of n messages (n = 0: until stop) every 1000/rate ms, each
// {seq, sent_ns}: seq counts from 1, sent_ns is the server's wall clock in ns.
function tick(opts, send, done) {
  let seq = 0;
  const t = setInterval(() => {
    seq++;
    send({ seq, sent_ns: nowNs() });
    if (opts.count > 0 && seq >= opts.count) {
      clearInterval(t);
      if (done) done();
    }
  }, 1000 / opts.rate);
  return () => clearInterval(t);
}

module.exports = { parseArgs, ready, exitWithParent, sleep, tick, nowNs };
