package ra

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"
)

// AllNodes is where every RA goes: solicited ones too, as RFC 4861 6.2.6
// makes the usual case, so one answer serves every host that asked.
var AllNodes = netip.MustParseAddr("ff02::1")

// RandSource is math/rand/v2's Source.
type RandSource interface{ Uint64() uint64 }

// Options configure an Advertiser.
type Options struct {
	// Rand chooses the intervals and the RS answer delay; nil is a source
	// seeded from the runtime's.
	Rand RandSource
}

// Packet is one RA to send, its checksum left for the kernel.
type Packet struct {
	Data []byte
	To   netip.Addr
}

// Output is what one call into the Advertiser asks of its caller.
type Output struct {
	Send []Packet
	// Deadline is when Timer wants to be called next; zero: never.
	Deadline time.Time
}

// Reasons an RA went out, as Advertisement.Reason says.
const (
	ReasonInitial   = "initial"
	ReasonChanged   = "changed"
	ReasonPeriodic  = "periodic"
	ReasonSolicited = "solicited"
	ReasonFinal     = "final"
)

// Counters count what happened since New.
type Counters struct {
	Sent          uint64 // RAs handed out
	Solicitations uint64 // valid RSs
	BadRS         uint64 // RSs dropped by RFC 4861 6.1.1
	Coalesced     uint64 // valid RSs answered by an RA already scheduled
	BuildErrors   uint64 // RAs that could not be built (none expected)
}

// Advertiser is the router side of Router Discovery (RFC 4861 6.2) on one
// LAN segment, as a pure state machine: every input carries the time,
// every output is an Output.
type Advertiser struct {
	rnd *rand.Rand

	cfg     Config
	started bool
	stopped bool
	final   bool // Stop's RA is waiting for MinDelayBetweenRAs

	next   time.Time // the next multicast RA
	reason string    // why the next one goes out
	lastMC time.Time // the last multicast RA (zero: none yet)
	fast   int       // RAs left whose interval is capped at 16 s
	rsWait bool      // next answers an RS

	held     map[heldKey]heldOpt
	last     Advertisement
	counters Counters
	lastErr  error
}

// New returns an Advertiser that sends nothing until its first Update.
func New(opts Options) *Advertiser {
	src := opts.Rand
	if src == nil {
		src = rand.NewPCG(rand.Uint64(), rand.Uint64())
	}
	return &Advertiser{rnd: rand.New(src), held: map[heldKey]heldOpt{}, reason: ReasonInitial}
}

// Update hands over the segment's current Config. The first Update makes
// the segment an advertising interface; later ones that change what the RA
// says (an option or flag, or a lifetime cut short, such as a prefix
// deprecated when its uplink went down) start up to three fast RAs again,
// as RFC 4861 6.2.4 allows. An invalid Config is refused and the previous
// one kept.
func (a *Advertiser) Update(now time.Time, cfg Config) (Output, error) {
	c, err := cfg.normalize()
	if err != nil {
		a.lastErr = err
		return a.output(), err
	}
	a.lastErr = nil
	if a.stopped {
		return a.output(), nil
	}
	switch {
	case !a.started:
		a.started = true
		a.cfg = c
		a.startFast(now, ReasonInitial)
	case significant(&a.cfg, &c):
		a.cfg = c
		a.startFast(now, ReasonChanged)
	default:
		a.cfg = c
	}
	return a.Timer(now), nil
}

func (a *Advertiser) startFast(now time.Time, reason string) {
	a.fast = MaxInitialRtrAdvertisements
	if at := a.earliest(now); a.next.IsZero() || at.Before(a.next) {
		a.next = at
	}
	a.reason = reason
	a.rsWait = false
}

// earliest is the first moment a multicast RA may go out (RFC 4861 6.2.6:
// MIN_DELAY_BETWEEN_RAS).
func (a *Advertiser) earliest(now time.Time) time.Time {
	if a.lastMC.IsZero() {
		return now
	}
	return later(now, a.lastMC.Add(MinDelayBetweenRAs))
}

