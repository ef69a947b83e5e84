package prefix

import (
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPlanTable(t *testing.T) {
	ula := pfx("fd12:3456:789a::/48")
	tests := []struct {
		name     string
		in       Input
		want     map[string][]string // segment → its /64s in order
		problems []string            // substrings, one per expected problem
	}{
		{
			name: "one uplink, one segment",
			in:   Input{Segments: []Segment{seg("lan0")}, Delegations: []Delegation{del("wan0", "2001:db8:1::/56", t0, time.Hour, 2*time.Hour)}},
			want: map[string][]string{"lan0": {"2001:db8:1::/64"}},
		},
		{
			name: "host bits in the delegation are masked",
			in:   Input{Segments: []Segment{seg("lan0")}, Delegations: []Delegation{del("wan0", "2001:db8:1:ff::/56", t0, time.Hour, 2*time.Hour)}},
			want: map[string][]string{"lan0": {"2001:db8:1::/64"}},
		},
		{
			name: "three segments, ULA",
			in: Input{Segments: []Segment{seg("lan0"), seg("lan1"), seg("guest")}, ULA: ula,
				Delegations: []Delegation{del("wan0", "2001:db8:1::/60", t0, time.Hour, 2*time.Hour)}},
			want: map[string][]string{
				"lan0":  {"2001:db8:1::/64", "fd12:3456:789a::/64"},
				"lan1":  {"2001:db8:1:1::/64", "fd12:3456:789a:1::/64"},
				"guest": {"2001:db8:1:2::/64", "fd12:3456:789a:2::/64"},
			},
		},
		{
			name: "several uplinks, same index in each",
			in: Input{Segments: []Segment{seg("lan0"), seg("lan1")}, ULA: ula,
				Delegations: []Delegation{
					del("wan0", "2001:db8:1::/56", t0, time.Hour, 2*time.Hour),
					del("wan1", "2001:db8:2:40::/62", t0, time.Hour, 2*time.Hour),
				}},
			want: map[string][]string{
				"lan0": {"2001:db8:1::/64", "2001:db8:2:40::/64", "fd12:3456:789a::/64"},
				"lan1": {"2001:db8:1:1::/64", "2001:db8:2:41::/64", "fd12:3456:789a:1::/64"},
			},
		},
		{
			name: "a /64 with two segments",
			in: Input{Segments: []Segment{seg("lan0"), seg("lan1")},
				Delegations: []Delegation{del("wan0", "2001:db8:1::/64", t0, time.Hour, 2*time.Hour)}},
			want:     map[string][]string{"lan0": {"2001:db8:1::/64"}, "lan1": nil},
			problems: []string{"wan0's 2001:db8:1::/64 is too small for 2 segments: lan1 get no prefix from it"},
		},
		{
			name: "a /64 with three segments names both left out",
			in: Input{Segments: []Segment{seg("lan0"), seg("lan1"), seg("lan2")},
				Delegations: []Delegation{del("wan0", "2001:db8:1::/64", t0, time.Hour, 2*time.Hour)}},
			want:     map[string][]string{"lan0": {"2001:db8:1::/64"}, "lan1": nil, "lan2": nil},
			problems: []string{"wan0's 2001:db8:1::/64 is too small for 3 segments: lan1, lan2 get no prefix from it"},
		},
		{
			name: "configured subnet ids honoured, others fill from the bottom",
			in: Input{Segments: []Segment{segID("iot", 0x10), seg("lan0"), segID("dmz", 0), seg("lan1")},
				Delegations: []Delegation{del("wan0", "2001:db8:1::/56", t0, time.Hour, 2*time.Hour)}},
			want: map[string][]string{
				"iot":  {"2001:db8:1:10::/64"},
				"dmz":  {"2001:db8:1::/64"},
				"lan0": {"2001:db8:1:1::/64"},
				"lan1": {"2001:db8:1:2::/64"},
			},
		},
		{
			name: "subnet id that does not fit is reported, the ULA still fits",
			in: Input{Segments: []Segment{segID("lan0", 300), seg("lan1")}, ULA: ula,
				Delegations: []Delegation{del("wan0", "2001:db8:1::/56", t0, time.Hour, 2*time.Hour)}},
			want: map[string][]string{
				"lan0": {"fd12:3456:789a:12c::/64"},
				"lan1": {"2001:db8:1::/64", "fd12:3456:789a::/64"},
			},
			problems: []string{"lan0's subnet_id 300 does not fit in wan0's 2001:db8:1::/56 (256 /64s)"},
		},
		{
			name: "subnet id out of range and duplicated",
			in: Input{Segments: []Segment{segID("a", 70000), segID("b", 3), segID("c", 3)},
				Delegations: []Delegation{del("wan0", "2001:db8:1::/48", t0, time.Hour, 2*time.Hour)}},
			want: map[string][]string{"a": nil, "b": {"2001:db8:1:3::/64"}, "c": nil},
			problems: []string{
				"a's subnet_id 70000 is out of range",
				"c's subnet_id 3 is already b's",
			},
		},
		{
			name: "too long delegation yields nothing",
			in: Input{Segments: []Segment{seg("lan0")},
				Delegations: []Delegation{
					{Uplink: "wan0", Prefix: pfx("2001:db8:1::/80"), Preferred: t0.Add(time.Hour), Valid: t0.Add(2 * time.Hour), Up: true, TooLong: true},
				}},
			want:     map[string][]string{"lan0": nil},
			problems: []string{"wan0's 2001:db8:1::/80 is longer than /64"},
		},
		{
			name: "too long flag alone",
			in: Input{Segments: []Segment{seg("lan0")},
				Delegations: []Delegation{
					{Uplink: "wan0", Prefix: pfx("2001:db8:1::/64"), Preferred: t0.Add(time.Hour), Valid: t0.Add(2 * time.Hour), Up: true, TooLong: true},
				}},
			want:     map[string][]string{"lan0": nil},
			problems: []string{"is longer than /64"},
		},
		{
			name: "expired delegation is gone, not a problem",
			in: Input{Segments: []Segment{seg("lan0")},
				Delegations: []Delegation{del("wan0", "2001:db8:1::/56", t0, -2*time.Hour, -time.Second)}},
			want: map[string][]string{"lan0": nil},
		},
		{
			name: "overlapping delegations",
			in: Input{Segments: []Segment{seg("lan0")},
				Delegations: []Delegation{
					del("wan0", "2001:db8:1::/56", t0, time.Hour, 2*time.Hour),
					del("wan1", "2001:db8:1:10::/60", t0, time.Hour, 2*time.Hour),
				}},
			want:     map[string][]string{"lan0": {"2001:db8:1::/64"}},
			problems: []string{"wan1's 2001:db8:1:10::/60 overlaps wan0's 2001:db8:1::/56"},
		},
		{
			name: "IPv4 delegation and bad ULA ignored",
			in: Input{Segments: []Segment{seg("lan0")}, ULA: pfx("2001:db8::/48"),
				Delegations: []Delegation{{Uplink: "wan0", Prefix: pfx("192.0.2.0/24"), Valid: t0.Add(time.Hour), Up: true}}},
			want:     map[string][]string{"lan0": nil},
			problems: []string{"ULA 2001:db8::/48 is not a ULA prefix", "wan0's 192.0.2.0/24 is not an IPv6 prefix"},
		},
		{
			name:     "unnamed and duplicate segments",
			in:       Input{Segments: []Segment{seg(""), seg("lan0"), seg("lan0")}, ULA: ula},
			want:     map[string][]string{"lan0": {"fd12:3456:789a::/64"}},
			problems: []string{"a segment has no name", "segment lan0 is listed twice"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.Now = t0
			p := New(State{}).Plan(tt.in)
			checkInvariants(t, tt.in, p)
			if len(p.Segments) != len(tt.want) {
				t.Errorf("plan has %d segments, want %d", len(p.Segments), len(tt.want))
			}
			for name, want := range tt.want {
				var got []string
				for _, q := range prefixesOf(t, p, name) {
					got = append(got, q.String())
				}
				if !slices.Equal(got, want) {
					t.Errorf("%s got %v, want %v", name, got, want)
				}
			}
			if len(p.Problems) != len(tt.problems) {
				t.Errorf("problems %q, want %d matching %q", p.Problems, len(tt.problems), tt.problems)
			}
			for _, w := range tt.problems {
				if !slices.ContainsFunc(p.Problems, func(s string) bool { return strings.Contains(s, w) }) {
					t.Errorf("no problem matching %q in %q", w, p.Problems)
				}
			}
		})
	}
}

func TestLifetimes(t *testing.T) {
	tests := []struct {
		name             string
		preferred, valid time.Duration // left in the delegation
		up               bool
		wantP, wantV     time.Duration
	}{
		{"long lease is capped", 7 * 24 * time.Hour, 30 * 24 * time.Hour, true, 2700 * time.Second, 5400 * time.Second},
		{"short lease passes through", 100 * time.Second, 200 * time.Second, true, 100 * time.Second, 200 * time.Second},
		{"preferred capped, valid not", time.Hour, 3000 * time.Second, true, 2700 * time.Second, 3000 * time.Second},
		{"preferred never above valid", 3000 * time.Second, 1000 * time.Second, true, 1000 * time.Second, 1000 * time.Second},
		{"preferred over", -time.Minute, time.Hour, true, 0, time.Hour},
		{"fractions round down", 1500*time.Millisecond + 99*time.Second, 2500*time.Millisecond + 199*time.Second, true, 100 * time.Second, 201 * time.Second},
		{"uplink down deprecates, keeps valid", time.Hour, 2 * time.Hour, false, 0, 5400 * time.Second},
		{"uplink down, short valid", time.Hour, 600 * time.Second, false, 0, 600 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := del("wan0", "2001:db8:1::/56", t0, tt.preferred, tt.valid)
			d.Up = tt.up
			in := Input{Segments: []Segment{seg("lan0")}, Delegations: []Delegation{d}, Now: t0}
			p := New(State{}).Plan(in)
			checkInvariants(t, in, p)
			sp, _ := p.Segment("lan0")
			if len(sp.Prefixes) != 1 {
				t.Fatalf("got %d prefixes, want 1", len(sp.Prefixes))
			}
			a := sp.Prefixes[0]
			if a.Preferred != tt.wantP || a.Valid != tt.wantV {
				t.Errorf("lifetimes %v/%v, want %v/%v", a.Preferred, a.Valid, tt.wantP, tt.wantV)
			}
			// Later, the remaining lifetimes shrink with the delegation's.
			later := t0.Add(10 * time.Minute)
			lp, lv := a.Lifetimes(later)
			if lv > max(d.Valid.Sub(later), 0) || lp > max(d.Preferred.Sub(later), 0) || lp > lv {
				t.Errorf("Lifetimes(+10m) = %v/%v, delegation has %v/%v", lp, lv, d.Preferred.Sub(later), d.Valid.Sub(later))
			}
			checkEnds(t, a, t0, later, t0.Add(2*time.Hour))
		})
	}
}

