package mesh_test

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"cpe/internal/lab"
)

// The benchmarks run the same mesh twice, all `cpe run` boxes and all
// babeld, with babeld's default timers (4 s Hellos, 16 s updates) on both.

const (
	benchHello  = 4 * time.Second
	benchUpdate = 16 * time.Second
)

// A topology is a mesh to build, the link that fails, the box whose LAN
// every route is checked for, and the box that pings it across the
// failed link.
type topology struct {
	name   string
	build  func(m *meshLab, kind nodeKind)
	fail   [2]string
	target string
	from   string
}

func nodeName(i int) string { return string(rune('a' + i)) }

// ring builds n boxes in a ring.
func ring(n int) func(*meshLab, nodeKind) {
	return func(m *meshLab, kind nodeKind) {
		for i := range n {
			m.node(nodeName(i), kind)
		}
		for i := range n {
			m.link(nodeName(i), nodeName((i+1)%n))
		}
	}
}

// grid builds n×n boxes, each linked to the ones beside, above and below
// it; a is a corner, b next to it.
func grid(n int) func(*meshLab, nodeKind) {
	return func(m *meshLab, kind nodeKind) {
		for i := range n * n {
			m.node(nodeName(i), kind)
		}
		for i := range n * n {
			if i%n+1 < n {
				m.link(nodeName(i), nodeName(i+1))
			}
			if i+n < n*n {
				m.link(nodeName(i), nodeName(i+n))
			}
		}
	}
}

// BenchmarkConvergence measures how long after a link is removed (the
// veth deleted: both ends see the interface go) every box's kernel route
// to the target's LAN leads there again and a ping from the box on the
// other side of the failed link gets an answer. In the 10-ring the failed
// link is a–b and the ping from a goes the other way round, 9 hops; in
// the 3×3 grid it is the link between corner a and b, and b pings a.
func BenchmarkConvergence(b *testing.B) {
	for _, topo := range []topology{
		{name: "ring10", build: ring(10), fail: [2]string{"a", "b"}, target: "b", from: "a"},
		{name: "grid3x3", build: grid(3), fail: [2]string{"a", "b"}, target: "a", from: "b"},
	} {
		b.Run(topo.name, func(b *testing.B) {
			for _, kind := range []nodeKind{kindCPE, kindBabeld} {
				b.Run(kind.String(), func(b *testing.B) { benchConvergence(b, topo, kind) })
			}
		})
	}
}

func benchConvergence(b *testing.B, topo topology, kind nodeKind) {
	m := newMeshLab(b, benchHello, benchUpdate)
	topo.build(m, kind)
	m.run(nil)
	took := time.Now()
	m.connectFrom(topo.target, 60*time.Second)
	// Every link has its cost both ways, so that a path around the
	// failure is not held up by a link still being acquired.
	waitFor(b, 60*time.Second, 250*time.Millisecond, "every link up", m.linksUp)
	b.Logf("steady state after %v", time.Since(took).Round(time.Second))
	var total time.Duration
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		if i > 0 {
			// The restored link is a shortcut, which takes its time to be
			// preferred.
			m.link(topo.fail[0], topo.fail[1])
			waitFor(b, 120*time.Second, 250*time.Millisecond, "shortest routes to "+topo.target+"'s LAN", func() (bool, string) { return m.shortest(topo.target) })
		}
		// The ping goes over the link that is about to fail, both ways.
		waitFor(b, 60*time.Second, 250*time.Millisecond, topo.target+"'s route to "+topo.from+" over the link", func() (bool, string) {
			dev, err := m.nodes[topo.target].kernelDev(m.nodes[topo.from].lan)
			return err == nil && dev == ifName(topo.target, topo.from), fmt.Sprintf("dev %q, %v", dev, err)
		})
		waitFor(b, 30*time.Second, 250*time.Millisecond, topo.from+" pings "+topo.target, func() (bool, string) { return m.ping(topo.from, topo.target, 1) })
		b.StartTimer()

		start := time.Now()
		m.unlink(topo.fail[0], topo.fail[1])
		p := m.startPinger(topo.from, topo.target)
		var routed, answered time.Time
		for deadline := start.Add(90 * time.Second); routed.IsZero() || answered.IsZero(); time.Sleep(50 * time.Millisecond) {
			if routed.IsZero() {
				if ok, _ := m.paths(topo.target); ok {
					routed = time.Now()
				}
			}
			if answered.IsZero() {
				answered = p.firstReply()
			}
			if time.Now().After(deadline) {
				_, state := m.paths(topo.target)
				b.Fatalf("not converged within 90 s (routes at %v, ping answered at %v):\n%s", routed, answered, state)
			}
		}
		p.stop()
		took := max(routed.Sub(start), answered.Sub(start))
		b.Logf("run %d: kernel routes after %v, ping answered after %v", i, routed.Sub(start).Round(time.Millisecond), answered.Sub(start).Round(time.Millisecond))
		total += took
	}
	b.StopTimer()
	avg := total / time.Duration(b.N)
	b.ReportMetric(avg.Seconds(), "s-converge")
	b.ReportMetric(float64(avg.Milliseconds()), "ms-converge")
}

// A pinger pings from one box's LAN address to another's every 50 ms,
// timestamping the answers, until stopped.
type pinger struct {
	m        *meshLab
	from, to string
	p        *lab.Proc
	done     []string // output of pings that ended by themselves
}

func (m *meshLab) startPinger(from, to string) *pinger {
	p := &pinger{m: m, from: from, to: to}
	p.start()
	return p
}

func (p *pinger) start() {
	p.p = p.m.nodes[p.from].ns.Start("ping", "-6", "-n", "-D", "-i", "0.05",
		"-I", p.m.nodes[p.from].addr.String(), p.m.nodes[p.to].addr.String())
}

