// Package kit is the home of the server comparison kit: eight WebSocket
// servers (six Go libraries in the separate module kit/servers, Node's ws and
// Bun in kit/servers/node) that speak one small protocol, so that wsbench can
// measure them side by side. kit/README.md describes the protocol and how to
// build, run and add a server.
//
// The package holds no code: its test (kit_test.go) builds every server,
// starts each on a loopback port and checks that it speaks the kit protocol
// (echo, broadcast, ping, close, compression off unless asked), then runs the
// real wsbench against each one's /echo: the conformance smoke check a server
// passes before it is measured.
package kit
