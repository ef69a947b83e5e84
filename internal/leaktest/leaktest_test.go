package leaktest

import (
	"strings"
	"testing"
)

// recorder is a testing.TB that keeps what Check reports.
type recorder struct {
	testing.TB
	errs     []string
	cleanups []func()
}

func (r *recorder) Helper()                           {}
func (r *recorder) Cleanup(f func())                  { r.cleanups = append(r.cleanups, f) }
func (r *recorder) Errorf(format string, args ...any) { r.errs = append(r.errs, format) }

func TestCheck(t *testing.T) {
	r := &recorder{TB: t}
	Check(r)
	stop := make(chan struct{})
	go func() { <-stop }()
	r.cleanups[0]()
	if len(r.errs) != 1 || !strings.Contains(r.errs[0], "leaked") {
		t.Errorf("a leaked goroutine was not reported: %q", r.errs)
	}
	close(stop)

	r = &recorder{TB: t}
	Check(r)
	r.cleanups[0]()
	if len(r.errs) != 0 {
		t.Errorf("reported with nothing leaked: %q", r.errs)
	}
}
