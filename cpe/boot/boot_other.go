//go:build !linux

package boot

import (
	"context"
	"log/slog"
	"os"
	"time"

	"cpe/board"
)

// Init is a stub outside Linux: it loads the board file and reports ErrUnsupported.
func Init(log *slog.Logger, boardPath string) (*System, error) {
	s := &System{Reaper: NewReaper(), log: log, Errors: []error{ErrUnsupported}}
	if b, err := board.Load(boardPath); err == nil {
		s.Board = b
	}
	return s, ErrUnsupported
}

// SetHostname is a stub outside Linux.
func SetHostname(name string) error { return ErrUnsupported }

// OpenConsole is a stub outside Linux.
func OpenConsole(dev string) (*os.File, error) { return nil, ErrUnsupported }

// Reboot is a stub outside Linux.
func (s *System) Reboot() error { return ErrUnsupported }

// Poweroff is a stub outside Linux.
func (s *System) Poweroff() error { return ErrUnsupported }

// Run waits for ctx outside Linux: there are no orphans to reap.
func (r *Reaper) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

func setWatchdogTimeout(f *os.File, d time.Duration) error { return ErrUnsupported }
