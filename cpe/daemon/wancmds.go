package daemon

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/vishvananda/netlink"

	"cpe/cpe/config"
	"cpe/cpe/console"
	"cpe/cpe/kernel"
	"cpe/wan"
	rawan "cpe/wan/ra"
)

func (d *Daemon) wanCommands() []console.Command {
	op := []console.Mode{console.Operational}
	return []console.Command{
		{Words: []string{"show", "wan"}, Args: "[N]", Help: "uplinks: protocol states, addresses, delegated prefixes with lifetimes, DNS, errors", Run: d.showWAN},
		{Words: []string{"show", "wan", "history"}, Args: "[N]", Help: "recent lease and link events of the uplinks", Run: d.showWANHistory},
		{Words: []string{"renew", "wan"}, Args: "N", Modes: op, Help: "make uplink N's DHCP clients renew now", Run: func(ctx context.Context, _ *console.Session, args []string, w io.Writer) error {
			n, err := uplinkIndex(args, true)
			if err != nil {
				return err
			}
			if err := d.renew(ctx, n); err != nil {
				return err
			}
			fmt.Fprintf(w, "renew sent on uplink %d\n", n)
			return nil
		}},
		{Words: []string{"diagnose", "wan"}, Args: "[N]", Help: "walk an uplink from carrier to default route, one check a line", Run: d.diagnoseWAN},
	}
}

func uplinkIndex(args []string, required bool) (int, error) {
	if len(args) == 0 {
		if required {
			return 0, fmt.Errorf("which uplink? give its number (show wan lists them)")
		}
		return -1, nil
	}
	if len(args) > 1 {
		return 0, fmt.Errorf("one uplink number, got %q", strings.Join(args, " "))
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not an uplink number", args[0])
	}
	return n, nil
}

// selectedUplinks returns the configured uplinks args names (all by default).
func (d *Daemon) selectedUplinks(args []string) ([]int, *config.Config, error) {
	d.mu.Lock()
	cfg := d.running
	d.mu.Unlock()
	n, err := uplinkIndex(args, false)
	if err != nil {
		return nil, nil, err
	}
	if len(cfg.WAN) == 0 {
		return nil, cfg, fmt.Errorf("no uplinks configured")
	}
	if n >= len(cfg.WAN) {
		return nil, nil, fmt.Errorf("no uplink %d (there are %d)", n, len(cfg.WAN))
	}
	if n >= 0 {
		return []int{n}, cfg, nil
	}
	var all []int
	for i := range cfg.WAN {
		all = append(all, i)
	}
	return all, cfg, nil
}

// ago renders a time relative to now: "in 29m", "3m ago".
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := t.Sub(now).Round(time.Second)
	switch {
	case d == 0:
		return t.Format(time.TimeOnly) + " (now)"
	case d > 0:
		return fmt.Sprintf("%s (in %s)", t.Format(time.TimeOnly), d)
	}
	return fmt.Sprintf("%s (%s ago)", t.Format(time.TimeOnly), -d)
}

func addrs(as []netip.Addr) string {
	if len(as) == 0 {
		return "-"
	}
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, " ")
}

