// Package lab builds throw-away network labs for tests: network namespaces,
// veth pairs, bridges and tap devices, with commands run inside them. Everything
// it creates, and every process it starts, is removed when the test ends,
// whether it passed or not.
package lab

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// T is the part of testing.TB the lab needs; cmd/run implements it too.
type T interface {
	Helper()
	Cleanup(func())
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
}

// Skipper is testing.TB's Skip.
type Skipper interface {
	Helper()
	Skip(args ...any)
}

// RequireRoot skips the test unless it runs as root.
func RequireRoot(t Skipper) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("lab test: needs root for network namespaces (run make test as root)")
	}
}

// Lab names its namespaces with a random prefix so parallel tests and leftovers
// of killed runs never collide.
type Lab struct {
	t      T
	prefix string
	mu     sync.Mutex
}

// New starts a lab; its namespaces are deleted at cleanup.
func New(t T) *Lab {
	t.Helper()
	var b [3]byte
	rand.Read(b[:])
	return &Lab{t: t, prefix: "cpe-" + hex.EncodeToString(b[:]) + "-"}
}

// Netns is a network namespace of the lab.
type Netns struct {
	Name string
	lab  *Lab
}

// Netns creates a namespace (name is a short role: "isp", "cpe", "host1") with
// its loopback up.
func (l *Lab) Netns(role string) *Netns {
	l.t.Helper()
	n := &Netns{Name: l.prefix + role, lab: l}
	l.run("ip", "netns", "add", n.Name)
	l.t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "delete", n.Name).CombinedOutput(); err != nil {
			l.t.Logf("lab: ip netns delete %s: %v: %s", n.Name, err, out)
		}
	})
	n.Run("ip", "link", "set", "lo", "up")
	return n
}

func (l *Lab) run(args ...string) string {
	l.t.Helper()
	out, err := runCmd(args...)
	if err != nil {
		l.t.Fatalf("lab: %v", err)
	}
	return out
}

func runCmd(args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// Exec runs a command inside the namespace and returns its standard output.
func (n *Netns) Exec(args ...string) (string, error) {
	return runCmd(append([]string{"ip", "netns", "exec", n.Name}, args...)...)
}

// Run is Exec that fails the test on error.
func (n *Netns) Run(args ...string) string {
	n.lab.t.Helper()
	out, err := n.Exec(args...)
	if err != nil {
		n.lab.t.Fatalf("lab: %v", err)
	}
	return out
}

// Start runs a long-lived command inside the namespace. It is stopped
// (SIGTERM, then SIGKILL after two seconds, by its PID only) at cleanup, or
// earlier with Proc.Stop. Its output goes to the test log if the test fails.
func (n *Netns) Start(args ...string) *Proc { return n.StartEnv(nil, args...) }

// StartEnv is Start with extra environment variables ("NAME=value").
func (n *Netns) StartEnv(env []string, args ...string) *Proc {
	n.lab.t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", n.Name}, args...)...)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	p := &Proc{Cmd: cmd, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &p.out, &p.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	// A daemon's helper processes may hold its output pipes after it is
	// gone; Wait then returns anyway instead of hanging the test.
	cmd.WaitDelay = 3 * time.Second
	if err := cmd.Start(); err != nil {
		n.lab.t.Fatalf("lab: start %s in %s: %v", strings.Join(args, " "), n.Name, err)
	}
	go func() { cmd.Wait(); close(p.exited) }()
	n.lab.t.Cleanup(func() {
		p.Stop()
		if s := p.out.String(); s != "" {
			n.lab.t.Logf("lab: output of %s (pid %d) in %s:\n%s", strings.Join(args, " "), cmd.Process.Pid, n.Name, s)
		}
	})
	return p
}

// Proc is a process started in a namespace.
type Proc struct {
	Cmd    *exec.Cmd
	out    lockedBuffer
	exited chan struct{}
}

// Stop ends the process (SIGTERM, SIGKILL after two seconds) and waits for
// it. Stopping a process that has ended does nothing.
func (p *Proc) Stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(2 * time.Second):
		p.Cmd.Process.Kill()
		<-p.exited
	}
}

// Exited is closed when the process has ended.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// Output is what the process printed so far.
func (p *Proc) Output() string { return p.out.String() }

