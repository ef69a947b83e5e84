// Package board owns the board description: the one JSON file per board that says
// which kernel to ship, which modules to load, what the NICs are called and where
// persistent state lives. The image builder and the PID 1 boot code both read it.
package board

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// Board is one board's description (board/<name>/board.json, /etc/board.json on the device).
type Board struct {
	Name   string `json:"name"`
	GOARCH string `json:"goarch"`
	// GOARM / GOMIPS are passed to the Go build for those architectures.
	GOARM  string `json:"goarm,omitempty"`
	GOMIPS string `json:"gomips,omitempty"`

	Kernel Kernel `json:"kernel"`
	// Console is the serial device under /dev that carries the CLI (ttyS0).
	Console string `json:"console"`
	Cmdline string `json:"cmdline"`

	// Modules are loaded in this order, each after its dependencies (the image
	// builder expands the closure from modules.dep). Names use underscores.
	Modules      []string          `json:"modules"`
	ModuleParams map[string]string `json:"module_params,omitempty"`

	// Programs are executables of the build host the image carries, with
	// their ELF interpreter and shared libraries (wpa_supplicant for SAE on
	// the mesh); the host must be of the board's architecture.
	Programs []string `json:"programs,omitempty"`

	NICs     []NIC    `json:"nics"`
	Perm     Perm     `json:"perm"`
	Watchdog Watchdog `json:"watchdog"`
	Qemu     *Qemu    `json:"qemu,omitempty"`
}

// Kernel names the Debian package that provides vmlinuz and the modules. A
// metapackage (linux-image-amd64) is resolved to the concrete one at build time.
type Kernel struct {
	Package string `json:"package"`
}

// NIC maps a kernel network device to the name the firmware uses. PCI (the
// device's bus address) is preferred because it does not depend on probe order;
// KernelName (eth0) is the fallback for boards whose NICs are not on PCI.
type NIC struct {
	Name       string `json:"name"`
	PCI        string `json:"pci,omitempty"`
	KernelName string `json:"kernel_name,omitempty"`
}

// Perm is the persistent partition.
type Perm struct {
	Device     string `json:"device"`
	FSType     string `json:"fstype"`
	Mountpoint string `json:"mountpoint"`
	SizeMiB    int    `json:"size_mib"`
}

// Watchdog is the hardware watchdog. A zero Device means the board has none.
type Watchdog struct {
	Device          string `json:"device,omitempty"`
	TimeoutSeconds  int    `json:"timeout_s,omitempty"`
	IntervalSeconds int    `json:"interval_s,omitempty"`
}

// Qemu holds what the emulator needs to build the same machine the board file
// describes; only emulated boards have it.
type Qemu struct {
	Binary    string `json:"binary"`
	Machine   string `json:"machine"`
	MemoryMiB int    `json:"memory_mib"`
	// DiskPCI is where the perm disk is plugged; NIC slots come from NICs[].PCI.
	DiskPCI        string `json:"disk_pci"`
	WatchdogDevice string `json:"watchdog_device,omitempty"`
	// Firmware replaces SeaBIOS (-bios). qboot hands over to the kernel in a
	// fraction of a second where SeaBIOS under software emulation takes ten.
	Firmware string `json:"firmware,omitempty"`
}