func (d *Daemon) showWAN(_ context.Context, _ *console.Session, args []string, w io.Writer) error {
	idx, cfg, err := d.selectedUplinks(args)
	if err != nil {
		return err
	}
	now := d.opts.Now()
	for _, i := range idx {
		wc := cfg.WAN[i]
		u := d.net.uplink(wc.Name)
		fmt.Fprintf(w, "uplink %d: %s on %s\n", i, wc.Name, wc.Interface)
		if u == nil {
			fmt.Fprintln(w, "  not running")
			continue
		}
		s := u.Status()
		carrier := "down"
		if s.Carrier {
			carrier = "up"
		}
		fmt.Fprintf(w, "  carrier: %s since %s\n", carrier, ago(now, s.Since))
		if l := s.DHCP4; l != nil {
			fmt.Fprintf(w, "  dhcp4: %s\n", l.State)
			if l.Bound() {
				var gws []string
				for _, r := range l.Routes() {
					gws = append(gws, fmt.Sprintf("%s via %s", r.Dst, r.Via))
				}
				fmt.Fprintf(w, "    address %s from server %s\n", l.Address, l.ServerID)
				fmt.Fprintf(w, "    routes  %s\n", strings.Join(gws, ", "))
				fmt.Fprintf(w, "    dns     %s\n", addrs(l.DNS))
				fmt.Fprintf(w, "    T1 %s  T2 %s  expires %s\n", ago(now, l.T1), ago(now, l.T2), ago(now, l.Expiry))
				if l.MTU > 0 {
					fmt.Fprintf(w, "    mtu     %d\n", l.MTU)
				}
			}
			if l.LastError != "" {
				fmt.Fprintf(w, "    last error: %s (since %s)\n", l.LastError, ago(now, l.ErrorSince))
			}
		}
		if l := s.DHCP6; l != nil {
			fmt.Fprintf(w, "  dhcp6: %s since %s\n", l.State, ago(now, l.Since))
			for _, a := range l.Addresses {
				fmt.Fprintf(w, "    address %s  preferred %s  valid %s\n", a.Addr, remaining(now, a.Preferred), remaining(now, a.Valid))
			}
			for _, p := range l.Prefixes {
				note := ""
				if p.TooLong {
					note = "  (longer than /64: no LAN can use it)"
				}
				fmt.Fprintf(w, "    prefix  %s  preferred %s  valid %s%s\n", p.Prefix, remaining(now, p.Preferred), remaining(now, p.Valid), note)
			}
			if l.Bound() {
				fmt.Fprintf(w, "    T1 %s  T2 %s\n", ago(now, l.T1), ago(now, l.T2))
			}
			if len(l.DNS) > 0 || len(l.Domains) > 0 {
				fmt.Fprintf(w, "    dns     %s  domains %s\n", addrs(l.DNS), strings.Join(l.Domains, " "))
			}
			if l.HintRefused {
				fmt.Fprintln(w, "    the server refused the prefix-length hint; asking without it")
			}
			if l.LastError != "" {
				fmt.Fprintf(w, "    last error: %s (since %s)\n", l.LastError, ago(now, l.LastErrorAt))
			}
		}
		if f := s.RA; f != nil {
			showRA(w, now, f)
		}
		if st := wc.Static; st != nil {
			fmt.Fprintf(w, "  static: %d addresses, %d routes, dns %s\n", len(st.Addresses), len(st.Routes), addrs(st.DNS))
		}
	}
	return nil
}

func remaining(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := t.Sub(now).Round(time.Second)
	if d <= 0 {
		return "0s"
	}
	return d.String()
}

func (d *Daemon) showWANHistory(_ context.Context, _ *console.Session, args []string, w io.Writer) error {
	idx, cfg, err := d.selectedUplinks(args)
	if err != nil {
		return err
	}
	for _, i := range idx {
		name := cfg.WAN[i].Name
		fmt.Fprintf(w, "uplink %d: %s\n", i, name)
		events := d.net.history(name).Events()
		if len(events) == 0 {
			fmt.Fprintln(w, "  no events yet")
		}
		for _, e := range events {
			fmt.Fprintf(w, "  %s  %-7s %s\n", e.Time.Format(time.DateTime), e.Source, e.Text)
		}
	}
	return nil
}

// check is one line of `diagnose wan`.
type check struct {
	name   string
	ok     bool
	skip   bool
	detail string
	hint   string // what to look at when it fails
}

