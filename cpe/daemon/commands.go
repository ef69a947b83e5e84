package daemon

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"cpe/cpe/console"
	"cpe/cpe/kernel"
	"cpe/internal/gcpace"
)

// commands are the operational commands the core registers with the console;
// configure-mode editing is the console's own grammar.
func (d *Daemon) commands() []console.Command {
	op := []console.Mode{console.Operational}
	return append([]console.Command{
		{Words: []string{"show", "version"}, Help: "build version, commit, Go version and board", Run: d.showVersion},
		{Words: []string{"show", "system"}, Help: "hostname, uptime, state directory, memory, pending confirmation", Run: d.showSystem},
		{Words: []string{"show", "components"}, Help: "supervised components: state, restarts, last error", Run: d.showComponents},
		{Words: []string{"show", "commits"}, Help: "stored configuration revisions, newest first", Run: d.showCommits},
		{Words: []string{"show", "log"}, Args: "[N]", Help: "recent log records (the last N, default 50)", Run: d.showLog},
		{Words: []string{"show", "interfaces"}, Help: "network interfaces with state, MTU and counters", Run: writer(kernel.WriteInterfaces)},
		{Words: []string{"show", "addresses"}, Help: "IPv4 and IPv6 addresses with lifetimes", Run: writer(kernel.WriteAddresses)},
		{Words: []string{"show", "routes"}, Help: "routes of every table, both families", Run: writer(kernel.WriteRoutes)},
		{Words: []string{"reboot"}, Modes: op, Help: "restart the device", Run: d.power("reboot", d.opts.Reboot)},
		{Words: []string{"poweroff"}, Modes: op, Help: "switch the device off", Run: d.power("poweroff", d.opts.Poweroff)},
	}, slices.Concat(d.wanCommands(), d.lanCommands(), d.firewallCommands(), d.meshCommands())...)
}

func writer(f func(io.Writer) error) func(context.Context, *console.Session, []string, io.Writer) error {
	return func(_ context.Context, _ *console.Session, _ []string, w io.Writer) error { return f(w) }
}

func (d *Daemon) showVersion(_ context.Context, _ *console.Session, _ []string, w io.Writer) error {
	i := d.opts.Info
	fmt.Fprintf(w, "cpe %s\ncommit: %s\ngo: %s %s/%s\nboard: %s\n", i.Version, i.Commit, runtime.Version(), runtime.GOOS, runtime.GOARCH, i.Board)
	return nil
}

func (d *Daemon) showSystem(_ context.Context, _ *console.Session, _ []string, w io.Writer) error {
	fmt.Fprintf(w, "hostname: %s\n", d.shownHostname())
	fmt.Fprintf(w, "uptime: %s\n", d.opts.Now().Sub(d.started).Truncate(time.Second))
	persist := "persistent"
	if !d.opts.Persistent {
		persist = "NOT persistent: changes are lost at reboot"
	}
	fmt.Fprintf(w, "state: %s (%s)\n", d.opts.StateDir, persist)
	rev := d.store.Running()
	fmt.Fprintf(w, "revision: %d (%s)\n", rev.Seq, rev.Time.Format(time.RFC3339))
	if deadline, ok := d.store.Pending(); ok {
		fmt.Fprintf(w, "pending confirm: roll back at %s (in %s) unless confirmed\n",
			deadline.Format(time.RFC3339), deadline.Sub(d.opts.Now()).Truncate(time.Second))
	}
	if rss, ok := readRSS(); ok {
		fmt.Fprintf(w, "rss: %d KiB\n", rss)
	}
	writeGC(w)
	fmt.Fprintf(w, "goroutines: %d\n", runtime.NumGoroutine())
	fmt.Fprintf(w, "healthy: %t\n", d.sup.Healthy())
	return nil
}

// writeGC tells how the runtime collects garbage: collections so far, the
// live heap the last one left, and the memory limit that paces them
// (internal/gcpace), if any.
func writeGC(w io.Writer) {
	u, ok := gcpace.Read()
	if !ok {
		return
	}
	fmt.Fprintf(w, "garbage collections: %d, live heap %d KiB", u.Collections, u.Live>>10)
	if limit, ok := gcpace.MemoryLimit(); ok {
		fmt.Fprintf(w, ", memory limit %d KiB", limit>>10)
	}
	fmt.Fprintln(w)
}

// readRSS returns the resident set size of this process in KiB.
func readRSS() (int, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return n, err == nil
		}
	}
	return 0, false
}

func (d *Daemon) showComponents(_ context.Context, _ *console.Session, _ []string, w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "COMPONENT\tSTATE\tSINCE\tRESTARTS\tLAST ERROR")
	now := d.opts.Now()
	for _, s := range d.sup.Status() {
		last := "-"
		if s.LastError != nil {
			last = fmt.Sprintf("%s (%s ago)", firstLine(s.LastError.Error()), now.Sub(s.LastErrorAt).Truncate(time.Second))
		}
		state := string(s.State)
		if s.Health != nil {
			state += ", unhealthy: " + s.Health.Error()
		}
		if !s.NextRestart.IsZero() {
			state += fmt.Sprintf(", restart in %s", s.NextRestart.Sub(now).Truncate(time.Second))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", s.Name, state, now.Sub(s.Since).Truncate(time.Second), s.Restarts, last)
	}
	return tw.Flush()
}

func (d *Daemon) showCommits(_ context.Context, _ *console.Session, _ []string, w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ROLLBACK\tREVISION\tTIME\tCOMMENT")
	for i, r := range d.store.Revisions() {
		comment := r.Comment
		if !r.ConfirmBy.IsZero() {
			comment += fmt.Sprintf(" [unconfirmed, rolls back at %s]", r.ConfirmBy.Format(time.RFC3339))
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\n", i, r.Seq, r.Time.Format(time.RFC3339), comment)
	}
	return tw.Flush()
}

func (d *Daemon) showLog(_ context.Context, _ *console.Session, args []string, w io.Writer) error {
	n := 50
	if len(args) > 0 {
		v, err := strconv.Atoi(args[0])
		if err != nil || v < 1 {
			return fmt.Errorf("show log: %q is not a positive number", args[0])
		}
		n = v
	}
	for _, l := range d.opts.Ring.Lines(n) {
		fmt.Fprintln(w, l)
	}
	if dropped := d.opts.Ring.Dropped(); dropped > 0 && n > len(d.opts.Ring.Lines(0)) {
		fmt.Fprintf(w, "(%d older records no longer kept)\n", dropped)
	}
	return nil
}

func (d *Daemon) power(what string, f func() error) func(context.Context, *console.Session, []string, io.Writer) error {
	return func(_ context.Context, _ *console.Session, _ []string, w io.Writer) error {
		if f == nil {
			return fmt.Errorf("%s: %w", what, errNotPID1)
		}
		fmt.Fprintf(w, "%s: now\n", what)
		d.log.Warn(what + " requested from the console")
		return f()
	}
}

// firstLine keeps tables readable when an error carries a stack.
func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

// shownHostname is the kernel's host name on the device. Right after boot,
// before the system component has set it (the kernel calls itself
// "(none)"), and outside PID 1, where the box leaves the machine's name
// alone, it is the running configuration's.
func (d *Daemon) shownHostname() string {
	if d.opts.SetHostname != nil {
		if h, err := os.Hostname(); err == nil && h != "" && h != "(none)" {
			return h
		}
	}
	d.mu.Lock()
	host := d.running.System.Hostname
	d.mu.Unlock()
	if d.opts.SetHostname == nil {
		host += " (not applied to the kernel outside PID 1)"
	}
	return host
}
