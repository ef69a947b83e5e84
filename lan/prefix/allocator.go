package prefix

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Allocator turns segments and delegations into a Plan, remembering what it
// handed out. It is not safe for concurrent use; the PDPools it returns are.
type Allocator struct {
	st       State
	pools    []*PDPool
	problems []string // found in the loaded State, reported by the next Plan
}

// New returns an Allocator that continues from a saved State (the zero State
// on a first boot). Entries of a damaged State are dropped and reported by
// the first Plan.
func New(st State) *Allocator {
	a := &Allocator{}
	a.st, a.problems = sanitize(st)
	return a
}

// State returns a copy of the current persistent state.
func (a *Allocator) State() State { return a.st.clone() }

// Plan computes the LAN addressing for in and records it.
func (a *Allocator) Plan(in Input) Plan {
	now := in.Now
	plan := Plan{Problems: a.problems}
	a.problems = nil
	prev := a.st.clone()

	stale := slices.DeleteFunc(slices.Clone(prev.Stale), func(s Stale) bool { return !now.Before(s.Until) })

	ula := in.ULA
	if ula.IsValid() && (!isULA(ula) || ula.Bits() > 64) {
		plan.Problems = append(plan.Problems, fmt.Sprintf("ULA %s is not a ULA prefix of /64 or shorter (RFC 4193): ignored", ula))
		ula = netip.Prefix{}
	}
	segs := a.indices(in.Segments, stale, &plan)
	dels := usable(in.Delegations, now, &plan)

	// The /64s of every segment, delegation by delegation, ULA last.
	var adv []Advertised
	tooSmall := make([][]string, len(dels))
	for i := range segs {
		sp := &plan.Segments[i]
		if sp.Index < 0 {
			continue
		}
		for j, d := range dels {
			if sp.Index >= subnets(d.Prefix) {
				if segs[i].SubnetID == nil {
					tooSmall[j] = append(tooSmall[j], sp.Name)
				} else {
					plan.Problems = append(plan.Problems, fmt.Sprintf("%s's subnet_id %d does not fit in %s's %s (%d /64s): it gets no prefix from it",
						sp.Name, sp.Index, d.Uplink, d.Prefix, subnets(d.Prefix)))
				}
				continue
			}
			p := subnet(d.Prefix, sp.Index)
			pr, va := lifetimes(now, d.Preferred, d.Valid, d.Up)
			sp.Prefixes = append(sp.Prefixes, Assigned{Prefix: p, From: d.Prefix, Uplink: d.Uplink,
				Preferred: pr, Valid: va, preferredEnd: d.Preferred, validEnd: d.Valid, up: d.Up})
			adv = append(adv, Advertised{Segment: sp.Name, Index: sp.Index, Prefix: p})
		}
		if ula.IsValid() && sp.Index < subnets(ula) {
			p := subnet(ula, sp.Index)
			sp.Prefixes = append(sp.Prefixes, Assigned{Prefix: p, From: ula, ULA: true,
				Preferred: NDPreferredLimit, Valid: NDValidLimit})
			adv = append(adv, Advertised{Segment: sp.Name, Index: sp.Index, Prefix: p})
		}
	}
	for j, names := range tooSmall {
		if len(names) > 0 {
			d := dels[j]
			plan.Problems = append(plan.Problems, fmt.Sprintf("%s's %s is too small for %d segments: %s get no prefix from it",
				d.Uplink, d.Prefix, countIndexed(plan.Segments), strings.Join(names, ", ")))
		}
	}

	// RFC 9096: what was advertised and is no longer goes stale now.
	inUse := map[netip.Prefix]bool{}
	for _, x := range adv {
		inUse[x.Prefix] = true
	}
	stale = slices.DeleteFunc(stale, func(s Stale) bool { return inUse[s.Prefix] })
	for _, old := range prev.Advertised {
		if inUse[old.Prefix] {
			// Still live, possibly on another segment now (a configured
			// subnet_id took it): a 0/0 for it would contradict that.
			continue
		}
		if !slices.ContainsFunc(stale, func(s Stale) bool { return s.Segment == old.Segment && s.Prefix == old.Prefix }) {
			stale = append(stale, Stale{Segment: old.Segment, Index: old.Index, Prefix: old.Prefix, Until: now.Add(StaleHold)})
		}
	}
	slices.SortFunc(stale, func(x, y Stale) int {
		return cmp.Or(strings.Compare(x.Segment, y.Segment), x.Prefix.Addr().Compare(y.Prefix.Addr()), x.Prefix.Bits()-y.Prefix.Bits())
	})
	plan.Stale = stale
	slices.SortFunc(adv, func(x, y Advertised) int {
		return cmp.Or(strings.Compare(x.Segment, y.Segment), x.Prefix.Addr().Compare(y.Prefix.Addr()))
	})

	// A removed segment keeps its index while it has stale prefixes.
	for name := range a.st.Assignments {
		live := slices.ContainsFunc(plan.Segments, func(s SegmentPlan) bool { return s.Name == name && s.Index >= 0 })
		if !live && !slices.ContainsFunc(stale, func(s Stale) bool { return s.Segment == name }) {
			delete(a.st.Assignments, name)
		}
	}
	a.st.Advertised, a.st.Stale, a.st.ULA = adv, stale, ula

	a.planPools(in.PDLength, dels, &plan)

	for _, s := range stale {
		plan.Next = earliest(plan.Next, s.Until)
	}
	for _, d := range dels {
		if d.Preferred.After(now) {
			plan.Next = earliest(plan.Next, d.Preferred)
		}
		plan.Next = earliest(plan.Next, d.Valid)
	}
	if !a.st.equal(prev) {
		st := a.st.clone()
		plan.State = &st
	}
	return plan
}

