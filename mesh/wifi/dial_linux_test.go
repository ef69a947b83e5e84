package wifi

import (
	"strings"
	"testing"
)

// TestDial opens nl80211 where the kernel has it; where it does not (this
// project's lab machines), Dial must fail with a clear error, not hang or
// panic. The mesh itself is exercised under qemu with mac80211_hwsim.
func TestDial(t *testing.T) {
	c, err := Dial()
	if err != nil {
		if !strings.HasPrefix(err.Error(), "wifi: nl80211: ") {
			t.Errorf("Dial: %v", err)
		}
		t.Logf("no nl80211 here: %v", err)
		return
	}
	defer c.Close()
	if _, err := c.PHYs(); err != nil {
		t.Errorf("PHYs: %v", err)
	}
	if _, err := c.Interfaces(); err != nil {
		t.Errorf("Interfaces: %v", err)
	}
}
