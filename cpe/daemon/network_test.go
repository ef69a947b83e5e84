package daemon

import (
	"testing"
	"time"

	"cpe/cpe/config"
)

// TestKernelPlanCurrent: the kernel component plans again when the
// configuration or a fact changes, or when the last plan's next change
// comes, and not otherwise.
func TestKernelPlanCurrent(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	cfg, other := &config.Config{}, &config.Config{}
	p := kernelPlan{cfg: cfg, version: 7, next: t0.Add(time.Minute)}
	for _, c := range []struct {
		name    string
		cfg     *config.Config
		version uint64
		now     time.Time
		want    bool
	}{
		{"nothing changed", cfg, 7, t0, true},
		{"just before the next change", cfg, 7, t0.Add(time.Minute - time.Nanosecond), true},
		{"the next change", cfg, 7, t0.Add(time.Minute), false},
		{"a fact changed", cfg, 8, t0, false},
		{"a commit", other, 7, t0, false},
	} {
		if got := p.current(c.cfg, c.version, c.now); got != c.want {
			t.Errorf("%s: current %v, want %v", c.name, got, c.want)
		}
	}
	if (&kernelPlan{}).current(nil, 0, t0) {
		t.Error("no plan yet, and current")
	}
	if forever := (kernelPlan{cfg: cfg, version: 7}); !forever.current(cfg, 7, t0.Add(1000*time.Hour)) {
		t.Error("a plan with no time in it went out of date")
	}
}
