package scenario

import "strings"

// Payload templates (Spec.Template) make every message look like the
// application's own, with per-connection and per-message fields:
//
//	{"type":"chat","user":"u{{conn}}","seq":{{seq}},"id":"{{stamp}}"}
//
// {{conn}} is the connection's index in the run, {{seq}} the message's
// sequence number on it, and {{stamp}} (required, once) the message's
// timing stamp, which the echo must carry back.

// TemplateField is what one part of a template holds.
type TemplateField uint8

// Template fields.
const (
	FieldLiteral TemplateField = iota // literal text
	FieldConn                         // {{conn}}
	FieldSeq                          // {{seq}}
	FieldStamp                        // {{stamp}}
)

// TemplatePart is a literal text (Lit) or a field of a template.
type TemplatePart struct {
	Field TemplateField
	Lit   string
}

// ParseTemplate splits a template into literal text and fields; its errors
// are FieldErrors on template.
func ParseTemplate(t string) ([]TemplatePart, error) {
	var parts []TemplatePart
	stamps := 0
	for len(t) > 0 {
		i := strings.Index(t, "{{")
		if i < 0 {
			parts = append(parts, TemplatePart{Lit: t})
			break
		}
		if i > 0 {
			parts = append(parts, TemplatePart{Lit: t[:i]})
		}
		j := strings.Index(t[i:], "}}")
		if j < 0 {
			return nil, fieldErr("template", "%q opens a field with {{ and never closes it", t[i:])
		}
		name := strings.TrimSpace(t[i+2 : i+j])
		switch name {
		case "conn":
			parts = append(parts, TemplatePart{Field: FieldConn})
		case "seq":
			parts = append(parts, TemplatePart{Field: FieldSeq})
		case "stamp":
			parts = append(parts, TemplatePart{Field: FieldStamp})
			stamps++
		default:
			return nil, fieldErr("template", "unknown field {{%s}} (want {{conn}}, {{seq}} or {{stamp}})", name)
		}
		t = t[i+j+2:]
	}
	if stamps != 1 {
		return nil, fieldErr("template", "needs {{stamp}} exactly once (it carries the timing the echo brings back), found %d", stamps)
	}
	for k := 1; k < len(parts); k++ {
		if parts[k-1].Field == FieldSeq || parts[k-1].Field == FieldConn {
			if parts[k].Field == FieldConn || parts[k].Field == FieldSeq ||
				(parts[k].Field == FieldLiteral && parts[k].Lit[0] >= '0' && parts[k].Lit[0] <= '9') {
				return nil, fieldErr("template", "a number field must not be followed by digits or another number field (an echo could not be read back)")
			}
		}
	}
	return parts, nil
}
