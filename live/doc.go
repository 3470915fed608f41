// Package live exports a `wsbench run` to Prometheus while it measures
// (--metrics-addr): messages sent, received, lost and unsent, errors by
// kind, connections attempted, opened, failed, dropped and open, a latency
// histogram per metric (classic buckets 1-2-5 per decade over HDR's
// 1 µs … 60 s, and a native histogram), and the client's CPU: cores
// available, cores busy and their ratio (near 1: the client is saturated).
//
// A Client is fed by the driver's interval snapshots (Chain wraps
// orchestrate.Plan.OnInterval), so a scrape sees each interval as it
// ends; Finish sets every figure to the run's result, so the last scrape
// equals the result exactly. It has a registry of its own (never the
// global one), served with internal/promserve:
//
//	exp := live.NewClient(live.Shard{Index: 2, Count: 8})
//	ep, err := promserve.Listen(":9090", exp.Registry())
//	if err != nil {
//		return err
//	}
//	defer ep.Close()
//	plan.OnInterval = exp.Chain(plan.OnInterval)
//	rep, err := orchestrate.Run(ctx, abort, plan)
//	if err == nil {
//		err = exp.Finish(rep)
//	}
//
// The metric names are the contract of the Grafana dashboard
// (kube/grafana/wsbench-dashboard.json); a test checks that every name its
// queries use is one this package exports.
package live
