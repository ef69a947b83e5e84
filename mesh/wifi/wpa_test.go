package wifi

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cpe/internal/golden"
)

func TestWPASupplicantConfig(t *testing.T) {
	// A key and a mesh ID with the characters that would break a quoted
	// string in wpa_supplicant's syntax.
	b, err := WPASupplicantConfig(`cpe "mesh"`, 6, "pass\"word\n#1")
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "wpa_supplicant.conf", b)

	b, err = WPASupplicantConfig("m", 149, "secretsecret")
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "wpa_supplicant_5ghz.conf", b)
}

func TestWPASupplicantConfigErrors(t *testing.T) {
	tests := []struct {
		name, id string
		channel  int
		key      string
		want     string
	}{
		{"no key", "m", 6, "", "needs a key"},
		{"mesh ID too long", strings.Repeat("m", 33), 6, "secretsecret", "1 to 32 bytes"},
		{"no mesh ID", "", 6, "secretsecret", "1 to 32 bytes"},
		{"bad channel", "m", 15, "secretsecret", "channel 15"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := WPASupplicantConfig(tc.id, tc.channel, tc.key)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %q, %v; want an error with %q", b, err, tc.want)
			}
		})
	}
}

// TestWPASupplicantReadsConfig has the installed wpa_supplicant read the
// configuration: it prints every field it parsed (-dd) before it fails to
// find nl80211 or the interface, which this machine lacks.
func TestWPASupplicantReadsConfig(t *testing.T) {
	prog, err := exec.LookPath("wpa_supplicant")
	if err != nil {
		t.Skip("wpa_supplicant not installed (Debian package wpasupplicant)")
	}
	run := func(conf []byte) string {
		path := filepath.Join(t.TempDir(), "wpa.conf")
		if err := os.WriteFile(path, conf, 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, _ := exec.CommandContext(ctx, prog, "-dd", "-i", "nosuchmesh0", "-c", path, "-D", "nl80211").CombinedOutput()
		return string(out)
	}
	conf, err := WPASupplicantConfig("cpe-mesh", 6, "pass\"word\n#1")
	if err != nil {
		t.Fatal(err)
	}
	out := run(conf)
	for _, want := range []string{
		"mode=5 ", "frequency=2437 ", "disable_ht=1 ", "ieee80211w=2 ", "mesh_fwding=0 ",
		"sae_password - hexdump_ascii(len=12)", "id=0 ssid='cpe-mesh'",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("wpa_supplicant did not report %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "failed to parse") || strings.Contains(out, "unknown network field") {
		t.Errorf("wpa_supplicant rejected the configuration:\n%s", out)
	}
	// The check above can fail: a field wpa_supplicant does not know
	// makes it reject the file.
	if bad := run(bytes.Replace(conf, []byte("mesh_fwding"), []byte("mesh_forwarding"), 1)); !strings.Contains(bad, "failed to parse network block") {
		t.Errorf("wpa_supplicant accepted an unknown field:\n%s", bad)
	}
}
