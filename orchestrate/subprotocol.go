package orchestrate

import (
	"strings"

	"github.com/wsbench/wsbench/scenario"
)

// SubprotocolReason is what to add to the line of a run whose connections
// failed because the server picked none of the subprotocols they asked
// for (handshake_no_subprotocol): which those were, and the preset that
// required its own ("" when no connection failed so). A server that does
// not speak a preset's protocol (MQTT's mqtt, STOMP's v12.stomp) is told
// apart from one that cannot be reached.
func SubprotocolReason(c *scenario.Compiled, errs map[string]int64) string {
	if c == nil || errs["handshake_no_subprotocol"] == 0 {
		return ""
	}
	offered := c.Spec.Subprotocols
	why := ""
	if p := c.Protocol; p != nil && p.Subprotocol != "" {
		offered = append([]string{p.Subprotocol}, offered...)
		if c.Spec.Protocol != "" {
			why = ", which the " + c.Spec.Protocol + " preset speaks"
		}
	}
	if len(offered) == 0 {
		return ""
	}
	return "; the server speaks none of the subprotocols asked for (" + strings.Join(scenario.RedactSubprotocols(offered, c.Spec.SecretParams), ", ") + why + ")"
}
