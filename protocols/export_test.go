package protocols

import "testing"

// For the tests of package protocols_test, which run the presets through
// scenario and driver (scenario imports this package, so those tests
// cannot be in it).
var (
	StartPeer = startPeer
	// AfterRabbitMQ are run as subtests of TestPeerSTOMPRabbitMQ with the
	// broker's address: one broker start (4–9 s) serves them all.
	AfterRabbitMQ []func(t *testing.T, addr string)
)
