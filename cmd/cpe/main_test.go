package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"cpe/internal/lab"
)

// cpeBin is the binary under test, built once for the package's tests.
var cpeBin string

func TestMain(m *testing.M) {
	code := m.Run()
	lab.RemoveBinary()
	os.Exit(code)
}

func runCPE(t *testing.T, stdin string, args ...string) (string, int) {
	t.Helper()
	if cpeBin == "" {
		cpeBin = lab.Binary(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, cpeBin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("cpe %v: %v", args, err)
	}
	return out.String(), code
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(good, []byte(`{"system":{"hostname":"ok"},"wan":[{"interface":"wan0","dhcp4":{}}]}`), 0o644)
	os.WriteFile(bad, []byte(`{"system":{"hostname":"-bad-"},"wan":[{"interface":"wan0","dhcp6":{"prefix_hint":99}}],"bogus":1}`), 0o644)

	if out, code := runCPE(t, "", "check", good); code != 0 || out != "" {
		t.Errorf("check good: exit %d, output %q; want 0 and nothing", code, out)
	}
	out, code := runCPE(t, "", "check", bad)
	if code != 1 {
		t.Errorf("check bad: exit %d, want 1", code)
	}
	for _, want := range []string{"system.hostname:", "wan[0].dhcp6.prefix_hint:", "bogus:"} {
		if !strings.Contains(out, want) {
			t.Errorf("check bad: output lacks %q:\n%s", want, out)
		}
	}
	if _, code := runCPE(t, "", "check", filepath.Join(dir, "missing.json")); code != 1 {
		t.Errorf("check missing file: exit %d, want 1", code)
	}
}

func TestVersion(t *testing.T) {
	out, code := runCPE(t, "", "version")
	if code != 0 || !strings.HasPrefix(out, "cpe ") || !strings.Contains(out, "go: go1.") {
		t.Fatalf("version: exit %d, output %q", code, out)
	}
}

func TestUnknownCommand(t *testing.T) {
	if out, code := runCPE(t, "", "frobnicate"); code != 2 || !strings.Contains(out, "unknown command") {
		t.Fatalf("exit %d, output %q", code, out)
	}
}

// TestRunAndCLI runs the supervisor as a plain process and drives it through
// `cpe cli`, the way a lab test or an operator on a Linux box would. It runs
// in a namespace of its own: `cpe run` configures the network it is in.
func TestRunAndCLI(t *testing.T) {
	lab.RequireRoot(t)
	ns := lab.New(t).Netns("cpe")
	dir := t.TempDir()
	sock := filepath.Join(dir, "cli.sock")
	cfg := filepath.Join(dir, "config.json")
	os.WriteFile(cfg, []byte(`{"system":{"hostname":"first"},"wan":[{"interface":"wan0","dhcp4":{}}]}`), 0o644)

	var log bytes.Buffer
	cpeBin = lab.Binary(t)
	run := exec.Command("ip", "netns", "exec", ns.Name, cpeBin, "run", "-config", cfg, "-state", filepath.Join(dir, "state"), "-socket", sock)
	run.Env = append(os.Environ(), "GOGC=", "GOMEMLIMIT=") // the daemon's own pacing
	run.Stdout, run.Stderr = &log, &log
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- run.Wait() }()
	t.Cleanup(func() {
		run.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("cpe run output:\n%s", log.String())
		}
	})
	waitFor(t, func() bool { _, err := os.Stat(sock); return err == nil })

	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want 0600", fi.Mode().Perm())
	}

	out, code := runCPE(t, "", "cli", "-socket", sock, "show", "config")
	if code != 0 || !strings.Contains(out, `"hostname": "first"`) {
		t.Fatalf("show config: exit %d\n%s", code, out)
	}

	script := "configure\nset system hostname second\ncommit comment \"from the test\"\nexit\nshow config system\n"
	out, code = runCPE(t, script, "cli", "-socket", sock)
	if code != 0 || !strings.Contains(out, `"second"`) {
		t.Fatalf("commit script: exit %d\n%s", code, out)
	}
	out, _ = runCPE(t, "", "cli", "-socket", sock, "show", "commits")
	if !strings.Contains(out, "from the test") || !strings.Contains(out, "loaded from") {
		t.Errorf("show commits lacks the commit comments:\n%s", out)
	}

	// A bad value changes nothing and makes the command fail.
	out, code = runCPE(t, "configure\nset wan 0 dhcp6 prefix_hint 99\n", "cli", "-socket", sock)
	if code == 0 || !strings.Contains(out, "error:") {
		t.Errorf("bad set: exit %d\n%s", code, out)
	}
	// An invalid candidate is refused at commit with its path.
	out, code = runCPE(t, "configure\ndelete wan 0 dhcp4\ncommit\n", "cli", "-socket", sock)
	if code == 0 || !strings.Contains(out, "wan[0]") {
		t.Errorf("invalid commit: exit %d\n%s", code, out)
	}
	out, _ = runCPE(t, "", "cli", "-socket", sock, "show", "config", "system", "hostname")
	if !strings.Contains(out, "second") {
		t.Errorf("after failed commits the running hostname is not kept:\n%s", out)
	}

	// Rollback 1 loads the previous revision into the candidate.
	out, code = runCPE(t, "configure\nrollback 1\ncompare\ncommit\nexit\nshow config system hostname\n", "cli", "-socket", sock)
	if code != 0 || !strings.Contains(out, "-") || !strings.Contains(out, "first") {
		t.Errorf("rollback: exit %d\n%s", code, out)
	}

	// The daemon paces its garbage collection by a memory limit.
	out, code = runCPE(t, "", "cli", "-socket", sock, "show", "system")
	if code != 0 || !strings.Contains(out, "garbage collections: ") || !strings.Contains(out, ", memory limit ") {
		t.Errorf("show system: exit %d\n%s", code, out)
	}

	out, code = runCPE(t, "", "cli", "-socket", sock, "show", "components")
	if code != 0 || !strings.Contains(out, "system") || !strings.Contains(out, "running") {
		t.Errorf("show components: exit %d\n%s", code, out)
	}
	if out, code := runCPE(t, "", "cli", "-socket", sock, "reboot"); code == 0 {
		t.Errorf("reboot outside PID 1 succeeded:\n%s", out)
	}

	// SIGTERM is a clean shutdown with exit status 0.
	run.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("cpe run after SIGTERM: %v", err)
		}
		done <- nil // for the cleanup
	case <-time.After(15 * time.Second):
		t.Fatal("cpe run did not stop within 15 s of SIGTERM")
	}

	// Restarted on the same state without a config file, it runs the
	// stored revision.
	log.Reset()
	run2 := exec.Command("ip", "netns", "exec", ns.Name, cpeBin, "run", "-state", filepath.Join(dir, "state"), "-socket", sock)
	run2.Stdout, run2.Stderr = &log, &log
	if err := run2.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { run2.Process.Kill(); run2.Wait() }()
	waitFor(t, func() bool {
		out, code := runCPE(t, "", "cli", "-socket", sock, "show", "config", "system", "hostname")
		return code == 0 && strings.Contains(out, "first")
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestOneCPU: the daemon schedules its goroutines on one CPU, unless the
// GOMAXPROCS environment variable asks for another number.
func TestOneCPU(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	runtime.GOMAXPROCS(4)
	t.Setenv("GOMAXPROCS", "")
	os.Unsetenv("GOMAXPROCS")
	oneCPU()
	if n := runtime.GOMAXPROCS(0); n != 1 {
		t.Errorf("GOMAXPROCS %d, want 1", n)
	}
	runtime.GOMAXPROCS(4)
	t.Setenv("GOMAXPROCS", "4")
	oneCPU()
	if n := runtime.GOMAXPROCS(0); n != 4 {
		t.Errorf("with GOMAXPROCS=4 set: %d", n)
	}
}
