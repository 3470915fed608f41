'use strict';
// Socket.IO 4 (Engine.IO v4, Socket.IO protocol v5), WebSocket transport
// at /socket.io/?EIO=4&transport=websocket. Server pings every
// --ping-interval ms (default 25000, Socket.IO's own) and closes a
// connection whose pong has not come --ping-timeout ms later (default
// 20000).
//   event "echo" with an ack   -> ack with the same arguments, after --delay ms
//   event "subscribe"          -> event "tick" {seq, sent_ns} --rate times a second
//                                 (--count of them)
const { Server } = require('socket.io');
const { parseArgs, ready, exitWithParent, sleep, tick } = require('./common');

const argv = process.argv.slice(2);
function takeFlag(name, def) {
  const i = argv.indexOf(name);
  if (i < 0) return def;
  const v = Number(argv[i + 1]);
  argv.splice(i, 2);
  return v;
}
const pingInterval = takeFlag('--ping-interval', 25000);
const pingTimeout = takeFlag('--ping-timeout', 20000);
const opts = parseArgs(argv);
exitWithParent();

const io = new Server({ transports: ['websocket'], pingInterval, pingTimeout });
io.on('connection', (socket) => {
  socket.on('echo', async (...args) => {
    const ack = typeof args[args.length - 1] === 'function' ? args.pop() : null;
    await sleep(opts.delay);
    if (ack) ack(...args);
  });
  socket.on('subscribe', () => {
    const stop = tick(opts, (m) => socket.emit('tick', m));
    socket.on('disconnect', stop);
  });
});
const http = require('http').createServer();
io.attach(http);
http.listen(opts.port, '127.0.0.1', () => ready(http.address().port));
