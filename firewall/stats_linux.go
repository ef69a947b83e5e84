package firewall

import (
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// Stats reads the counters of the tables of the last Ruleset applied. Rule
// counters are matched to rules by position, which holds while the kernel
// has exactly the rules Apply made (Apply rebuilds the tables otherwise).
func (a *Applier) Stats() (_ Ruleset, _ Stats, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := Stats{Named: map[string]map[string]Counter{}, Rules: map[string][]Counter{}}
	if a.handles == nil {
		return a.last, st, fmt.Errorf("firewall: no ruleset applied yet")
	}
	conn, err := a.conn()
	if err != nil {
		return a.last, st, err
	}
	defer func() {
		if err != nil {
			a.dropConns()
		}
	}()
	for i := range a.last.Tables {
		t := &a.last.Tables[i]
		nt := &nftables.Table{Family: familyOf(t.Family), Name: t.Name}
		if len(t.Counters) > 0 {
			objs, err := conn.GetObjects(nt)
			if err != nil {
				return a.last, st, fmt.Errorf("firewall: read counters of %s: %w", tableKey(t), err)
			}
			named := map[string]Counter{}
			for _, o := range objs {
				if c, ok := o.(*nftables.CounterObj); ok {
					named[c.Name] = Counter{Packets: c.Packets, Bytes: c.Bytes}
				}
			}
			st.Named[tableKey(t)] = named
		}
		for _, c := range t.Chains {
			rules, err := conn.GetRules(nt, &nftables.Chain{Name: c.Name, Table: nt})
			if err != nil {
				return a.last, st, fmt.Errorf("firewall: read rules of %s %s: %w", tableKey(t), c.Name, err)
			}
			cs := make([]Counter, len(rules))
			for k, r := range rules {
				for _, e := range r.Exprs {
					if x, ok := e.(*expr.Counter); ok {
						cs[k] = Counter{Packets: x.Packets, Bytes: x.Bytes}
						break
					}
				}
			}
			st.Rules[tableKey(t)+" "+c.Name] = cs
		}
	}
	return a.last, st, nil
}
