package driver

import (
	crand "crypto/rand"
	"strconv"
	"unicode/utf8"

	"github.com/wsbench/wsbench/scenario"
)

// Payload templates (scenario.Spec.Template) make every message look like
// the application's own, with per-connection and per-message fields:
//
//	{"type":"chat","user":"u{{conn}}","seq":{{seq}},"id":"{{stamp}}"}
//
// {{conn}} is the connection's index in the run, {{seq}} the message's
// sequence number on it, and {{stamp}} (required, once) the message's
// timing stamp, which the echo must carry back. An echo is checked against
// the template: the literal text, the connection's own number, and a
// sequence number equal to its stamp's.

type tmplField uint8

const (
	fieldLit   = tmplField(scenario.FieldLiteral)
	fieldConn  = tmplField(scenario.FieldConn)
	fieldSeq   = tmplField(scenario.FieldSeq)
	fieldStamp = tmplField(scenario.FieldStamp)
)

type tmplPart struct {
	field tmplField
	lit   []byte
}

// tmplOf is the codec's form of a parsed template (scenario.ParseTemplate).
func tmplOf(parts []scenario.TemplatePart) []tmplPart {
	out := make([]tmplPart, len(parts))
	for i, p := range parts {
		out[i] = tmplPart{field: tmplField(p.Field), lit: []byte(p.Lit)}
	}
	return out
}

// renderLen is the length of s's message rendered from the template.
func (c *codec) renderLen(s stamp) int {
	n := 0
	for _, p := range c.tmpl {
		switch p.field {
		case fieldLit:
			n += len(p.lit)
		case fieldConn:
			n += decLen(uint64(s.conn))
		case fieldSeq:
			n += decLen(s.seq)
		case fieldStamp:
			n += c.stampSize()
		}
	}
	return n
}

func decLen(v uint64) int {
	n := 1
	for v >= 10 {
		v /= 10
		n++
	}
	return n
}

// render writes s's message into p, which is renderLen(s) long.
func (c *codec) render(p []byte, s stamp) {
	off := 0
	for _, part := range c.tmpl {
		switch part.field {
		case fieldLit:
			off += copy(p[off:], part.lit)
		case fieldConn:
			off += copy(p[off:], strconv.AppendUint(p[off:off], uint64(s.conn), 10))
		case fieldSeq:
			off += copy(p[off:], strconv.AppendUint(p[off:off], s.seq, 10))
		case fieldStamp:
			c.putStamp(p[off:], s)
			off += c.stampSize()
		}
	}
}

// parse reads an echo of a templated message (see get).
func (c *codec) parse(p []byte, conn int) (s stamp, stampOK, ok bool) {
	ok = true
	var seq uint64
	seqSeen := false
	for _, part := range c.tmpl {
		switch part.field {
		case fieldLit:
			if len(p) < len(part.lit) || string(p[:len(part.lit)]) != string(part.lit) {
				return s, stampOK, false
			}
			p = p[len(part.lit):]
		case fieldConn, fieldSeq:
			k := 0
			var v uint64
			for k < len(p) && k < 20 && p[k] >= '0' && p[k] <= '9' {
				v = v*10 + uint64(p[k]-'0')
				k++
			}
			if k == 0 {
				return s, stampOK, false
			}
			p = p[k:]
			if part.field == fieldConn {
				ok = ok && (conn < 0 || v == uint64(conn))
			} else {
				seq, seqSeen = v, true
			}
		case fieldStamp:
			var got bool
			if s, got = c.getStamp(p); !got {
				return s, false, false
			}
			stampOK = true
			p = p[c.stampSize():]
		}
	}
	return s, stampOK, ok && len(p) == 0 && (!seqSeen || seq == s.seq)
}

// newPayloadCodec is the codec of c's payloads: sizes, filler and template
// (all parsed and read by scenario.Compile).
func newPayloadCodec(c *scenario.Compiled, binaryMsgs, pub bool) *codec {
	spec := c.Spec
	size := max(spec.Size, spec.SizeMax)
	pc := newCodecFor(size, binaryMsgs, pub)
	pc.minSize = spec.Size
	if c.Template != nil {
		pc.tmpl = tmplOf(c.Template)
		pc.size = pc.renderLen(stamp{seq: 1 << 40, conn: 1 << 24}) // room for the longest numbers a run reaches
		return pc
	}
	n := len(pc.filler)
	switch {
	case c.Payload != nil:
		b := c.Payload
		for i := range pc.filler {
			pc.filler[i] = b[i%len(b)]
		}
		if !binaryMsgs {
			// Repeating the file may split a character at the joins:
			// fill with whole characters only, then spaces.
			out := pc.filler[:0]
		fill:
			for len(out) < n {
				before := len(out)
				for _, r := range string(b) {
					if len(out)+utf8.RuneLen(r) > n {
						break fill
					}
					out = utf8.AppendRune(out, r)
				}
				if len(out) == before {
					break
				}
			}
			for len(out) < n {
				out = append(out, ' ')
			}
			pc.filler = out
			pc.utf8 = !isASCII(pc.filler)
		}
	case spec.Payload == scenario.PayloadRandom:
		crand.Read(pc.filler)
		if !binaryMsgs {
			const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
			for i, b := range pc.filler {
				pc.filler[i] = alnum[int(b)%len(alnum)]
			}
		}
	}
	return pc
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
