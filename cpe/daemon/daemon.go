// Package daemon ties the core together: it keeps the configuration store,
// turns the running configuration into supervised components and serves the
// console, the same way whether the binary is PID 1 on a router or an
// ordinary process in a lab namespace.
package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"cpe/cpe/config"
	"cpe/cpe/console"
	"cpe/cpe/logring"
	"cpe/cpe/state"
	"cpe/cpe/store"
	"cpe/cpe/supervisor"
)

// Info describes the build and the platform for `show version`.
type Info struct {
	Version, Commit, Board string
}

// Options configure a Daemon. Hooks that only make sense as PID 1 (hostname,
// reboot, serial console, watchdog) are nil when running as a plain process.
type Options struct {
	StateDir   string
	ConfigFile string // committed at start when it differs from the running config
	Socket     string
	Logger     *slog.Logger
	Ring       *logring.Ring
	Info       Info
	Now        func() time.Time

	// Persistent reports whether StateDir survives a reboot; shown by
	// `show system` so a box running from tmpfs says so.
	Persistent bool

	Serial      *os.File
	SetHostname func(string) error
	Reboot      func() error
	Poweroff    func() error
	// Kernel applies the planned addresses, routes and sysctls; nil plans
	// without touching the kernel (unit tests).
	Kernel KernelApplier
	// Firewall loads the nftables ruleset; nil builds it without loading
	// it (unit tests).
	Firewall FirewallApplier
	// Extra components started with the core ones, such as the watchdog;
	// they receive the supervisor's health through HealthFunc.
	Extra func(healthy func() bool) []supervisor.Spec
}

// Daemon is the running core. Create it with New, then call Run.
type Daemon struct {
	opts    Options
	log     *slog.Logger
	store   *store.Store
	sup     *supervisor.Supervisor
	console *console.Console
	started time.Time

	mu       sync.Mutex // serialises commits, confirms and rollbacks
	running  *config.Config
	hostname atomic.Value // string, as applied by the system component

	timerWake chan struct{}

	facts *state.Store
	net   *network
}

// New opens the store in opts.StateDir and loads the running configuration.
// A configuration that no longer parses (say, after a firmware change) falls
// back to the newest revision that does, and then to the factory default, so
// the box always comes up with something it can run.
func New(opts Options) (*Daemon, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Ring == nil {
		opts.Ring = logring.New(1)
	}
	d := &Daemon{
		opts:      opts,
		log:       opts.Logger.With("component", "daemon"),
		started:   opts.Now(),
		timerWake: make(chan struct{}, 1),
		facts:     state.New(),
		net:       newNetwork(),
	}
	st, err := store.Open(opts.StateDir, opts.Now, config.Default())
	if err != nil {
		return nil, fmt.Errorf("daemon: open store: %w", err)
	}
	d.store = st
	for _, w := range st.Warnings() {
		d.log.Error("configuration store", "warning", w)
	}
	if rolled, rev, err := st.Expire(); err != nil {
		d.log.Error("expiring a pending commit-confirmed", "err", err)
	} else if rolled {
		d.log.Warn("commit was not confirmed before its deadline; rolled back", "revision", rev.Seq)
	}
	if opts.ConfigFile != "" {
		if err := d.loadFile(opts.ConfigFile); err != nil {
			return nil, err
		}
	}
	d.running = d.loadRunning()
	d.sup = supervisor.New(supervisor.Options{Logger: opts.Logger})
	d.console = console.New(schema{}, configurator{d}, d.commands(), console.Options{Logger: opts.Logger})
	return d, nil
}

// loadFile commits the config file given on the command line when it differs
// from what runs, so `cpe run -config` behaves like editing the config and
// committing, with the same validation and history.
func (d *Daemon) loadFile(path string) error {
	doc, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	if _, err := config.Parse(doc); err != nil {
		return fmt.Errorf("daemon: %s: %w", path, err)
	}
	canon, err := config.Canonical(doc)
	if err != nil {
		return fmt.Errorf("daemon: %s: %w", path, err)
	}
	if bytes.Equal(canon, d.store.Running().Config) {
		return nil
	}
	rev, err := d.store.Commit(canon, "loaded from "+path, 0)
	if err != nil {
		return fmt.Errorf("daemon: commit %s: %w", path, err)
	}
	d.log.Info("configuration loaded from file", "file", path, "revision", rev.Seq)
	return nil
}

func (d *Daemon) loadRunning() *config.Config {
	for back := 0; ; back++ {
		rev, err := d.store.Revision(back)
		if err != nil {
			break
		}
		cfg, err := config.Parse(rev.Config)
		if err == nil {
			if back > 0 {
				d.log.Error("running configuration does not validate; using an older revision", "revision", rev.Seq)
			}
			return cfg
		}
		d.log.Error("stored configuration does not validate", "revision", rev.Seq, "err", err)
	}
	cfg, err := config.Parse(config.Default())
	if err != nil {
		// The factory default is covered by tests; reaching this is a bug,
		// but PID 1 must still come up with something.
		d.log.Error("factory default does not validate", "err", err)
		return &config.Config{}
	}
	d.log.Error("no stored configuration validates; running the factory default")
	return cfg
}

