package dhcp6

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"

	"cpe/lan/prefix"
)

// TestPropertyNoOverlap drives two segments' servers, which share the
// plan's pools, with random clients doing random exchanges while the plan
// changes under them (renumbering, a second uplink coming and going, a
// segment taking a subnet inside delegated space), and checks after every
// step that no two routed prefixes overlap, that none overlaps a /64 of
// any segment, and that every route lies in a pool of the current plan.
func TestPropertyNoOverlap(t *testing.T) {
	for seed := range uint64(25) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { propertyRun(t, seed) })
	}
}

func propertyRun(t *testing.T, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 42))
	p := newPlanner(t, delegation("wan0", deleg1, 3*time.Hour))
	p.in.Segments = []prefix.Segment{{Name: "lan0"}, {Name: "lan1"}}
	p.replan(t0)
	segCfg := func(name string) Config {
		c := p.config()
		c.Interface, c.Segment = name, name
		sp, _ := p.plan.Segment(name)
		c.Prefixes = sp.Prefixes
		return c
	}
	servers := map[string]*Server{"lan0": newServer(t, segCfg("lan0")), "lan1": newServer(t, segCfg("lan1"))}
	now := t0
	held := map[string][]netip.Prefix{} // what each client last got, to renew with
	subnet := 0xf0
	for step := range 300 {
		now = now.Add(time.Duration(r.IntN(600)) * time.Second)
		if r.IntN(15) == 0 {
			switch r.IntN(4) {
			case 0: // renumber wan0
				d := deleg1
				if p.in.Delegations[0].Prefix == deleg1 {
					d = deleg2
				}
				p.in.Delegations[0] = prefix.Delegation{Uplink: "wan0", Prefix: d, Preferred: now.Add(time.Hour), Valid: now.Add(3 * time.Hour), Up: true}
			case 1: // a second uplink comes or goes
				if len(p.in.Delegations) == 1 {
					p.in.Delegations = append(p.in.Delegations, prefix.Delegation{Uplink: "wan1", Prefix: netip.MustParsePrefix("2001:db8:30::/60"),
						Preferred: now.Add(time.Hour), Valid: now.Add(3 * time.Hour), Up: true})
				} else {
					p.in.Delegations = p.in.Delegations[:1]
				}
			case 2: // a segment with a subnet id inside the pool space
				if len(p.in.Segments) == 2 {
					subnet = 0x80 + r.IntN(0x80)
					id := subnet
					p.in.Segments = append(p.in.Segments, prefix.Segment{Name: "lan2", SubnetID: &id})
				} else {
					p.in.Segments = p.in.Segments[:2]
				}
			default: // lifetimes refreshed
				for i := range p.in.Delegations {
					p.in.Delegations[i].Preferred, p.in.Delegations[i].Valid = now.Add(time.Hour), now.Add(3*time.Hour)
				}
			}
			p.replan(now)
			for name, s := range servers {
				if err := s.Update(segCfg(name), now); err != nil {
					t.Fatal(err)
				}
			}
		}
		name := []string{"lan0", "lan1"}[r.IntN(2)]
		s := servers[name]
		c := r.IntN(12)
		duid := clientDUID(c)
		key := fmt.Sprint(name, c)
		iaid := uint32(r.IntN(2))
		var b []byte
		switch r.IntN(7) {
		case 0:
			b = msg(dhcpv6.MessageTypeSolicit, duid, pd(iaid), na(iaid))
		case 1:
			b = msg(dhcpv6.MessageTypeSolicit, duid, rapid, pd(iaid))
		case 2:
			b = msg(dhcpv6.MessageTypeRequest, duid, ours, pd(iaid), na(iaid))
		case 3:
			b = msg(dhcpv6.MessageTypeRenew, duid, ours, pd(iaid, held[key]...))
		case 4:
			b = msg(dhcpv6.MessageTypeRebind, duid, pd(iaid, held[key]...))
		case 5:
			b = msg(dhcpv6.MessageTypeRelease, duid, ours, pd(iaid, held[key]...))
		default:
			s.Expire(now)
		}
		if b != nil {
			from := netip.AddrPortFrom(netip.AddrFrom16([16]byte{0: 0xfe, 1: 0x80, 15: byte(c + 1)}), 546)
			_, m := doFrom(t, s, now, b, from)
			if m != nil {
				for _, ia := range m.Options.IAPD() {
					held[key] = held[key][:0]
					for _, x := range ia.Options.Prefixes() {
						if x.ValidLifetime > 0 {
							a, _ := netip.AddrFromSlice(x.Prefix.IP)
							bits, _ := x.Prefix.Mask.Size()
							held[key] = append(held[key], netip.PrefixFrom(a, bits))
						}
					}
				}
			}
		}
		var routed []netip.Prefix
		for _, sv := range servers {
			for _, rt := range sv.Routes(now) {
				routed = append(routed, rt.Prefix)
			}
		}
		for i, x := range routed {
			for _, y := range routed[i+1:] {
				if x.Overlaps(y) {
					t.Fatalf("step %d: routed %s and %s overlap", step, x, y)
				}
			}
			for _, sp := range p.plan.Segments {
				for _, a := range sp.Prefixes {
					if x.Overlaps(a.Prefix) {
						t.Fatalf("step %d: routed %s overlaps %s's %s", step, x, sp.Name, a.Prefix)
					}
				}
			}
			inPool := false
			for _, q := range p.plan.Pools {
				inPool = inPool || q.From.Contains(x.Addr())
			}
			if !inPool {
				t.Fatalf("step %d: routed %s is in no pool of the plan", step, x)
			}
		}
	}
}
