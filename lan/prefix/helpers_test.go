package prefix

import (
	"flag"
	"net/netip"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func seg(name string) Segment { return Segment{Name: name} }

func segID(name string, id int) Segment { return Segment{Name: name, SubnetID: &id} }

// del is a delegation seen at now with preferred and valid lifetimes left.
func del(uplink, p string, now time.Time, preferred, valid time.Duration) Delegation {
	return Delegation{Uplink: uplink, Prefix: pfx(p), Preferred: now.Add(preferred), Valid: now.Add(valid), Up: true}
}

// prefixesOf returns a segment's /64s in plan order.
func prefixesOf(t *testing.T, p Plan, name string) []netip.Prefix {
	t.Helper()
	sp, ok := p.Segment(name)
	if !ok {
		t.Fatalf("segment %s missing from plan", name)
	}
	var out []netip.Prefix
	for _, a := range sp.Prefixes {
		out = append(out, a.Prefix)
	}
	return out
}

// checkInvariants checks what every plan must satisfy, whatever the input.
func checkInvariants(t *testing.T, in Input, p Plan) {
	t.Helper()
	owner := map[netip.Prefix]string{}
	for _, sp := range p.Segments {
		for _, a := range sp.Prefixes {
			if o, dup := owner[a.Prefix]; dup {
				t.Errorf("%s is given to both %s and %s", a.Prefix, o, sp.Name)
			}
			owner[a.Prefix] = sp.Name
			if a.Prefix.Bits() != 64 || !a.From.Contains(a.Prefix.Addr()) {
				t.Errorf("%s of %s is not a /64 inside %s", a.Prefix, sp.Name, a.From)
			}
			if a.Preferred > a.Valid || a.Preferred > NDPreferredLimit || a.Valid > NDValidLimit || a.Preferred < 0 {
				t.Errorf("%s on %s: lifetimes %v/%v break the caps", a.Prefix, sp.Name, a.Preferred, a.Valid)
			}
			if a.ULA {
				if a.From != in.ULA {
					t.Errorf("%s on %s: ULA from %s, input ULA %s", a.Prefix, sp.Name, a.From, in.ULA)
				}
				continue
			}
			found := false
			for _, d := range in.Delegations {
				if d.Uplink != a.Uplink || d.Prefix.Masked() != a.From {
					continue
				}
				found = true
				if a.Valid > d.Valid.Sub(in.Now) || a.Preferred > max(d.Preferred.Sub(in.Now), 0) {
					t.Errorf("%s on %s: lifetimes %v/%v exceed the delegation's remaining %v/%v",
						a.Prefix, sp.Name, a.Preferred, a.Valid, d.Preferred.Sub(in.Now), d.Valid.Sub(in.Now))
				}
				if !d.Up && a.Preferred != 0 {
					t.Errorf("%s on %s: uplink %s down but preferred %v", a.Prefix, sp.Name, d.Uplink, a.Preferred)
				}
			}
			if !found {
				t.Errorf("%s on %s comes from %s's %s, not an input delegation", a.Prefix, sp.Name, a.Uplink, a.From)
			}
		}
	}
	for _, s := range p.Stale {
		if o, live := owner[s.Prefix]; live {
			t.Errorf("stale %s (%s) is live on %s", s.Prefix, s.Segment, o)
		}
		if !s.Until.After(in.Now) || s.Until.After(in.Now.Add(StaleHold)) {
			t.Errorf("stale %s until %v, now %v", s.Prefix, s.Until, in.Now)
		}
	}
	for _, pool := range p.Pools {
		for client, b := range pool.Bindings() {
			if !pool.From.Contains(b.Addr()) || b.Bits() != pool.Length {
				t.Errorf("pool binding %s of %s outside %s", b, client, pool.From)
			}
			for q, o := range owner {
				if b.Overlaps(q) {
					t.Errorf("pool binding %s of %s overlaps %s of %s", b, client, q, o)
				}
			}
			for _, s := range p.Stale {
				if b.Overlaps(s.Prefix) {
					t.Errorf("pool binding %s of %s overlaps stale %s", b, client, s.Prefix)
				}
			}
		}
	}
}
