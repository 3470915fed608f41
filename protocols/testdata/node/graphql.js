'use strict';
// GraphQL over WebSocket, the graphql-transport-ws protocol (graphql-ws on ws,
// subprotocol graphql-transport-ws).
//   query { hello }                 -> {"data":{"hello":"world"}}, after --delay ms
//   query { slow(ms: 50) }          -> {"data":{"slow":50}}, after that many ms
//   subscription { ticks { seq sentNs } }
//                                   -> --rate "next" messages a second
//                                      (--count of them, then "complete")
const { WebSocketServer } = require('ws');
const { useServer } = require('graphql-ws/use/ws');
const {
  GraphQLSchema, GraphQLObjectType, GraphQLString, GraphQLInt, GraphQLFloat, GraphQLNonNull,
} = require('graphql');
const { parseArgs, ready, exitWithParent, sleep } = require('./common');

const opts = parseArgs(process.argv.slice(2));
exitWithParent();

const Tick = new GraphQLObjectType({
  name: 'Tick',
  fields: { seq: { type: GraphQLInt }, sentNs: { type: GraphQLFloat } },
});

async function* ticks() {
  const period = 1000 / opts.rate;
  const start = performance.now();
  for (let seq = 1; opts.count === 0 || seq <= opts.count; seq++) {
    const wait = start + seq * period - performance.now();
    if (wait > 0) await sleep(wait);
    yield { ticks: { seq, sentNs: Math.round((performance.timeOrigin + performance.now()) * 1e6) } };
  }
}

const schema = new GraphQLSchema({
  query: new GraphQLObjectType({
    name: 'Query',
    fields: {
      hello: { type: GraphQLString, resolve: async () => { await sleep(opts.delay); return 'world'; } },
      slow: {
        type: GraphQLInt,
        args: { ms: { type: new GraphQLNonNull(GraphQLInt) } },
        resolve: async (_, { ms }) => { await sleep(ms); return ms; },
      },
    },
  }),
  subscription: new GraphQLObjectType({
    name: 'Subscription',
    fields: { ticks: { type: Tick, subscribe: ticks } },
  }),
});

const wss = new WebSocketServer({ host: '127.0.0.1', port: opts.port });
useServer({ schema }, wss);
wss.on('listening', () => ready(wss.address().port));