var replyLine = regexp.MustCompile(`(?m)^\[(\d+)\.(\d{6})\] \d+ bytes from`)

// firstReply is when the first answer came (zero: none yet). A ping that
// gave up (no route to send by) is started again.
func (p *pinger) firstReply() time.Time {
	out := p.p.Output()
	if m := replyLine.FindStringSubmatch(strings.Join(append(p.done, out), "\n")); m != nil {
		sec, _ := strconv.ParseInt(m[1], 10, 64)
		usec, _ := strconv.ParseInt(m[2], 10, 64)
		return time.Unix(sec, usec*1000)
	}
	select {
	case <-p.p.Exited():
		p.done = append(p.done, out)
		p.start()
	default:
	}
	return time.Time{}
}

func (p *pinger) stop() { p.p.Stop() }

// BenchmarkControl measures the steady state of a 5-ring: the bytes each
// box sends on its mesh links (Babel packets with their IPv6 and Ethernet
// headers, and neighbour discovery) and the CPU time of its process
// (utime + stime), per second and box, over 64 s, four update intervals.
// `cpe run` is the whole box (LAN services and all), babeld just Babel.
//
// The window opens a minute after the routes are there. Before that a
// box is still starting: among other things its LAN's first router
// advertisements go at short intervals (RFC 4861 6.2.4), and the runtime
// collects the garbage of start-up. In 32 s windows one after another, a box
// spent about 620 us/s in the one that opened 16 s after the routes and
// 390-480 us/s in the four after it; babeld 210-240 us/s in all five.
func BenchmarkControl(b *testing.B) {
	b.Run("ring5", func(b *testing.B) {
		for _, kind := range []nodeKind{kindCPE, kindBabeld} {
			b.Run(kind.String(), func(b *testing.B) { benchControl(b, kind) })
		}
	})
}

func benchControl(b *testing.B, kind nodeKind) {
	const window = 4 * benchUpdate
	m := newMeshLab(b, benchHello, benchUpdate)
	ring(5)(m, kind)
	m.start(nil)
	for _, x := range m.names {
		waitFor(b, 60*time.Second, 250*time.Millisecond, "routes to "+x+"'s LAN from everywhere", func() (bool, string) { return m.paths(x) })
	}
	// Let the start-up traffic (requests, triggered updates) and the
	// boxes' own start-up die down. A route over a longer path that came
	// first may still give way to a better one in the window: one
	// triggered update.
	time.Sleep(time.Minute)
	b.ResetTimer()
	var bytes, ticks, ns float64
	for range b.N {
		bytes0 := m.txBytes()
		ticks0, ns0 := m.cpuTime()
		time.Sleep(window)
		ticks1, ns1 := m.cpuTime()
		bytes += float64(m.txBytes() - bytes0)
		ticks += float64(ticks1 - ticks0)
		ns += float64(ns1 - ns0)
	}
	b.StopTimer()
	per := float64(b.N) * window.Seconds() * float64(len(m.names))
	b.ReportMetric(bytes/per, "B/s-node")
	// /proc/PID/stat counts CPU time in USER_HZ ticks, 100 a second on
	// Linux: babeld's few milliseconds are a handful of ticks. The
	// threads' schedstat counts nanoseconds.
	b.ReportMetric(ticks*10/per, "ms-cpu/s-node")
	b.ReportMetric(ns/1e3/per, "us-cpu/s-node")
}

// txBytes is what all boxes sent on their mesh links so far.
func (m *meshLab) txBytes() uint64 {
	m.tb.Helper()
	var sum uint64
	for k := range m.links {
		l, err := m.nodes[k[0]].h.LinkByName(ifName(k[0], k[1]))
		if err != nil {
			m.tb.Fatalf("%v", err)
		}
		sum += l.Attrs().Statistics.TxBytes
	}
	return sum
}

// cpuTime is the CPU time all boxes' processes used so far: utime +
// stime in ticks, and the nanoseconds their threads ran.
func (m *meshLab) cpuTime() (ticks, ns uint64) {
	m.tb.Helper()
	for _, name := range m.names {
		n := m.nodes[name]
		p := n.babeld
		if n.kind == kindCPE {
			p = n.box.Proc
		}
		t, err := procTicks(p.Cmd.Process.Pid)
		if err != nil {
			m.tb.Fatalf("%v", err)
		}
		r, err := procRunNS(p.Cmd.Process.Pid)
		if err != nil {
			m.tb.Fatalf("%v", err)
		}
		ticks, ns = ticks+t, ns+r
	}
	return ticks, ns
}

// procTicks reads utime + stime of a process (all its threads, the ended
// ones too) from /proc/PID/stat. `ip netns exec` execs the command, so the
// PID is the command's.
func procTicks(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: fields count
	// from after it. utime and stime are fields 14 and 15.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, b)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, b)
	}
	u, err1 := strconv.ParseUint(f[11], 10, 64)
	s, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, b)
	}
	return u + s, nil
}

// procRunNS sums the time on CPU of a process's threads from their
// schedstat, in nanoseconds. A thread that ended takes its time with it;
// Go keeps its threads and babeld has one.
func procRunNS(pid int) (uint64, error) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0, err
	}
	var sum uint64
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, t.Name()))
		if err != nil {
			continue // the thread ended
		}
		f := strings.Fields(string(b))
		if len(f) < 1 {
			return 0, fmt.Errorf("schedstat of %d/%s: %q", pid, t.Name(), b)
		}
		v, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("schedstat of %d/%s: %q", pid, t.Name(), b)
		}
		sum += v
	}
	return sum, nil
}