// indices gives every segment its subnet index (RFC 7084 L-3: stable). It
// fills plan.Segments and records the indices in the state.
func (a *Allocator) indices(in []Segment, stale []Stale, plan *Plan) []Segment {
	if a.st.Assignments == nil {
		a.st.Assignments = map[string]int{}
	}
	segs := make([]Segment, 0, len(in))
	seen := map[string]bool{}
	for _, s := range in {
		switch {
		case s.Name == "":
			plan.Problems = append(plan.Problems, "a segment has no name: it gets no prefix")
			continue
		case seen[s.Name]:
			plan.Problems = append(plan.Problems, fmt.Sprintf("segment %s is listed twice: the second gets no prefix", s.Name))
			continue
		}
		seen[s.Name] = true
		segs = append(segs, s)
	}
	// A removed segment that has nothing advertised nor stale frees its
	// index at once: no host can hold an address from it.
	for name := range a.st.Assignments {
		if !seen[name] && !slices.ContainsFunc(stale, func(s Stale) bool { return s.Segment == name }) &&
			!slices.ContainsFunc(a.st.Advertised, func(x Advertised) bool { return x.Segment == name }) {
			delete(a.st.Assignments, name)
		}
	}
	plan.Segments = make([]SegmentPlan, len(segs))
	for i, s := range segs {
		plan.Segments[i] = SegmentPlan{Name: s.Name, Index: -1}
	}

	// Configured subnet ids come first: they are the user's word.
	configured := map[int]string{}
	for i, s := range segs {
		if s.SubnetID == nil {
			continue
		}
		id := *s.SubnetID
		switch owner, dup := configured[id]; {
		case id < 0 || id > MaxIndex:
			plan.Problems = append(plan.Problems, fmt.Sprintf("%s's subnet_id %d is out of range 0..%d: it gets no prefix", s.Name, id, MaxIndex))
		case dup:
			plan.Problems = append(plan.Problems, fmt.Sprintf("%s's subnet_id %d is already %s's: it gets no prefix", s.Name, id, owner))
		default:
			configured[id] = s.Name
			plan.Segments[i].Index = id
			a.st.Assignments[s.Name] = id
		}
	}

	// Indices another segment may not take: configured ones, every recorded
	// assignment (removed segments' too), stale /64s, and /64s inside
	// prefixes delegated to LAN clients.
	taken := func(idx int, name string) bool {
		if _, ok := configured[idx]; ok {
			return true
		}
		for n, i := range a.st.Assignments {
			if i == idx && n != name {
				return true
			}
		}
		for _, st := range stale {
			if st.Index == idx && st.Segment != name {
				return true
			}
		}
		for _, p := range a.pools {
			hit := false
			p.boundIndices(func(lo, hi int) { hit = hit || (idx >= lo && idx < hi) })
			if hit {
				return true
			}
		}
		return false
	}
	for i, s := range segs {
		if s.SubnetID != nil {
			continue
		}
		moved := -1
		if idx, ok := a.st.Assignments[s.Name]; ok {
			if _, clash := configured[idx]; !clash {
				plan.Segments[i].Index = idx
				continue
			}
			moved = idx
			delete(a.st.Assignments, s.Name)
		}
		free := -1
		for idx := 0; idx <= MaxIndex; idx++ {
			if !taken(idx, s.Name) {
				free = idx
				break
			}
		}
		if free < 0 {
			plan.Problems = append(plan.Problems, fmt.Sprintf("no subnet index left for %s: it gets no prefix", s.Name))
			continue
		}
		plan.Segments[i].Index = free
		a.st.Assignments[s.Name] = free
		if moved >= 0 {
			plan.Problems = append(plan.Problems, fmt.Sprintf("%s moves from subnet %d to %d: %s is configured with subnet_id %d",
				s.Name, moved, free, configured[moved], moved))
		}
	}
	return segs
}

