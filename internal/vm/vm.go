// Package vm boots the firmware image under qemu (software emulation) and drives
// its serial console, for system tests and the `make run` launcher.
package vm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cpe/board"
)

// EnvImageDir names the image directory (out/qemu-x86_64) for system tests.
const EnvImageDir = "CPE_IMAGE_DIR"

// DefaultPrompt matches the CLI prompt at the start of a line (operational and
// configuration mode).
var DefaultPrompt = regexp.MustCompile(`(?m)^cpe[>#] `)

// T is the part of testing.TB the harness uses; lab.Main implements it for commands.
type T interface {
	Helper()
	Cleanup(func())
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Skipf(format string, args ...any)
	TempDir() string
	Failed() bool
	Name() string
}

var _ T = testing.TB(nil)

// ImageDir returns $CPE_IMAGE_DIR or skips the test.
func ImageDir(t T) string {
	t.Helper()
	dir := os.Getenv(EnvImageDir)
	if dir == "" {
		t.Skipf("system test: set %s to the image directory (make test does)", EnvImageDir)
	}
	for _, f := range []string{"kernel", "initramfs.cpio.gz", "cmdline", "board.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatalf("%s=%s: %v (run make image)", EnvImageDir, dir, err)
		}
	}
	return dir
}

// Options say how to boot.
type Options struct {
	ImageDir string // kernel, initramfs.cpio.gz, cmdline, board.json, perm.img
	// Perm is the disk image to boot with, used in place (so a second boot sees
	// what the first wrote). Empty: a fresh copy of ImageDir/perm.img.
	Perm string
	// Netns runs qemu inside this network namespace: the taps must be there.
	Netns string
	// Taps attaches board NICs (by board name: wan0) to tap devices. A NIC not
	// listed still exists in the guest, on an isolated qemu hub: no root needed,
	// no traffic.
	Taps map[string]string
	// Index keeps MAC addresses distinct when several VMs share a lab (0–255).
	Index     int
	MemoryMiB int    // default: the board's
	Append    string // added to the kernel command line
	// Initrd boots this initramfs in place of the image's (AppendInitrd
	// makes one with a test's files added).
	Initrd string
	Extra  []string
	Prompt *regexp.Regexp // default DefaultPrompt
	// Serial is "stdio" for the harness (pipes) or "mon:stdio" for an
	// interactive terminal (Ctrl-A x quits). Default "stdio".
	Serial string
}

// FreshPerm copies the image's blank perm.img into the test's temporary
// directory, for tests that boot several times from one disk.
func FreshPerm(t T, imageDir string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "perm.img")
	if err := copyFile(filepath.Join(imageDir, "perm.img"), p); err != nil {
		t.Fatalf("vm: %v", err)
	}
	return p
}

// AppendInitrd writes the image's initramfs followed by extra, a gzipped
// cpio archive, into the test's temporary directory and returns its path,
// for Options.Initrd. The kernel unpacks both; extra's files win.
func AppendInitrd(t T, imageDir string, extra []byte) string {
	t.Helper()
	base, err := os.ReadFile(filepath.Join(imageDir, "initramfs.cpio.gz"))
	if err != nil {
		t.Fatalf("vm: %v", err)
	}
	p := filepath.Join(t.TempDir(), "initramfs.cpio.gz")
	if err := os.WriteFile(p, append(base, extra...), 0o644); err != nil {
		t.Fatalf("vm: %v", err)
	}
	return p
}

// ImageBoard reads the board file the image was built for.
func ImageBoard(imageDir string) (*board.Board, error) {
	doc, err := os.ReadFile(filepath.Join(imageDir, "board.json"))
	if err != nil {
		return nil, fmt.Errorf("vm: %w", err)
	}
	b, err := board.Parse(doc)
	if err != nil {
		return nil, fmt.Errorf("vm: %w", err)
	}
	return b, nil
}

