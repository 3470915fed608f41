package server

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/gobwas/ws"
)

// This file is the opening handshake (RFC 6455 section 4.2) as the server
// runs it on an accepted connection, apart from the socket bookkeeping: the
// request is parsed and answered by gobwas/ws's Upgrader, configured from
// Config, with the few checks gobwas leaves out. It needs no socket, so it
// can be fuzzed on in-memory requests.

// maxRequest bounds the size of a handshake request.
const maxRequest = 16 << 10

var errRequestTooLarge = errors.New("server: handshake request larger than 16 KiB")

// errOriginRejected makes gobwas answer a handshake with 403.
var errOriginRejected = ws.RejectConnectionError(
	ws.RejectionStatus(http.StatusForbidden),
	ws.RejectionReason("origin not allowed"))

// errBadKey makes gobwas answer a handshake whose Sec-WebSocket-Key is not
// one base64 value of 16 bytes with 400. gobwas checks only its length.
var errBadKey = ws.ErrHandshakeBadSecKey

// badRequest is the answer to a request gobwas drops without one: a request
// line it cannot parse.
const badRequest = "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"

// newUpgrader returns the Upgrader every handshake of a server with cfg
// starts from: it selects a subprotocol from cfg.Subprotocols.
func newUpgrader(cfg *Config) ws.Upgrader {
	var u ws.Upgrader
	if protos := cfg.Subprotocols; len(protos) > 0 {
		// gobwas calls this for the client's offers in the client's
		// order and takes the first accepted one.
		u.Protocol = func(p []byte) bool {
			for _, sp := range protos {
				if string(p) == sp {
					return true
				}
			}
			return false
		}
	}
	return u
}

// upgraded is what a successful opening handshake leaves for the event loop.
type upgraded struct {
	proto   string // the subprotocol selected, "" for none
	room    string // broadcast mode: the room named by the request URI
	deflate bool   // permessage-deflate was negotiated
	extra   []byte // bytes the client sent behind its request
}

// upgrade runs the server side of the opening handshake over rw: it reads
// the request (at most maxRequest bytes) and writes the 101 response, or
// refuses the request. A request that breaks RFC 6455 section 4.2.1 gets a
// 4xx response (505 for an HTTP version other than 1.1 or later) unless it
// could not be read (read error, EOF, over maxRequest), in which case no
// response is written. badOrigin says a refusal was for its Origin
// (Config.AllowedOrigins: 403).
func upgrade(cfg *Config, u ws.Upgrader, rw io.ReadWriter) (up upgraded, badOrigin bool, err error) {
	rc := recConn{rw: rw}
	if cfg.Mode == ModeBroadcast {
		u.OnRequest = func(uri []byte) error {
			up.room = roomNameOf(string(uri))
			return nil
		}
	}
	var deflate deflateOffer
	if !cfg.DisableDeflate {
		u.Negotiate = deflate.negotiate
	}
	if origins := cfg.AllowedOrigins; len(origins) > 0 {
		u.OnHeader = func(key, value []byte) error {
			if string(key) != "Origin" || originAllowed(origins, value) {
				return nil
			}
			badOrigin = true
			return errOriginRejected
		}
	}
	// Every header has been read, and the request is in rc.buf.
	u.OnBeforeUpgrade = func() (ws.HandshakeHeader, error) {
		end := requestEnd(rc.buf)
		if end < 0 {
			return nil, ws.ErrMalformedRequest
		}
		return nil, checkRequest(rc.buf[:end])
	}
	hs, err := u.Upgrade(&rc)
	if err != nil {
		if !rc.wrote && rc.readErr == nil {
			rw.Write([]byte(badRequest)) // the connection is dropped next
		}
		return upgraded{}, badOrigin, err
	}
	up.proto = hs.Protocol
	up.deflate = deflate.accepted
	up.extra = rc.extra()
	return up, false, nil
}

// roomNameOf is the room a client joins in broadcast mode, from its request
// URI: <name> for /room/<name> (name not empty), else the whole path. The
// query string is not part of it.
func roomNameOf(uri string) string {
	if i := strings.IndexAny(uri, "?#"); i >= 0 {
		uri = uri[:i]
	}
	if name, ok := strings.CutPrefix(uri, "/room/"); ok && name != "" {
		return name
	}
	return uri
}

// originAllowed reports whether origin is one of allowed, ignoring case.
func originAllowed(allowed []string, origin []byte) bool {
	for _, a := range allowed {
		if len(a) == len(origin) && bytes.EqualFold([]byte(a), origin) {
			return true
		}
	}
	return false
}

