package scenario

import (
	"cmp"
	"encoding/pem"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/wsbench/wsbench/internal/flow"
)

// FieldError is a problem with one setting of a Spec. Key is the setting's
// key in a scenario file (its JSON name: "conns", "source_ip",
// "groups[1].name", "stages[0].duration"); the command line names the
// flag that sets it instead (Text). Other settings the message mentions are
// keys too, written by Ref, so that they can be renamed the same way. An
// empty Key is a problem of several settings, which the message names.
type FieldError struct {
	Key string
	Err error
}

// Error is the error with every setting named by its key.
func (e *FieldError) Error() string { return e.Text(func(key string) string { return key }) }

func (e *FieldError) Unwrap() error { return e.Err }

// Text is the error with every setting, its own and those its message
// mentions, named by name(key).
func (e *FieldError) Text(name func(key string) string) string {
	msg := e.Err.Error()
	var b strings.Builder
	if e.Key != "" {
		b.WriteString(name(e.Key))
		b.WriteString(": ")
	}
	for {
		i := strings.IndexByte(msg, refMark)
		j := -1
		if i >= 0 {
			j = strings.IndexByte(msg[i+1:], refMark)
		}
		if j < 0 {
			b.WriteString(msg)
			return b.String()
		}
		b.WriteString(msg[:i])
		b.WriteString(name(msg[i+1 : i+1+j]))
		msg = msg[i+1+j+1:]
	}
}

// refMark brackets a setting's key inside a FieldError's message. (Values
// from the user are quoted with %q where they appear, which escapes it.)
const refMark = 0

// Ref is how a FieldError's message mentions another setting: by its key,
// which FieldError.Text renames.
func Ref(key string) string { return string(rune(refMark)) + key + string(rune(refMark)) }

// fieldErr is a FieldError on key with a formatted message.
func fieldErr(key, format string, a ...any) *FieldError {
	return &FieldError{Key: key, Err: fmt.Errorf(format, a...)}
}

// Header is one extra header of the opening handshake.
type Header struct{ Name, Value string }

// Compiled is a Spec turned into the values a run uses, each parsed, read
// and checked once, by Compile: nothing after it parses the Spec's strings
// or opens the files it names.
type Compiled struct {
	// Spec is the scenario as given.
	Spec Spec
	// Kind, Model and Arrival are the Spec's, with the defaults filled in.
	Kind    Kind
	Model   Model
	Arrival Arrival
	// Sources are the local addresses of SourceIP (nil: the kernel's choice).
	Sources []netip.Addr
	// Headers are the extra handshake headers, Origin not included.
	Headers []Header
	// Template is the message template, parsed (nil: none).
	Template []TemplatePart
	// Payload holds the bytes of PayloadFile (nil: none).
	Payload []byte
	// Tokens are the lines of TokensFile (nil: none).
	Tokens []string
	// CA holds the PEM certificates of the CA file, trusted on top of the
	// system's roots (nil: none). (Parsed into a pool by the driver:
	// crypto/x509 would tie this package, and results, to package net.)
	CA []byte
	// Schedule is the open-model schedule; Plan the staged plan (a run that
	// is not staged is one stage).
	Schedule Schedule
	Plan     Plan
	// Groups are a mix's groups, each compiled as the scenario it runs.
	Groups []*Compiled

	// Protocol is how a request, subscribe or flow run speaks: a preset's
	// (Spec.Protocol) with the Spec's own parts on top (nil: the stamp
	// workloads: echo, ping, broadcast, hold, connect).
	Protocol *flow.Protocol
	// Steps is a flow run's script.
	Steps []flow.Step
	// Names numbers the variables of Protocol's and Steps' templates and
	// captures, and the data file's columns.
	Names *flow.Names
	// Data holds the data file's rows: connection i takes row i mod
	// len(Data), each value in its variable's slot (Names).
	Data [][][]byte
	// script: Script is Steps compiled for the flow interpreter (nil: no
	// steps), shared read-only by every connection's flow.Session.
	Script *flow.Script

	files *reader // the files read, for Recompile
}

