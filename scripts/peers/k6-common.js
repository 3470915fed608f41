// Shared by the k6 scripts of scripts/bench-peers.sh.
import exec from 'k6/execution';

// ms parses a Go-style duration such as "10s", "500ms" or "1m30s" into
// milliseconds.
export function ms(d) {
  const units = { ms: 1, s: 1000, m: 60000, h: 3600000 };
  let total = 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let m;
  let seen = '';
  while ((m = re.exec(d)) !== null) {
    total += parseFloat(m[1]) * units[m[2]];
    seen += m[0];
  }
  if (seen !== d || seen === '') throw new Error(`bad duration ${d}`);
  return total;
}

// onePerVU is the options of a run where each of vus VUs runs the default
// function once, holding one socket: a scenario named name, given graceMs
// beyond durationMs before k6 cuts it short.
export function onePerVU(name, vus, durationMs, graceMs) {
  return {
    scenarios: {
      [name]: {
        executor: 'per-vu-iterations',
        vus: vus,
        iterations: 1,
        maxDuration: `${durationMs + graceMs}ms`,
      },
    },
  };
}

// sendingWindow brackets a VU's sending: it logs "window open VU MS" now and,
// after durationMs, runs stop and logs "window close VU MS" (Date.now(), ms;
// scripts/bench-peers.sh takes k6's CPU over the span of these lines), then
// closes ws 500 ms later, so that k6 is still running, idle, when the window
// ends and the last echoes can come back.
export function sendingWindow(ws, durationMs, stop) {
  console.log(`window open ${exec.vu.idInTest} ${Date.now()}`);
  setTimeout(() => {
    stop();
    console.log(`window close ${exec.vu.idInTest} ${Date.now()}`);
    setTimeout(() => ws.close(), 500);
  }, durationMs);
}