// Args returns the qemu command line for o (without the netns wrapper).
func Args(o Options) (bin string, args []string, err error) {
	b, err := ImageBoard(o.ImageDir)
	if err != nil {
		return "", nil, err
	}
	q := b.Qemu
	if q == nil {
		return "", nil, fmt.Errorf("vm: board %s cannot be emulated (no qemu section)", b.Name)
	}
	cmdline, err := os.ReadFile(filepath.Join(o.ImageDir, "cmdline"))
	if err != nil {
		return "", nil, fmt.Errorf("vm: %w", err)
	}
	mem := q.MemoryMiB
	if o.MemoryMiB > 0 {
		mem = o.MemoryMiB
	}
	serial := o.Serial
	if serial == "" {
		serial = "stdio"
	}
	initrd := o.Initrd
	if initrd == "" {
		initrd = filepath.Join(o.ImageDir, "initramfs.cpio.gz")
	}
	appendLine := strings.TrimSpace(string(cmdline))
	if o.Append != "" {
		appendLine += " " + o.Append
	}
	args = []string{
		"-machine", q.Machine, "-accel", "tcg", "-m", strconv.Itoa(mem),
		"-nodefaults", "-no-user-config", "-display", "none", "-monitor", "none",
		"-serial", serial,
		"-kernel", filepath.Join(o.ImageDir, "kernel"),
		"-initrd", initrd,
		"-append", appendLine,
	}
	if q.Firmware != "" {
		if _, err := os.Stat(q.Firmware); err == nil {
			args = append(args, "-bios", q.Firmware)
		}
	}
	slot := func(pci string) (string, error) {
		// qemu wants "slot.function" on bus 0.
		if !strings.HasPrefix(pci, "0000:00:") {
			return "", fmt.Errorf("vm: PCI address %s: only bus 0000:00 is emulated", pci)
		}
		return strings.TrimPrefix(pci, "0000:00:"), nil
	}
	if o.Perm != "" {
		addr, err := slot(q.DiskPCI)
		if err != nil {
			return "", nil, err
		}
		args = append(args,
			"-drive", "file="+o.Perm+",if=none,id=perm,format=raw",
			"-device", "virtio-blk-pci,drive=perm,addr="+addr)
	}
	for name := range o.Taps {
		if _, ok := b.NIC(name); !ok {
			return "", nil, fmt.Errorf("vm: tap for %s: board %s has no such NIC", name, b.Name)
		}
	}
	for i, n := range b.NICs {
		if n.PCI == "" {
			continue
		}
		addr, err := slot(n.PCI)
		if err != nil {
			return "", nil, err
		}
		id := "n" + n.Name
		if tap := o.Taps[n.Name]; tap != "" {
			args = append(args, "-netdev", "tap,id="+id+",ifname="+tap+",script=no,downscript=no")
		} else {
			args = append(args, "-netdev", fmt.Sprintf("hubport,id=%s,hubid=%d", id, i))
		}
		args = append(args, "-device", fmt.Sprintf("virtio-net-pci,netdev=%s,addr=%s,mac=%s", id, addr, NICMAC(o.Index, i)))
	}
	if q.WatchdogDevice != "" {
		// Placed last so that its automatic slot cannot take one the board pinned.
		args = append(args, "-device", q.WatchdogDevice, "-action", "watchdog=reset")
	}
	args = append(args, o.Extra...)
	return q.Binary, args, nil
}

// VM is a running qemu with its serial console on pipes.
type VM struct {
	t      T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	prompt *regexp.Regexp
	perm   string
	start  time.Time

	mu      sync.Mutex
	raw     bytes.Buffer // everything qemu wrote, as is
	clean   cleaner      // the same without escape sequences and \r
	cursor  int          // offset in clean.out consumed by Expect
	changed chan struct{}
	exited  chan struct{}
	waitErr error
}

// Start boots the image; qemu is killed and temporary files removed when the
// test ends, and the serial transcript is logged if it failed.
func Start(t T, o Options) *VM {
	t.Helper()
	if o.ImageDir == "" {
		o.ImageDir = ImageDir(t)
	}
	if o.Perm == "" {
		o.Perm = FreshPerm(t, o.ImageDir)
	}
	bin, args, err := Args(o)
	if err != nil {
		t.Fatalf("%v", err)
	}
	if o.Netns != "" {
		args = append([]string{"netns", "exec", o.Netns, bin}, args...)
		bin = "ip"
	}
	v := &VM{t: t, prompt: o.Prompt, perm: o.Perm, changed: make(chan struct{}), exited: make(chan struct{})}
	if v.prompt == nil {
		v.prompt = DefaultPrompt
	}
	v.cmd = exec.Command(bin, args...)
	setDeathSignal(v.cmd)
	v.stdin, err = v.cmd.StdinPipe()
	if err != nil {
		t.Fatalf("%v", err)
	}
	out, err := v.cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("%v", err)
	}
	v.cmd.Stderr = &prefixWriter{v: v}
	v.start = time.Now()
	if err := v.cmd.Start(); err != nil {
		t.Fatalf("vm: %s: %v (Debian package qemu-system-x86)", bin, err)
	}
	t.Logf("vm: qemu pid %d", v.cmd.Process.Pid)
	var readDone sync.WaitGroup
	readDone.Add(1)
	go func() {
		defer readDone.Done()
		buf := make([]byte, 4096)
		for {
			n, err := out.Read(buf)
			if n > 0 {
				v.append(buf[:n])
			}
			if err != nil {
				return
			}
		}
	}()
	go func() {
		readDone.Wait()
		err := v.cmd.Wait()
		v.mu.Lock()
		v.waitErr = err
		v.mu.Unlock()
		close(v.exited)
	}()
	t.Cleanup(func() {
		v.Kill()
		if t.Failed() {
			t.Logf("vm: %s %s", bin, strings.Join(args, " "))
			t.Logf("vm: serial transcript (pid %d):\n%s", v.cmd.Process.Pid, v.Transcript())
		}
		if dir := os.Getenv("CPE_VM_LOGDIR"); dir != "" {
			name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
			os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s.%d.log", name, v.cmd.Process.Pid)), []byte(v.Transcript()), 0o644)
		}
	})
	return v
}

