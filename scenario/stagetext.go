package scenario

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseStage reads a stage written as DURATION:CONNS[:RATE[:NAME]]
// (30s:1000:20000:ramp), the short form of a Stage on a command line. Its
// errors say which part is wrong and name no flag.
func ParseStage(v string) (Stage, error) {
	p := strings.SplitN(v, ":", 4)
	if len(p) < 2 {
		return Stage{}, errors.New("want DURATION:CONNS[:RATE[:NAME]], such as 30s:1000:20000:ramp")
	}
	d, err := time.ParseDuration(p[0])
	if err != nil || d < 0 {
		return Stage{}, fmt.Errorf("want a duration such as 30s first, got %q", p[0])
	}
	c, err := strconv.Atoi(p[1])
	if err != nil || c < 0 {
		return Stage{}, fmt.Errorf("want a connection count (0 or more) second, got %q", p[1])
	}
	st := Stage{Duration: Duration(d), Conns: c}
	if len(p) > 2 && p[2] != "" {
		if st.Rate, err = strconv.ParseFloat(p[2], 64); err != nil || st.Rate < 0 || math.IsInf(st.Rate, 0) || math.IsNaN(st.Rate) {
			return Stage{}, fmt.Errorf("want a message rate (0 or more) third, got %q", p[2])
		}
	}
	if len(p) > 3 {
		st.Name = p[3]
	}
	return st, nil
}
