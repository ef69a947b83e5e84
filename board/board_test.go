package board

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestShippedBoardsParse(t *testing.T) {
	files, err := filepath.Glob("*/board.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no board files found: %v", err)
	}
	for _, f := range files {
		b, err := Load(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if want := filepath.Base(filepath.Dir(f)); b.Name != want {
			t.Errorf("%s: name %q, want the directory name %q", f, b.Name, want)
		}
		for _, nic := range []string{"wan0", "lan0"} {
			if _, ok := b.NIC(nic); !ok {
				t.Errorf("%s: no %s: every board needs it", f, nic)
			}
		}
	}
}

func TestParseErrors(t *testing.T) {
	good, err := os.ReadFile("qemu-x86_64/board.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, old, new, want string
	}{
		{"unknown field", `"console"`, `"consol": "x", "console"`, `unknown field "consol"`},
		{"bad goarch", `"amd64"`, `"z80"`, `goarch "z80"`},
		{"bad pci", `"0000:00:04.0"`, `"00:04.0"`, `nics[0].pci "00:04.0"`},
		{"dup pci", `"0000:00:05.0"`, `"0000:00:04.0"`, `used twice`},
		{"disk on nic slot", `"disk_pci": "0000:00:03.0"`, `"disk_pci": "0000:00:04.0"`, `also used by a NIC`},
		{"dash in module", `"nft_ct"`, `"nft-ct"`, `write '-' as '_'`},
		{"param for unlisted module", `"mac80211_hwsim": "radios=1"`, `"dummy": "numdummies=0"`, `module_params.dummy`},
		{"long ifname", `"mesh0"`, `"meshmeshmeshmesh0"`, `max 15`},
		{"interval too long", `"interval_s": 5`, `"interval_s": 20`, `at most half`},
		{"relative mount", `"/perm"`, `"perm"`, `perm.mountpoint`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := strings.Replace(string(good), tt.old, tt.new, 1)
			if doc == string(good) {
				t.Fatalf("replacement %q not found in the board file", tt.old)
			}
			_, err := Parse([]byte(doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestModuleName(t *testing.T) {
	for in, want := range map[string]string{
		"kernel/arch/x86/crypto/crc32c-intel.ko": "crc32c_intel",
		"virtio_net.ko.xz":                       "virtio_net",
		"nft_ct":                                 "nft_ct",
		"a/b/8021q.ko.zst":                       "8021q",
	} {
		if got := ModuleName(in); got != want {
			t.Errorf("ModuleName(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	if doc, err := os.ReadFile("qemu-x86_64/board.json"); err == nil {
		f.Add(doc)
	}
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		b, err := Parse(doc)
		if err == nil && b.Validate() != nil {
			t.Fatal("Parse accepted a board that Validate rejects")
		}
	})
}
