package lab

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// Binary builds the cpe binary once per test process and returns its path;
// lab tests run it as the box (`cpe run`) and its console (`cpe cli`).
// The file is left in the temp dir of the first caller's process and
// removed when that process's tests end via RemoveBinary in TestMain, or
// by the OS's temp cleaning.
func Binary(t T) string {
	t.Helper()
	binOnce.Do(func() {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
		if err != nil {
			binErr = err
			return
		}
		root := strings.TrimSpace(string(out))
		dir, err := os.MkdirTemp("", "cpe-lab-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "cpe")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/cpe")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = &buildError{err: err, out: string(out)}
		}
	})
	if binErr != nil {
		t.Fatalf("lab: building cpe: %v", binErr)
	}
	return binPath
}

// RemoveBinary deletes what Binary built; call it from TestMain after m.Run.
func RemoveBinary() {
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }
