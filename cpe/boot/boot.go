// Package boot owns the PID 1 duties of the device: mounts, kernel modules, NIC
// names, the persistent partition, the serial console, the child reaper, the
// hardware watchdog, reboot and power-off. It only does anything on Linux; other
// systems get stubs so the tree builds everywhere.
package boot

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"cpe/board"
)

// DefaultBoardPath is where the image builder puts the board file.
const DefaultBoardPath = "/etc/board.json"

// DefaultPath is PATH for PID 1 and everything it starts.
const DefaultPath = "/usr/sbin:/usr/bin:/sbin:/bin"

// Banner starts the line Init prints on the console at every boot; tests count
// it to tell a reboot from a rollback.
const Banner = "cpe boot:"

// ErrUnsupported is returned by the PID 1 functions on systems other than Linux.
var ErrUnsupported = errors.New("boot: only supported on linux")

// System is what Init set up. Init always returns one, even when steps failed.
type System struct {
	Board *board.Board
	// StateDir is where config and state live: the persistent partition, or a
	// tmpfs when it could not be mounted (PermOK false: nothing survives a reboot).
	StateDir string
	PermOK   bool
	// Console is the board's serial line in raw mode; nil if it could not be opened.
	Console *os.File
	// Reaper must be run (Run(ctx)) for as long as the system is up.
	Reaper *Reaper
	// Errors lists every step that failed, in order; Init's error joins them.
	Errors []error

	log *slog.Logger
}

// Watchdog returns the board's watchdog pinger, or nil when the board has none.
func (s *System) Watchdog(healthy func() bool) *Watchdog {
	if s.Board == nil || s.Board.Watchdog.Device == "" {
		return nil
	}
	w := s.Board.Watchdog
	return &Watchdog{
		Device:   w.Device,
		Healthy:  healthy,
		Interval: seconds(w.IntervalSeconds, 5),
		Timeout:  seconds(w.TimeoutSeconds, 0),
		Logger:   s.log,
	}
}

// modulesLoadPath is the load order file the image builder writes next to the board file.
func modulesLoadPath(boardPath string) string {
	return filepath.Join(filepath.Dir(boardPath), "modules.load")
}

// permWarning is printed on the console when settings cannot be persisted; it is
// meant to be noticed by whoever is looking at the serial line.
const permWarning = `
************************************************************************
*  WARNING: the persistent partition %s could not be mounted:
*    %v
*  Running from a RAM disk: configuration changes will NOT survive a reboot.
************************************************************************
`

// ModuleParams is the parameter string a module is loaded with: the board's,
// then every "module.param=value" of the kernel command line, as modprobe
// does (dashes and underscores in module names are the same; the kernel
// takes the last of a repeated parameter, so the command line wins). Quoted
// values ("name.p=\"a b\"") stay one word.
func ModuleParams(module, fromBoard, cmdline string) string {
	module = strings.ReplaceAll(module, "-", "_")
	params := []string{}
	if p := strings.TrimSpace(fromBoard); p != "" {
		params = append(params, p)
	}
	for _, w := range cmdlineWords(cmdline) {
		name, param, ok := strings.Cut(w, ".")
		if !ok || param == "" || param[0] == '=' || strings.ContainsAny(name, "=\"") {
			continue
		}
		if strings.ReplaceAll(name, "-", "_") == module {
			params = append(params, param)
		}
	}
	return strings.Join(params, " ")
}

// cmdlineWords splits a kernel command line the way the kernel does: at
// spaces outside double quotes.
func cmdlineWords(s string) []string {
	var words []string
	var b strings.Builder
	quoted := false
	for _, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
			b.WriteRune(r)
		case (r == ' ' || r == '\t' || r == '\n') && !quoted:
			if b.Len() > 0 {
				words = append(words, b.String())
				b.Reset()
			}
		default:
			b.WriteRune(r)
		}
	}
	if b.Len() > 0 {
		words = append(words, b.String())
	}
	return words
}
