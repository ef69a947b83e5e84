package prefix

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func poolPlan(t *testing.T, a *Allocator, in Input) (Plan, *PDPool) {
	t.Helper()
	p := a.Plan(in)
	checkInvariants(t, in, p)
	if len(p.Pools) != 1 {
		t.Fatalf("got %d pools, want 1 (problems %q)", len(p.Pools), p.Problems)
	}
	return p, p.Pools[0]
}

func TestPoolAllocations(t *testing.T) {
	a := New(State{})
	d := del("wan0", "2001:db8:a::/56", t0, time.Hour, 2*time.Hour)
	in := Input{Segments: []Segment{seg("lan0"), seg("lan1"), segID("iot", 0x42)}, Delegations: []Delegation{d}, PDLength: 62, Now: t0}
	p, pool := poolPlan(t, a, in)
	if pool.Slots() != 64 {
		t.Fatalf("slots %d, want 64 /62s in a /56", pool.Slots())
	}
	// lan0, lan1 share slot 0; iot sits in slot 0x10.
	if pool.Available() != 62 {
		t.Errorf("available %d, want 62", pool.Available())
	}
	seen := map[netip.Prefix]string{}
	for i := range 62 {
		client := fmt.Sprintf("router%d", i)
		got, err := pool.Allocate(client)
		if err != nil {
			t.Fatalf("allocate %s: %v", client, err)
		}
		if got.Bits() != 62 || !d.Prefix.Contains(got.Addr()) {
			t.Errorf("%s got %s, not a /62 of %s", client, got, d.Prefix)
		}
		for q, o := range seen {
			if q.Overlaps(got) {
				t.Errorf("%s got %s, overlapping %s's %s", client, got, o, q)
			}
		}
		seen[got] = client
		if again, _ := pool.Allocate(client); again != got {
			t.Errorf("%s got %s then %s", client, got, again)
		}
	}
	checkInvariants(t, in, p)
	if _, err := pool.Allocate("one-too-many"); !errors.Is(err, ErrPoolFull) {
		t.Errorf("allocate from a full pool: %v", err)
	}
	if len(pool.Free()) != 0 {
		t.Errorf("full pool has free %v", pool.Free())
	}
	held, _ := pool.Lookup("router5")
	if !pool.Release("router5") || pool.Release("router5") {
		t.Error("release reported wrongly")
	}
	if _, ok := pool.Lookup("router5"); ok {
		t.Error("router5 still bound after release")
	}
	if free := pool.Free(); len(free) != 1 || free[0] != held {
		t.Errorf("free after release %v, want %v", free, held)
	}
	if got, err := pool.Allocate("newcomer"); err != nil || got != held {
		t.Errorf("newcomer got %v, %v; want the released %s", got, err, held)
	}
}

func TestPoolFreeAndTop(t *testing.T) {
	a := New(State{})
	in := Input{Segments: []Segment{seg("lan0")}, PDLength: 60, Now: t0,
		Delegations: []Delegation{del("wan0", "2001:db8:a::/56", t0, time.Hour, 2*time.Hour)}}
	_, pool := poolPlan(t, a, in)
	want := []netip.Prefix{pfx("2001:db8:a:10::/60"), pfx("2001:db8:a:20::/59"), pfx("2001:db8:a:40::/58"), pfx("2001:db8:a:80::/57")}
	if got := pool.Free(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("free %v, want %v", got, want)
	}
	if got, _ := pool.Allocate("r"); got != pfx("2001:db8:a:f0::/60") {
		t.Errorf("first allocation %s, want the top /60", got)
	}
}

func TestPoolStableAcrossPlans(t *testing.T) {
	a := New(State{})
	dA := del("wan0", "2001:db8:a::/56", t0, time.Hour, 2*time.Hour)
	in := Input{Segments: []Segment{seg("lan0")}, Delegations: []Delegation{dA}, PDLength: 62, Now: t0}
	_, pool := poolPlan(t, a, in)
	got, _ := pool.Allocate("r1")

	// A new segment keeps out of the delegated prefix; the binding stays.
	in.Segments = append(in.Segments, seg("lan1"), seg("lan2"), seg("lan3"), seg("lan4"))
	in.Now = t0.Add(time.Minute)
	_, pool = poolPlan(t, a, in)
	if b, ok := pool.Lookup("r1"); !ok || b != got {
		t.Errorf("r1 holds %v after re-plan, want %s", b, got)
	}

	// Renumbered to B: r1 keeps the same place in it.
	dB := del("wan0", "2001:db8:b::/56", in.Now, time.Hour, 2*time.Hour)
	in.Delegations = []Delegation{dB}
	_, pool = poolPlan(t, a, in)
	want := netip.PrefixFrom(netip.AddrFrom16(func() [16]byte {
		x := got.Addr().As16()
		x[5] = 0xb
		return x
	}()), 62)
	if b, ok := pool.Lookup("r1"); !ok || b != want {
		t.Errorf("r1 holds %v after renumbering, want %s", b, want)
	}
}

