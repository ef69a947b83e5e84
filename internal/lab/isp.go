package lab

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ISP plays the provider side of an uplink with the real servers the box
// meets in the field: kea for DHCPv4 and DHCPv6 (IA_NA and prefix
// delegation) and radvd for router advertisements, all on one link inside
// the ISP namespace.
type ISP struct {
	NS   *Netns
	Link string // the ISP's interface towards the box
	dir  string
	opts ISPOptions

	procs map[string]*Proc
}

// ISPOptions choose what the ISP offers. Addresses are documentation ranges
// inside the lab's namespaces.
type ISPOptions struct {
	DHCP4 bool
	// DHCPv6: stateful addresses and/or prefix delegation.
	IANA     bool
	PD       bool
	PDLength int // delegated length (default 56)
	// RA: radvd on the link; Managed/Other set the M and O flags, and
	// SLAAC advertises the link's /64 with the A flag.
	RA             bool
	Managed, Other bool
	SLAAC          bool

	// RefuseHint makes the DHCPv6 server answer a Solicit that carries a
	// prefix-length hint with no prefix, as some ISPs do.
	RefuseHint bool

	Lifetime time.Duration // DHCP valid lifetime (default 1h)
	// Variant separates the prefixes of two ISPs in one lab (0, 1, …).
	Variant int
	// Renumbered moves the delegation pool (see ISP.Renumber).
	Renumbered int
}

// Addresses of the ISP link, by variant.
func (o ISPOptions) v4Net() netip.Prefix {
	if o.Variant%2 == 1 {
		return netip.MustParsePrefix("203.0.113.0/24")
	}
	return netip.MustParsePrefix("192.0.2.0/24")
}
func (o ISPOptions) v6Net() netip.Prefix {
	return netip.MustParsePrefix(fmt.Sprintf("2001:db8:%x::/64", 0xa0+o.Variant))
}

// PDPool is the pool delegated prefixes come from.
func (o ISPOptions) PDPool() netip.Prefix {
	return netip.MustParsePrefix(fmt.Sprintf("2001:db8:%x::/40", 0x1000*(1+o.Variant)+0x100*o.Renumbered))
}

// DNS4 and DNS6 are the resolvers the ISP announces.
func (o ISPOptions) DNS4() netip.Addr { return o.v4Net().Addr().Next().Next().Next() } // .3
func (o ISPOptions) DNS6() netip.Addr {
	return netip.MustParseAddr(fmt.Sprintf("2001:db8:%x::53", 0xa0+o.Variant))
}

// Gateway4 and Gateway6 are the ISP router's addresses on the link.
func (o ISPOptions) Gateway4() netip.Addr { return o.v4Net().Addr().Next() }
func (o ISPOptions) Gateway6() netip.Addr { return o.v6Net().Addr().Next() }

// Internet is an address behind the ISP standing for the rest of the world.
func (o ISPOptions) Internet6() netip.Addr {
	return netip.MustParseAddr(fmt.Sprintf("2001:db8:%x::1", 0xf000+o.Variant))
}
func (o ISPOptions) Internet4() netip.Addr {
	return netip.MustParseAddr(fmt.Sprintf("198.51.100.%d", 1+o.Variant))
}

// NewISP configures link in ns as the ISP's side of an uplink and starts
// the servers opts asks for.
func (l *Lab) NewISP(ns *Netns, link string, opts ISPOptions) *ISP {
	l.t.Helper()
	if opts.PDLength == 0 {
		opts.PDLength = 56
	}
	if opts.Lifetime == 0 {
		opts.Lifetime = time.Hour
	}
	dir, err := os.MkdirTemp("", "cpe-isp-")
	if err != nil {
		l.t.Fatalf("lab: %v", err)
	}
	l.t.Cleanup(func() { os.RemoveAll(dir) })
	isp := &ISP{NS: ns, Link: link, dir: dir, opts: opts, procs: map[string]*Proc{}}

	ns.Sysctl("net.ipv6.conf.all.forwarding", "1")
	ns.Sysctl("net.ipv4.ip_forward", "1")
	ns.Addr(link, netip.PrefixFrom(opts.Gateway4(), 24))
	ns.Addr(link, netip.PrefixFrom(opts.Gateway6(), 64))
	ns.Addr("lo", netip.PrefixFrom(opts.Internet6(), 128))
	ns.Addr("lo", netip.PrefixFrom(opts.Internet4(), 32))
	ns.Addr("lo", netip.PrefixFrom(opts.DNS6(), 128))
	ns.WaitLinkLocal(link)
	isp.Start()
	return isp
}

