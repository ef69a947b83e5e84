package boot

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"
)

// Watchdog keeps the hardware watchdog from resetting the board while Healthy
// says the system works. When Healthy turns false the pings stop and the
// hardware resets the board after its timeout: that is the point.
type Watchdog struct {
	Device   string
	Healthy  func() bool
	Interval time.Duration
	// Timeout, when set, is programmed into the device (WDIOC_SETTIMEOUT).
	Timeout time.Duration
	Logger  *slog.Logger
	// Tick makes the pinger testable; nil means time.NewTicker.
	Tick func(d time.Duration) (<-chan time.Time, func())
}

// Run opens the device, pings it every Interval while Healthy() holds, and on
// cancellation writes the magic 'V' so that closing the device disarms it (the
// driver ignores this when built with nowayout).
func (w *Watchdog) Run(ctx context.Context) error {
	log := w.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "watchdog")
	f, err := os.OpenFile(w.Device, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("boot: watchdog: %w", err)
	}
	if w.Timeout > 0 {
		if err := setWatchdogTimeout(f, w.Timeout); err != nil {
			log.Warn("cannot set the watchdog timeout; using the driver's", "err", err)
		}
	}
	interval := w.Interval
	if interval <= 0 {
		interval = 5 * time.Second
	}
	tick := w.Tick
	if tick == nil {
		tick = func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTicker(d)
			return t.C, t.Stop
		}
	}
	c, stop := tick(interval)
	defer stop()
	// Until the system has been healthy once it is still starting up: not
	// pinging then is expected, not an alarm.
	wasHealthy, started := false, false
	for {
		healthy := w.Healthy == nil || w.Healthy()
		if healthy {
			if _, err := f.Write([]byte{0}); err != nil {
				f.Close()
				return fmt.Errorf("boot: watchdog: ping: %w", err)
			}
		}
		switch {
		case healthy && !started:
			log.Info("system up: pinging the watchdog")
			started = true
		case healthy && !wasHealthy:
			log.Info("system healthy again: pinging the watchdog")
		case !healthy && wasHealthy:
			log.Error("system unhealthy: no longer pinging the watchdog; the board will reset")
		}
		wasHealthy = healthy
		select {
		case <-ctx.Done():
			_, werr := f.Write([]byte("V"))
			cerr := f.Close()
			if werr != nil {
				return fmt.Errorf("boot: watchdog: magic close: %w", werr)
			}
			if cerr != nil {
				return fmt.Errorf("boot: watchdog: %w", cerr)
			}
			return nil
		case <-c:
		}
	}
}

func seconds(n, def int) time.Duration {
	if n <= 0 {
		n = def
	}
	return time.Duration(n) * time.Second
}
