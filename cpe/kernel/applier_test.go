package kernel

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testBox is an Applier on a fake kernel that already holds what a real
// one would before the box starts: link-local addresses, a route and a rule
// someone else added, an address on a link the box does not manage.
type testBox struct {
	a   *Applier
	k   *fakeOps
	now time.Time
}

func newTestBox(t *testing.T) *testBox {
	t.Helper()
	b := &testBox{now: t0}
	b.k = newFakeOps(func() time.Time { return b.now })
	b.k.addLink("wan0", false, 1500)
	b.k.addLink("lan0", false, 1500)
	b.k.addLink("eth9", true, 1500)
	b.k.sysctls["net/ipv6/conf/all/forwarding"] = "0"
	for _, ka := range []kernelAddr{
		{Link: "wan0", Prefix: mustPrefix("fe80::1/64"), Preferred: lifetimeForever, Valid: lifetimeForever},
		{Link: "lan0", Prefix: mustPrefix("fe80::2/64"), Preferred: lifetimeForever, Valid: lifetimeForever},
		{Link: "eth9", Prefix: mustPrefix("192.0.2.99/24"), Preferred: lifetimeForever, Valid: lifetimeForever},
	} {
		b.k.addrs[fakeAddrKey(ka)] = fakeAddr{ka, t0}
	}
	b.k.routes = []kernelRoute{
		{Route{Dst: mustPrefix("2001:db8:dead::/48"), Via: mustAddr("2001:db8:ffff::1"), Link: "wan0", Metric: 1024}, 4}, // proto static
		{Route{Dst: mustPrefix("192.0.2.0/24"), Link: "eth9"}, 2},                                                        // proto kernel
	}
	b.k.rules = []kernelRule{
		{Rule: Rule{Family: IPv4, Src: mustPrefix("192.0.2.128/25"), Table: 200, Priority: 9500}},
		// Ours by protocol, but with a selector the model lacks.
		{Rule: Rule{Family: IPv4, Src: mustPrefix("192.0.2.0/24"), Table: 300, Priority: 9600}, Protocol: RouteProtocol, Unmodelled: true},
	}
	b.a = newApplier(b.k, Options{Now: func() time.Time { return b.now }})
	t.Cleanup(func() { b.a.Close() })
	return b
}

func (b *testBox) apply(t *testing.T, d Desired) []string {
	t.Helper()
	changes, err := b.a.Apply(context.Background(), d)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return changes
}

var foreign = []string{
	"addr 192.0.2.99/24 dev eth9 preferred forever valid forever",
	"addr fe80::1/64 dev wan0 preferred forever valid forever",
	"addr fe80::2/64 dev lan0 preferred forever valid forever",
	"route 192.0.2.0/24 dev eth9 metric 0 proto 2",
	"route 2001:db8:dead::/48 via 2001:db8:ffff::1 dev wan0 metric 1024 proto 4",
	"rule from 192.0.2.0/24 table 300 priority 9600 proto 206",
	"rule from 192.0.2.128/25 table 200 priority 9500 proto 0",
}

