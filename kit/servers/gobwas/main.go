// Command gobwas is the wsbench kit server built on gobwas/ws: /echo echoes
// every message with its opcode, /bcast sends every message to every /bcast
// connection. See kit/README.md for the protocol.
//
// Written the way gobwas/ws's README recommends for speed: the zero-copy
// ws.Upgrader straight on the net.Conn (no net/http), and the middle-level
// wsutil.Reader/Writer with reused buffers, control frames answered by
// wsutil.ControlFrameHandler, permessage-deflate through wsflate's
// MessageState. /bcast compiles each frame once and writes the same bytes to
// every member, as gobwas/ws-examples' chat does.
package main

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsbench/wsbench/kit/servers/internal/kit"
)

// conn is one upgraded connection. Writes to a /bcast connection come from
// every member's goroutine, so they hold mu and write one whole frame each.
type conn struct {
	mu      sync.Mutex
	nc      net.Conn
	deflate bool // permessage-deflate negotiated
}

// Write writes p under mu; the control handler writes whole frames with one
// Write, so a pong or close never lands inside another member's frame.
func (c *conn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nc.Write(p)
}

type server struct {
	deflate bool
	members kit.Members[*conn]
}

func main() {
	flags := kit.ParseFlags("gobwas")
	s := &server{deflate: flags.Deflate}
	ln, err := kit.Listen(flags.Addr)
	if err != nil {
		kit.Fatal("gobwas", err)
	}
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				continue
			}
			go s.serve(nc)
		}
	}()
	kit.WaitSignal()
	_ = ln.Close()
}

func (s *server) serve(nc net.Conn) {
	defer nc.Close()
	var path string
	ext := wsflate.Extension{Parameters: wsflate.DefaultParameters}
	u := ws.Upgrader{
		OnRequest: func(uri []byte) error {
			if i := bytes.IndexByte(uri, '?'); i >= 0 {
				uri = uri[:i]
			}
			path = kit.Route(string(uri))
			if path == "" {
				return ws.RejectConnectionError(ws.RejectionStatus(http.StatusNotFound))
			}
			return nil
		},
	}
	if s.deflate {
		u.Negotiate = ext.Negotiate
	}
	if _, err := u.Upgrade(nc); err != nil {
		return
	}
	c := &conn{nc: nc}
	_, c.deflate = ext.Accepted()
	if path == kit.BcastPath {
		s.members.Add(c)
		defer s.members.Remove(c)
		s.bcast(c)
		return
	}
	s.echo(c)
}

// reader returns a message reader for c: control frames between fragments go
// to ctrl, and with deflate negotiated the RSV1 bit lands in msg.
func reader(c *conn, ctrl wsutil.FrameHandlerFunc, msg *wsflate.MessageState) *wsutil.Reader {
	rd := &wsutil.Reader{
		Source:         c.nc,
		State:          ws.StateServerSide,
		MaxFrameSize:   kit.MaxMessage,
		OnIntermediate: ctrl,
	}
	if c.deflate {
		rd.State |= ws.StateExtended
		rd.Extensions = []wsutil.RecvExtension{msg}
	}
	return rd
}

func newFlateReader() *wsflate.Reader {
	return wsflate.NewReader(nil, func(r io.Reader) wsflate.Decompressor { return flate.NewReader(r) })
}

// echo streams each message into a writer of the same opcode; a compressed
// message is decompressed and its echo compressed again.
func (s *server) echo(c *conn) {
	var msg wsflate.MessageState
	ctrl := wsutil.ControlFrameHandler(c.nc, ws.StateServerSide)
	rd := reader(c, ctrl, &msg)
	wr := wsutil.NewWriter(c.nc, ws.StateServerSide, ws.OpText)
	var fr *wsflate.Reader
	var fw *wsflate.Writer
	if c.deflate {
		wr = wsutil.NewWriter(c.nc, ws.StateServerSide|ws.StateExtended, ws.OpText)
		wr.SetExtensions(&msg)
		fr = newFlateReader()
		fw = wsflate.NewWriter(nil, func(w io.Writer) wsflate.Compressor {
			f, _ := flate.NewWriter(w, flate.BestSpeed)
			return f
		})
	}
	for {
		h, err := rd.NextFrame()
		if err != nil {
			return
		}
		if h.OpCode.IsControl() {
			if err := ctrl(h, rd); err != nil {
				return // a close was answered, or the connection failed
			}
			continue
		}
		wr.ResetOp(h.OpCode)
		if msg.IsCompressed() {
			fr.Reset(rd)
			fw.Reset(wr)
			if _, err := io.Copy(fw, fr); err != nil {
				return
			}
			if err := fw.Close(); err != nil {
				return
			}
		} else if _, err := io.Copy(wr, rd); err != nil {
			return
		}
		if err := wr.Flush(); err != nil {
			return
		}
	}
}

// bcast reads each whole message, compiles its frame once (and its
// compressed frame once, if a member negotiated deflate) and writes the same
// bytes to every member.
func (s *server) bcast(c *conn) {
	var msg wsflate.MessageState
	ctrl := wsutil.ControlFrameHandler(c, ws.StateServerSide)
	rd := reader(c, ctrl, &msg)
	var fr *wsflate.Reader
	if c.deflate {
		fr = newFlateReader()
	}
	var payload bytes.Buffer
	for {
		h, err := rd.NextFrame()
		if err != nil {
			return
		}
		if h.OpCode.IsControl() {
			if err := ctrl(h, rd); err != nil {
				return
			}
			continue
		}
		payload.Reset()
		var src io.Reader = rd
		if msg.IsCompressed() {
			fr.Reset(rd)
			src = fr
		}
		if _, err := payload.ReadFrom(io.LimitReader(src, kit.MaxMessage+1)); err != nil {
			return
		}
		if payload.Len() > kit.MaxMessage {
			_, _ = c.Write(ws.MustCompileFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusMessageTooBig, ""))))
			return
		}
		frame := ws.NewFrame(h.OpCode, true, payload.Bytes())
		plain := ws.MustCompileFrame(frame)
		var compressed []byte
		for _, to := range s.members.Load() {
			b := plain
			if to.deflate {
				if compressed == nil {
					cf, err := wsflate.CompressFrame(frame)
					if err != nil {
						return
					}
					compressed = ws.MustCompileFrame(cf)
				}
				b = compressed
			}
			if _, err := to.Write(b); err != nil && to == c {
				return
			}
		}
	}
}
