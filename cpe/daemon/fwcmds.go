package daemon

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"cpe/cpe/console"
	"cpe/firewall"
)

func (d *Daemon) firewallCommands() []console.Command {
	return []console.Command{
		{Words: []string{"show", "firewall"}, Help: "zones, policies, drops per reason, rule counters and set contents", Run: d.showFirewall},
		{Words: []string{"show", "firewall", "ruleset"}, Help: "the loaded ruleset as nft lists it, with counters", Run: d.showRuleset},
	}
}

// firewallView is the loaded ruleset with the kernel's counters, or the
// built one without counters when nothing could be loaded.
func (d *Daemon) firewallView() (firewallStatus, firewall.Ruleset, *firewall.Stats, error) {
	d.net.mu.Lock()
	fw := d.net.fw
	d.net.mu.Unlock()
	if d.opts.Firewall == nil || !fw.Loaded {
		return fw, firewall.Build(fw.Input), nil, nil
	}
	rs, st, err := d.opts.Firewall.Stats()
	if err != nil {
		return fw, fw.Ruleset, nil, err
	}
	return fw, rs, &st, nil
}

func (d *Daemon) showRuleset(_ context.Context, _ *console.Session, _ []string, w io.Writer) error {
	fw, rs, st, err := d.firewallView()
	if err != nil {
		return err
	}
	if st == nil {
		if fw.Err != nil {
			fmt.Fprintf(w, "# not loaded: %v\n", fw.Err)
		} else {
			fmt.Fprintln(w, "# not loaded")
		}
		_, err = io.WriteString(w, rs.String())
		return err
	}
	_, err = io.WriteString(w, rs.Listing(*st))
	return err
}

func (d *Daemon) showFirewall(_ context.Context, _ *console.Session, _ []string, w io.Writer) error {
	fw, rs, st, err := d.firewallView()
	if err != nil {
		return err
	}
	in := fw.Input
	switch {
	case fw.Err != nil && fw.Loaded:
		fmt.Fprintf(w, "ruleset: the last change failed, the one loaded at %s stays: %v\n", fw.At.Format("15:04:05"), fw.Err)
	case fw.Err != nil:
		fmt.Fprintf(w, "ruleset: NOT LOADED, forwarding is off: %v\n", fw.Err)
	case fw.Loaded:
		fmt.Fprintf(w, "ruleset: loaded, last changed %s\n", fw.At.Format("15:04:05"))
	default:
		fmt.Fprintln(w, "ruleset: not loaded")
	}
	switch {
	case !in.FlowOffload:
		fmt.Fprintln(w, "flow offload: off")
	case fw.Offload != "":
		fmt.Fprintf(w, "flow offload: unavailable (%s)\n", fw.Offload)
	default:
		fmt.Fprintln(w, "flow offload: on")
	}

	fmt.Fprintln(w, "\nZONES")
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ZONE\tINTERFACE\tINBOUND\tPREFIXES")
	for _, u := range in.Uplinks {
		var as []string
		for _, a := range u.IPv4 {
			as = append(as, a.String())
		}
		fmt.Fprintf(tw, "uplink\t%s\t-\t%s\n", u.Interface, joinOr(as, "-"))
	}
	for _, s := range in.LANs {
		mode := s.Mode
		if mode == "" {
			mode = firewall.Stateful
		}
		var ps []string
		for _, p := range s.IPv6 {
			ps = append(ps, p.String())
		}
		if s.IPv4.IsValid() {
			v4 := s.IPv4.Masked().String()
			if s.NAT {
				v4 += " (NAT44)"
			}
			ps = append(ps, v4)
		}
		fmt.Fprintf(tw, "lan\t%s\t%s\t%s\n", s.Interface, mode, joinOr(ps, "-"))
	}
	for _, x := range in.Downstream {
		mode := x.Mode
		if mode == "" {
			mode = firewall.Open
		}
		fmt.Fprintf(tw, "delegated\t%s\t%s\t%s\n", x.Interface, mode, x.Prefix)
	}
	tw.Flush()

	if len(in.Pinholes) > 0 {
		fmt.Fprintln(w, "\nPINHOLES")
		tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tDESTINATION\tPROTOCOL\tPORTS")
		for _, p := range in.Pinholes {
			proto := p.Protocol
			if proto == "" {
				proto = "any"
			}
			var ports []string
			for _, r := range p.Ports {
				if r.Lo == r.Hi {
					ports = append(ports, fmt.Sprint(r.Lo))
				} else {
					ports = append(ports, fmt.Sprintf("%d-%d", r.Lo, r.Hi))
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Name, p.Prefix, proto, joinOr(ports, "all"))
		}
		tw.Flush()
	}

	if st == nil {
		return nil
	}
	filter, ok := rs.Table(firewall.FamilyInet, firewall.FilterTable)
	if !ok {
		return nil
	}
	fmt.Fprintln(w, "\nDROPS")
	tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "REASON\tPACKETS\tBYTES\t")
	for _, r := range filter.Counters {
		c := st.Named["inet "+firewall.FilterTable][r]
		fmt.Fprintf(tw, "%s\t%d\t%d\t\n", r, c.Packets, c.Bytes)
	}
	tw.Flush()

	fmt.Fprintln(w, "\nRULES")
	for _, t := range rs.Tables {
		for _, c := range t.Chains {
			if c.Hook == firewall.HookNone {
				continue // the drop chains: counted above
			}
			fmt.Fprintf(w, "%s %s %s\n", t.Family, t.Name, c.Name)
			tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
			for i, r := range c.Rules {
				n, _ := st.RuleCounter(&t, c.Name, i)
				fmt.Fprintf(tw, "  %d\t%d\t%s\n", n.Packets, n.Bytes, r)
			}
			tw.Flush()
		}
	}

	fmt.Fprintln(w, "\nSETS")
	for _, t := range rs.Tables {
		for _, s := range t.Sets {
			var es []string
			for _, e := range s.Elements {
				es = append(es, e.String())
			}
			fmt.Fprintf(w, "%s %s %s: %s\n", t.Family, t.Name, s.Name, joinOr(es, "(empty)"))
		}
	}
	return nil
}

// joinOr joins values with ", ", or says none when there are none.
func joinOr(vs []string, none string) string {
	if len(vs) == 0 {
		return none
	}
	return strings.Join(vs, ", ")
}