// TestApplySequence walks the box through a day of Desired states and checks
// what each asked of the kernel.
func TestApplySequence(t *testing.T) {
	b := newTestBox(t)
	renewed := box()
	renewed.Addresses[1].PreferredUntil = t0.Add(90 * time.Minute)
	renewed.Addresses[1].ValidUntil = t0.Add(2 * time.Hour)
	moved := renewed
	moved.Addresses = slices.Clone(renewed.Addresses)
	moved.Addresses[2].Prefix = mustPrefix("2001:db8:2:1::1/64")
	moved.Routes = slices.Clone(renewed.Routes)
	moved.Routes[2].Dst = mustPrefix("2001:db8:2::/56")
	lanGone := moved
	lanGone.Links = moved.Links[:1]
	lanGone.Addresses = moved.Addresses[:2]

	for _, step := range []struct {
		name    string
		advance time.Duration
		in      Desired
		want    []string // the kernel calls, in order
	}{
		{"first", 0, box(), []string{
			"sysctl net/ipv6/conf/all/forwarding=1",
			"sysctl net/ipv6/conf/wan0/accept_ra=0",
			"link lan0 up",
			"link wan0 up",
			"addr add 2001:db8:1:1::1/64 dev lan0 preferred forever valid forever",
			"addr add 192.0.2.2/24 dev wan0 preferred forever valid forever",
			"addr add 2001:db8:ffff::2/64 dev wan0 preferred 1800 valid 3600",
			"route add 0.0.0.0/0 via 192.0.2.1 dev wan0 metric 0",
			"route add 0.0.0.0/0 via 192.0.2.1 dev wan0 metric 0 table 100",
			"route add ::/0 from 2001:db8:1::/48 via 2001:db8:ffff::1 dev wan0 metric 1024",
			"route add 2001:db8:1::/56 type unreachable metric 1024",
			"rule add from 198.51.100.0/24 table 100 priority 10000",
			"rule add from 2001:db8:1::/48 table 100 priority 9000",
		}},
		{"again", 0, box(), nil},
		{"ten minutes later", 10 * time.Minute, box(), nil},
		{"renewal changes lifetimes only", 0, renewed, []string{
			// now is t0+10m: 80 and 110 minutes left
			"addr replace 2001:db8:ffff::2/64 dev wan0 preferred 4800 valid 6600",
		}},
		{"new delegated prefix", time.Minute, moved, []string{
			"addr add 2001:db8:2:1::1/64 dev lan0 preferred forever valid forever",
			"route add 2001:db8:2::/56 type unreachable metric 1024",
			"route del 2001:db8:1::/56 type unreachable metric 1024",
			"addr del 2001:db8:1:1::1/64 dev lan0",
		}},
		{"lan0 left out: its address goes, the link stays up", 0, lanGone, []string{
			"addr del 2001:db8:2:1::1/64 dev lan0",
		}},
		{"lan0 left out again", 0, lanGone, nil},
		{"nothing wanted", 0, Desired{}, []string{
			"rule del from 198.51.100.0/24 table 100 priority 10000",
			"rule del from 2001:db8:1::/48 table 100 priority 9000",
			"route del 0.0.0.0/0 via 192.0.2.1 dev wan0 metric 0",
			"route del 0.0.0.0/0 via 192.0.2.1 dev wan0 metric 0 table 100",
			"route del ::/0 from 2001:db8:1::/48 via 2001:db8:ffff::1 dev wan0 metric 1024",
			"route del 2001:db8:2::/56 type unreachable metric 1024",
			"addr del 192.0.2.2/24 dev wan0",
			"addr del 2001:db8:ffff::2/64 dev wan0",
		}},
		{"nothing wanted again", 0, Desired{}, nil},
	} {
		b.now = b.now.Add(step.advance)
		changes := b.apply(t, step.in)
		got := b.k.takeLog()
		if !slices.Equal(got, step.want) {
			t.Fatalf("step %q: kernel calls:\n\t%s\nwant:\n\t%s", step.name, strings.Join(got, "\n\t"), strings.Join(step.want, "\n\t"))
		}
		if len(changes) != len(got) {
			t.Errorf("step %q: %d changes reported for %d kernel calls: %q", step.name, len(changes), len(got), changes)
		}
	}

	// Left behind: the foreign entries, links up, sysctls as last set.
	want := append(slices.Clone(foreign),
		"link eth9 up=true mtu 1500", "link lan0 up=true mtu 1500", "link wan0 up=true mtu 1500",
		"sysctl net/ipv6/conf/all/forwarding=1",
		"sysctl net/ipv6/conf/eth9/accept_ra=1", "sysctl net/ipv6/conf/eth9/forwarding=0",
		"sysctl net/ipv6/conf/lan0/accept_ra=1", "sysctl net/ipv6/conf/lan0/forwarding=0",
		"sysctl net/ipv6/conf/wan0/accept_ra=0", "sysctl net/ipv6/conf/wan0/forwarding=0",
	)
	slices.Sort(want)
	diffLines(t, b.k.state(), want)
}

