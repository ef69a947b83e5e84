package prefix

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"
)

// TestStabilityProperty walks random sequences of segments added and
// removed, time passing, uplinks going down, renumbering, PD allocations and
// reboots through a saved State, and checks after every step that the
// invariants hold and a segment that stays keeps its /64s.
func TestStabilityProperty(t *testing.T) {
	for seed := range uint64(200) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { walk(t, seed) })
	}
}

func walk(t *testing.T, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 0x9096))
	names := []string{"lan0", "lan1", "lan2", "guest", "iot", "dmz", "lab", "tv"}
	ula := pfx("fd11:2233:4455::/48")
	now := t0
	dels := []Delegation{
		del("wan0", "2001:db8:a::/56", now, 1000*time.Hour, 2000*time.Hour),
		del("wan1", "2001:db8:c0::/60", now, 1000*time.Hour, 2000*time.Hour),
	}
	var segs []Segment
	a := New(State{})
	last := map[string]map[string]netip.Prefix{} // segment → delegation → /64
	everAdvertised := map[netip.Prefix]time.Time{}

	for step := range 60 {
		removed := map[string]bool{}
		renumbered := false
		switch op := r.IntN(10); {
		case op < 3 && len(segs) < len(names): // add
			for {
				n := names[r.IntN(len(names))]
				if !slices.ContainsFunc(segs, func(s Segment) bool { return s.Name == n }) {
					s := seg(n)
					if r.IntN(4) == 0 {
						s = segID(n, 8+r.IntN(300))
					}
					segs = slices.Insert(segs, r.IntN(len(segs)+1), s)
					break
				}
			}
		case op < 5 && len(segs) > 0: // remove
			i := r.IntN(len(segs))
			removed[segs[i].Name] = true
			segs = slices.Delete(segs, i, i+1)
		case op == 5: // time passes
			now = now.Add(time.Duration(r.IntN(180)) * time.Minute)
		case op == 6: // an uplink flaps
			i := r.IntN(len(dels))
			dels[i].Up = !dels[i].Up
		case op == 7: // renumbering of wan1
			renumbered = true
			dels[1] = del("wan1", fmt.Sprintf("2001:db8:%x:%x::/60", 0x100+r.IntN(0xe00), r.IntN(0x1000)<<4), now, 1000*time.Hour, 2000*time.Hour)
		case op == 8: // reboot
			b, err := json.Marshal(a.State())
			if err != nil {
				t.Fatal(err)
			}
			var st State
			if err := json.Unmarshal(b, &st); err != nil {
				t.Fatal(err)
			}
			a = New(st)
		}
		in := Input{Segments: slices.Clone(segs), Delegations: slices.Clone(dels), ULA: ula, PDLength: 62, Now: now}
		p := a.Plan(in)
		checkInvariants(t, in, p)
		if t.Failed() {
			t.Fatalf("step %d: input %+v", step, in)
		}
		for _, pool := range p.Pools {
			for range r.IntN(3) {
				_, _ = pool.Allocate(fmt.Sprint(r.IntN(10)))
			}
			if r.IntN(3) == 0 {
				pool.Release(fmt.Sprint(r.IntN(10)))
			}
		}
		p2 := a.Plan(in) // allocations must not collide with segments either
		checkInvariants(t, in, p2)

		// A /64 advertised before and no longer is stale, unless its hold
		// is over.
		live := map[netip.Prefix]bool{}
		for _, sp := range p.Segments {
			for _, x := range sp.Prefixes {
				live[x.Prefix] = true
				everAdvertised[x.Prefix] = now
			}
		}
		for q, when := range everAdvertised {
			if live[q] {
				continue
			}
			isStale := slices.ContainsFunc(p.Stale, func(s Stale) bool { return s.Prefix == q })
			if now.Sub(when) < StaleHold && !isStale {
				// Only a move onto another segment (configured subnet) or a
				// prefix now live elsewhere may skip being stale.
				t.Errorf("step %d: %s advertised at %v, not live and not stale at %v", step, q, when, now)
			}
		}

		cur := map[string]map[string]netip.Prefix{}
		for _, sp := range p.Segments {
			cur[sp.Name] = map[string]netip.Prefix{}
			for _, x := range sp.Prefixes {
				cur[sp.Name][x.From.String()] = x.Prefix
			}
		}
		for name, m := range cur {
			prev, stayed := last[name]
			if !stayed || removed[name] {
				continue
			}
			moved := slices.ContainsFunc(p.Problems, func(s string) bool { return len(s) > len(name) && s[:len(name)+1] == name+" " })
			for from, q := range prev {
				if now2, ok := m[from]; ok && now2 != q && !moved && !renumbered {
					t.Errorf("step %d: %s moved from %s to %s in %s", step, name, q, now2, from)
				}
			}
		}
		last = cur
	}
}
