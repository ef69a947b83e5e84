// Command cpe is the whole userland of the router: PID 1 on the device, and
// the same supervisor, console client and config checker everywhere else.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"

	"cpe/cpe/config"
	"cpe/cpe/console"
	"cpe/cpe/daemon"
	"cpe/cpe/kernel"
	"cpe/cpe/logring"
	"cpe/firewall"
	"cpe/internal/gcpace"
)

// Set by the linker (see the Makefile).
var (
	version = "dev"
	commit  = "unknown"
	board   = "none"
)

// defaultSocket is where the console listens unless told otherwise.
const defaultSocket = "/run/cpe.sock"

func main() {
	if os.Getpid() == 1 {
		pid1() // never returns
	}
	os.Exit(dispatch(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

const usage = `usage:
  cpe run -config FILE -state DIR [-socket PATH]   run the supervisor in the foreground
  cpe cli [-socket PATH] [WORDS...]                 the console of a running instance
  cpe check FILE                                     validate a config file
  cpe version                                        version, commit, Go version, board
`

// oneCPU runs the daemon's goroutines on one CPU unless the GOMAXPROCS
// environment variable says otherwise. The box's userland is a control
// plane that waits on sockets and timers; forwarding runs in the kernel
// on every CPU either way. With a scheduler slot per CPU, each timer and
// datagram also woke an idle thread to look for more work: on an idle
// mesh box that was half of the CPU the daemon used, while DHCP servers
// answer as fast on one (docs/benchmarks.md).
func oneCPU() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
}

func dispatch(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "run":
		return cmdRun(args[1:], stderr)
	case "cli":
		return cmdCLI(args[1:], stdin, stdout, stderr)
	case "check":
		return cmdCheck(args[1:], stdout, stderr)
	case "version":
		fmt.Fprintf(stdout, "cpe %s\ncommit: %s\ngo: %s %s/%s\nboard: %s\n", version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH, board)
		return 0
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "cpe: unknown command %q\n%s", args[0], usage)
	return 2
}

func cmdCheck(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprint(stderr, "usage: cpe check FILE\n")
		return 2
	}
	doc, err := os.ReadFile(args[0])
	if err != nil {
		fmt.Fprintf(stderr, "cpe check: %v\n", err)
		return 1
	}
	if errs := config.Check(doc); len(errs) > 0 {
		for _, e := range errs {
			fmt.Fprintln(stdout, e.Error())
		}
		return 1
	}
	return 0
}

func cmdCLI(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cli", flag.ContinueOnError)
	fs.SetOutput(stderr)
	socket := fs.String("socket", defaultSocket, "unix socket of the running instance")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code, err := console.Client(ctx, *socket, fs.Args(), stdin, stdout, isTerminal(stdin))
	if err != nil {
		fmt.Fprintf(stderr, "cpe cli: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

func cmdRun(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgFile := fs.String("config", "", "config file, committed at start when it differs from the running revision")
	stateDir := fs.String("state", "", "state directory (revisions, leases, identifiers)")
	socket := fs.String("socket", defaultSocket, "unix socket for `cpe cli`")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *stateDir == "" || fs.NArg() > 0 {
		fmt.Fprint(stderr, "usage: cpe run -config FILE -state DIR [-socket PATH]\n")
		return 2
	}
	oneCPU()
	gcpace.Start()
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintf(stderr, "cpe run: -log-level: %v\n", err)
		return 2
	}
	ring := logring.New(2000)
	log := slog.New(slog.NewTextHandler(io.MultiWriter(ring, stderr), &slog.HandlerOptions{Level: lvl}))
	slog.SetDefault(log)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	k, err := kernel.New(kernel.Options{Logger: log})
	if err != nil {
		fmt.Fprintf(stderr, "cpe run: %v\n", err)
		return 1
	}
	defer k.Close()
	fw := firewall.NewApplier(firewall.ApplierOptions{Logger: log})
	defer fw.Close()
	d, err := daemon.New(daemon.Options{
		Kernel:     k,
		Firewall:   fw,
		StateDir:   *stateDir,
		ConfigFile: *cfgFile,
		Socket:     *socket,
		Logger:     log,
		Ring:       ring,
		Info:       daemon.Info{Version: version, Commit: commit, Board: board},
		Persistent: true,
	})
	if err != nil {
		fmt.Fprintf(stderr, "cpe run: %v\n", err)
		return 1
	}
	if err := d.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(stderr, "cpe run: %v\n", err)
		return 1
	}
	return 0
}
