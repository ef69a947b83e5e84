package kernel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// netlinkOps is everything the Applier asks of the kernel, so that unit
// tests can run it against a recording fake. Reads return more than the
// Applier owns; choosing what it owns is the Applier's job, where tests see it.
type netlinkOps interface {
	// Virtual creates, changes and deletes the links of the box's own
	// (see VirtualLink) and returns the changes it made.
	Virtual(want []VirtualLink) ([]string, error)
	Link(name string) (Link, error)
	SetLinkMTU(name string, mtu int) error
	SetLinkUp(name string, up bool) error

	// Addrs returns the addresses of those of links that exist.
	Addrs(links []string) ([]kernelAddr, error)
	AddAddr(a kernelAddr, replace bool) error
	DelAddr(a kernelAddr) error

	// Routes returns the routes of both families in every table but local.
	Routes() ([]kernelRoute, error)
	// AddRoute and DelRoute mark and match routes with RouteProtocol.
	AddRoute(r Route, replace bool) error
	DelRoute(r Route) error

	Rules() ([]kernelRule, error)
	AddRule(r Rule) error // with RouteProtocol
	DelRule(r Rule) error

	// path is below /proc/sys: "net/ipv6/conf/wan0/accept_ra".
	ReadSysctl(path string) (string, error)
	WriteSysctl(path, value string) error

	// Changed reports whether links, addresses, routes or rules may have
	// changed since it was last called: true the first time, whenever the
	// kernel said so (of our own changes, all but those of routes), and
	// whenever it cannot tell.
	Changed() bool
	// Heard is ready (it may be more than once) when Changed may have
	// news; nil: it cannot tell.
	Heard() <-chan struct{}

	Close() error
}

// lifetimeForever is the kernel's infinite address lifetime.
const lifetimeForever = math.MaxUint32

// kernelAddr is an address as netlink carries it: lifetimes in seconds left.
type kernelAddr struct {
	Link             string
	Prefix           netip.Prefix
	Preferred, Valid uint32
	NoPrefixRoute    bool
	Temporary        bool // an IPv6 privacy address (IFA_F_TEMPORARY)
	Peer             bool // a point-to-point address with a peer prefix
}

type kernelRoute struct {
	Route
	Protocol uint8
}

type kernelRule struct {
	Rule
	Protocol uint8
	// Unmodelled: the rule has selectors or an action Rule cannot say
	// (fwmark, iif, goto...). The Applier leaves such a rule alone even
	// with its protocol, as deleting it by the fields it knows could hit
	// another rule.
	Unmodelled bool
}

// Options configure an Applier.
type Options struct {
	// Netns is the path of the network namespace to work in, such as
	// /run/netns/lab; empty: the one the Applier is made in.
	Netns  string
	Logger *slog.Logger
	Now    func() time.Time // nil: time.Now
}

// Applier makes the kernel's links, addresses, routes, rules and sysctls
// match a Desired state, touching only what it owns (see the package
// documentation). It is safe for concurrent use; applies run one at a time.
type Applier struct {
	mu  sync.Mutex
	ops netlinkOps
	log *slog.Logger
	now func() time.Time
	// placed holds the addresses this Applier put in place and has not yet
	// removed, so that their links stay managed after Desired drops them.
	placed map[addrKey]bool
	// matched is the Desired (normalized) that the kernel was last found
	// or made to match in full, at matchedAt; nil: none.
	matched   *Desired
	matchedAt time.Time
	// asked is a copy of the Desired as given to the Apply that made
	// matched: applying it again needs no normalizing.
	asked Desired
}

// recheckEvery bounds how long Apply trusts that a kernel which reported
// no change still matches: sysctls and a lost notification have no other
// way back to the plan.
const recheckEvery = 5 * time.Minute

// New returns an Applier working in the network namespace opts names.
func New(opts Options) (*Applier, error) {
	ops, err := newLinuxOps(opts.Netns)
	if err != nil {
		return nil, err
	}
	a := newApplier(ops, opts)
	ops.log = a.log
	return a, nil
}

func newApplier(ops netlinkOps, opts Options) *Applier {
	a := &Applier{ops: ops, log: opts.Logger, now: opts.Now, placed: map[addrKey]bool{}}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	a.log = a.log.With("component", "kernel")
	if a.now == nil {
		a.now = time.Now
	}
	return a
}

// Heard is ready when the kernel has reported a change since Apply last
// looked, someone else's or the Applier's own, which Apply tells apart.
// Waiting on it repairs what another program changed at once instead of
// at the next periodic Apply. It is not ready before the first Apply
// (which starts listening), nor ever where the notifications cannot be
// heard.
func (a *Applier) Heard() <-chan struct{} { return a.ops.Heard() }

// Close releases the Applier's netlink sockets. It changes nothing in the
// kernel: what was applied stays.
func (a *Applier) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ops.Close()
}