// checkEnds: an advertiser counting down from the assignment's Ends, and
// capping as it sends, advertises its Lifetimes at each of times.
func checkEnds(t *testing.T, a Assigned, times ...time.Time) {
	t.Helper()
	ep, ev := a.Ends()
	for _, at := range times {
		v := min(max(ev.Sub(at).Truncate(time.Second), 0), NDValidLimit)
		p := min(max(ep.Sub(at).Truncate(time.Second), 0), NDPreferredLimit, v)
		if wp, wv := a.Lifetimes(at); p != wp || v != wv {
			t.Errorf("at %v counted down from Ends %v/%v, Lifetimes %v/%v", at.Sub(t0), p, v, wp, wv)
		}
	}
}

func TestULALifetimesAndCaps(t *testing.T) {
	in := Input{Segments: []Segment{seg("lan0")}, ULA: pfx("fd00:1:2::/48"), Now: t0}
	p := New(State{}).Plan(in)
	sp, _ := p.Segment("lan0")
	if len(sp.Prefixes) != 1 || !sp.Prefixes[0].ULA {
		t.Fatalf("prefixes %+v, want the ULA /64", sp.Prefixes)
	}
	a := sp.Prefixes[0]
	if a.Preferred != NDPreferredLimit || a.Valid != NDValidLimit {
		t.Errorf("ULA lifetimes %v/%v", a.Preferred, a.Valid)
	}
	if lp, lv := a.Lifetimes(t0.Add(1000 * time.Hour)); lp != NDPreferredLimit || lv != NDValidLimit {
		t.Errorf("ULA lifetimes later %v/%v", lp, lv)
	}
	checkEnds(t, a, t0, t0.Add(1000*time.Hour))
}

