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

	"cpe/board"
)

// DefaultBoardPath is where the image builder puts the board file.
const DefaultBoardPath = "/etc/board.json"

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
