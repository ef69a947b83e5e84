package lab

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// CPE is an instance of the box (`cpe run`) inside a namespace of the lab.
type CPE struct {
	NS     *Netns
	Bin    string
	Socket string
	State  string
	Proc   *Proc
	t      T
}

// StartCPE runs `cpe run` with the given config document in ns and waits
// until its console answers. State lives in a fresh temp dir unless
// stateDir is given (to restart a box on the same state). It logs at debug
// level; args are added to the command line (a later -log-level wins).
func (n *Netns) StartCPE(config string, stateDir string, args ...string) *CPE {
	t := n.lab.t
	t.Helper()
	dir, err := os.MkdirTemp("", "cpe-lab-")
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if stateDir == "" {
		stateDir = filepath.Join(dir, "state")
	}
	cfg := filepath.Join(dir, "config.json")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		t.Fatalf("lab: %v", err)
	}
	c := &CPE{NS: n, Bin: Binary(t), Socket: filepath.Join(dir, "cli.sock"), State: stateDir, t: t}
	c.Proc = n.Start(append([]string{c.Bin, "run", "-config", cfg, "-state", stateDir, "-socket", c.Socket, "-log-level", "debug"}, args...)...)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := c.CLI("show", "version"); err == nil {
			return c
		}
		select {
		case <-c.Proc.Exited():
			t.Fatalf("lab: cpe run exited:\n%s", c.Proc.Output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("lab: cpe console did not answer within 10 s:\n%s", c.Proc.Output())
		}
	}
}

// CLI runs one console command and returns its output.
func (c *CPE) CLI(words ...string) (string, error) {
	return runCmd(append([]string{c.Bin, "cli", "-socket", c.Socket}, words...)...)
}

// WaitCLI polls a console command until its output contains every want,
// and returns the last output.
func (c *CPE) WaitCLI(timeout time.Duration, words []string, want ...string) string {
	c.t.Helper()
	var out string
	for deadline := time.Now().Add(timeout); ; time.Sleep(200 * time.Millisecond) {
		out, _ = c.CLI(words...)
		ok := true
		for _, w := range want {
			if !strings.Contains(out, w) {
				ok = false
				break
			}
		}
		if ok {
			return out
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("lab: `%s` did not show %q within %v:\n%s\n--- cpe log:\n%s", strings.Join(words, " "), want, timeout, out, c.Proc.Output())
		}
	}
}

// Stop ends the box (SIGTERM) and waits for it.
func (c *CPE) Stop() { c.Proc.Stop() }

// Script runs console lines (one command a line) in one session.
func (c *CPE) Script(lines string) (string, error) {
	cmd := exec.Command(c.Bin, "cli", "-socket", c.Socket)
	cmd.Stdin = strings.NewReader(lines)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
