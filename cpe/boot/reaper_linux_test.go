package boot

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"cpe/cpe/supervisor"
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

	// Children run through RunChild keep their exit status for os/exec.
	for i := 0; i < 20; i++ {
		if err := supervisor.RunChild(exec.Command("true")); err != nil {
			t.Fatalf("run %d: %v (the reaper stole the exit status?)", i, err)
		}
		if err := supervisor.RunChild(exec.Command("false")); err == nil {
			t.Fatalf("run %d: false succeeded", i)
		}
	}

	// A child started through StartChild keeps its exit status however
	// long after its exit its starter waits (supervisor.RunProcess runs
	// wpa_supplicant this way, for hours): the reaper has woken meanwhile.
	for i := 0; i < 5; i++ {
		cmd := exec.Command("sh", "-c", "exit 3")
		waited, err := supervisor.StartChild(cmd)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond) // its SIGCHLD has run a reaper pass
		err = cmd.Wait()
		waited()
		if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 3 {
			t.Fatalf("run %d: %v (the reaper stole the exit status?)", i, err)
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

func TestParseStat(t *testing.T) {
	for _, c := range []struct {
		stat  string
		state byte
		ppid  int
		ok    bool
	}{
		{"42 (sleep) S 1 42 42 0 -1", 'S', 1, true},
		{"43 (wpa_supplicant) Z 1 43 43 0", 'Z', 1, true},
		{"44 (a) (b) c) Z 17 44", 'Z', 17, true},
		{"45 (x y) R", 0, 0, false},
		{"garbage", 0, 0, false},
		{"46 (x) Z nope", 0, 0, false},
	} {
		state, ppid, ok := parseStat(c.stat)
		if state != c.state || ppid != c.ppid || ok != c.ok {
			t.Errorf("parseStat(%q) = %q %d %v, want %q %d %v", c.stat, state, ppid, ok, c.state, c.ppid, c.ok)
		}
	}
}