func TestApplyReportsChanges(t *testing.T) {
	b := newTestBox(t)
	got := b.apply(t, box())
	diffLines(t, got, []string{
		"set sysctl net.ipv6.conf.all.forwarding = 1 (was 0)",
		"set sysctl net.ipv6.conf.wan0.accept_ra = 0 (was 1)",
		"set link lan0 up",
		"set link wan0 up",
		"add address 2001:db8:1:1::1/64 dev lan0",
		"add address 192.0.2.2/24 dev wan0",
		"add address 2001:db8:ffff::2/64 dev wan0 preferred until 2026-11-26T09:30:00Z valid until 2026-11-26T10:00:00Z",
		"add route 0.0.0.0/0 via 192.0.2.1 dev wan0 metric 0",
		"add route 0.0.0.0/0 via 192.0.2.1 dev wan0 metric 0 table 100",
		"add route ::/0 from 2001:db8:1::/48 via 2001:db8:ffff::1 dev wan0 metric 1024",
		"add route 2001:db8:1::/56 type unreachable metric 1024",
		"add rule from 198.51.100.0/24 table 100 priority 10000",
		"add rule from 2001:db8:1::/48 table 100 priority 9000",
	})
	if got := b.apply(t, box()); len(got) != 0 {
		t.Errorf("second Apply changed %q", got)
	}
}

func TestApplyKeepsGoingAndJoinsErrors(t *testing.T) {
	b := newTestBox(t)
	b.k.fail["route add ::/0"] = syscall.ENETUNREACH
	b.k.fail["sysctl net/ipv6/conf/wan0"] = syscall.EACCES
	changes, err := b.a.Apply(context.Background(), box())
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"kernel: add route ::/0 from 2001:db8:1::/48 via 2001:db8:ffff::1 dev wan0 metric 1024: network is unreachable",
		"kernel: set sysctl net.ipv6.conf.wan0.accept_ra = 0 (was 1): permission denied",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if !errors.Is(err, syscall.ENETUNREACH) || !errors.Is(err, syscall.EACCES) {
		t.Errorf("errors are not wrapped: %v", err)
	}
	if len(changes) != 11 {
		t.Errorf("got %d changes, want the 11 that worked: %q", len(changes), changes)
	}
	for _, c := range changes {
		if strings.HasPrefix(c, "add route ::/0") || strings.Contains(c, "accept_ra") {
			t.Errorf("failed change reported as made: %q", c)
		}
	}

	// Fixed: the next Apply makes only what failed.
	clear(b.k.fail)
	b.k.takeLog()
	b.apply(t, box())
	diffLines(t, b.k.takeLog(), []string{
		"sysctl net/ipv6/conf/wan0/accept_ra=0",
		"route add ::/0 from 2001:db8:1::/48 via 2001:db8:ffff::1 dev wan0 metric 1024",
	})
}

func TestApplyLeavesUnreadablePartsAlone(t *testing.T) {
	for _, part := range []string{"routes", "rules", "addrs", "links", "sysctls"} {
		t.Run(part, func(t *testing.T) {
			b := newTestBox(t)
			b.apply(t, box())
			b.k.takeLog()
			b.k.readErr[part] = syscall.EIO
			// Everything of ours would go, but one part cannot be read.
			_, err := b.a.Apply(context.Background(), Desired{Links: []Link{{Name: "wan0"}}, Sysctls: map[string]string{"net.ipv6.conf.wan0.accept_ra": "2"}})
			if err == nil || !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), "kernel: read ") {
				t.Fatalf("Apply error = %v, want a wrapped read error", err)
			}
			for _, call := range b.k.takeLog() {
				touched := map[string]string{"routes": "route ", "rules": "rule ", "addrs": "addr ", "links": "link ", "sysctls": "sysctl "}[part]
				if strings.HasPrefix(call, touched) {
					t.Errorf("changed %s it could not read: %q", part, call)
				}
			}
		})
	}
}