// Solicit takes a Router Solicitation: b from its ICMPv6 type byte on, its
// source, and the hop limit it arrived with (-1: unknown). A valid one is
// answered with a multicast RA after a random 0..MAX_RA_DELAY_TIME, never
// sooner than MIN_DELAY_BETWEEN_RAS after the last multicast RA, and not
// at all when an RA is already due by then (RFC 4861 6.2.6).
func (a *Advertiser) Solicit(now time.Time, b []byte, from netip.Addr, hopLimit int) Output {
	if err := checkRS(b, from, hopLimit); err != nil {
		a.counters.BadRS++
		a.lastErr = err
		return a.output()
	}
	a.counters.Solicitations++
	if !a.started || a.stopped {
		return a.output()
	}
	if a.rsWait {
		// One answer serves every RS that arrives before it, its delay
		// counted from the first.
		a.counters.Coalesced++
		return a.output()
	}
	at := later(now.Add(a.uniform(0, MaxRADelayTime)), a.earliest(now))
	if !a.next.After(at) {
		a.counters.Coalesced++
		return a.output()
	}
	a.next, a.reason, a.rsWait = at, ReasonSolicited, true
	return a.Timer(now)
}

// Timer sends what is due at now.
func (a *Advertiser) Timer(now time.Time) Output {
	if !a.started || (a.stopped && !a.final) || now.Before(a.next) {
		return a.output()
	}
	var out Output
	if a.stopped {
		a.final = false
		out.Send = a.send(now, ReasonFinal)
		return out
	}
	out.Send = a.send(now, a.reason)
	// RFC 4861 6.2.4: every multicast RA resets the interval timer; the
	// first few are at most 16 s apart.
	if a.fast > 0 {
		a.fast--
	}
	d := a.uniform(a.cfg.MinInterval, a.cfg.MaxInterval)
	if a.fast > 0 {
		d = min(d, MaxInitialRtrAdvertInterval)
	}
	a.next, a.reason, a.rsWait = now.Add(d), ReasonPeriodic, false
	out.Deadline = a.next
	return out
}

// Stop ends advertising: one final RA with Router Lifetime 0 (RFC 4861
// 6.2.5), at once or, when the last multicast RA was less than 3 s ago,
// at the Deadline. The rest of the RA is unchanged, so hosts keep their
// addresses should the router come back. Nothing is sent after it.
func (a *Advertiser) Stop(now time.Time) Output {
	if !a.started || a.stopped {
		a.stopped = true
		return a.output()
	}
	a.stopped, a.final = true, true
	a.next = a.earliest(now)
	return a.Timer(now)
}

// Last returns the RA sent last (zero Sent: none yet), for "show ra".
func (a *Advertiser) Last() Advertisement { return a.last.clone() }

// Counters returns the counters.
func (a *Advertiser) Counters() Counters { return a.counters }

// Err returns the last refused Config or dropped RS, nil when the last
// Update was accepted and no RS was bad since.
func (a *Advertiser) Err() error { return a.lastErr }

// Deadline is when Timer wants to run next; zero: nothing pending.
func (a *Advertiser) Deadline() time.Time { return a.output().Deadline }

func (a *Advertiser) output() Output {
	if !a.started || (a.stopped && !a.final) {
		return Output{}
	}
	return Output{Deadline: a.next}
}

// send builds, records and hands out one multicast RA.
func (a *Advertiser) send(now time.Time, reason string) []Packet {
	adv := a.build(now, reason == ReasonFinal)
	adv.Reason = reason
	b, err := adv.marshal()
	if err != nil {
		// normalize already built this RA once; failing here is a bug,
		// not a reason to stop advertising the next time.
		a.counters.BuildErrors++
		a.lastErr = fmt.Errorf("ra: build: %w", err)
		return nil
	}
	adv.Size = len(b)
	a.lastMC = now
	a.last = adv
	a.counters.Sent++
	a.remember(now, &adv)
	return []Packet{{Data: b, To: AllNodes}}
}

