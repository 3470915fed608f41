package results

import (
	"fmt"
	"slices"
	"strconv"
	"time"
)

// What the text summary and the HTML page say of shards (merge part): a
// shard's own result names its place in the run; a merged result names its
// shards, the missing ones, and their start skew, with a row per shard.

// shardLine is the summary's line on shards ("" for a result of no
// sharded run).
func shardLine(r *Report) string {
	if s := r.Shards; s != nil {
		line := fmt.Sprintf("Shards: %d of %d merged", len(s.Present), s.Count)
		if s.Partial {
			line += fmt.Sprintf(" (PARTIAL: %s missing)", shardList(s.Missing))
		}
		line += " · plan " + shortPlan(s.Plan)
		if startAtGiven(s.Present) {
			line += fmt.Sprintf(" · start skew max %s · spread %s", fmtDur(time.Duration(s.SkewMaxNs)), fmtDur(time.Duration(s.SpreadNs)))
		} else {
			line += fmt.Sprintf(" · no common start (--start-at): starts spread over %s", fmtDur(time.Duration(s.SpreadNs)))
		}
		return line
	}
	if r.Shard == nil {
		return ""
	}
	s := r.Shard.Shard
	line := fmt.Sprintf("Shard %d of %d · plan %s · connections %s", s.Index, s.Count, shortPlan(s.Plan), slotRange(s))
	if s.Host != "" {
		line += " on " + s.Host
	}
	if !s.StartAt.IsZero() {
		line += fmt.Sprintf(" · started %s from the common start %s", signedDur(s.SkewNs), s.StartAt.UTC().Format(time.RFC3339Nano))
	}
	return line + " · merge with the other shards' results: wsbench merge"
}

// shardRows is the table of a merged result's shards: each one's place,
// machine, what it did, and how far from the common start it started.
func shardRows(r *Report) (head []string, rows [][]string) {
	s := r.Shards
	if s == nil {
		return nil, nil
	}
	head = []string{"Shard", "host", "connections", "opened", "sent", "received", "rtt count", "start skew", "saturated"}
	given := startAtGiven(s.Present)
	for k, sh := range s.Present {
		skew := "-"
		if given {
			skew = signedDur(sh.SkewNs)
		}
		row := []string{fmt.Sprint(sh.Index), cmpOr(sh.Host, "-"), slotRange(sh), "", "", "", "", skew, ""}
		if k < len(r.Processes) && r.Processes[k].Index == sh.Index {
			p := r.Processes[k]
			row[3], row[4], row[5], row[6] = fmt.Sprint(p.Opened), fmt.Sprint(p.Sent), fmt.Sprint(p.Received), fmt.Sprint(p.RTTCount)
			row[8] = "no"
			if p.Saturated {
				row[8] = "YES"
			}
		}
		rows = append(rows, row)
	}
	late := map[int]ShardInfo{}
	for _, m := range s.MissedStart {
		late[m.Index] = m
	}
	for _, m := range s.Missing {
		if sh, ok := late[m]; ok { // it reported, but measured nothing
			rows = append(rows, []string{fmt.Sprint(m), cmpOr(sh.Host, "-"), slotRange(sh), "-", "-", "-", "-", "MISSED START: ready " + signedDur(sh.SkewNs), "-"})
			continue
		}
		rows = append(rows, []string{fmt.Sprint(m), "MISSING", "-", "-", "-", "-", "-", "-", "-"})
	}
	// By shard index, the missing among those present.
	slices.SortStableFunc(rows, func(a, b []string) int {
		x, _ := strconv.Atoi(a[0])
		y, _ := strconv.Atoi(b[0])
		return x - y
	})
	return head, rows
}

// startAtGiven says whether the shards were given a common start.
func startAtGiven(shards []ShardInfo) bool {
	for _, s := range shards {
		if !s.StartAt.IsZero() {
			return true
		}
	}
	return false
}

// slotRange is the shard's connections among the run's slots: "14-27".
func slotRange(s ShardInfo) string {
	if s.Conns <= 0 {
		return "none"
	}
	return fmt.Sprintf("%d-%d", s.FirstSlot, s.FirstSlot+s.Conns-1)
}

// signedDur is a skew with its sign: "+1.2ms" late, "-300µs" early.
func signedDur(ns int64) string {
	if ns < 0 {
		return "-" + fmtDur(time.Duration(-ns))
	}
	return "+" + fmtDur(time.Duration(ns))
}
