'use strict';
// STOMP over WebSocket at path /stomp: stomp-broker-js (a STOMP 1.1 broker
// on ws). The broker itself sends {seq, sent_ns} to destination
// "/topic/ticks" --rate times a second (--count of them); it adds no delay
// of its own (--delay is accepted and ignored: a broker has no methods).
const http = require('http');
const StompServer = require('stomp-broker-js');
const { parseArgs, ready, exitWithParent, tick } = require('./common');

const opts = parseArgs(process.argv.slice(2));
exitWithParent();

const server = http.createServer();
const broker = new StompServer({ server, path: '/stomp', heartbeat: [0, 0] });
tick(opts, (m) => broker.send('/topic/ticks', { 'content-type': 'application/json' }, JSON.stringify(m)));
server.listen(opts.port, '127.0.0.1', () => ready(server.address().port));