func (d *Daemon) diagnoseWAN(_ context.Context, _ *console.Session, args []string, w io.Writer) error {
	idx, cfg, err := d.selectedUplinks(args)
	if err != nil {
		return err
	}
	d.net.mu.Lock()
	desired, planErr := d.net.lastPlan, d.net.lastErr
	d.net.mu.Unlock()
	failed := 0
	for _, i := range idx {
		wc := cfg.WAN[i]
		fmt.Fprintf(w, "uplink %d: %s on %s\n", i, wc.Name, wc.Interface)
		for _, c := range d.wanChecks(wc, desired, planErr) {
			status := "pass"
			switch {
			case c.skip:
				status = "skip"
			case !c.ok:
				status = "FAIL"
				failed++
			}
			fmt.Fprintf(w, "  %-4s  %-22s %s\n", status, c.name, c.detail)
			if !c.ok && !c.skip && c.hint != "" {
				fmt.Fprintf(w, "        %-22s -> %s\n", "", c.hint)
			}
		}
	}
	if failed > 0 {
		return fmt.Errorf("diagnose wan: %d check(s) failed", failed)
	}
	return nil
}

func (d *Daemon) wanChecks(wc config.WAN, desired kernel.Desired, planErr error) []check {
	var out []check
	u := d.net.uplink(wc.Name)
	var s wan.Status
	if u != nil {
		s = u.Status()
	}
	link, err := netlink.LinkByName(wc.Interface)
	out = append(out, check{name: "interface exists", ok: err == nil, detail: wc.Interface,
		hint: "the NIC is missing: check `show interfaces` and the board's NIC names"})
	out = append(out, check{name: "carrier", ok: err == nil && s.Carrier, detail: carrierDetail(link),
		hint: "no link: cable, modem or the ISP's port"})

	dhcp6c := check{name: "DHCPv6 server answers", skip: wc.DHCP6 == nil, detail: "not configured"}
	pd := check{name: "IA_PD bound", skip: wc.DHCP6 == nil || !wc.DHCP6.IAPD, detail: "not asked for"}
	if l := s.DHCP6; l != nil {
		dhcp6c.ok = len(l.ServerID) > 0
		dhcp6c.detail = "state " + l.State.String()
		dhcp6c.hint = "no Advertise or Reply: the ISP may give only RA, or need the uplink's VLAN; see `show wan history`"
		if l.LastError != "" {
			dhcp6c.detail += ", last error: " + l.LastError
		}
		if pd.skip == false {
			pd.ok = len(l.Prefixes) > 0
			pd.detail = "no prefix"
			if pd.ok {
				pd.detail = l.Prefixes[0].Prefix.String()
			}
			pd.hint = "no delegated prefix: the LANs get no public IPv6; try without prefix_hint or ask the ISP"
		}
	}
	out = append(out, dhcp6c, pd)

	v4 := check{name: "DHCPv4 bound", skip: wc.DHCP4 == nil, detail: "not configured"}
	if l := s.DHCP4; l != nil {
		v4.ok = l.Bound()
		v4.detail = string(l.State)
		if v4.ok {
			v4.detail = l.Address.String()
		}
		if l.LastError != "" {
			v4.detail += ", last error: " + l.LastError
		}
		v4.hint = "no IPv4 lease: see `show wan history`; some uplinks are IPv6-only"
	}
	out = append(out, v4)

	var gw4, gw6 []kernel.Route
	for _, r := range desired.Routes {
		if r.Link == wc.Interface && r.Dst.Bits() == 0 && r.Type == kernel.Unicast {
			if r.Dst.Addr().Is4() {
				gw4 = append(gw4, r)
			} else {
				gw6 = append(gw6, r)
			}
		}
	}
	planDetail := func(rs []kernel.Route) string {
		if len(rs) == 0 {
			return "none"
		}
		return "via " + rs[0].Via.String()
	}
	out = append(out,
		check{name: "IPv4 default route", ok: len(gw4) > 0, skip: wc.DHCP4 == nil && wc.Static == nil, detail: planDetail(gw4),
			hint: "no IPv4 router learned: DHCPv4 gave no router option"},
		check{name: "IPv6 default route", ok: len(gw6) > 0, skip: wc.RA == nil && wc.Static == nil, detail: planDetail(gw6),
			hint: "no router advertisement with a router lifetime was seen on the uplink"},
	)
	if planErr != nil {
		out = append(out, check{name: "routes installed", ok: false, detail: planErr.Error(), hint: "see `show log`"})
	}
	for _, r := range append(gw4, gw6...) {
		out = append(out, gatewayCheck(link, r.Via))
	}
	return out
}

