package boot

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"cpe/board"
)

func TestPlanRenames(t *testing.T) {
	nics := []board.NIC{
		{Name: "wan0", PCI: "0000:00:04.0"},
		{Name: "lan0", PCI: "0000:00:05.0"},
		{Name: "wan1", PCI: "0000:00:06.0"},
		{Name: "mesh0", KernelName: "wlan0"},
	}
	tests := []struct {
		name    string
		devices map[string]string
		renames map[string]string
		missing []string
	}{
		{
			name: "probe order does not matter",
			devices: map[string]string{
				"eth0":  "/sys/devices/pci0000:00/0000:00:05.0/virtio2",
				"eth1":  "/sys/devices/pci0000:00/0000:00:04.0/virtio1",
				"eth2":  "/sys/devices/pci0000:00/0000:00:06.0/virtio3",
				"wlan0": "/sys/devices/virtual/mac80211_hwsim/hwsim0",
			},
			renames: map[string]string{"eth0": "lan0", "eth1": "wan0", "eth2": "wan1", "wlan0": "mesh0"},
		},
		{
			name: "a slot prefix is not a match",
			devices: map[string]string{
				"eth0": "/sys/devices/pci0000:00/0000:00:04.1/virtio1",
				"eth1": "/sys/devices/pci0000:00/0000:00:05.0",
			},
			renames: map[string]string{"eth1": "lan0"},
			missing: []string{"wan0", "wan1", "mesh0"},
		},
		{
			name:    "already named",
			devices: map[string]string{"wan0": "/sys/devices/pci0000:00/0000:00:04.0/virtio1"},
			renames: map[string]string{},
			missing: []string{"lan0", "wan1", "mesh0"},
		},
		{
			name: "behind a bridge",
			devices: map[string]string{
				"eth7": "/sys/devices/pci0000:00/0000:00:1c.0/0000:00:04.0/net",
			},
			renames: map[string]string{"eth7": "wan0"},
			missing: []string{"lan0", "wan1", "mesh0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			renames, missing := planRenames(nics, tt.devices)
			if !reflect.DeepEqual(renames, tt.renames) {
				t.Errorf("renames = %v, want %v", renames, tt.renames)
			}
			if !reflect.DeepEqual(missing, tt.missing) {
				t.Errorf("missing = %v, want %v", missing, tt.missing)
			}
		})
	}
}

// fakeTicker hands out ticks on demand and tells the test when the pinger is waiting.
type fakeTicker struct{ c chan time.Time }

func (f *fakeTicker) tick(time.Duration) (<-chan time.Time, func()) { return f.c, func() {} }

func TestWatchdog(t *testing.T) {
	dev := filepath.Join(t.TempDir(), "watchdog")
	if err := os.WriteFile(dev, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// Healthy takes one answer per call from the test, so every tick's
	// verdict is the one the test gave for it.
	answers := make(chan bool)
	ft := &fakeTicker{c: make(chan time.Time)}
	w := &Watchdog{
		Device:   dev,
		Interval: time.Second,
		Healthy:  func() bool { return <-answers },
		Tick:     ft.tick,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	answers <- true // the ping at start
	for _, healthy := range []bool{true, false, false, true} {
		ft.c <- time.Time{}
		answers <- healthy
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(dev)
	if err != nil {
		t.Fatal(err)
	}
	// Pings are single bytes; the last byte is the magic close.
	if want := "\x00\x00\x00V"; string(got) != want {
		t.Fatalf("device saw %q, want %q", got, want)
	}
}

func TestWatchdogNoDevice(t *testing.T) {
	w := &Watchdog{Device: filepath.Join(t.TempDir(), "nope")}
	if err := w.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "boot: watchdog") {
		t.Fatalf("err = %v", err)
	}
}

func TestSystemWatchdogFromBoard(t *testing.T) {
	b, err := board.Load("../../board/qemu-x86_64/board.json")
	if err != nil {
		t.Fatal(err)
	}
	s := &System{Board: b}
	w := s.Watchdog(nil)
	if w == nil || w.Device != "/dev/watchdog" || w.Interval != 5*time.Second || w.Timeout != 30*time.Second {
		t.Fatalf("watchdog = %+v", w)
	}
	b.Watchdog.Device = ""
	if s.Watchdog(nil) != nil {
		t.Fatal("a board without a watchdog got one")
	}
}

func TestModuleParams(t *testing.T) {
	for _, c := range []struct {
		module, board, cmdline, want string
	}{
		{"mac80211_hwsim", "radios=1", "console=ttyS0", "radios=1"},
		{"mac80211_hwsim", "radios=1", "console=ttyS0 mac80211_hwsim.radios=3", "radios=1 radios=3"},
		{"mac80211_hwsim", "", "mac80211-hwsim.radios=3 other.x=1", "radios=3"},
		{"mac80211-hwsim", "", "mac80211_hwsim.radios=3", "radios=3"},
		{"virtio_net", "", "virtio_net.napi_tx=1 virtio_net.csum=0 virtio_netx.y=2", "napi_tx=1 csum=0"},
		{"m", "", `m.name="a b" init=/bin/x.y m.=bad .x=1`, `name="a b"`},
		{"m", "", "", ""},
		{"m", " ", "  m.a=1\tm.b ", "a=1 b"},
	} {
		if got := ModuleParams(c.module, c.board, c.cmdline); got != c.want {
			t.Errorf("ModuleParams(%q, %q, %q) = %q, want %q", c.module, c.board, c.cmdline, got, c.want)
		}
	}
}