// Start (re)starts the configured servers.
func (i *ISP) Start() {
	t := i.NS.lab.t
	t.Helper()
	env := []string{"KEA_PIDFILE_DIR=" + i.dir, "KEA_LOCKFILE_DIR=" + i.dir}
	if i.opts.DHCP4 {
		i.procs["dhcp4"] = i.NS.StartEnv(env, "kea-dhcp4", "-c", i.write("kea-dhcp4.json", i.kea4()))
	}
	if i.opts.IANA || i.opts.PD {
		i.procs["dhcp6"] = i.NS.StartEnv(env, "kea-dhcp6", "-c", i.write("kea-dhcp6.json", i.kea6()))
	}
	if i.opts.RA {
		conf := i.write("radvd.conf", i.radvd())
		i.procs["radvd"] = i.NS.Start("radvd", "--nodaemon", "-C", conf, "-p", filepath.Join(i.dir, "radvd.pid"), "-m", "stderr")
	}
	// A server that rejects its configuration exits at once; say so here
	// rather than as a client that never gets an answer.
	time.Sleep(300 * time.Millisecond)
	for name, p := range i.procs {
		select {
		case <-p.Exited():
			t.Fatalf("lab: the ISP's %s exited at start:\n%s", name, p.Output())
		default:
		}
	}
}

// Stop stops every server, as an ISP outage would.
func (i *ISP) Stop() {
	for name, p := range i.procs {
		p.Stop()
		delete(i.procs, name)
	}
}

// WipeLeases removes kea's lease files: restarted, the servers have forgotten
// every binding (Renew gets NoBinding).
func (i *ISP) WipeLeases() {
	for _, f := range []string{"kea-leases4.csv", "kea-leases6.csv"} {
		os.Remove(filepath.Join(i.dir, f))
		os.Remove(filepath.Join(i.dir, f+".2"))
	}
}

func (i *ISP) write(name string, v any) string {
	p := filepath.Join(i.dir, name)
	var data []byte
	switch v := v.(type) {
	case string:
		data = []byte(v)
	default:
		var err error
		if data, err = json.MarshalIndent(v, "", "  "); err != nil {
			i.NS.lab.t.Fatalf("lab: %v", err)
		}
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		i.NS.lab.t.Fatalf("lab: %v", err)
	}
	return p
}

type obj = map[string]any

func (i *ISP) kea4() obj {
	o := i.opts
	n := o.v4Net().Addr().As4()
	pool := fmt.Sprintf("%d.%d.%d.100 - %d.%d.%d.199", n[0], n[1], n[2], n[0], n[1], n[2])
	life := int(o.Lifetime / time.Second)
	return obj{"Dhcp4": obj{
		"interfaces-config": obj{"interfaces": []string{i.Link}, "dhcp-socket-type": "raw"},
		"lease-database":    obj{"type": "memfile", "persist": true, "name": filepath.Join(i.dir, "kea-leases4.csv"), "lfc-interval": 0},
		"valid-lifetime":    life,
		"renew-timer":       life / 2,
		"rebind-timer":      life * 7 / 8,
		"subnet4": []obj{{
			"id": 1, "subnet": o.v4Net().String(), "interface": i.Link,
			"pools": []obj{{"pool": pool}},
			"option-data": []obj{
				{"name": "routers", "data": o.Gateway4().String()},
				{"name": "domain-name-servers", "data": o.DNS4().String()},
			},
		}},
		"loggers": []obj{{"name": "kea-dhcp4", "severity": "INFO", "output_options": []obj{{"output": "stderr"}}}},
	}}
}