func carrierDetail(l netlink.Link) string {
	if l == nil {
		return "-"
	}
	return fmt.Sprintf("oper state %s", l.Attrs().OperState)
}

// gatewayCheck looks the next hop up in the neighbour table: an entry that
// resolved shows the router answers on the link.
func gatewayCheck(link netlink.Link, gw netip.Addr) check {
	c := check{name: "gateway reachable", detail: gw.String(), hint: "the router does not answer neighbour discovery / ARP on the link"}
	if link == nil || !gw.IsValid() {
		c.skip = true
		return c
	}
	family := netlink.FAMILY_V4
	if gw.Is6() {
		family = netlink.FAMILY_V6
	}
	neighs, err := netlink.NeighList(link.Attrs().Index, family)
	if err != nil {
		c.detail += ": " + err.Error()
		return c
	}
	for _, n := range neighs {
		a, _ := netip.AddrFromSlice(n.IP)
		if a.Unmap() != gw {
			continue
		}
		c.ok = n.State&(netlink.NUD_REACHABLE|netlink.NUD_STALE|netlink.NUD_DELAY|netlink.NUD_PROBE|netlink.NUD_PERMANENT) != 0
		c.detail += " (" + neighState(n.State) + ")"
		return c
	}
	c.detail += " (not in the neighbour table yet)"
	return c
}

func neighState(s int) string {
	switch {
	case s&netlink.NUD_REACHABLE != 0:
		return "reachable"
	case s&netlink.NUD_STALE != 0:
		return "stale"
	case s&netlink.NUD_DELAY != 0, s&netlink.NUD_PROBE != 0:
		return "probing"
	case s&netlink.NUD_FAILED != 0:
		return "failed"
	case s&netlink.NUD_INCOMPLETE != 0:
		return "incomplete"
	}
	return fmt.Sprintf("state %#x", s)
}

// showRA prints what the uplink's routers advertise. Prefixes are "on-link"
// here so they are not mistaken for delegated ones.
func showRA(w io.Writer, now time.Time, f *rawan.Facts) {
	last := "no RA seen yet"
	if !f.LastRA.IsZero() {
		last = "last RA " + ago(now, f.LastRA)
	}
	fmt.Fprintf(w, "  ra: %s, DHCPv6 wanted: %s\n", last, f.DHCPv6)
	for _, r := range f.Routers {
		fmt.Fprintf(w, "    router  %s  preference %s  lifetime %s\n", r.Addr, r.Preference, remaining(now, r.Expires))
	}
	for _, p := range f.Prefixes {
		fmt.Fprintf(w, "    on-link %s  preferred %s  valid %s\n", p.Prefix, remaining(now, p.Preferred), remaining(now, p.Valid))
	}
	for _, a := range f.Addresses {
		fmt.Fprintf(w, "    slaac   %s  preferred %s  valid %s\n", a.Addr, remaining(now, a.Preferred), remaining(now, a.Valid))
	}
	var dns []netip.Addr
	for _, d := range f.DNS {
		dns = append(dns, d.Addr)
	}
	if len(dns) > 0 {
		fmt.Fprintf(w, "    dns     %s\n", addrs(dns))
	}
	if f.MTU > 0 {
		fmt.Fprintf(w, "    mtu     %d\n", f.MTU)
	}
	if f.LastError != "" {
		fmt.Fprintf(w, "    last error: %s\n", f.LastError)
	}
}
