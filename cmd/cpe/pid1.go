package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"time"

	"cpe/cpe/boot"
	"cpe/cpe/daemon"
	"cpe/cpe/kernel"
	"cpe/cpe/logring"
	"cpe/cpe/supervisor"
	"cpe/firewall"
	"cpe/internal/gcpace"
)

// fallbackState is used when the persistent partition cannot hold the store:
// the box must still route, forgetting its changes at the next reboot.
const fallbackState = "/run/cpe-state"

// pid1 boots the device and runs the daemon for ever. PID 1 must not exit
// (the kernel panics), so every failure is logged and retried.
func pid1() {
	oneCPU()
	gcpace.Start()
	ring := logring.New(4000)
	log := slog.New(slog.NewTextHandler(ring, nil))
	slog.SetDefault(log)

	sys, err := boot.Init(log, boot.DefaultBoardPath)
	if err != nil {
		log.Error("boot finished with errors", "err", err)
	}
	console := io.Writer(os.Stderr)
	if sys.Console != nil {
		console = sys.Console
	}
	fmt.Fprintf(console, "\r\ncpe %s (%s) on %s\r\n", version, commit, board)

	stateDir, persistent := sys.StateDir, sys.PermOK
	var applier daemon.KernelApplier
	if k, err := kernel.New(kernel.Options{Logger: log}); err != nil {
		log.Error("no kernel applier: addresses and routes will not be installed", "err", err)
	} else {
		applier = k
	}
	fw := firewall.NewApplier(firewall.ApplierOptions{Logger: log})
	for {
		func() {
			defer func() {
				if r := recover(); r != nil {
					log.Error("daemon panicked", "panic", r, "stack", string(debug.Stack()))
				}
			}()
			d, err := daemon.New(daemon.Options{
				StateDir:    stateDir,
				Kernel:      applier,
				Firewall:    fw,
				Socket:      defaultSocket,
				Logger:      log,
				Ring:        ring,
				Info:        daemon.Info{Version: version, Commit: commit, Board: board},
				Persistent:  persistent,
				Serial:      sys.Console,
				SetHostname: boot.SetHostname,
				Reboot:      sys.Reboot,
				Poweroff:    sys.Poweroff,
				Extra:       func(healthy func() bool) []supervisor.Spec { return pid1Components(sys, healthy) },
			})
			if err != nil {
				log.Error("starting the daemon", "state", stateDir, "err", err)
				fmt.Fprintf(console, "\r\n*** cpe: cannot use %s: %v\r\n*** running from %s: changes will NOT survive a reboot\r\n", stateDir, err, fallbackState)
				stateDir, persistent = fallbackState, false
				return
			}
			if err := d.Run(context.Background()); err != nil {
				log.Error("daemon stopped", "err", err)
			}
		}()
		time.Sleep(time.Second)
	}
}

func pid1Components(sys *boot.System, healthy func() bool) []supervisor.Spec {
	specs := []supervisor.Spec{{
		Name: "reaper",
		New:  func() supervisor.Component { return sys.Reaper },
	}}
	if wd := sys.Watchdog(healthy); wd != nil {
		specs = append(specs, supervisor.Spec{
			Name: "watchdog",
			New:  func() supervisor.Component { return sys.Watchdog(healthy) },
		})
	}
	return specs
}
