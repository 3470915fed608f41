// Package flow holds the generic, sans-IO pieces of wsbench's protocol
// workloads: what to send (Template), how to recognise and read what
// arrives (Matcher), and how a protocol is spoken (Protocol: the steps of
// its opening, its requests and how their replies are correlated, its
// server-pushed streams, its heartbeats) and scripted (Step). The driver's
// workloads put them on the wire; scenario compiles them from files and
// flags; package protocols fills them in for the presets (jsonrpc,
// graphql-ws, socketio, stomp, mqtt). Nothing here does I/O or keeps time:
// the caller passes the bytes and the clock, so every piece is tested and
// fuzzed without a socket.
//
// Hot-path pieces (Matcher.Value on a JSON path or a byte range, Key,
// Template.Append) allocate nothing: JSON is scanned in place with
// github.com/tidwall/gjson over an unsafe string view of the message.
package flow
