package protocols_test

import (
	"fmt"

	"github.com/wsbench/wsbench/internal/flow"
	"github.com/wsbench/wsbench/protocols"
)

// The jsonrpc preset calling eth_getBalance: its request as connection 3
// sends its 7th, and how a reply finds it.
func ExamplePreset() {
	p, err := protocols.Preset("jsonrpc", map[string]string{"method": "eth_getBalance", "params": `["0xabc","latest"]`})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(p.Request.Template.Append(nil, &flow.Values{Conn: 3, ID: 7})))
	reply := []byte(`{"jsonrpc":"2.0","id":7,"result":"0x0"}`)
	for i := range p.Request.Keys {
		if v, ok := p.Request.Keys[i].Value(reply); ok {
			id, _ := p.Request.Keys[i].Key(v)
			fmt.Println("answers request", id)
		}
	}
	_, err = protocols.Preset("mqtt", map[string]string{"qos": "2"})
	fmt.Println(err)
	// Output:
	// {"jsonrpc":"2.0","id":7,"method":"eth_getBalance","params":["0xabc","latest"]}
	// answers request 7
	// qos: want 0 or 1, got "2"
}
