package scenario

// Group is one workload of a mix: several groups run at once, side by
// side, each with its own connections and its own results. A group's keys
// override the scenario's top-level settings, which every group shares
// (target, duration, warm-up, timeouts, handshake options …):
//
//	duration: 60s
//	groups:
//	  - {name: idle, kind: hold, conns: 10000, connect_rate: 2000}
//	  - {name: chat, kind: echo, conns: 200, rate: 2000}
type Group struct {
	Name string `json:"name"`
	Kind Kind   `json:"kind,omitempty"`
	// Conns is the group's connection count; Rate its total message rate
	// (0: the closed model, or no traffic for hold).
	Conns       int      `json:"conns"`
	Rate        float64  `json:"rate,omitempty"`
	Think       Duration `json:"think,omitempty"`
	Size        int      `json:"size,omitempty"`
	Binary      bool     `json:"binary,omitempty"`
	ConnectRate float64  `json:"connect_rate,omitempty"`
	MaxInflight int      `json:"max_inflight,omitempty"`
	RoomSize    int      `json:"room_size,omitempty"`
	Publishers  int      `json:"publishers,omitempty"`
	Template    string   `json:"template,omitempty"`
}

// Mixed reports whether s runs several groups at once.
func (s Spec) Mixed() bool { return len(s.Groups) > 0 }

// GroupSpec is group i's own scenario: the top level with the group's keys
// over it.
func (s Spec) GroupSpec(i int) Spec {
	g := s.Groups[i]
	out := s
	out.Groups, out.Thresholds = nil, nil
	if g.Kind != "" {
		out.Kind = g.Kind
	}
	out.Conns, out.Rate, out.Think, out.MaxInflight = g.Conns, g.Rate, g.Think, g.MaxInflight
	if g.Size > 0 {
		out.Size, out.SizeMax = g.Size, 0
	}
	if g.Binary {
		out.Binary = true
	}
	if g.ConnectRate > 0 {
		out.ConnectRate = g.ConnectRate
	}
	if g.RoomSize > 0 {
		out.RoomSize = g.RoomSize
	}
	if g.Publishers > 0 {
		out.Publishers = g.Publishers
	}
	if g.Template != "" {
		out.Template = g.Template
	}
	return out
}

// ApplyGroups sets the run-wide connection count and rate of a mix: the
// groups' sums.
func (s *Spec) ApplyGroups() {
	if !s.Mixed() {
		return
	}
	s.Conns, s.Rate = 0, 0
	for _, g := range s.Groups {
		s.Conns += g.Conns
		s.Rate += g.Rate
	}
}
