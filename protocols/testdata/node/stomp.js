'use strict';
// STOMP over WebSocket at path /stomp: stomp-broker-js (a STOMP 1.1 broker
// on ws). The broker itself sends {seq, sent_ns} to destination
// "/topic/ticks" --rate times a second (--count of them); it adds no delay
// of its own (--delay is accepted and ignored: a broker has no methods).
// It does not deliver a client's SEND to that client's own subscriptions.
const http = require('http');
const StompServer = require('stomp-broker-js');
const { parseArgs, ready, exitWithParent, tick } = require('./common');

const opts = parseArgs(process.argv.slice(2));
exitWithParent();

const server = http.createServer();
const broker = new StompServer({ server, path: '/stomp', heartbeat: [0, 0] });
// stomp-broker-js 1.3.0 drops the callback that would answer a SEND's
// receipt header (its withMiddleware passes none to onSend), so SEND never
// gets its RECEIPT. This middleware sends it once the broker has delivered
// the message to the subscribers, as a STOMP 1.1 broker must.
const stompUtils = require('stomp-broker-js/lib/stomp-utils');
broker.addMiddleware('send', (socket, args, next) => {
  const res = next();
  const receipt = args.frame.headers.receipt;
  if (receipt !== undefined) stompUtils.sendCommand(socket, 'RECEIPT', { 'receipt-id': receipt });
  return res;
});
tick(opts, (m) => broker.send('/topic/ticks', { 'content-type': 'application/json' }, JSON.stringify(m)));
server.listen(opts.port, '127.0.0.1', () => ready(server.address().port));