func TestRenumbering(t *testing.T) {
	a := New(State{})
	segs := []Segment{seg("lan0"), seg("lan1")}
	in := Input{Segments: segs, Now: t0, Delegations: []Delegation{del("wan0", "2001:db8:a::/56", t0, time.Hour, 2*time.Hour)}}
	p := a.Plan(in)
	if p.State == nil {
		t.Fatal("first plan did not return a State to save")
	}
	if len(p.Stale) != 0 {
		t.Fatalf("stale before renumbering: %v", p.Stale)
	}

	now := t0.Add(time.Minute)
	in = Input{Segments: segs, Now: now, Delegations: []Delegation{del("wan0", "2001:db8:b::/56", now, 100*time.Hour, 200*time.Hour)}}
	p = a.Plan(in)
	checkInvariants(t, in, p)
	if got := prefixesOf(t, p, "lan1"); !slices.Equal(got, []netip.Prefix{pfx("2001:db8:b:1::/64")}) {
		t.Errorf("lan1 got %v after renumbering, want the same index in B", got)
	}
	want := []Stale{
		{Segment: "lan0", Index: 0, Prefix: pfx("2001:db8:a::/64"), Until: now.Add(StaleHold)},
		{Segment: "lan1", Index: 1, Prefix: pfx("2001:db8:a:1::/64"), Until: now.Add(StaleHold)},
	}
	if !slices.Equal(p.Stale, want) {
		t.Errorf("stale %+v, want %+v", p.Stale, want)
	}
	if p.State == nil || len(p.State.Stale) != 2 {
		t.Errorf("state after renumbering not returned or without stale: %+v", p.State)
	}
	if p.Next.IsZero() || p.Next.After(now.Add(StaleHold)) {
		t.Errorf("Next %v, want no later than the stale expiry", p.Next)
	}

	// Still stale just before the hold ends, gone at it.
	in.Now = now.Add(StaleHold - time.Second)
	if p = a.Plan(in); len(p.Stale) != 2 {
		t.Errorf("stale %v one second before the end of the hold", p.Stale)
	}
	in.Now = now.Add(StaleHold)
	p = a.Plan(in)
	if len(p.Stale) != 0 {
		t.Errorf("stale %v after the hold", p.Stale)
	}
	if p.State == nil || len(p.State.Stale) != 0 {
		t.Errorf("state not returned without stale after the hold: %+v", p.State)
	}
}

