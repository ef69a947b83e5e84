package kernel

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// OpKind is one kind of change to the kernel. The constants are in the
// order a Plan runs them: adds before deletes.
type OpKind uint8

const (
	SetSysctl OpKind = iota + 1
	SetLinkMTU
	SetLinkUp
	AddAddress
	ReplaceAddress
	AddRoute
	ReplaceRoute
	AddRule
	DeleteRule
	DeleteRoute
	DeleteAddress
	SetLinkDown
)

// Op is one change. Kind says which of the other fields it uses.
type Op struct {
	Kind    OpKind
	Sysctl  string  // SetSysctl: the name, in the form sysctl -a prints
	Value   string  // SetSysctl: the value to write
	Was     string  // SetSysctl, SetLinkMTU: the value it replaces; "" when unknown
	Link    Link    // SetLinkMTU, SetLinkUp, SetLinkDown
	Address Address // AddAddress, ReplaceAddress, DeleteAddress
	Route   Route   // AddRoute, ReplaceRoute, DeleteRoute
	Rule    Rule    // AddRule, DeleteRule
}

// Plan is the changes that take the kernel from one state to another, in
// the order they are to be made.
type Plan []Op

// Strings returns the text of each change.
func (p Plan) Strings() []string {
	out := make([]string, len(p))
	for i, op := range p {
		out[i] = op.String()
	}
	return out
}

// lifetimeSlack is how far apart two lifetime deadlines may be and still be
// the same: the kernel keeps lifetimes in whole seconds counted from when it
// got them, so a deadline read back moves by a second or two.
const lifetimeSlack = 5 * time.Second

// Diff returns the changes that take the kernel from actual to desired.
// Entries of desired that Validate rejects are left out (so an actual one in
// their place is deleted); actual is what an Applier reads, the owned part of
// the kernel. The same inputs give the same plan, in a stable order: sysctls,
// link MTU and up, address adds and replaces, route adds and replaces, rule
// adds, rule deletes, route deletes, address deletes, links down.
func Diff(actual, desired Desired) Plan {
	have, _ := actual.normalize()
	want, _ := desired.normalize()
	var plan Plan

	for _, name := range sortedKeys(want.Sysctls) {
		v := want.Sysctls[name]
		old, ok := have.Sysctls[name]
		if !ok || !sameSysctlValue(old, v) {
			plan = append(plan, Op{Kind: SetSysctl, Sysctl: name, Value: v, Was: old})
		}
	}

	haveLink := map[string]Link{}
	for _, l := range have.Links {
		haveLink[l.Name] = l
	}
	var downs Plan
	for _, l := range want.Links {
		h, ok := haveLink[l.Name]
		if l.MTU != 0 && (!ok || h.MTU != l.MTU) {
			op := Op{Kind: SetLinkMTU, Link: l}
			if ok {
				op.Was = strconv.Itoa(h.MTU)
			}
			plan = append(plan, op)
		}
		switch {
		case l.Up && (!ok || !h.Up):
			plan = append(plan, Op{Kind: SetLinkUp, Link: l})
		case !l.Up && (!ok || h.Up):
			downs = append(downs, Op{Kind: SetLinkDown, Link: l})
		}
	}

	haveAddr := map[addrKey]Address{}
	for _, a := range have.Addresses {
		haveAddr[keyOfAddress(a)] = a
	}
	wantAddr := map[addrKey]bool{}
	for _, a := range want.Addresses {
		k := keyOfAddress(a)
		wantAddr[k] = true
		h, ok := haveAddr[k]
		switch {
		case !ok:
			plan = append(plan, Op{Kind: AddAddress, Address: a})
		case h.Prefix.Bits() != a.Prefix.Bits() || (a.Prefix.Addr().Is4() && h.NoPrefixRoute != a.NoPrefixRoute):
			// The kernel cannot change these in place (an IPv6 prefix
			// length, IPv4's noprefixroute), and the new address cannot be
			// added while the old one is there: this one change has a gap.
			plan = append(plan, Op{Kind: DeleteAddress, Address: h}, Op{Kind: AddAddress, Address: a})
		case h.NoPrefixRoute != a.NoPrefixRoute ||
			!sameDeadline(h.PreferredUntil, a.PreferredUntil) || !sameDeadline(h.ValidUntil, a.ValidUntil):
			plan = append(plan, Op{Kind: ReplaceAddress, Address: a})
		}
	}
	var addrDels Plan
	for _, a := range have.Addresses {
		if !wantAddr[keyOfAddress(a)] {
			addrDels = append(addrDels, Op{Kind: DeleteAddress, Address: a})
		}
	}

	haveRoute := map[routeKey]Route{}
	for _, r := range have.Routes {
		haveRoute[keyOfRoute(r)] = r
	}
	wantRoute := map[routeKey]bool{}
	for _, r := range want.Routes {
		k := keyOfRoute(r)
		wantRoute[k] = true
		h, ok := haveRoute[k]
		switch {
		case !ok:
			plan = append(plan, Op{Kind: AddRoute, Route: r})
		case h != r:
			plan = append(plan, Op{Kind: ReplaceRoute, Route: r})
		}
	}
	var routeDels Plan
	for _, r := range have.Routes {
		if !wantRoute[keyOfRoute(r)] {
			routeDels = append(routeDels, Op{Kind: DeleteRoute, Route: r})
		}
	}

	haveRule := map[Rule]bool{}
	for _, r := range have.Rules {
		haveRule[r] = true
	}
	wantRule := map[Rule]bool{}
	for _, r := range want.Rules {
		wantRule[r] = true
		if !haveRule[r] {
			plan = append(plan, Op{Kind: AddRule, Rule: r})
		}
	}
	var ruleDels Plan
	for _, r := range have.Rules {
		if !wantRule[r] {
			ruleDels = append(ruleDels, Op{Kind: DeleteRule, Rule: r})
		}
	}

	plan = append(plan, ruleDels...)
	plan = append(plan, routeDels...)
	plan = append(plan, addrDels...)
	return append(plan, downs...)
}