func TestPoolReserve(t *testing.T) {
	a := New(State{})
	in := Input{Segments: []Segment{seg("lan0")}, PDLength: 60, Now: t0,
		Delegations: []Delegation{del("wan0", "2001:db8:a::/56", t0, time.Hour, 2*time.Hour)}}
	_, pool := poolPlan(t, a, in)
	if err := pool.Reserve("r1", pfx("2001:db8:a:50::/60")); err != nil {
		t.Fatal(err)
	}
	if got, _ := pool.Allocate("r1"); got != pfx("2001:db8:a:50::/60") {
		t.Errorf("r1 allocated %s after reserving", got)
	}
	for _, bad := range []string{"2001:db8:a::/60", "2001:db8:a:50::/60", "2001:db8:a:50::/62", "2001:db8:b::/60"} {
		if err := pool.Reserve("r2", pfx(bad)); !errors.Is(err, ErrNotFree) {
			t.Errorf("reserve %s: %v, want ErrNotFree", bad, err)
		}
	}
}

func TestPoolLifetimesFollowDelegation(t *testing.T) {
	a := New(State{})
	d := del("wan0", "2001:db8:a::/56", t0, 100*time.Second, 200*time.Second)
	d.Up = false
	_, pool := poolPlan(t, a, Input{Segments: []Segment{seg("lan0")}, PDLength: 60, Now: t0, Delegations: []Delegation{d}})
	if p, v := pool.Lifetimes(t0); p != 0 || v != 200*time.Second {
		t.Errorf("lifetimes %v/%v", p, v)
	}
}

func TestPoolProblems(t *testing.T) {
	tests := []struct {
		name   string
		del    string
		length int
		want   string
	}{
		{"length shorter than the delegation", "2001:db8:a::/60", 56, "cannot hold /56 prefixes"},
		{"no room", "2001:db8:a::/62", 62, "has no room left for /62 prefixes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New(State{}).Plan(Input{Segments: []Segment{seg("lan0")}, PDLength: tt.length, Now: t0,
				Delegations: []Delegation{del("wan0", tt.del, t0, time.Hour, 2*time.Hour)}})
			if len(p.Problems) != 1 || !strings.Contains(p.Problems[0], tt.want) {
				t.Errorf("problems %q, want %q", p.Problems, tt.want)
			}
		})
	}
}

func TestPoolConcurrent(t *testing.T) {
	a := New(State{})
	in := Input{Segments: []Segment{seg("lan0")}, PDLength: 64, Now: t0,
		Delegations: []Delegation{del("wan0", "2001:db8:a::/56", t0, time.Hour, 2*time.Hour)}}
	_, pool := poolPlan(t, a, in)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 100 {
			_, _ = pool.Allocate(fmt.Sprint(i))
		}
	}()
	for range 5 {
		in.Now = in.Now.Add(time.Second)
		if p := a.Plan(in); p.Pools[0] != pool {
			t.Error("re-plan with the same delegation made a new pool")
		}
	}
	<-done
	if n := len(pool.Bindings()); n != 100 {
		t.Errorf("%d bindings after 100 allocations", n)
	}
}

func TestPoolBindingReleasedForConfiguredSubnet(t *testing.T) {
	a := New(State{})
	in := Input{Segments: []Segment{seg("lan0")}, PDLength: 60, Now: t0,
		Delegations: []Delegation{del("wan0", "2001:db8:a::/56", t0, time.Hour, 2*time.Hour)}}
	_, pool := poolPlan(t, a, in)
	got, _ := pool.Allocate("r1") // the top /60: 2001:db8:a:f0::/60
	in.Segments = append(in.Segments, segID("dmz", 0xf3))
	p, pool := poolPlan(t, a, in)
	if _, ok := pool.Lookup("r1"); ok {
		t.Errorf("r1 still holds %s which dmz's subnet_id needs", got)
	}
	if len(p.Problems) != 1 || !strings.Contains(p.Problems[0], "r1") {
		t.Errorf("problems %q", p.Problems)
	}
}

// TestPoolTakesHighestFree: allocation is top-down, and a released prefix
// is the next one handed out, also after the search had moved below it.
func TestPoolTakesHighestFree(t *testing.T) {
	a := New(State{})
	in := Input{Segments: []Segment{seg("lan0")}, Delegations: []Delegation{del("wan0", "2001:db8:a::/60", t0, time.Hour, 2*time.Hour)}, PDLength: 62, Now: t0}
	_, pool := poolPlan(t, a, in)
	want := []string{"2001:db8:a:c::/62", "2001:db8:a:8::/62", "2001:db8:a:4::/62"}
	for i, w := range want {
		got, err := pool.Allocate(fmt.Sprint("r", i))
		if err != nil || got.String() != w {
			t.Fatalf("allocation %d = %v, %v; want %s", i, got, err, w)
		}
	}
	if _, err := pool.Allocate("full"); !errors.Is(err, ErrPoolFull) {
		t.Fatalf("slot 0 holds lan0's /64, so the pool is full: %v", err)
	}
	pool.Release("r0")
	if got, _ := pool.Allocate("again"); got.String() != want[0] {
		t.Errorf("after releasing the top prefix got %v, want %s", got, want[0])
	}
	if err := pool.Reserve("r2", netip.MustParsePrefix("2001:db8:a:c::/62")); err == nil {
		t.Error("reserved a prefix held by another client")
	}
}
