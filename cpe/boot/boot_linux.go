package boot

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"cpe/board"
	"cpe/cpe/supervisor"
)

// mount is one entry of the mount table Init applies in order.
type mount struct {
	source, target, fstype string
	flags                  uintptr
	data                   string
	optional               bool // failure is logged, not reported
}

var mounts = []mount{
	{"proc", "/proc", "proc", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, "", false},
	{"sysfs", "/sys", "sysfs", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, "", false},
	{"devtmpfs", "/dev", "devtmpfs", unix.MS_NOSUID, "mode=0755", false},
	{"devpts", "/dev/pts", "devpts", unix.MS_NOSUID | unix.MS_NOEXEC, "gid=5,mode=0620,ptmxmode=0666", false},
	{"tmpfs", "/dev/shm", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=1777", true},
	{"tmpfs", "/run", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=0755,size=10%", false},
	{"tmpfs", "/tmp", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=1777,size=20%", false},
	{"cgroup2", "/sys/fs/cgroup", "cgroup2", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, "", true},
	{"bpf", "/sys/fs/bpf", "bpf", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, "mode=0700", true},
}

// consoleLogLevel keeps kernel messages below "critical" off the serial console
// (dmesg -n 3): the CLI owns that line, and a driver's chatter in the middle of a
// prompt is confusing. Oopses and panics still show.
const consoleLogLevel = 3

// step is one boot duty; Init runs them in order and keeps going after failures.
type step struct {
	name string
	run  func(s *System, boardPath string) error
}

var steps = []step{
	{"mount", func(s *System, _ string) error { return mountAll(s.log) }},
	{"console", openBoardConsole},
	{"modules", loadModules},
	{"nics", renameNICs},
	{"perm", mountPerm},
}

// Init performs the PID 1 boot duties for the board described at boardPath
// (DefaultBoardPath on the device). It never gives up half way: each failing step
// is logged and collected, and the returned System is usable regardless.
func Init(log *slog.Logger, boardPath string) (*System, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "boot")
	// The kernel starts init without PATH; the board's programs
	// (wpa_supplicant) are looked up in it.
	if os.Getenv("PATH") == "" {
		os.Setenv("PATH", DefaultPath)
	}
	s := &System{Reaper: NewReaper(), log: log, StateDir: "/perm"}
	// The board file is in the initramfs, so this only fails on a broken image;
	// the steps that need it are skipped then.
	b, err := board.Load(boardPath)
	if err != nil {
		s.Errors = append(s.Errors, err)
		log.Error("no board file", "err", err)
	} else {
		s.Board = b
		s.StateDir = b.Perm.Mountpoint
	}
	for _, st := range steps {
		start := time.Now()
		err := st.run(s, boardPath)
		if err != nil {
			s.Errors = append(s.Errors, fmt.Errorf("boot: %s: %w", st.name, err))
			log.Error("boot step failed", "step", st.name, "err", err, "took", time.Since(start).Round(time.Millisecond))
			continue
		}
		log.Debug("boot step done", "step", st.name, "took", time.Since(start).Round(time.Millisecond))
	}
	return s, errors.Join(s.Errors...)
}

var errNoBoard = errors.New("no board file")

func mountAll(log *slog.Logger) error {
	var errs []error
	for _, m := range mounts {
		err := os.MkdirAll(m.target, 0o755)
		if err == nil {
			err = unix.Mount(m.source, m.target, m.fstype, m.flags, m.data)
		}
		switch {
		case err == nil:
		case m.optional:
			log.Info("optional mount skipped", "target", m.target, "fstype", m.fstype, "err", err)
		default:
			errs = append(errs, fmt.Errorf("mount %s on %s: %w", m.fstype, m.target, err))
		}
	}
	return errors.Join(errs...)
}

func openBoardConsole(s *System, _ string) error {
	if s.Board == nil {
		return errNoBoard
	}
	f, err := OpenConsole("/dev/" + s.Board.Console)
	if err != nil {
		return err
	}
	s.Console = f
	var u unix.Utsname
	unix.Uname(&u)
	fmt.Fprintf(f, "\n%s board %s, kernel %s\n", Banner, s.Board.Name, unix.ByteSliceToString(u.Release[:]))
	if _, _, errno := unix.Syscall(unix.SYS_SYSLOG, unix.SYSLOG_ACTION_CONSOLE_LEVEL, 0, consoleLogLevel); errno != 0 {
		return fmt.Errorf("klogctl console level: %w", errno)
	}
	return nil
}

// OpenConsole opens a serial device for the CLI: raw input (no line discipline,
// no signals from ^C: the line editor sees every byte) but output post-processing
// kept on, so a plain "\n" from a log line still starts a new line.
func OpenConsole(dev string) (*os.File, error) {
	fd, err := unix.Open(dev, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("boot: console %s: %w", dev, err)
	}
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("boot: console %s: not a terminal: %w", dev, err)
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag |= unix.OPOST | unix.ONLCR
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8 | unix.CREAD | unix.CLOCAL
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("boot: console %s: raw mode: %w", dev, err)
	}
	// Non-blocking so that reads go through Go's poller: deadlines work and
	// Close wakes a blocked reader.
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("boot: console %s: %w", dev, err)
	}
	return os.NewFile(uintptr(fd), dev), nil
}