func TestApplyNeverTouchesForeignSameKey(t *testing.T) {
	b := newTestBox(t)
	// Someone else's route where the box wants its unreachable route.
	b.k.routes = append(b.k.routes, kernelRoute{Route{Dst: mustPrefix("2001:db8:1::/56"), Via: mustAddr("2001:db8:ffff::9"), Link: "wan0", Metric: 1024}, 4})
	_, err := b.a.Apply(context.Background(), box())
	if !errors.Is(err, syscall.EEXIST) || !strings.Contains(err.Error(), "kernel: add route 2001:db8:1::/56 type unreachable metric 1024") {
		t.Errorf("Apply error = %v, want EEXIST for the unreachable route", err)
	}
	b.apply(t, Desired{})
	state := b.k.state()
	for _, want := range append(slices.Clone(foreign), "route 2001:db8:1::/56 via 2001:db8:ffff::9 dev wan0 metric 1024 proto 4") {
		if !slices.Contains(state, want) {
			t.Errorf("foreign %q gone; state:\n\t%s", want, strings.Join(state, "\n\t"))
		}
	}
	for _, line := range state {
		if strings.HasPrefix(line, "route") && strings.HasSuffix(line, "proto 206") {
			t.Errorf("own route left: %q", line)
		}
	}
}

func TestApplySkipsInvalidEntries(t *testing.T) {
	b := newTestBox(t)
	d := box()
	d.Routes = append(d.Routes, Route{Dst: mustPrefix("2001:db8:5::1/48"), Type: Blackhole})
	changes, err := b.a.Apply(context.Background(), d)
	if err == nil || !strings.Contains(err.Error(), "kernel: route 2001:db8:5::1/48: destination has host bits set") {
		t.Errorf("Apply error = %v", err)
	}
	if len(changes) != 13 {
		t.Errorf("the valid entries were not applied: %q", changes)
	}
}

