package vm

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"

	"cpe/board"
	"cpe/rootfs"
)

// LabInitrd makes an initramfs for Options.Initrd that boots a lab in the
// VM: the image's own, then an archive with cmd/labinit as /lab/init, plan
// (labinit's Plan) as /lab/plan.json, files (path → contents), and programs
// of this machine with their libraries. Boot it with Append
// "rdinit=/lab/init": labinit starts the lab and hands PID 1 to the image.
func LabInitrd(t T, imageDir string, plan any, files map[string][]byte, programs ...string) string {
	t.Helper()
	b := mustBoard(t, imageDir)
	planDoc, err := json.Marshal(plan)
	if err != nil {
		t.Fatalf("vm: lab plan: %v", err)
	}
	a := rootfs.NewArchive()
	add := func(err error) {
		if err != nil {
			t.Fatalf("vm: lab archive: %v", err)
		}
	}
	add(a.Dir("lab", 0o755))
	add(a.File("lab/init", 0o755, buildFor(t, b, "build", "cpe/internal/vm/cmd/labinit")))
	add(a.File("lab/plan.json", 0o644, planDoc))
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		add(a.File(name, 0o755, files[name]))
	}
	if len(programs) > 0 {
		pf, err := rootfs.ProgramFiles("", b.GOARCH, programs, rootfs.LibDirs(b.GOARCH))
		add(err)
		add(rootfs.AddPrograms(a, "", pf))
	}
	gz, err := a.Gzip()
	add(err)
	return AppendInitrd(t, imageDir, gz)
}

// BuildTestFor builds a package's test binary statically for the board
// the image in imageDir was built for.
func BuildTestFor(t T, imageDir, pkg string) []byte {
	t.Helper()
	return buildFor(t, mustBoard(t, imageDir), "test", "-c", pkg)
}

func mustBoard(t T, imageDir string) *board.Board {
	t.Helper()
	b, err := ImageBoard(imageDir)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return b
}

func buildFor(t T, b *board.Board, args ...string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "bin")
	args = slices.Insert(args, 1, "-o", out)
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+b.GOARCH, "GOARM="+b.GOARM, "GOMIPS="+b.GOMIPS)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("vm: go %v: %v\n%s", args, err, msg)
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("vm: %v", err)
	}
	return bin
}
