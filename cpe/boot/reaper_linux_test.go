package boot

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestReaper(t *testing.T) {
	r := NewReaper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	// Children run through Exec keep their exit status for os/exec.
	for i := 0; i < 20; i++ {
		if err := r.Exec(exec.Command("true")); err != nil {
			t.Fatalf("run %d: %v (the reaper stole the exit status?)", i, err)
		}
		if err := r.Exec(exec.Command("false")); err == nil {
			t.Fatalf("run %d: false succeeded", i)
		}
	}

	// A child nobody waits for is reaped: it leaves the process table.
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	deadline := time.Now().Add(5 * time.Second)
	for {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			break // gone: reaped
		}
		if time.Now().After(deadline) {
			t.Fatalf("child %d not reaped: %s", pid, strings.TrimSpace(string(stat)))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
