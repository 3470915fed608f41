// Package protocols is where the protocol presets of issue 15 (jsonrpc,
// graphql-ws, socketio, stomp, mqtt) will live. For now it holds only the
// tests that start the third-party servers the presets are checked against
// (testdata/node, installed by .ci/run with npm ci; RabbitMQ's Web-STOMP
// from Debian's rabbitmq-server, testdata/rabbitmq) and check, with a
// minimal hand-written exchange, that each answers as its protocol says.
package protocols