func (i *ISP) kea6() obj {
	o := i.opts
	life := int(o.Lifetime / time.Second)
	subnet := obj{
		"id": 1, "subnet": o.v6Net().String(), "interface": i.Link,
		"option-data": []obj{{"name": "dns-servers", "data": o.DNS6().String()}, {"name": "domain-search", "data": "isp.example"}},
	}
	if o.IANA {
		base := o.v6Net().Addr().As16()
		base[14], base[15] = 0x10, 0x00
		lo := netip.AddrFrom16(base)
		base[14] = 0x1f
		base[15] = 0xff
		subnet["pools"] = []obj{{"pool": lo.String() + " - " + netip.AddrFrom16(base).String()}}
	}
	var classes []obj
	if o.PD {
		pool := obj{"prefix": o.PDPool().Addr().String(), "prefix-len": o.PDPool().Bits(), "delegated-len": o.PDLength}
		if o.RefuseHint {
			// An IA Prefix option (26) inside the IA_PD (25) of a Solicit
			// (message type 1) is the hint; a Request names its prefix.
			classes = append(classes, obj{"name": "nohint", "test": "not (pkt6.msgtype == 1 and option[25].option[26].exists)"})
			pool["client-class"] = "nohint"
		}
		subnet["pd-pools"] = []obj{pool}
	}
	cfg := obj{
		"interfaces-config":  obj{"interfaces": []string{i.Link}},
		"server-id":          obj{"type": "LL", "persist": false},
		"lease-database":     obj{"type": "memfile", "persist": true, "name": filepath.Join(i.dir, "kea-leases6.csv"), "lfc-interval": 0},
		"preferred-lifetime": life / 2,
		"valid-lifetime":     life,
		"renew-timer":        life / 4,
		"rebind-timer":       life * 2 / 5,
		"subnet6":            []obj{subnet},
		"loggers":            []obj{{"name": "kea-dhcp6", "severity": "INFO", "output_options": []obj{{"output": "stderr"}}}},
	}
	if len(classes) > 0 {
		cfg["client-classes"] = classes
	}
	return obj{"Dhcp6": cfg}
}

func (i *ISP) radvd() string {
	o := i.opts
	onOff := func(b bool) string {
		if b {
			return "on"
		}
		return "off"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "interface %s {\n\tAdvSendAdvert on;\n\tMinRtrAdvInterval 3;\n\tMaxRtrAdvInterval 10;\n", i.Link)
	fmt.Fprintf(&b, "\tAdvManagedFlag %s;\n\tAdvOtherConfigFlag %s;\n", onOff(o.Managed), onOff(o.Other))
	fmt.Fprintf(&b, "\tprefix %s {\n\t\tAdvOnLink on;\n\t\tAdvAutonomous %s;\n\t};\n", o.v6Net(), onOff(o.SLAAC))
	fmt.Fprintf(&b, "\tRDNSS %s {};\n", o.DNS6())
	b.WriteString("};\n")
	return b.String()
}

// WaitLinkLocal waits until dev has a link-local address that finished
// duplicate address detection: nothing can send ND or DHCPv6 before.
func (n *Netns) WaitLinkLocal(dev string) {
	n.lab.t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		out, _ := n.Exec("ip", "-6", "addr", "show", "dev", dev, "scope", "link")
		if strings.Contains(out, "fe80::") && !strings.Contains(out, "tentative") {
			return
		}
	}
	n.lab.t.Fatalf("lab: no link-local address on %s in %s", dev, n.Name)
}

// Options returns what the ISP was started with (defaults filled in).
func (i *ISP) Options() ISPOptions { return i.opts }

// Log returns what the ISP's server (dhcp4, dhcp6, radvd) printed so far.
func (i *ISP) Log(server string) string {
	if p := i.procs[server]; p != nil {
		return p.Output()
	}
	return ""
}

// Renumber restarts the DHCPv6 server with its bindings forgotten and a
// different delegation pool, as an ISP that renumbers its customers does.
func (i *ISP) Renumber() {
	i.Stop()
	i.WipeLeases()
	i.opts.Renumbered++
	i.Start()
}
