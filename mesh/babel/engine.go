package babel

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/netip"
	"slices"
	"time"
)

// Engine is one Babel node's protocol state: neighbours, routes, sources,
// pending requests. It is pure: every call takes the current time, packets
// go in through Receive and come out of Output, Tick runs the timers that
// Next asks for. It sends nothing and touches no kernel; its decisions are
// the datagrams it emits and the route list Installed returns. An Engine
// is not safe for concurrent use.
type Engine struct {
	rid            RouterID
	seqno          uint16
	stateVersion   uint64
	lostSeqnoUntil time.Time

	rand     io.Reader
	rng      *mrand.Rand
	log      *slog.Logger
	halfLife time.Duration
	accept   func(Candidate) bool

	ifaces   map[string]*iface
	neighs   map[neighKey]*neighbour
	dests    map[routeKey]*dest
	sources  map[sourceKey]*source
	own      map[routeKey]Announcement
	requests map[routeKey]*request
	resend   map[routeKey]*updateResend

	// sortedNeighs is neighs in (interface, address) order, nil once a
	// neighbour came or went; upList is the up interfaces by name, nil
	// once one came up or went down. Every Tick and every Hello walk them.
	sortedNeighs []*neighbour
	upList       []*iface

	rx Packet // Receive's, parsed into afresh for each datagram

	queues map[outKey]*outQueue
	// spareQueues are flushed queues kept for reuse.
	spareQueues []*outQueue
	// flushKeys and flushTLVs are flushQueues' buffers, kept between calls.
	flushKeys []outKey
	flushTLVs []TLV
	bld       Builder // emit's, reset for each (interface, destination)
	out       []Datagram

	installed        []InstalledRoute
	installedDirty   bool
	installedVersion uint64

	counters Counters
	now      time.Time
	// routeWake and sourceWake cache the earliest deadline of the route
	// and source tables, recomputed by the ticks that scan them and
	// lowered whenever something earlier is set. They may be too early (a
	// route refreshed since moved its deadline away); computeWake scans
	// the table again before one of them becomes the next wake-up.
	routeWake, sourceWake time.Time
	// smoothWake is the earliest a converging smoothed metric may take
	// its next step: a Tick from then on takes it, whatever woke the
	// engine; routeWake holds the latest it must.
	smoothWake time.Time
	// ignoreFeasibility turns the engine into a naive distance-vector
	// router, for tests that show a scenario loops without the condition.
	ignoreFeasibility bool
	wake              time.Time
}

// Datagram is a packet to send: on Interface, to Dst (the Babel group or a
// neighbour's link-local address), UDP port 6696 on both ends, from the
// interface's link-local address, hop limit 1.
type Datagram struct {
	Interface string
	Dst       netip.Addr
	Data      []byte
}

type iface struct {
	cfg        Interface
	up         bool
	addr       netip.Addr // our link-local address
	helloSeqno uint16
	// A cycle runs from one full update to the next, with as many
	// scheduled Hellos as the update interval holds, the last of them
	// starting the next cycle. Its length is drawn when it starts, and
	// each Hello's time when the one before goes, so that every Hello,
	// IHU and Update can announce when its successor will really come.
	cycle     time.Duration // the current cycle's length
	nextCycle time.Duration // the next one's, drawn ahead for the IHUs
	cycleEnd  time.Time
	left      int       // scheduled Hellos still to come in the cycle
	nextHello time.Time // the next of them
	// Full IHUs start every cycle, or every other one on wired links
	// (ihuLeft counts the cycles to go); ihuPeriod is the time from
	// one to the next, the interval IHUs announce.
	ihuLeft   int
	ihuPeriod time.Duration
	// RFC 8967 sending state: one index and counter for the interface.
	pc    uint32
	index []byte
}

func (ifc *iface) auth() bool { return len(ifc.cfg.Keys) > 0 }

type routeKey struct{ prefix, src netip.Prefix }

func (k routeKey) String() string {
	if k.src.IsValid() {
		return k.prefix.String() + " from " + k.src.String()
	}
	return k.prefix.String()
}

type sourceKey struct {
	rid RouterID
	key routeKey
}

// source is a feasibility distance (RFC 8966 section 3.5.1).
type source struct {
	seqno  uint16
	metric uint16
	time   time.Time
}

