package flow

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// Field is what one part of a Template holds.
type Field uint8

// Template fields. A number field is decimal unless it has a width suffix
// (:be16, :be32, :be64: big-endian bytes, for binary protocols; :decN:
// exactly N decimal digits, zero-padded, the number modulo 10^N, for text
// inside a binary frame that carries its length, such as an MQTT client
// id or topic).
const (
	Lit   Field = iota // literal bytes
	Conn               // {{conn}}: the connection's index in the run
	Seq                // {{seq}}: the message's sequence number on its connection (from 0)
	ID                 // {{id}}: the request's correlation id (from 1 on each connection)
	NowNS              // {{now_ns}}: the send time, Unix nanoseconds
	NowMS              // {{now_ms}}: the send time, Unix milliseconds
	Var                // {{NAME}}: a variable (a captured value, a data-file column, the token)
)

// Part is a literal (Lit) or a field of a Template.
type Part struct {
	Field Field
	Lit   []byte
	Width int // 0: decimal; 2, 4, 8: big-endian bytes
	Var   int // the variable's index in the Names the template was parsed with

	// Digits, when set, makes a decimal field exactly that many digits
	// (:decN).
	Digits int
}

// Template is a message with fields filled in per message:
//
//	{"jsonrpc":"2.0","id":{{id}},"method":"echo","params":["{{user}}",{{now_ms}}]}
type Template struct {
	Src   string
	Parts []Part
}

// Names numbers the variables of a run's templates and matchers ({{user}},
// a capture's name): every template parsed with the same Names refers to
// the same Values.Vars slot by name.
type Names struct{ list []string }

// Index is name's slot, added if new.
func (n *Names) Index(name string) int {
	for i, s := range n.list {
		if s == name {
			return i
		}
	}
	n.list = append(n.list, name)
	return len(n.list) - 1
}

// Lookup is name's slot, or -1.
func (n *Names) Lookup(name string) int {
	for i, s := range n.list {
		if s == name {
			return i
		}
	}
	return -1
}

// List is the names in slot order.
func (n *Names) List() []string { return n.list }

// Values are what a Template's fields are filled with.
type Values struct {
	Conn, Seq, ID uint64
	Now           int64 // Unix ns
	Vars          [][]byte
}

// ParseTemplate reads a template; names (nil: variables are an error)
// numbers its variables. Errors say what is wrong with s, for the caller to
// prefix with the flag or field.
func ParseTemplate(s string, names *Names) (*Template, error) {
	t := &Template{Src: s}
	rest := s
	for len(rest) > 0 {
		i := strings.Index(rest, "{{")
		if i < 0 {
			t.Parts = append(t.Parts, Part{Lit: []byte(rest)})
			break
		}
		if i > 0 {
			t.Parts = append(t.Parts, Part{Lit: []byte(rest[:i])})
		}
		j := strings.Index(rest[i:], "}}")
		if j < 0 {
			return nil, fmt.Errorf("%q opens a field with {{ and never closes it", rest[i:])
		}
		name := strings.TrimSpace(rest[i+2 : i+j])
		p := Part{}
		if k := strings.IndexByte(name, ':'); k >= 0 {
			switch name[k+1:] {
			case "be16":
				p.Width = 2
			case "be32":
				p.Width = 4
			case "be64":
				p.Width = 8
			default:
				if d, err := strconv.Atoi(strings.TrimPrefix(name[k+1:], "dec")); err == nil && strings.HasPrefix(name[k+1:], "dec") && d >= 1 && d <= 20 {
					p.Digits = d
					break
				}
				return nil, fmt.Errorf("{{%s}}: unknown format %q (want be16, be32, be64 or dec1 to dec20)", name, name[k+1:])
			}
			name = name[:k]
		}
		switch name {
		case "conn":
			p.Field = Conn
		case "seq":
			p.Field = Seq
		case "id":
			p.Field = ID
		case "now_ns":
			p.Field = NowNS
		case "now_ms":
			p.Field = NowMS
		default:
			if !validName(name) {
				return nil, fmt.Errorf("{{%s}}: want {{conn}}, {{seq}}, {{id}}, {{now_ns}}, {{now_ms}} or a variable's name", name)
			}
			if names == nil {
				return nil, fmt.Errorf("{{%s}}: unknown field (want {{conn}}, {{seq}}, {{id}}, {{now_ns}} or {{now_ms}})", name)
			}
			if p.Width != 0 || p.Digits != 0 {
				return nil, fmt.Errorf("{{%s}}: a variable has no number format", name)
			}
			p.Field, p.Var = Var, names.Index(name)
		}
		t.Parts = append(t.Parts, p)
		rest = rest[i+j+2:]
	}
	return t, nil
}

// MustTemplate is ParseTemplate for templates written in code (the presets).
func MustTemplate(s string) *Template {
	t, err := ParseTemplate(s, nil)
	if err != nil {
		panic(err)
	}
	return t
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r == '.' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// Has reports whether t has field f.
func (t *Template) Has(f Field) bool {
	for _, p := range t.Parts {
		if p.Field == f {
			return true
		}
	}
	return false
}

// Append renders t with v onto dst. It allocates only when dst must grow.
func (t *Template) Append(dst []byte, v *Values) []byte {
	for _, p := range t.Parts {
		var n uint64
		switch p.Field {
		case Lit:
			dst = append(dst, p.Lit...)
			continue
		case Var:
			if p.Var < len(v.Vars) {
				dst = append(dst, v.Vars[p.Var]...)
			}
			continue
		case Conn:
			n = v.Conn
		case Seq:
			n = v.Seq
		case ID:
			n = v.ID
		case NowNS:
			n = uint64(v.Now)
		case NowMS:
			n = uint64(v.Now / 1e6)
		}
		switch p.Width {
		case 0:
			if p.Digits > 0 {
				dst = appendDigits(dst, n, p.Digits)
				break
			}
			dst = strconv.AppendUint(dst, n, 10)
		case 2:
			dst = binary.BigEndian.AppendUint16(dst, uint16(n))
		case 4:
			dst = binary.BigEndian.AppendUint32(dst, uint32(n))
		case 8:
			dst = binary.BigEndian.AppendUint64(dst, n)
		}
	}
	return dst
}

// Fixed reports whether every rendering of t has the same length (no
// decimal numbers and no variables): binary protocols whose frames carry
// their own length (MQTT) need that, or a Framer.
func (t *Template) Fixed() bool {
	for _, p := range t.Parts {
		if p.Field == Var || (p.Field != Lit && p.Width == 0 && p.Digits == 0) {
			return false
		}
	}
	return true
}

// appendDigits appends the last d decimal digits of n, zero-padded.
func appendDigits(dst []byte, n uint64, d int) []byte {
	var buf [20]byte
	for i := d - 1; i >= 0; i-- {
		buf[i] = byte('0' + n%10)
		n /= 10
	}
	return append(dst, buf[:d]...)
}
