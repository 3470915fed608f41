// Shared by the k6 scripts of scripts/bench-peers.sh: parses a Go-style
// duration such as "10s", "500ms" or "1m30s" into milliseconds.
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
