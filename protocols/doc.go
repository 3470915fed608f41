// Package protocols holds wsbench's protocol presets: jsonrpc (JSON-RPC
// 2.0), graphql-ws (graphql-transport-ws), socketio (Socket.IO 4 over
// Engine.IO v4), stomp (STOMP 1.2) and mqtt (MQTT 3.1.1), each a
// flow.Protocol filled in from its options: the handshake's subprotocol,
// the opening exchange (connection_init and its ack, CONNECT and CONNACK,
// the namespace connect), the request and how its replies are correlated,
// the heartbeats (Rules, Every) and, where the protocol subscribes, the
// stream. They are thin layers over the generic pieces of internal/flow,
// not engines: the driver's protocol workloads run them as they run a
// Protocol a scenario file writes by hand, and a scenario may replace any
// part of a preset (scenario.Compile resolves protocol: and
// protocol_opts:).
//
//	p, err := protocols.Preset("mqtt", map[string]string{"qos": "0", "topic": "bench"})
//
// Options (see Options) have defaults; a problem with one is an
// OptionError naming it. Secret options (a STOMP passcode, an MQTT
// password, an authentication payload) are redacted where settings are
// written (Secret).
//
// The tests start third-party servers the presets are checked against
// (testdata/node, installed by .ci/run with npm ci; RabbitMQ's Web-STOMP
// from Debian's rabbitmq-server, testdata/rabbitmq): peers_test.go checks
// with a minimal hand-written exchange that each answers as its protocol
// says; speak_test.go speaks each preset to its server step by step, apart
// from the driver; run_test.go (package protocols_test: scenario imports
// this package) runs each preset through scenario.Compile and driver.Run
// against its server and checks the report against what the server is
// known to do (a delay, an error, a withheld reply, a count, a rate).
// Under CI=true none of them skips.
package protocols
