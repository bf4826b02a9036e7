package soak

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// gate is a TCP relay on a loopback port of its own in front of a server
// (the emulator's SMTP port). Down closes its listener and every relayed
// connection, as a server that went away; Up listens on the same port again.
// TLS runs end to end through it.
type gate struct {
	target string
	addr   string
	port   int

	mu    sync.Mutex
	ln    net.Listener // nil while down
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newGate(t *testing.T, target string) *gate {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{target: target, addr: ln.Addr().String(), port: ln.Addr().(*net.TCPAddr).Port, conns: map[net.Conn]struct{}{}}
	g.serve(ln)
	t.Cleanup(func() {
		g.Down()
		g.wg.Wait()
	})
	return g
}

// Port is the gate's port.
func (g *gate) Port() int { return g.port }

func (g *gate) serve(ln net.Listener) {
	g.mu.Lock()
	g.ln = ln
	g.mu.Unlock()
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			g.wg.Add(1)
			go g.relay(c)
		}
	}()
}

// relay copies between c and a new connection to the target until either
// side ends or the gate goes down.
func (g *gate) relay(c net.Conn) {
	defer g.wg.Done()
	up, err := net.DialTimeout("tcp", g.target, 5*time.Second)
	if err != nil {
		c.Close()
		return
	}
	if !g.track(c, up) {
		c.Close()
		up.Close()
		return
	}
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(up, c)
		up.Close()
		c.Close()
		close(done)
	}()
	_, _ = io.Copy(c, up)
	c.Close()
	up.Close()
	<-done
	g.untrack(c, up)
}

func (g *gate) track(cs ...net.Conn) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ln == nil {
		return false
	}
	for _, c := range cs {
		g.conns[c] = struct{}{}
	}
	return true
}

func (g *gate) untrack(cs ...net.Conn) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, c := range cs {
		delete(g.conns, c)
	}
}

// Down stops listening and cuts every relayed connection.
func (g *gate) Down() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ln != nil {
		g.ln.Close()
		g.ln = nil
	}
	for c := range g.conns {
		c.Close()
		delete(g.conns, c)
	}
}

// Up listens on the gate's port again, retrying for a few seconds should
// the port be briefly unavailable.
func (g *gate) Up(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ln, err := net.Listen("tcp", g.addr)
		if err == nil {
			g.serve(ln)
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("gate: listen on %s again: %w", g.addr, err)
		case <-tick.C:
		}
	}
}
