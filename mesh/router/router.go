// Package router owns the box's Babel speaker: the UDP socket on port
// 6696 and the link events that feed a babel.Engine, and the timers that
// drive it. The protocol itself is mesh/babel's.
package router

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"cpe/internal/clock"
	"cpe/mesh/babel"
)

// Net is the router's side of the network: Babel datagrams in and out,
// and the state of the interfaces Babel runs on.
type Net interface {
	// ReadFrom blocks for the next datagram; it fails once Close was
	// called.
	ReadFrom(b []byte) (n int, ifname string, src, dst netip.AddrPort, err error)
	// WriteTo sends to dst (the Babel group or a neighbour's link-local
	// address) on ifname, port 6696, hop limit 1, from the interface's
	// link-local address.
	WriteTo(b []byte, ifname string, dst netip.Addr) error
	// Links reports interfaces coming up (with a usable link-local
	// address) and going down. It is closed by Close.
	Links() <-chan LinkEvent
	Close() error
}

// LinkEvent is an interface becoming usable for Babel, or not any more.
type LinkEvent struct {
	Interface string
	Up        bool
	LinkLocal netip.Addr // when Up
}

// Config configures a Router.
type Config struct {
	Options babel.Options
	// Net is the network; Run closes it when it returns.
	Net   Net
	Clock clock.Clock // nil: the system clock
	// SaveState is called, before anything is sent, whenever the router-id
	// or seqno to be kept across restarts changes.
	SaveState func(babel.State) error
	// Routes is called with the whole list of routes for the forwarding
	// table whenever it changes (see babel.InstalledRoute).
	Routes func([]babel.InstalledRoute)
	Logger *slog.Logger
}

// Router runs a babel.Engine over a Net. Its methods are safe for
// concurrent use, with each other and with Run.
type Router struct {
	cfg  Config
	clk  clock.Clock
	log  *slog.Logger
	kick chan struct{}

	// stepMu keeps step's work in the engine's order: the reader, the
	// alarm and Run all step. It guards alarm and armed.
	stepMu sync.Mutex
	alarm  alarm     // nil outside Run
	armed  time.Time // the deadline alarm is set for

	mu           sync.Mutex
	e            *babel.Engine
	savedState   uint64
	routesSeen   uint64
	sendErrors   uint64
	lastErrorLog time.Time
}

// New creates the engine; nothing is sent before Run.
func New(cfg Config) (*Router, error) {
	if cfg.Net == nil {
		return nil, errors.New("router: no network")
	}
	r := &Router{cfg: cfg, clk: cfg.Clock, log: cfg.Logger, kick: make(chan struct{}, 1)}
	if r.clk == nil {
		r.clk = clock.System{}
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.log = r.log.With("component", "babel")
	if cfg.Options.Logger == nil {
		cfg.Options.Logger = cfg.Logger
	}
	e, err := babel.New(cfg.Options, r.clk.Now())
	if err != nil {
		return nil, fmt.Errorf("router: %w", err)
	}
	r.e = e
	return r, nil
}

// Run feeds the engine until ctx ends, then closes the network.
//
// Each event is handled on the goroutine it woke: a datagram on the
// reader's, a deadline on the alarm's. Whoever steps the engine arms the
// alarm for its next deadline. The loop here wakes only for link events
// and pokes. An idle box's work is a few dozen Hellos and updates a
// minute, and handing each to another goroutine was a good part of it.
func (r *Router) Run(ctx context.Context) error {
	a := r.newAlarm(r.tick)
	r.stepMu.Lock()
	r.alarm, r.armed = a, time.Time{}
	r.stepMu.Unlock()
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		buf := make([]byte, 65536)
		for {
			n, ifname, src, dst, err := r.cfg.Net.ReadFrom(buf)
			if err != nil {
				if ctx.Err() == nil {
					r.log.Warn("read", "err", err)
				}
				return
			}
			now := r.clk.Now()
			r.mu.Lock()
			r.e.Receive(now, ifname, src, dst, buf[:n])
			r.mu.Unlock()
			r.step(now)
		}
	}()
	defer func() {
		// Nothing steps once the alarm is gone: a late event finds no
		// alarm and leaves its output to the next Run.
		r.stepMu.Lock()
		r.alarm = nil
		r.stepMu.Unlock()
		a.close()
		r.cfg.Net.Close()
		<-readDone
		for range r.cfg.Net.Links() {
		}
	}()
	links := r.cfg.Net.Links()
	for {
		r.step(r.clk.Now())
		select {
		case <-ctx.Done():
			return nil
		case <-readDone:
			if ctx.Err() == nil {
				return errors.New("router: the network stopped delivering")
			}
			return nil
		case ev, ok := <-links:
			if !ok {
				links = nil
				break
			}
			r.link(ev)
		case <-r.kick:
		}
	}
}

