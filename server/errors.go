package server

import "errors"

// Errors returned by the Server's methods.
var (
	// ErrUnsupported is returned by New on platforms without epoll.
	ErrUnsupported = errors.New("server: unsupported platform (the reference server needs Linux epoll)")
	// ErrServerClosed is returned by Listen after Shutdown.
	ErrServerClosed = errors.New("server: closed")
	// ErrAlreadyListening is returned by a second Listen.
	ErrAlreadyListening = errors.New("server: already listening")
)
