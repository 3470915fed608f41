// Package kit is the home of the server comparison kit: eight WebSocket
// servers (six Go libraries in the separate module kit/servers, Node's ws and
// Bun in kit/servers/node) and two Debian proxies in front of one of them
// (nginx and HAProxy → gorilla), all speaking one small protocol, so that
// wsbench can measure them side by side. kit/README.md describes the
// protocol and how to build, run, compare and add a server.
//
// kit/compare is the command that compares them (scripts/compare-servers.sh
// runs it): a conformance smoke check, then the case matrix against fresh
// server processes on their own CPUs, merged into summary.md, index.html and
// env.json beside the raw results.
//
// The package holds no code: its test (kit_test.go) builds every server,
// starts each on a loopback port and checks that it speaks the kit protocol
// (echo, broadcast, ping, close, compression off unless asked), then runs the
// real wsbench against each one's /echo: the conformance smoke check a server
// passes before it is measured. TestCompareQuick runs kit/compare end to end
// on a few tiny cases.
package kit