// checkRequest makes the checks of RFC 6455 section 4.2.1 that gobwas
// leaves out, on the request head req (request line, headers and the empty
// line) that gobwas has accepted otherwise:
//
//   - a request line with a Request-URI and a well-formed HTTP version,
//     HTTP/1.1 to HTTP/1.9 (gobwas reads "HTTP/1.:" as 1.10);
//   - Connection and Sec-WebSocket-Protocol values that are lists of tokens
//     (gobwas finds the upgrade token in `Upgrade"x` too);
//   - a Sec-WebSocket-Key that is the base64 encoding of 16 bytes (gobwas
//     checks only its length), sent once (section 11.3.1).
func checkRequest(req []byte) error {
	line, _, _ := bytes.Cut(req, []byte{'\n'})
	line = bytes.TrimSuffix(line, []byte{'\r'})
	// Split as gobwas splits it: method, URI, then the rest.
	_, rest, _ := bytes.Cut(line, []byte{' '})
	uri, proto, _ := bytes.Cut(rest, []byte{' '})
	if len(uri) == 0 || len(proto) != len("HTTP/1.1") || !bytes.HasPrefix(proto, []byte("HTTP/1.")) ||
		proto[7] < '1' || proto[7] > '9' {
		return ws.ErrMalformedRequest
	}
	var key []byte
	keys := 0
	bad := false
	eachHeader(req, func(name, value []byte) {
		switch {
		case asciiEqualFold(name, "Sec-WebSocket-Key"):
			key = value
			keys++
		case asciiEqualFold(name, "Connection"), asciiEqualFold(name, "Sec-WebSocket-Protocol"):
			bad = bad || !tokenList(value)
		}
	})
	if bad {
		return ws.ErrMalformedRequest
	}
	if keys != 1 || !validKey(key) {
		return errBadKey
	}
	return nil
}

// eachHeader calls fn with the name and value of each header line of the
// request head req, split as gobwas splits them: at the first colon, name
// and value trimmed of spaces and tabs.
func eachHeader(req []byte, fn func(name, value []byte)) {
	_, rest, _ := bytes.Cut(req, []byte{'\n'}) // the request line
	for len(rest) > 0 {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte{'\n'})
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if k, v, ok := bytes.Cut(line, []byte{':'}); ok {
			fn(trimSpaceTab(k), trimSpaceTab(v))
		}
	}
}

// tokenList reports whether v is a comma-separated list of RFC 7230 tokens
// (empty elements and spaces or tabs around elements allowed, RFC 7230
// section 7).
func tokenList(v []byte) bool {
	for len(v) > 0 {
		var el []byte
		el, v, _ = bytes.Cut(v, []byte{','})
		if el = trimSpaceTab(el); len(el) > 0 && !isToken(string(el)) {
			return false
		}
	}
	return true
}

// validKey reports whether key, a Sec-WebSocket-Key value, is the base64
// encoding of 16 bytes.
func validKey(key []byte) bool {
	if len(key) != base64.StdEncoding.EncodedLen(16) {
		return false
	}
	var b [16 + 2]byte // DecodedLen(24) is 18
	n, err := base64.StdEncoding.Decode(b[:], key)
	return err == nil && n == 16
}

// trimSpaceTab trims spaces and tabs from both ends of b.
func trimSpaceTab(b []byte) []byte {
	return bytes.Trim(b, " \t")
}

// asciiEqualFold reports whether b and s are equal ignoring ASCII case (and
// only ASCII case: gobwas canonicalizes header names byte by byte).
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// recConn records what the handshake reads, so that bytes the client sent
// behind its request (which gobwas's buffered reader may have swallowed) can
// be handed to the event loop. It also bounds the request size, and
// remembers whether a read failed and whether a response was written.
type recConn struct {
	rw      io.ReadWriter
	buf     []byte
	readErr error // the first read error, errRequestTooLarge included
	wrote   bool  // a response (or part of one) was written
}

func (r *recConn) Read(p []byte) (int, error) {
	room := maxRequest - len(r.buf)
	if room <= 0 {
		r.readErr = errRequestTooLarge
		return 0, errRequestTooLarge
	}
	if len(p) > room {
		p = p[:room]
	}
	n, err := r.rw.Read(p)
	r.buf = append(r.buf, p[:n]...)
	if err != nil && r.readErr == nil {
		r.readErr = err
	}
	return n, err
}

func (r *recConn) Write(p []byte) (int, error) {
	r.wrote = true
	return r.rw.Write(p)
}

// extra returns the bytes read after the end of the request, nil if none.
func (r *recConn) extra() []byte {
	end := requestEnd(r.buf)
	if end < 0 || end >= len(r.buf) {
		return nil
	}
	return r.buf[end:]
}

// requestEnd returns the offset just past the empty line that ends the HTTP
// request in b, or -1. Lines end in "\n" with an optional "\r", as gobwas
// reads them; the first line is the request line.
func requestEnd(b []byte) int {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return -1
	}
	pos := i + 1
	for {
		j := bytes.IndexByte(b[pos:], '\n')
		if j < 0 {
			return -1
		}
		line := b[pos : pos+j]
		pos += j + 1
		if len(line) == 0 || (len(line) == 1 && line[0] == '\r') {
			return pos
		}
	}
}