// Apply makes the owned part of the kernel match d and returns the changes
// it made, in the form Op.String gives. Applying the same d again changes
// nothing. It keeps going past failures and returns them all, each with the
// change it was making; the changes returned are only those that took
// effect. A part of the kernel that cannot be read is not changed.
//
// Applying what the kernel was last made to match, with no change reported
// by the kernel since, no lifetime of d run out and less than recheckEvery
// gone by, reads nothing and returns at once: the box applies its plan
// often (every fact, every notification heard), and reading the whole
// kernel each time was most of what an idle box spent. Applying the very
// Desired of that Apply again does not even normalize it.
func (a *Applier) Apply(ctx context.Context, d Desired) ([]string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()

	now := a.now()
	kernelChanged := a.ops.Changed()
	if !kernelChanged && a.matched != nil && d.equal(a.asked) && a.stillMatches(*a.matched, now) {
		return nil, nil
	}
	want, verr := d.normalize()
	if verr == nil && !kernelChanged && a.stillMatches(want, now) {
		a.asked = d.clone()
		return nil, nil
	}
	a.matched = nil
	var changes []string
	var errs []error
	vchanges, verrs := a.ops.Virtual(want.Virtual)
	for _, c := range vchanges {
		a.log.Info("changed", "op", c)
	}
	changes = append(changes, vchanges...)
	if verrs != nil {
		a.log.Warn("virtual links", "err", verrs)
		errs = append(errs, verrs)
	}
	asked := want
	want = liveAddresses(want, now)
	have, addrsRead, rerr := a.read(want, now)
	plan := Diff(have, want)
	failedDel := map[addrKey]bool{}
	for i, op := range plan {
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("kernel: stopped with %d changes left: %w", len(plan)-i, err))
			for _, op := range plan[i:] {
				if op.Kind == DeleteAddress {
					failedDel[keyOfAddress(op.Address)] = true
				}
			}
			break
		}
		if err := a.do(op, now); err != nil {
			a.log.Warn("change failed", "op", op.String(), "err", err)
			errs = append(errs, fmt.Errorf("kernel: %s: %w", op, err))
			if op.Kind == DeleteAddress {
				failedDel[keyOfAddress(op.Address)] = true
			}
			continue
		}
		a.log.Info("changed", "op", op.String())
		changes = append(changes, op.String())
	}

	placed := map[addrKey]bool{}
	for _, ad := range want.Addresses {
		placed[keyOfAddress(ad)] = true
	}
	for k := range a.placed {
		if !addrsRead || failedDel[k] {
			placed[k] = true
		}
	}
	a.placed = placed

	err := errors.Join(verr, rerr, errors.Join(errs...))
	if err == nil {
		a.matched, a.matchedAt, a.asked = &asked, now, d.clone()
	}
	return changes, err
}

// stillMatches reports whether want is what the kernel was last found or
// made to match, recently enough, with no address lifetime in it run out
// since (a deprecated or expired address is a change to make).
func (a *Applier) stillMatches(want Desired, now time.Time) bool {
	if a.matched == nil || now.Before(a.matchedAt) || now.Sub(a.matchedAt) >= recheckEvery {
		return false
	}
	for _, ad := range want.Addresses {
		for _, t := range []time.Time{ad.PreferredUntil, ad.ValidUntil} {
			if !t.IsZero() && t.After(a.matchedAt) && !t.After(now) {
				return false
			}
		}
	}
	return want.equal(*a.matched)
}

// liveAddresses drops the addresses whose valid lifetime is over (the
// kernel would refuse them, and has removed them itself) and pins a preferred
// lifetime in the past to now, so that every deprecated address compares
// equal to the kernel's, whose preferred lifetime left is 0.
func liveAddresses(d Desired, now time.Time) Desired {
	var live []Address
	for _, ad := range d.Addresses {
		if !ad.ValidUntil.IsZero() && !ad.ValidUntil.After(now) {
			continue
		}
		if !ad.PreferredUntil.IsZero() && ad.PreferredUntil.Before(now) {
			ad.PreferredUntil = now
		}
		live = append(live, ad)
	}
	d.Addresses = live
	return d
}

