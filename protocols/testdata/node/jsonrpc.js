'use strict';
// JSON-RPC 2.0 over WebSocket: rpc-websockets' Server (on ws).
//   echo(params)  -> params, after --delay ms (replies to concurrent calls
//                    on one connection go out as each delay ends)
//   sleep([ms])   -> "slept", after ms (per call: out-of-order replies)
//   fail()        -> error {code: -32001, message: "fail"}, after --delay ms
//   withhold()    -> never answers
//   subscribe with {"method":"rpc.on","params":["tick"]}: a "tick"
//   notification {"notification":"tick","params":{seq,sent_ns}} --rate times
//   a second to every subscriber.
const { Server } = require('rpc-websockets');
const { parseArgs, ready, exitWithParent, sleep, tick } = require('./common');

const opts = parseArgs(process.argv.slice(2));
exitWithParent();
const server = new Server({ host: '127.0.0.1', port: opts.port });
server.register('echo', async (params) => { await sleep(opts.delay); return params; });
server.register('sleep', async (params) => { await sleep(Number(params && params[0]) || 0); return 'slept'; });
server.register('fail', async () => {
  await sleep(opts.delay);
  // A plain object, not an Error: rpc-websockets sends it as the error
  // member unchanged (an Error would become code -32000).
  throw { code: -32001, message: 'fail' };
});
server.register('withhold', () => new Promise(() => {}));
server.event('tick');
tick(opts, (m) => server.emit('tick', m));
server.on('listening', () => ready(server.wss.address().port));
