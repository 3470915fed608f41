// Package orchestrate runs a whole benchmark out of the pieces the other
// packages provide: it is what the wsbench command calls once its flags are
// parsed, and it knows no flag.
//
// A Plan is one run as decided: the scenario.Spec, the URL measured, the
// driver's options and where progress goes. From the bottom up:
//
//   - One runs the load in this process (driver.Run) and turns the driver's
//     result into a results.Report.
//   - Mix runs a scenario's groups side by side in this process, their
//     clocks started together, and reports each group and the whole.
//   - Split runs the connections over Spec.Procs child processes: each is
//     this program started with Plan.ChildArgs, calls Child, reads its
//     settings as JSON on standard input (never as flags on a command line
//     that every user can read), opens its share, and prints its
//     result as shard i/N of the parent's plan; the parent merges them
//     exactly (results.MergeShards, by metrics.Merge, the one merge a mix
//     uses too).
//   - RunShard runs one shard of a run (wsbench run --shard I/N): its
//     connections and its slots of the one schedule, its clock started at
//     the common start (--start-at); a shard that missed it reports
//     missed_start (exit 5).
//   - Run picks one of those four for a Plan.
//   - Repeat runs a Plan against several targets, interleaved round by
//     round, for results.Compare.
//     A Tally judges each run of a Repeat and writes its result.
//   - Capacity is the capacity search, a pure function over a measure
//     callback: doubling, then bisecting, stopped by a client-limited step;
//     Step judges one step's report against the SLOs. A Search builds each
//     step's scenario (At: the rate, or the connections and the rate) and
//     runs Capacity over a measure of a scenario (One, or a fake in tests).
//   - Check makes the decisions before a run: its thresholds, :abort ones
//     only where they can be watched (CheckAbort), driver options that apply
//     (CheckIO), and the machine's file and port limits (Preflight).
//   - WatchThresholds stops a run (One) once an :abort threshold fails;
//     Status is the live line while it measures; Signals turns SIGINT and
//     SIGTERM into the two contexts below.
//   - Target is the URL a run aims at: the user's, or the reference server
//     started in this process (StartBundled) for a run with no target;
//     OnThisMachine says whether a target is local; DNSReason says why a
//     host did not resolve.
//
// Every run takes two contexts: cancelling ctx stops it gracefully (stop
// sending, wait for replies up to the grace period, close), cancelling
// abort stops it at once; both still report what was measured.
//
// Errors about a setting are FieldErrors carrying the setting's key
// (procs, groups); the command line turns keys into flag names.
//
// A minimal run against the bundled server:
//
//	url, stop, err := orchestrate.StartBundled(scenario.KindEcho)
//	if err != nil {
//		return err
//	}
//	defer stop()
//	spec := scenario.Default()
//	rep, err := orchestrate.Run(ctx, abort, orchestrate.Plan{Spec: spec, Target: url, Bundled: true})
package orchestrate