// Recompile compiles s, a variant of c's Spec (another rate or
// connection count), reading only the files c did not read. It is not safe
// for concurrent use.
func (c *Compiled) Recompile(s Spec) (*Compiled, error) { return done(compile(s, c.files)) }

// done is what compile gave, nil with an error.
func done(c *Compiled, err error) (*Compiled, error) {
	if err != nil {
		return nil, err
	}
	return c, nil
}

// BinaryMessages reports whether the run's messages are binary frames
// (--binary, or the pings of kind ping): their payload need not be UTF-8.
func (c *Compiled) BinaryMessages() bool { return c.Spec.Binary || c.Kind == KindPing }

// Share is c for one process of a run split over processes: the same
// compiled values, with conns of the whole run's connections. (A part is
// compiled as the whole run: a broadcast room may span processes.)
func (c *Compiled) Share(conns int) *Compiled {
	out := *c
	out.Spec.Conns = conns
	return &out
}

// ReadFunc reads a file the Spec names (os.ReadFile, or a test's files).
type ReadFunc func(name string) ([]byte, error)

// Compile checks s, every problem at once (FieldErrors naming their keys),
// and returns its values parsed, with the files it names (payload_file,
// tokens_file, ca) read.
func Compile(s Spec) (*Compiled, error) { return CompileWith(s, os.ReadFile) }

// CompileWith is Compile reading files with read.
func CompileWith(s Spec, read ReadFunc) (*Compiled, error) {
	if read == nil {
		return nil, errors.New("scenario: CompileWith needs a ReadFunc")
	}
	return done(compile(s, &reader{read: read, seen: map[string]readResult{}}))
}

// Validate returns every problem with s at once, each a FieldError naming
// its key (or a target URL error): Compile's checks, without reading the
// files s names.
func (s Spec) Validate() error {
	_, err := compile(s, nil)
	return err
}

// reader reads each file once, however many groups name it (nil: files
// are not read).
type reader struct {
	read ReadFunc
	seen map[string]readResult
}

type readResult struct {
	b   []byte
	err error
}

// file reads name, or returns what reading it gave before; read is false
// when files are not read (r is nil).
func (r *reader) file(name string) (b []byte, read bool, err error) {
	if r == nil {
		return nil, false, nil
	}
	res, ok := r.seen[name]
	if !ok {
		res.b, res.err = r.read(name)
		r.seen[name] = res
	}
	return res.b, true, res.err
}

// groupKeys are the keys a group may set: a group's problem with one of
// them is keyed groups[i].key.
var groupKeys = jsonFields(reflect.TypeFor[Group]())

func compile(s Spec, rd *reader) (*Compiled, error) {
	c := &Compiled{Spec: s, Kind: cmp.Or(s.Kind, KindEcho), Model: s.Model(), Arrival: cmp.Or(s.Arrival, ArrivalUniform), files: rd}
	var errs []error
	if s.Target != "" {
		if err := CheckURL(s.Target); err != nil {
			errs = append(errs, err)
		}
	}
	if s.Mixed() {
		errs = append(errs, s.checkMix()...)
		seen := map[string]bool{}
		for _, e := range errs {
			seen[e.Error()] = true
		}
		for i, g := range s.Groups {
			gc, err := compile(s.GroupSpec(i), rd)
			c.Groups = append(c.Groups, gc)
			for _, e := range flatten(err) {
				if fe, ok := e.(*FieldError); ok && fe.Key != "" {
					if _, own := groupKeys[fe.Key]; own {
						e = &FieldError{Key: fmt.Sprintf("groups[%d].%s", i, fe.Key), Err: fmt.Errorf("%w (group %q)", fe.Err, g.Name)}
					}
				}
				if !seen[e.Error()] { // the top level's problems once, not once per group
					seen[e.Error()] = true
					errs = append(errs, e)
				}
			}
		}
		return c, errors.Join(errs...)
	}
	errs = append(errs, s.check()...)
	errs = append(errs, c.compileProtocol()...) // rpc: the protocol kinds' Protocol
	var err error
	if c.Sources, err = ParseSourceIPs(s.SourceIP); err != nil {
		errs = append(errs, err)
	}
	for _, h := range s.Headers {
		name, value, err := ParseHeader(h)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		// script: ${NAME} in a header's value is the environment's (a secret).
		if value, err = expandEnv(value); err != nil {
			errs = append(errs, fieldErr("headers", "%s: %v", name, err))
			continue
		}
		c.Headers = append(c.Headers, Header{name, value})
	}
	if s.Template != "" {
		if c.Template, err = ParseTemplate(s.Template); err != nil {
			errs = append(errs, err)
		} else if !c.BinaryMessages() && !utf8.ValidString(s.Template) {
			errs = append(errs, fieldErr("template", "text messages must be UTF-8; use %s for other bytes", Ref("binary")))
		}
	}
	errs = append(errs, c.readFiles(rd)...)
	errs = append(errs, c.compileFlow(rd)...) // script: steps, data_file, ${NAME}
	errs = append(errs, c.compileStream()...) // stream part
	c.Schedule = s.Schedule()
	c.Plan = s.Plan()
	return c, errors.Join(errs...)
}

