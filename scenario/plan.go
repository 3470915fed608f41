package scenario

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
)

// shard part (issue 16): the plan hash that ties the shards of one run
// together.

// PlanHash names the plan of a run split into shards (wsbench run --shard
// I/N, or --procs N): "sha256:" and the hex SHA-256 of s redacted (Redact:
// no secret value feeds it), encoded canonically (the result file's JSON of
// the scenario, whose keys are fixed), and the shard count. Procs and
// SourceIP are left out: they say how one machine runs its part (its
// processes, its own local addresses), not what the run is. Every
// shard of one run computes the same hash; a shard of another scenario or
// shard count does not.
func PlanHash(s Spec, shards int) string {
	s = s.Redact()
	s.Procs, s.SourceIP = 0, ""
	b, err := json.Marshal(s)
	if err != nil {
		// A Spec is plain data: it always encodes. Hash its printed form
		// rather than nothing, so that two plans never share a hash by it.
		b = []byte(fmt.Sprintf("%#v", s))
	}
	h := sha256.New()
	h.Write([]byte("wsbench plan v1\n"))
	h.Write(b)
	h.Write([]byte("\nshards " + strconv.Itoa(shards) + "\n"))
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// PlanSeed is the Poisson seed every shard of a run derives from its plan
// when none was given (Seed 0): the same on every machine, so that the
// shards together keep the one schedule. It is never 0.
func PlanSeed(s Spec, shards int) uint64 {
	s.Seed = 0
	sum := sha256.Sum256([]byte(PlanHash(s, shards)))
	return binary.BigEndian.Uint64(sum[:8]) | 1
}
