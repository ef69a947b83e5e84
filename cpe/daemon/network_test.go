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

// TestKernelAppliesWhenHeard: a change the kernel reports is applied over
// at once, not at the next periodic apply minutes later.
func TestKernelAppliesWhenHeard(t *testing.T) {
	k := &recordingKernel{heard: make(chan struct{}, 1)}
	startWith(t, t.TempDir(), func(o *Options) { o.Kernel = k })
	applies := func() int {
		_, n := k.sysctl("")
		return n
	}
	// Start-up's facts come and go; then nothing moves.
	n, deadline := applies(), time.Now().Add(5*time.Second)
	for stable := time.Now(); n == 0 || time.Since(stable) < 300*time.Millisecond; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the daemon did not settle: %d applies", applies())
		}
		if m := applies(); m != n {
			n, stable = m, time.Now()
		}
	}
	for i := range 3 {
		k.heard <- struct{}{}
		for deadline := time.Now().Add(5 * time.Second); applies() <= n; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("heard %d: no apply within 5 s", i)
			}
		}
		n = applies()
	}
}
