// Package leaktest fails a test that leaves goroutines behind.
package leaktest

import (
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Check fails t if goroutines started during it are still there when it
// ends (after a grace of a few seconds for those on their way out).
func Check(t testing.TB) {
	t.Helper()
	before := goroutines()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			var extra []string
			for id, stack := range goroutines() {
				if _, ok := before[id]; !ok {
					extra = append(extra, stack)
				}
			}
			if len(extra) == 0 {
				return
			}
			if time.Now().After(deadline) {
				sort.Strings(extra)
				t.Errorf("%d goroutine(s) leaked:\n\n%s", len(extra), strings.Join(extra, "\n\n"))
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

// goroutines returns the stack of every goroutine but the caller's, by id.
func goroutines() map[int]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[int]string{}
	for i, g := range strings.Split(string(buf), "\n\n") {
		if i == 0 {
			continue
		}
		head, _, _ := strings.Cut(strings.TrimPrefix(g, "goroutine "), " ")
		if id, err := strconv.Atoi(head); err == nil {
			out[id] = g
		}
	}
	return out
}