func TestStaleWhenPrefixComesBack(t *testing.T) {
	a := New(State{})
	dA := del("wan0", "2001:db8:a::/56", t0, time.Hour, 2*time.Hour)
	a.Plan(Input{Segments: []Segment{seg("lan0")}, Delegations: []Delegation{dA}, Now: t0})
	p := a.Plan(Input{Segments: []Segment{seg("lan0")}, Now: t0.Add(time.Minute)})
	if len(p.Stale) != 1 {
		t.Fatalf("stale %v after the delegation went away", p.Stale)
	}
	p = a.Plan(Input{Segments: []Segment{seg("lan0")}, Delegations: []Delegation{dA}, Now: t0.Add(2 * time.Minute)})
	if len(p.Stale) != 0 || len(prefixesOf(t, p, "lan0")) != 1 {
		t.Errorf("prefix back: stale %v, lan0 %v", p.Stale, prefixesOf(t, p, "lan0"))
	}
}

func TestLeaseExpiryGoesStale(t *testing.T) {
	a := New(State{})
	d := del("wan0", "2001:db8:a::/56", t0, 10*time.Minute, 20*time.Minute)
	in := Input{Segments: []Segment{seg("lan0")}, Delegations: []Delegation{d}, Now: t0}
	p := a.Plan(in)
	if !p.Next.Equal(d.Preferred) {
		t.Errorf("Next %v, want the preferred end %v", p.Next, d.Preferred)
	}
	in.Now = d.Valid
	p = a.Plan(in)
	if len(prefixesOf(t, p, "lan0")) != 0 || len(p.Stale) != 1 || p.Stale[0].Prefix != pfx("2001:db8:a::/64") {
		t.Errorf("after valid end: lan0 %v, stale %v", prefixesOf(t, p, "lan0"), p.Stale)
	}
}

