package kernel

import "testing"

func TestSysctlPath(t *testing.T) {
	for _, tc := range []struct {
		name, path, canon string
	}{
		{"net.ipv6.conf.all.forwarding", "net/ipv6/conf/all/forwarding", "net.ipv6.conf.all.forwarding"},
		{"net.ipv6.conf.wan0.accept_ra", "net/ipv6/conf/wan0/accept_ra", "net.ipv6.conf.wan0.accept_ra"},
		{"net/ipv6/conf/wan0/accept_ra", "net/ipv6/conf/wan0/accept_ra", "net.ipv6.conf.wan0.accept_ra"},
		{"net.ipv4.ip_forward", "net/ipv4/ip_forward", "net.ipv4.ip_forward"},
		// A VLAN's name has a dot; each of the three spellings finds it.
		{"net.ipv6.conf.eth0.100.accept_ra", "net/ipv6/conf/eth0.100/accept_ra", "net.ipv6.conf.eth0/100.accept_ra"},
		{"net.ipv6.conf.eth0/100.accept_ra", "net/ipv6/conf/eth0.100/accept_ra", "net.ipv6.conf.eth0/100.accept_ra"},
		{"net/ipv6/conf/eth0.100/accept_ra", "net/ipv6/conf/eth0.100/accept_ra", "net.ipv6.conf.eth0/100.accept_ra"},
		{"net.ipv4.neigh.br.lan.5.gc_stale_time", "net/ipv4/neigh/br.lan.5/gc_stale_time", "net.ipv4.neigh.br/lan/5.gc_stale_time"},
		{"net.mpls.conf.eth0.1.input", "net/mpls/conf/eth0.1/input", "net.mpls.conf.eth0/1.input"},
		// Outside the per-interface tables dots are separators.
		{"net.core.rmem_max", "net/core/rmem_max", "net.core.rmem_max"},
		{"kernel.panic", "kernel/panic", "kernel.panic"},
	} {
		path, err := sysctlPath(tc.name)
		if err != nil {
			t.Errorf("sysctlPath(%q): %v", tc.name, err)
			continue
		}
		if path != tc.path {
			t.Errorf("sysctlPath(%q) = %q, want %q", tc.name, path, tc.path)
		}
		if got := sysctlName(path); got != tc.canon {
			t.Errorf("sysctlName(%q) = %q, want %q", path, got, tc.canon)
		}
		if back, err := sysctlPath(sysctlName(path)); err != nil || back != path {
			t.Errorf("sysctlPath(sysctlName(%q)) = %q, %v", path, back, err)
		}
	}
}

func TestSysctlPathRejects(t *testing.T) {
	for _, name := range []string{
		"", "forwarding", "net..ipv4.ip_forward", "net/ipv4/../../etc/passwd",
		"net.ipv4./..ip_forward", "/net/ipv4/ip_forward", "net.ipv4.ip_forward.",
		"net.ipv4.conf.a b.forwarding", "net.ipv4.conf.x\x00.forwarding",
	} {
		if p, err := sysctlPath(name); err == nil {
			t.Errorf("sysctlPath(%q) = %q, want an error", name, p)
		}
	}
}

func TestSameSysctlValue(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"1", "1", true},
		{"1", " 1\n", true},
		{"32768\t60999", "32768 60999", true},
		{"0", "1", false},
		{"32768 60999", "32768 61000", false},
		{"", "0", false},
	} {
		if got := sameSysctlValue(tc.a, tc.b); got != tc.same {
			t.Errorf("sameSysctlValue(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}
