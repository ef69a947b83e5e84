package kernel

// The read-only listings behind the console's show commands. They read the
// whole namespace, not only what the Applier owns.

import (
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// WriteInterfaces prints one line per link: name, state, MTU, MAC and flags.
func WriteInterfaces(w io.Writer) error {
	links, err := netlink.LinkList()
	if err != nil {
		return fmt.Errorf("kernel: list links: %w", err)
	}
	sort.Slice(links, func(i, j int) bool { return links[i].Attrs().Index < links[j].Attrs().Index })
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "INTERFACE\tSTATE\tMTU\tMAC\tTYPE\tRX BYTES\tTX BYTES")
	for _, l := range links {
		a := l.Attrs()
		var rx, tx uint64
		if a.Statistics != nil {
			rx, tx = a.Statistics.RxBytes, a.Statistics.TxBytes
		}
		mac := a.HardwareAddr.String()
		if mac == "" {
			mac = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%d\t%d\n", a.Name, linkState(a), a.MTU, mac, l.Type(), rx, tx)
	}
	return tw.Flush()
}

func linkState(a *netlink.LinkAttrs) string {
	switch {
	case a.Flags&net.FlagUp == 0:
		return "down"
	case a.OperState == netlink.OperUp || a.OperState == netlink.OperUnknown:
		return "up"
	default:
		return "up, " + a.OperState.String()
	}
}

// WriteAddresses prints every address of both families, grouped by link.
func WriteAddresses(w io.Writer) error {
	links, err := netlink.LinkList()
	if err != nil {
		return fmt.Errorf("kernel: list links: %w", err)
	}
	sort.Slice(links, func(i, j int) bool { return links[i].Attrs().Index < links[j].Attrs().Index })
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "INTERFACE\tADDRESS\tSCOPE\tPREFERRED\tVALID\tFLAGS")
	var errs []string
	for _, l := range links {
		addrs, err := netlink.AddrList(l, netlink.FAMILY_ALL)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", l.Attrs().Name, err))
			continue
		}
		for _, a := range addrs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", l.Attrs().Name, a.IPNet, scopeName(a.Scope),
				lifetime(a.PreferedLft), lifetime(a.ValidLft), addrFlags(a.Flags))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(errs) > 0 {
		return fmt.Errorf("kernel: list addresses: %s", strings.Join(errs, "; "))
	}
	return nil
}

func scopeName(s int) string {
	switch netlink.Scope(s) {
	case netlink.SCOPE_UNIVERSE:
		return "global"
	case netlink.SCOPE_LINK:
		return "link"
	case netlink.SCOPE_HOST:
		return "host"
	case netlink.SCOPE_SITE:
		return "site"
	}
	return fmt.Sprint(s)
}

// lifetime renders an address lifetime in seconds; the kernel uses all ones
// for "forever".
func lifetime(s int) string {
	if s < 0 || uint32(s) == 0xffffffff || s == 0 {
		return "forever"
	}
	return fmt.Sprintf("%ds", s)
}

func addrFlags(f int) string {
	var out []string
	for _, fl := range []struct {
		bit  int
		name string
	}{
		{unix.IFA_F_TENTATIVE, "tentative"},
		{unix.IFA_F_DEPRECATED, "deprecated"},
		{unix.IFA_F_DADFAILED, "dadfailed"},
		{unix.IFA_F_PERMANENT, "permanent"},
		{unix.IFA_F_NOPREFIXROUTE, "noprefixroute"},
		{unix.IFA_F_MANAGETEMPADDR, "mngtmpaddr"},
	} {
		if f&fl.bit != 0 {
			out = append(out, fl.name)
		}
	}
	if len(out) == 0 {
		return "-"
	}
	return strings.Join(out, ",")
}

// WriteRoutes prints the routes of every table for both families, including
// source-specific and unreachable routes.
func WriteRoutes(w io.Writer) error {
	routes, err := netlink.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return fmt.Errorf("kernel: list routes: %w", err)
	}
	names := map[int]string{}
	if links, err := netlink.LinkList(); err == nil {
		for _, l := range links {
			names[l.Attrs().Index] = l.Attrs().Name
		}
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "DESTINATION\tPREFSRC\tVIA\tINTERFACE\tTYPE\tMETRIC\tTABLE\tPROTO")
	for _, r := range routes {
		if r.Table == unix.RT_TABLE_LOCAL {
			continue
		}
		dst := "default"
		if r.Dst != nil {
			if ones, _ := r.Dst.Mask.Size(); ones != 0 || !r.Dst.IP.IsUnspecified() {
				dst = r.Dst.String()
			}
		}
		src := "-"
		if r.Src != nil {
			src = r.Src.String()
		}
		via := "-"
		if r.Gw != nil {
			via = r.Gw.String()
		}
		dev := names[r.LinkIndex]
		if dev == "" {
			dev = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", dst, src, via, dev, routeType(r.Type), r.Priority, tableName(r.Table), r.Protocol)
	}
	return tw.Flush()
}

func routeType(t int) string {
	switch t {
	case unix.RTN_UNICAST:
		return "unicast"
	case unix.RTN_UNREACHABLE:
		return "unreachable"
	case unix.RTN_BLACKHOLE:
		return "blackhole"
	case unix.RTN_PROHIBIT:
		return "prohibit"
	case unix.RTN_LOCAL:
		return "local"
	case unix.RTN_MULTICAST:
		return "multicast"
	case unix.RTN_BROADCAST:
		return "broadcast"
	}
	return fmt.Sprint(t)
}

func tableName(t int) string {
	switch t {
	case unix.RT_TABLE_MAIN:
		return "main"
	case unix.RT_TABLE_LOCAL:
		return "local"
	case unix.RT_TABLE_DEFAULT:
		return "default"
	}
	return fmt.Sprint(t)
}
