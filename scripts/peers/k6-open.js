// k6 side of the open-5k-100c case of scripts/bench-peers.sh: VUS virtual
// users (default 100), one WebSocket each (k6/websockets), each sending a
// 64-byte text message every INTERVAL (default 20ms, so 100 x 50/s = 5,000
// messages/s in total) with setInterval, whether or not the echoes came back,
// for DURATION (default 10s). Then it stops sending, waits 500 ms for the last
// echoes (and so that k6 is still running when the window ends) and closes.
// The counter "echoes" counts every message received (k6's own ws_msgs_sent
// counts the sends, plus each socket's close frame). Each VU logs, through
// console.log, when its socket opened and when it stopped sending
// (Date.now(), ms), so that the script running k6 can take k6's CPU over that
// window only.
//
//   k6 run -e URL=ws://127.0.0.1:PORT/ -e DURATION=10s scripts/peers/k6-open.js
import { WebSocket } from 'k6/websockets';
import { Counter } from 'k6/metrics';
import { ms, onePerVU, sendingWindow } from './k6-common.js';

const echoes = new Counter('echoes');
const VUS = parseInt(__ENV.VUS || '100', 10);
const DURATION = __ENV.DURATION || '10s';
const INTERVAL = __ENV.INTERVAL || '20ms';
const PAYLOAD = 'x'.repeat(64);

export const options = onePerVU('open', VUS, ms(DURATION), 60000);

export default function () {
  const ws = new WebSocket(__ENV.URL);
  ws.onopen = () => {
    const tick = setInterval(() => {
      ws.send(PAYLOAD);
    }, ms(INTERVAL));
    sendingWindow(ws, ms(DURATION), () => clearInterval(tick));
  };
  ws.onmessage = () => {
    echoes.add(1);
  };
  ws.onerror = (e) => console.error(`ws error: ${e.error}`);
}