// Run starts the components and blocks until ctx ends, then shuts them down.
func (d *Daemon) Run(ctx context.Context) error {
	d.mu.Lock()
	err := d.apply(d.running)
	d.mu.Unlock()
	if err != nil {
		d.log.Error("starting components", "err", err)
	}
	return d.sup.Run(ctx)
}

// apply hands the supervisor the components for cfg; it restarts only those
// whose part of the configuration changed. Call with d.mu held.
func (d *Daemon) apply(cfg *config.Config) error {
	d.running = cfg
	d.forgetRemoved(cfg)
	err := d.sup.Apply(d.specs(cfg))
	d.net.replan()
	return err
}

func (d *Daemon) specs(cfg *config.Config) []supervisor.Spec {
	specs := []supervisor.Spec{
		{
			Name: "system",
			Key:  cfg.System,
			New:  func() supervisor.Component { return &systemComponent{d: d, hostname: cfg.System.Hostname} },
		},
		{
			Name: "commit-timer",
			New:  func() supervisor.Component { return commitTimer{d} },
		},
	}
	specs = append(specs, d.networkSpecs(cfg)...)
	if d.opts.Socket != "" {
		path := d.opts.Socket
		specs = append(specs, supervisor.Spec{
			Name: "console-socket",
			Key:  path,
			New: func() supervisor.Component {
				return runFunc(func(ctx context.Context) error { return d.console.ServeSocket(ctx, path) })
			},
		})
	}
	if d.opts.Serial != nil {
		f := d.opts.Serial
		specs = append(specs, supervisor.Spec{
			Name: "console-serial",
			New: func() supervisor.Component {
				return runFunc(func(ctx context.Context) error { return d.console.ServeTerminal(ctx, f, f) })
			},
		})
	}
	if d.opts.Extra != nil {
		specs = append(specs, d.opts.Extra(d.manageable)...)
	}
	return specs
}

type runFunc func(ctx context.Context) error

func (f runFunc) Run(ctx context.Context) error { return f(ctx) }

// commit validates doc, stores it as a new revision and applies it. Nothing
// changes when validation or the store fails.
func (d *Daemon) commit(doc []byte, comment string, confirmWithin time.Duration) (store.Revision, error) {
	cfg, err := config.Parse(doc)
	if err != nil {
		return store.Revision{}, err
	}
	canon, err := config.Canonical(doc)
	if err != nil {
		return store.Revision{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	rev, err := d.store.Commit(canon, comment, confirmWithin)
	if err != nil {
		return store.Revision{}, err
	}
	if err := d.apply(cfg); err != nil {
		d.log.Error("applying committed configuration", "revision", rev.Seq, "err", err)
	}
	d.wakeTimer()
	return rev, nil
}

func (d *Daemon) wakeTimer() {
	select {
	case d.timerWake <- struct{}{}:
	default:
	}
}

// expire rolls back a commit-confirmed whose deadline has passed.
func (d *Daemon) expire() {
	d.mu.Lock()
	defer d.mu.Unlock()
	rolled, rev, err := d.store.Expire()
	if err != nil {
		d.log.Error("rolling back unconfirmed commit", "err", err)
		return
	}
	if !rolled {
		return
	}
	cfg, err := config.Parse(rev.Config)
	if err != nil {
		d.log.Error("rolled-back configuration does not validate", "revision", rev.Seq, "err", err)
		return
	}
	d.log.Warn("commit not confirmed in time: rolled back", "revision", rev.Seq)
	if err := d.apply(cfg); err != nil {
		d.log.Error("applying rolled-back configuration", "revision", rev.Seq, "err", err)
	}
}

// commitTimer rolls back unconfirmed commits when their deadline passes. The
// deadline lives in the store, so it also fires after a crash or reboot.
type commitTimer struct{ d *Daemon }

func (c commitTimer) Run(ctx context.Context) error {
	for {
		c.d.expire()
		var wait <-chan time.Time
		var t *time.Timer
		if deadline, ok := c.d.store.Pending(); ok {
			// A little past the deadline, so Expire sees it as passed.
			t = time.NewTimer(max(deadline.Sub(c.d.opts.Now()), 0) + 10*time.Millisecond)
			wait = t.C
		}
		select {
		case <-ctx.Done():
		case <-c.d.timerWake:
		case <-wait:
		}
		if t != nil {
			t.Stop()
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// systemComponent applies the system block: the hostname for now.
type systemComponent struct {
	d        *Daemon
	hostname string
}

func (s *systemComponent) Run(ctx context.Context) error {
	if set := s.d.opts.SetHostname; set != nil {
		if err := set(s.hostname); err != nil {
			return fmt.Errorf("system: set hostname %q: %w", s.hostname, err)
		}
	}
	s.d.hostname.Store(s.hostname)
	<-ctx.Done()
	return nil
}

var errNotPID1 = errors.New("only on the device, when cpe runs as PID 1")

// manageable reports whether the box can still be managed: the supervisor
// answers and the components an operator needs to repair things (the
// consoles and the commit-confirmed timer) run. The hardware watchdog is fed
// only while this holds. It deliberately ignores other components: a WAN
// client crash-looping on a missing interface must not reboot the box every
// minute, and the supervisor restarts those on its own.
func (d *Daemon) manageable() bool {
	for _, s := range d.sup.Status() {
		switch s.Name {
		case "commit-timer", "console-serial", "console-socket":
			if s.State != supervisor.StateRunning {
				return false
			}
		}
	}
	return true
}
