// k6 side of scripts/bench-rpc.sh: the JSON-RPC 2.0 flow of wsbench's
// `request` kind, written the way a k6 user writes it. VUS virtual users
// (default 100), one WebSocket each (k6/websockets), each sending
//
//   {"jsonrpc":"2.0","id":N,"method":"echo","params":["xxxxxxxxxxxxxxxx"]}
//
// with N counting up from 1 per connection, and taking each reply whose "id"
// names a request in flight as its answer (JSON.parse, then a Map from id to
// send time), its round trip into the Trend "rpc_rtt" (ms): what wsbench
// measures per request too. Replies with no request in flight count as
// "unsolicited", error replies (an "error" member) as "rpc_errors".
//
// MODE=closed (the default): one request in flight per connection, the next
// sent when the reply with its id arrives. MODE=open: a request every
// INTERVAL (default 20ms) per connection, with setInterval, whether or not
// the replies came back (many in flight, answered in any order).
//
// For DURATION (default 10s); then it stops sending, waits 500 ms for the
// last replies (k6 still running, idle, when the window ends) and closes.
// Counters: "sent", "answered". Each VU logs when its socket opened and when
// it stopped sending (Date.now(), ms) so that the script running k6 can take
// k6's CPU over that window only (k6-common.js's sendingWindow).
//
// Run against the bundled server in rpc mode (`wsbench serve --mode rpc`):
//   k6 run -e URL=ws://127.0.0.1:PORT/ -e MODE=open -e INTERVAL=20ms scripts/peers/k6-jsonrpc.js
import { WebSocket } from 'k6/websockets';
import { Counter, Trend } from 'k6/metrics';
import { ms, onePerVU, sendingWindow } from './k6-common.js';

const sent = new Counter('sent');
const answered = new Counter('answered');
const unsolicited = new Counter('unsolicited');
const rpcErrors = new Counter('rpc_errors');
const rtt = new Trend('rpc_rtt', true);
const VUS = parseInt(__ENV.VUS || '100', 10);
const DURATION = __ENV.DURATION || '10s';
const MODE = __ENV.MODE || 'closed';
const INTERVAL = __ENV.INTERVAL || '20ms';
const PARAMS = JSON.stringify(['x'.repeat(parseInt(__ENV.PARAM_BYTES || '16', 10))]);

if (MODE !== 'closed' && MODE !== 'open') throw new Error(`MODE=${MODE}: want closed or open`);

export const options = onePerVU(`jsonrpc-${MODE}`, VUS, ms(DURATION), 60000);

export default function () {
  const ws = new WebSocket(__ENV.URL);
  const inFlight = new Map(); // id → send time (ms)
  let next = 1;
  let sending = true;
  const request = () => {
    const id = next++;
    inFlight.set(id, Date.now());
    ws.send(`{"jsonrpc":"2.0","id":${id},"method":"echo","params":${PARAMS}}`);
    sent.add(1);
  };
  ws.onopen = () => {
    if (MODE === 'open') {
      const tick = setInterval(request, ms(INTERVAL));
      sendingWindow(ws, ms(DURATION), () => clearInterval(tick));
    } else {
      sendingWindow(ws, ms(DURATION), () => {
        sending = false;
      });
      request();
    }
  };
  ws.onmessage = (e) => {
    const msg = JSON.parse(e.data);
    const t0 = inFlight.get(msg.id);
    if (t0 === undefined) {
      unsolicited.add(1);
      return;
    }
    inFlight.delete(msg.id);
    if (msg.error !== undefined) rpcErrors.add(1);
    answered.add(1);
    rtt.add(Date.now() - t0);
    if (MODE === 'closed' && sending) request();
  };
  ws.onerror = (e) => console.error(`ws error: ${e.error}`);
}