func sameDeadline(a, b time.Time) bool {
	if a.IsZero() || b.IsZero() {
		return a.IsZero() == b.IsZero()
	}
	d := a.Sub(b)
	return -lifetimeSlack <= d && d <= lifetimeSlack
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// String is the op as logs and tests show it:
// "add route 2001:db8::/56 type unreachable metric 1024".
func (o Op) String() string {
	switch o.Kind {
	case SetSysctl:
		return "set sysctl " + o.Sysctl + " = " + o.Value + was(o.Was)
	case SetLinkMTU:
		return fmt.Sprintf("set link %s mtu %d%s", o.Link.Name, o.Link.MTU, was(o.Was))
	case SetLinkUp:
		return "set link " + o.Link.Name + " up"
	case SetLinkDown:
		return "set link " + o.Link.Name + " down"
	case AddAddress:
		return "add address " + o.Address.text()
	case ReplaceAddress:
		return "replace address " + o.Address.text()
	case DeleteAddress:
		return "delete address " + o.Address.Prefix.String() + " dev " + o.Address.Link
	case AddRoute:
		return "add route " + o.Route.text()
	case ReplaceRoute:
		return "replace route " + o.Route.text()
	case DeleteRoute:
		return "delete route " + o.Route.text()
	case AddRule:
		return "add rule " + o.Rule.text()
	case DeleteRule:
		return "delete rule " + o.Rule.text()
	}
	return fmt.Sprintf("op(%d)", o.Kind)
}

func was(s string) string {
	if s == "" {
		return ""
	}
	return " (was " + s + ")"
}

func (a Address) text() string {
	var b strings.Builder
	b.WriteString(a.Prefix.String() + " dev " + a.Link)
	if a.NoPrefixRoute {
		b.WriteString(" noprefixroute")
	}
	if !a.PreferredUntil.IsZero() {
		b.WriteString(" preferred until " + a.PreferredUntil.UTC().Format(time.RFC3339))
	}
	if !a.ValidUntil.IsZero() {
		b.WriteString(" valid until " + a.ValidUntil.UTC().Format(time.RFC3339))
	}
	return b.String()
}

func (r Route) text() string {
	var b strings.Builder
	b.WriteString(r.Dst.String())
	if r.Src.IsValid() {
		b.WriteString(" from " + r.Src.String())
	}
	if r.Type != Unicast {
		b.WriteString(" type " + r.Type.String())
	}
	if r.Via.IsValid() {
		b.WriteString(" via " + r.Via.String())
	}
	if r.Link != "" {
		b.WriteString(" dev " + r.Link)
	}
	fmt.Fprintf(&b, " metric %d", r.Metric)
	if r.Table != 0 {
		fmt.Fprintf(&b, " table %d", r.Table)
	}
	if r.MTU != 0 {
		fmt.Fprintf(&b, " mtu %d", r.MTU)
	}
	return b.String()
}

// routeIdentity is the part of the text that names the route (its key).
func routeIdentity(r Route) string {
	s := r.Dst.String()
	if r.Src.IsValid() {
		s += " from " + r.Src.String()
	}
	if r.Table != 0 {
		s += fmt.Sprintf(" table %d", r.Table)
	}
	return s + fmt.Sprintf(" metric %d", r.Metric)
}

func (r Rule) text() string {
	from := r.Family.String() + " from all"
	if r.Src.IsValid() {
		from = "from " + r.Src.String()
	}
	table := "main"
	if r.Table != 0 {
		table = strconv.FormatUint(uint64(r.Table), 10)
	}
	return fmt.Sprintf("%s table %s priority %d", from, table, r.Priority)
}