func (v *VM) append(p []byte) {
	v.mu.Lock()
	v.raw.Write(p)
	v.clean.write(p)
	close(v.changed)
	v.changed = make(chan struct{})
	v.mu.Unlock()
}

// prefixWriter puts qemu's own messages into the transcript, marked.
type prefixWriter struct{ v *VM }

func (w *prefixWriter) Write(p []byte) (int, error) {
	for _, l := range strings.SplitAfter(string(p), "\n") {
		if l != "" {
			w.v.append([]byte("[qemu] " + l))
		}
	}
	return len(p), nil
}

// Started is when qemu was started.
func (v *VM) Started() time.Time { return v.start }

// PermPath is the disk the VM runs with; pass it as Options.Perm to boot again
// with the same state.
func (v *VM) PermPath() string { return v.perm }

// Pid is qemu's process id.
func (v *VM) Pid() int { return v.cmd.Process.Pid }

// Transcript is the serial output so far, cleaned of escape sequences.
func (v *VM) Transcript() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return string(v.clean.out)
}

// Expect waits until re matches the console output not yet consumed, consumes
// it up to the end of the match and returns it.
func (v *VM) Expect(re *regexp.Regexp, timeout time.Duration) (string, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		v.mu.Lock()
		text := string(v.clean.out[v.cursor:])
		loc := re.FindStringIndex(text)
		if loc != nil {
			v.cursor += loc[1]
			v.mu.Unlock()
			return text[:loc[1]], nil
		}
		changed := v.changed
		v.mu.Unlock()
		select {
		case <-changed:
		case <-v.exited:
			// Drain whatever arrived with the exit first.
			v.mu.Lock()
			text = string(v.clean.out[v.cursor:])
			v.mu.Unlock()
			if loc := re.FindStringIndex(text); loc != nil {
				continue
			}
			return text, fmt.Errorf("vm: qemu exited (%v) while waiting for %q", v.exitErr(), re)
		case <-deadline.C:
			return text, fmt.Errorf("vm: no %q within %v; unconsumed output:\n%s", re, timeout, tail(text, 2000))
		}
	}
}

// ExpectString is Expect for a literal string.
func (v *VM) ExpectString(s string, timeout time.Duration) (string, error) {
	return v.Expect(regexp.MustCompile(regexp.QuoteMeta(s)), timeout)
}

// WaitPrompt waits for the CLI prompt.
func (v *VM) WaitPrompt(timeout time.Duration) (string, error) {
	return v.Expect(v.prompt, timeout)
}

// Send types s on the serial console as is.
func (v *VM) Send(s string) error {
	if _, err := io.WriteString(v.stdin, s); err != nil {
		return fmt.Errorf("vm: send: %w", err)
	}
	return nil
}

// Command types line and Enter, and returns what the device printed between the
// echo of the line and the next prompt. Call it at a prompt.
func (v *VM) Command(line string, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	if err := v.Send(line + "\r"); err != nil {
		return "", err
	}
	// A line editor may redraw the line as it is typed; the last copy before the
	// newline is the echo.
	echo := regexp.MustCompile(regexp.QuoteMeta(line) + `[ \t]*\n`)
	if _, err := v.Expect(echo, time.Until(deadline)); err != nil {
		return "", fmt.Errorf("vm: command %q: no echo: %w", line, err)
	}
	out, err := v.Expect(v.prompt, time.Until(deadline))
	if err != nil {
		return out, fmt.Errorf("vm: command %q: %w", line, err)
	}
	if loc := v.prompt.FindStringIndex(out); loc != nil {
		out = out[:loc[0]]
	}
	return out, nil
}

// Kill cuts the power: SIGKILL to qemu (only to its PID), and waits for it.
func (v *VM) Kill() {
	select {
	case <-v.exited:
		return
	default:
	}
	v.cmd.Process.Kill()
	<-v.exited
}

// Wait waits for qemu to exit by itself (a power-off) and returns its status.
func (v *VM) Wait(timeout time.Duration) error {
	select {
	case <-v.exited:
		return v.exitErr()
	case <-time.After(timeout):
		return fmt.Errorf("vm: qemu still running after %v", timeout)
	}
}

func (v *VM) exitErr() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.waitErr
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("vm: %w (run make image)", err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("vm: %w", err)
	}
	_, err = io.Copy(out, in)
	return errors.Join(err, out.Close())
}

// NICMAC is the MAC address qemu gives the board's NIC number nic (in board
// order) of the VM with Options.Index index.
func NICMAC(index, nic int) net.HardwareAddr {
	return net.HardwareAddr{0x52, 0x54, 0x00, 0xc0, byte(index), byte(nic)}
}

// LinkLocal is the EUI-64 link-local address (RFC 4291 appendix A) the
// device's kernel forms on a NIC with that MAC.
func LinkLocal(mac net.HardwareAddr) netip.Addr {
	var a [16]byte
	a[0], a[1] = 0xfe, 0x80
	a[8], a[9], a[10] = mac[0]^0x02, mac[1], mac[2]
	a[11], a[12] = 0xff, 0xfe
	a[13], a[14], a[15] = mac[3], mac[4], mac[5]
	return netip.AddrFrom16(a)
}