// tick runs the engine's timers; the alarm calls it when a deadline
// comes.
func (r *Router) tick() {
	now := r.clk.Now()
	r.mu.Lock()
	r.e.Tick(now)
	r.mu.Unlock()
	r.step(now)
}

func (r *Router) link(ev LinkEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.clk.Now()
	if !ev.Up {
		r.e.LinkDown(now, ev.Interface)
		return
	}
	if err := r.e.LinkUp(now, ev.Interface, ev.LinkLocal); err != nil {
		r.log.Debug("link up", "interface", ev.Interface, "err", err)
	}
}

// step hands what the engine produced to the world: the state to disk
// first (a seqno must never go out before it is saved), then the
// datagrams, then the routes. Then it arms the alarm for the engine's
// next deadline, if that moved, counting from now, the time the caller
// gave the engine. Outside Run it does nothing.
func (r *Router) step(now time.Time) {
	r.stepMu.Lock()
	defer r.stepMu.Unlock()
	if r.alarm == nil {
		return
	}
	r.mu.Lock()
	out := r.e.Output()
	var state *babel.State
	if v := r.e.StateVersion(); v != r.savedState {
		st := r.e.State()
		state, r.savedState = &st, v
	}
	var routes []babel.InstalledRoute
	changed := false
	if v := r.e.RoutesVersion(); v != r.routesSeen {
		routes, r.routesSeen, changed = r.e.Installed(), v, true
	}
	next := r.e.Next()
	r.mu.Unlock()

	if state != nil && r.cfg.SaveState != nil {
		if err := r.cfg.SaveState(*state); err != nil {
			r.log.Error("cannot save the seqno", "err", err)
		}
	}
	for _, d := range out {
		if err := r.cfg.Net.WriteTo(d.Data, d.Interface, d.Dst); err != nil {
			r.sendFailed(d, err)
		}
	}
	if changed && r.cfg.Routes != nil {
		r.cfg.Routes(routes)
	}
	// An alarm that fired is spent: a deadline at or before now is armed
	// again even when it did not move.
	if !next.Equal(r.armed) || !next.After(now) {
		r.armed = next
		r.alarm.set(next.Sub(now))
	}
}

func (r *Router) sendFailed(d babel.Datagram, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sendErrors++
	if now := r.clk.Now(); now.Sub(r.lastErrorLog) >= time.Minute {
		r.lastErrorLog = now
		r.log.Warn("send", "interface", d.Interface, "dst", d.Dst, "err", err, "failures", r.sendErrors)
	}
}

func (r *Router) poke() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// LinkDown drops an interface's neighbours at once (carrier lost,
// interface removed), without waiting for Hellos to go missing.
func (r *Router) LinkDown(ifname string) {
	r.mu.Lock()
	r.e.LinkDown(r.clk.Now(), ifname)
	r.mu.Unlock()
	r.poke()
}

// NeighbourGone drops one neighbour at once (an 802.11s peer link closed).
func (r *Router) NeighbourGone(ifname string, addr netip.Addr) {
	r.mu.Lock()
	r.e.NeighbourGone(r.clk.Now(), ifname, addr)
	r.mu.Unlock()
	r.poke()
}

// SetLinkCost feeds a cost from radio statistics (see babel.Engine.SetLinkCost).
func (r *Router) SetLinkCost(ifname string, addr netip.Addr, cost uint16) {
	r.mu.Lock()
	r.e.SetLinkCost(r.clk.Now(), ifname, addr, cost)
	r.mu.Unlock()
	r.poke()
}

// SetAnnouncements replaces the routes the box originates.
func (r *Router) SetAnnouncements(as []babel.Announcement) error {
	r.mu.Lock()
	err := r.e.SetAnnouncements(r.clk.Now(), as)
	r.mu.Unlock()
	r.poke()
	return err
}

// Neighbours, Routes, Interfaces, Counters, Installed and State are the
// engine's views, for the console.
func (r *Router) Neighbours() []babel.NeighbourInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.e.Neighbours()
}

func (r *Router) Routes() []babel.RouteInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.e.Routes()
}

func (r *Router) Interfaces() []babel.InterfaceInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.e.Interfaces()
}

func (r *Router) Counters() babel.Counters {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.e.Counters()
}

func (r *Router) Installed() []babel.InstalledRoute {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.e.Installed()
}

func (r *Router) State() babel.State {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.e.State()
}

// RouterID returns the engine's router-id.
func (r *Router) RouterID() babel.RouterID {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.e.RouterID()
}
