package flow

import "slices"

// StepNames lists the names of steps and of the steps inside their
// repeats, depth first, each once, in the order they first appear: the
// order a flow's per-step figures are reported in (the flowrun part).
// Unnamed steps are left out.
func StepNames(steps []Step) []string {
	var names []string
	var walk func([]Step)
	walk = func(steps []Step) {
		for i := range steps {
			st := &steps[i]
			if st.Name != "" && !slices.Contains(names, st.Name) {
				names = append(names, st.Name)
			}
			walk(st.Steps)
		}
	}
	walk(steps)
	return names
}
