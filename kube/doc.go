// Package kube runs a sharded wsbench run as a Kubernetes Indexed Job.
//
// Objects builds the manifests from typed k8s.io/api objects: a ConfigMap
// holding the scenario file as written (secrets are not in it: a scenario
// names them as ${NAME}, and the pods get NAME from a Secret the user names,
// by envFrom or valueFrom.secretKeyRef) and an Indexed Job of N pods, each
// running `wsbench run --shard auto/N --start-at T` on its index
// (JOB_COMPLETION_INDEX). Render prints them as YAML (sigs.k8s.io/yaml).
//
// The Job never runs a shard twice (backoffLimitPerIndex 0): a rerun would
// start after the common start time and measure a different run. A shard
// that is not connected and ready by T exits 5 (the run command's "missed
// start" code) and the podFailurePolicy fails the whole Job on it at once.
//
// Each shard prints its result on stdout as one framed line (AppendFrame,
// `wsbench-result v1 sha256=HEX BASE64(gzip(JSON))`) among its other
// output; Run (`wsbench kube run`) applies the objects with client-go, waits
// for the Job by watching it, reads every pod's log, checks each frame's
// checksum, and merges the shards exactly (results.MergeShards).
package kube
