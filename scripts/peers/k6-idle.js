// k6 side of the idle-rss case of scripts/bench-peers.sh: VUS virtual users
// (default 2000), each opening one WebSocket (k6/websockets) and holding it
// open, sending nothing, for DURATION (default 10s), then closing it. The
// counter "opened" counts the sockets that opened, so the script running k6
// can check that all VUS connections were held. Its peak RSS (VmHWM) divided
// among the connections is the figure; run with VUS=1 for the baseline.
//
//   k6 run -e URL=ws://127.0.0.1:PORT/ -e VUS=2000 -e DURATION=10s scripts/peers/k6-idle.js
import { WebSocket } from 'k6/websockets';
import { Counter } from 'k6/metrics';
import { ms, onePerVU } from './k6-common.js';

const opened = new Counter('opened');
const VUS = parseInt(__ENV.VUS || '2000', 10);
const DURATION = __ENV.DURATION || '10s';

export const options = onePerVU('idle', VUS, ms(DURATION), 120000);

export default function () {
  const ws = new WebSocket(__ENV.URL);
  ws.onopen = () => {
    opened.add(1);
    setTimeout(() => ws.close(), ms(DURATION));
  };
  ws.onerror = (e) => console.error(`ws error: ${e.error}`);
}
