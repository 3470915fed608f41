package results

// ServerUsage is what a server process used in a run's measured window, as
// `wsbench run --server-pid` sampled it from /proc: the server's CPU and
// memory beside the client's, so that figures can be normalised per server
// CPU-second and per MB. It covers every PID given, summed (a proxy and the
// server behind it).
type ServerUsage struct {
	PIDs []int `json:"pids"`
	// CPUSeconds is the user + system CPU time the processes used in the
	// measured window; CPUCores is that per second of the window (1.00 = one
	// core busy).
	CPUSeconds float64 `json:"cpu_s"`
	CPUCores   float64 `json:"cpu_cores"`
	// RSSBeforeKiB is the resident memory before the run opened a
	// connection; MaxRSSKiB the highest sampled in the window. Their
	// difference over the connections is memory per connection.
	RSSBeforeKiB int64 `json:"rss_before_kib"`
	MaxRSSKiB    int64 `json:"max_rss_kib"`
	// Samples is how many samples fell in the window (one every
	// SampleEvery); Exited says a process ended before the run did.
	Samples       int     `json:"samples"`
	SampleEveryMS float64 `json:"sample_every_ms"`
	Exited        bool    `json:"exited,omitempty"`
}
