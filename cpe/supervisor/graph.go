package supervisor

import (
	"errors"
	"fmt"
	"strings"
)

// checked is a set of specs sorted into those that can start and those that
// cannot, each with the reason.
type checked struct {
	names    []string        // first occurrence of every named spec, in the caller's order
	specs    map[string]Spec // by name, first occurrence
	bad      map[string]error
	unnamed  []error // specs without a name cannot appear in Status
	problems []error // every error, in the caller's order
}

// check validates specs: names present and unique, New set, every dependency
// known, no cycles. A spec that depends, even indirectly, on one that cannot
// start cannot start either, and says so.
func check(specs []Spec) checked {
	c := checked{specs: map[string]Spec{}, bad: map[string]error{}}
	for i, sp := range specs {
		switch {
		case sp.Name == "":
			c.unnamed = append(c.unnamed, fmt.Errorf("supervisor: spec #%d has no name", i))
			continue
		case c.specs[sp.Name].Name != "":
			// The first one wins: the duplicate cannot share its name in Status.
			c.unnamed = append(c.unnamed, fmt.Errorf("supervisor: %s: declared twice (spec #%d ignored)", sp.Name, i))
			continue
		}
		c.names = append(c.names, sp.Name)
		c.specs[sp.Name] = sp
	}
	for _, name := range c.names {
		sp := c.specs[name]
		if sp.New == nil {
			c.bad[name] = fmt.Errorf("supervisor: %s: New is nil", name)
			continue
		}
		for _, dep := range sp.After {
			if _, ok := c.specs[dep]; !ok {
				c.bad[name] = fmt.Errorf("supervisor: %s: depends on unknown component %q", name, dep)
				break
			}
		}
	}
	cycles := map[string]error{} // every member of a cycle says so, not only the first found
	for _, name := range c.names {
		if c.bad[name] != nil {
			continue
		}
		if path := c.cycleFrom(name); path != nil {
			cycles[name] = fmt.Errorf("supervisor: %s: dependency cycle %s", name, strings.Join(path, " -> "))
		}
	}
	for name, err := range cycles {
		c.bad[name] = err
	}
	// Propagate to dependents until nothing changes; the sets are small.
	for changed := true; changed; {
		changed = false
		for _, name := range c.names {
			if c.bad[name] != nil {
				continue
			}
			for _, dep := range c.specs[name].After {
				if c.bad[dep] != nil {
					c.bad[name] = fmt.Errorf("supervisor: %s: depends on %s, which cannot start", name, dep)
					changed = true
					break
				}
			}
		}
	}
	c.problems = append(c.problems, c.unnamed...)
	for _, name := range c.names {
		if err := c.bad[name]; err != nil {
			c.problems = append(c.problems, err)
		}
	}
	return c
}

// cycleFrom returns a dependency path from name back to itself, or nil.
// Specs already known to be bad are not followed: their dependents are
// reported through propagation instead.
func (c *checked) cycleFrom(name string) []string {
	seen := map[string]bool{}
	var path []string
	var walk func(n string) bool
	walk = func(n string) bool {
		path = append(path, n)
		for _, dep := range c.specs[n].After {
			if dep == name {
				path = append(path, dep)
				return true
			}
			if c.bad[dep] != nil || seen[dep] {
				continue
			}
			seen[dep] = true
			if walk(dep) {
				return true
			}
		}
		path = path[:len(path)-1]
		return false
	}
	if walk(name) {
		return path
	}
	return nil
}

// err joins every problem, nil when there is none.
func (c *checked) err() error { return errors.Join(c.problems...) }

// topoOrder returns names ordered so that every name comes after the
// members of after(name) that are also in names; ties keep the order of
// names. Edges leading outside names are ignored, and so are cycles (which
// check has already rejected): their members are appended at the end.
func topoOrder(names []string, after func(string) []string) []string {
	in := make(map[string]bool, len(names))
	for _, n := range names {
		in[n] = true
	}
	done := make(map[string]bool, len(names))
	out := make([]string, 0, len(names))
	for len(out) < len(names) {
		progress := false
		for _, n := range names {
			if done[n] {
				continue
			}
			ready := true
			for _, dep := range after(n) {
				if in[dep] && !done[dep] && dep != n {
					ready = false
					break
				}
			}
			if ready {
				done[n] = true
				out = append(out, n)
				progress = true
			}
		}
		if !progress {
			for _, n := range names {
				if !done[n] {
					done[n] = true
					out = append(out, n)
				}
			}
		}
	}
	return out
}

// dependents returns the names in names that depend, directly or not, on
// any member of roots, together with the roots themselves.
func dependents(names []string, after func(string) []string, roots map[string]bool) map[string]bool {
	out := make(map[string]bool, len(roots))
	for r := range roots {
		out[r] = true
	}
	for changed := true; changed; {
		changed = false
		for _, n := range names {
			if out[n] {
				continue
			}
			for _, dep := range after(n) {
				if out[dep] {
					out[n] = true
					changed = true
					break
				}
			}
		}
	}
	return out
}