// read returns the owned part of the kernel, as far as want asks about it.
// A part that cannot be read is returned as wanted, so that the plan leaves
// it alone rather than acting on a guess.
func (a *Applier) read(want Desired, now time.Time) (have Desired, addrsRead bool, err error) {
	var errs []error
	have.Sysctls = map[string]string{}

	for _, l := range want.Links {
		got, err := a.ops.Link(l.Name)
		if err != nil {
			errs = append(errs, fmt.Errorf("kernel: read link %s: %w", l.Name, err))
			got = l
		}
		have.Links = append(have.Links, got)
	}

	for _, name := range sortedKeys(want.Sysctls) {
		v := want.Sysctls[name]
		path, _ := sysctlPath(name) // normalize made name from a valid path
		got, err := a.ops.ReadSysctl(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("kernel: read sysctl %s: %w", name, err))
			got = v
		}
		have.Sysctls[name] = got
	}

	wantAddr := map[addrKey]bool{}
	managed := map[string]bool{}
	for _, l := range want.Links {
		managed[l.Name] = true
	}
	for _, ad := range want.Addresses {
		wantAddr[keyOfAddress(ad)] = true
		managed[ad.Link] = true
	}
	for k := range a.placed {
		managed[k.link] = true
	}
	links := make([]string, 0, len(managed))
	for l := range managed {
		links = append(links, l)
	}
	slices.Sort(links)
	addrs, err := a.ops.Addrs(links)
	if err != nil {
		errs = append(errs, fmt.Errorf("kernel: read addresses: %w", err))
		have.Addresses = want.Addresses
	} else {
		addrsRead = true
		for _, ka := range addrs {
			ad := fromKernelAddr(ka, now)
			k := keyOfAddress(ad)
			if wantAddr[k] || a.placed[k] || !kernelMade(ka) {
				have.Addresses = append(have.Addresses, ad)
			}
		}
	}

	routes, err := a.ops.Routes()
	if err != nil {
		errs = append(errs, fmt.Errorf("kernel: read routes: %w", err))
		have.Routes = want.Routes
	} else {
		for _, r := range routes {
			if r.Protocol == RouteProtocol {
				have.Routes = append(have.Routes, r.Route)
			}
		}
	}

	rules, err := a.ops.Rules()
	if err != nil {
		errs = append(errs, fmt.Errorf("kernel: read rules: %w", err))
		have.Rules = want.Rules
	} else {
		for _, r := range rules {
			if r.Protocol == RouteProtocol && !r.Unmodelled {
				have.Rules = append(have.Rules, r.Rule)
			}
		}
	}
	return have, addrsRead, errors.Join(errs...)
}

// kernelMade tells the addresses the kernel (or a PPP daemon) makes by
// itself, which the Applier leaves alone unless Desired names them.
func kernelMade(ka kernelAddr) bool {
	ip := ka.Prefix.Addr()
	return ka.Peer || ka.Temporary || ip.IsLinkLocalUnicast() || ip.IsLoopback()
}

func (a *Applier) do(op Op, now time.Time) error {
	switch op.Kind {
	case SetSysctl:
		path, err := sysctlPath(op.Sysctl)
		if err != nil {
			return err
		}
		return a.ops.WriteSysctl(path, op.Value)
	case SetLinkMTU:
		return a.ops.SetLinkMTU(op.Link.Name, op.Link.MTU)
	case SetLinkUp:
		return a.ops.SetLinkUp(op.Link.Name, true)
	case SetLinkDown:
		return a.ops.SetLinkUp(op.Link.Name, false)
	case AddAddress:
		return a.ops.AddAddr(toKernelAddr(op.Address, now), false)
	case ReplaceAddress:
		return a.ops.AddAddr(toKernelAddr(op.Address, now), true)
	case DeleteAddress:
		return a.ops.DelAddr(toKernelAddr(op.Address, now))
	case AddRoute:
		return a.ops.AddRoute(op.Route, false)
	case ReplaceRoute:
		return a.ops.AddRoute(op.Route, true)
	case DeleteRoute:
		return a.ops.DelRoute(op.Route)
	case AddRule:
		return a.ops.AddRule(op.Rule)
	case DeleteRule:
		return a.ops.DelRule(op.Rule)
	}
	return fmt.Errorf("unknown op kind %d", op.Kind)
}

// lifetimeSeconds is what the kernel is told for a deadline: the seconds
// left, rounded up so that an address is never cut short.
func lifetimeSeconds(deadline, now time.Time) uint32 {
	if deadline.IsZero() {
		return lifetimeForever
	}
	left := deadline.Sub(now)
	if left <= 0 {
		return 0
	}
	s := (left + time.Second - 1) / time.Second
	if s >= lifetimeForever {
		return lifetimeForever - 1
	}
	return uint32(s)
}

func deadline(seconds uint32, now time.Time) time.Time {
	if seconds == lifetimeForever {
		return time.Time{}
	}
	return now.Add(time.Duration(seconds) * time.Second)
}

func toKernelAddr(ad Address, now time.Time) kernelAddr {
	return kernelAddr{
		Link:          ad.Link,
		Prefix:        ad.Prefix,
		Preferred:     lifetimeSeconds(ad.PreferredUntil, now),
		Valid:         lifetimeSeconds(ad.ValidUntil, now),
		NoPrefixRoute: ad.NoPrefixRoute,
	}
}

func fromKernelAddr(ka kernelAddr, now time.Time) Address {
	return Address{
		Link:           ka.Link,
		Prefix:         ka.Prefix,
		PreferredUntil: deadline(ka.Preferred, now),
		ValidUntil:     deadline(ka.Valid, now),
		NoPrefixRoute:  ka.NoPrefixRoute,
	}
}
