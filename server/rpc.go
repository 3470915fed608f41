package server

import (
	"encoding/json"
	"strconv"
	"time"
)

// This file is ModeRPC's answer to a request and ModePush's stream message:
// the bytes, built without encoding/json's reflection. They are portable
// (the event loops that send them are Linux only) so that they can be tested
// everywhere.

// Replies of ModeRPC.
const (
	// rpcParseError answers a message that is not a JSON object.
	rpcParseError = `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}`
)

// appendAnswer appends ModeRPC's reply to the request p to dst and reports
// whether there is one: {"jsonrpc":"2.0","id":ID,"result":PARAMS} with the
// request's id and params copied byte for byte (null for no params); a
// JSON-RPC parse error (id null) for a message that is not a JSON object; no
// reply for an object without an id (a notification).
func appendAnswer(dst, p []byte) ([]byte, bool) {
	if !json.Valid(p) { // no allocation: a scan
		return append(dst, rpcParseError...), true
	}
	id, params, ok := requestFields(p)
	if !ok {
		return append(dst, rpcParseError...), true
	}
	if id == nil {
		return dst, false
	}
	dst = append(dst, `{"jsonrpc":"2.0","id":`...)
	dst = append(dst, id...)
	dst = append(dst, `,"result":`...)
	if params == nil {
		params = []byte("null")
	}
	dst = append(dst, params...)
	return append(dst, '}'), true
}

// requestFields returns the values (as sent) of the top-level members "id"
// and "params" of p, valid JSON, or nil for those absent; ok is false when p
// is not an object. A member given twice counts by its last value, as
// encoding/json reads it.
func requestFields(p []byte) (id, params []byte, ok bool) {
	i := skipSpace(p, 0)
	if i >= len(p) || p[i] != '{' {
		return nil, nil, false
	}
	i++
	for {
		i = skipSpace(p, i)
		if p[i] == '}' {
			return id, params, true
		}
		ks := i
		i = skipValue(p, i) // the key: a string
		key := p[ks+1 : i-1]
		i = skipSpace(p, i) + 1 // ':'
		i = skipSpace(p, i)
		vs := i
		i = skipValue(p, i)
		switch string(key) { // no allocation: compared in place
		case "id":
			id = p[vs:i]
		case "params":
			params = p[vs:i]
		}
		i = skipSpace(p, i)
		if p[i] == ',' {
			i++
		}
	}
}

func skipSpace(p []byte, i int) int {
	for i < len(p) && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the end of the JSON value that starts at p[i]; p is
// valid JSON.
func skipValue(p []byte, i int) int {
	switch p[i] {
	case '"':
		for i++; p[i] != '"'; i++ {
			if p[i] == '\\' {
				i++
			}
		}
		return i + 1
	case '{', '[':
		depth := 0
		for ; ; i++ {
			switch p[i] {
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			case '"':
				i = skipValue(p, i) - 1
			}
		}
	default: // number, true, false, null
		for i < len(p) && p[i] != ',' && p[i] != '}' && p[i] != ']' &&
			p[i] != ' ' && p[i] != '\t' && p[i] != '\n' && p[i] != '\r' {
			i++
		}
		return i
	}
}

// appendPushMessage appends ModePush's stream message number seq (from 1),
// stamped with t: {"seq":SEQ,"sent_ns":NS}, NS being t in nanoseconds since
// the Unix epoch.
func appendPushMessage(dst []byte, seq uint64, t time.Time) []byte {
	dst = append(dst, `{"seq":`...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, `,"sent_ns":`...)
	dst = strconv.AppendInt(dst, t.UnixNano(), 10)
	return append(dst, '}')
}
