package kernel

import (
	"fmt"
	"slices"
	"strings"
)

// sysctlPath turns a sysctl name into its path below /proc/sys. It takes the
// two spellings sysctl(8) takes, and the first separator tells which:
//
//   - slashed, "net/ipv6/conf/eth0.100/accept_ra": dots are part of names;
//   - dotted, "net.ipv6.conf.eth0/100.accept_ra": a slash stands for a dot
//     inside a component, as procps prints it.
//
// Interface names may contain dots (VLANs: eth0.100), which makes a plainly
// dotted "net.ipv6.conf.eth0.100.accept_ra" ambiguous to sysctl(8). Below
// net.ipv{4,6}.{conf,neigh} and net.mpls.conf the last component is the
// setting and the one after the family table is the interface, and settings
// never contain dots, so everything in between is the interface name.
func sysctlPath(name string) (string, error) {
	bad := func(why string) error { return fmt.Errorf("kernel: sysctl %q: %s", name, why) }
	i := strings.IndexAny(name, "./")
	if i < 0 {
		return "", bad("not a sysctl name")
	}
	var parts []string
	if name[i] == '/' {
		parts = strings.Split(name, "/")
	} else {
		parts = strings.Split(name, ".")
		for j := range parts {
			parts[j] = strings.ReplaceAll(parts[j], "/", ".")
		}
		if len(parts) > 5 && perInterfaceTable(parts[:3]) {
			ifname := strings.Join(parts[3:len(parts)-1], ".")
			parts = append(parts[:3:3], ifname, parts[len(parts)-1])
		}
	}
	for _, p := range parts {
		if p == "" || p == "." || p == ".." || strings.ContainsAny(p, " \t\n\x00") {
			return "", bad("invalid component")
		}
	}
	return strings.Join(parts, "/"), nil
}

func perInterfaceTable(p []string) bool {
	switch {
	case p[0] != "net":
		return false
	case p[1] == "ipv4" || p[1] == "ipv6":
		return p[2] == "conf" || p[2] == "neigh"
	case p[1] == "mpls":
		return p[2] == "conf"
	}
	return false
}

// sysctlName is the name the plan and logs show for a path: dotted, with a
// dot inside a component written as a slash, as sysctl -a prints it. It maps
// back to the same path.
func sysctlName(path string) string {
	parts := strings.Split(path, "/")
	for i := range parts {
		parts[i] = strings.ReplaceAll(parts[i], ".", "/")
	}
	return strings.Join(parts, ".")
}

// sameSysctlValue compares values as the kernel reads them: a vector like
// ip_local_port_range comes back tab-separated however it was written.
func sameSysctlValue(a, b string) bool {
	return slices.Equal(strings.Fields(a), strings.Fields(b))
}
