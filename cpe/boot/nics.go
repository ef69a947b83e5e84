package boot

import (
	"sort"
	"strings"

	"cpe/board"
)

// planRenames decides which kernel interface gets which board name. devices maps
// kernel names (eth0) to their resolved sysfs device path
// (/sys/devices/pci0000:00/0000:00:04.0/virtio1). Matching by PCI address does not
// depend on probe order, so adding a NIC in qemu never shifts the others. It
// returns old→new renames and the board NICs that were not found.
func planRenames(nics []board.NIC, devices map[string]string) (renames map[string]string, missing []string) {
	renames = map[string]string{}
	taken := map[string]bool{}
	kernelNames := make([]string, 0, len(devices))
	for k := range devices {
		kernelNames = append(kernelNames, k)
	}
	sort.Strings(kernelNames)
	for _, n := range nics {
		found := ""
		for _, k := range kernelNames {
			if taken[k] {
				continue
			}
			switch {
			case n.PCI != "" && strings.Contains(devices[k]+"/", "/"+n.PCI+"/"):
				found = k
			case n.KernelName != "" && k == n.KernelName:
				found = k
			}
			if found != "" {
				break
			}
		}
		if found == "" {
			missing = append(missing, n.Name)
			continue
		}
		taken[found] = true
		if found != n.Name {
			renames[found] = n.Name
		}
	}
	return renames, missing
}
