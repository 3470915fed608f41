package metrics

// Summary is a histogram's count and main statistics, in microseconds. It is
// the JSON shape that tools outside wsbench read: the field names and tags
// are a stable format.
//
// For a nonempty histogram MinUs <= P50Us <= P90Us <= P99Us <= P999Us <= MaxUs
// and MinUs <= MeanUs <= MaxUs. An empty histogram gives the zero Summary.
type Summary struct {
	// Count is the number of values recorded, clamped ones included.
	Count int64 `json:"count"`
	// MinUs is the lowest value equivalent to the smallest recorded value.
	MinUs float64 `json:"min_us"`
	// MeanUs is the mean, taking each value at the middle of its bucket.
	MeanUs float64 `json:"mean_us"`
	// P50Us is the 50th percentile.
	P50Us float64 `json:"p50_us"`
	// P90Us is the 90th percentile.
	P90Us float64 `json:"p90_us"`
	// P99Us is the 99th percentile.
	P99Us float64 `json:"p99_us"`
	// P999Us is the 99.9th percentile.
	P999Us float64 `json:"p999_us"`
	// MaxUs is the highest value equivalent to the largest recorded value,
	// so it may exceed what was recorded by up to the histogram's precision.
	MaxUs float64 `json:"max_us"`
}
