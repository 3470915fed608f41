package driver

import (
	crand "crypto/rand"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
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
	fieldLit tmplField = iota
	fieldConn
	fieldSeq
	fieldStamp
)

type tmplPart struct {
	field tmplField
	lit   []byte
}

// parseTemplate splits a template into literal text and fields.
func parseTemplate(t string) ([]tmplPart, error) {
	var parts []tmplPart
	stamps := 0
	for len(t) > 0 {
		i := strings.Index(t, "{{")
		if i < 0 {
			parts = append(parts, tmplPart{lit: []byte(t)})
			break
		}
		if i > 0 {
			parts = append(parts, tmplPart{lit: []byte(t[:i])})
		}
		j := strings.Index(t[i:], "}}")
		if j < 0 {
			return nil, fmt.Errorf("--template: %q opens a field with {{ and never closes it", t[i:])
		}
		name := strings.TrimSpace(t[i+2 : i+j])
		switch name {
		case "conn":
			parts = append(parts, tmplPart{field: fieldConn})
		case "seq":
			parts = append(parts, tmplPart{field: fieldSeq})
		case "stamp":
			parts = append(parts, tmplPart{field: fieldStamp})
			stamps++
		default:
			return nil, fmt.Errorf("--template: unknown field {{%s}} (want {{conn}}, {{seq}} or {{stamp}})", name)
		}
		t = t[i+j+2:]
	}
	if stamps != 1 {
		return nil, fmt.Errorf("--template: needs {{stamp}} exactly once (it carries the timing the echo brings back), found %d", stamps)
	}
	for k := 1; k < len(parts); k++ {
		if parts[k-1].field == fieldSeq || parts[k-1].field == fieldConn {
			if parts[k].field == fieldConn || parts[k].field == fieldSeq ||
				(parts[k].field == fieldLit && parts[k].lit[0] >= '0' && parts[k].lit[0] <= '9') {
				return nil, fmt.Errorf("--template: a number field must not be followed by digits or another number field (an echo could not be read back)")
			}
		}
	}
	return parts, nil
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

// newPayloadCodec is the codec of spec's payloads: sizes, filler and template.
func newPayloadCodec(spec scenario.Spec, binaryMsgs, pub bool) (*codec, error) {
	size := max(spec.Size, spec.SizeMax)
	c := newCodecFor(size, binaryMsgs, pub)
	c.minSize = spec.Size
	if spec.Template != "" {
		parts, err := parseTemplate(spec.Template)
		if err != nil {
			return nil, err
		}
		if !binaryMsgs && !utf8.ValidString(spec.Template) {
			return nil, fmt.Errorf("--template: text messages must be UTF-8; use --binary for other bytes")
		}
		c.tmpl = parts
		c.size = c.renderLen(stamp{seq: 1 << 40, conn: 1 << 24}) // room for the longest numbers a run reaches
		return c, nil
	}
	n := len(c.filler)
	switch {
	case spec.PayloadFile != "":
		b, err := os.ReadFile(spec.PayloadFile)
		if err != nil {
			return nil, fmt.Errorf("--payload-file: %w", err)
		}
		if len(b) == 0 {
			return nil, fmt.Errorf("--payload-file %s: empty", spec.PayloadFile)
		}
		if !binaryMsgs && !utf8.Valid(b) {
			return nil, fmt.Errorf("--payload-file %s: text messages must be UTF-8; use --binary for other bytes", spec.PayloadFile)
		}
		for i := range c.filler {
			c.filler[i] = b[i%len(b)]
		}
		if !binaryMsgs {
			// Repeating the file may split a character at the joins:
			// fill with whole characters only, then spaces.
			out := c.filler[:0]
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
			c.filler = out
			c.utf8 = !isASCII(c.filler)
		}
	case spec.Payload == scenario.PayloadRandom:
		crand.Read(c.filler)
		if !binaryMsgs {
			const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
			for i, b := range c.filler {
				c.filler[i] = alnum[int(b)%len(alnum)]
			}
		}
	}
	return c, nil
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// CheckInputs reads and checks what spec names outside itself — the payload
// file, the template, the tokens file, the CA file — so that a run that
// would fail on them fails before it starts, with the flag named.
func CheckInputs(spec scenario.Spec) error {
	if _, err := newPayloadCodec(spec, spec.Binary || spec.Kind == scenario.KindPing, spec.Kind == scenario.KindBroadcast); err != nil {
		return err
	}
	u := &url.URL{Scheme: "ws", Host: "127.0.0.1:1", Path: "/"}
	if _, err := connURLs(spec, u); err != nil {
		return err
	}
	if spec.CA != "" {
		if _, err := tlsConfig(spec, "localhost"); err != nil {
			return err
		}
	}
	return nil
}
