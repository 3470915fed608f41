package orchestrate

import (
	"io"
	"os"

	"golang.org/x/term"
)

// ShowStatus says whether a run shows its live status on w: never when
// quiet; when force (--progress) or w is a terminal.
func ShowStatus(w io.Writer, quiet, force bool) bool {
	f, ok := w.(*os.File)
	return !quiet && (force || ok && term.IsTerminal(int(f.Fd())))
}
