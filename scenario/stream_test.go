package scenario

import (
	"slices"
	"testing"
	"time"
)

func TestCompileStream(t *testing.T) {
	two := uint64(2)
	s := Default()
	s.Kind, s.Target = KindSubscribe, "ws://127.0.0.1:1/"
	s.Open = []StepSpec{{Send: `{"sub":{{conn}}}`}}
	s.Stream = &StreamSpec{Match: "$.type==tick", Seq: "$.n", Sent: "$.t", Unit: "ms", Stall: Duration(time.Second), SeqStart: &two}
	c, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	st := c.Protocol.Stream
	if st.Match.Src != "$.type==tick" || st.Seq.Src != "$.n" || st.Sent.Src != "$.t" || st.Unit != time.Millisecond || st.Stall != time.Second || !st.HasSeqStart || st.SeqStart != 2 {
		t.Errorf("stream %+v", st)
	}
	if len(c.Protocol.Open) != 1 || c.Protocol.Open[0].Send.Src != `{"sub":{{conn}}}` {
		t.Errorf("open %+v", c.Protocol.Open)
	}
	// A subscribe run without a stream counts every message.
	s.Stream = nil
	if c, err = Compile(s); err != nil || c.Protocol.Stream.Match.Src != "any" {
		t.Errorf("no stream: %v, %+v", err, c)
	}
	// The bundled push server's stream.
	b := BundledPush(Spec{Kind: KindSubscribe})
	if b.Stream.Match != PushMatch || b.Stream.Seq != PushSeq || b.Stream.Sent != PushSent || b.Stream.Unit != "ns" || *b.Stream.SeqStart != 1 || b.Open[0].Send != PushSubscribe {
		t.Errorf("bundled push: %+v %+v", b.Stream, b.Open)
	}
}

func TestCompileStreamErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*Spec)
		keys []string
	}{
		{"bad matchers", func(s *Spec) { s.Stream = &StreamSpec{Match: "$..", Seq: "nope", Sent: "re:(", Unit: "ns"} }, []string{"stream.match", "stream.seq", "stream.sent"}},
		{"a sent time needs its unit", func(s *Spec) { s.Stream = &StreamSpec{Sent: "$.t"} }, []string{"stream.unit"}},
		{"an unknown unit", func(s *Spec) { s.Stream = &StreamSpec{Sent: "$.t", Unit: "min"} }, []string{"stream.unit"}},
		{"a unit without a sent time", func(s *Spec) { s.Stream = &StreamSpec{Unit: "ms"} }, []string{"stream.unit"}},
		{"a start without a sequence", func(s *Spec) { one := uint64(1); s.Stream = &StreamSpec{SeqStart: &one} }, []string{"stream.seq_start"}},
		{"a negative stall", func(s *Spec) { s.Stream = &StreamSpec{Stall: -1} }, []string{"stream.stall"}},
		{"subscribers send nothing", func(s *Spec) { s.Rate = 10 }, []string{"rate"}},
		{"push settings need the bundled server", func(s *Spec) { s.PushRate, s.PushCount = 5, 3 }, []string{"push_rate", "push_count"}},
		{"push settings are kind subscribe's", func(s *Spec) { s.Kind, s.Target, s.PushCount = KindEcho, "", 3 }, []string{"push_count"}},
		{"a negative count", func(s *Spec) { s.Target, s.PushCount = "", -1 }, []string{"push_count"}},
	} {
		s := Default()
		s.Kind, s.Target = KindSubscribe, "ws://127.0.0.1:1/"
		tc.set(&s)
		_, err := Compile(s)
		if got := keysOf(t, err); !slices.Equal(got, tc.keys) {
			t.Errorf("%s: keys %v (%v), want %v", tc.name, got, err, tc.keys)
		}
	}
}