var (
	nameRE   = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)
	ifnameRE = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_.-]{0,14}$`)
	pciRE    = regexp.MustCompile(`^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$`)
	modRE    = regexp.MustCompile(`^[a-z0-9_]+$`)
)

// Parse decodes a board file strictly (unknown fields are errors) and validates it.
func Parse(doc []byte) (*Board, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	var b Board
	if err := dec.Decode(&b); err != nil {
		return nil, fmt.Errorf("board: %w", err)
	}
	if dec.More() {
		return nil, errors.New("board: trailing data after the JSON object")
	}
	if err := b.Validate(); err != nil {
		return nil, err
	}
	return &b, nil
}

// Load reads and parses a board file.
func Load(path string) (*Board, error) {
	doc, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("board: %w", err)
	}
	b, err := Parse(doc)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return b, nil
}

// Validate reports every problem, one per line.
func (b *Board) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("board: "+format, args...)) }
	if !nameRE.MatchString(b.Name) {
		bad("name %q: lower-case letters, digits, '-' and '_'", b.Name)
	}
	switch b.GOARCH {
	case "amd64", "arm64", "arm", "mipsle", "mips", "riscv64":
	default:
		bad("goarch %q: not a supported GOARCH", b.GOARCH)
	}
	if b.Kernel.Package == "" {
		bad("kernel.package: required")
	}
	if b.Console == "" || strings.Contains(b.Console, "/") {
		bad("console %q: a device name under /dev, like ttyS0", b.Console)
	}
	seen := map[string]bool{}
	for i, m := range b.Modules {
		if !modRE.MatchString(m) {
			bad("modules[%d] %q: module names use [a-z0-9_] (write '-' as '_')", i, m)
		}
		if seen[m] {
			bad("modules[%d] %q: listed twice", i, m)
		}
		seen[m] = true
	}
	for i, p := range b.Programs {
		if !strings.HasPrefix(p, "/") || strings.Contains(p, "..") {
			bad("programs[%d] %q: an absolute path on the build host", i, p)
		}
	}
	for m := range b.ModuleParams {
		if !seen[m] {
			bad("module_params.%s: module is not in modules", m)
		}
	}
	names, slots := map[string]bool{}, map[string]bool{}
	for i, n := range b.NICs {
		if !ifnameRE.MatchString(n.Name) {
			bad("nics[%d].name %q: not a valid interface name (max 15 characters)", i, n.Name)
		}
		if names[n.Name] {
			bad("nics[%d].name %q: used twice", i, n.Name)
		}
		names[n.Name] = true
		switch {
		case n.PCI != "" && n.KernelName != "":
			bad("nics[%d]: give pci or kernel_name, not both", i)
		case n.PCI != "":
			if !pciRE.MatchString(n.PCI) {
				bad("nics[%d].pci %q: want DDDD:BB:SS.F in lower-case hex", i, n.PCI)
			}
			if slots[n.PCI] {
				bad("nics[%d].pci %q: used twice", i, n.PCI)
			}
			slots[n.PCI] = true
		case n.KernelName != "":
			if !ifnameRE.MatchString(n.KernelName) {
				bad("nics[%d].kernel_name %q: not a valid interface name", i, n.KernelName)
			}
		default:
			bad("nics[%d]: pci or kernel_name required", i)
		}
	}
	if !strings.HasPrefix(b.Perm.Device, "/dev/") {
		bad("perm.device %q: want a path under /dev", b.Perm.Device)
	}
	if b.Perm.FSType == "" {
		bad("perm.fstype: required")
	}
	if !strings.HasPrefix(b.Perm.Mountpoint, "/") {
		bad("perm.mountpoint %q: want an absolute path", b.Perm.Mountpoint)
	}
	if b.Perm.SizeMiB < 0 {
		bad("perm.size_mib: must not be negative")
	}
	if b.Watchdog.Device != "" {
		if !strings.HasPrefix(b.Watchdog.Device, "/dev/") {
			bad("watchdog.device %q: want a path under /dev", b.Watchdog.Device)
		}
		if b.Watchdog.TimeoutSeconds < 0 || b.Watchdog.IntervalSeconds < 0 {
			bad("watchdog: timeout_s and interval_s must not be negative")
		}
		if b.Watchdog.TimeoutSeconds > 0 && b.Watchdog.IntervalSeconds*2 > b.Watchdog.TimeoutSeconds {
			bad("watchdog.interval_s %d: must be at most half of timeout_s %d", b.Watchdog.IntervalSeconds, b.Watchdog.TimeoutSeconds)
		}
	}
	if q := b.Qemu; q != nil {
		if q.Binary == "" || q.Machine == "" {
			bad("qemu: binary and machine required")
		}
		if q.MemoryMiB < 64 {
			bad("qemu.memory_mib %d: at least 64", q.MemoryMiB)
		}
		if !pciRE.MatchString(q.DiskPCI) {
			bad("qemu.disk_pci %q: want DDDD:BB:SS.F", q.DiskPCI)
		}
		if slots[q.DiskPCI] {
			bad("qemu.disk_pci %q: also used by a NIC", q.DiskPCI)
		}
	}
	return errors.Join(errs...)
}

// NIC returns the NIC called name.
func (b *Board) NIC(name string) (NIC, bool) {
	for _, n := range b.NICs {
		if n.Name == name {
			return n, true
		}
	}
	return NIC{}, false
}

// ModuleName normalises a module file or name ("crc32c-intel.ko") to the
// kernel's spelling ("crc32c_intel").
func ModuleName(s string) string {
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		s = s[i+1:]
	}
	if i := strings.Index(s, ".ko"); i >= 0 {
		s = s[:i]
	}
	return strings.ReplaceAll(s, "-", "_")
}
