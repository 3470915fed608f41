package metrics

import (
	"reflect"
	"testing"
)

func TestCountsAddEveryField(t *testing.T) {
	// Give every field a distinct value by reflection, so a field added to
	// Counts but forgotten in Add fails here.
	var a, b Counts
	va, vb := reflect.ValueOf(&a).Elem(), reflect.ValueOf(&b).Elem()
	for i := 0; i < va.NumField(); i++ {
		va.Field(i).SetInt(int64(i + 1))
		vb.Field(i).SetInt(int64(100 * (i + 1)))
	}
	a.Add(b)
	for i := 0; i < va.NumField(); i++ {
		if got, want := va.Field(i).Int(), int64(101*(i+1)); got != want {
			t.Errorf("after Add, %s = %d, want %d", va.Type().Field(i).Name, got, want)
		}
	}
	// Add leaves its argument alone.
	for i := 0; i < vb.NumField(); i++ {
		if got, want := vb.Field(i).Int(), int64(100*(i+1)); got != want {
			t.Errorf("Add changed its argument's %s to %d", vb.Type().Field(i).Name, got)
		}
	}
}

func TestCountsBalance(t *testing.T) {
	tests := []struct {
		name string
		c    Counts
		want int64
	}{
		// Nothing sent, nothing accounted: balanced.
		{"zero", Counts{}, 0},
		// Every sent message received.
		{"allReceived", Counts{Sent: 10, Received: 10}, 0},
		// Received, lost and in flight together account for Sent.
		{"mixed", Counts{Sent: 10, Received: 6, Lost: 3, InFlight: 1}, 0},
		// Unsent and connection counts play no part.
		{"unsentIgnored", Counts{Sent: 5, Received: 5, Unsent: 7, ConnsFailed: 2, BytesSent: 9}, 0},
		// Two sent messages unaccounted for.
		{"missing", Counts{Sent: 10, Received: 6, Lost: 2}, 2},
		// One more accounted for than sent: a double count.
		{"doubleCounted", Counts{Sent: 10, Received: 9, Lost: 1, InFlight: 1}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.Imbalance(); got != tt.want {
				t.Errorf("Imbalance() = %d, want %d", got, tt.want)
			}
			if got, want := tt.c.Balanced(), tt.want == 0; got != want {
				t.Errorf("Balanced() = %v, want %v", got, want)
			}
		})
	}
}
