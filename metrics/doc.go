// Package metrics records what a load test measured: latency histograms and
// message, connection and error counts. It knows nothing of WebSocket, the
// network, files or output formats; other packages fill it in and read it out.
//
// Latencies go into a [Histogram], an HdrHistogram of microseconds from
// [LowestUs] to [HighestUs] at [SigFigs] significant digits. Values outside
// that range are never dropped or recorded silently: they are clamped to the
// nearest edge and counted, see [Histogram.Clamped].
//
// Each recording goroutine owns one [Shard], obtained from a [Recorder], and
// writes to it without locks. When every owner has stopped, [Recorder.Snapshot]
// merges the shards into a [Snapshot]; snapshots combine exactly with
// [Snapshot.Merge].
//
// A whole run's outcome is a [Measurement]: its snapshot, window, intervals,
// stages, stop reason and the client's CPU use. The driver returns one, the
// results package reports one, and [Merge] is the one way several become one:
// the client processes of a split run (each sends its measurement to the
// parent as JSON, histograms compact and exact) and the groups of a mix;
// the live status adds intervals with the same [Interval.Add].
package metrics