func TestApplyCanceled(t *testing.T) {
	b := newTestBox(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	changes, err := b.a.Apply(ctx, box())
	if !errors.Is(err, context.Canceled) || len(changes) != 0 {
		t.Errorf("Apply = %q, %v; want no changes and context.Canceled", changes, err)
	}
	if log := b.k.takeLog(); len(log) != 0 {
		t.Errorf("canceled Apply called the kernel: %q", log)
	}
}

func TestApplyAfterRestart(t *testing.T) {
	b := newTestBox(t)
	b.apply(t, box())
	b.k.takeLog()

	// A new process finds its routes, rules and addresses by protocol and
	// by the links it is told about.
	again := newApplier(b.k, Options{Now: func() time.Time { return b.now }})
	if got := b.apply2(t, again, box()); len(got) != 0 {
		t.Errorf("restarted Applier changed %q", got)
	}
	d := box()
	d.Addresses = d.Addresses[:2] // lan0 still named in Links, its address stale
	fresh := newApplier(b.k, Options{Now: func() time.Time { return b.now }})
	b.apply2(t, fresh, d)
	diffLines(t, b.k.takeLog(), []string{"addr del 2001:db8:1:1::1/64 dev lan0"})

	// A link named nowhere is not managed by a fresh Applier: its stale
	// address stays (the documented limit of ownership by link).
	b.apply(t, box())
	b.k.takeLog()
	d.Links = d.Links[:1]
	fresh = newApplier(b.k, Options{Now: func() time.Time { return b.now }})
	b.apply2(t, fresh, d)
	if log := b.k.takeLog(); len(log) != 0 {
		t.Errorf("fresh Applier touched an unnamed link: %q", log)
	}
}

func (b *testBox) apply2(t *testing.T, a *Applier, d Desired) []string {
	t.Helper()
	changes, err := a.Apply(context.Background(), d)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return changes
}

func TestApplyLifetimesRunOut(t *testing.T) {
	b := newTestBox(t)
	d := Desired{Addresses: []Address{{
		Link:           "lan0",
		Prefix:         mustPrefix("2001:db8:1:1::1/64"),
		PreferredUntil: t0.Add(-time.Hour), // a stale prefix, deprecated
		ValidUntil:     t0.Add(time.Hour),
	}}}
	b.apply(t, d)
	diffLines(t, b.k.takeLog(), []string{"addr add 2001:db8:1:1::1/64 dev lan0 preferred 0 valid 3600"})
	b.now = b.now.Add(30 * time.Minute)
	if got := b.apply(t, d); len(got) != 0 {
		t.Errorf("deprecated address changed %q", got)
	}
	b.now = b.now.Add(31 * time.Minute) // past valid: the kernel dropped it
	if got := b.apply(t, d); len(got) != 0 {
		t.Errorf("expired address changed %q", got)
	}
	if log := b.k.takeLog(); len(log) != 0 {
		t.Errorf("kernel calls for an expired address: %q", log)
	}
}

// TestApplyTrustsAQuietKernel: applying again what the kernel was made to
// match reads nothing while the kernel reports no change, and reads it all
// again (and repairs it) when the kernel reports one, when the Desired
// changes, when an address lifetime in it runs out, after an error, and
// once recheckEvery has gone by.
func TestApplyTrustsAQuietKernel(t *testing.T) {
	b := newTestBox(t)
	b.k.quiet = true
	d := Desired{
		Links:     []Link{{Name: "lan0", Up: true}},
		Sysctls:   map[string]string{"net.ipv6.conf.all.forwarding": "1"},
		Addresses: []Address{{Link: "lan0", Prefix: mustPrefix("2001:db8:1:1::1/64"), PreferredUntil: t0.Add(time.Hour), ValidUntil: t0.Add(2 * time.Hour)}},
		Routes:    []Route{{Dst: mustPrefix("2001:db8:2::/48"), Via: mustAddr("fe80::9"), Link: "lan0"}},
	}
	step := func(name string, wantRead bool) {
		t.Helper()
		before := b.k.reads
		if _, err := b.a.Apply(context.Background(), d); err != nil {
			t.Fatalf("%s: Apply: %v", name, err)
		}
		if read := b.k.reads != before; read != wantRead {
			t.Errorf("%s: read the kernel %v, want %v", name, read, wantRead)
		}
	}
	step("first apply", true) // nothing known yet
	b.k.takeLog()
	b.now = b.now.Add(time.Minute)
	step("same again", false)
	step("same once more", false)

	// Someone deletes our route; the kernel says so.
	b.k.routes = slices.DeleteFunc(b.k.routes, func(r kernelRoute) bool { return r.Protocol == RouteProtocol })
	b.k.touched = true
	step("after a reported change", true)
	diffLines(t, b.k.takeLog(), []string{"route add 2001:db8:2::/48 via fe80::9 dev lan0 metric 1024"})
	step("quiet again", false)

	// A sysctl has no notification: it comes back within recheckEvery.
	b.k.sysctls["net/ipv6/conf/all/forwarding"] = "0"
	b.now = b.now.Add(recheckEvery - time.Second)
	step("sysctl changed unseen", false)
	b.now = b.now.Add(time.Second)
	step("recheck", true)
	diffLines(t, b.k.takeLog(), []string{"sysctl net/ipv6/conf/all/forwarding=1"})

	// The address becomes deprecated: a change to make.
	b.now = t0.Add(time.Hour)
	step("preferred lifetime over", true)
	step("deprecated, quiet", false)

	// The caller changes its Desired in place: a change all the same.
	d.Sysctls["net.ipv6.conf.all.forwarding"] = "0"
	step("changed in place", true)
	d.Sysctls["net.ipv6.conf.all.forwarding"] = "1"
	step("changed back in place", true)
	step("quiet once more", false)

	d.Routes = append(d.Routes, Route{Dst: mustPrefix("2001:db8:3::/48"), Via: mustAddr("fe80::9"), Link: "lan0"})
	step("desired changed", true)
	b.k.takeLog()

	b.k.fail["route add 2001:db8:4::/48"] = syscall.EINVAL
	d.Routes = append(d.Routes, Route{Dst: mustPrefix("2001:db8:4::/48"), Via: mustAddr("fe80::9"), Link: "lan0"})
	if _, err := b.a.Apply(context.Background(), d); err == nil {
		t.Fatal("failing route: no error")
	}
	delete(b.k.fail, "route add 2001:db8:4::/48")
	step("after an error", true)
	step("quiet after the repair", false)
}

// TestDesiredEqualCoversEveryField fails when a field is added to Desired
// or its entries without equal learning of it: Apply would then take a
// changed Desired for the one the kernel already matches.
func TestDesiredEqualCoversEveryField(t *testing.T) {
	for _, c := range []struct {
		v    any
		want int
	}{{Desired{}, 6}, {VirtualLink{}, 5}, {Address{}, 5}, {Link{}, 3}, {Route{}, 8}, {Rule{}, 4}} {
		if n := reflect.TypeOf(c.v).NumField(); n != c.want {
			t.Errorf("%T has %d fields, equal knows %d: update Desired.equal and this test", c.v, n, c.want)
		}
	}
	base := Desired{
		Virtual:   []VirtualLink{{Name: "br0", Kind: Bridge, Ports: []string{"lan0"}}},
		Links:     []Link{{Name: "lan0", Up: true}},
		Sysctls:   map[string]string{"a": "1"},
		Addresses: []Address{{Link: "lan0", Prefix: mustPrefix("2001:db8::1/64"), ValidUntil: t0}},
		Routes:    []Route{{Dst: mustPrefix("2001:db8:2::/48"), Link: "lan0"}},
		Rules:     []Rule{{Family: IPv6, Table: 7}},
	}
	if !base.equal(base) {
		t.Fatal("a Desired differs from itself")
	}
	for name, change := range map[string]func(d *Desired){
		"port":      func(d *Desired) { d.Virtual[0].Ports = []string{"lan1"} },
		"link":      func(d *Desired) { d.Links[0].MTU = 1400 },
		"sysctl":    func(d *Desired) { d.Sysctls["a"] = "0" },
		"lifetime":  func(d *Desired) { d.Addresses[0].ValidUntil = t0.Add(time.Second) },
		"route":     func(d *Desired) { d.Routes[0].Metric = 5 },
		"rule":      func(d *Desired) { d.Rules[0].Priority = 5 },
		"new route": func(d *Desired) { d.Routes = append(d.Routes, Route{}) },
	} {
		d := Desired{
			Virtual: []VirtualLink{{Name: "br0", Kind: Bridge, Ports: []string{"lan0"}}}, Links: slices.Clone(base.Links),
			Sysctls: map[string]string{"a": "1"}, Addresses: slices.Clone(base.Addresses),
			Routes: slices.Clone(base.Routes), Rules: slices.Clone(base.Rules),
		}
		change(&d)
		if base.equal(d) {
			t.Errorf("%s: change not seen", name)
		}
	}
}

func TestApplyMissingLink(t *testing.T) {
	b := newTestBox(t)
	d := Desired{
		Links:     []Link{{Name: "wan9", Up: true}},
		Addresses: []Address{{Link: "wan9", Prefix: mustPrefix("192.0.2.9/24")}},
	}
	changes, err := b.a.Apply(context.Background(), d)
	if err == nil || !strings.Contains(err.Error(), "kernel: read link wan9") || !strings.Contains(err.Error(), "kernel: add address 192.0.2.9/24 dev wan9: no such device") {
		t.Errorf("Apply error = %v", err)
	}
	if len(changes) != 0 {
		t.Errorf("changes = %q", changes)
	}
}

func TestApplyUnmodelledRuleLeftAlone(t *testing.T) {
	b := newTestBox(t)
	b.apply(t, Desired{Rules: []Rule{{Family: IPv4, Src: mustPrefix("192.0.2.0/24"), Table: 300, Priority: 9600}}})
	// The modelled twin is added next to the unmodelled rule, not instead.
	diffLines(t, b.k.takeLog(), []string{"rule add from 192.0.2.0/24 table 300 priority 9600"})
	b.apply(t, Desired{})
	diffLines(t, b.k.takeLog(), []string{"rule del from 192.0.2.0/24 table 300 priority 9600"})
	if !slices.Contains(b.k.state(), "rule from 192.0.2.0/24 table 300 priority 9600 proto 206") {
		t.Error("unmodelled rule removed")
	}
}

func TestClose(t *testing.T) {
	k := newFakeOps(time.Now)
	a := newApplier(k, Options{})
	if err := a.Close(); err != nil || !k.closed {
		t.Errorf("Close = %v, closed %v", err, k.closed)
	}
}
