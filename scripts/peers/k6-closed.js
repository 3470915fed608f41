// k6 side of the closed-100c case of scripts/bench-peers.sh: VUS virtual
// users (default 100), one WebSocket each (k6/websockets, the stable name of
// k6/experimental/websockets), each sending a 64-byte text message when the
// socket opens and again on every message received (one message in flight per
// connection), for DURATION (default 10s). Then it stops sending, waits 500 ms
// (so that k6 is still running, idle, when the window ends) and closes. The
// counter "echoes" counts every message received. Each VU logs, through
// console.log, when its socket opened and when it stopped sending
// (Date.now(), ms), so that the script running k6 can take k6's CPU over that
// window only.
//
//   k6 run -e URL=ws://127.0.0.1:PORT/ -e DURATION=10s scripts/peers/k6-closed.js
import { WebSocket } from 'k6/websockets';
import { Counter } from 'k6/metrics';
import { ms, onePerVU, sendingWindow } from './k6-common.js';

const echoes = new Counter('echoes');
const VUS = parseInt(__ENV.VUS || '100', 10);
const DURATION = __ENV.DURATION || '10s';
const PAYLOAD = 'x'.repeat(64);

export const options = onePerVU('closed', VUS, ms(DURATION), 60000);

export default function () {
  const ws = new WebSocket(__ENV.URL);
  let sending = true;
  ws.onopen = () => {
    sendingWindow(ws, ms(DURATION), () => {
      sending = false;
    });
    ws.send(PAYLOAD);
  };
  ws.onmessage = () => {
    echoes.add(1);
    if (sending) ws.send(PAYLOAD);
  };
  ws.onerror = (e) => console.error(`ws error: ${e.error}`);
}