func TestRebootIntoNewPrefix(t *testing.T) {
	a := New(State{})
	ula := GenerateULA(strings.NewReader("0123456789"))
	segs := []Segment{seg("lan0"), seg("guest")}
	p := a.Plan(Input{Segments: segs, ULA: ula, Now: t0,
		Delegations: []Delegation{del("wan0", "2001:db8:a::/56", t0, time.Hour, 2*time.Hour)}})
	saved, err := json.Marshal(p.State)
	if err != nil {
		t.Fatal(err)
	}

	// Power off for a day; the ISP hands out B after the reboot.
	var st State
	if err := json.Unmarshal(saved, &st); err != nil {
		t.Fatal(err)
	}
	if st.ULA != ula {
		t.Fatalf("ULA %v after restore, want %v", st.ULA, ula)
	}
	now := t0.Add(24 * time.Hour)
	b := New(st)
	in := Input{Segments: segs, ULA: st.ULA, Now: now,
		Delegations: []Delegation{del("wan0", "2001:db8:b::/56", now, time.Hour, 2*time.Hour)}}
	p = b.Plan(in)
	checkInvariants(t, in, p)
	var stale []netip.Prefix
	for _, s := range p.Stale {
		stale = append(stale, s.Prefix)
	}
	slices.SortFunc(stale, func(x, y netip.Prefix) int { return x.Addr().Compare(y.Addr()) })
	if want := []netip.Prefix{pfx("2001:db8:a::/64"), pfx("2001:db8:a:1::/64")}; !slices.Equal(stale, want) {
		t.Errorf("stale after reboot %v, want %v", stale, want)
	}
	if got := prefixesOf(t, p, "guest"); !slices.Equal(got, []netip.Prefix{pfx("2001:db8:b:1::/64"), subnet(ula, 1)}) {
		t.Errorf("guest after reboot %v", got)
	}

	// The stale list itself survives a second reboot within the hold.
	saved, _ = json.Marshal(p.State)
	var st2 State
	if err := json.Unmarshal(saved, &st2); err != nil {
		t.Fatal(err)
	}
	in.Now = now.Add(time.Hour)
	p = New(st2).Plan(in)
	if len(p.Stale) != 2 || !p.Stale[0].Until.Equal(now.Add(StaleHold)) {
		t.Errorf("stale after second reboot %+v, want both until %v", p.Stale, now.Add(StaleHold))
	}
}

func TestUplinkDown(t *testing.T) {
	a := New(State{})
	up := del("wan0", "2001:db8:a::/56", t0, time.Hour, 2*time.Hour)
	other := del("wan1", "2001:db8:c::/56", t0, time.Hour, 2*time.Hour)
	down := up
	down.Up = false
	in := Input{Segments: []Segment{seg("lan0")}, Delegations: []Delegation{down, other}, Now: t0}
	p := a.Plan(in)
	checkInvariants(t, in, p)
	sp, _ := p.Segment("lan0")
	if len(sp.Prefixes) != 2 {
		t.Fatalf("prefixes %+v", sp.Prefixes)
	}
	if a0 := sp.Prefixes[0]; a0.Preferred != 0 || a0.Valid != NDValidLimit {
		t.Errorf("down uplink's /64 lifetimes %v/%v, want 0/%v", a0.Preferred, a0.Valid, NDValidLimit)
	}
	if a1 := sp.Prefixes[1]; a1.Preferred != NDPreferredLimit {
		t.Errorf("up uplink's /64 preferred %v", a1.Preferred)
	}
	if len(p.Stale) != 0 {
		t.Errorf("a down uplink's /64 is not stale: %v", p.Stale)
	}
	// Back up: preferred again, nothing went stale meanwhile.
	in.Delegations[0] = up
	p = a.Plan(in)
	sp, _ = p.Segment("lan0")
	if sp.Prefixes[0].Preferred != NDPreferredLimit || len(p.Stale) != 0 {
		t.Errorf("uplink back: %+v, stale %v", sp.Prefixes[0], p.Stale)
	}
}

func TestUplinkRemoved(t *testing.T) {
	a := New(State{})
	d0 := del("wan0", "2001:db8:a::/56", t0, time.Hour, 2*time.Hour)
	d1 := del("wan1", "2001:db8:c::/56", t0, time.Hour, 2*time.Hour)
	a.Plan(Input{Segments: []Segment{seg("lan0")}, Delegations: []Delegation{d0, d1}, Now: t0})
	p := a.Plan(Input{Segments: []Segment{seg("lan0")}, Delegations: []Delegation{d0}, Now: t0})
	if len(p.Stale) != 1 || p.Stale[0].Prefix != pfx("2001:db8:c::/64") {
		t.Errorf("stale %v after wan1 was removed", p.Stale)
	}
}

