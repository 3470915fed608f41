// Package results turns what a run measured into what people take away: the
// Report (the JSON document other tools read, schema 1), its encoders (the text
// summary and JSON), atomic result files, and Read for working offline on saved
// results. It never touches the network.
//
//	rep, err := results.Build(results.About{Spec: spec, Target: url}, measurement) // driver.Run's
//	err = rep.WriteFile("run.json")      // temp file, fsync, rename
//	err = results.Encoders["text"](os.Stdout, rep, results.Options{})
package results