// uniform is a random duration in [lo, hi], to the nanosecond.
func (a *Advertiser) uniform(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(a.rnd.Int64N(int64(hi-lo)+1))
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// significant reports whether going from old to new changes what hosts
// should hear soon: any option or flag, or a lifetime that now ends
// sooner. Lifetimes merely extended wait for the next periodic RA.
func significant(old, new *Config) bool {
	if len(old.Prefixes) != len(new.Prefixes) || len(old.Routes) != len(new.Routes) {
		return true
	}
	for i, o := range old.Prefixes {
		n := new.Prefixes[i]
		if o.Prefix != n.Prefix || o.OnLink != n.OnLink || o.Autonomous != n.Autonomous ||
			n.Preferred.Before(o.Preferred) || n.Valid.Before(o.Valid) {
			return true
		}
	}
	for i, o := range old.Routes {
		n := new.Routes[i]
		if o.Prefix != n.Prefix || o.Preference != n.Preference ||
			(!n.Until.IsZero() && (o.Until.IsZero() || n.Until.Before(o.Until))) {
			return true
		}
	}
	return old.MaxInterval != new.MaxInterval || old.MinInterval != new.MinInterval ||
		old.DefaultRouter != new.DefaultRouter || old.RouterLifetime != new.RouterLifetime ||
		old.Preference != new.Preference || old.Managed != new.Managed || old.Other != new.Other ||
		old.HopLimit != new.HopLimit || old.MTU != new.MTU || old.DNSLifetime != new.DNSLifetime ||
		string(old.SourceLL) != string(new.SourceLL) ||
		!slices.Equal(old.Stale, new.Stale) || !slices.Equal(old.DNSServers, new.DNSServers) ||
		!slices.Equal(old.SearchDomains, new.SearchDomains)
}

// heldKey names an option entry hosts may still hold from an earlier RA.
type heldKey struct {
	kind   uint8
	prefix netip.Prefix // PIO, RIO
	addr   netip.Addr   // RDNSS
	name   string       // DNSSL
}

const (
	kindPIO uint8 = iota
	kindRIO
	kindRDNSS
	kindDNSSL
)

type heldOpt struct {
	until      time.Time // when hosts forget it on their own
	onLink     bool
	autonomous bool
	preference int
}

// remember notes until when hosts hold each entry of adv, so that an entry
// that leaves the Config is withdrawn (lifetime 0) until then rather than
// left to linger (RFC 7084 L-13, RFC 8106 5.1 lifetime 0).
func (a *Advertiser) remember(now time.Time, adv *Advertisement) {
	hold := func(k heldKey, lt time.Duration, h heldOpt) {
		h.until = now.Add(lt)
		if old, ok := a.held[k]; ok && old.until.After(h.until) {
			h.until = old.until
		}
		a.held[k] = h
	}
	for _, p := range adv.Prefixes {
		hold(heldKey{kind: kindPIO, prefix: p.Prefix}, p.Valid, heldOpt{onLink: p.OnLink, autonomous: p.Autonomous})
	}
	for _, r := range adv.Routes {
		hold(heldKey{kind: kindRIO, prefix: r.Prefix}, r.Lifetime, heldOpt{preference: int(r.Preference)})
	}
	for _, s := range adv.DNSServers {
		hold(heldKey{kind: kindRDNSS, addr: s.Addr}, s.Lifetime, heldOpt{})
	}
	for _, d := range adv.SearchDomains {
		hold(heldKey{kind: kindDNSSL, name: d.Name}, d.Lifetime, heldOpt{})
	}
	for k, h := range a.held {
		if !h.until.After(now) {
			delete(a.held, k)
		}
	}
}

// withdrawn lists the held entries of one kind the Config no longer has,
// in a stable order.
func (a *Advertiser) withdrawn(now time.Time, kind uint8, current func(heldKey) bool) []heldEntry {
	var out []heldEntry
	for k, h := range a.held {
		if k.kind == kind && h.until.After(now) && !current(k) {
			out = append(out, heldEntry{k, h})
		}
	}
	slices.SortFunc(out, func(x, y heldEntry) int {
		if c := x.key.prefix.Addr().Compare(y.key.prefix.Addr()); c != 0 {
			return c
		}
		if c := cmp.Compare(x.key.prefix.Bits(), y.key.prefix.Bits()); c != 0 {
			return c
		}
		if c := x.key.addr.Compare(y.key.addr); c != 0 {
			return c
		}
		return cmp.Compare(x.key.name, y.key.name)
	})
	return out
}

type heldEntry struct {
	key heldKey
	opt heldOpt
}