func TestSegmentRemovalHoldsIndex(t *testing.T) {
	a := New(State{})
	d := del("wan0", "2001:db8:a::/56", t0, 1000*time.Hour, 2000*time.Hour)
	plan := func(now time.Time, segs ...Segment) Plan {
		in := Input{Segments: segs, Delegations: []Delegation{d}, Now: now}
		p := a.Plan(in)
		checkInvariants(t, in, p)
		return p
	}
	plan(t0, seg("lan0"), seg("lan1"), seg("lan2"))
	p := plan(t0.Add(time.Minute), seg("lan0"), seg("lan2"))
	if len(p.Stale) != 1 || p.Stale[0].Segment != "lan1" {
		t.Fatalf("stale %v after removing lan1", p.Stale)
	}
	if _, ok := p.State.Assignments["lan1"]; !ok {
		t.Errorf("lan1's index released while its /64 is stale: %v", p.State.Assignments)
	}
	p = plan(t0.Add(2*time.Minute), seg("lan0"), seg("lan2"), seg("lan3"))
	if sp, _ := p.Segment("lan3"); sp.Index != 3 {
		t.Errorf("lan3 got index %d during lan1's hold, want 3", sp.Index)
	}
	// lan1 coming back within the hold gets its /64 back.
	p = plan(t0.Add(3*time.Minute), seg("lan0"), seg("lan1"), seg("lan2"), seg("lan3"))
	if sp, _ := p.Segment("lan1"); sp.Index != 1 || len(p.Stale) != 0 {
		t.Errorf("lan1 back: index %d, stale %v", sp.Index, p.Stale)
	}
	// Removed for good: after the hold the index is free again.
	plan(t0.Add(4*time.Minute), seg("lan0"), seg("lan2"), seg("lan3"))
	p = plan(t0.Add(4*time.Minute+StaleHold), seg("lan0"), seg("lan2"), seg("lan3"))
	if _, ok := p.State.Assignments["lan1"]; ok || len(p.Stale) != 0 {
		t.Errorf("after the hold: assignments %v, stale %v", p.State.Assignments, p.Stale)
	}
	p = plan(t0.Add(5*time.Minute+StaleHold), seg("lan0"), seg("lan2"), seg("lan3"), seg("lan4"))
	if sp, _ := p.Segment("lan4"); sp.Index != 1 {
		t.Errorf("lan4 got %d, want the freed index 1", sp.Index)
	}
}

func TestRemovedSegmentWithoutPrefixFreesAtOnce(t *testing.T) {
	a := New(State{})
	a.Plan(Input{Segments: []Segment{seg("lan0"), seg("lan1")}, Now: t0})
	p := a.Plan(Input{Segments: []Segment{seg("lan0"), seg("lan2")}, Now: t0})
	if sp, _ := p.Segment("lan2"); sp.Index != 1 {
		t.Errorf("lan2 got %d; lan1 never advertised anything, its index 1 is free", sp.Index)
	}
}

func TestConfiguredSubnetIDTakesAnIndex(t *testing.T) {
	a := New(State{})
	d := del("wan0", "2001:db8:a::/56", t0, time.Hour, 2*time.Hour)
	a.Plan(Input{Segments: []Segment{seg("lan0"), seg("lan1")}, Delegations: []Delegation{d}, Now: t0})
	in := Input{Segments: []Segment{seg("lan0"), seg("lan1"), segID("dmz", 1)}, Delegations: []Delegation{d}, Now: t0.Add(time.Minute)}
	p := a.Plan(in)
	checkInvariants(t, in, p)
	if got := prefixesOf(t, p, "dmz"); !slices.Equal(got, []netip.Prefix{pfx("2001:db8:a:1::/64")}) {
		t.Errorf("dmz got %v, want its configured subnet", got)
	}
	if sp, _ := p.Segment("lan1"); sp.Index != 2 {
		t.Errorf("lan1 moved to %d, want 2", sp.Index)
	}
	if !slices.ContainsFunc(p.Problems, func(s string) bool {
		return strings.Contains(s, "lan1 moves from subnet 1 to 2: dmz is configured with subnet_id 1")
	}) {
		t.Errorf("move not reported: %q", p.Problems)
	}
	// The subnet is live on dmz now: no 0/0 for it.
	if len(p.Stale) != 0 {
		t.Errorf("stale %v", p.Stale)
	}
	// Dropping the subnet_id later keeps the index.
	in.Segments[2] = seg("dmz")
	p = a.Plan(in)
	if sp, _ := p.Segment("dmz"); sp.Index != 1 {
		t.Errorf("dmz index %d after subnet_id removed from config, want 1", sp.Index)
	}
}