// usable returns the delegations /64s can be carved from, reporting the
// others, except those merely expired: they are gone, and their /64s go stale.
func usable(in []Delegation, now time.Time, plan *Plan) []Delegation {
	var out []Delegation
	for _, d := range in {
		label := fmt.Sprintf("%s's %s", d.Uplink, d.Prefix)
		switch {
		case !d.Prefix.IsValid() || !d.Prefix.Addr().Is6() || d.Prefix.Addr().Is4In6():
			plan.Problems = append(plan.Problems, fmt.Sprintf("%s is not an IPv6 prefix: ignored", label))
			continue
		case d.TooLong || d.Prefix.Bits() > 64:
			// RFC 7084 WPD-5: no /64 fits in it.
			plan.Problems = append(plan.Problems, fmt.Sprintf("%s is longer than /64: no LAN prefix from it", label))
			continue
		case !d.Valid.After(now):
			continue
		}
		d.Prefix = d.Prefix.Masked()
		if i := slices.IndexFunc(out, func(o Delegation) bool { return o.Prefix.Overlaps(d.Prefix) }); i >= 0 {
			plan.Problems = append(plan.Problems, fmt.Sprintf("%s overlaps %s's %s: ignored", label, out[i].Uplink, out[i].Prefix))
			continue
		}
		out = append(out, d)
	}
	return out
}

// planPools cuts a PDPool out of every delegation, keeping the bindings of
// the pool it replaces: the same one, or the uplink's previous delegation of
// the same size after renumbering.
func (a *Allocator) planPools(length int, dels []Delegation, plan *Plan) {
	old := a.pools
	a.pools = nil
	if length == 0 {
		return
	}
	reserved := map[int]bool{}
	for _, i := range a.st.Assignments {
		reserved[i] = true
	}
	for _, s := range a.st.Stale {
		reserved[s.Index] = true
	}
	for _, d := range dels {
		label := fmt.Sprintf("%s's %s", d.Uplink, d.Prefix)
		if length < d.Prefix.Bits() || length > 64 {
			plan.Problems = append(plan.Problems, fmt.Sprintf("%s cannot hold /%d prefixes for LAN clients", label, length))
			continue
		}
		var p *PDPool
		var lost []string
		if i := slices.IndexFunc(old, func(o *PDPool) bool {
			return o.Uplink == d.Uplink && o.From == d.Prefix && o.Length == length
		}); i >= 0 {
			// The same delegation: keep the very pool, its holders see it.
			p = old[i]
			lost = p.refresh(d, reserved)
			old = slices.Delete(old, i, i+1)
		} else {
			p = newPool(d, length, reserved)
			if i := slices.IndexFunc(old, func(o *PDPool) bool {
				return o.Uplink == d.Uplink && o.From.Bits() == d.Prefix.Bits() &&
					!slices.ContainsFunc(dels, func(x Delegation) bool { return x.Prefix == o.From })
			}); i >= 0 {
				// Renumbered: clients keep their place in the new prefix.
				lost = p.adopt(old[i])
				old = slices.Delete(old, i, i+1)
			}
		}
		if len(lost) > 0 {
			slices.Sort(lost)
			plan.Problems = append(plan.Problems, fmt.Sprintf("%s: prefixes of %s are needed by segments and were released", label, strings.Join(lost, ", ")))
		}
		if p.Available() == 0 && len(p.Bindings()) == 0 {
			plan.Problems = append(plan.Problems, fmt.Sprintf("%s has no room left for /%d prefixes for LAN clients", label, length))
		}
		a.pools = append(a.pools, p)
	}
	plan.Pools = slices.Clone(a.pools)
}