// loadModules loads the modules the image builder listed, in its order (every
// module after its dependencies), with the board's parameters. A module that is
// already loaded or fails is logged, and the rest still get loaded.
func loadModules(s *System, boardPath string) error {
	if s.Board == nil {
		return errNoBoard
	}
	data, err := os.ReadFile(modulesLoadPath(boardPath))
	if err != nil {
		return err
	}
	cmdline, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		s.log.Warn("no kernel command line: module parameters from the board only", "err", err)
	}
	var errs []error
	n := 0
	start := time.Now()
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		path := strings.TrimSpace(sc.Text())
		if path == "" || strings.HasPrefix(path, "#") {
			continue
		}
		name := board.ModuleName(path)
		err := loadModule(path, ModuleParams(name, s.Board.ModuleParams[name], string(cmdline)))
		switch {
		case err == nil:
			n++
		case errors.Is(err, unix.EEXIST):
		default:
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			s.log.Error("module failed to load", "module", name, "err", err)
		}
	}
	s.log.Info("modules loaded", "count", n, "failed", len(errs), "took", time.Since(start).Round(time.Millisecond))
	return errors.Join(errs...)
}

func loadModule(path, params string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.FinitModule(int(f.Fd()), params, 0)
}

// renameNICs gives the board's NICs their names. NICs are probed while their
// driver module loads, but the netlink announcement may trail, so it waits a
// little for missing ones.
func renameNICs(s *System, _ string) error {
	if s.Board == nil {
		return errNoBoard
	}
	if len(s.Board.NICs) == 0 {
		return nil
	}
	updates := make(chan netlink.LinkUpdate, 16)
	done := make(chan struct{})
	defer close(done)
	if err := netlink.LinkSubscribe(updates, done); err != nil {
		s.log.Warn("no link updates; not waiting for late NICs", "err", err)
		updates = nil
	}
	deadline := time.NewTimer(3 * time.Second)
	defer deadline.Stop()
	var renames map[string]string
	var missing []string
	for {
		renames, missing = planRenames(s.Board.NICs, sysfsNetDevices())
		if len(missing) == 0 || updates == nil {
			break
		}
		select {
		case <-updates:
			continue
		case <-deadline.C:
		}
		break
	}
	var errs []error
	for old, name := range renames {
		l, err := netlink.LinkByName(old)
		if err == nil {
			err = netlink.LinkSetName(l, name)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("rename %s to %s: %w", old, name, err))
			continue
		}
		s.log.Info("NIC named", "kernel", old, "name", name)
	}
	if len(missing) > 0 {
		errs = append(errs, fmt.Errorf("NICs not found: %s", strings.Join(missing, ", ")))
	}
	return errors.Join(errs...)
}

// sysfsNetDevices maps interface names to the resolved path of their device.
func sysfsNetDevices() map[string]string {
	out := map[string]string{}
	ents, _ := os.ReadDir("/sys/class/net")
	for _, e := range ents {
		p, err := filepath.EvalSymlinks(filepath.Join("/sys/class/net", e.Name(), "device"))
		if err == nil {
			out[e.Name()] = p
		}
	}
	return out
}