type neighKey struct {
	ifname string
	addr   netip.Addr
}

// New starts an engine at now. Interfaces stay down until LinkUp.
func New(opts Options, now time.Time) (*Engine, error) {
	e := &Engine{
		rand:     opts.Rand,
		log:      opts.Logger,
		halfLife: opts.HalfLife,
		accept:   opts.Accept,
		ifaces:   map[string]*iface{},
		neighs:   map[neighKey]*neighbour{},
		dests:    map[routeKey]*dest{},
		sources:  map[sourceKey]*source{},
		own:      map[routeKey]Announcement{},
		requests: map[routeKey]*request{},
		resend:   map[routeKey]*updateResend{},
		queues:   map[outKey]*outQueue{},
		now:      now,
	}
	if e.rand == nil {
		e.rand = rand.Reader
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	e.log = e.log.With("component", "babel")
	if e.halfLife == 0 {
		e.halfLife = DefaultHalfLife
	}
	var seed [32]byte
	if _, err := io.ReadFull(e.rand, seed[:]); err != nil {
		return nil, fmt.Errorf("babel: random: %w", err)
	}
	e.rng = mrand.New(mrand.NewChaCha8(seed))

	if err := e.initIdentity(opts, now); err != nil {
		return nil, err
	}
	for _, ifo := range opts.Interfaces {
		if err := e.addInterface(ifo); err != nil {
			return nil, err
		}
	}
	if err := e.setAnnouncements(opts.Announce); err != nil {
		return nil, err
	}
	e.finish()
	return e, nil
}

// initIdentity picks the router-id and seqno. A saved state for the same
// router-id resumes one past the saved seqno, so that anything sent after
// the last save is still older than what follows. Without one the seqno is
// random, and for a while the node jumps to whatever seqno a neighbour
// requests for its routes instead of creeping up by one (RFC 8966 3.8.1.2),
// since the network may remember a newer seqno than the one it starts with.
func (e *Engine) initIdentity(opts Options, now time.Time) error {
	rid := opts.RouterID
	if rid.IsZero() {
		rid = opts.State.RouterID
	}
	for rid.IsZero() {
		if _, err := io.ReadFull(e.rand, rid[:]); err != nil {
			return fmt.Errorf("babel: random router-id: %w", err)
		}
		if checkRouterID(rid) != nil {
			rid = RouterID{}
		}
	}
	if checkRouterID(rid) != nil {
		return fmt.Errorf("babel: %w %v", errReservedID, rid)
	}
	e.rid = rid
	if opts.State.RouterID == rid {
		e.seqno = opts.State.Seqno + 1
	} else {
		e.seqno = uint16(e.rng.Uint32())
		e.lostSeqnoUntil = now.Add(lostSeqnoWindow)
	}
	e.stateVersion = 1
	return nil
}

// RouterID returns the node's router-id.
func (e *Engine) RouterID() RouterID { return e.rid }

// State returns what must survive a restart.
func (e *Engine) State() State { return State{RouterID: e.rid, Seqno: e.seqno} }

// StateVersion increases whenever State changes; a caller saves the state
// when it sees a new version, before sending what the same call produced.
func (e *Engine) StateVersion() uint64 { return e.stateVersion }

func (e *Engine) bumpSeqno(to uint16) {
	if !seqnoLess(e.seqno, to) {
		return
	}
	e.seqno = to
	e.stateVersion++
}

// AddInterface configures one more interface; it is down until LinkUp.
func (e *Engine) AddInterface(now time.Time, ifo Interface) error {
	e.begin(now)
	defer e.finish()
	return e.addInterface(ifo)
}

func (e *Engine) addInterface(ifo Interface) error {
	if err := ifo.setDefaults(); err != nil {
		return fmt.Errorf("babel: %w", err)
	}
	if _, ok := e.ifaces[ifo.Name]; ok {
		return fmt.Errorf("babel: interface %s configured twice", ifo.Name)
	}
	ifo.Keys = slices.Clone(ifo.Keys)
	e.ifaces[ifo.Name] = &iface{cfg: ifo, helloSeqno: uint16(e.rng.Uint32())}
	return nil
}

// RemoveInterface stops Babel on an interface and forgets it.
func (e *Engine) RemoveInterface(now time.Time, name string) {
	e.begin(now)
	defer e.finish()
	if e.ifaces[name] == nil {
		return
	}
	e.linkDown(name)
	delete(e.ifaces, name)
}

// LinkUp starts Babel on a configured interface whose link-local address
// is addr: a Hello, a wildcard route request and a full update go out at
// once. Calling it again with another address restarts the interface.
func (e *Engine) LinkUp(now time.Time, name string, addr netip.Addr) error {
	e.begin(now)
	defer e.finish()
	ifc := e.ifaces[name]
	if ifc == nil {
		return fmt.Errorf("babel: no interface %s", name)
	}
	addr = addr.WithZone("")
	if !addr.Is6() || !addr.IsLinkLocalUnicast() {
		return fmt.Errorf("babel: %s: %v is not an IPv6 link-local address", name, addr)
	}
	if ifc.up && ifc.addr == addr {
		return nil
	}
	if ifc.up {
		e.linkDown(name)
	}
	ifc.up, ifc.addr = true, addr
	e.upList = nil
	if ifc.auth() {
		if err := e.newIndex(ifc); err != nil {
			return err
		}
	}
	e.startCycle(ifc)
	e.queueTLV(ifc, MulticastGroup, RouteRequest{})
	return nil
}

// LinkDown stops Babel on an interface at once, as when the kernel
// reports the carrier or the interface gone: its neighbours and their
// routes are dropped, and the other interfaces hear retractions and seqno
// requests without waiting for Hellos to go missing.
func (e *Engine) LinkDown(now time.Time, name string) {
	e.begin(now)
	defer e.finish()
	e.linkDown(name)
}

func (e *Engine) linkDown(name string) {
	ifc := e.ifaces[name]
	if ifc == nil || !ifc.up {
		return
	}
	ifc.up = false
	e.upList = nil
	ifc.left, ifc.nextHello, ifc.nextCycle, ifc.ihuLeft = 0, time.Time{}, 0, 0
	for k, n := range e.neighs {
		if k.ifname == name {
			e.flushNeighbour(n)
		}
	}
	for k := range e.queues {
		if k.ifname == name {
			delete(e.queues, k)
		}
	}
}

// NeighbourGone drops one neighbour at once (an 802.11s peer link closed,
// say), with the same consequences as LinkDown for its routes.
func (e *Engine) NeighbourGone(now time.Time, ifname string, addr netip.Addr) {
	e.begin(now)
	defer e.finish()
	if n := e.neighs[neighKey{ifname, addr.WithZone("")}]; n != nil {
		e.flushNeighbour(n)
	}
}

// SetAnnouncements replaces the routes this node originates. Routes it
// stops announcing are retracted.
func (e *Engine) SetAnnouncements(now time.Time, as []Announcement) error {
	e.begin(now)
	defer e.finish()
	return e.setAnnouncements(as)
}

func (e *Engine) setAnnouncements(as []Announcement) error {
	own := map[routeKey]Announcement{}
	for _, a := range as {
		a, err := checkAnnouncement(a)
		if err != nil {
			return fmt.Errorf("babel: %w", err)
		}
		own[routeKey{a.Prefix, a.Source}] = a
	}
	old := e.own
	e.own = own
	for k, a := range own {
		if o, ok := old[k]; !ok || o != a {
			e.queueUpdateAll(k, false)
		}
	}
	for k := range old {
		if _, ok := own[k]; !ok {
			// The route may still be reachable through a neighbour; if
			// not, consider sends the retraction.
			e.queueUpdateAll(k, true)
		}
	}
	// Routes the new filter refuses go, and destinations we no longer own
	// are decided afresh.
	for _, d := range e.sortedDests() {
		for _, r := range slices.Clone(d.routes) {
			if !e.ownFilterAccepts(d.key) {
				e.dropRoute(r)
			}
		}
		e.consider(d)
	}
	return nil
}

// Tick runs whatever timers are due at now.
func (e *Engine) Tick(now time.Time) {
	e.begin(now)
	defer e.finish()
	e.tickNeighbours()
	e.tickInterfaces()
	if e.due(e.routeWake) || e.due(e.smoothWake) {
		e.tickRoutes()
	}
	if e.due(e.sourceWake) {
		e.tickSources()
	}
	e.tickRequests()
	e.tickResends()
}

// Next returns when Tick must be called next. It changes after every call
// into the engine.
func (e *Engine) Next() time.Time { return e.wake }

// Output returns the datagrams produced since the last call and forgets
// them.
func (e *Engine) Output() []Datagram {
	out := e.out
	e.out = nil
	return out
}

func (e *Engine) begin(now time.Time) {
	// Time never runs backwards inside the engine, whatever the caller's
	// clock does.
	if now.After(e.now) {
		e.now = now
	}
}

// finish ends every call: it packs what was queued into datagrams,
// refreshes the installed routes and works out the next deadline.
func (e *Engine) finish() {
	e.flushQueues()
	if e.installedDirty {
		e.installedDirty = false
		inst := e.computeInstalled()
		if !slices.Equal(inst, e.installed) {
			e.installed = inst
			e.installedVersion++
		}
	}
	e.wake = e.computeWake()
}

func (e *Engine) computeWake() time.Time {
	var w time.Time
	at := func(t time.Time) { lower(&w, t) }
	for _, ifc := range e.ifaces {
		if ifc.up {
			at(ifc.nextHello)
		}
	}
	for _, n := range e.neighs {
		at(n.deadline())
	}
	for _, q := range e.requests {
		at(q.next)
	}
	for _, r := range e.resend {
		at(r.next)
	}
	// An idle network refreshes its routes and sources all the time,
	// each refresh moving a deadline away from the cached one: waking for
	// that would find nothing to do. The tables are scanned again only
	// when their cached deadline would be the next wake-up.
	if earlier(e.routeWake, w) {
		e.rescanRoutes()
	}
	at(e.routeWake)
	if earlier(e.sourceWake, w) {
		e.rescanSources()
	}
	at(e.sourceWake)
	if w.IsZero() {
		w = e.now.Add(time.Hour)
	}
	if w.Before(e.now) {
		w = e.now
	}
	return w
}

func lower(w *time.Time, t time.Time) {
	if earlier(t, *w) {
		*w = t
	}
}

// earlier reports whether t is set and before w, where an unset w is
// no time at all.
func earlier(t, w time.Time) bool { return !t.IsZero() && (w.IsZero() || t.Before(w)) }

// due reports whether t is set and has come.
func (e *Engine) due(t time.Time) bool { return !t.IsZero() && !e.now.Before(t) }

// spread draws a periodic interval between 3/4 and 5/4 of d, so that
// nodes do not synchronise, as babeld does; every packet announces the
// interval actually drawn, an upper bound as RFC 8966 wants it.
func (e *Engine) spread(d time.Duration) time.Duration {
	return d*3/4 + time.Duration(e.rng.Int64N(int64(d)/2+1))
}

func (e *Engine) random(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(e.rand, b); err != nil {
		return nil, fmt.Errorf("babel: random: %w", err)
	}
	return b, nil
}

func (e *Engine) newIndex(ifc *iface) error {
	idx, err := e.random(indexLen)
	if err != nil {
		return err
	}
	ifc.index = idx
	// Any start will do once the index is new; a random one keeps the
	// counter from looking like a reboot's to an observer.
	ifc.pc = binary.BigEndian.Uint32(idx) >> 8
	return nil
}

// destsVia returns the destinations with a route through n, in a fixed
// order.
func (e *Engine) destsVia(n *neighbour) []*dest {
	var ds []*dest
	for _, d := range e.dests {
		if d.routeVia(n) != nil {
			ds = append(ds, d)
		}
	}
	slices.SortFunc(ds, func(a, b *dest) int { return compareKeys(a.key, b.key) })
	return ds
}

func (e *Engine) sortedDests() []*dest {
	ds := make([]*dest, 0, len(e.dests))
	for _, d := range e.dests {
		ds = append(ds, d)
	}
	slices.SortFunc(ds, func(a, b *dest) int { return compareKeys(a.key, b.key) })
	return ds
}

func compareKeys(a, b routeKey) int {
	if c := comparePrefix(a.prefix, b.prefix); c != 0 {
		return c
	}
	return comparePrefix(a.src, b.src)
}

func comparePrefix(a, b netip.Prefix) int {
	if a.IsValid() != b.IsValid() {
		if !a.IsValid() {
			return -1
		}
		return 1
	}
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}
