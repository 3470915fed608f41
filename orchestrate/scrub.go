package orchestrate

import (
	"bytes"
	"io"
	"sync"
)

// scrubWriter passes whole lines to w with scrub applied; the children of a
// split run share one (each through its own child writer), so their lines
// never interleave mid-line.
type scrubWriter struct {
	mu    sync.Mutex
	w     io.Writer
	scrub func(string) string
}

// child returns a writer for one child process's stderr.
func (s *scrubWriter) child() *lineWriter { return &lineWriter{out: s} }

func (s *scrubWriter) line(b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	io.WriteString(s.w, s.scrub(string(b)))
}

// lineWriter holds a partial line until its newline comes (a secret split
// over two writes is still found), then hands it to its scrubWriter.
type lineWriter struct {
	out *scrubWriter
	buf []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	if i := bytes.LastIndexByte(l.buf, '\n'); i >= 0 {
		l.out.line(l.buf[:i+1])
		l.buf = append(l.buf[:0], l.buf[i+1:]...)
	}
	return len(p), nil
}

// Flush writes what is left of a last line without a newline.
func (l *lineWriter) Flush() {
	if len(l.buf) > 0 {
		l.out.line(l.buf)
		l.buf = nil
	}
}