// mountPerm mounts the persistent partition, or a tmpfs in its place with a loud
// warning: a box that forgets its settings must still route.
func mountPerm(s *System, _ string) error {
	if s.Board == nil {
		return errNoBoard
	}
	p := s.Board.Perm
	if err := os.MkdirAll(p.Mountpoint, 0o755); err != nil {
		return err
	}
	// The block device is probed while virtio_blk loads; allow it a moment.
	var err error
	for i := 0; i < 20; i++ {
		if _, err = os.Stat(p.Device); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err == nil {
		err = unix.Mount(p.Device, p.Mountpoint, p.FSType, unix.MS_NOATIME|unix.MS_NODEV|unix.MS_NOSUID|unix.MS_NOEXEC, "")
	}
	if err == nil {
		s.PermOK = true
		s.log.Info("persistent partition mounted", "device", p.Device, "on", p.Mountpoint)
		return nil
	}
	permErr := fmt.Errorf("%s (%s) on %s: %w", p.Device, p.FSType, p.Mountpoint, err)
	if s.Console != nil {
		fmt.Fprintf(s.Console, permWarning, p.Device, err)
	} else {
		fmt.Fprintf(os.Stderr, permWarning, p.Device, err)
	}
	if terr := unix.Mount("tmpfs", p.Mountpoint, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0755,size=16m"); terr != nil {
		return errors.Join(permErr, fmt.Errorf("tmpfs in its place: %w", terr))
	}
	return permErr
}

// SetHostname sets the kernel's host name.
func SetHostname(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("boot: hostname %q: 1 to 64 characters", name)
	}
	if err := unix.Sethostname([]byte(name)); err != nil {
		return fmt.Errorf("boot: hostname: %w", err)
	}
	return nil
}

// Reboot syncs, takes the persistent partition out of use and restarts the board.
// It returns only on failure.
func (s *System) Reboot() error { return s.shutdown(unix.LINUX_REBOOT_CMD_RESTART) }

// Poweroff is Reboot for power-off.
func (s *System) Poweroff() error { return s.shutdown(unix.LINUX_REBOOT_CMD_POWER_OFF) }

func (s *System) shutdown(cmd int) error {
	unix.Sync()
	if s.PermOK && s.Board != nil {
		mp := s.Board.Perm.Mountpoint
		// A read-only remount flushes the journal even when something still has
		// a file open (which makes the unmount fail).
		if err := unix.Mount("", mp, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			s.log.Warn("remount read-only failed", "mountpoint", mp, "err", err)
		}
		if err := unix.Unmount(mp, 0); err != nil {
			s.log.Warn("unmount failed", "mountpoint", mp, "err", err)
		}
		unix.Sync()
	}
	if err := unix.Reboot(cmd); err != nil {
		return fmt.Errorf("boot: reboot(%#x): %w", cmd, err)
	}
	return nil
}

// Run reaps orphaned children until ctx ends (see Reaper).
func (r *Reaper) Run(ctx context.Context) error {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, unix.SIGCHLD)
	defer signal.Stop(sig)
	for {
		supervisor.ReapOthers(exitedChildren, func(pid int) {
			var ws unix.WaitStatus
			for {
				if _, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil); err != unix.EINTR {
					return
				}
			}
		})
		select {
		case <-ctx.Done():
			return nil
		case <-sig:
		}
	}
}

// exitedChildren lists this process's children that have exited and not
// been waited for (state Z in /proc/PID/stat).
func exitedChildren() []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		if state, ppid, ok := parseStat(string(stat)); ok && state == 'Z' && ppid == self {
			pids = append(pids, pid)
		}
	}
	return pids
}

// parseStat reads the state and parent pid from /proc/PID/stat: "pid (comm)
// S ppid ...", where comm may hold spaces and parentheses.
func parseStat(stat string) (state byte, ppid int, ok bool) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 2 || len(f[0]) != 1 {
		return 0, 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return 0, 0, false
	}
	return f[0][0], ppid, true
}

func setWatchdogTimeout(f *os.File, d time.Duration) error {
	return unix.IoctlSetPointerInt(int(f.Fd()), unix.WDIOC_SETTIMEOUT, int(d/time.Second))
}
