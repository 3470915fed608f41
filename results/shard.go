package results

import (
	"time"

	"github.com/wsbench/wsbench/metrics"
)

// ShardInfo says which part of a sharded run (`wsbench run --shard I/N`)
// a result is, so that `wsbench merge` can put the parts back together
// exactly and refuse what does not belong.
type ShardInfo struct {
	// Index is this shard's number, 0 … Count-1; Count the run's shards.
	Index int `json:"index"`
	Count int `json:"count"`
	// Plan is the plan hash: the scenario (as saved, secrets redacted) and
	// the shard count. Shards of one run carry the same plan.
	Plan string `json:"plan"`
	// StartAt is the common start every shard was given (--start-at), the
	// open-model schedule's epoch; zero when none was given.
	StartAt time.Time `json:"start_at,omitzero"`
	// StartedAt is when this shard actually started measuring, by its own
	// clock; SkewNs is StartedAt minus StartAt (0 when StartAt is zero).
	StartedAt time.Time `json:"started_at"`
	SkewNs    int64     `json:"skew_ns"`
	// FirstSlot and Conns place the shard's connections among the whole
	// run's slots.
	FirstSlot int `json:"first_slot"`
	Conns     int `json:"conns"`
	// Host is the machine (hostname) the shard ran on.
	Host string `json:"host,omitempty"`
}

// ShardResult is what a shard's result file holds beside its report: the
// shard's place in the run and its raw measurement (every count and exact
// histogram), which is what merging adds up.
type ShardResult struct {
	Shard       ShardInfo            `json:"shard"`
	Measurement *metrics.Measurement `json:"measurement"`
}

// ShardsMerged is what a merged result says of the shards it came from.
type ShardsMerged struct {
	Plan  string `json:"plan"`
	Count int    `json:"count"`
	// Present are the shards merged, by index; Missing those not found.
	// A result with any missing is partial: its totals are not the run's.
	Present []ShardInfo `json:"present"`
	Missing []int       `json:"missing,omitempty"`
	Partial bool        `json:"partial"`
	// merge part: MissedStart are the shards among Missing that reported
	// but were not connected and ready by the common start (exit 5): they
	// measured nothing, so their shares are not in the totals either.
	MissedStart []ShardInfo `json:"missed_start,omitempty"`
	// SkewMaxNs is the largest |StartedAt - StartAt| over the shards;
	// SpreadNs the latest StartedAt minus the earliest.
	SkewMaxNs int64 `json:"skew_max_ns"`
	SpreadNs  int64 `json:"spread_ns"`
}
