package rootfs

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

func loadTestDB(t *testing.T) *ModuleDB {
	t.Helper()
	dep, err := os.Open("testdata/modules.dep")
	if err != nil {
		t.Fatal(err)
	}
	defer dep.Close()
	bi, err := os.Open("testdata/modules.builtin")
	if err != nil {
		t.Fatal(err)
	}
	defer bi.Close()
	db, err := ParseModules(dep, bi)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestClosure(t *testing.T) {
	db := loadTestDB(t)
	tests := []struct {
		name        string
		in          []string
		paths, bi   []string
		errContains string
	}{
		{
			name:  "dependencies first, each once",
			in:    []string{"bridge", "8021q"},
			paths: []string{"kernel/net/llc/llc.ko", "kernel/net/802/stp.ko", "kernel/net/bridge/bridge.ko", "kernel/net/802/garp.ko", "kernel/net/802/mrp.ko", "kernel/net/8021q/8021q.ko.xz"},
		},
		{
			name:  "dash and underscore are the same module",
			in:    []string{"crc32c_intel"},
			paths: []string{"kernel/arch/x86/crypto/crc32c-intel.ko"},
		},
		{
			name:  "built-in modules are skipped",
			in:    []string{"ipv6", "llc", "8250"},
			paths: []string{"kernel/net/llc/llc.ko"},
			bi:    []string{"ipv6", "8250"},
		},
		{name: "unknown", in: []string{"nosuch", "llc", "zzz"}, errContains: "nosuch, zzz"},
		{name: "cycle", in: []string{"a"}, errContains: "cycle: kernel/loop/a.ko → kernel/loop/b.ko → kernel/loop/a.ko"},
		{name: "dependency without its own line", in: []string{"c"}, errContains: "gone.ko"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			paths, bi, err := db.Closure(tt.in)
			if tt.errContains != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errContains) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.errContains)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(paths, tt.paths) {
				t.Errorf("paths\n got %q\nwant %q", paths, tt.paths)
			}
			if !reflect.DeepEqual(bi, tt.bi) {
				t.Errorf("builtin got %q, want %q", bi, tt.bi)
			}
		})
	}
}

func TestParseModulesErrors(t *testing.T) {
	for _, doc := range []string{"kernel/a.ko kernel/b.ko\n", "kernel/a.ko:\nkernel/x/a.ko:\n", ": x\n"} {
		if _, err := ParseModules(strings.NewReader(doc), nil); err == nil {
			t.Errorf("ParseModules(%q) accepted it", doc)
		}
	}
}

func TestKernelDependency(t *testing.T) {
	for in, want := range map[string]string{
		"linux-image-6.1.0-56-amd64 (= 6.1.192-2)":                           "linux-image-6.1.0-56-amd64",
		"foo, linux-image-6.1.0-56-arm64 (= 6.1.192-2) | bar":                "linux-image-6.1.0-56-arm64",
		"kmod, linux-base (>= 4.3~), initramfs-tools | linux-initramfs-tool": "",
		"linux-image-amd64": "",
	} {
		if got := kernelDependency(in); got != want {
			t.Errorf("kernelDependency(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseModules(f *testing.F) {
	if doc, err := os.ReadFile("testdata/modules.dep"); err == nil {
		f.Add(doc)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		db, err := ParseModules(strings.NewReader(string(doc)), nil)
		if err != nil {
			return
		}
		for name := range db.path {
			db.Closure([]string{name}) // must not panic or loop
		}
	})
}