// Do runs fn with the calling goroutine's thread inside the namespace, for Go
// code (netlink, sockets) that should act there.
func (n *Netns) Do(fn func() error) error {
	target, err := os.Open("/var/run/netns/" + n.Name)
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	defer target.Close()
	runtime.LockOSThread()
	// The thread is left locked if switching back fails, so the runtime
	// discards it instead of reusing it in the wrong namespace.
	orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("lab: %w", err)
	}
	defer orig.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("lab: setns %s: %w", n.Name, err)
	}
	ferr := fn()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("lab: back from %s: %w", n.Name, err)
	}
	runtime.UnlockOSThread()
	return ferr
}

// Veth connects two namespaces with a veth pair named aName in a and bName in b,
// both up.
func (l *Lab) Veth(a *Netns, aName string, b *Netns, bName string) {
	l.t.Helper()
	l.run("ip", "-n", a.Name, "link", "add", aName, "type", "veth", "peer", "name", bName, "netns", b.Name)
	a.Run("ip", "link", "set", aName, "up")
	b.Run("ip", "link", "set", bName, "up")
}

// Addr adds an address to a device (and brings it up).
func (n *Netns) Addr(dev string, p netip.Prefix) {
	n.lab.t.Helper()
	args := []string{"ip", "addr", "add", p.String(), "dev", dev}
	if p.Addr().Is6() {
		args = append(args, "nodad")
	}
	n.Run(args...)
	n.Run("ip", "link", "set", dev, "up")
}

// Tap creates a tap device (for qemu) and brings it up.
func (n *Netns) Tap(name string) {
	n.lab.t.Helper()
	n.Run("ip", "tuntap", "add", "dev", name, "mode", "tap")
	n.Run("ip", "link", "set", name, "up")
}

// Bridge creates a bridge with the given ports, all up.
func (n *Netns) Bridge(name string, ports ...string) {
	n.lab.t.Helper()
	n.Run("ip", "link", "add", name, "type", "bridge")
	for _, p := range ports {
		n.Run("ip", "link", "set", p, "master", name)
		n.Run("ip", "link", "set", p, "up")
	}
	n.Run("ip", "link", "set", name, "up")
}

// Sysctl sets a sysctl inside the namespace ("net.ipv6.conf.all.forwarding", "1").
func (n *Netns) Sysctl(key, value string) {
	n.lab.t.Helper()
	n.Run("sysctl", "-q", "-w", key+"="+value)
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// RequireCommands skips the test when a peer program is not installed.
func RequireCommands(t Skipper, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Skip("lab test: " + n + " is not installed (make deps installs the peers)")
		}
	}
}

// StartDHCPCD runs dhcpcd in the namespace with config (dhcpcd.conf text;
// "" for none) and its lease database and control socket on private tmpfs
// mounts (`ip netns exec` gives each command its own mount namespace), so a
// lab client neither reads nor leaves leases in the machine's
// /var/lib/dhcpcd. No hook script runs: the lab must not touch the
// machine's resolv.conf. args follow the fixed options.
func (n *Netns) StartDHCPCD(config string, args ...string) *Proc {
	n.lab.t.Helper()
	conf := "/dev/null"
	if config != "" {
		f, err := os.CreateTemp("", "cpe-dhcpcd-*.conf")
		if err != nil {
			n.lab.t.Fatalf("lab: %v", err)
		}
		n.lab.t.Cleanup(func() { os.Remove(f.Name()) })
		if _, err := f.WriteString(config); err != nil {
			n.lab.t.Fatalf("lab: %v", err)
		}
		f.Close()
		conf = f.Name()
	}
	script := "set -e; for d in /var/lib/dhcpcd /run/dhcpcd; do mkdir -p $d; mount -t tmpfs tmpfs $d; done; " +
		`exec dhcpcd --nobackground --config "$0" --script /bin/true "$@"`
	// dhcpcd forks helpers that ignore SIGTERM and outlive it. In a PID
	// namespace of its own, killing its first process (the namespace's
	// init) ends them all; that is done before the process is stopped.
	p := n.Start(append([]string{"unshare", "--pid", "--fork", "sh", "-c", script, conf}, args...)...)
	n.lab.t.Cleanup(func() { killChildren(p.Cmd.Process.Pid) })
	return p
}

// killChildren sends SIGKILL to the children of pid (processes this lab
// started through it).
func killChildren(pid int) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(b)) {
		if c, err := strconv.Atoi(f); err == nil {
			syscall.Kill(c, syscall.SIGKILL)
		}
	}
}