// subnets is the number of /64s in p.
func subnets(p netip.Prefix) int {
	if p.Bits() > 64 {
		return 0
	}
	return 1 << min(64-p.Bits(), 62)
}

// subnet is the idx-th /64 of p.
func subnet(p netip.Prefix, idx int) netip.Prefix {
	a := p.Masked().Addr().As16()
	binary.BigEndian.PutUint64(a[:8], binary.BigEndian.Uint64(a[:8])|uint64(idx))
	return netip.PrefixFrom(netip.AddrFrom16(a), 64)
}

func countIndexed(s []SegmentPlan) int {
	n := 0
	for _, x := range s {
		if x.Index >= 0 {
			n++
		}
	}
	return n
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

func (s State) clone() State {
	s.Assignments = maps.Clone(s.Assignments)
	s.Advertised = slices.Clone(s.Advertised)
	s.Stale = slices.Clone(s.Stale)
	return s
}

func (s State) equal(o State) bool {
	return s.ULA == o.ULA && maps.Equal(s.Assignments, o.Assignments) &&
		slices.Equal(s.Advertised, o.Advertised) &&
		slices.EqualFunc(s.Stale, o.Stale, func(x, y Stale) bool {
			return x.Segment == y.Segment && x.Index == y.Index && x.Prefix == y.Prefix && x.Until.Equal(y.Until)
		})
}

// sanitize drops what a damaged or hand-edited State holds that the
// allocator's invariants forbid.
func sanitize(st State) (State, []string) {
	st = st.clone()
	var problems []string
	bad := func(what string) { problems = append(problems, "saved state: "+what+": dropped") }
	if st.ULA.IsValid() && (!isULA(st.ULA) || st.ULA.Bits() > 64) {
		bad(fmt.Sprintf("ULA %s is not a ULA prefix", st.ULA))
		st.ULA = netip.Prefix{}
	}
	owner := map[int]string{}
	for _, name := range slices.Sorted(maps.Keys(st.Assignments)) {
		idx := st.Assignments[name]
		switch o, dup := owner[idx]; {
		case name == "" || idx < 0 || idx > MaxIndex:
			bad(fmt.Sprintf("assignment %q → %d", name, idx))
			delete(st.Assignments, name)
		case dup:
			bad(fmt.Sprintf("assignment %s → %d, already %s's", name, idx, o))
			delete(st.Assignments, name)
		default:
			owner[idx] = name
		}
	}
	okPrefix := func(p netip.Prefix) bool { return p.IsValid() && p.Addr().Is6() && p.Bits() == 64 }
	st.Advertised = slices.DeleteFunc(st.Advertised, func(x Advertised) bool {
		if !okPrefix(x.Prefix) || x.Index < 0 {
			bad(fmt.Sprintf("advertised %s on %q", x.Prefix, x.Segment))
			return true
		}
		return false
	})
	st.Stale = slices.DeleteFunc(st.Stale, func(x Stale) bool {
		if !okPrefix(x.Prefix) || x.Index < 0 {
			bad(fmt.Sprintf("stale %s on %q", x.Prefix, x.Segment))
			return true
		}
		return false
	})
	return st, problems
}
