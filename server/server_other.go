//go:build !linux

package server

import (
	"context"
	"net"
)

// Server is the reference WebSocket server. On this platform New always
// fails; the type exists so that code using it compiles everywhere.
type Server struct{ cfg Config }

// New validates cfg and reports ErrUnsupported.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return nil, ErrUnsupported
}

// Config returns the configuration in use.
func (s *Server) Config() Config { return s.cfg }

// Listen reports ErrUnsupported.
func (s *Server) Listen() (net.Addr, error) { return nil, ErrUnsupported }

// Addr returns nil.
func (s *Server) Addr() net.Addr { return nil }

// Shutdown does nothing.
func (s *Server) Shutdown(ctx context.Context) error { return nil }

// Stats returns zero counters.
func (s *Server) Stats() Stats { return Stats{CloseCodesSent: map[uint16]uint64{}} }

// Warnings returns nil.
func (s *Server) Warnings() []string { return nil }

// StatsAddr returns nil.
func (s *Server) StatsAddr() net.Addr { return nil }
