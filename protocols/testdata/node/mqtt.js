'use strict';
// MQTT 3.1.1 over WebSocket (subprotocol mqtt, binary frames): the aedes
// broker on ws. The broker itself publishes {seq, sent_ns} to topic "ticks"
// --rate times a second (QoS 0; --count of them); it adds no delay of its
// own (--delay is accepted and ignored: a broker has no methods).
const { WebSocketServer, createWebSocketStream } = require('ws');
const { parseArgs, ready, exitWithParent, tick } = require('./common');

const opts = parseArgs(process.argv.slice(2));
exitWithParent();

(async () => {
  const { Aedes } = require('aedes');
  const broker = await Aedes.createBroker();
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: opts.port,
    handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : false),
  });
  wss.on('connection', (ws) => broker.handle(createWebSocketStream(ws)));
  tick(opts, (m) => broker.publish({ topic: 'ticks', payload: Buffer.from(JSON.stringify(m)), qos: 0, retain: false }, () => {}));
  wss.on('listening', () => ready(wss.address().port));
})();
