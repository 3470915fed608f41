'use strict';

// The flags every kit server takes, parsed the same way for Node and Bun:
//   -addr HOST:PORT   address to listen on (port 0: the kernel picks one)
//   -deflate          negotiate permessage-deflate
// A bad flag prints one line naming it and exits with status 2.

const MAX_MESSAGE = 16 << 20; // the largest message every kit server accepts

function parseFlags(name, argv) {
  const flags = { host: '127.0.0.1', port: 0, deflate: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i].replace(/^--/, '-');
    if (arg === '-deflate') {
      flags.deflate = true;
    } else if (arg === '-addr' || arg.startsWith('-addr=')) {
      const addr = arg === '-addr' ? argv[++i] : arg.slice('-addr='.length);
      const colon = addr === undefined ? -1 : addr.lastIndexOf(':');
      const port = colon < 0 ? NaN : Number(addr.slice(colon + 1));
      if (!Number.isInteger(port) || port < 0 || port > 65535) {
        usage(name, `-addr: want HOST:PORT, got ${JSON.stringify(addr)}`);
      }
      flags.host = addr.slice(0, colon).replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
      flags.port = port;
    } else {
      usage(name, `unknown flag ${JSON.stringify(argv[i])}`);
    }
  }
  return flags;
}

function usage(name, msg) {
  process.stderr.write(`${name}: ${msg}\nusage: ${name} [-addr HOST:PORT] [-deflate]\n`);
  process.exit(2);
}

// formatAddr joins host and port the way Go's net.JoinHostPort does.
function formatAddr(host, port) {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

module.exports = { MAX_MESSAGE, parseFlags, formatAddr };
