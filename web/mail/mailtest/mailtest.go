// Package mailtest is an SMTP server on the loopback address that keeps
// what it receives, for tests of the mail the portal sends.
package mailtest

import (
	"bufio"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"
)

// Received is one message as the server got it.
type Received struct {
	From, To string
	Data     string // headers and body, dot-unstuffed
}

// Server speaks just enough SMTP (no TLS, no auth) for net/smtp to deliver.
type Server struct {
	Addr string
	ln   net.Listener
	mu   sync.Mutex
	msgs []Received
	wg   sync.WaitGroup
}

// Start listens on 127.0.0.1 and stops when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: ln.Addr().String(), ln: ln}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

// URL is the portal's setting for this server.
func (s *Server) URL() string { return "smtp://" + s.Addr }

// Messages returns what was delivered so far.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.msgs...)
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer conn.Close()
			s.serve(textproto.NewConn(conn))
		}()
	}
}

func (s *Server) serve(c *textproto.Conn) {
	reply := func(line string) bool { return c.PrintfLine("%s", line) == nil }
	if !reply("220 mailtest ESMTP") {
		return
	}
	var cur Received
	for {
		line, err := c.ReadLine()
		if err != nil {
			return
		}
		verb := strings.ToUpper(strings.SplitN(line, " ", 2)[0])
		switch verb {
		case "EHLO", "HELO":
			reply("250 mailtest")
		case "MAIL":
			cur = Received{From: addr(line)}
			reply("250 OK")
		case "RCPT":
			cur.To = addr(line)
			reply("250 OK")
		case "DATA":
			reply("354 end with .")
			b, rerr := readDot(c.Reader.R)
			if rerr != nil {
				return
			}
			cur.Data = b
			s.mu.Lock()
			s.msgs = append(s.msgs, cur)
			s.mu.Unlock()
			reply("250 queued")
		case "QUIT":
			reply("221 bye")
			return
		default:
			reply("250 OK")
		}
	}
}

func readDot(r *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return "", err
		}
		if line == ".\r\n" || line == ".\n" {
			return b.String(), nil
		}
		b.WriteString(strings.TrimPrefix(line, "."))
	}
}

func addr(line string) string {
	i, j := strings.Index(line, "<"), strings.Index(line, ">")
	if i < 0 || j < i {
		return ""
	}
	return line[i+1 : j]
}
