package web

import (
	"io"
	"net"
	"sync"
	"time"
)

// Listener wraps the portal's TCP listener so that a connection the server
// closes while the client is still sending (a body over the limit, headers
// too large) is closed gently: its write side first, then what the client
// still sends is read and dropped for a moment. Closing a socket with
// unread data sends a reset, and a client that gets it loses the answer
// it had not read yet; net/http's server lingers the same way.
func Listener(ln net.Listener) net.Listener { return lingerListener{ln} }

// Up to this long and this much is drained before the socket closes.
const (
	lingerFor   = 500 * time.Millisecond
	lingerBytes = 4 << 20
)

type lingerListener struct{ net.Listener }

func (l lingerListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if tcp, ok := c.(*net.TCPConn); ok {
		return &lingerConn{TCPConn: tcp}, nil
	}
	return c, nil
}

type lingerConn struct {
	*net.TCPConn
	once sync.Once
}

func (c *lingerConn) Close() error {
	c.once.Do(func() {
		if err := c.TCPConn.CloseWrite(); err != nil {
			c.TCPConn.Close()
			return
		}
		go func() {
			_ = c.TCPConn.SetReadDeadline(time.Now().Add(lingerFor))
			_, _ = io.CopyN(io.Discard, c.TCPConn, lingerBytes)
			c.TCPConn.Close()
		}()
	})
	return nil
}
