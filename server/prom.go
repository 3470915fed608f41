package server

import (
	"runtime"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// PromNamespace prefixes the server's metrics (wsbench_server_…), apart
// from the client's (wsbench_…).
const PromNamespace = "wsbench_server"

// promStat is one field of Stats as a Prometheus metric: its name (after
// PromNamespace_), help, type, and the field's key in the JSON of
// --stats-addr, so that one can be checked against the other.
type promStat struct {
	name, help, key string
	kind            prometheus.ValueType
	get             func(*Stats) float64
}

const (
	promCounter = prometheus.CounterValue
	promGauge   = prometheus.GaugeValue
)

// promStats are the Stats fields exported, in Stats' order.
var promStats = []promStat{
	{"connections_accepted_total", "TCP connections accepted.", "accepted", promCounter, func(s *Stats) float64 { return float64(s.Accepted) }},
	{"connections_upgraded_total", "Completed opening handshakes.", "upgraded", promCounter, func(s *Stats) float64 { return float64(s.Upgraded) }},
	{"connections_open", "Upgraded connections not yet closed.", "open", promGauge, func(s *Stats) float64 { return float64(s.Open) }},
	{"handshake_failures_total", "Accepted connections dropped before the upgrade.", "handshake_failures", promCounter, func(s *Stats) float64 { return float64(s.HandshakeFailures) }},
	{"handshake_timeouts_total", "Handshake failures that ran out of --handshake-timeout.", "handshake_timeouts", promCounter, func(s *Stats) float64 { return float64(s.HandshakeTimeouts) }},
	{"messages_received_total", "Complete data messages received.", "messages_in", promCounter, func(s *Stats) float64 { return float64(s.MessagesIn) }},
	{"messages_sent_total", "Data messages sent.", "messages_out", promCounter, func(s *Stats) float64 { return float64(s.MessagesOut) }},
	{"bytes_received_total", "WebSocket bytes read from sockets.", "bytes_in", promCounter, func(s *Stats) float64 { return float64(s.BytesIn) }},
	{"bytes_sent_total", "WebSocket bytes written to sockets.", "bytes_out", promCounter, func(s *Stats) float64 { return float64(s.BytesOut) }},
	{"slow_reader_closes_total", "Connections closed for exceeding --max-pending-write.", "slow_reader_closes", promCounter, func(s *Stats) float64 { return float64(s.SlowReaderCloses) }},
	{"abnormal_closes_total", "Connections that ended without a closing handshake.", "abnormal_closes", promCounter, func(s *Stats) float64 { return float64(s.AbnormalCloses) }},
	{"refused_max_conns_total", "Connections closed on accept past --max-conns.", "refused_max_conns", promCounter, func(s *Stats) float64 { return float64(s.RefusedMaxConns) }},
	{"idle_closes_total", "Connections closed with 1001 after --idle-timeout.", "idle_closes", promCounter, func(s *Stats) float64 { return float64(s.IdleCloses) }},
	{"origin_rejected_total", "Handshakes refused for their Origin.", "origin_rejected", promCounter, func(s *Stats) float64 { return float64(s.OriginRejected) }},
	{"deflate_negotiated_total", "Handshakes that negotiated permessage-deflate.", "deflate_negotiated", promCounter, func(s *Stats) float64 { return float64(s.DeflateNegotiated) }},
	{"messages_compressed_received_total", "Data messages received compressed.", "messages_compressed_in", promCounter, func(s *Stats) float64 { return float64(s.CompressedIn) }},
	{"messages_compressed_sent_total", "Data messages sent compressed.", "messages_compressed_out", promCounter, func(s *Stats) float64 { return float64(s.CompressedOut) }},
	{"delay_clamped_total", "Delays drawn below zero and taken as zero.", "delay_clamped", promCounter, func(s *Stats) float64 { return float64(s.DelayClamped) }},
	// netns (issue 16): the replies held by --stall.
	{"stalled_total", "Replies or deliveries of messages received during the stall (--stall), held until its end.", "stalled", promCounter, func(s *Stats) float64 { return float64(s.Stalled) }},
	{"rooms", "Broadcast rooms with at least one member.", "rooms", promGauge, func(s *Stats) float64 { return float64(s.Rooms) }},
	{"broadcast_deliveries_total", "Frames queued to room members (broadcast mode).", "broadcast_deliveries", promCounter, func(s *Stats) float64 { return float64(s.BroadcastDeliveries) }},
	{"pings_sent_total", "Pings the server sent (--ping-interval).", "pings_sent", promCounter, func(s *Stats) float64 { return float64(s.PingsSent) }},
	{"pongs_received_total", "Pongs that answered the server's pings.", "pongs_received", promCounter, func(s *Stats) float64 { return float64(s.PongsReceived) }},
	{"pong_missing_total", "Pings whose pong had not come back in time.", "pong_missing", promCounter, func(s *Stats) float64 { return float64(s.PongMissing) }},
	{"clients_not_answering_total", "Connections that missed at least one pong.", "clients_not_answering", promCounter, func(s *Stats) float64 { return float64(s.ClientsNotAnswering) }},
	{"cpu_user_seconds_total", "CPU time in user mode since the server started (the whole process's).", "cpu_user_s", promCounter, func(s *Stats) float64 { return s.CPUUserSeconds }},
	{"cpu_system_seconds_total", "CPU time in kernel mode since the server started (the whole process's).", "cpu_sys_s", promCounter, func(s *Stats) float64 { return s.CPUSysSeconds }},
	{"cpu_cores_average", "Cores kept busy on average since the server started.", "cpu_cores", promGauge, func(s *Stats) float64 { return s.CPUCores }},
	{"max_resident_memory_bytes", "Peak resident set size of the process.", "max_rss_kib", promGauge, func(s *Stats) float64 { return float64(s.MaxRSSKiB) * 1024 }},
	{"resident_memory_bytes", "Resident set size of the process now.", "rss_kib", promGauge, func(s *Stats) float64 { return float64(s.RSSKiB) * 1024 }},
	{"uptime_seconds", "Wall time since the server started.", "uptime_s", promGauge, func(s *Stats) float64 { return s.UptimeSeconds }},
}

var (
	promDescs = func() []*prometheus.Desc {
		d := make([]*prometheus.Desc, len(promStats))
		for i, st := range promStats {
			d[i] = prometheus.NewDesc(PromNamespace+"_"+st.name, st.help, nil, nil)
		}
		return d
	}()
	promCloseCodes = prometheus.NewDesc(PromNamespace+"_close_frames_sent_total", "Close frames sent, by status code (1005: an empty close).", []string{"code"}, nil)
	promCores      = prometheus.NewDesc(PromNamespace+"_cpu_cores", "Cores the server may use (GOMAXPROCS, at most the machine's CPUs): rate(cpu seconds) over it is its saturation.", nil, nil)
	promInfo       = prometheus.NewDesc(PromNamespace+"_info", "The server's I/O mode and reply delay, as labels; always 1.", []string{"io", "delay"}, nil)
)

// Registry returns a new registry (never the global one) of s's counters,
// the figures --stats-addr serves as JSON, read at each scrape, and the
// standard process metrics (process_cpu_seconds_total,
// process_resident_memory_bytes, process_open_fds …). `wsbench serve
// --metrics-addr` serves it.
func (s *Server) Registry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(statsCollector{s}, collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// statsCollector collects a Server's Stats at each scrape.
type statsCollector struct{ s *Server }

func (c statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range promDescs {
		ch <- d
	}
	ch <- promCloseCodes
	ch <- promCores
	ch <- promInfo
}

func (c statsCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats()
	for i, p := range promStats {
		ch <- prometheus.MustNewConstMetric(promDescs[i], p.kind, p.get(&st))
	}
	for code, n := range st.CloseCodesSent {
		ch <- prometheus.MustNewConstMetric(promCloseCodes, promCounter, float64(n), strconv.Itoa(int(code)))
	}
	ch <- prometheus.MustNewConstMetric(promCores, promGauge, float64(min(runtime.GOMAXPROCS(0), runtime.NumCPU())))
	ch <- prometheus.MustNewConstMetric(promInfo, promGauge, 1, st.IO, st.Delay)
}
