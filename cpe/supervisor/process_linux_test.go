package supervisor

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// alive reports whether pid is a process that has not exited. A killed
// orphan may linger as a zombie until its new parent reaps it: that counts
// as dead.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z") && !strings.HasPrefix(rest, "X")
}

func waitDead(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d is still alive", pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startScript runs sh -c script in a ProcessComponent and returns the first
// line the script prints, with Run's result to come on the channel.
func startScript(t *testing.T, ctx context.Context, script string, grace time.Duration) (string, *exec.Cmd, <-chan error) {
	t.Helper()
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh:", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Stdout = w
	p := &ProcessComponent{Cmd: cmd, Grace: grace}
	errc := make(chan error, 1)
	go func() {
		errc <- p.Run(ctx)
		w.Close()
	}()
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r).ReadString('\n')
		lines <- strings.TrimSpace(line)
	}()
	return recv(t, lines, "the script's first line"), cmd, errc
}

func TestProcessSIGTERM(t *testing.T) {
	checkLeaks(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pid, _, errc := startScript(t, ctx, "sleep 30 & echo $!; wait", 2*time.Second)
	begin := time.Now()
	cancel()
	if err := recv(t, errc, "Run"); err != nil {
		t.Errorf("Run after SIGTERM = %v, want nil", err)
	}
	if took := time.Since(begin); took >= 2*time.Second {
		t.Errorf("stopping took %v: SIGTERM did not end it", took)
	}
	n, err := strconv.Atoi(pid)
	if err != nil {
		t.Fatalf("script printed %q", pid)
	}
	waitDead(t, n) // the grandchild got the group's SIGTERM too
}

func TestProcessSIGKILLAfterGrace(t *testing.T) {
	checkLeaks(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const grace = 300 * time.Millisecond
	pid, cmd, errc := startScript(t, ctx, `trap "" TERM; sleep 30 & echo $!; wait`, grace)
	begin := time.Now()
	cancel()
	err := recv(t, errc, "Run")
	took := time.Since(begin)
	if err == nil || !strings.Contains(err.Error(), "ignored SIGTERM") {
		t.Errorf("Run = %v, want it to say SIGTERM was ignored", err)
	}
	if took < grace || took > grace+2*time.Second {
		t.Errorf("stopping took %v, want a little over the %v grace", took, grace)
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Errorf("shell ended with %v, want SIGKILL", cmd.ProcessState)
	}
	n, _ := strconv.Atoi(pid)
	waitDead(t, n)
}

func TestProcessExitKillsLeftovers(t *testing.T) {
	checkLeaks(t)
	// The script exits 0 at once, leaving its background sleep behind.
	pid, _, errc := startScript(t, context.Background(), "sleep 30 & echo $!", time.Second)
	if err := recv(t, errc, "Run"); err != nil {
		t.Errorf("Run = %v, want nil for exit status 0", err)
	}
	n, _ := strconv.Atoi(pid)
	waitDead(t, n)
}

func TestProcessExitStatus(t *testing.T) {
	checkLeaks(t)
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh:", err)
	}
	tests := []struct {
		script string
		want   func(error) bool
	}{
		{"exit 0", func(err error) bool { return err == nil }},
		{"exit 125", func(err error) bool { return errors.Is(err, ErrDone) }},
		{"exit 3", func(err error) bool {
			var ee *exec.ExitError
			return errors.As(err, &ee) && ee.ExitCode() == 3 && strings.HasPrefix(err.Error(), "supervisor: /bin/sh: ")
		}},
	}
	for _, tt := range tests {
		err := (&ProcessComponent{Cmd: exec.Command("/bin/sh", "-c", tt.script)}).Run(context.Background())
		if !tt.want(err) {
			t.Errorf("%s: Run = %v", tt.script, err)
		}
	}
	err := (&ProcessComponent{Cmd: exec.Command("/nonexistent/babeld")}).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "supervisor: start /nonexistent/babeld") {
		t.Errorf("missing program: Run = %v", err)
	}
}

func TestProcessUnderSupervisor(t *testing.T) {
	checkLeaks(t)
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh:", err)
	}
	s, _ := newTest(t, Options{})
	if err := s.Apply([]Spec{{Name: "sleeper", New: func() Component {
		return &ProcessComponent{Cmd: exec.Command("/bin/sh", "-c", "exec sleep 30"), Grace: time.Second}
	}}}); err != nil {
		t.Fatal(err)
	}
	r := start(t, s)
	waitFor(t, s, "sleeper running", allIn(StateRunning, "sleeper"))
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if st := s.Status()[0]; st.State != StateStopped || st.LastError != nil {
		t.Errorf("sleeper = %+v, want stopped without error", st)
	}
}