// readFiles reads and checks the files c's Spec names (none when rd is nil).
func (c *Compiled) readFiles(rd *reader) []error {
	s := c.Spec
	var errs []error
	if s.PayloadFile != "" && s.Template == "" {
		if b, ok, err := rd.file(s.PayloadFile); ok {
			switch {
			case err != nil:
				errs = append(errs, &FieldError{Key: "payload_file", Err: err})
			case len(b) == 0:
				errs = append(errs, fieldErr("payload_file", "%s: empty", s.PayloadFile))
			case !c.BinaryMessages() && !utf8.Valid(b):
				errs = append(errs, fieldErr("payload_file", "%s: text messages must be UTF-8; use %s for other bytes", s.PayloadFile, Ref("binary")))
			default:
				c.Payload = b
			}
		}
	}
	if s.TokensFile != "" && strings.Contains(s.Query, "{{token}}") {
		if b, ok, err := rd.file(s.TokensFile); ok {
			var tokens []string
			for _, line := range strings.Split(string(b), "\n") {
				if line = strings.TrimSpace(line); line != "" {
					tokens = append(tokens, line)
				}
			}
			switch {
			case err != nil:
				errs = append(errs, &FieldError{Key: "tokens_file", Err: err})
			case len(tokens) == 0:
				errs = append(errs, fieldErr("tokens_file", "%s: no tokens in it (one per line)", s.TokensFile))
			default:
				c.Tokens = tokens
			}
		}
	}
	if s.CA != "" && !s.Insecure {
		if pem, ok, err := rd.file(s.CA); ok {
			if err != nil {
				return append(errs, &FieldError{Key: "ca", Err: err})
			}
			if !hasCertificate(pem) {
				return append(errs, fieldErr("ca", "%s: no PEM certificate in it", s.CA))
			}
			c.CA = pem
		}
	}
	return errs
}

// hasCertificate reports whether b holds a PEM certificate block.
func hasCertificate(b []byte) bool {
	for {
		var blk *pem.Block
		if blk, b = pem.Decode(b); blk == nil {
			return false
		}
		if blk.Type == "CERTIFICATE" && len(blk.Headers) == 0 {
			return true
		}
	}
}

// checkMix checks what a mix sets beside its groups: unique names, and
// neither stages nor processes.
func (s Spec) checkMix() []error {
	var errs []error
	bad := func(key, format string, a ...any) { errs = append(errs, fieldErr(key, format, a...)) }
	s.validateStages(bad)
	names := map[string]bool{}
	for i, g := range s.Groups {
		switch {
		case g.Name == "":
			bad(fmt.Sprintf("groups[%d].name", i), "every group needs a name")
		case names[g.Name]:
			bad(fmt.Sprintf("groups[%d].name", i), "%q names two groups", g.Name)
		}
		names[g.Name] = true
	}
	if s.Staged() {
		bad("groups", "a mix runs for %s; it cannot also have stages", Ref("duration"))
	}
	if s.Procs > 1 {
		bad("procs", "a mix runs in one process")
	}
	return errs
}

// flatten lists the errors errors.Join put together in err (err itself
// when it is not joined; none for nil).
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return slices.Clone(j.Unwrap())
	}
	return []error{err}
}
