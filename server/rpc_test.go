package server

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

// TestAppendAnswer: ModeRPC's answer copies the request's id and params byte
// for byte, whatever else the request holds and wherever; an object without
// id gets none; anything but a JSON object gets a parse error.
func TestAppendAnswer(t *testing.T) {
	const parseError = `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}`
	for _, tc := range []struct{ req, want string }{
		{`{"jsonrpc":"2.0","id":7,"method":"x","params":[1,"a"]}`, `{"jsonrpc":"2.0","id":7,"result":[1,"a"]}`},
		{`{"params":{"k":{"n":[1,{"}":"]"}]}},"id":"s-1"}`, `{"jsonrpc":"2.0","id":"s-1","result":{"k":{"n":[1,{"}":"]"}]}}}`},
		{` { "id" : -1.5e3 , "method" : "x" } `, `{"jsonrpc":"2.0","id":-1.5e3,"result":null}`},
		{`{"method":"q\"id\":1","id":null}`, `{"jsonrpc":"2.0","id":null,"result":null}`},
		{`{"x":{"id":1},"id":2,"params":"p\\","params2":3}`, `{"jsonrpc":"2.0","id":2,"result":"p\\"}`},
		{`{"id":1,"id":2}`, `{"jsonrpc":"2.0","id":2,"result":null}`},
		{`{"id":true,"params":false}`, `{"jsonrpc":"2.0","id":true,"result":false}`},
		{`{"method":"notify","params":[]}`, ""},
		{`{}`, ""},
		{`[{"id":1}]`, parseError},
		{`{"id":1`, parseError},
		{`7`, parseError},
		{``, parseError},
	} {
		got, ok := appendAnswer([]byte("pre"), []byte(tc.req))
		if !bytes.HasPrefix(got, []byte("pre")) || string(got[3:]) != tc.want || ok != (tc.want != "") {
			t.Errorf("appendAnswer(%s) = %s, %v; want %s", tc.req, got[3:], ok, tc.want)
		}
	}
}

// TestAppendAnswerDoesNotAllocate: finding a request's id and params
// allocates nothing, and neither does answering it into a buffer with room.
// Under the race detector only the first is checked: json.Valid takes its
// scanner from a sync.Pool, which the race detector makes drop entries at
// random (make test runs -race; fuzz-smoke and go test without it check all).
func TestAppendAnswerDoesNotAllocate(t *testing.T) {
	req := []byte(`{"jsonrpc":"2.0","id":12345,"method":"getBlock","params":[{"n":1,"s":"a\"b"},true]}`)
	var n int
	if allocs := testing.AllocsPerRun(100, func() {
		id, params, _ := requestFields(req)
		n += len(id) + len(params)
	}); allocs != 0 {
		t.Errorf("%v allocations per requestFields, want 0", allocs)
	}
	if raceEnabled {
		return
	}
	dst := make([]byte, 0, 256)
	if allocs := testing.AllocsPerRun(100, func() { dst, _ = appendAnswer(dst[:0], req) }); allocs != 0 {
		t.Errorf("%v allocations per answer, want 0", allocs)
	}
}

// FuzzAppendAnswer: for any input, the answer agrees with encoding/json's
// reading of the request (id and params compared as JSON values), and is
// itself valid JSON.
func FuzzAppendAnswer(f *testing.F) {
	for _, s := range []string{`{"id":1,"params":[1]}`, `{"id":"a","x":{"id":2}}`, `{"params":{}}`, `[1]`, `{"id":1,"id":{"a":[]}}`, ` {"id" :"\u0041"} `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, req []byte) {
		got, ok := appendAnswer(nil, req)
		var obj map[string]json.RawMessage
		isObj := json.Valid(req) && json.Unmarshal(req, &obj) == nil && obj != nil
		if !ok {
			if !isObj || obj["id"] != nil {
				t.Fatalf("no answer to %q", req)
			}
			return
		}
		if !json.Valid(got) {
			t.Fatalf("answer %q to %q is not JSON", got, req)
		}
		var ans struct {
			ID     json.RawMessage `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  json.RawMessage `json:"error"`
		}
		json.Unmarshal(got, &ans)
		if !isObj {
			if ans.Error == nil {
				t.Fatalf("answer %q to non-object %q is no error", got, req)
			}
			return
		}
		same := func(a, b json.RawMessage) bool {
			var x, y any
			return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && jsonEqual(x, y)
		}
		params := obj["params"]
		if params == nil {
			params = json.RawMessage("null")
		}
		if !same(ans.ID, obj["id"]) || !same(ans.Result, params) {
			t.Fatalf("answer %q to %q: id or result differs from encoding/json's id %s params %s", got, req, obj["id"], params)
		}
	})
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// TestAppendPushMessage: the stream message is JSON with the seq and the
// send time in Unix ns.
func TestAppendPushMessage(t *testing.T) {
	at := time.Unix(1700000000, 123456789)
	got := string(appendPushMessage(nil, 42, at))
	if want := `{"seq":42,"sent_ns":1700000000123456789}`; got != want {
		t.Fatalf("appendPushMessage = %s, want %s", got, want)
	}
}

// TestConfigPushValidate: the push settings are checked and name their field.
func TestConfigPushValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg   Config
		field string
	}{
		{Config{Mode: ModePush, PushRate: -1}, "PushRate"},
		{Config{Mode: ModePush, PushRate: math.NaN()}, "PushRate"},
		{Config{Mode: ModePush, PushRate: 2e6}, "PushRate"},
		{Config{Mode: ModePush, PushCount: -1}, "PushCount"},
		{Config{Mode: ModePush, Delay: FixedDelay(time.Millisecond)}, "Delay"},
		{Config{Mode: ModePush, PushRate: 1000, PushCount: 5}, ""},
		{Config{Mode: ModeRPC, Delay: Delay{Dist: DelayExp, Mean: time.Millisecond}}, ""},
	} {
		err := tc.cfg.Validate()
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%+v: %v, want valid", tc.cfg, err)
		case tc.field != "" && (err == nil || !strings.Contains(err.Error(), "Config."+tc.field+":")):
			t.Errorf("%+v: %v, want an error naming %s", tc.cfg, err, tc.field)
		}
	}
	if c := DefaultConfig(); c.PushRate != DefaultPushRate {
		t.Errorf("DefaultConfig().PushRate = %v, want %v", c.PushRate, float64(DefaultPushRate))
	}
}

// BenchmarkAppendAnswer: ModeRPC's cost per request, a typical JSON-RPC call.
func BenchmarkAppendAnswer(b *testing.B) {
	req := []byte(`{"jsonrpc":"2.0","id":12345,"method":"eth_getBlockByNumber","params":["0x1b4",true]}`)
	dst := make([]byte, 0, 256)
	b.ReportAllocs()
	b.SetBytes(int64(len(req)))
	for b.Loop() {
		dst, _ = appendAnswer(dst[:0], req)
	}
}
