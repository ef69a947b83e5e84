package supervisor

import (
	"slices"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	nop := func() Component { return compFunc(nil) }
	sp := func(name string, after ...string) Spec { return Spec{Name: name, After: after, New: nop} }
	tests := []struct {
		name  string
		specs []Spec
		bad   map[string]string // name -> part of its error
		other []string          // errors that belong to no name
	}{
		{
			name:  "valid tree",
			specs: []Spec{sp("ra", "dhcp6"), sp("dhcp6", "kernel", "wan0"), sp("wan0", "kernel"), sp("kernel")},
		},
		{
			name:  "unknown dependency and its dependents",
			specs: []Spec{sp("kernel"), sp("dhcp6", "kernel", "wan9"), sp("ra", "dhcp6"), sp("lan", "kernel")},
			bad: map[string]string{
				"dhcp6": `dhcp6: depends on unknown component "wan9"`,
				"ra":    "ra: depends on dhcp6, which cannot start",
			},
		},
		{
			name:  "self dependency",
			specs: []Spec{sp("loop", "loop")},
			bad:   map[string]string{"loop": "loop: dependency cycle loop -> loop"},
		},
		{
			name:  "three-cycle with a tail and a bystander",
			specs: []Spec{sp("a", "c"), sp("b", "a"), sp("c", "b"), sp("tail", "b"), sp("ok")},
			bad: map[string]string{
				"a":    "a: dependency cycle a -> c -> b -> a",
				"b":    "b: dependency cycle b -> a -> c -> b",
				"c":    "c: dependency cycle c -> b -> a -> c",
				"tail": "tail: depends on b, which cannot start",
			},
		},
		{
			name:  "cycle behind a diamond",
			specs: []Spec{sp("top", "l", "r"), sp("l", "base"), sp("r", "base"), sp("base", "top")},
			bad: map[string]string{
				"top":  "dependency cycle",
				"l":    "dependency cycle",
				"r":    "dependency cycle",
				"base": "dependency cycle",
			},
		},
		{
			name:  "no New",
			specs: []Spec{{Name: "empty"}, sp("user", "empty")},
			bad: map[string]string{
				"empty": "empty: New is nil",
				"user":  "user: depends on empty, which cannot start",
			},
		},
		{
			name:  "unnamed and duplicate",
			specs: []Spec{sp("kernel"), sp(""), sp("kernel", "nothing")},
			other: []string{"spec #1 has no name", "kernel: declared twice (spec #2 ignored)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := check(tt.specs)
			for name, err := range c.bad {
				want, ok := tt.bad[name]
				if !ok {
					t.Errorf("%s rejected: %v", name, err)
				} else if !strings.Contains(err.Error(), want) {
					t.Errorf("%s: error %q, want it to contain %q", name, err, want)
				}
			}
			for name := range tt.bad {
				if c.bad[name] == nil {
					t.Errorf("%s accepted, want an error containing %q", name, tt.bad[name])
				}
			}
			if len(c.unnamed) != len(tt.other) {
				t.Errorf("errors without a name: %v, want %q", c.unnamed, tt.other)
			}
			for i, want := range tt.other {
				if i < len(c.unnamed) && !strings.Contains(c.unnamed[i].Error(), want) {
					t.Errorf("error %d = %q, want it to contain %q", i, c.unnamed[i], want)
				}
			}
			if len(c.problems) != len(c.bad)+len(c.unnamed) {
				t.Errorf("%d problems for %d bad and %d unnamed", len(c.problems), len(c.bad), len(c.unnamed))
			}
			if (c.err() == nil) != (len(c.problems) == 0) {
				t.Errorf("err() = %v with %d problems", c.err(), len(c.problems))
			}
		})
	}
}

func TestTopoOrder(t *testing.T) {
	deps := map[string][]string{
		"ra":      {"dhcp6"},
		"dhcp6":   {"kernel", "wan0"},
		"wan0":    {"kernel"},
		"kernel":  nil,
		"console": nil,
		"fw":      {"gone"}, // edges leaving the set are ignored
	}
	after := func(n string) []string { return deps[n] }
	names := []string{"ra", "console", "dhcp6", "wan0", "kernel", "fw"}
	got := topoOrder(names, after)
	if want := []string{"console", "kernel", "fw", "wan0", "dhcp6", "ra"}; !slices.Equal(got, want) {
		t.Errorf("topoOrder = %q, want %q", got, want)
	}
	// A subset orders by the edges among its members only.
	if got, want := topoOrder([]string{"ra", "kernel"}, after), []string{"ra", "kernel"}; !slices.Equal(got, want) {
		t.Errorf("topoOrder of unrelated names = %q, want %q", got, want)
	}
	// A cycle does not hang it.
	cyc := map[string][]string{"a": {"b"}, "b": {"a"}, "c": nil}
	if got := topoOrder([]string{"a", "b", "c"}, func(n string) []string { return cyc[n] }); len(got) != 3 || got[0] != "c" {
		t.Errorf("topoOrder with a cycle = %q, want c first then the rest", got)
	}
}

func TestDependents(t *testing.T) {
	deps := map[string][]string{"ra": {"dhcp6"}, "dhcp6": {"kernel"}, "babel": nil, "wifi": {"babel"}, "kernel": nil}
	names := []string{"kernel", "dhcp6", "ra", "babel", "wifi"}
	got := dependents(names, func(n string) []string { return deps[n] }, map[string]bool{"dhcp6": true})
	var list []string
	for _, n := range names {
		if got[n] {
			list = append(list, n)
		}
	}
	if want := []string{"dhcp6", "ra"}; !slices.Equal(list, want) {
		t.Errorf("dependents of dhcp6 = %q, want %q", list, want)
	}
}
