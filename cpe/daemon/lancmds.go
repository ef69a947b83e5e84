package daemon

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"text/tabwriter"
	"time"

	"cpe/cpe/console"
	"cpe/lan"
	"cpe/lan/dhcp6"
)

func (d *Daemon) lanCommands() []console.Command {
	return []console.Command{
		{Words: []string{"show", "lan"}, Help: "segments, their prefixes with lifetimes as advertised, stale prefixes, problems", Run: d.showLAN},
		{Words: []string{"show", "ra"}, Help: "what was last advertised on each segment", Run: d.showRA},
		{Words: []string{"show", "dhcp", "leases"}, Help: "DHCPv4 leases and DHCPv6 bindings (addresses, delegated prefixes and their routes) of every segment", Run: d.showLeases},
	}
}

func (d *Daemon) showLeases(_ context.Context, _ *console.Session, _ []string, w io.Writer) error {
	s, err := d.lanService()
	if err != nil {
		return err
	}
	now := d.opts.Now()
	st := s.Status()
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "SEGMENT\tADDRESS\tMAC\tHOSTNAME\tSTATE\tEXPIRES")
	for name, leases := range st.Leases {
		for _, l := range leases {
			host := l.Hostname
			if host == "" {
				host = "-"
			}
			state := string(l.State)
			if l.Static {
				state += " (static)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", name, l.Address, l.MAC, host, state, ago(now, l.Expires))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if err := showLeases6(w, st.Leases6, now); err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(st.Counters6)) {
		c := st.Counters6[name]
		fmt.Fprintf(w, "\ndhcpv6 %s: received %d, sent %d (advertise %d, reply %d); dropped: malformed %d, not a client message %d, "+
			"other interface %d, bad source %d, other server %d, rate-limited %d, ignored %d; NoAddrsAvail %d, NoPrefixAvail %d, NoBinding %d\n",
			name, c.Received, c.Sent, c.Advertises, c.Replies, c.Malformed, c.NotClient, c.WrongInterface, c.BadSource,
			c.OtherServer, c.RateLimited, c.Ignored, c.NoAddrs, c.NoPrefixes, c.NoBindings)
	}
	return nil
}

// showLeases6 lists the DHCPv6 bindings: an address per line for IA_NA, a
// delegated prefix with the link-local address it is routed to for IA_PD.
func showLeases6(w io.Writer, leases map[string][]dhcp6.Lease, now time.Time) error {
	n := 0
	for _, l := range leases {
		n += len(l)
	}
	if n == 0 {
		return nil
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "SEGMENT\tDUID\tIAID\tADDRESS/PREFIX\tROUTE VIA\tSTATE\tEXPIRES")
	for _, name := range slices.Sorted(maps.Keys(leases)) {
		for _, l := range leases[name] {
			what, via := l.Address.String(), "-"
			if l.Prefix.IsValid() {
				what = l.Prefix.String()
				if l.State == dhcp6.Bound && l.Via.IsValid() {
					via = l.Via.String()
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", name, l.DUID, l.IAID, what, via, l.State, ago(now, l.Valid))
		}
	}
	return tw.Flush()
}

func (d *Daemon) showLAN(_ context.Context, _ *console.Session, _ []string, w io.Writer) error {
	s, err := d.lanService()
	if err != nil {
		return err
	}
	st := s.Status()
	now := d.opts.Now()
	for _, seg := range st.Plan.Segments {
		fmt.Fprintf(w, "segment %s (subnet index %d)\n", seg.Name, seg.Index)
		if len(seg.Prefixes) == 0 {
			fmt.Fprintln(w, "  no prefix")
		}
		for _, a := range seg.Prefixes {
			src := "from " + a.Uplink + " " + a.From.String()
			if a.ULA {
				src = "ULA"
			}
			p, v := a.Lifetimes(now)
			fmt.Fprintf(w, "  %-24s preferred %-8s valid %-8s %s\n", a.Prefix, p, v, src)
		}
	}
	for _, sp := range st.Plan.Stale {
		fmt.Fprintf(w, "stale %s on %s: advertised 0/0 until %s\n", sp.Prefix, sp.Segment, sp.Until.Format(time.DateTime))
	}
	for _, pr := range st.Plan.Problems {
		fmt.Fprintf(w, "problem: %s\n", pr)
	}
	return nil
}

func (d *Daemon) showRA(_ context.Context, _ *console.Session, _ []string, w io.Writer) error {
	s, err := d.lanService()
	if err != nil {
		return err
	}
	for name, st := range s.Status().RA {
		fmt.Fprintf(w, "segment %s\n", name)
		if st.ConfigError != "" {
			fmt.Fprintf(w, "  config error: %s\n", st.ConfigError)
		}
		if st.Last.Sent.IsZero() {
			fmt.Fprintln(w, "  nothing advertised yet")
			continue
		}
		fmt.Fprintln(w, st.Last.String())
	}
	return nil
}

// lanService is the running LAN component, for the show commands.
func (d *Daemon) lanService() (*lan.Service, error) {
	d.net.mu.Lock()
	defer d.net.mu.Unlock()
	if d.net.lan == nil {
		return nil, fmt.Errorf("no LAN segments configured")
	}
	return d.net.lan, nil
}