func TestPlanTwiceChangesNothing(t *testing.T) {
	a := New(State{})
	in := Input{Segments: []Segment{seg("lan0"), segID("x", 7)}, ULA: pfx("fd00:1::/48"), PDLength: 62, Now: t0,
		Delegations: []Delegation{del("wan0", "2001:db8:a::/56", t0, time.Hour, 2*time.Hour)}}
	if p := a.Plan(in); p.State == nil {
		t.Fatal("first plan returned no State")
	}
	in.Now = t0.Add(time.Minute)
	if p := a.Plan(in); p.State != nil {
		t.Errorf("second plan returned a changed State: %+v", p.State)
	}
}

func TestDamagedState(t *testing.T) {
	st := State{
		ULA:         pfx("2001:db8::/48"),
		Assignments: map[string]int{"a": 1, "b": 1, "c": -4, "": 2},
		Advertised:  []Advertised{{Segment: "a", Index: 1, Prefix: pfx("2001:db8::/60")}},
		Stale:       []Stale{{Segment: "z", Index: 0, Prefix: netip.Prefix{}, Until: t0.Add(time.Hour)}},
	}
	a := New(st)
	got := a.State()
	if got.ULA.IsValid() || len(got.Assignments) != 1 || got.Assignments["a"] != 1 || len(got.Advertised) != 0 || len(got.Stale) != 0 {
		t.Errorf("sanitized state %+v", got)
	}
	p := a.Plan(Input{Segments: []Segment{seg("a"), seg("b")}, Now: t0})
	if len(p.Problems) != 6 {
		t.Errorf("problems %q, want 6", p.Problems)
	}
	if sp, _ := p.Segment("b"); sp.Index != 0 {
		t.Errorf("b got %d", sp.Index)
	}
	if p = a.Plan(Input{Segments: []Segment{seg("a"), seg("b")}, Now: t0}); len(p.Problems) != 0 {
		t.Errorf("load problems reported twice: %q", p.Problems)
	}
}

func TestStateReturnedIsACopy(t *testing.T) {
	a := New(State{})
	p := a.Plan(Input{Segments: []Segment{seg("lan0")}, Now: t0})
	p.State.Assignments["lan0"] = 9
	if a.State().Assignments["lan0"] != 0 {
		t.Error("changing the returned State changed the allocator")
	}
}

func TestStaleIndexNotReused(t *testing.T) {
	a := New(State{})
	d := del("wan0", "2001:db8:a::/56", t0, 1000*time.Hour, 2000*time.Hour)
	a.Plan(Input{Segments: []Segment{seg("lan0"), segID("lab", 1)}, Delegations: []Delegation{d}, Now: t0})
	// The user moves lab to subnet 5: subnet 1 is stale on lab for the hold.
	p := a.Plan(Input{Segments: []Segment{seg("lan0"), segID("lab", 5)}, Delegations: []Delegation{d}, Now: t0})
	if len(p.Stale) != 1 || p.Stale[0].Prefix != pfx("2001:db8:a:1::/64") {
		t.Fatalf("stale %v", p.Stale)
	}
	p = a.Plan(Input{Segments: []Segment{seg("lan0"), segID("lab", 5), seg("new")}, Delegations: []Delegation{d}, Now: t0.Add(time.Hour)})
	if sp, _ := p.Segment("new"); sp.Index != 2 {
		t.Errorf("new got index %d while subnet 1 is stale, want 2", sp.Index)
	}
	p = a.Plan(Input{Segments: []Segment{seg("lan0"), segID("lab", 5), seg("new"), seg("newer")}, Delegations: []Delegation{d}, Now: t0.Add(StaleHold)})
	if sp, _ := p.Segment("newer"); sp.Index != 1 {
		t.Errorf("newer got index %d after the hold, want 1", sp.Index)
	}
}
